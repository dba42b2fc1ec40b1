//! Derivative-free minimisation (Nelder–Mead) and numerical Hessians, enough
//! for maximum-likelihood fits of a handful of parameters.

/// Minimises `f` from `start` with the Nelder–Mead simplex (Lagarias et al.
/// 1998 coefficients), restarting from the best point until a restart no
/// longer improves, which guards against premature collapse of the simplex.
/// Returns the minimiser and the minimum.
pub fn nelder_mead(
    f: &dyn Fn(&[f64]) -> f64,
    start: &[f64],
    step: f64,
    tolerance: f64,
) -> (Vec<f64>, f64) {
    let mut best = start.to_vec();
    let mut best_value = f(&best);
    for _restart in 0..20 {
        let (x, v) = simplex(f, &best, step, tolerance);
        let improved = best_value - v > tolerance * (1.0 + v.abs());
        if v <= best_value {
            best = x;
            best_value = v;
        }
        if !improved {
            break;
        }
    }
    (best, best_value)
}

fn simplex(f: &dyn Fn(&[f64]) -> f64, start: &[f64], step: f64, tolerance: f64) -> (Vec<f64>, f64) {
    let n = start.len();
    let mut points: Vec<Vec<f64>> = (0..=n)
        .map(|i| {
            let mut p = start.to_vec();
            if i > 0 {
                p[i - 1] += step;
            }
            p
        })
        .collect();
    let mut values: Vec<f64> = points.iter().map(|p| f(p)).collect();
    for _ in 0..20_000 {
        let mut order: Vec<usize> = (0..=n).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        points = order.iter().map(|&i| points[i].clone()).collect();
        values = order.iter().map(|&i| values[i]).collect();
        let spread = (values[n] - values[0]).abs();
        let size = points[1..]
            .iter()
            .map(|p| {
                p.iter()
                    .zip(&points[0])
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max)
            })
            .fold(0.0, f64::max);
        if spread <= tolerance * (1.0 + values[0].abs()) && size <= tolerance.sqrt() {
            break;
        }
        let centroid: Vec<f64> = (0..n)
            .map(|j| points[..n].iter().map(|p| p[j]).sum::<f64>() / n as f64)
            .collect();
        let along = |t: f64| -> Vec<f64> {
            centroid
                .iter()
                .zip(&points[n])
                .map(|(c, w)| c + t * (c - w))
                .collect()
        };
        let reflected = along(1.0);
        let fr = f(&reflected);
        if fr < values[0] {
            let expanded = along(2.0);
            let fe = f(&expanded);
            if fe < fr {
                points[n] = expanded;
                values[n] = fe;
            } else {
                points[n] = reflected;
                values[n] = fr;
            }
        } else if fr < values[n - 1] {
            points[n] = reflected;
            values[n] = fr;
        } else {
            let (contracted, fc) = if fr < values[n] {
                let c = along(0.5);
                let fc = f(&c);
                (c, fc)
            } else {
                let c = along(-0.5);
                let fc = f(&c);
                (c, fc)
            };
            if fc < values[n].min(fr) {
                points[n] = contracted;
                values[n] = fc;
            } else {
                // Shrink towards the best point.
                for i in 1..=n {
                    let p: Vec<f64> = points[i]
                        .iter()
                        .zip(&points[0])
                        .map(|(x, b)| b + 0.5 * (x - b))
                        .collect();
                    values[i] = f(&p);
                    points[i] = p;
                }
            }
        }
    }
    let best = (0..=n)
        .min_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap_or(0);
    (points[best].clone(), values[best])
}

/// Central-difference Hessian of `f` at `x`, with steps relative to each coordinate.
pub fn hessian(f: &dyn Fn(&[f64]) -> f64, x: &[f64]) -> Vec<Vec<f64>> {
    let n = x.len();
    let h: Vec<f64> = x.iter().map(|v| 1e-4 * v.abs().max(1e-2)).collect();
    let at = |di: &[(usize, f64)]| {
        let mut p = x.to_vec();
        for &(i, d) in di {
            p[i] += d;
        }
        f(&p)
    };
    let mut out = vec![vec![0.0; n]; n];
    let f0 = f(x);
    for i in 0..n {
        out[i][i] = (at(&[(i, h[i])]) - 2.0 * f0 + at(&[(i, -h[i])])) / (h[i] * h[i]);
        for j in i + 1..n {
            let v = (at(&[(i, h[i]), (j, h[j])])
                - at(&[(i, h[i]), (j, -h[j])])
                - at(&[(i, -h[i]), (j, h[j])])
                + at(&[(i, -h[i]), (j, -h[j])]))
                / (4.0 * h[i] * h[j]);
            out[i][j] = v;
            out[j][i] = v;
        }
    }
    out
}

/// Inverse of a small symmetric positive-definite matrix (Gauss–Jordan with
/// partial pivoting); `None` when singular.
pub fn invert(m: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = m.len();
    let mut a: Vec<Vec<f64>> = m
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut r = row.clone();
            r.extend((0..n).map(|j| if i == j { 1.0 } else { 0.0 }));
            r
        })
        .collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        if a[pivot][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, pivot);
        let p = a[col][col];
        for v in a[col].iter_mut() {
            *v /= p;
        }
        let pivot_row = a[col].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let factor = row[col];
                if factor != 0.0 {
                    for (v, p) in row.iter_mut().zip(&pivot_row) {
                        *v -= factor * p;
                    }
                }
            }
        }
    }
    Some(a.into_iter().map(|r| r[n..].to_vec()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rosenbrock_minimum() {
        let f = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let (x, v) = nelder_mead(&f, &[-1.2, 1.0], 0.5, 1e-14);
        assert!(
            (x[0] - 1.0).abs() < 1e-5 && (x[1] - 1.0).abs() < 1e-5,
            "{x:?}"
        );
        assert!(v < 1e-10);
    }

    #[test]
    fn hessian_and_inverse_of_a_quadratic() {
        // f = x² + 3xy + 5y²: Hessian [[2, 3], [3, 10]], inverse [[10, -3], [-3, 2]] / 11.
        let f = |x: &[f64]| x[0] * x[0] + 3.0 * x[0] * x[1] + 5.0 * x[1] * x[1];
        let h = hessian(&f, &[0.7, -0.2]);
        assert!(
            (h[0][0] - 2.0).abs() < 1e-5
                && (h[0][1] - 3.0).abs() < 1e-5
                && (h[1][1] - 10.0).abs() < 1e-5
        );
        let inv = invert(&h).expect("invertible");
        assert!((inv[0][0] - 10.0 / 11.0).abs() < 1e-5 && (inv[0][1] + 3.0 / 11.0).abs() < 1e-5);
        assert!(invert(&[vec![1.0, 2.0], vec![2.0, 4.0]]).is_none());
    }
}
