//! BG/NBD and Gamma-Gamma validated on CDNOW, the data set of Fader, Hardie &
//! Lee (2005) and Fader & Hardie (2013), as shipped by the Python package
//! `lifetimes` (`lifetimes/datasets/`): 2,357 customers of the 1/10 sample,
//! 39 weeks of calibration (1997-01-01 to 1997-09-30).

use cx_core::customer::bgnbd::BgNbd;
use cx_core::customer::gamma_gamma::GammaGamma;
use cx_core::customer::summary::{TimeUnit, distinct_tuples, summarize};
use cx_core::period::Date;

/// (x, t_x, T, mean repeat spend) per customer, from `cdnow_summary.csv`.
fn summary() -> Vec<(u32, f64, f64, f64)> {
    include_str!("data/cdnow_summary.csv")
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[1].parse().expect("x"),
                f[2].parse().expect("t_x"),
                f[3].parse().expect("T"),
                f[4].parse().expect("zbar"),
            )
        })
        .collect()
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs()
}

#[test]
fn bgnbd_reproduces_the_published_fit() {
    let rows = summary();
    assert_eq!(rows.len(), 2357);
    let mut tuples: Vec<((u32, f64, f64), u64)> = Vec::new();
    for (x, tx, t, _) in &rows {
        match tuples
            .iter_mut()
            .find(|((a, b, c), _)| a == x && b == tx && c == t)
        {
            Some((_, n)) => *n += 1,
            None => tuples.push(((*x, *tx, *t), 1)),
        }
    }
    assert!(
        tuples.len() < rows.len(),
        "fitting works on distinct tuples"
    );
    let fit = BgNbd::fit(&tuples).expect("fits");
    let p = fit.params;
    // Fader, Hardie & Lee (2005): r = 0.243, α = 4.414, a = 0.793, b = 2.426, LL = −9582.4.
    assert!(close(p.r, 0.243, 2e-3), "r = {}", p.r);
    assert!(close(p.alpha, 4.414, 2e-3), "alpha = {}", p.alpha);
    assert!(close(p.a, 0.793, 2e-3), "a = {}", p.a);
    assert!(close(p.b, 2.426, 2e-3), "b = {}", p.b);
    assert!(
        (fit.log_likelihood - -9582.4).abs() < 0.05,
        "LL = {}",
        fit.log_likelihood
    );
    let se = fit.se.expect("standard errors");
    assert!(se.iter().all(|s| s.is_finite() && *s > 0.0), "{se:?}");
    // The paper's worked example: x = 2, t_x = 30.43, T = 38.86 → 1.226 in 39 weeks.
    let e = p.conditional_expected_purchases(39.0, 2, 30.43, 38.86);
    assert!((e - 1.226).abs() < 2e-3, "{e}");
}

#[test]
fn gamma_gamma_reproduces_the_published_fit() {
    let buyers: Vec<(u32, f64)> = summary()
        .into_iter()
        .filter(|r| r.0 > 0)
        .map(|(x, _, _, m)| (x, m))
        .collect();
    assert_eq!(buyers.len(), 946);
    let fit = GammaGamma::fit(&buyers).expect("fits");
    // Fader & Hardie (2013): p = 6.25, q = 3.74, γ = 15.44.
    assert!(close(fit.params.p, 6.25, 5e-3), "p = {}", fit.params.p);
    assert!(close(fit.params.q, 3.74, 5e-3), "q = {}", fit.params.q);
    assert!(close(fit.params.v, 15.44, 5e-3), "v = {}", fit.params.v);
    // A buyer with one repeat purchase of $30 is expected to spend between $30 and
    // the population mean p·γ/(q−1) ≈ $35.2: shrinkage towards the mean.
    let population = fit.params.p * fit.params.v / (fit.params.q - 1.0);
    let e = fit.params.conditional_expected_value(1, 30.0);
    assert!(e > 30.0 && e < population, "{e} vs {population}");
    let heavy = fit.params.conditional_expected_value(20, 30.0);
    assert!(
        (heavy - 30.0).abs() < (e - 30.0).abs(),
        "more purchases, less shrinkage"
    );
}

#[test]
fn transaction_log_summary_matches_the_literature() {
    // CDNOW_sample.txt: customer, id, yyyymmdd, CDs, dollars; calibration ends 1997-09-30.
    let log: Vec<(String, Date, f64)> = include_str!("data/cdnow_sample.txt")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let d = f[2];
            let date = Date::from_ymd(
                d[..4].parse().expect("y"),
                d[4..6].parse().expect("m"),
                d[6..].parse().expect("d"),
            )
            .expect("date");
            (f[1].to_string(), date, f[4].parse().expect("amount"))
        })
        .collect();
    let end = Date::from_ymd(1997, 9, 30).expect("date");
    let got = summarize(
        log.iter().map(|(c, d, a)| (c.as_str(), *d, *a)),
        end,
        TimeUnit::Week,
    );
    let want = summary();
    assert_eq!(got.len(), want.len());
    let mut got = got;
    got.sort_by_key(|s| s.customer.parse::<u32>().expect("id"));
    for (g, (x, tx, t, zbar)) in got.iter().zip(&want) {
        assert_eq!(g.frequency, *x, "{}", g.customer);
        assert!(
            (g.recency - tx).abs() < 0.006 && (g.t - t).abs() < 0.006,
            "{}: {g:?}",
            g.customer
        );
        assert!(
            (g.monetary - zbar).abs() < 0.006,
            "{}: {} vs {zbar}",
            g.customer,
            g.monetary
        );
    }
    assert!(distinct_tuples(&got).len() < got.len());
}
