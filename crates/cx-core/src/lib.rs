//! # cx-core
//!
//! The pure heart of cxscore: domain types, metric accumulators and the
//! statistics that turn them into honest figures. No I/O, no async, no
//! database: every engine (the file scanner, SQLite, PostgreSQL, DataFusion)
//! produces the same sufficient statistics — counts per score value per group —
//! and this crate finishes them into estimates with 95% intervals, tests and
//! warnings. Because the sufficient statistics are integer counts, `merge` is
//! exact and every backend gives the same answer.
//!
//! ```
//! use cx_core::survey::nps::Nps;
//! use cx_core::survey::Disclosure;
//!
//! let mut nps = Nps::default();
//! for answer in [10, 9, 8, 6, 10] {
//!     nps.update(answer);
//! }
//! let figures = nps.evaluate(Disclosure::default());
//! assert_eq!(figures.score, Some(40.0));
//! assert!(figures.small_sample);
//! ```

pub mod account;
pub mod customer;
pub mod error;
pub mod model;
pub mod period;
pub mod programme;
pub mod stats;
pub mod survey;
pub mod value;

pub use error::CoreError;
