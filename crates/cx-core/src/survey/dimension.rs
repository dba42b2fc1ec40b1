//! A rated dimension (product quality, service attitude, response speed, …):
//! mean with its Student t interval, and the 0–100 index
//! `100 · (mean − min) / (max − min)` that makes dimensions on different scales
//! comparable.

use serde::Serialize;

use super::scale::{Scale, ScoreCounts};
use super::{Changes, Disclosure, mean_figures};
use crate::stats::Interval;

/// Accumulates answers to one rated dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dimension {
    counts: ScoreCounts,
}

/// Figures for one dimension in one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DimensionFigures {
    /// Answers.
    pub n: u64,
    /// Mean rating.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// Student t 95% interval of the mean.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_ci95: Option<Interval>,
    /// `100 · (mean − min) / (max − min)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<f64>,
    /// The interval of the mean on the index scale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_ci95: Option<Interval>,
    /// n < 30.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub small_sample: bool,
    /// Hidden because the survey is anonymous and n < 5.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub suppressed: bool,
    /// Change of the mean against the comparison period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<Changes>,
}

impl Dimension {
    /// Empty accumulator on `scale`.
    pub fn new(scale: Scale) -> Dimension {
        Dimension {
            counts: ScoreCounts::new(scale),
        }
    }

    /// Records one answer; `false` when off the scale.
    #[inline]
    pub fn update(&mut self, value: i64) -> bool {
        self.counts.update(value)
    }

    /// Adds the answers of another accumulator on the same scale.
    pub fn merge(&mut self, other: &Dimension) {
        self.counts.merge(&other.counts);
    }

    /// Counts per score value.
    pub fn counts(&self) -> &ScoreCounts {
        &self.counts
    }

    /// Mutable counts, for push-down backends.
    pub fn counts_mut(&mut self) -> &mut ScoreCounts {
        &mut self.counts
    }

    /// The figures.
    pub fn evaluate(&self, disclosure: Disclosure) -> DimensionFigures {
        let n = self.counts.n();
        let (small_sample, suppressed) = disclosure.flags(n);
        let (mean, mean_ci95) = mean_figures(&self.counts, !suppressed);
        let scale = self.counts.scale();
        DimensionFigures {
            n,
            mean,
            mean_ci95,
            index: mean.map(|m| scale.index_of(m)),
            index_ci95: mean_ci95.map(|i| Interval {
                lo: scale.index_of(i.lo),
                hi: scale.index_of(i.hi),
            }),
            small_sample,
            suppressed,
            change: None,
        }
    }

    /// Change of the mean (Welch t).
    pub fn compare(&self, previous: &Dimension) -> Changes {
        let mut changes = Changes::new();
        changes.add_mean("mean", &self.counts, &previous.counts);
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_maps_scale_to_0_100() {
        let mut d = Dimension::new(Scale::one_to(5).expect("valid"));
        for v in [5, 4, 4, 3] {
            d.update(v);
        }
        let f = d.evaluate(Disclosure::default());
        assert_eq!(f.mean, Some(4.0));
        assert_eq!(f.index, Some(75.0));
        let mut ten = Dimension::new(Scale::new(0, 10).expect("valid"));
        ten.update(7);
        assert_eq!(ten.evaluate(Disclosure::default()).index, Some(70.0));
    }
}
