//! Statistics used by the metrics: distributions, confidence intervals and the
//! two-sample tests behind period and segment comparisons.

pub mod distributions;
pub mod hypothesis;
pub mod interval;
pub mod linalg;
pub mod optimize;

pub use distributions::{Z_975, normal_quantile, student_t_quantile};
pub use hypothesis::{Comparison, TestKind};
pub use interval::{Interval, t_interval_for_mean, wilson_interval};
