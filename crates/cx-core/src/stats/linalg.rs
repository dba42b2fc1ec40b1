//! Small dense linear algebra for driver analysis: Pearson correlations and the
//! symmetric eigendecomposition (cyclic Jacobi), for matrices of a few dozen
//! rows at most.

/// Eigenvalues and unit eigenvectors (`vectors[i][k]` is component `i` of
/// vector `k`) of a symmetric matrix, by cyclic Jacobi rotations.
pub fn symmetric_eigen(matrix: &[Vec<f64>]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let p = matrix.len();
    let mut a: Vec<Vec<f64>> = matrix.to_vec();
    let mut v: Vec<Vec<f64>> = (0..p)
        .map(|i| (0..p).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    for _sweep in 0..100 {
        let off: f64 = (0..p)
            .flat_map(|i| (0..p).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i][j] * a[i][j])
            .sum();
        if off < 1e-30 {
            break;
        }
        for k in 0..p {
            for l in k + 1..p {
                if a[k][l].abs() < 1e-300 {
                    continue;
                }
                let theta = (a[l][l] - a[k][k]) / (2.0 * a[k][l]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for row in a.iter_mut() {
                    let (ark, arl) = (row[k], row[l]);
                    row[k] = c * ark - s * arl;
                    row[l] = s * ark + c * arl;
                }
                let (row_k, row_l) = (a[k].clone(), a[l].clone());
                for r in 0..p {
                    a[k][r] = c * row_k[r] - s * row_l[r];
                    a[l][r] = s * row_k[r] + c * row_l[r];
                }
                for row in v.iter_mut() {
                    let (vrk, vrl) = (row[k], row[l]);
                    row[k] = c * vrk - s * vrl;
                    row[l] = s * vrk + c * vrl;
                }
            }
        }
    }
    ((0..p).map(|i| a[i][i]).collect(), v)
}

/// Pearson correlation of two equally long series; `None` when either is constant.
pub fn correlation(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigen_reconstructs_the_matrix() {
        let m = vec![
            vec![4.0, 1.0, 0.5],
            vec![1.0, 3.0, 0.25],
            vec![0.5, 0.25, 2.0],
        ];
        let (values, vectors) = symmetric_eigen(&m);
        for i in 0..3 {
            for j in 0..3 {
                let back: f64 = (0..3)
                    .map(|k| vectors[i][k] * values[k] * vectors[j][k])
                    .sum();
                assert!((back - m[i][j]).abs() < 1e-12, "{i},{j}");
            }
        }
        // Trace and orthonormality.
        assert!((values.iter().sum::<f64>() - 9.0).abs() < 1e-12);
        let dot: f64 = (0..3).map(|i| vectors[i][0] * vectors[i][1]).sum();
        assert!(dot.abs() < 1e-12);
    }

    #[test]
    fn correlations() {
        assert_eq!(correlation(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]), Some(1.0));
        assert_eq!(correlation(&[1.0, 1.0, 1.0], &[2.0, 4.0, 6.0]), None);
        let r = correlation(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]).expect("r");
        assert!((r - 0.8).abs() < 1e-12);
    }
}
