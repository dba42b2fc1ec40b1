//! JSON Lines: one object per line, split into blocks at newlines (a JSON
//! string cannot hold a raw newline) and parsed by the workers.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use memchr::memrchr;
use serde_json::{Map, Value};

use crate::encoding::{TextEncoding, UTF8_BOM, decode_gb18030, detect};
use crate::{Cell, IoError, RowLoc, RowSink, ScanOptions, read_error, resolve_columns};

/// How many leading lines are read to learn the keys.
const KEY_SAMPLE_LINES: usize = 1000;

/// Scans one JSON Lines file into `sinks`.
/// The keys of the first objects, in order of first appearance, with the
/// file's encoding and whether it starts with a BOM.
fn sample_keys(
    path: &Path,
    options: &ScanOptions,
) -> Result<(Vec<String>, TextEncoding, bool), IoError> {
    let mut sample = Vec::new();
    let mut reader = BufReader::new(File::open(path).map_err(|e| read_error(path, e))?);
    for _ in 0..KEY_SAMPLE_LINES {
        if reader
            .read_until(b'\n', &mut sample)
            .map_err(|e| read_error(path, e))?
            == 0
        {
            break;
        }
    }
    let bom = sample.starts_with(UTF8_BOM);
    let encoding = detect(options.encoding, if bom { &sample[3..] } else { &sample });
    let sample_text = decode(encoding, if bom { &sample[3..] } else { &sample });
    // The keys, in order of first appearance among the sampled objects.
    let mut keys: Vec<String> = Vec::new();
    for (i, line) in sample_text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let object: Map<String, Value> =
            serde_json::from_str(line).map_err(|e| IoError::Malformed {
                path: path.to_path_buf(),
                line: i as u64 + 1,
                message: format!("not a JSON object: {e}"),
            })?;
        for k in object.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    if keys.is_empty() {
        return Err(IoError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok((keys, encoding, bom))
}

/// The keys (columns) of a JSON Lines file, learnt from its first objects.
pub(crate) fn keys(path: &Path, options: &ScanOptions) -> Result<Vec<String>, IoError> {
    sample_keys(path, options).map(|(k, _, _)| k)
}

pub(crate) fn scan_file<S: RowSink>(
    path: &Path,
    file_index: u32,
    columns: &[String],
    options: &ScanOptions,
    sinks: &mut [S],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(), IoError> {
    let (keys, encoding, bom) = sample_keys(path, options)?;
    let indices = resolve_columns(path, columns, &keys)?;
    let names: Vec<&str> = indices.iter().map(|&i| keys[i].as_str()).collect();

    let file = File::open(path).map_err(|e| read_error(path, e))?;
    let buf = Vec::new();
    if bom {
        use std::io::Read;
        let mut skip = [0u8; 3];
        let mut f = &file;
        f.read_exact(&mut skip).map_err(|e| read_error(path, e))?;
        progress(3);
    }
    crate::csv::run_blocks(
        path,
        file,
        buf,
        1,
        options,
        sinks,
        progress,
        &|b: &[u8], _careful: &mut bool| memrchr(b'\n', b).map(|i| i + 1),
        |sink, data, first_line| {
            let text = decode(encoding, data);
            parse_lines(path, &text, first_line, &names, file_index, sink)
        },
    )
}

fn decode(encoding: TextEncoding, bytes: &[u8]) -> String {
    match encoding {
        TextEncoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
        TextEncoding::Gb18030 => decode_gb18030(bytes).0,
    }
}

fn parse_lines<S: RowSink>(
    path: &Path,
    text: &str,
    first_line: u64,
    names: &[&str],
    file: u32,
    sink: &mut S,
) -> Result<(), IoError> {
    for (at, line) in (first_line..).zip(text.split('\n')) {
        if line.trim().is_empty() {
            continue;
        }
        let object: Map<String, Value> =
            serde_json::from_str(line).map_err(|e| IoError::Malformed {
                path: path.to_path_buf(),
                line: at,
                message: format!("not a JSON object: {e}"),
            })?;
        // Booleans, arrays and objects are passed on as their JSON text.
        let rendered: Vec<String> = names
            .iter()
            .map(|name| match object.get(*name) {
                Some(v @ (Value::Bool(_) | Value::Array(_) | Value::Object(_))) => v.to_string(),
                _ => String::new(),
            })
            .collect();
        let cells: Vec<Cell<'_>> = names
            .iter()
            .zip(&rendered)
            .map(|(name, r)| match object.get(*name) {
                None | Some(Value::Null) => Cell::Null,
                Some(Value::Number(n)) => match n.as_i64() {
                    Some(i) => Cell::Int(i),
                    None => Cell::Float(n.as_f64().unwrap_or(f64::NAN)),
                },
                Some(Value::String(s)) => Cell::Text(s.as_bytes()),
                Some(_) => Cell::Text(r.as_bytes()),
            })
            .collect();
        sink.row(&cells, RowLoc { file, line: at });
    }
    Ok(())
}
