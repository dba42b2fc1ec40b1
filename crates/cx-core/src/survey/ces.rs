//! Customer Effort Score (CES), reported as *ease*: the mean and the share of
//! answers in the top three points (Wilson), reverse-coded when the question is
//! asked as "how hard was it".

use serde::{Deserialize, Serialize};

use super::scale::{Scale, ScoreCounts};
use super::{Changes, Disclosure, mean_figures, share_figures};
use crate::stats::Interval;

/// Which end of the CES scale is "easy".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CesDirection {
    /// 7 = very easy (the default).
    #[default]
    HigherIsEasier,
    /// 7 = very hard; answers are reverse-coded to ease.
    HigherIsHarder,
}

/// Accumulates CES answers (1–7 by default), stored as ease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ces {
    ease: ScoreCounts,
    direction: CesDirection,
}

/// CES figures for one group; all values are "ease".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CesFigures {
    /// Answers.
    pub n: u64,
    /// Mean ease.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// Student t 95% interval of the mean.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_ci95: Option<Interval>,
    /// Percent of answers in the three easiest points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub easy_pct: Option<f64>,
    /// Wilson 95% interval of `easy_pct`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub easy_ci95: Option<Interval>,
    /// n < 30.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub small_sample: bool,
    /// Hidden because the survey is anonymous and n < 5.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub suppressed: bool,
    /// Changes against the comparison period (`mean`, `easy_pct`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<Changes>,
}

impl Ces {
    /// Empty accumulator.
    pub fn new(scale: Scale, direction: CesDirection) -> Ces {
        Ces {
            ease: ScoreCounts::new(scale),
            direction,
        }
    }

    /// The question's direction.
    pub fn direction(&self) -> CesDirection {
        self.direction
    }

    /// Records one answer as given on the questionnaire; `false` when off the scale.
    #[inline]
    pub fn update(&mut self, value: i64) -> bool {
        let scale = self.ease.scale();
        if !scale.contains(value) {
            return false;
        }
        let ease = match self.direction {
            CesDirection::HigherIsEasier => value,
            CesDirection::HigherIsHarder => i64::from(scale.min + scale.max) - value,
        };
        self.ease.update(ease)
    }

    /// Adds the answers of another accumulator.
    pub fn merge(&mut self, other: &Ces) {
        debug_assert_eq!(self.direction, other.direction);
        self.ease.merge(&other.ease);
    }

    /// Counts per ease value (already reverse-coded).
    pub fn ease_counts(&self) -> &ScoreCounts {
        &self.ease
    }

    /// Records `count` answers given as `value` on the questionnaire (push-down backends).
    pub fn add_count(&mut self, value: i64, count: u64) -> bool {
        let scale = self.ease.scale();
        let ease = match self.direction {
            CesDirection::HigherIsEasier => value,
            CesDirection::HigherIsHarder => i64::from(scale.min + scale.max) - value,
        };
        self.ease.add_count(ease, count)
    }

    fn easy_count(&self) -> u64 {
        let max = self.ease.scale().max;
        self.ease.count_between(max - 2, max)
    }

    /// The figures.
    pub fn evaluate(&self, disclosure: Disclosure) -> CesFigures {
        let n = self.ease.n();
        let (small_sample, suppressed) = disclosure.flags(n);
        let (mean, mean_ci95) = mean_figures(&self.ease, !suppressed);
        let (easy_pct, easy_ci95) = share_figures(self.easy_count(), n, !suppressed);
        CesFigures {
            n,
            mean,
            mean_ci95,
            easy_pct,
            easy_ci95,
            small_sample,
            suppressed,
            change: None,
        }
    }

    /// Changes of the mean (Welch t) and the easy share (two-proportion z).
    pub fn compare(&self, previous: &Ces) -> Changes {
        let mut changes = Changes::new();
        changes.add_mean("mean", &self.ease, &previous.ease);
        changes.add_share(
            "easy_pct",
            (self.easy_count(), self.ease.n()),
            (previous.easy_count(), previous.ease.n()),
        );
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_coding_reports_ease() {
        let scale = Scale::one_to(7).expect("valid");
        let mut easier = Ces::new(scale, CesDirection::HigherIsEasier);
        let mut harder = Ces::new(scale, CesDirection::HigherIsHarder);
        for v in [7, 6, 5, 2] {
            easier.update(v);
            // The same experiences asked the other way round.
            harder.update(8 - v);
        }
        let (a, b) = (
            easier.evaluate(Disclosure::default()),
            harder.evaluate(Disclosure::default()),
        );
        assert_eq!(a.mean, Some(5.0));
        assert_eq!(a.mean, b.mean);
        assert_eq!(a.easy_pct, Some(75.0));
        assert_eq!(a.easy_pct, b.easy_pct);
        assert!(!harder.update(0));
    }
}
