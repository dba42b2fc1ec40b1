//! Retention, churn, repeat purchase, sales growth, average order value and
//! purchase frequency (SPEC §1).
//!
//! Retention for a period [start, end] is `100·(E − N)/S`: S customers active at
//! the start, E active at the end, N acquired during the period. "Active" comes
//! from account lifecycle dates (customer since / lost on) when they exist, or
//! else from purchases within a trailing window (default 365 days).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::period::{Date, Interval, Period};
use crate::stats::{Interval as Ci, wilson_interval};

/// A purchase: customer, date, amount (major units).
#[derive(Debug, Clone, PartialEq)]
pub struct Purchase {
    /// Customer code.
    pub customer: String,
    /// Date.
    pub date: Date,
    /// Amount.
    pub amount: f64,
}

/// Retention figures for one period (and slice).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retention {
    /// Customers active at the start (S).
    pub start_customers: u64,
    /// Customers active at the end (E).
    pub end_customers: u64,
    /// Customers active at the end but not at the start: acquired or won back
    /// during the period (N).
    pub new_customers: u64,
    /// `100·(E − N)/S`; absent when S = 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_pct: Option<f64>,
    /// `100 − retention`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub churn_pct: Option<f64>,
    /// How "active" was decided: `lifecycle` or `activity_window_365d`.
    pub basis: String,
}

fn retention_figures(s: u64, e: u64, n: u64, basis: String) -> Retention {
    let retention_pct = (s > 0).then(|| 100.0 * (e as f64 - n as f64) / s as f64);
    Retention {
        start_customers: s,
        end_customers: e,
        new_customers: n,
        retention_pct,
        churn_pct: retention_pct.map(|r| 100.0 - r),
        basis,
    }
}

/// What is known about one customer's activity.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerActivity {
    /// Lifecycle dates (customer since, lost on), when the CRM has them.
    pub lifecycle: Option<(Date, Option<Date>)>,
    /// Purchase days (days since 1970-01-01).
    pub purchase_days: Vec<i32>,
}

impl CustomerActivity {
    /// Active on `day`: by lifecycle dates when known, else a purchase within
    /// the trailing window.
    fn active(&self, day: Date, window_days: i32) -> bool {
        match self.lifecycle {
            Some((since, until)) => since <= day && until.is_none_or(|u| u > day),
            None => self
                .purchase_days
                .iter()
                .any(|&x| x <= day.days() && x > day.days() - window_days),
        }
    }
}

/// Retention over customers whose activity comes from lifecycle dates, from
/// purchases, or a mix (each customer by what is known about them).
///
/// N counts customers active at the end who were not active at the start —
/// acquired, or won back, during the period — so E − N is exactly the
/// customers kept from S and retention stays within 0…100.
pub fn retention(
    customers: &[CustomerActivity],
    start: Date,
    end: Date,
    window_days: i32,
) -> Retention {
    let (mut s, mut e, mut n) = (0, 0, 0);
    for c in customers {
        let (at_start, at_end) = (c.active(start, window_days), c.active(end, window_days));
        s += u64::from(at_start);
        e += u64::from(at_end);
        n += u64::from(at_end && !at_start);
    }
    let with_dates = customers.iter().filter(|c| c.lifecycle.is_some()).count();
    let basis = match (with_dates, customers.len() - with_dates) {
        (_, 0) if with_dates > 0 => "lifecycle".to_string(),
        (0, _) => format!("activity_window_{window_days}d"),
        _ => format!("lifecycle+activity_window_{window_days}d"),
    };
    retention_figures(s, e, n, basis)
}

/// Retention from lifecycle dates `(since, lost on)` alone.
pub fn retention_from_lifecycle(
    customers: &[(Date, Option<Date>)],
    start: Date,
    end: Date,
) -> Retention {
    let all: Vec<CustomerActivity> = customers
        .iter()
        .map(|c| CustomerActivity {
            lifecycle: Some(*c),
            purchase_days: Vec::new(),
        })
        .collect();
    retention(&all, start, end, 365)
}

/// Retention from purchases alone: active on day d with a purchase in (d − window, d].
pub fn retention_from_purchases(
    purchases: &[Purchase],
    start: Date,
    end: Date,
    window_days: i32,
) -> Retention {
    let mut days: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for p in purchases {
        days.entry(&p.customer).or_default().push(p.date.days());
    }
    let all: Vec<CustomerActivity> = days
        .into_values()
        .map(|purchase_days| CustomerActivity {
            lifecycle: None,
            purchase_days,
        })
        .collect();
    retention(&all, start, end, window_days)
}

/// Repeat purchase rate: customers with two or more purchases among those with one or more.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepeatRate {
    /// Customers with at least one purchase.
    pub n: u64,
    /// Customers with at least two.
    pub repeat_customers: u64,
    /// Percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_pct: Option<f64>,
    /// Wilson 95% interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci95: Option<Ci>,
    /// Average order value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_order_value: Option<f64>,
    /// Orders per customer in the period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orders_per_customer: Option<f64>,
    /// n < 30.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub small_sample: bool,
}

/// Repeat purchase rate, average order value and frequency of `purchases`.
pub fn repeat_rate(purchases: &[Purchase]) -> RepeatRate {
    let mut orders: BTreeMap<&str, u64> = BTreeMap::new();
    let mut total = 0.0;
    for p in purchases {
        *orders.entry(&p.customer).or_insert(0) += 1;
        total += p.amount;
    }
    let n = orders.len() as u64;
    let repeat = orders.values().filter(|c| **c >= 2).count() as u64;
    let count = purchases.len() as f64;
    RepeatRate {
        n,
        repeat_customers: repeat,
        repeat_pct: (n > 0).then(|| 100.0 * repeat as f64 / n as f64),
        ci95: wilson_interval(repeat, n).map(|i| i.scaled(100.0)),
        average_order_value: (count > 0.0).then(|| total / count),
        orders_per_customer: (n > 0).then(|| count / n as f64),
        small_sample: n > 0 && n < 30,
    }
}

/// Sales in one period and the growth against the one before.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodSales {
    /// Period label.
    pub period: String,
    /// Sum of amounts.
    pub sales: f64,
    /// Orders.
    pub orders: u64,
    /// Buying customers.
    pub customers: u64,
    /// `100·(current − previous)/previous`, when the previous period had sales.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub growth_pct: Option<f64>,
}

/// Sales per period, chronologically, with growth against the previous period.
pub fn sales_growth(purchases: &[Purchase], interval: Interval) -> Vec<PeriodSales> {
    let mut periods: BTreeMap<Period, (f64, u64, std::collections::BTreeSet<&str>)> =
        BTreeMap::new();
    for p in purchases {
        let e = periods.entry(Period::of(p.date, interval)).or_default();
        e.0 += p.amount;
        e.1 += 1;
        e.2.insert(&p.customer);
    }
    let sales: BTreeMap<Period, f64> = periods.iter().map(|(k, v)| (*k, v.0)).collect();
    periods
        .iter()
        .map(|(period, (total, orders, customers))| PeriodSales {
            period: period.to_string(),
            sales: *total,
            orders: *orders,
            customers: customers.len() as u64,
            growth_pct: sales
                .get(&period.previous())
                .filter(|prev| **prev != 0.0)
                .map(|prev| 100.0 * (total - prev) / prev),
        })
        .collect()
}

/// Customer lifetime value by the simple formula (SPEC §1): average purchase
/// value × purchases per year × expected lifespan in years, times the margin;
/// with a discount rate d the lifespan's years are discounted as an annuity,
/// Σ_{k=1..L} 1/(1+d)^k = (1 − (1+d)^−L)/d.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FormulaClv {
    /// Average purchase value.
    pub average_purchase: f64,
    /// Purchases per customer per year.
    pub purchases_per_year: f64,
    /// Expected lifespan in years.
    pub lifespan_years: f64,
    /// Margin applied (1 = revenue).
    pub margin: f64,
    /// Annual discount rate.
    pub discount_rate: f64,
    /// The CLV.
    pub clv: f64,
}

/// CLV by formula; `lifespan_years` defaults to 1 / annual churn when given as `None`.
pub fn clv_formula(
    average_purchase: f64,
    purchases_per_year: f64,
    lifespan_years: f64,
    margin: f64,
    discount_rate: f64,
) -> FormulaClv {
    let annual = average_purchase * purchases_per_year * margin;
    let years = if discount_rate > 0.0 {
        (1.0 - (1.0 + discount_rate).powf(-lifespan_years)) / discount_rate
    } else {
        lifespan_years
    };
    FormulaClv {
        average_purchase,
        purchases_per_year,
        lifespan_years,
        margin,
        discount_rate,
        clv: annual * years,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Date {
        Date::from_ymd(y, m, day).expect("valid")
    }

    #[test]
    fn retention_by_lifecycle_hand_computed() {
        // 10 customers at the start, 2 of them lost, 3 new: E = 11, retention = (11 − 3)/10 = 80%.
        let mut c: Vec<(Date, Option<Date>)> = (0..8).map(|_| (d(2024, 1, 1), None)).collect();
        c.push((d(2024, 1, 1), Some(d(2025, 6, 1))));
        c.push((d(2024, 1, 1), Some(d(2025, 9, 1))));
        c.extend((0..3).map(|_| (d(2025, 3, 1), None)));
        c.push((d(2026, 2, 1), None)); // after the period
        let r = retention_from_lifecycle(&c, d(2025, 1, 1), d(2025, 12, 31));
        assert_eq!(
            (r.start_customers, r.end_customers, r.new_customers),
            (10, 11, 3)
        );
        assert_eq!(r.retention_pct, Some(80.0));
        assert_eq!(r.churn_pct, Some(20.0));
    }

    #[test]
    fn retention_by_activity_window() {
        let p = |c: &str, date: Date| Purchase {
            customer: c.into(),
            date,
            amount: 1.0,
        };
        let purchases = vec![
            p("A", d(2024, 6, 1)),
            p("A", d(2025, 11, 1)), // active at both ends
            p("B", d(2024, 12, 1)), // active at start only
            p("C", d(2025, 4, 1)),  // new, active at end
        ];
        let r = retention_from_purchases(&purchases, d(2025, 1, 1), d(2025, 12, 31), 365);
        assert_eq!(
            (r.start_customers, r.end_customers, r.new_customers),
            (2, 2, 1)
        );
        assert_eq!(r.retention_pct, Some(50.0));
        assert_eq!(r.basis, "activity_window_365d");
    }

    #[test]
    fn returning_customers_do_not_push_retention_past_100() {
        let p = |c: &str, date: Date| Purchase {
            customer: c.into(),
            date,
            amount: 1.0,
        };
        // C1 returns after a gap, C2 leaves, C3 returns: S = 1 (C2), E = 2, N = 2.
        let purchases = vec![
            p("C1", d(2023, 1, 10)),
            p("C1", d(2025, 6, 10)),
            p("C2", d(2024, 6, 10)),
            p("C3", d(2023, 2, 1)),
            p("C3", d(2025, 7, 1)),
        ];
        let r = retention_from_purchases(&purchases, d(2025, 1, 1), d(2025, 12, 31), 365);
        assert_eq!(
            (r.start_customers, r.end_customers, r.new_customers),
            (1, 2, 2)
        );
        assert_eq!(r.retention_pct, Some(0.0));
        // A mix: one customer with lifecycle dates, one known by purchases only.
        let mixed = [
            CustomerActivity {
                lifecycle: Some((d(2020, 1, 1), None)),
                purchase_days: vec![],
            },
            CustomerActivity {
                lifecycle: None,
                purchase_days: vec![d(2024, 12, 1).days()],
            },
        ];
        let r = retention(&mixed, d(2025, 1, 1), d(2025, 12, 31), 365);
        assert_eq!(
            (r.start_customers, r.end_customers, r.retention_pct),
            (2, 1, Some(50.0))
        );
        assert_eq!(r.basis, "lifecycle+activity_window_365d");
    }

    #[test]
    fn repeat_growth_and_clv() {
        let p = |c: &str, m: u32, amount: f64| Purchase {
            customer: c.into(),
            date: d(2025, m, 10),
            amount,
        };
        let purchases = vec![
            p("A", 1, 100.0),
            p("A", 2, 50.0),
            p("B", 2, 150.0),
            p("C", 4, 300.0),
            p("C", 5, 100.0),
        ];
        let r = repeat_rate(&purchases);
        assert_eq!((r.n, r.repeat_customers), (3, 2));
        assert!((r.repeat_pct.expect("rate") - 200.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.average_order_value, Some(140.0));
        let g = sales_growth(&purchases, Interval::Quarter);
        assert_eq!(g.len(), 2);
        assert_eq!(
            (g[0].period.as_str(), g[0].sales, g[0].growth_pct),
            ("2025-Q1", 300.0, None)
        );
        assert_eq!((g[1].sales, g[1].growth_pct), (400.0, Some(100.0 / 3.0)));
        let clv = clv_formula(200.0, 4.0, 5.0, 0.3, 0.0);
        assert!((clv.clv - 1200.0).abs() < 1e-9);
        // Discounted at 10%: 240 a year for 5 years = 240 × 3.7907868 = 909.79.
        let clv = clv_formula(200.0, 4.0, 5.0, 0.3, 0.1);
        assert!((clv.clv - 909.788_824_658).abs() < 1e-6, "{}", clv.clv);
    }
}
