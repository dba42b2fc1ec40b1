//! Assembling a metrics report from per-group accumulators: ordering, period
//! comparisons, the overall figures and the record of excluded cells.
//!
//! Every backend (file scan, SQLite, PostgreSQL) hands over the same thing — a
//! [`GroupAccumulator`] per (group key, [`Bucket`]) — so the report, and its
//! JSON, is the same whichever engine counted.

use std::collections::HashMap;

use serde::Serialize;
use serde::ser::SerializeMap;

use super::group::{GroupAccumulator, GroupFigures, MetricsSpec};
use crate::period::{Bucket, Period, TimeFilter};

/// The key of a group: the `--by` values and the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupKey {
    /// `(column, value)` for each `--by` column, in order.
    pub by: Vec<(String, String)>,
    /// The reporting period, when grouping by time.
    pub period: Option<Period>,
}

impl Serialize for GroupKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.by.len() + usize::from(self.period.is_some())))?;
        for (k, v) in &self.by {
            map.serialize_entry(k, v)?;
        }
        if let Some(p) = &self.period {
            map.serialize_entry("period", &p.to_string())?;
        }
        map.end()
    }
}

/// One reported group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupReport {
    /// The group's key.
    pub key: GroupKey,
    /// Its figures.
    #[serde(flatten)]
    pub figures: GroupFigures,
}

/// Why a cell was left out of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExclusionReason {
    /// Not a number (`N/A`, `4.5`, text).
    NotANumber,
    /// A number off the question's scale.
    OutOfRange,
    /// A date that could not be read.
    BadDate,
    /// No date where one is needed for `--time`/`--from`/`--to`.
    MissingDate,
}

/// Where a cell is: file and physical line (for Parquet, the 1-based row).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct CellLocation {
    /// The input file.
    pub file: String,
    /// Physical line number, the header being line 1 (Parquet: row number).
    pub line: u64,
}

/// How many cells of a column were excluded for one reason, with the first few.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exclusion {
    /// The input column.
    pub column: String,
    /// The metric it feeds (`nps`, `csat`, a dimension, or `time`).
    pub metric: String,
    /// Why.
    pub reason: ExclusionReason,
    /// What the valid values are, e.g. `0–10`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// Cells excluded.
    pub count: u64,
    /// The first few, in file order.
    pub examples: Vec<CellLocation>,
}

/// How many example locations an [`Exclusion`] keeps.
pub const EXAMPLES_KEPT: usize = 5;

/// A full metrics report: SPEC §2's JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricsReport {
    /// One entry per group (key values × period), ordered by key then period.
    pub groups: Vec<GroupReport>,
    /// All reported responses together.
    pub overall: GroupFigures,
    /// With `--compare previous` and no `--interval`: the comparison window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison_window: Option<[String; 2]>,
    /// Cells left out of a metric, by column and reason.
    pub excluded: Vec<Exclusion>,
}

/// One accumulator handed over by a backend.
#[derive(Debug, Clone)]
pub struct BucketStats {
    /// The `--by` values, in `--by` order.
    pub key: Vec<String>,
    /// Period and comparison flag.
    pub bucket: Bucket,
    /// The statistics.
    pub stats: GroupAccumulator,
}

/// Builds the report. `buckets` may contain the same key twice (e.g. one per
/// worker thread); they are merged.
pub fn build_report(
    spec: &MetricsSpec,
    by: &[String],
    time: &TimeFilter,
    buckets: Vec<BucketStats>,
    mut excluded: Vec<Exclusion>,
) -> MetricsReport {
    let mut merged: HashMap<(Vec<String>, Bucket), GroupAccumulator> = HashMap::new();
    for b in buckets {
        match merged.get_mut(&(b.key.clone(), b.bucket)) {
            Some(acc) => acc.merge(&b.stats),
            None => {
                merged.insert((b.key, b.bucket), b.stats);
            }
        }
    }
    let mut keys: Vec<&(Vec<String>, Bucket)> = merged.keys().collect();
    keys.sort();

    let mut overall = GroupAccumulator::new(spec);
    let mut overall_reference = GroupAccumulator::new(spec);
    let mut groups = Vec::new();
    for key in keys {
        let stats = &merged[key];
        let (values, bucket) = key;
        if bucket.reference {
            overall_reference.merge(stats);
            continue;
        }
        overall.merge(stats);
        let mut figures = stats.evaluate(spec);
        if time.compare_previous() {
            let previous = match bucket.period {
                Some(p) => {
                    let prev = p.previous();
                    [false, true].into_iter().find_map(|reference| {
                        merged.get(&(
                            values.clone(),
                            Bucket {
                                period: Some(prev),
                                reference,
                            },
                        ))
                    })
                }
                None => merged.get(&(
                    values.clone(),
                    Bucket {
                        period: None,
                        reference: true,
                    },
                )),
            };
            if let Some(prev) = previous {
                stats.compare_into(prev, &mut figures, spec.disclosure);
                figures.previous_period = bucket.period.map(|p| p.previous().to_string());
            }
        }
        groups.push(GroupReport {
            key: GroupKey {
                by: by.iter().cloned().zip(values.iter().cloned()).collect(),
                period: bucket.period,
            },
            figures,
        });
    }
    let mut overall_figures = overall.evaluate(spec);
    let comparison_window = time
        .previous_window()
        .map(|(lo, hi)| [lo.to_string(), hi.to_string()]);
    if comparison_window.is_some() && overall_reference.rows() > 0 {
        overall.compare_into(&overall_reference, &mut overall_figures, spec.disclosure);
    }
    excluded
        .sort_by(|a, b| (&a.column, &a.metric, a.reason).cmp(&(&b.column, &b.metric, b.reason)));
    MetricsReport {
        groups,
        overall: overall_figures,
        comparison_window,
        excluded,
    }
}
