//! Rating scales and the sufficient statistic every survey metric is built on:
//! the count of answers at each point of the scale.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;

/// Most points a scale may have (0–10 has eleven).
pub const MAX_POINTS: usize = 11;

/// An integer rating scale `min..=max`, e.g. 0–10 for NPS, 1–5 for CSAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scale {
    /// Lowest point.
    pub min: i32,
    /// Highest point.
    pub max: i32,
}

impl Scale {
    /// The NPS "likelihood to recommend" scale, 0–10.
    pub const NPS: Scale = Scale { min: 0, max: 10 };

    /// A validated scale: `min < max` and at most [`MAX_POINTS`] points.
    pub fn new(min: i32, max: i32) -> Result<Scale, CoreError> {
        if min >= max || (max - min) as usize >= MAX_POINTS {
            return Err(CoreError::InvalidScale { min, max });
        }
        Ok(Scale { min, max })
    }

    /// A scale `1..=points`.
    pub fn one_to(points: i32) -> Result<Scale, CoreError> {
        Scale::new(1, points)
    }

    /// Number of points.
    pub fn points(&self) -> usize {
        (self.max - self.min) as usize + 1
    }

    /// Whether `value` is a point of the scale.
    pub fn contains(&self, value: i64) -> bool {
        (i64::from(self.min)..=i64::from(self.max)).contains(&value)
    }

    /// `100 · (mean − min) / (max − min)`: a mean on this scale as a 0–100 index.
    pub fn index_of(&self, mean: f64) -> f64 {
        100.0 * (mean - f64::from(self.min)) / f64::from(self.max - self.min)
    }

    /// Parses `"1-5"` / `"0-10"`.
    pub fn parse(text: &str) -> Result<Scale, CoreError> {
        let bad = || CoreError::ScaleSyntax(text.to_string());
        let (a, b) = text.split_once('-').ok_or_else(bad)?;
        let min = a.trim().parse().map_err(|_| bad())?;
        let max = b.trim().parse().map_err(|_| bad())?;
        Scale::new(min, max)
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}–{}", self.min, self.max)
    }
}

/// Count of answers at each point of a [`Scale`]: the sufficient statistic for
/// every survey metric (means, variances, top-box shares, NPS categories).
///
/// Counts are integers, so `merge` is exact and associative: merging the
/// accumulators of two halves of a data set gives exactly the accumulator of
/// the whole, whatever engine computed each half.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreCounts {
    scale: Scale,
    counts: [u64; MAX_POINTS],
}

impl ScoreCounts {
    /// Empty counts on `scale`.
    pub fn new(scale: Scale) -> ScoreCounts {
        ScoreCounts {
            scale,
            counts: [0; MAX_POINTS],
        }
    }

    /// The scale.
    pub fn scale(&self) -> Scale {
        self.scale
    }

    /// Records one answer. Returns `false` (and records nothing) when the value
    /// is not a point of the scale.
    #[inline]
    pub fn update(&mut self, value: i64) -> bool {
        if !self.scale.contains(value) {
            return false;
        }
        self.counts[(value - i64::from(self.scale.min)) as usize] += 1;
        true
    }

    /// Adds `count` answers at `value` (used by push-down backends that return
    /// counts per score value). Returns `false` when `value` is off the scale.
    pub fn add_count(&mut self, value: i64, count: u64) -> bool {
        if !self.scale.contains(value) {
            return false;
        }
        self.counts[(value - i64::from(self.scale.min)) as usize] += count;
        true
    }

    /// Adds another accumulator's counts. Panics in debug builds if the scales differ.
    pub fn merge(&mut self, other: &ScoreCounts) {
        debug_assert_eq!(
            self.scale, other.scale,
            "merging counts on different scales"
        );
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
    }

    /// Count at `value` (0 when off the scale).
    pub fn count(&self, value: i32) -> u64 {
        if self.scale.contains(i64::from(value)) {
            self.counts[(value - self.scale.min) as usize]
        } else {
            0
        }
    }

    /// Answers at values `lo..=hi` (clamped to the scale).
    pub fn count_between(&self, lo: i32, hi: i32) -> u64 {
        (lo.max(self.scale.min)..=hi.min(self.scale.max))
            .map(|v| self.count(v))
            .sum()
    }

    /// Number of answers.
    pub fn n(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// `(value, count)` for each point of the scale.
    pub fn iter(&self) -> impl Iterator<Item = (i32, u64)> + '_ {
        (self.scale.min..=self.scale.max).map(|v| (v, self.count(v)))
    }

    /// Mean and sample variance (n − 1 denominator), computed exactly from
    /// integer sums. `None` when empty; variance is 0 for a single answer.
    pub fn mean_and_variance(&self) -> Option<(f64, f64)> {
        let n = self.n();
        if n == 0 {
            return None;
        }
        let (mut sum, mut sum_sq) = (0_i128, 0_i128);
        for (v, c) in self.iter() {
            sum += i128::from(v) * i128::from(c);
            sum_sq += i128::from(v) * i128::from(v) * i128::from(c);
        }
        let mean = sum as f64 / n as f64;
        let variance = if n > 1 {
            // n·Σx² − (Σx)² is exact in integers, then one division.
            let n = i128::from(n);
            (n * sum_sq - sum * sum) as f64 / (n * (n - 1)) as f64
        } else {
            0.0
        };
        Some((mean, variance))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_validation() {
        assert!(Scale::new(1, 5).is_ok());
        assert!(Scale::new(0, 10).is_ok());
        assert!(Scale::new(5, 5).is_err());
        assert!(Scale::new(0, 11).is_err());
        assert_eq!(
            Scale::parse("1-7").expect("valid"),
            Scale { min: 1, max: 7 }
        );
        assert!(Scale::parse("seven").is_err());
    }

    #[test]
    fn mean_and_variance_exact() {
        let mut c = ScoreCounts::new(Scale::one_to(5).expect("valid"));
        for v in [2, 4, 4, 4, 5, 5, 7] {
            c.update(v);
        }
        // 7 is off the scale and was not recorded.
        assert_eq!(c.n(), 6);
        let (mean, var) = c.mean_and_variance().expect("non-empty");
        assert!((mean - 4.0).abs() < 1e-15);
        assert!((var - 1.2).abs() < 1e-15);
        assert_eq!(c.count_between(4, 5), 5);
    }
}
