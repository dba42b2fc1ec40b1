//! RFM: recency, frequency and monetary value per customer, each scored 1–5 by
//! quintile (5 = most recent, most frequent, highest spend), and the named
//! segments marketers use, in Chinese and English.

use std::collections::BTreeMap;

use serde::Serialize;

use super::activity::Purchase;
use crate::period::Date;

/// One customer's RFM.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rfm {
    /// Customer.
    pub customer: String,
    /// Days since the last purchase, as of the analysis date.
    pub recency_days: i32,
    /// Purchases.
    pub frequency: u64,
    /// Total spend.
    pub monetary: f64,
    /// Scores 1–5.
    pub r: u8,
    /// Frequency score.
    pub f: u8,
    /// Monetary score.
    pub m: u8,
    /// Segment id (`champions`, `loyal`, …).
    pub segment: &'static str,
    /// Segment name in Chinese.
    pub segment_zh: &'static str,
}

/// Segment `(id, 中文)` from R and F scores (the common 11-segment grid).
pub fn segment(r: u8, f: u8) -> (&'static str, &'static str) {
    match (r, f) {
        (4..=5, 4..=5) => ("champions", "冠军客户"),
        (3, 4..=5) => ("loyal", "忠诚客户"),
        (4..=5, 2..=3) => ("potential_loyalist", "潜力客户"),
        (5, 1) => ("new", "新客户"),
        (4, 1) => ("promising", "有潜力的新客"),
        (3, 3) => ("need_attention", "需要关注"),
        (3, 1..=2) => ("about_to_sleep", "即将沉睡"),
        (1, 5) => ("cant_lose", "不能失去"),
        (1..=2, 3..=5) => ("at_risk", "有流失风险"),
        (2, 1..=2) => ("hibernating", "休眠客户"),
        _ => ("lost", "已流失"),
    }
}

/// Quintile score 1–5 of each value by its mid-rank:
/// 1 + ⌊5 · (values below + values equal / 2) / n⌋. Ties share a score, and a
/// value shared by everybody (or a lone customer) scores 3, not the bottom.
///
/// One sort of (value, position) pairs, then one walk over its runs of equal
/// values: a binary search per customer into a million sorted values was a
/// cache miss per step.
fn quintiles(values: &[f64]) -> Vec<u8> {
    let mut order: Vec<(f64, u32)> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (*v, i as u32))
        .collect();
    order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let n = values.len().max(1) as f64;
    let mut out = vec![0u8; values.len()];
    let mut below = 0;
    while below < order.len() {
        let v = order[below].0;
        // Equal as `<=` sees it (so −0 and 0 are one run).
        let mut end = below + 1;
        while end < order.len() && order[end].0 <= v {
            end += 1;
        }
        let equal = end - below;
        let mid = below as f64 + equal as f64 / 2.0;
        let score = (1.0 + (5.0 * mid / n).floor()).min(5.0) as u8;
        for &(_, i) in &order[below..below + equal] {
            out[i as usize] = score;
        }
        below += equal;
    }
    out
}

/// One customer's purchase totals: last purchase day, purchases, spend.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerTotals {
    /// Customer.
    pub customer: String,
    /// Date of the last purchase.
    pub last: Date,
    /// Purchases.
    pub orders: u64,
    /// Total spend.
    pub spend: f64,
}

/// RFM for every customer with a purchase on or before `as_of`.
pub fn rfm(purchases: &[Purchase], as_of: Date) -> Vec<Rfm> {
    let mut per: BTreeMap<&str, (Date, u64, f64)> = BTreeMap::new();
    for p in purchases.iter().filter(|p| p.date <= as_of) {
        let e = per.entry(&p.customer).or_insert((p.date, 0, 0.0));
        e.0 = e.0.max(p.date);
        e.1 += 1;
        e.2 += p.amount;
    }
    let totals: Vec<CustomerTotals> = per
        .into_iter()
        .map(|(c, (last, orders, spend))| CustomerTotals {
            customer: c.to_string(),
            last,
            orders,
            spend,
        })
        .collect();
    rfm_from_totals(totals, as_of)
}

/// RFM from per-customer totals (what a streaming scan or a database
/// returns). Takes them, so the ids move into the result instead of being
/// copied (a million allocations on a million customers).
pub fn rfm_from_totals(totals: Vec<CustomerTotals>, as_of: Date) -> Vec<Rfm> {
    // More recent is better: score the negated recency. The three scores are
    // independent sorts, one per core.
    let recency = || {
        quintiles(
            &totals
                .iter()
                .map(|t| -f64::from(as_of.days() - t.last.days()))
                .collect::<Vec<_>>(),
        )
    };
    let frequency = || quintiles(&totals.iter().map(|t| t.orders as f64).collect::<Vec<_>>());
    let monetary = || quintiles(&totals.iter().map(|t| t.spend).collect::<Vec<_>>());
    let (r, f, m) = if totals.len() < 100_000 {
        (recency(), frequency(), monetary())
    } else {
        std::thread::scope(|scope| {
            let f = scope.spawn(frequency);
            let m = scope.spawn(monetary);
            let r = recency();
            (
                r,
                f.join().expect("a quintile thread panicked"),
                m.join().expect("a quintile thread panicked"),
            )
        })
    };
    totals
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let (segment, segment_zh) = segment(r[i], f[i]);
            Rfm {
                customer: t.customer,
                recency_days: as_of.days() - t.last.days(),
                frequency: t.orders,
                monetary: t.spend,
                r: r[i],
                f: f[i],
                m: m[i],
                segment,
                segment_zh,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quintile_scores() {
        assert_eq!(quintiles(&[1.0, 2.0, 3.0, 4.0, 5.0]), vec![1, 2, 3, 4, 5]);
        assert_eq!(quintiles(&[7.0, 7.0, 7.0]), vec![3, 3, 3]);
        assert_eq!(quintiles(&[7.0]), vec![3]);
        assert_eq!(
            quintiles(&(0..10).map(f64::from).collect::<Vec<_>>()),
            vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
        );
    }

    #[test]
    fn quintiles_equal_the_mid_rank_definition() {
        // The definition, by counting, on values with many ties.
        let values: Vec<f64> = (0..2_000u64)
            .map(|i| ((i * 7919) % 97) as f64 / 4.0 - 3.0)
            .collect();
        let n = values.len() as f64;
        let want: Vec<u8> = values
            .iter()
            .map(|v| {
                let below = values.iter().filter(|x| *x < v).count() as f64;
                let equal = values.iter().filter(|x| *x == v).count() as f64;
                (1.0 + (5.0 * (below + equal / 2.0) / n).floor()).min(5.0) as u8
            })
            .collect();
        assert_eq!(quintiles(&values), want);
        assert_eq!(quintiles(&[4.0; 7]), vec![3; 7]);
        assert_eq!(quintiles(&[-0.0, 0.0]), vec![3, 3]);
        assert!(quintiles(&[]).is_empty());
    }

    #[test]
    fn segments_from_scores() {
        assert_eq!(segment(5, 5).0, "champions");
        assert_eq!(segment(5, 1).0, "new");
        assert_eq!(segment(1, 5).0, "cant_lose");
        assert_eq!(segment(2, 4).0, "at_risk");
        assert_eq!(segment(1, 1), ("lost", "已流失"));
        assert_eq!(segment(2, 2).0, "hibernating");
        assert_eq!(segment(3, 5).0, "loyal");
    }

    #[test]
    fn rfm_of_a_small_log() {
        let d = |m: u32| Date::from_ymd(2026, m, 1).expect("valid");
        let p = |c: &str, m: u32, a: f64| Purchase {
            customer: c.into(),
            date: d(m),
            amount: a,
        };
        let mut log = Vec::new();
        for m in 1..=6 {
            log.push(p("best", m, 500.0));
        }
        log.push(p("gone", 1, 20.0));
        log.push(p("fresh", 6, 50.0));
        for (i, c) in ["a", "b", "c", "e", "f", "g", "h"].iter().enumerate() {
            log.push(p(c, 2 + (i as u32 % 4), 100.0));
            log.push(p(c, 3, 80.0));
        }
        let out = rfm(&log, d(7));
        let best = out.iter().find(|x| x.customer == "best").expect("best");
        assert_eq!(
            (best.r, best.f, best.m, best.segment),
            (5, 5, 5, "champions")
        );
        let gone = out.iter().find(|x| x.customer == "gone").expect("gone");
        assert_eq!((gone.recency_days, gone.segment), (181, "lost"));
        assert_eq!(
            out.iter()
                .find(|x| x.customer == "fresh")
                .map(|x| x.segment),
            Some("new")
        );
    }
}
