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
//! damped Newton over the *mean* negative log-likelihood of the distinct tuples
//! (weighted by count), with the gradient and Hessian in closed form (the
//! Nelder–Mead simplex is the fallback); standard errors come from the inverse
//! of the analytic Hessian of the total log-likelihood at the optimum.

use std::collections::HashMap;

use serde::Serialize;

use crate::stats::distributions::ln_gamma;
use crate::stats::optimize::{damped_newton, mean_nll_on_logs, nelder_mead, standard_errors};

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
        let n = customers as f64;
        let curvature = |v: &[f64]| {
            let m = from_logs(v);
            let theta = [m.r, m.alpha, m.a, m.b];
            let s = prepared.curvature(&m);
            Some(mean_nll_on_logs(&theta, s.ll, &s.g, &s.h, n))
        };
        // With many distinct histories, start from the fit to an evenly spaced
        // sample of them (weights kept): the full data then needs only the
        // last few Newton steps.
        let start = (prepared.rows.len() >= 4 * SAMPLE)
            .then(|| {
                let stride = tuples.len() / SAMPLE;
                let sample: Vec<_> = tuples.iter().step_by(stride).copied().collect();
                BgNbd::fit(&sample)
            })
            .flatten()
            .map_or([0.0; 4], |f| {
                let p = f.params;
                [p.r.ln(), p.alpha.ln(), p.a.ln(), p.b.ln()]
            });
        let newton = damped_newton(&curvature, &start, 1e-10, 2.0)
            .map(|(v, _)| v)
            .filter(|v| v.iter().all(|p| p.abs() < 700.0));
        let best = newton.unwrap_or_else(|| {
            // Derivative-free, for a likelihood too flat or too rough for Newton.
            let objective = |v: &[f64]| {
                let ll = prepared.total(&from_logs(v));
                if ll.is_finite() {
                    -ll / n
                } else {
                    f64::INFINITY
                }
            };
            nelder_mead(&objective, &[0.0; 4], 0.5, 1e-13).0
        });
        let params = from_logs(&best);
        let at = prepared.curvature(&params);
        let log_likelihood = at.ll;
        let se = standard_errors(&at.h);
        Some(BgNbdFit {
            params,
            se,
            log_likelihood,
            customers,
        })
    }
}

/// Sums over customers: the total log-likelihood, its gradient and its
/// Hessian in the natural parameters (r, α, a, b).
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    ll: f64,
    g: [f64; 4],
    h: [[f64; 4]; 4],
}

impl Sums {
    fn add(mut self, o: Sums) -> Sums {
        self.ll += o.ll;
        for i in 0..4 {
            self.g[i] += o.g[i];
            for j in 0..4 {
                self.h[i][j] += o.h[i][j];
            }
        }
        self
    }
}

/// Distinct histories in the sample whose fit is the starting point for a large fit.
const SAMPLE: usize = 5_000;

/// Below this many rows one likelihood evaluation is not worth a second thread.
const PARALLEL_ROWS: usize = 16_384;

/// Tuples arranged so one evaluation of the likelihood with its derivatives
/// costs one `exp` and one `ln_1p` per distinct history: the terms in x alone
/// are computed once per x (by the recurrence Γ(y+1) = yΓ(y), so without a
/// single log-gamma), ln(α + T) and 1/(α + T) once per distinct T and t_x, and
/// the customers without repeat purchases, whose likelihood depends on T
/// alone, are summed per T.
struct Prepared {
    /// `(x, index of t_x, index of T, count)` of customers with x > 0.
    rows: Vec<(u32, u32, u32, f64)>,
    /// `(index of T, count)` of customers with x = 0.
    zeros: Vec<(u32, f64)>,
    /// Customers per x.
    per_x: Vec<f64>,
    t_values: Vec<f64>,
    tx_values: Vec<f64>,
    customers: u64,
}

impl Prepared {
    fn new(tuples: &[((u32, f64, f64), u64)]) -> Prepared {
        /// The distinct values, sorted, and each tuple's index among them:
        /// deduplicated by hash first, as a few hundred distinct times serve
        /// a hundred thousand histories.
        fn indexed(values: impl Iterator<Item = f64>) -> (Vec<f64>, Vec<u32>) {
            let mut seen: HashMap<u64, u32> = HashMap::new();
            let raw: Vec<u32> = values
                .map(|v| {
                    let next = seen.len() as u32;
                    *seen.entry(v.to_bits()).or_insert(next)
                })
                .collect();
            let mut distinct: Vec<(f64, u32)> = seen
                .into_iter()
                .map(|(b, i)| (f64::from_bits(b), i))
                .collect();
            distinct.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut rank = vec![0u32; distinct.len()];
            for (r, (_, i)) in distinct.iter().enumerate() {
                rank[*i as usize] = r as u32;
            }
            (
                distinct.into_iter().map(|(v, _)| v).collect(),
                raw.into_iter().map(|i| rank[i as usize]).collect(),
            )
        }
        let tuples: Vec<_> = tuples.iter().filter(|(_, n)| *n > 0).collect();
        let (t_values, t_index) = indexed(tuples.iter().map(|((_, _, t), _)| *t));
        let (tx_values, tx_index) = indexed(tuples.iter().map(|((_, tx, _), _)| *tx));
        let max_x = tuples.iter().map(|((x, _, _), _)| *x).max().unwrap_or(0);
        let mut per_x = vec![0.0; max_x as usize + 1];
        let mut zero_counts = vec![0.0; t_values.len()];
        let mut rows = Vec::new();
        for (i, ((x, _, _), n)) in tuples.iter().enumerate() {
            let n = *n as f64;
            per_x[*x as usize] += n;
            if *x == 0 {
                zero_counts[t_index[i] as usize] += n;
            } else {
                rows.push((*x, tx_index[i], t_index[i], n));
            }
        }
        let zeros = zero_counts
            .into_iter()
            .enumerate()
            .filter(|(_, n)| *n > 0.0)
            .map(|(i, n)| (i as u32, n))
            .collect();
        Prepared {
            rows,
            zeros,
            per_x,
            t_values,
            tx_values,
            customers: tuples.iter().map(|(_, n)| n).sum(),
        }
    }

    /// Total log-likelihood; the same value as summing [`BgNbd::log_likelihood`].
    fn total(&self, m: &BgNbd) -> f64 {
        self.curvature(m).ll
    }

    /// Total log-likelihood with its gradient and Hessian.
    fn curvature(&self, m: &BgNbd) -> Sums {
        let BgNbd { r, alpha, a, b } = *m;
        let mut out = Sums::default();
        // The terms in x alone: with Σ over k < x,
        // c(x) = r ln α + Σ [ln(r+k) + ln(b+k) − ln(a+b+k)].
        let (mut lg, mut dr, mut db, mut dab, mut d2r, mut d2b, mut d2ab) =
            (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        let ln_alpha = alpha.ln();
        // (ln(a / (b+x−1)), 1/(b+x−1)) per x ≥ 1.
        let mut by_x = vec![(0.0, 0.0); self.per_x.len()];
        for (x, &n) in self.per_x.iter().enumerate() {
            if x > 0 {
                let k = (x - 1) as f64;
                lg += (r + k).ln() + (b + k).ln() - (a + b + k).ln();
                dr += 1.0 / (r + k);
                db += 1.0 / (b + k);
                dab += 1.0 / (a + b + k);
                d2r += 1.0 / ((r + k) * (r + k));
                d2b += 1.0 / ((b + k) * (b + k));
                d2ab += 1.0 / ((a + b + k) * (a + b + k));
                let inv = 1.0 / (b + k);
                by_x[x] = (a.ln() + inv.ln(), inv);
            }
            if n == 0.0 {
                continue;
            }
            out.ll += n * (r * ln_alpha + lg);
            out.g[0] += n * (ln_alpha + dr);
            out.g[1] += n * r / alpha;
            out.g[2] -= n * dab;
            out.g[3] += n * (db - dab);
            out.h[0][0] -= n * d2r;
            out.h[0][1] += n / alpha;
            out.h[1][1] -= n * r / (alpha * alpha);
            out.h[2][2] += n * d2ab;
            out.h[2][3] += n * d2ab;
            out.h[3][3] += n * (d2ab - d2b);
        }
        let ln_t: Vec<(f64, f64)> = self
            .t_values
            .iter()
            .map(|t| ((alpha + t).ln(), 1.0 / (alpha + t)))
            .collect();
        let ln_tx: Vec<(f64, f64)> = self
            .tx_values
            .iter()
            .map(|t| ((alpha + t).ln(), 1.0 / (alpha + t)))
            .collect();
        for &(ti, n) in &self.zeros {
            let (lt, it) = ln_t[ti as usize];
            out.ll -= n * r * lt;
            out.g[0] -= n * lt;
            out.g[1] -= n * r * it;
            out.h[0][1] -= n * it;
            out.h[1][1] += n * r * it * it;
        }
        // ln[(α+T)^−k + a/(b+x−1)·(α+t_x)^−k] with k = r + x, by the
        // weights w3, w4 of its two terms.
        let chunk = |rows: &[(u32, u32, u32, f64)]| -> Sums {
            let mut s = Sums::default();
            let inv_a = 1.0 / a;
            for &(x, txi, ti, n) in rows {
                let (lt, it) = ln_t[ti as usize];
                let (lx, ix) = ln_tx[txi as usize];
                let (d, bx) = by_x[x as usize];
                let k = r + f64::from(x);
                let a3 = -k * lt;
                let a4 = d - k * lx;
                let (hi, diff) = if a3 >= a4 {
                    (a3, a4 - a3)
                } else {
                    (a4, a3 - a4)
                };
                let e = diff.exp();
                let share = e / (1.0 + e);
                let w4 = if a3 >= a4 { share } else { 1.0 - share };
                let w3 = 1.0 - w4;
                s.ll += n * (hi + e.ln_1p());
                s.g[0] -= n * (w3 * lt + w4 * lx);
                s.g[1] -= n * k * (w3 * it + w4 * ix);
                s.g[2] += n * w4 * inv_a;
                s.g[3] -= n * w4 * bx;
                s.h[0][1] -= n * (w3 * it + w4 * ix);
                s.h[1][1] += n * k * (w3 * it * it + w4 * ix * ix);
                s.h[2][2] -= n * w4 * inv_a * inv_a;
                s.h[3][3] += n * w4 * bx * bx;
                let dd = [lx - lt, -k * (it - ix), -inv_a, bx];
                let w = n * w3 * w4;
                for i in 0..4 {
                    for j in i..4 {
                        s.h[i][j] += w * dd[i] * dd[j];
                    }
                }
            }
            s
        };
        let rows = &self.rows;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mixed = if rows.len() < PARALLEL_ROWS || threads < 2 {
            chunk(rows)
        } else {
            let size = rows.len().div_ceil(threads.min(8));
            std::thread::scope(|scope| {
                let handles: Vec<_> = rows
                    .chunks(size)
                    .map(|part| scope.spawn(move || chunk(part)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("a likelihood thread panicked"))
                    .fold(Sums::default(), Sums::add)
            })
        };
        let mut out = out.add(mixed);
        for i in 0..4 {
            for j in 0..i {
                out.h[i][j] = out.h[j][i];
            }
        }
        out
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
    fn analytic_derivatives_match_finite_differences() {
        let tuples = [
            ((0, 0.0, 38.86), 10),
            ((0, 0.0, 30.0), 4),
            ((2, 30.43, 38.86), 3),
            ((1, 1.71, 30.0), 2),
            ((5, 12.0, 20.0), 1),
            ((5, 19.5, 20.0), 2),
        ];
        let prepared = Prepared::new(&tuples);
        let theta = [0.3, 5.0, 0.8, 2.5];
        let at = |v: &[f64]| BgNbd {
            r: v[0],
            alpha: v[1],
            a: v[2],
            b: v[3],
        };
        let s = prepared.curvature(&at(&theta));
        let total = |v: &[f64]| prepared.total(&at(v));
        crate::stats::optimize::assert_derivatives(&total, theta, &s.g, &s.h);
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
