//! The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005, "Counting
//! your customers the easy way"): while alive a customer buys at a Poisson rate
//! λ ~ Gamma(r, α); after each purchase they drop out with probability
//! p ~ Beta(a, b).
//!
//! The likelihood of one customer with x repeat purchases, the last at t_x,
//! observed for T (equation 6 of the paper, on the log scale):
//! ln L = ln Γ(r+x) − ln Γ(r) + r ln α + ln B(a, b+x) − ln B(a, b)
//!        + ln[ (α+T)^{−(r+x)} + 1{x>0} · a/(b+x−1) · (α+t_x)^{−(r+x)} ],
//! the last term by log-sum-exp. Parameters are fitted on their logarithms by
//! Nelder–Mead over the *mean* negative log-likelihood of the distinct tuples
//! (weighted by count); standard errors come from the inverse Hessian of the
//! total log-likelihood at the optimum.

use serde::Serialize;

use crate::stats::distributions::ln_gamma;
use crate::stats::optimize::{hessian, invert, nelder_mead};

/// Fitted BG/NBD parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BgNbd {
    /// Shape of the purchase-rate Gamma.
    pub r: f64,
    /// Scale of the purchase-rate Gamma.
    pub alpha: f64,
    /// Dropout Beta a.
    pub a: f64,
    /// Dropout Beta b.
    pub b: f64,
}

/// A fit: parameters, their standard errors and the log-likelihood.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BgNbdFit {
    /// Parameters.
    #[serde(flatten)]
    pub params: BgNbd,
    /// Standard errors (same order: r, alpha, a, b); `None` if the Hessian is singular.
    pub se: Option<[f64; 4]>,
    /// Total log-likelihood.
    pub log_likelihood: f64,
    /// Customers in the fit.
    pub customers: u64,
}

fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

impl BgNbd {
    /// Log-likelihood of one customer.
    pub fn log_likelihood(&self, x: u32, t_x: f64, t: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let x = f64::from(x);
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
        let a2 = ln_beta(a, b + x) - ln_beta(a, b);
        let a3 = -(r + x) * (alpha + t).ln();
        if x > 0.0 {
            let a4 = a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + t_x).ln();
            let m = a3.max(a4);
            a1 + a2 + m + ((a3 - m).exp() + (a4 - m).exp()).ln()
        } else {
            a1 + a2 + a3
        }
    }

    /// Probability that a customer with this history is still active.
    pub fn probability_alive(&self, x: u32, t_x: f64, t: f64) -> f64 {
        if x == 0 {
            return 1.0;
        }
        let BgNbd { r, alpha, a, b } = *self;
        let x = f64::from(x);
        let log_ratio =
            a.ln() - (b + x - 1.0).ln() + (r + x) * ((alpha + t).ln() - (alpha + t_x).ln());
        1.0 / (1.0 + log_ratio.exp())
    }

    /// Expected purchases in the next `horizon` time units, given the history
    /// (equation 10 of the paper).
    pub fn conditional_expected_purchases(&self, horizon: f64, x: u32, t_x: f64, t: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let xf = f64::from(x);
        let z = horizon / (alpha + t + horizon);
        let hyp = hyp2f1(r + xf, b + xf, a + b + xf - 1.0, z);
        let first = (a + b + xf - 1.0) / (a - 1.0);
        let second = 1.0 - ((alpha + t) / (alpha + t + horizon)).powf(r + xf) * hyp;
        let denominator = if x > 0 {
            1.0 + (a / (b + xf - 1.0)) * ((alpha + t) / (alpha + t_x)).powf(r + xf)
        } else {
            1.0
        };
        first * second / denominator
    }

    /// Fits the model to `(frequency, recency, T)` tuples with customer counts.
    pub fn fit(tuples: &[((u32, f64, f64), u64)]) -> Option<BgNbdFit> {
        let prepared = Prepared::new(tuples);
        let customers = prepared.customers;
        if customers == 0 {
            return None;
        }
        let from_logs = |v: &[f64]| BgNbd {
            r: v[0].exp(),
            alpha: v[1].exp(),
            a: v[2].exp(),
            b: v[3].exp(),
        };
        let objective = |v: &[f64]| {
            let ll = prepared.total(&from_logs(v));
            if ll.is_finite() {
                -ll / customers as f64
            } else {
                f64::INFINITY
            }
        };
        let (best, _) = nelder_mead(&objective, &[0.0, 0.0, 0.0, 0.0], 0.5, 1e-13);
        let params = from_logs(&best);
        let log_likelihood = prepared.total(&params);
        let natural = |v: &[f64]| {
            -prepared.total(&BgNbd {
                r: v[0],
                alpha: v[1],
                a: v[2],
                b: v[3],
            })
        };
        let h = hessian(&natural, &[params.r, params.alpha, params.a, params.b]);
        let se = invert(&h).and_then(|inv| {
            let d = [inv[0][0], inv[1][1], inv[2][2], inv[3][3]];
            d.iter().all(|v| *v > 0.0).then(|| d.map(f64::sqrt))
        });
        Some(BgNbdFit {
            params,
            se,
            log_likelihood,
            customers,
        })
    }
}

/// Tuples arranged so one likelihood evaluation costs two transcendental calls
/// per distinct history: the terms that depend only on x are computed once per
/// distinct x, and ln(α + T), ln(α + t_x) once per distinct T and t_x.
struct Prepared {
    /// `(x, index of t_x, index of T, count)`.
    rows: Vec<(u32, usize, usize, f64)>,
    t_values: Vec<f64>,
    tx_values: Vec<f64>,
    max_x: u32,
    customers: u64,
}

impl Prepared {
    fn new(tuples: &[((u32, f64, f64), u64)]) -> Prepared {
        // Every value is in the list (it was collected from the same tuples).
        fn index(values: &[f64], v: f64) -> usize {
            values
                .binary_search_by(|p| p.total_cmp(&v))
                .unwrap_or_else(|i| i)
        }
        let mut t_values: Vec<f64> = tuples.iter().map(|((_, _, t), _)| *t).collect();
        let mut tx_values: Vec<f64> = tuples.iter().map(|((_, tx, _), _)| *tx).collect();
        for v in [&mut t_values, &mut tx_values] {
            v.sort_by(f64::total_cmp);
            v.dedup();
        }
        let rows = tuples
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|((x, tx, t), n)| (*x, index(&tx_values, *tx), index(&t_values, *t), *n as f64))
            .collect();
        Prepared {
            rows,
            t_values,
            tx_values,
            max_x: tuples.iter().map(|((x, _, _), _)| *x).max().unwrap_or(0),
            customers: tuples.iter().map(|(_, n)| n).sum(),
        }
    }

    /// Total log-likelihood; the same value as summing [`BgNbd::log_likelihood`].
    fn total(&self, m: &BgNbd) -> f64 {
        let BgNbd { r, alpha, a, b } = *m;
        let base = r * alpha.ln() - ln_gamma(r) + ln_gamma(a + b) - ln_gamma(b);
        let by_x: Vec<(f64, f64)> = (0..=self.max_x)
            .map(|x| {
                let x = f64::from(x);
                let c = base + ln_gamma(r + x) + ln_gamma(b + x) - ln_gamma(a + b + x);
                let d = if x > 0.0 {
                    a.ln() - (b + x - 1.0).ln()
                } else {
                    f64::NEG_INFINITY
                };
                (c, d)
            })
            .collect();
        let ln_t: Vec<f64> = self.t_values.iter().map(|t| (alpha + t).ln()).collect();
        let ln_tx: Vec<f64> = self.tx_values.iter().map(|t| (alpha + t).ln()).collect();
        self.rows
            .iter()
            .map(|&(x, txi, ti, n)| {
                let (c, d) = by_x[x as usize];
                let k = r + f64::from(x);
                let a3 = -k * ln_t[ti];
                let ll = if x > 0 {
                    let a4 = d - k * ln_tx[txi];
                    let (hi, lo) = if a3 > a4 { (a3, a4) } else { (a4, a3) };
                    c + hi + (lo - hi).exp().ln_1p()
                } else {
                    c + a3
                };
                n * ll
            })
            .sum()
    }
}

/// The Gauss hypergeometric function ₂F₁(a, b; c; z) for 0 ≤ z < 1 by its
/// power series (terms shrink like zⁿ; summed until they no longer matter).
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 0..1_000_000 {
        let n = f64::from(n);
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        sum += term;
        if term.abs() <= 1e-16 * sum.abs() {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypergeometric_known_values() {
        // ₂F₁(1, 1; 2; z) = −ln(1−z)/z; ₂F₁(a, b; b; z) = (1−z)^(−a).
        let z: f64 = 0.5;
        assert!((hyp2f1(1.0, 1.0, 2.0, z) - (-(1.0 - z).ln() / z)).abs() < 1e-14);
        assert!(
            (hyp2f1(2.5, 3.0, 3.0, 0.95) - 0.05_f64.powf(-2.5)).abs() < 1e-9 * 0.05_f64.powf(-2.5)
        );
        assert_eq!(hyp2f1(1.3, 2.0, 4.0, 0.0), 1.0);
    }

    #[test]
    fn prepared_total_equals_the_sum_of_customer_likelihoods() {
        let m = BgNbd {
            r: 0.3,
            alpha: 5.0,
            a: 0.8,
            b: 2.5,
        };
        let tuples = [
            ((0, 0.0, 38.86), 10),
            ((2, 30.43, 38.86), 3),
            ((1, 1.71, 30.0), 2),
            ((5, 12.0, 20.0), 1),
        ];
        let direct: f64 = tuples
            .iter()
            .map(|((x, tx, t), n)| *n as f64 * m.log_likelihood(*x, *tx, *t))
            .sum();
        let prepared = Prepared::new(&tuples).total(&m);
        assert!(
            (direct - prepared).abs() < 1e-9 * direct.abs(),
            "{direct} vs {prepared}"
        );
    }

    #[test]
    fn paper_prediction_for_one_customer() {
        // Fader, Hardie & Lee (2005), section 5: x = 2, t_x = 30.43, T = 38.86
        // expects 1.226 purchases in the next 39 weeks under the published fit.
        let m = BgNbd {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        };
        let e = m.conditional_expected_purchases(39.0, 2, 30.43, 38.86);
        assert!((e - 1.226).abs() < 5e-4, "{e}");
        assert_eq!(m.probability_alive(0, 0.0, 38.86), 1.0);
        let p = m.probability_alive(2, 30.43, 38.86);
        assert!(p > 0.0 && p < 1.0);
    }
}

/// Discounted customer lifetime value from BG/NBD purchases and an expected
/// value per purchase: the horizon is cut into `steps` equal steps of
/// `horizon / steps` time units; each step's expected purchases
/// (E[Y(k)] − E[Y(k−1)]) times `value_per_purchase` is discounted at
/// `discount_per_step` for k steps (the form `lifetimes` uses).
pub fn discounted_clv(
    model: &BgNbd,
    history: (u32, f64, f64),
    value_per_purchase: f64,
    horizon: f64,
    steps: u32,
    discount_per_step: f64,
) -> f64 {
    let (x, t_x, t) = history;
    let step = horizon / f64::from(steps.max(1));
    let mut previous = 0.0;
    let mut total = 0.0;
    for k in 1..=steps.max(1) {
        let expected = model.conditional_expected_purchases(step * f64::from(k), x, t_x, t);
        total +=
            (expected - previous) * value_per_purchase / (1.0 + discount_per_step).powi(k as i32);
        previous = expected;
    }
    total
}

#[cfg(test)]
mod clv_tests {
    use super::*;

    #[test]
    fn undiscounted_clv_is_expected_purchases_times_value() {
        let m = BgNbd {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        };
        let e = m.conditional_expected_purchases(52.0, 2, 30.43, 38.86);
        let clv = discounted_clv(&m, (2, 30.43, 38.86), 40.0, 52.0, 12, 0.0);
        assert!((clv - 40.0 * e).abs() < 1e-9);
        let discounted = discounted_clv(&m, (2, 30.43, 38.86), 40.0, 52.0, 12, 0.01);
        assert!(discounted < clv && discounted > 0.8 * clv);
    }
}
