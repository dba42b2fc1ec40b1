//! Survey metrics: NPS, CSAT, CES, rated dimensions and the composite
//! satisfaction index, each with `update` / `merge` / `evaluate`; the group
//! accumulator that carries them through a scan; and the report built from it.

pub mod ces;
pub mod csat;
pub mod csi;
pub mod dimension;
pub mod drivers;
pub mod group;
pub mod nps;
pub mod report;
pub mod scale;
pub mod sentiment;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::stats::hypothesis::{MeanSummary, compare_means, compare_proportions};
use crate::stats::{Comparison, Interval, t_interval_for_mean, wilson_interval};
use scale::ScoreCounts;

/// Below this many answers a figure is flagged `small_sample`.
pub const SMALL_SAMPLE: u64 = 30;
/// In anonymous surveys, figures from fewer answers than this are suppressed.
pub const SUPPRESS_BELOW: u64 = 5;

/// What may be shown: anonymous surveys hide figures from fewer than five answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Disclosure {
    /// The survey stores no identity; small groups could reveal who said what.
    pub anonymous: bool,
}

impl Disclosure {
    /// `(small_sample, suppressed)` for a figure based on `n` answers.
    pub fn flags(&self, n: u64) -> (bool, bool) {
        let suppressed = self.anonymous && n < SUPPRESS_BELOW;
        (n > 0 && n < SMALL_SAMPLE && !suppressed, suppressed)
    }
}

/// Changes of a metric's figures against a comparison period, by figure name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Changes(BTreeMap<&'static str, Comparison>);

impl Changes {
    /// No changes.
    pub fn new() -> Changes {
        Changes::default()
    }

    /// Adds a comparison.
    pub fn insert(&mut self, figure: &'static str, comparison: Comparison) {
        self.0.insert(figure, comparison);
    }

    /// The comparison of `figure`, if any.
    pub fn get(&self, figure: &str) -> Option<&Comparison> {
        self.0.get(figure)
    }

    /// Whether nothing could be compared.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over `(figure, comparison)`.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Comparison)> {
        self.0.iter().map(|(k, v)| (*k, v))
    }

    fn add_share(&mut self, figure: &'static str, current: (u64, u64), previous: (u64, u64)) {
        if let Some(c) = compare_proportions(current.0, current.1, previous.0, previous.1) {
            self.insert(figure, c);
        }
    }

    fn add_mean(&mut self, figure: &'static str, current: &ScoreCounts, previous: &ScoreCounts) {
        let summary = |c: &ScoreCounts| {
            c.mean_and_variance().map(|(mean, variance)| MeanSummary {
                n: c.n(),
                mean,
                variance,
            })
        };
        if let Some(c) = summary(current)
            .zip(summary(previous))
            .and_then(|(a, b)| compare_means(a, b))
        {
            self.insert(figure, c);
        }
    }
}

/// Percent share and its Wilson interval, when shown and defined.
fn share_figures(successes: u64, n: u64, shown: bool) -> (Option<f64>, Option<Interval>) {
    if !shown || n == 0 {
        return (None, None);
    }
    (
        Some(100.0 * successes as f64 / n as f64),
        wilson_interval(successes, n).map(|i| i.scaled(100.0)),
    )
}

/// Mean and its t interval, when shown and defined.
fn mean_figures(counts: &ScoreCounts, shown: bool) -> (Option<f64>, Option<Interval>) {
    if !shown {
        return (None, None);
    }
    match counts.mean_and_variance() {
        Some((mean, var)) => (Some(mean), t_interval_for_mean(mean, var, counts.n())),
        None => (None, None),
    }
}
