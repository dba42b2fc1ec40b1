//! The I/O crate's error type: every variant says which file, and where.

use std::path::PathBuf;

use thiserror::Error;

/// Errors reading input files.
#[derive(Debug, Error)]
pub enum IoError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A requested column is not in the file.
    #[error("{path}: no column {column:?}; the columns are: {}", available.join(", "))]
    UnknownColumn {
        /// The file.
        path: PathBuf,
        /// The column asked for.
        column: String,
        /// The columns the file has.
        available: Vec<String>,
    },
    /// A file whose extension names no format we read.
    #[error(
        "{path}: cannot tell the format from the extension; use .csv, .tsv, .jsonl or .parquet"
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// A file with no header row.
    #[error("{path}: the file is empty (no header row)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// Text that is not in the expected encoding.
    #[error("{path}:{line}: {message}")]
    Encoding {
        /// The file.
        path: PathBuf,
        /// Physical line.
        line: u64,
        /// What is wrong and what to do.
        message: String,
    },
    /// A malformed record.
    #[error("{path}:{line}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Physical line (Parquet: row).
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A Parquet file the reader rejected.
    #[error("{path}: not a readable Parquet file: {message}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The reader's message.
        message: String,
    },
}

impl IoError {
    /// Whether the error is the caller's input (exit code 2) rather than the system's.
    pub fn is_bad_input(&self) -> bool {
        match self {
            IoError::Read { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::PermissionDenied
                    | std::io::ErrorKind::IsADirectory
                    | std::io::ErrorKind::InvalidData
            ),
            _ => true,
        }
    }
}
