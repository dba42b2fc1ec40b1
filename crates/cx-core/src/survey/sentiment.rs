//! Feedback polarity (SPEC §1): the shares of positive, neutral and negative
//! comments, each with its Wilson 95% interval, and the net share (positive −
//! negative). The polarity of each comment comes from text analysis (cx-text)
//! or from a column that already holds it; here it is a value −1, 0 or 1.

use serde::Serialize;

use super::scale::{Scale, ScoreCounts};
use super::{Changes, Disclosure, share_figures};
use crate::stats::Interval;

/// Polarity values: −1 negative, 0 neutral, 1 positive.
pub const POLARITY: Scale = Scale { min: -1, max: 1 };

/// Counts of negative, neutral and positive comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentiment {
    counts: ScoreCounts,
}

impl Default for Sentiment {
    fn default() -> Sentiment {
        Sentiment {
            counts: ScoreCounts::new(POLARITY),
        }
    }
}

/// The figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentimentFigures {
    /// Comments analysed.
    pub n: u64,
    /// Positive comments.
    pub positive: u64,
    /// Neutral comments.
    pub neutral: u64,
    /// Negative comments.
    pub negative: u64,
    /// Percent positive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub positive_pct: Option<f64>,
    /// Wilson 95% interval of `positive_pct`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub positive_ci95: Option<Interval>,
    /// Percent neutral.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub neutral_pct: Option<f64>,
    /// Wilson 95% interval of `neutral_pct`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub neutral_ci95: Option<Interval>,
    /// Percent negative.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negative_pct: Option<f64>,
    /// Wilson 95% interval of `negative_pct`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negative_ci95: Option<Interval>,
    /// `positive_pct − negative_pct`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net: Option<f64>,
    /// n < 30.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub small_sample: bool,
    /// Hidden because the survey is anonymous and n < 5.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub suppressed: bool,
    /// Changes of `negative_pct` and `positive_pct` (two-proportion z).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<Changes>,
}

impl Sentiment {
    /// Records one comment's polarity; `false` when it is not −1, 0 or 1.
    #[inline]
    pub fn update(&mut self, polarity: i64) -> bool {
        self.counts.update(polarity)
    }

    /// Adds another accumulator's counts.
    pub fn merge(&mut self, other: &Sentiment) {
        self.counts.merge(&other.counts);
    }

    /// Mutable counts, for push-down backends.
    pub fn counts_mut(&mut self) -> &mut ScoreCounts {
        &mut self.counts
    }

    /// Comments counted.
    pub fn n(&self) -> u64 {
        self.counts.n()
    }

    /// The figures.
    pub fn evaluate(&self, disclosure: Disclosure) -> SentimentFigures {
        let n = self.counts.n();
        let (small_sample, suppressed) = disclosure.flags(n);
        let shown = !suppressed;
        let (negative, neutral, positive) = (
            self.counts.count(-1),
            self.counts.count(0),
            self.counts.count(1),
        );
        let (positive_pct, positive_ci95) = share_figures(positive, n, shown);
        let (neutral_pct, neutral_ci95) = share_figures(neutral, n, shown);
        let (negative_pct, negative_ci95) = share_figures(negative, n, shown);
        let net = positive_pct.zip(negative_pct).map(|(p, q)| p - q);
        let hide = |c: u64| if shown { c } else { 0 };
        SentimentFigures {
            n,
            positive: hide(positive),
            neutral: hide(neutral),
            negative: hide(negative),
            positive_pct,
            positive_ci95,
            neutral_pct,
            neutral_ci95,
            negative_pct,
            negative_ci95,
            net,
            small_sample,
            suppressed,
            change: None,
        }
    }

    /// Changes of the negative and positive shares (two-proportion z).
    pub fn compare(&self, previous: &Sentiment) -> Changes {
        let mut changes = Changes::new();
        let (n1, n0) = (self.counts.n(), previous.counts.n());
        changes.add_share(
            "negative_pct",
            (self.counts.count(-1), n1),
            (previous.counts.count(-1), n0),
        );
        changes.add_share(
            "positive_pct",
            (self.counts.count(1), n1),
            (previous.counts.count(1), n0),
        );
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_with_wilson_intervals() {
        let mut s = Sentiment::default();
        // 65 positive, 20 neutral, 15 negative of 100.
        for (value, count) in [(1, 65), (0, 20), (-1, 15)] {
            s.counts_mut().add_count(value, count);
        }
        assert!(!s.update(2));
        let f = s.evaluate(Disclosure::default());
        assert_eq!((f.n, f.positive, f.neutral, f.negative), (100, 65, 20, 15));
        assert_eq!(f.positive_pct, Some(65.0));
        // Wilson for 65/100: [55.25, 73.64] (as for CSAT's top-two share).
        let ci = f.positive_ci95.expect("n > 0");
        assert!((ci.lo - 55.25).abs() < 0.005 && (ci.hi - 73.64).abs() < 0.005);
        // Wilson for 15/100: [9.31, 23.28].
        let ci = f.negative_ci95.expect("n > 0");
        assert!(
            (ci.lo - 9.31).abs() < 0.005 && (ci.hi - 23.28).abs() < 0.005,
            "{ci:?}"
        );
        assert_eq!(f.net, Some(50.0));
    }

    #[test]
    fn anonymous_small_groups_hide_counts() {
        let mut s = Sentiment::default();
        for v in [1, -1, 0] {
            s.update(v);
        }
        let f = s.evaluate(Disclosure { anonymous: true });
        assert!(f.suppressed);
        assert_eq!((f.n, f.positive, f.negative), (3, 0, 0));
        assert_eq!(f.positive_pct, None);
    }
}
