//! Survey metrics from the database by push-down: the store returns counts per
//! score value, per group and day (and pair sums for the CSI); this module
//! assigns days to periods with the same [`TimeFilter`] the file scanner uses
//! and hands `cx-core` the same accumulators, so a database gives exactly the
//! figures a file gives.

use std::collections::HashMap;

use cx_core::model::survey::{Question, QuestionKind, SurveyDefinition};
use cx_core::period::{Bucket, Date, Interval, TimeFilter};
use cx_core::survey::Disclosure;
use cx_core::survey::group::{DimensionSpec, GroupAccumulator, MetricsSpec, SlotKind};
use cx_core::survey::report::{BucketStats, MetricsReport, build_report};

use crate::{ResponseSlice, Store, StoreError};

/// A metrics question over one survey's stored responses.
#[derive(Debug, Clone)]
pub struct SurveyMetricsRequest {
    /// What to compute; slots follow [`MetricsSpec::slots`].
    pub spec: MetricsSpec,
    /// The question id feeding each slot.
    pub slot_questions: Vec<String>,
    /// Which responses, grouped how.
    pub slice: ResponseSlice,
    /// Periods, window and comparison (dates are the responses' submission dates).
    pub time: TimeFilter,
}

/// Computes the report for `request` with the store doing the counting.
pub async fn survey_metrics<S: Store>(
    store: &S,
    request: &SurveyMetricsRequest,
) -> Result<MetricsReport, StoreError> {
    let spec = &request.spec;
    let slots = spec.slots();
    // Without periods or a comparison every day of the window counts the same:
    // the store may hand back totals over the window instead of days.
    let mut slice = request.slice.clone();
    if request.time.interval().is_none() && !request.time.compare_previous() {
        let (from, to) = request.time.window();
        slice.collapse = Some((
            from.map_or(i32::MIN, |d| d.days()),
            to.map_or(i32::MAX, |d| d.days()),
        ));
    }
    let slice = &slice;
    let mut groups: HashMap<(Vec<String>, Bucket), GroupAccumulator> = HashMap::new();
    let bucket_of = |day: i32| -> Option<Bucket> {
        if request.time.needs_dates() {
            request.time.bucket(Date::from_days(day))
        } else {
            Some(Bucket::ALL)
        }
    };
    for r in store.day_rows(slice).await? {
        if let Some(b) = bucket_of(r.day) {
            groups
                .entry((r.key, b))
                .or_insert_with(|| GroupAccumulator::new(spec))
                .add_rows(r.count);
        }
    }
    for (slot, question) in slots.iter().zip(&request.slot_questions) {
        let column = match slot.kind {
            SlotKind::Sentiment => crate::ScoreColumn::Sentiment,
            _ => crate::ScoreColumn::Value,
        };
        for s in store.day_scores(slice, question, column).await? {
            let Some(b) = bucket_of(s.day) else { continue };
            let acc = groups
                .entry((s.key, b))
                .or_insert_with(|| GroupAccumulator::new(spec));
            match slot.kind {
                SlotKind::Nps => acc
                    .nps_mut()
                    .map(|m| m.counts_mut().add_count(s.value, s.count)),
                SlotKind::Csat => acc
                    .csat_mut()
                    .map(|m| m.counts_mut().add_count(s.value, s.count)),
                SlotKind::Ces => acc.ces_mut().map(|m| m.add_count(s.value, s.count)),
                SlotKind::Sentiment => acc
                    .sentiment_mut()
                    .map(|m| m.counts_mut().add_count(s.value, s.count)),
                SlotKind::Dim(i) => {
                    Some(acc.dims_mut()[i].counts_mut().add_count(s.value, s.count))
                }
            };
        }
    }
    // Pair sums between dimensions, for the CSI interval.
    let dims: Vec<(usize, &String)> = slots
        .iter()
        .zip(&request.slot_questions)
        .filter_map(|(s, q)| match s.kind {
            SlotKind::Dim(i) => Some((i, q)),
            _ => None,
        })
        .collect();
    if dims.len() > 1 {
        let questions: Vec<String> = dims.iter().map(|(_, q)| (*q).clone()).collect();
        for (a, b, p) in store.day_pairs_all(slice, &questions).await? {
            let Some(bucket) = bucket_of(p.day) else {
                continue;
            };
            let acc = groups
                .entry((p.key, bucket))
                .or_insert_with(|| GroupAccumulator::new(spec));
            acc.pairs_mut()
                .add_pair(dims[a].0, dims[b].0, p.n, p.sum_x, p.sum_y, p.sum_xy);
        }
    }
    let buckets = groups
        .into_iter()
        .map(|((key, bucket), stats)| BucketStats { key, bucket, stats })
        .collect();
    Ok(build_report(
        spec,
        &request.slice.by,
        &request.time,
        buckets,
        Vec::new(),
    ))
}

/// The parameters of a metrics question about a stored survey, as text: the
/// CLI's flags and the HTTP endpoint's query parameters both come here, so both
/// give the same answer and the same errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsQuery {
    /// `--nps` question id.
    pub nps: Option<String>,
    /// `--csat` question id.
    pub csat: Option<String>,
    /// `--ces` question id.
    pub ces: Option<String>,
    /// `--sentiment ID`: an open-text question whose comments' polarity is counted.
    pub sentiment: Option<String>,
    /// `--dim NAME=ID` or `--dim ID`.
    pub dim: Vec<String>,
    /// `--weights NAME=W,…`.
    pub weights: Option<String>,
    /// `--by` fields.
    pub by: Vec<String>,
    /// `--interval`.
    pub interval: Option<String>,
    /// `--from`.
    pub from: Option<String>,
    /// `--to`.
    pub to: Option<String>,
    /// `--where COL=VALUE`.
    pub filters: Vec<String>,
    /// `--compare previous`.
    pub compare: bool,
    /// `--anonymous` (an anonymous survey always is).
    pub anonymous: bool,
}

impl MetricsQuery {
    /// The request for `survey`, or what is wrong with the parameters.
    pub fn resolve(&self, survey: &crate::StoredSurvey) -> Result<SurveyMetricsRequest, String> {
        let time = time_filter(
            self.interval.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
            self.compare,
            &self.by,
        )?;
        let filters = parse_filters(&self.filters)?;
        let (spec, slot_questions) = self.survey_spec(&survey.definition)?;
        Ok(SurveyMetricsRequest {
            spec,
            slot_questions,
            slice: ResponseSlice {
                survey: survey.id,
                by: self.by.clone(),
                filters,
                collapse: None,
            },
            time,
        })
    }

    /// The questions named, or every rated question when none is named. Scales
    /// and directions come from the survey.
    fn survey_spec(&self, survey: &SurveyDefinition) -> Result<(MetricsSpec, Vec<String>), String> {
        let named = self.nps.is_some()
            || self.csat.is_some()
            || self.ces.is_some()
            || self.sentiment.is_some()
            || !self.dim.is_empty();
        let question =
            |id: &str, kinds: &[QuestionKind], flag: &str| -> Result<&Question, String> {
                let q = survey.question(id).ok_or_else(|| {
                    let ids: Vec<&str> = survey.questions.iter().map(|q| q.id.as_str()).collect();
                    format!(
                        "{flag} {id:?}: the survey has no such question (questions: {})",
                        ids.join(", ")
                    )
                })?;
                if !kinds.contains(&q.kind) {
                    return Err(format!(
                        "{flag} {id:?}: that question is a {:?} question",
                        q.kind
                    ));
                }
                Ok(q)
            };
        let pick = |flag: &Option<String>,
                    kind: QuestionKind,
                    name: &str|
         -> Result<Option<&Question>, String> {
            match flag {
                Some(id) => question(id, &[kind], name).map(Some),
                None if !named => Ok(survey.first_of(kind)),
                None => Ok(None),
            }
        };
        let nps = pick(&self.nps, QuestionKind::Nps, "--nps")?;
        let csat = pick(&self.csat, QuestionKind::Csat, "--csat")?;
        let ces = pick(&self.ces, QuestionKind::Ces, "--ces")?;
        let sentiment = match &self.sentiment {
            Some(id) => Some(question(id, &[QuestionKind::Text], "--sentiment")?),
            None => None,
        };
        let mut dims: Vec<(String, &Question)> = Vec::new();
        if named {
            for text in &self.dim {
                let (name, id) = match text.split_once('=') {
                    Some((n, q)) => (n.trim().to_string(), q.trim()),
                    None => (String::new(), text.trim()),
                };
                let q = question(
                    id,
                    &[QuestionKind::Rating, QuestionKind::Csat, QuestionKind::Ces],
                    "--dim",
                )?;
                let name = if name.is_empty() {
                    q.dimension.clone().unwrap_or_else(|| q.id.clone())
                } else {
                    name
                };
                dims.push((name, q));
            }
        } else {
            for q in survey
                .questions
                .iter()
                .filter(|q| q.kind == QuestionKind::Rating)
            {
                dims.push((q.dimension.clone().unwrap_or_else(|| q.id.clone()), q));
            }
        }
        let scale = |q: &Question| {
            q.rating_scale()
                .ok_or_else(|| format!("question {:?} has no rating scale", q.id))
        };
        let mut slot_questions = Vec::new();
        slot_questions.extend(nps.map(|q| q.id.clone()));
        slot_questions.extend(csat.map(|q| q.id.clone()));
        slot_questions.extend(ces.map(|q| q.id.clone()));
        slot_questions.extend(sentiment.map(|q| q.id.clone()));
        slot_questions.extend(dims.iter().map(|(_, q)| q.id.clone()));
        let dim_specs = dims
            .iter()
            .map(|(name, q)| {
                Ok(DimensionSpec {
                    name: name.clone(),
                    scale: scale(q)?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let weights = match &self.weights {
            None => Vec::new(),
            Some(text) => parse_weights(text, &dim_specs)?,
        };
        let spec = MetricsSpec {
            nps: nps.is_some(),
            csat: csat.map(scale).transpose()?,
            ces: ces
                .map(|q| Ok::<_, String>((scale(q)?, q.direction.unwrap_or_default())))
                .transpose()?,
            sentiment: sentiment.is_some(),
            dims: dim_specs,
            weights,
            disclosure: Disclosure {
                anonymous: self.anonymous || survey.anonymous,
            },
        };
        spec.validate().map_err(|e| e.to_string())?;
        Ok((spec, slot_questions))
    }
}

/// `--interval`, `--from`, `--to`, `--compare` as a [`TimeFilter`].
pub fn time_filter(
    interval: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    compare: bool,
    by: &[String],
) -> Result<TimeFilter, String> {
    let date = |flag: &str, text: Option<&str>| -> Result<Option<Date>, String> {
        text.map(|t| {
            Date::parse(t).ok_or_else(|| {
                format!(
                    "{flag} {t:?} is not a date; write it like 2026-03-01, 2026/3/1 or 2026年3月1日"
                )
            })
        })
        .transpose()
    };
    let interval = interval
        .map(Interval::parse)
        .transpose()
        .map_err(|e| e.to_string())?;
    let time = TimeFilter::new(interval, date("--from", from)?, date("--to", to)?, compare)
        .map_err(|e| e.to_string())?;
    if interval.is_some() && by.iter().any(|b| b == "period") {
        return Err(
            "--by period clashes with the period that --interval adds to each group's key".into(),
        );
    }
    Ok(time)
}

/// `COL=VALUE` filters, values for one column gathered as alternatives.
pub fn parse_filters(texts: &[String]) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut filters: Vec<(String, Vec<String>)> = Vec::new();
    for text in texts {
        let (col, value) = text.split_once('=').ok_or_else(|| {
            format!("--where {text:?}: write it as COL=VALUE, e.g. --where region=华东")
        })?;
        let col = col.trim().to_string();
        match filters.iter_mut().find(|(c, _)| *c == col) {
            Some((_, values)) => values.push(value.to_string()),
            None => filters.push((col, vec![value.to_string()])),
        }
    }
    Ok(filters)
}

/// `NAME=W,NAME=W,…`, one weight per dimension.
pub fn parse_weights(text: &str, dims: &[DimensionSpec]) -> Result<Vec<f64>, String> {
    let mut weights = vec![None; dims.len()];
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, w) = part.split_once('=').ok_or_else(|| {
            format!("--weights {part:?}: write NAME=WEIGHT, e.g. product_quality=2")
        })?;
        let i = dims
            .iter()
            .position(|d| d.name == name.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = dims.iter().map(|d| d.name.as_str()).collect();
                format!(
                    "--weights: no dimension {:?}; the dimensions are: {}",
                    name.trim(),
                    names.join(", ")
                )
            })?;
        weights[i] = Some(
            w.trim()
                .parse::<f64>()
                .map_err(|_| format!("--weights {part:?}: not a number"))?,
        );
    }
    weights
        .into_iter()
        .zip(dims)
        .map(|(w, d)| w.ok_or_else(|| format!("--weights: no weight for dimension {:?}", d.name)))
        .collect()
}
