//! From a transaction log to the (frequency, recency, T, monetary) summary,
//! exactly as the literature builds it (Fader, Hardie & Lee 2005; `lifetimes`'
//! `summary_data_from_transaction_data`): purchases are collapsed per period
//! (a day), the first purchase is not counted, recency runs from the first to
//! the last purchase and T from the first purchase to the end of the
//! observation period, both in the chosen unit (days or weeks).

use std::collections::BTreeMap;

use crate::period::Date;

/// The time unit of recency and T.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// Days.
    Day,
    /// Weeks (7 days).
    Week,
}

impl TimeUnit {
    fn days(self) -> f64 {
        match self {
            TimeUnit::Day => 1.0,
            TimeUnit::Week => 7.0,
        }
    }
}

/// One customer's summary.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerSummary {
    /// Customer id.
    pub customer: String,
    /// Repeat purchase periods (distinct purchase days after the first).
    pub frequency: u32,
    /// Time from first to last purchase.
    pub recency: f64,
    /// Time from first purchase to the end of the observation period.
    pub t: f64,
    /// Mean value of the repeat purchases (0 without any), per period collapsed.
    pub monetary: f64,
}

/// Summarises purchases `(customer, date, amount)` observed until `period_end`
/// (inclusive). Purchases after `period_end` are ignored.
pub fn summarize<'a>(
    purchases: impl IntoIterator<Item = (&'a str, Date, f64)>,
    period_end: Date,
    unit: TimeUnit,
) -> Vec<CustomerSummary> {
    // customer → day → amount spent that day
    let mut by_customer: BTreeMap<&str, BTreeMap<i32, f64>> = BTreeMap::new();
    for (customer, date, amount) in purchases {
        if date > period_end {
            continue;
        }
        *by_customer
            .entry(customer)
            .or_default()
            .entry(date.days())
            .or_insert(0.0) += amount;
    }
    by_customer
        .into_iter()
        .map(|(customer, days)| {
            let first = *days.keys().next().unwrap_or(&0);
            let last = *days.keys().next_back().unwrap_or(&0);
            let repeat: Vec<f64> = days.values().skip(1).copied().collect();
            let frequency = repeat.len() as u32;
            CustomerSummary {
                customer: customer.to_string(),
                frequency,
                recency: f64::from(last - first) / unit.days(),
                t: f64::from(period_end.days() - first) / unit.days(),
                monetary: if frequency > 0 {
                    repeat.iter().sum::<f64>() / f64::from(frequency)
                } else {
                    0.0
                },
            }
        })
        .collect()
}

/// Distinct `(frequency, recency, T)` with how many customers share each: the
/// models' likelihoods are evaluated once per tuple, so fitting cost grows with
/// distinct tuples rather than customers.
pub fn distinct_tuples(summaries: &[CustomerSummary]) -> Vec<((u32, f64, f64), u64)> {
    let mut map: BTreeMap<(u32, u64, u64), u64> = BTreeMap::new();
    for s in summaries {
        *map.entry((s.frequency, s.recency.to_bits(), s.t.to_bits()))
            .or_insert(0) += 1;
    }
    map.into_iter()
        .map(|((x, r, t), n)| ((x, f64::from_bits(r), f64::from_bits(t)), n))
        .collect()
}
