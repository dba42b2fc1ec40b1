//! Driver analysis: which rated aspects move the outcome (NPS, overall
//! satisfaction)? Relative weights (Johnson 2000, "A heuristic method for
//! estimating the relative weight of predictor variables in multiple
//! regression"): the predictors are replaced by their closest orthogonal
//! counterparts Z (through the eigendecomposition of their correlation matrix
//! R = QΛQ', with Λ* = QΛ^½Q' the correlations between X and Z), y is regressed
//! on Z (β = Λ*⁻¹ r_xy), and each predictor's weight is
//! ε_j = Σ_k Λ*_jk² β_k². The weights add up to the model's R², so correlated
//! aspects share credit instead of one taking it all as in plain regression.

use serde::Serialize;

use crate::stats::linalg::{correlation, symmetric_eigen};

/// Driver weights of some predictors of one outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RelativeWeights {
    /// Respondents used (those with every value).
    pub n: usize,
    /// R² of the outcome on all predictors.
    pub r_squared: f64,
    /// Raw relative weight per predictor; they sum to `r_squared`.
    pub weights: Vec<f64>,
    /// Each weight as a percentage of R² (sums to 100).
    pub shares_pct: Vec<f64>,
}

/// Why driver weights cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverError {
    /// Fewer respondents than predictors + 2.
    TooFew {
        /// Respondents with every value.
        n: usize,
        /// Needed.
        needed: usize,
    },
    /// A predictor (index) or the outcome (`None`) has no variance.
    Constant(Option<usize>),
    /// Predictors so collinear that their correlation matrix is singular.
    Collinear,
}

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriverError::TooFew { n, needed } => write!(
                f,
                "{n} respondents answered every question; driver analysis needs at least {needed}"
            ),
            DriverError::Constant(None) => write!(f, "the target has the same value everywhere"),
            DriverError::Constant(Some(j)) => {
                write!(f, "predictor {} has the same value everywhere", j + 1)
            }
            DriverError::Collinear => write!(
                f,
                "the predictors are perfectly correlated; drop one of the duplicates"
            ),
        }
    }
}

/// Relative weights of the predictors `x` (one row per respondent, one column
/// per predictor) for the outcome `y`.
pub fn relative_weights(x: &[Vec<f64>], y: &[f64]) -> Result<RelativeWeights, DriverError> {
    let n = y.len().min(x.len());
    let p = x.first().map_or(0, Vec::len);
    if n < p + 2 || p == 0 {
        return Err(DriverError::TooFew { n, needed: p + 2 });
    }
    let columns: Vec<Vec<f64>> = (0..p)
        .map(|j| x[..n].iter().map(|r| r[j]).collect())
        .collect();
    let y = &y[..n];
    let mut rxx = vec![vec![1.0; p]; p];
    for i in 0..p {
        for j in i + 1..p {
            let r = correlation(&columns[i], &columns[j]).ok_or(DriverError::Constant(Some(
                if is_constant(&columns[i]) { i } else { j },
            )))?;
            rxx[i][j] = r;
            rxx[j][i] = r;
        }
    }
    let mut rxy = Vec::with_capacity(p);
    for (j, c) in columns.iter().enumerate() {
        if is_constant(c) {
            return Err(DriverError::Constant(Some(j)));
        }
        rxy.push(correlation(c, y).ok_or(DriverError::Constant(None))?);
    }
    let (values, q) = symmetric_eigen(&rxx);
    if values.iter().any(|v| *v <= 1e-10) {
        return Err(DriverError::Collinear);
    }
    // Λ* = Q Λ^½ Q' and its inverse Q Λ^-½ Q'.
    let build = |f: &dyn Fn(f64) -> f64| -> Vec<Vec<f64>> {
        (0..p)
            .map(|i| {
                (0..p)
                    .map(|j| (0..p).map(|k| q[i][k] * f(values[k]) * q[j][k]).sum())
                    .collect()
            })
            .collect()
    };
    let lambda = build(&|v| v.sqrt());
    let lambda_inv = build(&|v| 1.0 / v.sqrt());
    let beta: Vec<f64> = (0..p)
        .map(|k| (0..p).map(|j| lambda_inv[k][j] * rxy[j]).sum())
        .collect();
    let weights: Vec<f64> = (0..p)
        .map(|j| (0..p).map(|k| lambda[j][k].powi(2) * beta[k].powi(2)).sum())
        .collect();
    let r_squared: f64 = beta.iter().map(|b| b * b).sum();
    let shares_pct = weights.iter().map(|w| 100.0 * w / r_squared).collect();
    Ok(RelativeWeights {
        n,
        r_squared,
        weights,
        shares_pct,
    })
}

fn is_constant(c: &[f64]) -> bool {
    c.iter().all(|v| *v == c[0])
}

/// Where an aspect falls in the importance–performance matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quadrant {
    /// Important and rated low: fix first.
    FixFirst,
    /// Important and rated high: keep it up.
    KeepUp,
    /// Less important, rated high: possibly over-invested.
    Overinvested,
    /// Less important, rated low: lower priority.
    LowPriority,
}

impl Quadrant {
    /// The label in `lang` (`zh…` or English).
    pub fn label(self, lang: &str) -> &'static str {
        let zh = lang.starts_with("zh");
        match (self, zh) {
            (Quadrant::FixFirst, true) => "优先改进",
            (Quadrant::FixFirst, false) => "fix first",
            (Quadrant::KeepUp, true) => "保持优势",
            (Quadrant::KeepUp, false) => "keep up",
            (Quadrant::Overinvested, true) => "可能投入过度",
            (Quadrant::Overinvested, false) => "possibly over-invested",
            (Quadrant::LowPriority, true) => "次要",
            (Quadrant::LowPriority, false) => "lower priority",
        }
    }
}

/// Quadrants from importance (weights) and performance (e.g. index 0–100),
/// split at the averages of each.
pub fn quadrants(importance: &[f64], performance: &[f64]) -> Vec<Quadrant> {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let (mi, mp) = (mean(importance), mean(performance));
    importance
        .iter()
        .zip(performance)
        .map(|(i, p)| match (*i >= mi, *p >= mp) {
            (true, false) => Quadrant::FixFirst,
            (true, true) => Quadrant::KeepUp,
            (false, true) => Quadrant::Overinvested,
            (false, false) => Quadrant::LowPriority,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The issue's 12-respondent vector.
    #[test]
    fn johnson_relative_weights_vector() {
        let x1 = [7., 8., 5., 9., 6., 7., 4., 8., 9., 5., 6., 3.];
        let x2 = [6., 7., 5., 8., 4., 7., 5., 6., 9., 3., 6., 4.];
        let x3 = [8., 6., 7., 9., 5., 7., 3., 7., 8., 6., 4., 5.];
        let y = [6., 8., 6., 9., 4., 8., 3., 7., 9., 5., 5., 4.];
        let x: Vec<Vec<f64>> = (0..12).map(|i| vec![x1[i], x2[i], x3[i]]).collect();
        let w = relative_weights(&x, &y).expect("weights");
        assert_eq!(w.n, 12);
        assert!((w.r_squared - 0.9039003).abs() < 5e-8, "{}", w.r_squared);
        for (got, want) in w.weights.iter().zip([0.2933823, 0.3061627, 0.3043553]) {
            assert!((got - want).abs() < 5e-8, "{got} vs {want}");
        }
        assert!((w.weights.iter().sum::<f64>() - w.r_squared).abs() < 1e-12);
        assert!((w.shares_pct.iter().sum::<f64>() - 100.0).abs() < 1e-9);
    }

    #[test]
    fn uncorrelated_predictors_get_their_squared_correlations() {
        // Orthogonal predictors: weights are r²(x_j, y) exactly.
        let x: Vec<Vec<f64>> = vec![
            vec![1., 1.],
            vec![1., -1.],
            vec![-1., 1.],
            vec![-1., -1.],
            vec![1., 1.],
            vec![1., -1.],
            vec![-1., 1.],
            vec![-1., -1.],
        ];
        let y: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, r)| 2.0 * r[0] + r[1] + if i % 2 == 0 { 0.3 } else { -0.3 })
            .collect();
        let w = relative_weights(&x, &y).expect("weights");
        let c0 = correlation(&x.iter().map(|r| r[0]).collect::<Vec<_>>(), &y).expect("r");
        let c1 = correlation(&x.iter().map(|r| r[1]).collect::<Vec<_>>(), &y).expect("r");
        assert!((w.weights[0] - c0 * c0).abs() < 1e-12);
        assert!((w.weights[1] - c1 * c1).abs() < 1e-12);
    }

    #[test]
    fn refuses_what_it_cannot_estimate() {
        let y = [1., 2., 3.];
        assert!(matches!(
            relative_weights(&[vec![1., 2.], vec![2., 3.], vec![3., 5.]], &y),
            Err(DriverError::TooFew { n: 3, needed: 4 })
        ));
        let x: Vec<Vec<f64>> = (0..6).map(|i| vec![i as f64, 2.0 * i as f64]).collect();
        let y: Vec<f64> = (0..6).map(|i| (i * i) as f64).collect();
        assert_eq!(relative_weights(&x, &y), Err(DriverError::Collinear));
        let x: Vec<Vec<f64>> = (0..6).map(|i| vec![i as f64, 3.0]).collect();
        assert_eq!(
            relative_weights(&x, &y),
            Err(DriverError::Constant(Some(1)))
        );
        let x: Vec<Vec<f64>> = (0..6).map(|i| vec![i as f64, (i % 2) as f64]).collect();
        assert_eq!(
            relative_weights(&x, &[2.0; 6]),
            Err(DriverError::Constant(None))
        );
    }

    #[test]
    fn quadrants_split_at_the_averages() {
        let q = quadrants(&[0.3, 0.1, 0.3, 0.1], &[50.0, 80.0, 90.0, 40.0]);
        assert_eq!(
            q,
            vec![
                Quadrant::FixFirst,
                Quadrant::Overinvested,
                Quadrant::KeepUp,
                Quadrant::LowPriority
            ]
        );
        assert_eq!(Quadrant::FixFirst.label("zh"), "优先改进");
    }
}
