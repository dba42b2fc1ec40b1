//! The Gamma-Gamma model of spend per transaction (Fader & Hardie 2013, "The
//! Gamma-Gamma model of monetary value"; Colombo & Jiang 1999): a customer's
//! transaction values are Gamma(p, ν) with ν ~ Gamma(q, γ) across customers.
//! Fitted on repeat buyers (x > 0) and their mean repeat spend m_x:
//! ln L = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ + (px−1) ln m_x + px ln x
//!        − (px+q) ln(γ + x·m_x).

use serde::Serialize;

use crate::stats::distributions::{digamma, ln_gamma, trigamma};
use crate::stats::optimize::{damped_newton, mean_nll_on_logs, nelder_mead, standard_errors};

/// Fitted Gamma-Gamma parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GammaGamma {
    /// Shape of transaction values.
    pub p: f64,
    /// Shape of the scale's Gamma.
    pub q: f64,
    /// Scale of the scale's Gamma (γ, called `v` in SPEC's JSON).
    pub v: f64,
}

/// A fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GammaGammaFit {
    /// Parameters.
    #[serde(flatten)]
    pub params: GammaGamma,
    /// Standard errors (p, q, v).
    pub se: Option<[f64; 3]>,
    /// Total log-likelihood.
    pub log_likelihood: f64,
    /// Repeat buyers in the fit.
    pub customers: u64,
}

impl GammaGamma {
    /// Log-likelihood of one repeat buyer with `x` repeat purchases of mean value `m`.
    pub fn log_likelihood(&self, x: u32, m: f64) -> f64 {
        let GammaGamma { p, q, v } = *self;
        let x = f64::from(x);
        ln_gamma(p * x + q) - ln_gamma(p * x) - ln_gamma(q)
            + q * v.ln()
            + (p * x - 1.0) * m.ln()
            + p * x * x.ln()
            - (p * x + q) * (v + x * m).ln()
    }

    /// Expected mean transaction value of a customer with `x` repeat purchases
    /// of mean `m` (the population mean p·v/(q−1) when x = 0).
    pub fn conditional_expected_value(&self, x: u32, m: f64) -> f64 {
        let GammaGamma { p, q, v } = *self;
        let x = f64::from(x);
        p * (v + x * m) / (p * x + q - 1.0)
    }

    /// Fits on `(x, m_x)` of repeat buyers (customers with x = 0 or m ≤ 0 are
    /// skipped): damped Newton on the log-parameters with the gradient and
    /// Hessian in closed form (Nelder–Mead as the fallback); standard errors
    /// from the analytic Hessian.
    pub fn fit(buyers: &[(u32, f64)]) -> Option<GammaGammaFit> {
        let prepared = Prepared::new(buyers)?;
        let n = prepared.buyers;
        let from_logs = |v: &[f64]| GammaGamma {
            p: v[0].exp(),
            q: v[1].exp(),
            v: v[2].exp(),
        };
        let curvature = |v: &[f64]| {
            let g = from_logs(v);
            let theta = [g.p, g.q, g.v];
            let s = prepared.curvature(&g);
            Some(mean_nll_on_logs(&theta, s.ll, &s.g, &s.h, n))
        };
        // With many buyers, start from the fit to an evenly spaced sample: the
        // long way from (1, 1, 1) then costs a fraction, and the full data
        // needs only the last few Newton steps.
        let start = (prepared.rows.len() >= 4 * SAMPLE)
            .then(|| {
                let stride = buyers.len() / SAMPLE;
                let sample: Vec<(u32, f64)> = buyers.iter().step_by(stride).copied().collect();
                GammaGamma::fit(&sample)
            })
            .flatten()
            .map_or([0.0; 3], |f| {
                [f.params.p.ln(), f.params.q.ln(), f.params.v.ln()]
            });
        let best = damped_newton(&curvature, &start, 1e-10, 2.0)
            .map(|(v, _)| v)
            .filter(|v| v.iter().all(|p| p.abs() < 700.0))
            .unwrap_or_else(|| {
                let objective = |v: &[f64]| {
                    let ll = prepared.curvature(&from_logs(v)).ll;
                    if ll.is_finite() {
                        -ll / n
                    } else {
                        f64::INFINITY
                    }
                };
                nelder_mead(&objective, &[0.0; 3], 0.5, 1e-13).0
            });
        let params = from_logs(&best);
        let at = prepared.curvature(&params);
        let se = standard_errors(&at.h);
        Some(GammaGammaFit {
            params,
            se,
            log_likelihood: at.ll,
            customers: prepared.buyers as u64,
        })
    }
}

/// Sums over buyers: log-likelihood, gradient and Hessian in (p, q, γ).
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    ll: f64,
    g: [f64; 3],
    h: [[f64; 3]; 3],
}

/// Buyers in the sample whose fit is the starting point for a large fit.
const SAMPLE: usize = 25_000;

/// Below this many buyers one evaluation is not worth a second thread.
const PARALLEL_BUYERS: usize = 32_768;

/// Buyers arranged so one evaluation with derivatives costs one `ln` and one
/// division per buyer: with D = γ + x·m, the likelihood needs only Σ ln D,
/// Σ x ln D, Σ 1/D, Σ x/D, Σ 1/D² and Σ x/D² over buyers; the terms in x alone
/// are computed once per distinct x and Σ ln m, Σ x ln m, Σ x ln x once.
struct Prepared {
    /// `(x, x·m)` per buyer.
    rows: Vec<(f64, f64)>,
    /// `(x, buyers with that x)`.
    per_x: Vec<(f64, f64)>,
    /// Σ ln m, Σ x ln m, Σ x ln x.
    constants: (f64, f64, f64),
    buyers: f64,
}

impl Prepared {
    fn new(buyers: &[(u32, f64)]) -> Option<Prepared> {
        let rows: Vec<(f64, f64)> = buyers
            .iter()
            .filter(|(x, m)| *x > 0 && *m > 0.0 && m.is_finite())
            .map(|(x, m)| (f64::from(*x), f64::from(*x) * m))
            .collect();
        if rows.is_empty() {
            return None;
        }
        // Buyers per x (a table by x: the counts are what the x-only terms need).
        let max_x = rows.iter().fold(0.0_f64, |m, (x, _)| m.max(*x)) as usize;
        let mut counts = std::collections::BTreeMap::new();
        let mut dense = vec![0.0; if max_x <= 1 << 20 { max_x + 1 } else { 0 }];
        let mut constants = (0.0, 0.0, 0.0);
        for (x, z) in &rows {
            match dense.get_mut(*x as usize) {
                Some(c) => *c += 1.0,
                None => *counts.entry(*x as u32).or_insert(0.0) += 1.0,
            }
            let lm = (z / x).ln();
            constants.0 += lm;
            constants.1 += x * lm;
        }
        counts.extend(
            dense
                .into_iter()
                .enumerate()
                .filter(|(_, c)| *c > 0.0)
                .map(|(x, c)| (x as u32, c)),
        );
        constants.2 = counts
            .iter()
            .map(|(x, c)| c * f64::from(*x) * f64::from(*x).ln())
            .sum();
        Some(Prepared {
            buyers: rows.len() as f64,
            per_x: counts.into_iter().map(|(x, c)| (f64::from(x), c)).collect(),
            rows,
            constants,
        })
    }

    fn curvature(&self, g: &GammaGamma) -> Sums {
        let GammaGamma { p, q, v } = *g;
        let n = self.buyers;
        // Σ ln D, Σ x ln D, Σ 1/D, Σ x/D, Σ 1/D², Σ x/D².
        let chunk = |rows: &[(f64, f64)]| -> [f64; 6] {
            let mut s = [0.0; 6];
            for &(x, z) in rows {
                let d = v + z;
                let l = d.ln();
                let i = 1.0 / d;
                s[0] += l;
                s[1] += x * l;
                s[2] += i;
                s[3] += x * i;
                s[4] += i * i;
                s[5] += x * i * i;
            }
            s
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let [s_l, s_xl, s_i, s_xi, s_ii, s_xii] =
            if self.rows.len() < PARALLEL_BUYERS || threads < 2 {
                chunk(&self.rows)
            } else {
                let size = self.rows.len().div_ceil(threads.min(8));
                std::thread::scope(|scope| {
                    let handles: Vec<_> = self
                        .rows
                        .chunks(size)
                        .map(|part| scope.spawn(move || chunk(part)))
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().expect("a likelihood thread panicked"))
                        .fold([0.0; 6], |mut a, b| {
                            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                            a
                        })
                })
            };
        let (l_m, x_l_m, x_l_x) = self.constants;
        let mut s = Sums::default();
        for &(x, c) in &self.per_x {
            let px = p * x;
            s.ll += c * (ln_gamma(px + q) - ln_gamma(px));
            let (d_pq, d_p) = (digamma(px + q), digamma(px));
            let (t_pq, t_p) = (trigamma(px + q), trigamma(px));
            s.g[0] += c * x * (d_pq - d_p);
            s.g[1] += c * d_pq;
            s.h[0][0] += c * x * x * (t_pq - t_p);
            s.h[0][1] += c * x * t_pq;
            s.h[1][1] += c * t_pq;
        }
        let ln_v = v.ln();
        s.ll += -n * ln_gamma(q) + n * q * ln_v + p * (x_l_m + x_l_x) - l_m - p * s_xl - q * s_l;
        s.g[0] += x_l_m + x_l_x - s_xl;
        s.g[1] += -n * digamma(q) + n * ln_v - s_l;
        s.g[2] = n * q / v - p * s_xi - q * s_i;
        s.h[1][1] -= n * trigamma(q);
        s.h[0][2] = -s_xi;
        s.h[1][2] = n / v - s_i;
        s.h[2][2] = -n * q / (v * v) + p * s_xii + q * s_ii;
        for i in 0..3 {
            for j in 0..i {
                s.h[i][j] = s.h[j][i];
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analytic_likelihood_and_derivatives_match_the_direct_ones() {
        let buyers = [
            (1, 20.0),
            (2, 35.5),
            (2, 12.0),
            (7, 41.0),
            (3, 18.25),
            (1, 60.0),
        ];
        let prepared = Prepared::new(&buyers).expect("buyers");
        let theta = [6.25, 3.74, 15.44];
        let at = |v: &[f64]| GammaGamma {
            p: v[0],
            q: v[1],
            v: v[2],
        };
        let direct = |v: &[f64]| -> f64 {
            buyers
                .iter()
                .map(|(x, m)| at(v).log_likelihood(*x, *m))
                .sum()
        };
        let s = prepared.curvature(&at(&theta));
        assert!((s.ll - direct(&theta)).abs() < 1e-9 * s.ll.abs());
        crate::stats::optimize::assert_derivatives(&direct, theta, &s.g, &s.h);
    }
}
