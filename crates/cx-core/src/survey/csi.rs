//! Composite satisfaction index (CSI): the weighted mean of dimension indices.
//!
//! Its interval comes from the delta method. CSI = Σ wᵢ·cᵢ·(meanᵢ − minᵢ) / Σ wᵢ
//! with cᵢ = 100 / (maxᵢ − minᵢ) is linear in the dimension means, so
//! Var(CSI) = Σᵢ Σⱼ wᵢ wⱼ cᵢ cⱼ Cov(meanᵢ, meanⱼ) / (Σ w)². The means are
//! correlated because the same respondents rate several dimensions: with nᵢⱼ
//! respondents answering both and sᵢⱼ their sample covariance,
//! Cov(meanᵢ, meanⱼ) ≈ nᵢⱼ·sᵢⱼ / (nᵢ·nⱼ), and Cov(meanᵢ, meanᵢ) = sᵢ² / nᵢ.
//! The accumulator therefore keeps, for every pair of dimensions, the exact
//! integer sums over respondents who answered both. The interval is
//! `CSI ± 1.96·se`, clipped to [0, 100].

use serde::Serialize;

use super::dimension::Dimension;
use crate::stats::{Interval, Z_975};

/// Cross-product sums for one pair of dimensions over respondents who rated both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct PairSums {
    n: u64,
    sum_x: i64,
    sum_y: i64,
    sum_xy: i64,
}

/// Accumulates the pairwise statistics the CSI interval needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsiPairs {
    dims: usize,
    pairs: Vec<PairSums>,
}

/// The CSI and its interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CsiFigures {
    /// Weighted mean of the dimension indices, 0–100.
    pub value: f64,
    /// Delta-method 95% interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci95: Option<Interval>,
}

impl CsiPairs {
    /// Pair sums for `dims` dimensions.
    pub fn new(dims: usize) -> CsiPairs {
        CsiPairs {
            dims,
            pairs: vec![PairSums::default(); dims * dims.saturating_sub(1) / 2],
        }
    }

    /// Records one respondent's valid dimension ratings (`None` = not answered).
    #[inline]
    pub fn update(&mut self, ratings: &[Option<i64>]) {
        debug_assert_eq!(ratings.len(), self.dims);
        let mut k = 0;
        for i in 0..self.dims {
            for j in i + 1..self.dims {
                if let (Some(x), Some(y)) = (ratings[i], ratings[j]) {
                    let p = &mut self.pairs[k];
                    p.n += 1;
                    p.sum_x += x;
                    p.sum_y += y;
                    p.sum_xy += x * y;
                }
                k += 1;
            }
        }
    }

    /// Adds another accumulator's sums.
    pub fn merge(&mut self, other: &CsiPairs) {
        for (a, b) in self.pairs.iter_mut().zip(&other.pairs) {
            a.n += b.n;
            a.sum_x += b.sum_x;
            a.sum_y += b.sum_y;
            a.sum_xy += b.sum_xy;
        }
    }

    /// Adds pair sums computed elsewhere (push-down backends): for dimensions
    /// `i < j`, respondents answering both and their Σx, Σy, Σxy.
    pub fn add_pair(&mut self, i: usize, j: usize, n: u64, sum_x: i64, sum_y: i64, sum_xy: i64) {
        let k = self.pair_index(i, j);
        let p = &mut self.pairs[k];
        p.n += n;
        p.sum_x += sum_x;
        p.sum_y += sum_y;
        p.sum_xy += sum_xy;
    }

    fn pair_index(&self, i: usize, j: usize) -> usize {
        debug_assert!(i < j && j < self.dims);
        // Pairs are laid out row by row: (0,1), (0,2), …, (1,2), …
        i * (2 * self.dims - i - 1) / 2 + (j - i - 1)
    }

    /// Sample covariance of dimensions i and j over respondents who rated both.
    fn covariance(&self, i: usize, j: usize) -> Option<(u64, f64)> {
        let p = self.pairs[self.pair_index(i, j)];
        if p.n < 2 {
            return None;
        }
        let n = i128::from(p.n);
        let num = n * i128::from(p.sum_xy) - i128::from(p.sum_x) * i128::from(p.sum_y);
        Some((p.n, num as f64 / (n * (n - 1)) as f64))
    }

    /// The CSI of `dims` with `weights` (same order; equal weights when empty).
    /// Dimensions with no answers are left out and the weights renormalised.
    pub fn evaluate(&self, dims: &[Dimension], weights: &[f64]) -> Option<CsiFigures> {
        struct Part {
            idx: usize,
            w: f64,
            c: f64,
            n: u64,
            var: f64,
        }
        let mut parts = Vec::new();
        let mut value = 0.0;
        for (idx, d) in dims.iter().enumerate() {
            let w = weights.get(idx).copied().unwrap_or(1.0);
            let Some((mean, var)) = d.counts().mean_and_variance() else {
                continue;
            };
            if w <= 0.0 {
                continue;
            }
            let scale = d.counts().scale();
            value += w * scale.index_of(mean);
            let c = 100.0 / f64::from(scale.max - scale.min);
            parts.push(Part {
                idx,
                w,
                c,
                n: d.counts().n(),
                var,
            });
        }
        let total_w: f64 = parts.iter().map(|p| p.w).sum();
        if parts.is_empty() || total_w <= 0.0 {
            return None;
        }
        let value = value / total_w;
        let mut variance = 0.0;
        let mut defined = true;
        for (a, pa) in parts.iter().enumerate() {
            if pa.n < 2 {
                defined = false;
            }
            variance += (pa.w * pa.c).powi(2) * pa.var / pa.n as f64;
            for pb in &parts[a + 1..] {
                if let Some((nij, cov)) = self.covariance(pa.idx, pb.idx) {
                    let cov_means = nij as f64 * cov / (pa.n as f64 * pb.n as f64);
                    variance += 2.0 * pa.w * pa.c * pb.w * pb.c * cov_means;
                }
            }
        }
        let ci95 = (defined && variance >= 0.0).then(|| {
            let half = Z_975 * variance.sqrt() / total_w;
            Interval {
                lo: (value - half).max(0.0),
                hi: (value + half).min(100.0),
            }
        });
        Some(CsiFigures { value, ci95 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::survey::scale::Scale;

    fn rated(rows: &[[Option<i64>; 2]]) -> (Vec<Dimension>, CsiPairs) {
        let scale = Scale::one_to(5).expect("valid");
        let mut dims = vec![Dimension::new(scale), Dimension::new(scale)];
        let mut pairs = CsiPairs::new(2);
        for row in rows {
            for (d, v) in dims.iter_mut().zip(row) {
                if let Some(v) = v {
                    d.update(*v);
                }
            }
            pairs.update(row);
        }
        (dims, pairs)
    }

    #[test]
    fn csi_is_weighted_mean_of_indices() {
        let (dims, pairs) = rated(&[[Some(5), Some(3)], [Some(4), Some(3)], [Some(3), Some(3)]]);
        // Indices 75 and 50.
        let f = pairs.evaluate(&dims, &[]).expect("answers");
        assert!((f.value - 62.5).abs() < 1e-12);
        let f = pairs.evaluate(&dims, &[3.0, 1.0]).expect("answers");
        assert!((f.value - 68.75).abs() < 1e-12);
    }

    /// When every respondent rates both dimensions the delta-method variance
    /// equals the variance of the per-respondent composite divided by n.
    #[test]
    fn complete_cases_match_per_respondent_composite() {
        let rows = [
            [Some(5), Some(4)],
            [Some(4), Some(4)],
            [Some(2), Some(3)],
            [Some(3), Some(1)],
            [Some(5), Some(5)],
        ];
        let (dims, pairs) = rated(&rows);
        let f = pairs.evaluate(&dims, &[]).expect("answers");
        let composite: Vec<f64> = rows
            .iter()
            .map(|r| {
                let (a, b) = (r[0].unwrap_or(0), r[1].unwrap_or(0));
                (25.0 * (a - 1) as f64 + 25.0 * (b - 1) as f64) / 2.0
            })
            .collect();
        let mean = composite.iter().sum::<f64>() / 5.0;
        let var = composite.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / 4.0;
        let half = Z_975 * (var / 5.0).sqrt();
        let ci = f.ci95.expect("defined");
        assert!((f.value - mean).abs() < 1e-12);
        assert!(
            (ci.lo - (mean - half)).abs() < 1e-9,
            "{} vs {}",
            ci.lo,
            mean - half
        );
        assert!((ci.hi - (mean + half).min(100.0)).abs() < 1e-9);
    }

    #[test]
    fn pair_index_layout() {
        let p = CsiPairs::new(4);
        let order: Vec<usize> = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
            .iter()
            .map(|&(i, j)| p.pair_index(i, j))
            .collect();
        assert_eq!(order, vec![0, 1, 2, 3, 4, 5]);
    }
}
