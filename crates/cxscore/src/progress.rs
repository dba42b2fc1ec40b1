//! A progress line on stderr for long reads — only on a terminal, never when
//! output is piped or redirected.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// Metrics show progress for inputs of at least this many bytes (they read
/// hundreds of MiB a second; imports, writing to a database, use [`Progress::from_bytes`]).
const SHOW_FROM_BYTES: u64 = 64 << 20;

/// Byte-count progress over a set of files.
pub struct Progress {
    total: u64,
    done: AtomicU64,
    shown_percent: AtomicU64,
    enabled: bool,
}

impl Progress {
    /// Progress over `files` (sizes from the file system).
    pub fn new(files: &[PathBuf]) -> Progress {
        Progress::from_bytes(files, SHOW_FROM_BYTES)
    }

    /// Progress over `files`, shown when they hold at least `threshold` bytes.
    pub fn from_bytes(files: &[PathBuf], threshold: u64) -> Progress {
        let total = files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        Progress {
            total,
            done: AtomicU64::new(0),
            shown_percent: AtomicU64::new(u64::MAX),
            enabled: total >= threshold && std::io::stderr().is_terminal(),
        }
    }

    /// Records `bytes` more read.
    pub fn advance(&self, bytes: u64) {
        if !self.enabled {
            return;
        }
        let done = self.done.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let percent = (done.min(self.total) * 100) / self.total.max(1);
        if self.shown_percent.swap(percent, Ordering::Relaxed) != percent {
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r\x1b[2Kreading {percent:>3}%  {} of {} MiB",
                done.min(self.total) >> 20,
                self.total >> 20
            );
            let _ = err.flush();
        }
    }

    /// Clears the line.
    pub fn finish(&self) {
        if self.enabled {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}
