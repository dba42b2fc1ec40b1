//! The core's error type.

use thiserror::Error;

/// Errors from building a metric request or a domain value.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CoreError {
    /// A scale with `min >= max` or more than eleven points.
    #[error("invalid scale {min}–{max}: need min < max and at most 11 points")]
    InvalidScale {
        /// Lowest point given.
        min: i32,
        /// Highest point given.
        max: i32,
    },
    /// A scale that is not written `MIN-MAX`.
    #[error("invalid scale {0:?}: write it as MIN-MAX, e.g. 1-5 or 0-10")]
    ScaleSyntax(String),
    /// An interval name that is not day, week, month, quarter or year.
    #[error("unknown interval {0:?}: use day, week, month, quarter or year")]
    UnknownInterval(String),
    /// `--from` after `--to`.
    #[error("--from {from} is after --to {to}")]
    EmptyWindow {
        /// Start given.
        from: String,
        /// End given.
        to: String,
    },
    /// `--compare previous` with nothing to compare.
    #[error(
        "--compare previous needs periods (--time COL --interval …) or a closed window (--from and --to)"
    )]
    CompareNeedsPeriods,
    /// Weights that do not fit the dimensions.
    #[error("invalid weights: {0}")]
    InvalidWeights(String),
    /// A metric request with nothing to compute.
    #[error("nothing to compute: name at least one of --nps, --csat, --ces or --dim")]
    NoMetrics,
    /// The same dimension named twice.
    #[error("dimension {0:?} is given twice")]
    DuplicateDimension(String),
}
