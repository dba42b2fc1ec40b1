//! Minimisation for maximum-likelihood fits of a handful of parameters: damped
//! Newton where the model gives its derivatives, derivative-free Nelder–Mead
//! where it does not, and numerical Hessians.

/// A function's value, gradient and Hessian at one point.
#[derive(Debug, Clone, PartialEq)]
pub struct Curvature {
    /// f(x).
    pub value: f64,
    /// ∇f(x).
    pub gradient: Vec<f64>,
    /// ∇²f(x), symmetric.
    pub hessian: Vec<Vec<f64>>,
}

impl Curvature {
    fn is_finite(&self) -> bool {
        self.value.is_finite()
            && self.gradient.iter().all(|g| g.is_finite())
            && self.hessian.iter().flatten().all(|h| h.is_finite())
    }
}

/// The mean negative log-likelihood and its derivatives on log-parameters
/// φ = ln θ, from the total log-likelihood `ll` over `n` observations with
/// its gradient `g` and Hessian `h` in θ: ∂/∂φᵢ = θᵢ ∂/∂θᵢ and
/// ∂²/∂φᵢ∂φⱼ = θᵢθⱼ ∂²/∂θᵢ∂θⱼ + [i = j] θᵢ ∂/∂θᵢ.
pub fn mean_nll_on_logs<const K: usize>(
    theta: &[f64; K],
    ll: f64,
    g: &[f64; K],
    h: &[[f64; K]; K],
    n: f64,
) -> Curvature {
    Curvature {
        value: -ll / n,
        gradient: (0..K).map(|i| -theta[i] * g[i] / n).collect(),
        hessian: (0..K)
            .map(|i| {
                (0..K)
                    .map(|j| {
                        let diagonal = if i == j { theta[i] * g[i] } else { 0.0 };
                        -(theta[i] * theta[j] * h[i][j] + diagonal) / n
                    })
                    .collect()
            })
            .collect(),
    }
}

/// Standard errors of maximum-likelihood estimates: the square roots of the
/// diagonal of the inverse observed information (−Hessian of the total
/// log-likelihood); `None` when it is singular or not positive there.
pub fn standard_errors<const K: usize>(hessian: &[[f64; K]; K]) -> Option<[f64; K]> {
    let information: Vec<Vec<f64>> = hessian
        .iter()
        .map(|row| row.iter().map(|h| -h).collect())
        .collect();
    let inv = invert(&information)?;
    let d: [f64; K] = std::array::from_fn(|i| inv[i][i]);
    d.iter().all(|v| *v > 0.0).then(|| d.map(f64::sqrt))
}

/// Asserts that a closed-form gradient `g` and Hessian `h` of `f` at `theta`
/// agree with central differences (the models' derivative tests).
#[cfg(test)]
pub(crate) fn assert_derivatives<const K: usize>(
    f: &dyn Fn(&[f64]) -> f64,
    theta: [f64; K],
    g: &[f64; K],
    h: &[[f64; K]; K],
) {
    let numeric = hessian(f, &theta);
    for i in 0..K {
        let step = 1e-6 * theta[i];
        let (mut up, mut down) = (theta, theta);
        up[i] += step;
        down[i] -= step;
        let want = (f(&up) - f(&down)) / (2.0 * step);
        assert!(
            (g[i] - want).abs() < 1e-5 * want.abs().max(1.0),
            "g[{i}]: {} vs {want}",
            g[i]
        );
        for (j, &n) in numeric[i].iter().enumerate() {
            assert!(
                (h[i][j] - n).abs() < 1e-4 * n.abs().max(1.0),
                "h[{i}][{j}]: {} vs {n}",
                h[i][j]
            );
        }
    }
}

/// Minimises `f` from `start` by Newton's method with Levenberg–Marquardt
/// damping: each step solves (H + λ·diag(H)) d = −g, accepted only if it
/// lowers f; λ shrinks after a success and grows after a failure (or when the
/// damped Hessian is not positive definite), so far from the minimum the steps
/// turn towards scaled gradient descent and near it they are plain Newton
/// steps, which converge in a few iterations. No coordinate moves by more than
/// `max_step` in one step. Stops when a (nearly undamped) Newton step moves no
/// coordinate by more than `tolerance`, or promises a decrease (−gᵀd) below
/// what rounding in f can resolve — tests on the step, not on the gradient,
/// which can be tiny along a flat ridge well away from the minimum — or when
/// no step lowers f any more. `None` when f is not finite at the start.
pub fn damped_newton(
    f: &dyn Fn(&[f64]) -> Option<Curvature>,
    start: &[f64],
    tolerance: f64,
    max_step: f64,
) -> Option<(Vec<f64>, Curvature)> {
    let mut x = start.to_vec();
    let mut here = f(&x).filter(Curvature::is_finite)?;
    let mut lambda = 1e-3;
    for _ in 0..1_000 {
        if here.gradient.iter().all(|g| *g == 0.0) {
            break;
        }
        let mut damped = here.hessian.clone();
        for (i, row) in damped.iter_mut().enumerate() {
            row[i] += lambda * here.hessian[i][i].abs().max(1e-12);
        }
        let minus_g: Vec<f64> = here.gradient.iter().map(|g| -g).collect();
        let Some(mut d) = cholesky_solve(&damped, &minus_g) else {
            lambda *= 10.0;
            if lambda > 1e16 {
                break;
            }
            continue;
        };
        let longest = d.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        // The decrease a Newton step promises, −gᵀd: once it is below what
        // rounding in f can resolve, no step can be told from noise.
        let promised: f64 = -here
            .gradient
            .iter()
            .zip(&d)
            .map(|(g, v)| g * v)
            .sum::<f64>();
        if lambda <= 1e-2 && (longest <= tolerance || promised <= 1e-14 * (1.0 + here.value.abs()))
        {
            break;
        }
        if longest > max_step {
            d.iter_mut().for_each(|v| *v *= max_step / longest);
        }
        let trial: Vec<f64> = x.iter().zip(&d).map(|(a, b)| a + b).collect();
        match f(&trial).filter(Curvature::is_finite) {
            Some(next) if next.value < here.value => {
                x = trial;
                here = next;
                lambda = (lambda / 10.0).max(1e-12);
            }
            _ => {
                lambda *= 10.0;
                if lambda > 1e16 {
                    break;
                }
            }
        }
    }
    Some((x, here))
}

/// Solves A x = b for a symmetric positive-definite A by Cholesky
/// factorisation; `None` when A is not positive definite.
pub fn cholesky_solve(a: &[Vec<f64>], b: &[f64]) -> Option<Vec<f64>> {
    let n = a.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = a[i][i] - s;
                // NaN fails too.
                if d.is_nan() || d <= 0.0 {
                    return None;
                }
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (a[i][j] - s) / l[j][j];
            }
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        y[i] = (b[i] - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        x[i] = (y[i] - (i + 1..n).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    Some(x)
}

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
    fn damped_newton_finds_the_rosenbrock_minimum() {
        let f = |x: &[f64]| {
            let (a, b) = (x[0], x[1]);
            Some(Curvature {
                value: (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2),
                gradient: vec![
                    -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
                    200.0 * (b - a * a),
                ],
                hessian: vec![
                    vec![2.0 - 400.0 * b + 1200.0 * a * a, -400.0 * a],
                    vec![-400.0 * a, 200.0],
                ],
            })
        };
        let (x, at) = damped_newton(&f, &[-1.2, 1.0], 1e-10, 1.0).expect("finite start");
        // Stopped once a step promises less than 1e-14: f near 1e-14, x near 1e-7.
        assert!(
            (x[0] - 1.0).abs() < 1e-6 && (x[1] - 1.0).abs() < 1e-6,
            "{x:?}"
        );
        assert!(at.value < 1e-12);
        // A start where f is not finite is refused.
        let nan = |_: &[f64]| {
            Some(Curvature {
                value: f64::NAN,
                gradient: vec![0.0],
                hessian: vec![vec![1.0]],
            })
        };
        assert!(damped_newton(&nan, &[0.0], 1e-9, 1.0).is_none());
    }

    #[test]
    fn cholesky_solves_and_refuses_indefinite_matrices() {
        let a = vec![vec![4.0, 2.0], vec![2.0, 3.0]];
        let x = cholesky_solve(&a, &[2.0, 1.0]).expect("positive definite");
        assert!((4.0 * x[0] + 2.0 * x[1] - 2.0).abs() < 1e-12);
        assert!((2.0 * x[0] + 3.0 * x[1] - 1.0).abs() < 1e-12);
        assert!(cholesky_solve(&[vec![1.0, 2.0], vec![2.0, 1.0]], &[1.0, 1.0]).is_none());
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
