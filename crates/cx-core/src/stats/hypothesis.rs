//! Two-sample tests for "did it really change?": NPS (z with the trinomial
//! variance), proportions (two-proportion z with pooled variance) and means
//! (Welch's t with Welch–Satterthwaite degrees of freedom).

use serde::Serialize;

use super::distributions::{normal_two_sided_p, student_t_two_sided_p};

/// Significance level used to flag a change as `significant`.
pub const ALPHA: f64 = 0.05;

/// Which test produced a [`Comparison`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TestKind {
    /// z test on the difference of two NPS values, trinomial variance.
    NpsZ,
    /// Two-proportion z test with pooled variance.
    TwoProportionZ,
    /// Welch's unequal-variance t test.
    WelchT,
}

/// A figure compared with the same figure in a previous period (or another segment).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The figure in the comparison period.
    pub previous: f64,
    /// `current − previous`, in the figure's own unit (points of NPS, percentage points, …).
    pub diff: f64,
    /// The test used.
    pub test: TestKind,
    /// Test statistic (z or t); absent when the test is undefined (e.g. no variance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistic: Option<f64>,
    /// Degrees of freedom, for t tests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub df: Option<f64>,
    /// Two-sided p-value; absent when the test is undefined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// `p_value < 0.05`.
    pub significant: bool,
}

impl Comparison {
    fn new(
        current: f64,
        previous: f64,
        test: TestKind,
        statistic: Option<f64>,
        df: Option<f64>,
        p_value: Option<f64>,
    ) -> Comparison {
        let p_value = p_value.filter(|p| p.is_finite());
        Comparison {
            previous,
            diff: current - previous,
            test,
            statistic: statistic.filter(|s| s.is_finite()),
            df,
            p_value,
            significant: p_value.is_some_and(|p| p < ALPHA),
        }
    }
}

/// Counts of promoters, passives and detractors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NpsCounts {
    /// Answers 9–10.
    pub promoters: u64,
    /// Answers 7–8.
    pub passives: u64,
    /// Answers 0–6.
    pub detractors: u64,
}

impl NpsCounts {
    /// Number of answers.
    pub fn n(&self) -> u64 {
        self.promoters + self.passives + self.detractors
    }

    /// NPS as a fraction in [−1, 1] and its trinomial sampling variance
    /// `(p + d − (p − d)²) / n`.
    fn nps_and_variance(&self) -> Option<(f64, f64)> {
        let n = self.n();
        if n == 0 {
            return None;
        }
        let nf = n as f64;
        let p = self.promoters as f64 / nf;
        let d = self.detractors as f64 / nf;
        Some((p - d, (p + d - (p - d) * (p - d)) / nf))
    }
}

/// Compares two NPS values (in NPS points) with a z test on their difference,
/// each variance from the trinomial model (Rocks 2016, "Interval estimation for
/// the net promoter score").
pub fn compare_nps(current: NpsCounts, previous: NpsCounts) -> Option<Comparison> {
    let (c, vc) = current.nps_and_variance()?;
    let (p, vp) = previous.nps_and_variance()?;
    let se = (vc + vp).sqrt();
    let z = (se > 0.0).then(|| (c - p) / se);
    Some(Comparison::new(
        100.0 * c,
        100.0 * p,
        TestKind::NpsZ,
        z,
        None,
        z.map(normal_two_sided_p),
    ))
}

/// Compares two proportions (reported in percent) with the pooled two-proportion z test.
pub fn compare_proportions(x1: u64, n1: u64, x0: u64, n0: u64) -> Option<Comparison> {
    if n1 == 0 || n0 == 0 {
        return None;
    }
    let (p1, p0) = (x1 as f64 / n1 as f64, x0 as f64 / n0 as f64);
    let pooled = (x1 + x0) as f64 / (n1 + n0) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 as f64 + 1.0 / n0 as f64)).sqrt();
    let z = (se > 0.0).then(|| (p1 - p0) / se);
    Some(Comparison::new(
        100.0 * p1,
        100.0 * p0,
        TestKind::TwoProportionZ,
        z,
        None,
        z.map(normal_two_sided_p),
    ))
}

/// Sample summary for Welch's test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanSummary {
    /// Sample size.
    pub n: u64,
    /// Sample mean.
    pub mean: f64,
    /// Sample variance (denominator n − 1).
    pub variance: f64,
}

/// Compares two means with Welch's t test (Welch 1947); degrees of freedom by
/// the Welch–Satterthwaite equation.
pub fn compare_means(current: MeanSummary, previous: MeanSummary) -> Option<Comparison> {
    if current.n == 0 || previous.n == 0 {
        return None;
    }
    let mut statistic = None;
    let mut df = None;
    if current.n >= 2 && previous.n >= 2 {
        let a = current.variance / current.n as f64;
        let b = previous.variance / previous.n as f64;
        if a + b > 0.0 {
            statistic = Some((current.mean - previous.mean) / (a + b).sqrt());
            df = Some(
                (a + b) * (a + b)
                    / (a * a / (current.n - 1) as f64 + b * b / (previous.n - 1) as f64),
            );
        }
    }
    let p = statistic
        .zip(df)
        .map(|(t, df)| student_t_two_sided_p(t, df));
    Some(Comparison::new(
        current.mean,
        previous.mean,
        TestKind::WelchT,
        statistic,
        df,
        p,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nps_z_hand_computed() {
        // 60/25/15 (NPS 45) vs 420/330/250 (NPS 17).
        let cur = NpsCounts {
            promoters: 60,
            passives: 25,
            detractors: 15,
        };
        let prev = NpsCounts {
            promoters: 420,
            passives: 330,
            detractors: 250,
        };
        let c = compare_nps(cur, prev).expect("both non-empty");
        let v1: f64 = (0.60 + 0.15 - 0.45 * 0.45) / 100.0;
        let v0 = (0.42 + 0.25 - 0.17 * 0.17) / 1000.0;
        let z = (0.45 - 0.17) / (v1 + v0).sqrt();
        assert!((c.diff - 28.0).abs() < 1e-12);
        assert!((c.statistic.expect("defined") - z).abs() < 1e-12);
        assert!((c.p_value.expect("defined") - normal_two_sided_p(z)).abs() < 1e-15);
        assert!(c.significant);
    }

    #[test]
    fn two_proportion_z_textbook() {
        // 45/100 vs 30/100: pooled 0.375, z = 0.15 / sqrt(0.375·0.625·0.02) = 2.1909.
        let c = compare_proportions(45, 100, 30, 100).expect("non-empty");
        assert!((c.statistic.expect("defined") - 2.190_890_230_020_664_6).abs() < 1e-12);
        assert!((c.p_value.expect("defined") - 0.028_459_736_916_310_5).abs() < 1e-9);
        assert!((c.diff - 15.0).abs() < 1e-12);
    }

    #[test]
    fn welch_matches_scipy() {
        // a = [1,2,3,4,5], b = [2,4,6,8,10,12] (variance 14): scipy.stats.ttest_ind(a, b, equal_var=False)
        let a = MeanSummary {
            n: 5,
            mean: 3.0,
            variance: 2.5,
        };
        let b = MeanSummary {
            n: 6,
            mean: 7.0,
            variance: 14.0,
        };
        let c = compare_means(a, b).expect("non-empty");
        assert!((c.statistic.expect("t") - -2.376_354_103_144_018_3).abs() < 1e-12);
        assert!((c.df.expect("df") - 6.972_255_729_794_934).abs() < 1e-9);
        assert!((c.p_value.expect("p") - 0.049_284_338_206_730_53).abs() < 1e-10);
    }

    #[test]
    fn undefined_tests_are_not_significant() {
        let same = MeanSummary {
            n: 3,
            mean: 4.0,
            variance: 0.0,
        };
        let c = compare_means(same, same).expect("non-empty");
        assert_eq!((c.statistic, c.p_value, c.significant), (None, None, false));
        assert!(compare_proportions(1, 0, 1, 2).is_none());
    }
}
