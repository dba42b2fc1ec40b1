//! Property: accumulating two halves of a data set and merging them gives
//! exactly the accumulator of the whole, for every metric — the law that lets
//! any engine count in parallel or in SQL.

use cx_core::survey::Disclosure;
use cx_core::survey::ces::{Ces, CesDirection};
use cx_core::survey::csat::Csat;
use cx_core::survey::dimension::Dimension;
use cx_core::survey::group::{DimensionSpec, GroupAccumulator, MetricsSpec};
use cx_core::survey::nps::Nps;
use cx_core::survey::scale::Scale;
use proptest::prelude::*;

fn spec() -> MetricsSpec {
    let five = Scale::one_to(5).expect("valid");
    MetricsSpec {
        nps: true,
        csat: Some(five),
        ces: Some((
            Scale::one_to(7).expect("valid"),
            CesDirection::HigherIsHarder,
        )),
        sentiment: false,
        dims: vec![
            DimensionSpec {
                name: "product_quality".into(),
                scale: five,
            },
            DimensionSpec {
                name: "price".into(),
                scale: Scale::new(0, 10).expect("valid"),
            },
            DimensionSpec {
                name: "service_attitude".into(),
                scale: five,
            },
        ],
        weights: vec![],
        disclosure: Disclosure::default(),
    }
}

/// A response: NPS, CSAT, CES and three dimensions, each possibly blank.
fn response() -> impl Strategy<Value = Vec<Option<i64>>> {
    (
        proptest::option::of(0_i64..=10),
        proptest::option::of(1_i64..=5),
        proptest::option::of(1_i64..=7),
        proptest::option::of(1_i64..=5),
        proptest::option::of(0_i64..=10),
        proptest::option::of(1_i64..=5),
    )
        .prop_map(|(a, b, c, d, e, f)| vec![a, b, c, d, e, f])
}

fn accumulate(rows: &[Vec<Option<i64>>]) -> GroupAccumulator {
    let mut acc = GroupAccumulator::new(&spec());
    for r in rows {
        acc.record(r);
    }
    acc
}

proptest! {
    #[test]
    fn group_merge_equals_whole(rows in proptest::collection::vec(response(), 0..200), cut in 0_usize..200) {
        let cut = cut.min(rows.len());
        let mut merged = accumulate(&rows[..cut]);
        merged.merge(&accumulate(&rows[cut..]));
        let whole = accumulate(&rows);
        prop_assert_eq!(&merged, &whole);
        // And therefore identical figures, down to the last bit.
        prop_assert_eq!(merged.evaluate(&spec()), whole.evaluate(&spec()));
    }

    #[test]
    fn single_metric_merges(values in proptest::collection::vec(-2_i64..13, 0..300), cut in 0_usize..300) {
        let cut = cut.min(values.len());
        let five = Scale::one_to(5).expect("valid");
        let seven = Scale::one_to(7).expect("valid");
        macro_rules! check {
            ($make:expr) => {{
                let (mut a, mut b, mut all) = ($make, $make, $make);
                for v in &values[..cut] { a.update(*v); }
                for v in &values[cut..] { b.update(*v); }
                for v in &values { all.update(*v); }
                a.merge(&b);
                prop_assert_eq!(a, all);
            }};
        }
        check!(Nps::default());
        check!(Csat::new(five));
        check!(Ces::new(seven, CesDirection::HigherIsEasier));
        check!(Dimension::new(five));
    }
}
