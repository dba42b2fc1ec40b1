//! Reading a file as a table of text cells, row by row in file order — what
//! `cxscore import` needs: CSV/TSV (any encoding we detect), JSON Lines,
//! Parquet through the same readers as the metrics scan, and XLSX/XLS/ODS
//! through calamine. Excel date cells become `YYYY-MM-DD` text.

use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};
use cx_core::period::Date;

use crate::{Cell, Format, IoError, RowLoc, RowSink, ScanOptions, read_error};

/// A table's header and a way to read its rows.
#[derive(Debug, Clone)]
pub struct TableSource {
    path: std::path::PathBuf,
    kind: SourceKind,
    /// Column names, in file order.
    pub header: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceKind {
    Scan,
    Spreadsheet,
}

/// Whether `path` is a spreadsheet calamine reads.
fn is_spreadsheet(path: &Path) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    matches!(ext.as_str(), "xlsx" | "xlsm" | "xls" | "xlsb" | "ods")
}

/// Days from Excel's epoch (1899-12-30, counting its phantom 1900-02-29) to 1970-01-01.
const EXCEL_EPOCH_OFFSET: i32 = 25_569;

/// The date of an Excel serial number (1900 system), e.g. 46082 → 2026-03-01.
pub fn excel_serial_date(serial: f64) -> Option<Date> {
    (serial.is_finite() && (1.0..2_958_466.0).contains(&serial))
        .then(|| Date::from_days(serial.floor() as i32 - EXCEL_EPOCH_OFFSET))
}

impl TableSource {
    /// Opens `path` and reads its header.
    pub fn open(path: &Path, options: &ScanOptions) -> Result<TableSource, IoError> {
        if is_spreadsheet(path) {
            let rows = spreadsheet_rows(path, 1)?;
            let header = rows.into_iter().next().ok_or_else(|| IoError::Empty {
                path: path.to_path_buf(),
            })?;
            return Ok(TableSource {
                path: path.to_path_buf(),
                kind: SourceKind::Spreadsheet,
                header,
            });
        }
        Format::of(path)?;
        let header = crate::header(path, options)?;
        Ok(TableSource {
            path: path.to_path_buf(),
            kind: SourceKind::Scan,
            header,
        })
    }

    /// Calls `each` with every data row, in file order: the row's line (header =
    /// line 1; Parquet: row number) and one text cell per header column (the
    /// cells are reused from row to row: copy what must outlive the call).
    /// `each` returning `false` stops early.
    pub fn for_each_row(
        &self,
        options: &ScanOptions,
        progress: &(dyn Fn(u64) + Sync),
        each: &mut (dyn FnMut(u64, &[String]) -> bool + Send),
    ) -> Result<(), IoError> {
        match self.kind {
            SourceKind::Spreadsheet => {
                for (i, row) in spreadsheet_rows(&self.path, usize::MAX)?
                    .into_iter()
                    .enumerate()
                    .skip(1)
                {
                    if row.iter().all(|c| c.trim().is_empty()) {
                        continue;
                    }
                    if !each(i as u64 + 1, &row) {
                        break;
                    }
                }
                Ok(())
            }
            SourceKind::Scan => {
                // One worker keeps the rows in file order; its cells are
                // filled in place, so a row costs no allocation once the
                // buffers have grown to the widest values.
                struct Forward<'a> {
                    each: &'a mut (dyn FnMut(u64, &[String]) -> bool + Send),
                    stopped: bool,
                    bytes: Vec<u8>,
                    row: Vec<String>,
                }
                impl RowSink for Forward<'_> {
                    fn row(&mut self, cells: &[Cell<'_>], at: RowLoc) {
                        if self.stopped {
                            return;
                        }
                        self.row.resize_with(cells.len(), String::new);
                        for (c, out) in cells.iter().zip(&mut self.row) {
                            self.bytes.clear();
                            c.write_text(&mut self.bytes);
                            out.clear();
                            match std::str::from_utf8(&self.bytes) {
                                Ok(t) => out.push_str(t),
                                Err(_) => out.push_str(&String::from_utf8_lossy(&self.bytes)),
                            }
                            // NUL never belongs in text (and PostgreSQL refuses it).
                            if out.contains('\0') {
                                out.retain(|ch| ch != '\0');
                            }
                        }
                        self.stopped = !(self.each)(at.line, &self.row);
                    }
                }
                let single = ScanOptions {
                    threads: 1,
                    ..options.clone()
                };
                let sink = std::sync::Mutex::new(Some(Forward {
                    each,
                    stopped: false,
                    bytes: Vec::new(),
                    row: Vec::new(),
                }));
                crate::scan_with_progress(
                    std::slice::from_ref(&self.path),
                    &self.header,
                    &single,
                    || {
                        sink.lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .take()
                            .expect("one worker, one sink")
                    },
                    progress,
                )?;
                Ok(())
            }
        }
    }
}

/// The first `limit` rows of the first sheet, as text.
fn spreadsheet_rows(path: &Path, limit: usize) -> Result<Vec<Vec<String>>, IoError> {
    let bad = |e: &dyn std::fmt::Display| IoError::Malformed {
        path: path.to_path_buf(),
        line: 0,
        message: format!("not a readable spreadsheet: {e}"),
    };
    if !path.exists() {
        return Err(read_error(
            path,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let mut book = open_workbook_auto(path).map_err(|e| bad(&e))?;
    let range = match book.worksheet_range_at(0) {
        Some(r) => r.map_err(|e| bad(&e))?,
        None => {
            return Err(IoError::Empty {
                path: path.to_path_buf(),
            });
        }
    };
    Ok(range
        .rows()
        .take(limit)
        .map(|row| row.iter().map(cell_text).collect())
        .collect())
}

fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty | Data::Error(_) => String::new(),
        // NUL never belongs in text (and PostgreSQL refuses it).
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().replace('\0', ""),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => excel_serial_date(d.as_f64())
            .map(|d| d.to_string())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excel_serials() {
        assert_eq!(
            excel_serial_date(46082.0).map(|d| d.to_string()),
            Some("2026-03-01".into())
        );
        assert_eq!(
            excel_serial_date(45658.75).map(|d| d.to_string()),
            Some("2025-01-01".into())
        );
        assert_eq!(excel_serial_date(-3.0), None);
    }
}
