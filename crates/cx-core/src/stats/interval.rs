//! 95% confidence intervals for proportions and means.

use serde::Serialize;

use super::distributions::{Z_975, student_t_quantile};

/// A two-sided confidence interval `[lo, hi]`, serialised as a two-element array.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(into = "[f64; 2]")]
pub struct Interval {
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
}

impl From<Interval> for [f64; 2] {
    fn from(i: Interval) -> Self {
        [i.lo, i.hi]
    }
}

impl Interval {
    /// Multiplies both bounds by `k` (e.g. 100 to turn a proportion into percent).
    pub fn scaled(self, k: f64) -> Interval {
        Interval {
            lo: self.lo * k,
            hi: self.hi * k,
        }
    }
}

/// Wilson score interval (Wilson 1927) for `successes` out of `n`, as a
/// proportion in [0, 1]. `None` when `n = 0`.
pub fn wilson_interval(successes: u64, n: u64) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = Z_975 * Z_975;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = Z_975 / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(Interval {
        lo: (centre - half).max(0.0),
        hi: (centre + half).min(1.0),
    })
}

/// Student t interval for a mean: `mean ± t(0.975, n − 1) · sd / √n`.
/// `None` when `n < 2` (no variance estimate).
pub fn t_interval_for_mean(mean: f64, sample_variance: f64, n: u64) -> Option<Interval> {
    if n < 2 {
        return None;
    }
    let half = student_t_quantile(0.975, (n - 1) as f64) * (sample_variance / n as f64).sqrt();
    Some(Interval {
        lo: mean - half,
        hi: mean + half,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pct(i: Interval) -> (f64, f64) {
        (i.lo * 100.0, i.hi * 100.0)
    }

    #[test]
    fn wilson_published_vectors() {
        // (successes, n, lo%, hi%): the foundation issue's vectors and Wilson's formula
        // evaluated independently in Python.
        for (x, n, lo, hi) in [
            (65, 100, 55.25, 73.64),
            (9, 10, 59.58, 98.21),
            (81, 263, 25.53, 36.62),
            (15, 148, 6.24, 16.05),
            (0, 20, 0.0, 16.11),
            (1, 29, 0.61, 17.18),
        ] {
            let (l, h) = pct(wilson_interval(x, n).expect("n > 0"));
            assert!(
                (l - lo).abs() < 0.005 && (h - hi).abs() < 0.005,
                "{x}/{n}: [{l}, {h}]"
            );
        }
        assert_eq!(wilson_interval(0, 0), None);
    }

    #[test]
    fn t_interval_small_sample_uses_t_not_z() {
        // Values 2, 4, 6: mean 4, s² = 4, t(0.975, 2) = 4.302652729749464.
        let i = t_interval_for_mean(4.0, 4.0, 3).expect("n >= 2");
        let half = 4.302_652_729_749_464 * (4.0_f64 / 3.0).sqrt();
        assert!((i.lo - (4.0 - half)).abs() < 1e-12);
        assert!((i.hi - (4.0 + half)).abs() < 1e-12);
        assert_eq!(t_interval_for_mean(4.0, 0.0, 1), None);
    }
}
