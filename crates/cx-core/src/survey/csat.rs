//! Customer satisfaction (CSAT): share of answers in the top two points of the
//! scale (Wilson interval) and the mean (Student t interval).

use serde::Serialize;

use super::scale::{Scale, ScoreCounts};
use super::{Changes, Disclosure, mean_figures, share_figures};
use crate::stats::Interval;

/// Accumulates CSAT answers on a 1–5, 1–7 or 1–10 scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csat {
    counts: ScoreCounts,
}

/// CSAT figures for one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CsatFigures {
    /// Answers.
    pub n: u64,
    /// Percent of answers in the top two points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top2_pct: Option<f64>,
    /// Wilson 95% interval of `top2_pct`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top2_ci95: Option<Interval>,
    /// Mean answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// Student t 95% interval of the mean.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_ci95: Option<Interval>,
    /// n < 30.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub small_sample: bool,
    /// Hidden because the survey is anonymous and n < 5.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub suppressed: bool,
    /// Changes against the comparison period (`top2_pct`, `mean`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<Changes>,
}

impl Csat {
    /// Empty accumulator on `scale`.
    pub fn new(scale: Scale) -> Csat {
        Csat {
            counts: ScoreCounts::new(scale),
        }
    }

    /// Records one answer; `false` when it is off the scale.
    #[inline]
    pub fn update(&mut self, value: i64) -> bool {
        self.counts.update(value)
    }

    /// Adds the answers of another accumulator on the same scale.
    pub fn merge(&mut self, other: &Csat) {
        self.counts.merge(&other.counts);
    }

    /// The underlying counts per score value.
    pub fn counts(&self) -> &ScoreCounts {
        &self.counts
    }

    /// Mutable counts, for push-down backends.
    pub fn counts_mut(&mut self) -> &mut ScoreCounts {
        &mut self.counts
    }

    fn top2_count(&self) -> u64 {
        let max = self.counts.scale().max;
        self.counts.count_between(max - 1, max)
    }

    /// The figures.
    pub fn evaluate(&self, disclosure: Disclosure) -> CsatFigures {
        let n = self.counts.n();
        let (small_sample, suppressed) = disclosure.flags(n);
        let shown = !suppressed;
        let (top2_pct, top2_ci95) = share_figures(self.top2_count(), n, shown);
        let (mean, mean_ci95) = mean_figures(&self.counts, shown);
        CsatFigures {
            n,
            top2_pct,
            top2_ci95,
            mean,
            mean_ci95,
            small_sample,
            suppressed,
            change: None,
        }
    }

    /// Changes of the top-two share (two-proportion z) and the mean (Welch t).
    pub fn compare(&self, previous: &Csat) -> Changes {
        let mut changes = Changes::new();
        changes.add_share(
            "top2_pct",
            (self.top2_count(), self.counts.n()),
            (previous.top2_count(), previous.counts.n()),
        );
        changes.add_mean("mean", &self.counts, &previous.counts);
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_two_box_and_mean() {
        let mut csat = Csat::new(Scale::one_to(5).expect("valid"));
        // 65 of 100 in the top two points → Wilson [55.25, 73.64].
        for (value, count) in [(5, 40), (4, 25), (3, 20), (2, 10), (1, 5)] {
            csat.counts_mut().add_count(value, count);
        }
        let f = csat.evaluate(Disclosure::default());
        assert_eq!(f.n, 100);
        assert_eq!(f.top2_pct, Some(65.0));
        let ci = f.top2_ci95.expect("n > 0");
        assert!((ci.lo - 55.25).abs() < 0.005 && (ci.hi - 73.64).abs() < 0.005);
        assert_eq!(f.mean, Some(3.85));
        let json = serde_json::to_value(&f).expect("serialises");
        assert_eq!(json["top2_pct"], 65.0);
        assert!(json["mean_ci95"].is_array());
    }

    #[test]
    fn seven_point_scale_uses_six_and_seven() {
        let mut csat = Csat::new(Scale::one_to(7).expect("valid"));
        for v in [7, 6, 5, 5] {
            csat.update(v);
        }
        assert_eq!(csat.evaluate(Disclosure::default()).top2_pct, Some(50.0));
    }
}
