//! What to compute (`MetricsSpec`) and the per-group accumulator that carries
//! every requested metric through a scan (`GroupAccumulator`).

use serde::Serialize;
use serde::ser::SerializeMap;

use super::ces::{Ces, CesDirection, CesFigures};
use super::csat::{Csat, CsatFigures};
use super::csi::CsiPairs;
use super::dimension::{Dimension, DimensionFigures};
use super::nps::{Nps, NpsFigures};
use super::scale::Scale;
use super::sentiment::{POLARITY, Sentiment, SentimentFigures};
use super::{Disclosure, SMALL_SAMPLE};
use crate::error::CoreError;
use crate::stats::Interval;

/// A rated dimension to report, with its scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionSpec {
    /// Name shown in reports (`product_quality`).
    pub name: String,
    /// The rating scale (default 1–5).
    pub scale: Scale,
}

/// Which metrics to compute and how.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSpec {
    /// Compute NPS (0–10).
    pub nps: bool,
    /// Compute CSAT on this scale.
    pub csat: Option<Scale>,
    /// Compute CES on this scale and direction.
    pub ces: Option<(Scale, CesDirection)>,
    /// Count the polarity (−1, 0, 1) of a comment (feedback polarity, SPEC §1).
    pub sentiment: bool,
    /// Rated dimensions, in report order.
    pub dims: Vec<DimensionSpec>,
    /// CSI weights by dimension position; empty = equal weights.
    pub weights: Vec<f64>,
    /// Anonymous surveys suppress small groups.
    pub disclosure: Disclosure,
}

/// Which metric a value slot feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKind {
    /// The NPS question.
    Nps,
    /// The CSAT question.
    Csat,
    /// The CES question.
    Ces,
    /// A comment's polarity (−1, 0, 1).
    Sentiment,
    /// Rated dimension `i` of [`MetricsSpec::dims`].
    Dim(usize),
}

/// One value a row contributes: which metric, and the scale the answer must be on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The metric.
    pub kind: SlotKind,
    /// The questionnaire's scale (answers off it are excluded and reported).
    pub scale: Scale,
    /// Name used in reports and messages (`nps`, `csat`, `ces` or the dimension).
    pub name: String,
}

impl MetricsSpec {
    /// Checks the request: at least one metric, distinct dimension names,
    /// weights that are finite, non-negative and one per dimension.
    pub fn validate(&self) -> Result<(), CoreError> {
        if !self.nps
            && self.csat.is_none()
            && self.ces.is_none()
            && !self.sentiment
            && self.dims.is_empty()
        {
            return Err(CoreError::NoMetrics);
        }
        for (i, d) in self.dims.iter().enumerate() {
            if self.dims[..i].iter().any(|e| e.name == d.name) {
                return Err(CoreError::DuplicateDimension(d.name.clone()));
            }
        }
        if !self.weights.is_empty() {
            if self.weights.len() != self.dims.len() {
                return Err(CoreError::InvalidWeights(format!(
                    "{} weights for {} dimensions",
                    self.weights.len(),
                    self.dims.len()
                )));
            }
            if self.weights.iter().any(|w| !w.is_finite() || *w < 0.0)
                || self.weights.iter().all(|w| *w == 0.0)
            {
                return Err(CoreError::InvalidWeights(
                    "weights must be ≥ 0 and not all 0".into(),
                ));
            }
        }
        Ok(())
    }

    /// The value slots of a row, in the order [`GroupAccumulator::record`] expects:
    /// NPS, CSAT, CES, sentiment, then the dimensions.
    pub fn slots(&self) -> Vec<Slot> {
        let mut slots = Vec::new();
        if self.nps {
            slots.push(Slot {
                kind: SlotKind::Nps,
                scale: Scale::NPS,
                name: "nps".into(),
            });
        }
        if let Some(scale) = self.csat {
            slots.push(Slot {
                kind: SlotKind::Csat,
                scale,
                name: "csat".into(),
            });
        }
        if let Some((scale, _)) = self.ces {
            slots.push(Slot {
                kind: SlotKind::Ces,
                scale,
                name: "ces".into(),
            });
        }
        if self.sentiment {
            slots.push(Slot {
                kind: SlotKind::Sentiment,
                scale: POLARITY,
                name: "sentiment".into(),
            });
        }
        for (i, d) in self.dims.iter().enumerate() {
            slots.push(Slot {
                kind: SlotKind::Dim(i),
                scale: d.scale,
                name: d.name.clone(),
            });
        }
        slots
    }
}

/// All requested metrics for one group (one key, one period).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupAccumulator {
    rows: u64,
    nps: Option<Nps>,
    csat: Option<Csat>,
    ces: Option<Ces>,
    sentiment: Option<Sentiment>,
    dims: Vec<Dimension>,
    pairs: CsiPairs,
}

/// Dimension figures in the order the dimensions were requested.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DimsFigures(pub Vec<(String, DimensionFigures)>);

impl Serialize for DimsFigures {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl DimsFigures {
    /// Whether no dimension was requested.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The figures of dimension `name`.
    pub fn get(&self, name: &str) -> Option<&DimensionFigures> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// The figures of one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupFigures {
    /// Responses (rows) in the group.
    pub n: u64,
    /// NPS figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nps: Option<NpsFigures>,
    /// CSAT figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csat: Option<CsatFigures>,
    /// CES figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ces: Option<CesFigures>,
    /// Feedback polarity: positive / neutral / negative shares.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<SentimentFigures>,
    /// Rated dimensions.
    #[serde(skip_serializing_if = "DimsFigures::is_empty")]
    pub dims: DimsFigures,
    /// Composite satisfaction index, 0–100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csi: Option<f64>,
    /// Delta-method 95% interval of the CSI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csi_ci95: Option<Interval>,
    /// The dimension with the highest index (when two or more are rated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highest_dim: Option<String>,
    /// The dimension with the lowest index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lowest_dim: Option<String>,
    /// Label of the period this group is compared with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_period: Option<String>,
    /// `small_sample` (some figure rests on fewer than 30 answers) and
    /// `suppressed` (anonymous survey, some figure hidden below 5 answers).
    pub warnings: Vec<String>,
}

impl GroupAccumulator {
    /// An empty accumulator for `spec`.
    pub fn new(spec: &MetricsSpec) -> GroupAccumulator {
        GroupAccumulator {
            rows: 0,
            nps: spec.nps.then(Nps::default),
            csat: spec.csat.map(Csat::new),
            ces: spec.ces.map(|(scale, dir)| Ces::new(scale, dir)),
            sentiment: spec.sentiment.then(Sentiment::default),
            dims: spec.dims.iter().map(|d| Dimension::new(d.scale)).collect(),
            pairs: CsiPairs::new(spec.dims.len()),
        }
    }

    /// Records one response: `values` follows [`MetricsSpec::slots`]; `None` is
    /// a blank or excluded answer. Values must already be on their slot's scale.
    #[inline]
    pub fn record(&mut self, values: &[Option<i64>]) {
        self.rows += 1;
        let mut i = 0;
        if let Some(nps) = &mut self.nps {
            if let Some(v) = values[i] {
                nps.update(v);
            }
            i += 1;
        }
        if let Some(csat) = &mut self.csat {
            if let Some(v) = values[i] {
                csat.update(v);
            }
            i += 1;
        }
        if let Some(ces) = &mut self.ces {
            if let Some(v) = values[i] {
                ces.update(v);
            }
            i += 1;
        }
        if let Some(sentiment) = &mut self.sentiment {
            if let Some(v) = values[i] {
                sentiment.update(v);
            }
            i += 1;
        }
        let dim_values = &values[i..];
        for (d, v) in self.dims.iter_mut().zip(dim_values) {
            if let Some(v) = v {
                d.update(*v);
            }
        }
        if self.dims.len() > 1 {
            self.pairs.update(dim_values);
        }
    }

    /// Adds another group's statistics (same spec).
    pub fn merge(&mut self, other: &GroupAccumulator) {
        self.rows += other.rows;
        if let (Some(a), Some(b)) = (&mut self.nps, &other.nps) {
            a.merge(b);
        }
        if let (Some(a), Some(b)) = (&mut self.csat, &other.csat) {
            a.merge(b);
        }
        if let (Some(a), Some(b)) = (&mut self.ces, &other.ces) {
            a.merge(b);
        }
        if let (Some(a), Some(b)) = (&mut self.sentiment, &other.sentiment) {
            a.merge(b);
        }
        for (a, b) in self.dims.iter_mut().zip(&other.dims) {
            a.merge(b);
        }
        self.pairs.merge(&other.pairs);
    }

    /// Responses recorded.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Adds `n` responses to the row count (push-down backends).
    pub fn add_rows(&mut self, n: u64) {
        self.rows += n;
    }

    /// The NPS accumulator, when requested.
    pub fn nps_mut(&mut self) -> Option<&mut Nps> {
        self.nps.as_mut()
    }

    /// The CSAT accumulator, when requested.
    pub fn csat_mut(&mut self) -> Option<&mut Csat> {
        self.csat.as_mut()
    }

    /// The CES accumulator, when requested.
    pub fn ces_mut(&mut self) -> Option<&mut Ces> {
        self.ces.as_mut()
    }

    /// The sentiment accumulator, when requested.
    pub fn sentiment_mut(&mut self) -> Option<&mut Sentiment> {
        self.sentiment.as_mut()
    }

    /// The dimension accumulators, in spec order.
    pub fn dims_mut(&mut self) -> &mut [Dimension] {
        &mut self.dims
    }

    /// The CSI pair sums.
    pub fn pairs_mut(&mut self) -> &mut CsiPairs {
        &mut self.pairs
    }

    /// Evaluates every metric.
    pub fn evaluate(&self, spec: &MetricsSpec) -> GroupFigures {
        let disclosure = spec.disclosure;
        let group_hidden = disclosure.flags(self.rows).1;
        // In a group too small to show, every metric has n < 5 too and is hidden.
        let d = disclosure;
        let mut f = GroupFigures {
            n: self.rows,
            nps: self.nps.as_ref().map(|m| m.evaluate(d)),
            csat: self.csat.as_ref().map(|m| m.evaluate(d)),
            ces: self.ces.as_ref().map(|m| m.evaluate(d)),
            sentiment: self.sentiment.as_ref().map(|m| m.evaluate(d)),
            dims: DimsFigures(
                spec.dims
                    .iter()
                    .zip(&self.dims)
                    .map(|(s, m)| (s.name.clone(), m.evaluate(d)))
                    .collect(),
            ),
            csi: None,
            csi_ci95: None,
            highest_dim: None,
            lowest_dim: None,
            previous_period: None,
            warnings: Vec::new(),
        };
        // A CSI built on a hidden dimension would reveal it (CSI minus the others).
        let any_dim_hidden = f.dims.0.iter().any(|(_, d)| d.suppressed);
        if !group_hidden && !self.dims.is_empty() && !any_dim_hidden {
            if let Some(csi) = self.pairs.evaluate(&self.dims, &spec.weights) {
                f.csi = Some(csi.value);
                f.csi_ci95 = csi.ci95;
            }
            let rated: Vec<(&str, f64)> = f
                .dims
                .0
                .iter()
                .filter_map(|(name, fig)| fig.index.map(|i| (name.as_str(), i)))
                .collect();
            if rated.len() >= 2 {
                let by_index = |a: &&(&str, f64), b: &&(&str, f64)| a.1.total_cmp(&b.1);
                f.highest_dim = rated.iter().max_by(by_index).map(|(n, _)| n.to_string());
                f.lowest_dim = rated.iter().min_by(by_index).map(|(n, _)| n.to_string());
            }
        }
        let mut small = self.rows > 0 && self.rows < SMALL_SAMPLE;
        let mut suppressed = group_hidden && self.rows > 0;
        let mut note = |s: bool, h: bool| {
            small |= s;
            suppressed |= h;
        };
        if let Some(m) = &f.nps {
            note(m.small_sample, m.suppressed);
        }
        if let Some(m) = &f.csat {
            note(m.small_sample, m.suppressed);
        }
        if let Some(m) = &f.ces {
            note(m.small_sample, m.suppressed);
        }
        if let Some(m) = &f.sentiment {
            note(m.small_sample, m.suppressed);
        }
        for (_, m) in &f.dims.0 {
            note(m.small_sample, m.suppressed);
        }
        if small && !group_hidden {
            f.warnings.push("small_sample".into());
        }
        if suppressed {
            f.warnings.push("suppressed".into());
        }
        f
    }

    /// Adds the changes against `previous` to `figures` (skipping hidden figures).
    pub fn compare_into(
        &self,
        previous: &GroupAccumulator,
        figures: &mut GroupFigures,
        disclosure: Disclosure,
    ) {
        // In an anonymous survey the previous figure is shown through `previous`
        // and `diff`, so it must itself be big enough to show.
        let shown_before = |n: u64| !disclosure.flags(n).1 && !disclosure.flags(previous.rows).1;
        if let (Some(cur), Some(prev), Some(f)) = (&self.nps, &previous.nps, &mut figures.nps)
            && !f.suppressed
            && shown_before(prev.counts().n())
        {
            f.change = Some(cur.compare(prev)).filter(|c| !c.is_empty());
        }
        if let (Some(cur), Some(prev), Some(f)) = (&self.csat, &previous.csat, &mut figures.csat)
            && !f.suppressed
            && shown_before(prev.counts().n())
        {
            f.change = Some(cur.compare(prev)).filter(|c| !c.is_empty());
        }
        if let (Some(cur), Some(prev), Some(f)) = (&self.ces, &previous.ces, &mut figures.ces)
            && !f.suppressed
            && shown_before(prev.ease_counts().n())
        {
            f.change = Some(cur.compare(prev)).filter(|c| !c.is_empty());
        }
        if let (Some(cur), Some(prev), Some(f)) =
            (&self.sentiment, &previous.sentiment, &mut figures.sentiment)
            && !f.suppressed
            && shown_before(prev.n())
        {
            f.change = Some(cur.compare(prev)).filter(|c| !c.is_empty());
        }
        for ((cur, prev), (_, f)) in self
            .dims
            .iter()
            .zip(&previous.dims)
            .zip(figures.dims.0.iter_mut())
        {
            if !f.suppressed && shown_before(prev.counts().n()) {
                f.change = Some(cur.compare(prev)).filter(|c| !c.is_empty());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(anonymous: bool) -> MetricsSpec {
        let five = Scale::one_to(5).expect("valid");
        MetricsSpec {
            nps: true,
            csat: None,
            ces: None,
            sentiment: false,
            dims: vec![
                DimensionSpec {
                    name: "a".into(),
                    scale: five,
                },
                DimensionSpec {
                    name: "b".into(),
                    scale: five,
                },
            ],
            weights: vec![],
            disclosure: Disclosure { anonymous },
        }
    }

    #[test]
    fn anonymous_csi_never_reveals_a_hidden_dimension() {
        let mut acc = GroupAccumulator::new(&spec(true));
        for i in 0..6 {
            // Only two respondents rated `a`.
            let a = (i < 2).then_some(5);
            acc.record(&[Some(9), a, Some(3)]);
        }
        let f = acc.evaluate(&spec(true));
        assert!(
            f.dims
                .get("a")
                .is_some_and(|d| d.suppressed && d.mean.is_none())
        );
        assert_eq!(f.csi, None);
        assert!(f.warnings.contains(&"suppressed".to_string()));
        // Not anonymous: everything shown, with a small-sample warning.
        let f = acc.evaluate(&spec(false));
        assert_eq!(f.csi, Some(75.0));
        assert_eq!(f.warnings, vec!["small_sample".to_string()]);
    }

    #[test]
    fn anonymous_comparison_never_reveals_a_small_previous_period() {
        let (mut now, mut before) = (
            GroupAccumulator::new(&spec(true)),
            GroupAccumulator::new(&spec(true)),
        );
        for _ in 0..10 {
            now.record(&[Some(10), Some(4), Some(4)]);
        }
        for _ in 0..3 {
            before.record(&[Some(0), Some(1), Some(1)]);
        }
        let mut f = now.evaluate(&spec(true));
        now.compare_into(&before, &mut f, Disclosure { anonymous: true });
        assert!(f.nps.as_ref().is_some_and(|n| n.change.is_none()));
        now.compare_into(&before, &mut f, Disclosure { anonymous: false });
        assert!(f.nps.as_ref().is_some_and(|n| n.change.is_some()));
    }
}
