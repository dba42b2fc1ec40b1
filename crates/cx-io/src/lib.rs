//! # cx-io
//!
//! Reading the files customers actually have — CSV and TSV from Excel or a CRM
//! (UTF-8 with or without BOM, or GB18030/GBK), JSON Lines and Parquet — in one
//! streaming pass that uses every core and holds only a few blocks in memory,
//! whatever the file size.
//!
//! A scan asks for columns by name and hands every row's cells for those
//! columns to a [`RowSink`], one sink per worker thread; the sinks are
//! returned to be merged. [`metrics`] is the sink that computes survey metrics.
//!
//! ```no_run
//! use cx_io::{Cell, RowLoc, RowSink, ScanOptions, scan};
//!
//! #[derive(Default)]
//! struct CountRows(u64);
//! impl RowSink for CountRows {
//!     fn row(&mut self, _cells: &[Cell<'_>], _at: RowLoc) {
//!         self.0 += 1;
//!     }
//! }
//! let files = vec!["responses.csv".into()];
//! let sinks = scan(&files, &["nps".to_string()], &ScanOptions::default(), CountRows::default)?;
//! let rows: u64 = sinks.iter().map(|s| s.0).sum();
//! # Ok::<(), cx_io::IoError>(())
//! ```

pub mod clv;
pub mod csv;
pub mod customers;
pub mod encoding;
pub mod error;
pub mod import;
pub mod jsonl;
pub mod metrics;
pub mod parquet;
pub mod table;

use std::path::{Path, PathBuf};

use cx_core::period::{Date, parse_date_bytes};
use cx_core::value::{ScoreCell, parse_score, score_from_f64};

pub use encoding::EncodingChoice;
pub use error::IoError;

/// One cell of a requested column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// Missing (a short row, a JSON null, a Parquet null).
    Null,
    /// Text as stored (UTF-8).
    Text(&'a [u8]),
    /// Text from a quoted CSV field that still contains doubled `""` quotes.
    EscapedText(&'a [u8]),
    /// Text from a dictionary-encoded column: the key identifies the value
    /// within the current batch (see [`RowSink::new_batch`]).
    DictText(u32, &'a [u8]),
    /// An integer from a typed source.
    Int(i64),
    /// A float from a typed source.
    Float(f64),
    /// A date from a typed source.
    Date(Date),
}

impl Cell<'_> {
    /// The cell read as a rating.
    pub fn score(&self) -> ScoreCell {
        match *self {
            Cell::Null => ScoreCell::Blank,
            Cell::Text(t) | Cell::DictText(_, t) | Cell::EscapedText(t) => parse_score(t),
            Cell::Int(v) => ScoreCell::Value(v),
            Cell::Float(x) => score_from_f64(x),
            Cell::Date(_) => ScoreCell::Invalid,
        }
    }

    /// The cell read as a date: `Ok(None)` when blank, `Err(())` when unreadable.
    #[allow(clippy::result_unit_err)]
    pub fn date(&self) -> Result<Option<Date>, ()> {
        match *self {
            Cell::Null => Ok(None),
            Cell::Date(d) => Ok(Some(d)),
            Cell::Text(t) | Cell::DictText(_, t) | Cell::EscapedText(t) => {
                if t.trim_ascii().is_empty() {
                    Ok(None)
                } else {
                    parse_date_bytes(t).map(Some).ok_or(())
                }
            }
            Cell::Int(_) | Cell::Float(_) => Err(()),
        }
    }

    /// The cell as text (trimmed, quotes unescaped), appended to `out`.
    pub fn write_text(&self, out: &mut Vec<u8>) {
        match *self {
            Cell::Null => {}
            Cell::Text(t) | Cell::DictText(_, t) => out.extend_from_slice(t.trim_ascii()),
            Cell::EscapedText(t) => {
                let t = t.trim_ascii();
                let mut i = 0;
                while i < t.len() {
                    out.push(t[i]);
                    i += if t[i] == b'"' && t.get(i + 1) == Some(&b'"') {
                        2
                    } else {
                        1
                    };
                }
            }
            Cell::Int(v) => out.extend_from_slice(v.to_string().as_bytes()),
            Cell::Float(x) => out.extend_from_slice(x.to_string().as_bytes()),
            Cell::Date(d) => out.extend_from_slice(d.to_string().as_bytes()),
        }
    }
}

/// Where a row is: the input file (index into the scanned list) and its
/// physical line (header = line 1; Parquet: 1-based row number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowLoc {
    /// Index of the file in the scan's list.
    pub file: u32,
    /// Line where the row starts.
    pub line: u64,
}

/// Receives rows. One sink per worker thread, so no locking.
pub trait RowSink: Send {
    /// One row: `cells[i]` is the i-th requested column.
    fn row(&mut self, cells: &[Cell<'_>], at: RowLoc);

    /// A new batch of rows starts: dictionary keys of [`Cell::DictText`] seen
    /// so far no longer apply.
    fn new_batch(&mut self) {}
}

/// How to scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Text encoding of CSV/TSV/JSONL files.
    pub encoding: EncodingChoice,
    /// Worker threads; 0 = one per core.
    pub threads: usize,
    /// Bytes per block handed to a worker.
    pub block_size: usize,
    /// Longest record accepted; beyond it a CSV quote is taken to be unbalanced
    /// rather than reading the rest of the file into memory.
    pub max_record_bytes: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            encoding: EncodingChoice::Auto,
            threads: 0,
            block_size: 4 << 20,
            max_record_bytes: 64 << 20,
        }
    }
}

impl ScanOptions {
    fn workers(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }
    }
}

/// A file format, told by the extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Delimited text; the delimiter is sniffed from the header (`.tsv` = tab).
    Delimited {
        /// Tab-separated by extension.
        tab: bool,
    },
    /// One JSON object per line.
    JsonLines,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// The format of `path`, from its extension.
    pub fn of(path: &Path) -> Result<Format, IoError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        Ok(match ext.as_str() {
            "csv" | "txt" => Format::Delimited { tab: false },
            "tsv" | "tab" => Format::Delimited { tab: true },
            "jsonl" | "ndjson" | "json" => Format::JsonLines,
            "parquet" | "pq" => Format::Parquet,
            _ => {
                return Err(IoError::UnknownFormat {
                    path: path.to_path_buf(),
                });
            }
        })
    }
}

/// Scans `files` as one table, handing the cells of `columns` to sinks made by
/// `make_sink` (one per worker). Files are read one after another; each file is
/// split among the workers.
pub fn scan<S, F>(
    files: &[PathBuf],
    columns: &[String],
    options: &ScanOptions,
    make_sink: F,
) -> Result<Vec<S>, IoError>
where
    S: RowSink,
    F: Fn() -> S,
{
    scan_with_progress(files, columns, options, make_sink, &|_| {})
}

/// [`scan`], calling `progress(bytes)` as blocks of input are read.
pub fn scan_with_progress<S, F>(
    files: &[PathBuf],
    columns: &[String],
    options: &ScanOptions,
    make_sink: F,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<S>, IoError>
where
    S: RowSink,
    F: Fn() -> S,
{
    let formats = files
        .iter()
        .map(|f| Format::of(f))
        .collect::<Result<Vec<_>, _>>()?;
    let mut sinks: Vec<S> = (0..options.workers()).map(|_| make_sink()).collect();
    for (i, (path, format)) in files.iter().zip(formats).enumerate() {
        let file = i as u32;
        match format {
            Format::Delimited { tab } => {
                csv::scan_file(path, file, tab, columns, options, &mut sinks, progress)?
            }
            Format::JsonLines => {
                jsonl::scan_file(path, file, columns, options, &mut sinks, progress)?
            }
            Format::Parquet => parquet::scan_file(path, file, columns, &mut sinks, progress)?,
        }
    }
    Ok(sinks)
}

/// The column names of a CSV/TSV, JSON Lines or Parquet file.
pub fn header(path: &Path, options: &ScanOptions) -> Result<Vec<String>, IoError> {
    match Format::of(path)? {
        Format::Delimited { tab } => Ok(csv::open(path, tab, options)?.header),
        Format::JsonLines => jsonl::keys(path, options),
        Format::Parquet => parquet::names(path),
    }
}

/// Finds each requested column among `available`: exact name first, then
/// ignoring case and surrounding spaces.
pub(crate) fn resolve_columns(
    path: &Path,
    columns: &[String],
    available: &[String],
) -> Result<Vec<usize>, IoError> {
    columns
        .iter()
        .map(|want| {
            available
                .iter()
                .position(|a| a == want)
                .or_else(|| {
                    let w = want.trim().to_lowercase();
                    available.iter().position(|a| a.trim().to_lowercase() == w)
                })
                .ok_or_else(|| IoError::UnknownColumn {
                    path: path.to_path_buf(),
                    column: want.clone(),
                    available: available.to_vec(),
                })
        })
        .collect()
}

pub(crate) fn read_error(path: &Path, source: std::io::Error) -> IoError {
    IoError::Read {
        path: path.to_path_buf(),
        source,
    }
}
