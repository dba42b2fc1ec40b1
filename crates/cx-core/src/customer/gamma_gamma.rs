//! The Gamma-Gamma model of spend per transaction (Fader & Hardie 2013, "The
//! Gamma-Gamma model of monetary value"; Colombo & Jiang 1999): a customer's
//! transaction values are Gamma(p, ν) with ν ~ Gamma(q, γ) across customers.
//! Fitted on repeat buyers (x > 0) and their mean repeat spend m_x:
//! ln L = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ + (px−1) ln m_x + px ln x
//!        − (px+q) ln(γ + x·m_x).

use serde::Serialize;

use crate::stats::distributions::ln_gamma;
use crate::stats::optimize::{hessian, invert, nelder_mead};

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

    /// Fits on `(x, m_x)` of repeat buyers (customers with x = 0 or m ≤ 0 are skipped).
    pub fn fit(buyers: &[(u32, f64)]) -> Option<GammaGammaFit> {
        let data: Vec<(u32, f64)> = buyers
            .iter()
            .copied()
            .filter(|(x, m)| *x > 0 && *m > 0.0)
            .collect();
        if data.is_empty() {
            return None;
        }
        let n = data.len() as f64;
        // ln m per buyer once; the terms in x alone once per distinct x per evaluation.
        let ln_m: Vec<f64> = data.iter().map(|(_, m)| m.ln()).collect();
        let max_x = data.iter().map(|(x, _)| *x).max().unwrap_or(0);
        let total = |g: &GammaGamma| -> f64 {
            let GammaGamma { p, q, v } = *g;
            let by_x: Vec<f64> = (0..=max_x)
                .map(|x| {
                    let px = p * f64::from(x);
                    if x == 0 {
                        0.0
                    } else {
                        ln_gamma(px + q) - ln_gamma(px) + px * f64::from(x).ln()
                    }
                })
                .collect();
            let base = q * v.ln() - ln_gamma(q);
            data.iter()
                .zip(&ln_m)
                .map(|((x, m), lm)| {
                    let px = p * f64::from(*x);
                    base + by_x[*x as usize] + (px - 1.0) * lm
                        - (px + q) * (v + f64::from(*x) * m).ln()
                })
                .sum()
        };
        let from_logs = |v: &[f64]| GammaGamma {
            p: v[0].exp(),
            q: v[1].exp(),
            v: v[2].exp(),
        };
        let objective = |v: &[f64]| {
            let ll = total(&from_logs(v));
            if ll.is_finite() {
                -ll / n
            } else {
                f64::INFINITY
            }
        };
        let (best, _) = nelder_mead(&objective, &[0.0, 0.0, 0.0], 0.5, 1e-13);
        let params = from_logs(&best);
        let natural = |v: &[f64]| {
            -total(&GammaGamma {
                p: v[0],
                q: v[1],
                v: v[2],
            })
        };
        let h = hessian(&natural, &[params.p, params.q, params.v]);
        let se = invert(&h).and_then(|inv| {
            let d = [inv[0][0], inv[1][1], inv[2][2]];
            d.iter().all(|v| *v > 0.0).then(|| d.map(f64::sqrt))
        });
        Some(GammaGammaFit {
            params,
            se,
            log_likelihood: total(&params),
            customers: data.len() as u64,
        })
    }
}
