//! Survey metrics from the database by push-down: the store returns counts per
//! score value, per group and day (and pair sums for the CSI); this module
//! assigns days to periods with the same [`TimeFilter`] the file scanner uses
//! and hands `cx-core` the same accumulators, so a database gives exactly the
//! figures a file gives.

use std::collections::HashMap;

use cx_core::period::{Bucket, Date, TimeFilter};
use cx_core::survey::group::{GroupAccumulator, MetricsSpec, SlotKind};
use cx_core::survey::report::{BucketStats, MetricsReport, build_report};

use crate::{ResponseSlice, Store, StoreError};

/// A metrics question over one survey's stored responses.
#[derive(Debug, Clone)]
pub struct SurveyMetricsRequest {
    /// What to compute; slots follow [`MetricsSpec::slots`].
    pub spec: MetricsSpec,
    /// The question id feeding each slot.
    pub slot_questions: Vec<String>,
    /// Which responses, grouped how.
    pub slice: ResponseSlice,
    /// Periods, window and comparison (dates are the responses' submission dates).
    pub time: TimeFilter,
}

/// Computes the report for `request` with the store doing the counting.
pub async fn survey_metrics<S: Store>(
    store: &S,
    request: &SurveyMetricsRequest,
) -> Result<MetricsReport, StoreError> {
    let spec = &request.spec;
    let slots = spec.slots();
    let mut groups: HashMap<(Vec<String>, Bucket), GroupAccumulator> = HashMap::new();
    let bucket_of = |day: i32| -> Option<Bucket> {
        if request.time.needs_dates() {
            request.time.bucket(Date::from_days(day))
        } else {
            Some(Bucket::ALL)
        }
    };
    for r in store.day_rows(&request.slice).await? {
        if let Some(b) = bucket_of(r.day) {
            groups
                .entry((r.key, b))
                .or_insert_with(|| GroupAccumulator::new(spec))
                .add_rows(r.count);
        }
    }
    for (slot, question) in slots.iter().zip(&request.slot_questions) {
        for s in store.day_scores(&request.slice, question).await? {
            let Some(b) = bucket_of(s.day) else { continue };
            let acc = groups
                .entry((s.key, b))
                .or_insert_with(|| GroupAccumulator::new(spec));
            match slot.kind {
                SlotKind::Nps => acc
                    .nps_mut()
                    .map(|m| m.counts_mut().add_count(s.value, s.count)),
                SlotKind::Csat => acc
                    .csat_mut()
                    .map(|m| m.counts_mut().add_count(s.value, s.count)),
                SlotKind::Ces => acc.ces_mut().map(|m| m.add_count(s.value, s.count)),
                SlotKind::Dim(i) => {
                    Some(acc.dims_mut()[i].counts_mut().add_count(s.value, s.count))
                }
            };
        }
    }
    // Pair sums between dimensions, for the CSI interval.
    let dims: Vec<(usize, &String)> = slots
        .iter()
        .zip(&request.slot_questions)
        .filter_map(|(s, q)| match s.kind {
            SlotKind::Dim(i) => Some((i, q)),
            _ => None,
        })
        .collect();
    if dims.len() > 1 {
        for (a, (i, qi)) in dims.iter().enumerate() {
            for (j, qj) in &dims[a + 1..] {
                for p in store.day_pairs(&request.slice, qi, qj).await? {
                    let Some(b) = bucket_of(p.day) else { continue };
                    let acc = groups
                        .entry((p.key, b))
                        .or_insert_with(|| GroupAccumulator::new(spec));
                    acc.pairs_mut()
                        .add_pair(*i, *j, p.n, p.sum_x, p.sum_y, p.sum_xy);
                }
            }
        }
    }
    let buckets = groups
        .into_iter()
        .map(|((key, bucket), stats)| BucketStats { key, bucket, stats })
        .collect();
    Ok(build_report(
        spec,
        &request.slice.by,
        &request.time,
        buckets,
        Vec::new(),
    ))
}
