//! Net Promoter Score (Reichheld 2003): `100 · (promoters − detractors) / n` on
//! the 0–10 scale, with the adjusted-Wald interval (Rocks 2016: add 3/4 of an
//! answer to promoters and to detractors, 3 to n).

use serde::Serialize;

use super::scale::{Scale, ScoreCounts};
use super::{Changes, Disclosure};
use crate::stats::hypothesis::{NpsCounts, compare_nps};
use crate::stats::{Interval, Z_975};

/// Accumulates 0–10 "likelihood to recommend" answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nps {
    counts: ScoreCounts,
}

impl Default for Nps {
    fn default() -> Self {
        Nps {
            counts: ScoreCounts::new(Scale::NPS),
        }
    }
}

/// NPS figures for one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NpsFigures {
    /// Answers.
    pub n: u64,
    /// NPS in −100…100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Answers 9–10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promoters: Option<u64>,
    /// Answers 7–8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passives: Option<u64>,
    /// Answers 0–6.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detractors: Option<u64>,
    /// Adjusted-Wald 95% interval, clipped to [−100, 100].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci95: Option<Interval>,
    /// n < 30.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub small_sample: bool,
    /// Hidden because the survey is anonymous and n < 5.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub suppressed: bool,
    /// Change against the comparison period (`score`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<Changes>,
}

impl Nps {
    /// Records one answer; `false` when it is not in 0–10.
    #[inline]
    pub fn update(&mut self, value: i64) -> bool {
        self.counts.update(value)
    }

    /// Adds the answers of another accumulator.
    pub fn merge(&mut self, other: &Nps) {
        self.counts.merge(&other.counts);
    }

    /// The underlying counts per score value.
    pub fn counts(&self) -> &ScoreCounts {
        &self.counts
    }

    /// Mutable counts, for backends that push the counting down to SQL.
    pub fn counts_mut(&mut self) -> &mut ScoreCounts {
        &mut self.counts
    }

    /// Promoters, passives and detractors.
    pub fn categories(&self) -> NpsCounts {
        NpsCounts {
            promoters: self.counts.count_between(9, 10),
            passives: self.counts.count_between(7, 8),
            detractors: self.counts.count_between(0, 6),
        }
    }

    /// The figures, honouring small-sample flags and anonymous suppression.
    pub fn evaluate(&self, disclosure: Disclosure) -> NpsFigures {
        let c = self.categories();
        let n = c.n();
        let (small_sample, suppressed) = disclosure.flags(n);
        let shown = n > 0 && !suppressed;
        NpsFigures {
            n,
            score: shown.then(|| nps_score(c)),
            promoters: shown.then_some(c.promoters),
            passives: shown.then_some(c.passives),
            detractors: shown.then_some(c.detractors),
            ci95: if shown { Some(adjusted_wald(c)) } else { None },
            small_sample,
            suppressed,
            change: None,
        }
    }

    /// Change of the score against `previous`, by the trinomial z test.
    pub fn compare(&self, previous: &Nps) -> Changes {
        let mut changes = Changes::new();
        if let Some(c) = compare_nps(self.categories(), previous.categories()) {
            changes.insert("score", c);
        }
        changes
    }
}

/// `100 · (P − D) / n`.
pub fn nps_score(c: NpsCounts) -> f64 {
    100.0 * (c.promoters as f64 - c.detractors as f64) / c.n() as f64
}

/// Adjusted-Wald 95% interval for NPS, in NPS points, clipped to [−100, 100].
pub fn adjusted_wald(c: NpsCounts) -> Interval {
    let n = c.n() as f64 + 3.0;
    let p = (c.promoters as f64 + 0.75) / n;
    let d = (c.detractors as f64 + 0.75) / n;
    let centre = p - d;
    let se = ((p + d - centre * centre) / n).sqrt();
    Interval {
        lo: (100.0 * (centre - Z_975 * se)).max(-100.0),
        hi: (100.0 * (centre + Z_975 * se)).min(100.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(promoters: u64, passives: u64, detractors: u64) -> NpsCounts {
        NpsCounts {
            promoters,
            passives,
            detractors,
        }
    }

    /// Vectors from the foundation issue, hand-computed from the SPEC formula.
    #[test]
    fn adjusted_wald_vectors() {
        for ((p, a, d), score, lo, hi, tol) in [
            ((60, 25, 15), 45.0, 29.34, 58.04, 0.005),
            ((8, 5, 7), 5.0, -30.22, 38.92, 0.005),
            ((420, 330, 250), 17.0, 11.995, 21.903, 0.0005),
        ] {
            let c = counts(p, a, d);
            assert!((nps_score(c) - score).abs() < 1e-12);
            let ci = adjusted_wald(c);
            assert!((ci.lo - lo).abs() < tol, "{p}/{a}/{d}: lo {}", ci.lo);
            assert!((ci.hi - hi).abs() < tol, "{p}/{a}/{d}: hi {}", ci.hi);
        }
    }

    #[test]
    fn interval_is_clipped() {
        let ci = adjusted_wald(counts(5, 0, 0));
        assert!(ci.hi <= 100.0 && ci.lo > -100.0);
        let ci = adjusted_wald(counts(0, 0, 40));
        assert!((ci.lo - -100.0).abs() < 1e-12 || ci.lo > -100.0);
    }

    #[test]
    fn evaluate_from_answers() {
        let mut nps = Nps::default();
        for v in [10, 9, 9, 8, 7, 6, 0, 10] {
            assert!(nps.update(v));
        }
        assert!(!nps.update(11));
        let f = nps.evaluate(Disclosure::default());
        assert_eq!(
            (f.n, f.promoters, f.passives, f.detractors),
            (8, Some(4), Some(2), Some(2))
        );
        assert_eq!(f.score, Some(25.0));
        assert!(f.small_sample);
        let hidden = nps.evaluate(Disclosure { anonymous: true });
        assert!(!hidden.suppressed, "n = 8 is not suppressed");
        let mut tiny = Nps::default();
        tiny.update(10);
        let hidden = tiny.evaluate(Disclosure { anonymous: true });
        assert!(hidden.suppressed && hidden.score.is_none() && hidden.ci95.is_none());
    }
}
