//! Delimited text (CSV, TSV) in parallel: the reader splits the file into
//! blocks that end at a record boundary — the last newline outside quotes — and
//! workers parse blocks independently. Only the requested fields are looked at;
//! the rest of a record is skipped with `memchr`.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel};

use memchr::{memchr, memchr_iter, memchr2, memrchr};

use crate::encoding::{TextEncoding, UTF8_BOM, decode_gb18030, detect, is_utf16};
use crate::{Cell, IoError, RowLoc, RowSink, ScanOptions, read_error, resolve_columns};

/// A block of complete records.
struct Block {
    data: Vec<u8>,
    /// Bytes of `data` that hold records.
    len: usize,
    /// Physical line number of the block's first byte.
    first_line: u64,
}

/// Where each requested column sits in this file's records.
#[derive(Debug, Clone)]
pub(crate) struct FieldMap {
    /// For each field index, which requested columns take it.
    takers: Vec<Vec<usize>>,
    /// Number of requested columns.
    width: usize,
}

impl FieldMap {
    fn new(indices: &[usize]) -> FieldMap {
        let fields = indices.iter().max().map_or(0, |m| m + 1);
        let mut takers = vec![Vec::new(); fields];
        for (col, &field) in indices.iter().enumerate() {
            takers[field].push(col);
        }
        FieldMap {
            takers,
            width: indices.len(),
        }
    }
}

/// Scans one delimited file into `sinks`.
/// A delimited file opened past its header.
pub(crate) struct Opened {
    file: File,
    /// Bytes read after the header.
    rest: Vec<u8>,
    encoding: TextEncoding,
    delimiter: u8,
    /// Column names.
    pub(crate) header: Vec<String>,
    first_data_line: u64,
    header_bytes: u64,
}

/// Opens a delimited file: BOM, encoding, delimiter and header.
pub(crate) fn open(path: &Path, tab: bool, options: &ScanOptions) -> Result<Opened, IoError> {
    let mut file = File::open(path).map_err(|e| read_error(path, e))?;
    let block_size = options.block_size.max(16);
    let mut buf = Vec::with_capacity(block_size);
    fill(&mut file, &mut buf, block_size).map_err(|e| read_error(path, e))?;
    if is_utf16(&buf) {
        return Err(IoError::Encoding {
            path: path.to_path_buf(),
            line: 1,
            message:
                "the file is UTF-16 (Excel's \"Unicode Text\"); save it as \"CSV UTF-8\" instead"
                    .into(),
        });
    }
    let mut header_bytes = 0;
    if buf.starts_with(UTF8_BOM) {
        buf.drain(..UTF8_BOM.len());
        header_bytes += UTF8_BOM.len() as u64;
    }
    let encoding = detect(options.encoding, &buf);
    // Make sure the header record is complete.
    while first_record_end(&buf).is_none() {
        let before = buf.len();
        fill(&mut file, &mut buf, block_size).map_err(|e| read_error(path, e))?;
        if buf.len() == before {
            break;
        }
    }
    if buf.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(IoError::Empty {
            path: path.to_path_buf(),
        });
    }
    let header_end = first_record_end(&buf).unwrap_or(buf.len());
    let header_text = match encoding {
        TextEncoding::Utf8 => String::from_utf8_lossy(&buf[..header_end]).into_owned(),
        TextEncoding::Gb18030 => decode_gb18030(&buf[..header_end]).0,
    };
    let delimiter = if tab {
        b'\t'
    } else {
        sniff_delimiter(header_text.as_bytes())
    };
    let header = parse_header(header_text.as_bytes(), delimiter);
    let first_data_line = 1 + memchr_iter(b'\n', &buf[..header_end]).count() as u64;
    header_bytes += header_end as u64;
    buf.drain(..header_end);
    Ok(Opened {
        file,
        rest: buf,
        encoding,
        delimiter,
        header,
        first_data_line,
        header_bytes,
    })
}

/// Scans one delimited file into `sinks`.
pub(crate) fn scan_file<S: RowSink>(
    path: &Path,
    file_index: u32,
    tab: bool,
    columns: &[String],
    options: &ScanOptions,
    sinks: &mut [S],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(), IoError> {
    let Opened {
        file,
        rest: buf,
        encoding,
        delimiter,
        header,
        first_data_line,
        header_bytes,
    } = open(path, tab, options)?;
    let indices = resolve_columns(path, columns, &header)?;
    progress(header_bytes);
    let fields = FieldMap::new(&indices);
    run_blocks(
        path,
        file,
        buf,
        first_data_line,
        options,
        sinks,
        progress,
        &|b: &[u8], careful: &mut bool| {
            if !*careful {
                match split_point(b, delimiter) {
                    Ok(cut) => return cut,
                    Err(()) => *careful = true,
                }
            }
            parser_split_point(b, delimiter)
        },
        |sink, data, first_line| {
            match encoding {
                TextEncoding::Utf8 => {
                    if let Err(e) = std::str::from_utf8(data) {
                        return Err(IoError::Encoding {
                            path: path.to_path_buf(),
                            line: first_line
                                + memchr_iter(b'\n', &data[..e.valid_up_to()]).count() as u64,
                            message: not_utf8(data, &e),
                        });
                    }
                    parse_block(data, first_line, &fields, delimiter, file_index, sink)
                        .map_err(|line| unclosed_quote(path, line))?;
                }
                TextEncoding::Gb18030 => {
                    let (text, _) = decode_gb18030(data);
                    parse_block(
                        text.as_bytes(),
                        first_line,
                        &fields,
                        delimiter,
                        file_index,
                        sink,
                    )
                    .map_err(|line| unclosed_quote(path, line))?;
                }
            }
            Ok(())
        },
    )
}

/// Splits a file into blocks of complete records (`split` finds the end of
/// the last complete record) and lets one worker per sink `process` them.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_blocks<S, P>(
    path: &Path,
    mut file: File,
    mut carry: Vec<u8>,
    first_line: u64,
    options: &ScanOptions,
    sinks: &mut [S],
    progress: &(dyn Fn(u64) + Sync),
    split: &(dyn Fn(&[u8], &mut bool) -> Option<usize> + Sync),
    process: P,
) -> Result<(), IoError>
where
    S: RowSink,
    P: Fn(&mut S, &[u8], u64) -> Result<(), IoError> + Sync,
{
    let block_size = options.block_size.max(16);
    let max_record = options.max_record_bytes;
    let failed = AtomicBool::new(false);
    let (tx, rx) = sync_channel::<Block>(sinks.len() * 2);
    let rx = Mutex::new(rx);
    // Buffers come back from the workers and are reused: no fresh pages to
    // fault in and no zeroing after the first few blocks.
    let (recycle, recycled) = channel::<Vec<u8>>();
    std::thread::scope(|scope| -> Result<(), IoError> {
        let handles: Vec<_> = sinks
            .iter_mut()
            .map(|sink| {
                let (rx, failed, process, recycle) = (&rx, &failed, &process, recycle.clone());
                scope.spawn(move || -> Result<(), IoError> {
                    let mut result = Ok(());
                    loop {
                        let block = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        let Ok(block) = block else { return result };
                        // After a failure keep draining, so the reader never
                        // blocks on a full queue that nobody empties.
                        if result.is_ok() {
                            result = process(sink, &block.data[..block.len], block.first_line);
                            if result.is_err() {
                                failed.store(true, Ordering::Relaxed);
                            }
                        }
                        let _ = recycle.send(block.data);
                    }
                })
            })
            .collect();
        drop(recycle);

        let read_result = (|| -> Result<(), IoError> {
            let mut line = first_line;
            let mut eof = false;
            // Switched on, for the rest of the file, when the fast quote-parity
            // split cannot be trusted (a stray quote seen, or no boundary in
            // several blocks' worth of data).
            let mut careful = false;
            while !eof && !failed.load(Ordering::Relaxed) {
                let mut data = recycled.try_recv().unwrap_or_default();
                data.clear();
                data.reserve(carry.len() + block_size);
                data.extend_from_slice(&carry);
                fill(&mut file, &mut data, block_size).map_err(|e| read_error(path, e))?;
                let filled = data.len();
                let got = filled - carry.len();
                progress(got as u64);
                eof = got < block_size;
                let cut = if eof {
                    filled
                } else {
                    split(&data[..filled], &mut careful).unwrap_or(0)
                };
                carry.clear();
                carry.extend_from_slice(&data[cut..filled]);
                if cut == 0 && !careful && carry.len() > 4 * block_size {
                    careful = true;
                    continue;
                }
                if cut == 0 {
                    if carry.len() > max_record {
                        return Err(IoError::Malformed {
                            path: path.to_path_buf(),
                            line,
                            message: format!(
                                "no end of record in the next {} MiB: a quoted field is probably not closed (an unbalanced \")",
                                max_record >> 20
                            ),
                        });
                    }
                    continue; // a record longer than a block: read more
                }
                let lines = memchr_iter(b'\n', &data[..cut]).count() as u64;
                if tx
                    .send(Block {
                        data,
                        len: cut,
                        first_line: line,
                    })
                    .is_err()
                {
                    break;
                }
                line += lines;
            }
            Ok(())
        })();
        drop(tx);
        let mut first_error = read_result.err();
        for h in handles {
            let r = h.join().unwrap_or_else(|_| {
                Err(IoError::Malformed {
                    path: path.to_path_buf(),
                    line: 0,
                    message: "worker panicked".into(),
                })
            });
            if let (Err(e), None) = (r, &first_error) {
                first_error = Some(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    })
}

/// What is wrong with a block that is not UTF-8. Blocks end at a line
/// break, so a character cut short can only be the end of the file.
fn not_utf8(data: &[u8], e: &std::str::Utf8Error) -> String {
    let at = e.valid_up_to();
    if e.error_len().is_none() {
        return "the file ends in the middle of a UTF-8 character: it looks cut short (copied or downloaded only in part?)".into();
    }
    let column = at - memrchr(b'\n', &data[..at]).map_or(0, |i| i + 1) + 1;
    format!(
        "not valid UTF-8 (byte 0x{:02X}, byte {column} of the line); if the file is GBK/GB18030, pass --encoding gb18030",
        data[at]
    )
}

/// Appends up to `n` bytes, fewer only at the end of the file. Read into the
/// vector's spare capacity: nothing is zeroed first, so a fresh buffer's pages
/// are touched once, by the read itself.
fn fill(file: &mut File, buf: &mut Vec<u8>, n: usize) -> std::io::Result<()> {
    file.take(n as u64).read_to_end(buf).map(|_| ())
}

/// Index just past the last newline that lies outside quotes, if any, by
/// quote parity. `Err(())` when some quote is neither at the start of a field,
/// nor closing one, nor doubled — a stray quote such as `27" monitor`, for
/// which parity says nothing and [`parser_split_point`] must be used.
pub(crate) fn split_point(buf: &[u8], delimiter: u8) -> Result<Option<usize>, ()> {
    let mut quotes = 0_usize;
    for i in memchr_iter(b'"', buf) {
        quotes += 1;
        let before = if i == 0 { b'\n' } else { buf[i - 1] };
        let after = buf.get(i + 1).copied().unwrap_or(b'\n');
        let opens = before == delimiter || before == b'\n' || before == b'"';
        let closes = after == delimiter || after == b'\n' || after == b'\r' || after == b'"';
        if !opens && !closes {
            return Err(());
        }
    }
    if quotes == 0 {
        return Ok(memrchr(b'\n', buf).map(|i| i + 1));
    }
    let mut quotes_after = 0;
    for i in memchr::memchr2_iter(b'"', b'\n', buf).rev() {
        if buf[i] == b'"' {
            quotes_after += 1;
        } else if (quotes - quotes_after).is_multiple_of(2) {
            return Ok(Some(i + 1));
        }
    }
    Ok(None)
}

/// Index just past the first record's newline (outside quotes), if any.
fn first_record_end(buf: &[u8]) -> Option<usize> {
    let mut quoted = false;
    for i in memchr::memchr2_iter(b'"', b'\n', buf) {
        if buf[i] == b'"' {
            quoted = !quoted;
        } else if !quoted {
            return Some(i + 1);
        }
    }
    None
}

/// The delimiter that occurs most often outside quotes in the header line.
fn sniff_delimiter(header: &[u8]) -> u8 {
    let mut counts = [(b',', 0), (b'\t', 0), (b';', 0), (b'|', 0)];
    let mut quoted = false;
    for &b in header {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for c in counts.iter_mut() {
                if c.0 == b {
                    c.1 += 1;
                }
            }
        }
    }
    counts
        .iter()
        .max_by_key(|c| c.1)
        .filter(|c| c.1 > 0)
        .map_or(b',', |c| c.0)
}

/// Splits the header record into trimmed column names.
fn parse_header(record: &[u8], delimiter: u8) -> Vec<String> {
    let mut names = Vec::new();
    let mut pos = 0;
    let record = record.strip_suffix(b"\n").unwrap_or(record);
    let record = record.strip_suffix(b"\r").unwrap_or(record);
    loop {
        let (cell, end, more, _) = next_field(record, pos, delimiter);
        let mut text = Vec::new();
        cell.write_text(&mut text);
        names.push(String::from_utf8_lossy(&text).trim().to_string());
        if !more {
            break;
        }
        pos = end + 1;
    }
    names
}

/// Parses the field starting at `pos`. Returns the field, the index where it
/// ends (its delimiter, the record's newline, or the end of data), whether
/// another field of the same record follows, and whether it is a quoted field
/// whose closing quote is missing.
#[inline]
fn next_field(data: &[u8], pos: usize, delimiter: u8) -> (Cell<'_>, usize, bool, bool) {
    let len = data.len();
    if pos < len && data[pos] == b'"' {
        let start = pos + 1;
        let mut i = start;
        let mut escaped = false;
        let mut unclosed = false;
        let close = loop {
            match memchr(b'"', &data[i..]) {
                None => {
                    unclosed = true;
                    break len;
                }
                Some(k) => {
                    i += k;
                    if data.get(i + 1) == Some(&b'"') {
                        escaped = true;
                        i += 2;
                    } else {
                        break i;
                    }
                }
            }
        };
        let content = &data[start..close];
        // Anything between the closing quote and the delimiter is ignored.
        let after = (close + 1).min(len);
        let end = memchr2(delimiter, b'\n', &data[after..]).map_or(len, |k| after + k);
        let cell = if escaped {
            Cell::EscapedText(content)
        } else {
            Cell::Text(content)
        };
        (cell, end, end < len && data[end] == delimiter, unclosed)
    } else {
        let mut end = pos;
        while end < len && data[end] != delimiter && data[end] != b'\n' {
            end += 1;
        }
        let mut content = &data[pos..end];
        if let [rest @ .., b'\r'] = content {
            content = rest;
        }
        (
            Cell::Text(content),
            end,
            end < len && data[end] == delimiter,
            false,
        )
    }
}

/// Parses every record of `data` (complete records only) and feeds the sink.
fn parse_block<S: RowSink>(
    data: &[u8],
    first_line: u64,
    fields: &FieldMap,
    delimiter: u8,
    file: u32,
    sink: &mut S,
) -> Result<(), u64> {
    if memchr(b'"', data).is_none() {
        plain_block(data, first_line, fields, delimiter, file, sink);
        return Ok(());
    }
    quoted_scan(data, first_line, fields, delimiter, file, sink)
}

/// [`parse_block`] for a block with quotes: one vectorised search for
/// delimiters, newlines and quotes drives a small state machine (inside a
/// quoted field, outside it, after its closing quote), instead of two
/// searches per field. Reads exactly what [`quoted_block`] reads — the
/// field-by-field parser kept as the reference its tests compare against.
fn quoted_scan<S: RowSink>(
    data: &[u8],
    first_line: u64,
    fields: &FieldMap,
    delimiter: u8,
    file: u32,
    sink: &mut S,
) -> Result<(), u64> {
    let mut cells: Vec<Cell<'_>> = vec![Cell::Null; fields.width];
    let mut line = first_line;
    let mut record_line = first_line;
    let mut field = 0;
    let mut start = 0;
    // Inside a quoted field: where its content starts, and whether it has `""`.
    let mut quoted: Option<(usize, bool)> = None;
    // The current field was quoted and is closed: the rest up to the
    // delimiter is ignored.
    let mut closed: Option<Cell<'_>> = None;
    let mut skip_until = 0;
    for p in memchr::memchr3_iter(delimiter, b'\n', b'"', data) {
        if p < skip_until {
            continue;
        }
        let c = data[p];
        if let Some((content, escaped)) = quoted {
            if c == b'"' {
                if data.get(p + 1) == Some(&b'"') {
                    quoted = Some((content, true));
                    skip_until = p + 2;
                } else {
                    let text = &data[content..p];
                    closed = Some(if escaped {
                        Cell::EscapedText(text)
                    } else {
                        Cell::Text(text)
                    });
                    quoted = None;
                }
            } else if c == b'\n' {
                line += 1;
            }
            continue;
        }
        if c == b'"' {
            if p == start && closed.is_none() {
                quoted = Some((p + 1, false));
            }
            continue;
        }
        let cell = match closed.take() {
            Some(cell) => cell,
            None => {
                let mut text = &data[start..p];
                if let [rest @ .., b'\r'] = text {
                    text = rest;
                }
                if c == b'\n' && field == 0 && text.is_empty() && p - start <= 1 {
                    // A blank line (`\n` or `\r\n`).
                    line += 1;
                    record_line = line;
                    start = p + 1;
                    continue;
                }
                Cell::Text(text)
            }
        };
        put(fields, &mut cells, field, cell);
        start = p + 1;
        if c == b'\n' {
            sink.row(
                &cells,
                RowLoc {
                    file,
                    line: record_line,
                },
            );
            cells.iter_mut().for_each(|c| *c = Cell::Null);
            field = 0;
            line += 1;
            record_line = line;
        } else {
            field += 1;
        }
    }
    if quoted.is_some() {
        return Err(record_line);
    }
    if start < data.len() || field > 0 || closed.is_some() {
        let cell = closed.take().unwrap_or_else(|| {
            let mut text = &data[start..];
            if let [rest @ .., b'\r'] = text {
                text = rest;
            }
            Cell::Text(text)
        });
        put(fields, &mut cells, field, cell);
        sink.row(
            &cells,
            RowLoc {
                file,
                line: record_line,
            },
        );
    }
    Ok(())
}

/// Gives a field's cell to the requested columns that take it.
fn put<'a>(fields: &FieldMap, cells: &mut [Cell<'a>], field: usize, cell: Cell<'a>) {
    if let Some(takers) = fields.takers.get(field) {
        for &col in takers {
            cells[col] = cell;
        }
    }
}

/// [`parse_block`] field by field: the reference for [`quoted_scan`].
#[cfg(test)]
fn quoted_block<S: RowSink>(
    data: &[u8],
    first_line: u64,
    fields: &FieldMap,
    delimiter: u8,
    file: u32,
    sink: &mut S,
) -> Result<(), u64> {
    let mut cells: Vec<Cell<'_>> = vec![Cell::Null; fields.width];
    let len = data.len();
    let wanted = fields.takers.len();
    let mut pos = 0;
    let mut line = first_line;
    while pos < len {
        // Skip blank lines.
        match data[pos] {
            b'\n' => {
                pos += 1;
                line += 1;
                continue;
            }
            b'\r' if data.get(pos + 1) == Some(&b'\n') => {
                pos += 2;
                line += 1;
                continue;
            }
            _ => {}
        }
        let record_line = line;
        cells.iter_mut().for_each(|c| *c = Cell::Null);
        let mut field = 0;
        let mut at = pos;
        let record_end = loop {
            let quoted = data.get(at) == Some(&b'"');
            let (cell, end, more, unclosed) = next_field(data, at, delimiter);
            if unclosed {
                return Err(record_line);
            }
            if let Some(takers) = fields.takers.get(field) {
                for &col in takers {
                    cells[col] = cell;
                }
            }
            if quoted && let Cell::Text(t) | Cell::EscapedText(t) = cell {
                line += memchr_iter(b'\n', t).count() as u64;
            }
            if !more {
                break end;
            }
            field += 1;
            at = end + 1;
            if field >= wanted {
                // Nothing more wanted: jump to the end of the record, unless a
                // quote could hide a newline.
                match memchr2(b'\n', b'"', &data[at..]) {
                    Some(k) if data[at + k] == b'\n' => break at + k,
                    None => break len,
                    Some(_) => {}
                }
            }
        };
        sink.row(
            &cells,
            RowLoc {
                file,
                line: record_line,
            },
        );
        pos = record_end + 1;
        line += 1;
    }
    Ok(())
}

/// [`parse_block`] for a block without a single quote, the usual case: every
/// delimiter and newline is a boundary, so one vectorised search over the
/// whole block finds them all instead of a byte loop per field. Same rows,
/// same lines, same blank-line and `\r\n` handling.
fn plain_block<S: RowSink>(
    data: &[u8],
    first_line: u64,
    fields: &FieldMap,
    delimiter: u8,
    file: u32,
    sink: &mut S,
) {
    let mut cells: Vec<Cell<'_>> = vec![Cell::Null; fields.width];
    let mut line = first_line;
    let mut field = 0;
    let mut start = 0;
    for sep in memchr::memchr2_iter(delimiter, b'\n', data) {
        let mut text = &data[start..sep];
        if data[sep] == b'\n' {
            if let [rest @ .., b'\r'] = text {
                text = rest;
            }
            if field == 0 && text.is_empty() {
                // A blank line.
                line += 1;
                start = sep + 1;
                continue;
            }
            put(fields, &mut cells, field, Cell::Text(text));
            sink.row(&cells, RowLoc { file, line });
            cells.iter_mut().for_each(|c| *c = Cell::Null);
            field = 0;
            line += 1;
        } else {
            put(fields, &mut cells, field, Cell::Text(text));
            field += 1;
        }
        start = sep + 1;
    }
    if start < data.len() || field > 0 {
        let mut text = &data[start..];
        if let [rest @ .., b'\r'] = text {
            text = rest;
        }
        put(fields, &mut cells, field, Cell::Text(text));
        sink.row(&cells, RowLoc { file, line });
    }
}

/// The error for a quoted field that never closes.
fn unclosed_quote(path: &Path, line: u64) -> IoError {
    IoError::Malformed {
        path: path.to_path_buf(),
        line,
        message: "a quoted field is not closed (an unbalanced \" in this record)".into(),
    }
}

/// Index just past the last complete record, found by the parser's own rule (a
/// quote opens a quoted field only at the start of a field). Slower than
/// [`split_point`], used once that quote-parity shortcut fails — a stray quote
/// inside an unquoted field such as `27" monitor`.
fn parser_split_point(buf: &[u8], delimiter: u8) -> Option<usize> {
    let mut last = None;
    let mut pos = 0;
    while pos < buf.len() {
        let (_, end, more, unclosed) = next_field(buf, pos, delimiter);
        if unclosed || end >= buf.len() {
            break;
        }
        if !more {
            last = Some(end + 1);
        }
        pos = end + 1;
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<(u64, Vec<String>)>);

    impl RowSink for Collect {
        fn row(&mut self, cells: &[Cell<'_>], at: RowLoc) {
            let texts = cells
                .iter()
                .map(|c| {
                    let mut v = Vec::new();
                    c.write_text(&mut v);
                    String::from_utf8_lossy(&v).into_owned()
                })
                .collect();
            self.0.push((at.line, texts));
        }
    }

    #[test]
    fn the_quote_scan_reads_as_the_field_by_field_parser_reads_them() {
        let inputs: [&[u8]; 16] = [
            b"\"C1\",\"2025-09-03\",60.51\n\"C2\",\"2024-05-03\",42.06\n",
            b"1,\"a, b\",x\n2,\"say \"\"hi\"\"\",y\r\n3,\"two\nlines\",z\n\n4,,w",
            b"\"\"\n\"\",\"\"\n",
            b"\"abc\"junk,next\n\"a\" \"b\",c\n",
            b"x\"y,\"z\"\n",
            b"\"a\"\"\"\"b\",c\r\n\r\n\"d\r\ne\",f",
            b"a,\"b\nc\",d,\"e\",\"f\"\"\"\n",
            b"\"last\"",
            b"\"last\",",
            b"a,\"never closed\n",
            b"ok\n\"never closed",
            b"\"x\"\r\n",
            b"a\n\r",
            b"\n\n\"q\"\n\n",
            b"\"one\"\"\"\n",
            b"a,b,\"c\"",
        ];
        for fields in [
            FieldMap::new(&[0, 2]),
            FieldMap::new(&[2, 0, 1]),
            FieldMap::new(&[1]),
            FieldMap::new(&[5]),
        ] {
            for data in inputs {
                let (mut fast, mut reference) = (Collect::default(), Collect::default());
                let a = quoted_scan(data, 3, &fields, b',', 0, &mut fast);
                let b = quoted_block(data, 3, &fields, b',', 0, &mut reference);
                assert_eq!(a, b, "{:?}", String::from_utf8_lossy(data));
                assert_eq!(fast.0, reference.0, "{:?}", String::from_utf8_lossy(data));
            }
        }
    }

    #[test]
    fn plain_blocks_read_as_the_general_parser_reads_them() {
        let inputs: [&[u8]; 11] = [
            b"a,1,2\nb,3,4\n",
            b"a,1,2\r\nb,3,4\r\n",
            b"a,1,2\n\n\r\nb,3\nc\n",
            b"a,1,2\nb,3,4",
            b"a,1,2\nb,3,4\r",
            b",,\n , ,x\n",
            b"a,1,2,3,4,5,6\nlast",
            b"",
            b"a\n\r",
            b"a,b,",
            b"\r\r\nx\n",
        ];
        for fields in [
            FieldMap::new(&[0, 2]),
            FieldMap::new(&[2, 0, 1]),
            FieldMap::new(&[5]),
        ] {
            for data in inputs {
                let (mut plain, mut general) = (Collect::default(), Collect::default());
                plain_block(data, 7, &fields, b',', 0, &mut plain);
                quoted_block(data, 7, &fields, b',', 0, &mut general).expect("no quotes");
                assert_eq!(plain.0, general.0, "{:?}", String::from_utf8_lossy(data));
            }
        }
    }
    fn parse(data: &str, indices: &[usize]) -> Vec<(u64, Vec<String>)> {
        let fields = FieldMap::new(indices);
        let mut sink = Collect::default();
        parse_block(data.as_bytes(), 2, &fields, b',', 0, &mut sink).expect("well-formed");
        sink.0
    }

    #[test]
    fn quoted_fields_with_commas_quotes_and_newlines() {
        let data = "1,\"a, b\",x\n2,\"say \"\"hi\"\"\",y\r\n3,\"two\nlines\",z\n\n4,,w";
        let rows = parse(data, &[0, 1, 2]);
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0], (2, vec!["1".into(), "a, b".into(), "x".into()]));
        assert_eq!(
            rows[1],
            (3, vec!["2".into(), "say \"hi\"".into(), "y".into()])
        );
        assert_eq!(
            rows[2],
            (4, vec!["3".into(), "two\nlines".into(), "z".into()])
        );
        // The blank line 6 is skipped; row 4 starts on line 7.
        assert_eq!(rows[3], (7, vec!["4".into(), "".into(), "w".into()]));
    }

    #[test]
    fn skips_unwanted_tail_even_with_quoted_newlines() {
        let data = "1,a,\"tail\nwith newline\"\n2,b,plain\n";
        let rows = parse(data, &[1, 0]);
        assert_eq!(
            rows,
            vec![
                (2, vec!["a".into(), "1".into()]),
                (4, vec!["b".into(), "2".into()])
            ]
        );
    }

    #[test]
    fn short_rows_give_null_cells() {
        let rows = parse("1\n", &[0, 3]);
        assert_eq!(rows, vec![(2, vec!["1".into(), "".into()])]);
    }

    #[test]
    fn unclosed_quote_is_reported_at_its_record() {
        let fields = FieldMap::new(&[0, 1]);
        let mut sink = Collect::default();
        let data = "1,ok\n2,\"never closed\n3,x\n";
        assert_eq!(
            parse_block(data.as_bytes(), 2, &fields, b',', 0, &mut sink),
            Err(3)
        );
    }

    #[test]
    fn parser_split_treats_mid_field_quotes_as_text() {
        assert_eq!(
            parser_split_point(b"a,27\" monitor\nb,c\nd", b','),
            Some(18)
        );
        assert_eq!(parser_split_point(b"a,\"x\ny\"\nb,\"open\n", b','), Some(8));
        assert_eq!(parser_split_point(b"no newline", b','), None);
    }

    #[test]
    fn split_point_respects_quotes() {
        assert_eq!(split_point(b"a,b\nc,d\ne", b','), Ok(Some(8)));
        assert_eq!(
            split_point(b"a,\"x\ny\"\nc,\"open\nmore", b','),
            Ok(Some(8))
        );
        assert_eq!(split_point(b"\"no end\nyet", b','), Ok(None));
        assert_eq!(split_point(b"a,\"say \"\"hi\"\"\"\nb", b','), Ok(Some(15)));
        assert_eq!(split_point(b"a,27\" monitor\nb", b','), Err(()));
    }

    #[test]
    fn sniffs_delimiters() {
        assert_eq!(sniff_delimiter(b"a,b,c\n"), b',');
        assert_eq!(sniff_delimiter(b"a\tb\tc\n"), b'\t');
        assert_eq!(sniff_delimiter(b"a;b;\"c,d\"\n"), b';');
        assert_eq!(
            parse_header("\u{feff}x".as_bytes(), b','),
            vec!["\u{feff}x".to_string()]
        );
        assert_eq!(
            parse_header(b" id ,\"na,me\"\r\n", b','),
            vec!["id".to_string(), "na,me".into()]
        );
    }
}
