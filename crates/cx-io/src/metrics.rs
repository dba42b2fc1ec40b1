//! Survey metrics over files: the [`RowSink`] that filters rows, assigns them to
//! groups and periods, validates every answer against its scale and feeds
//! [`GroupAccumulator`]s — one set per worker, merged at the end into the same
//! [`MetricsReport`] the database backends produce.

use std::path::PathBuf;

use cx_core::period::{Bucket, Period, TimeFilter};
use cx_core::survey::group::{GroupAccumulator, MetricsSpec, Slot, SlotKind};
use cx_core::survey::report::{
    BucketStats, CellLocation, EXAMPLES_KEPT, Exclusion, ExclusionReason, MetricsReport,
    build_report,
};
use cx_core::value::ScoreCell;
use rustc_hash::FxHashMap;

use crate::{Cell, IoError, RowLoc, RowSink, ScanOptions, scan_with_progress};

/// A metrics question over files, with column names resolved by the caller's flags.
#[derive(Debug, Clone)]
pub struct MetricsRequest {
    /// What to compute.
    pub spec: MetricsSpec,
    /// The input column of each slot of [`MetricsSpec::slots`], in order.
    pub slot_columns: Vec<String>,
    /// `--by` columns.
    pub by: Vec<String>,
    /// `--time` column.
    pub time_column: Option<String>,
    /// `--interval`, `--from`, `--to`, `--compare`.
    pub time: TimeFilter,
    /// `--where COL=VALUE`: a row is kept when, for every column, its value is one of the listed.
    pub filters: Vec<(String, Vec<String>)>,
    /// How a comment's text becomes a polarity (−1, 0, 1) for the sentiment
    /// slot, when its cell is not already a label (`positive`, `负面`, `-1`, …).
    pub polarity: Option<TextPolarity>,
}

/// A text classifier for the sentiment slot (cx-text's analyzer, supplied by
/// the caller so this crate needs no model).
#[derive(Clone)]
pub struct TextPolarity(pub std::sync::Arc<dyn Fn(&str) -> i64 + Send + Sync>);

impl std::fmt::Debug for TextPolarity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TextPolarity(..)")
    }
}

/// A polarity label as exports write it, if the cell is one.
pub fn polarity_label(text: &str) -> Option<i64> {
    match text.trim().to_ascii_lowercase().as_str() {
        "positive" | "pos" | "正面" | "积极" | "好评" | "1" | "+1" => Some(1),
        "neutral" | "neu" | "中性" | "中评" | "0" => Some(0),
        "negative" | "neg" | "负面" | "消极" | "差评" | "-1" => Some(-1),
        _ => None,
    }
}

/// Column positions (in the scan's column list) for each role.
struct Plan {
    spec: MetricsSpec,
    slots: Vec<Slot>,
    slot_cols: Vec<usize>,
    by_cols: Vec<usize>,
    time_col: Option<usize>,
    filters: Vec<(usize, Vec<Vec<u8>>)>,
    time: TimeFilter,
    polarity: Option<TextPolarity>,
}

/// Excluded cells are counted per (role, reason); a role is a slot index or this.
type ExclusionKey = (usize, ExclusionReason);
const TIME_ROLE: usize = usize::MAX;

/// Per-worker state.
struct MetricsSink<'p> {
    plan: &'p Plan,
    index: FxHashMap<Vec<u8>, usize>,
    groups: Vec<(Vec<String>, Bucket, GroupAccumulator)>,
    key: Vec<u8>,
    text: Vec<u8>,
    values: Vec<Option<i64>>,
    excluded: FxHashMap<ExclusionKey, (u64, Vec<RowLoc>)>,
    /// Group of each dictionary key in the current batch (`u32::MAX`: not yet
    /// known), when a single `--by` column is dictionary-encoded and time plays no part.
    dict_groups: Vec<u32>,
}

impl<'p> MetricsSink<'p> {
    fn new(plan: &'p Plan) -> Self {
        MetricsSink {
            plan,
            index: FxHashMap::default(),
            groups: Vec::new(),
            key: Vec::new(),
            text: Vec::new(),
            values: vec![None; plan.slots.len()],
            excluded: FxHashMap::default(),
            dict_groups: Vec::new(),
        }
    }

    /// Records an excluded cell of `role`: a slot index, or [`TIME_ROLE`].
    fn exclude(&mut self, role: usize, reason: ExclusionReason, at: RowLoc) {
        let entry = self.excluded.entry((role, reason)).or_default();
        entry.0 += 1;
        let examples = &mut entry.1;
        if examples.len() < EXAMPLES_KEPT || examples.last().is_some_and(|l| at < *l) {
            let pos = examples.partition_point(|l| *l < at);
            examples.insert(pos, at);
            examples.truncate(EXAMPLES_KEPT);
        }
    }

    fn group_index(&mut self, cells: &[Cell<'_>], bucket: Bucket) -> usize {
        let plan = self.plan;
        if let ([by], false) = (plan.by_cols.as_slice(), plan.time.needs_dates())
            && let Cell::DictText(k, _) = cells[*by]
        {
            let k = k as usize;
            if let Some(&g) = self.dict_groups.get(k).filter(|g| **g != u32::MAX) {
                return g as usize;
            }
            let g = self.lookup_group(cells, bucket);
            if self.dict_groups.len() <= k {
                self.dict_groups.resize(k + 1, u32::MAX);
            }
            self.dict_groups[k] = g as u32;
            return g;
        }
        self.lookup_group(cells, bucket)
    }

    fn lookup_group(&mut self, cells: &[Cell<'_>], bucket: Bucket) -> usize {
        let plan = self.plan;
        self.key.clear();
        for &c in &plan.by_cols {
            cells[c].write_text(&mut self.key);
            self.key.push(0x1F);
        }
        encode_bucket(bucket, &mut self.key);
        if let Some(&i) = self.index.get(self.key.as_slice()) {
            return i;
        }
        let values = plan
            .by_cols
            .iter()
            .map(|&c| {
                self.text.clear();
                cells[c].write_text(&mut self.text);
                String::from_utf8_lossy(&self.text).into_owned()
            })
            .collect();
        self.groups
            .push((values, bucket, GroupAccumulator::new(&plan.spec)));
        self.index.insert(self.key.clone(), self.groups.len() - 1);
        self.groups.len() - 1
    }
}

fn encode_bucket(bucket: Bucket, out: &mut Vec<u8>) {
    let (tag, a, b): (u8, i32, u32) = match bucket.period {
        None => (0, 0, 0),
        Some(Period::Day(d)) => (1, d.days(), 0),
        Some(Period::Week(y, w)) => (2, y, w),
        Some(Period::Month(y, m)) => (3, y, m),
        Some(Period::Quarter(y, q)) => (4, y, q),
        Some(Period::Year(y)) => (5, y, 0),
    };
    out.push(tag | if bucket.reference { 0x80 } else { 0 });
    out.extend_from_slice(&a.to_le_bytes());
    out.extend_from_slice(&b.to_le_bytes());
}

impl RowSink for MetricsSink<'_> {
    fn new_batch(&mut self) {
        self.dict_groups.clear();
    }

    fn row(&mut self, cells: &[Cell<'_>], at: RowLoc) {
        let plan = self.plan;
        for (col, allowed) in &plan.filters {
            self.text.clear();
            cells[*col].write_text(&mut self.text);
            if !allowed.contains(&self.text) {
                return;
            }
        }
        let bucket = match plan.time_col.filter(|_| plan.time.needs_dates()) {
            None => Bucket::ALL,
            Some(c) => match cells[c].date() {
                Ok(Some(date)) => match plan.time.bucket(date) {
                    Some(b) => b,
                    None => return,
                },
                Ok(None) => return self.exclude(TIME_ROLE, ExclusionReason::MissingDate, at),
                Err(()) => return self.exclude(TIME_ROLE, ExclusionReason::BadDate, at),
            },
        };
        let group = self.group_index(cells, bucket);
        for k in 0..plan.slots.len() {
            let col = plan.slot_cols[k];
            if plan.slots[k].kind == SlotKind::Sentiment {
                self.text.clear();
                cells[col].write_text(&mut self.text);
                let text = String::from_utf8_lossy(&self.text);
                self.values[k] = if text.trim().is_empty() {
                    None
                } else {
                    polarity_label(&text).or_else(|| plan.polarity.as_ref().map(|p| (p.0)(&text)))
                };
                continue;
            }
            self.values[k] = match cells[col].score() {
                ScoreCell::Blank => None,
                ScoreCell::Value(v) if plan.slots[k].scale.contains(v) => Some(v),
                ScoreCell::Value(_) => {
                    self.exclude(k, ExclusionReason::OutOfRange, at);
                    None
                }
                ScoreCell::Invalid => {
                    self.exclude(k, ExclusionReason::NotANumber, at);
                    None
                }
            };
        }
        self.groups[group].2.record(&self.values);
    }
}

/// Computes survey metrics over `files` read as one table.
pub fn compute(
    files: &[PathBuf],
    request: &MetricsRequest,
    options: &ScanOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<MetricsReport, IoError> {
    let mut columns: Vec<String> = Vec::new();
    let mut position = |name: &str| -> usize {
        match columns.iter().position(|c| c == name) {
            Some(i) => i,
            None => {
                columns.push(name.to_string());
                columns.len() - 1
            }
        }
    };
    let slot_cols: Vec<usize> = request.slot_columns.iter().map(|c| position(c)).collect();
    let by_cols: Vec<usize> = request.by.iter().map(|c| position(c)).collect();
    let time_col = request.time_column.as_deref().map(&mut position);
    let filters: Vec<(usize, Vec<Vec<u8>>)> = request
        .filters
        .iter()
        .map(|(c, values)| {
            (
                position(c),
                values
                    .iter()
                    .map(|v| v.trim().as_bytes().to_vec())
                    .collect(),
            )
        })
        .collect();
    let plan = Plan {
        spec: request.spec.clone(),
        slots: request.spec.slots(),
        slot_cols,
        by_cols,
        time_col,
        filters,
        time: request.time,
        polarity: request.polarity.clone(),
    };
    debug_assert_eq!(plan.slots.len(), plan.slot_cols.len());

    let sinks = scan_with_progress(
        files,
        &columns,
        options,
        || MetricsSink::new(&plan),
        progress,
    )?;

    let mut buckets = Vec::new();
    let mut excluded: FxHashMap<ExclusionKey, (u64, Vec<RowLoc>)> = FxHashMap::default();
    for sink in sinks {
        for (key, bucket, stats) in sink.groups {
            buckets.push(BucketStats { key, bucket, stats });
        }
        for (k, (count, examples)) in sink.excluded {
            let e = excluded.entry(k).or_default();
            e.0 += count;
            e.1.extend(examples);
        }
    }
    let exclusions = excluded
        .into_iter()
        .map(|((role, reason), (count, mut examples))| {
            examples.sort_unstable();
            examples.truncate(EXAMPLES_KEPT);
            let slot = plan.slots.get(role);
            Exclusion {
                column: match slot {
                    Some(_) => request.slot_columns[role].clone(),
                    None => request.time_column.clone().unwrap_or_default(),
                },
                metric: slot.map_or_else(|| "time".to_string(), |s| s.name.clone()),
                reason,
                expected: Some(match slot {
                    Some(s) => format!("integer {}", s.scale),
                    None => "a date such as 2026-03-01".to_string(),
                }),
                count,
                examples: examples
                    .into_iter()
                    .map(|l| CellLocation {
                        file: files[l.file as usize].display().to_string(),
                        line: l.line,
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(build_report(
        &request.spec,
        &request.by,
        &request.time,
        buckets,
        exclusions,
    ))
}
