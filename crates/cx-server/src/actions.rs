//! Improvement actions linked to the metric they target, and that metric's
//! change since the action started: the survey metric over [start, today]
//! against the equally long window before the start (the same push-down and
//! tests as `cxscore metrics --from START --to TODAY --compare previous`).

use cx_core::model::survey::QuestionKind;
use cx_core::period::Date;
use cx_store::AnyStore;
use cx_store::Store;
use cx_store::followup::Action;
use cx_store::metrics::{MetricsQuery, survey_metrics};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiError;

/// An action to record.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAction {
    /// What is done.
    pub title: String,
    /// The survey (id or slug).
    pub survey: String,
    /// `nps`, `csat`, `ces` or `dim:NAME` (a rated dimension of the survey).
    pub metric: String,
    /// `COL=VALUE` filters, e.g. `region=华东`.
    #[serde(default)]
    pub filters: Vec<String>,
    /// Who.
    pub owner: Option<String>,
    /// Since when (default: today).
    pub started_on: Option<String>,
}

/// The metric's change since an action started.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Effect {
    /// The figure compared: NPS score, CSAT top-2 %, CES mean or a dimension's mean.
    pub figure: String,
    /// Answers since the start.
    pub n: u64,
    /// Its value since the start.
    pub since: Option<f64>,
    /// Its value in the equally long window before.
    pub before: Option<f64>,
    /// `since − before`.
    pub change: Option<f64>,
    /// The test's p-value.
    pub p_value: Option<f64>,
    /// Significant at 0.05.
    pub significant: Option<bool>,
    /// The windows compared.
    pub windows: [String; 2],
}

/// An action with its effect.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ActionView {
    /// The action.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub action: Action,
    /// The metric's change since it started (none when it starts today or later).
    pub effect: Option<Effect>,
    /// Why there is no effect, when it could not be computed (e.g. the survey was deleted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Checks an action against its survey; returns it ready to store.
pub async fn check(store: &AnyStore, a: &NewAction, today: i32) -> Result<Action, ApiError> {
    let title = a.title.trim();
    if title.is_empty() {
        return Err(ApiError::invalid_field("title", "say what the action is"));
    }
    let survey = store.survey(&a.survey).await?;
    let def = &survey.definition;
    let metric = a.metric.trim();
    let known = match metric {
        "nps" => def.first_of(QuestionKind::Nps).is_some(),
        "csat" => def.first_of(QuestionKind::Csat).is_some(),
        "ces" => def.first_of(QuestionKind::Ces).is_some(),
        m => m.strip_prefix("dim:").is_some_and(|d| {
            def.questions.iter().any(|q| {
                q.dimension.as_deref() == Some(d) || (q.id == d && q.kind == QuestionKind::Rating)
            })
        }),
    };
    if !known {
        let dims: Vec<String> = def
            .questions
            .iter()
            .filter(|q| q.kind == QuestionKind::Rating)
            .map(|q| format!("dim:{}", q.dimension.as_deref().unwrap_or(&q.id)))
            .collect();
        return Err(ApiError::invalid_field(
            "metric",
            format!(
                "{metric:?} is not a metric of survey {}: use nps, csat, ces or {}",
                def.slug,
                dims.join(", ")
            ),
        ));
    }
    cx_store::metrics::parse_filters(&a.filters)
        .map_err(|e| ApiError::invalid_field("filters", e))?;
    let started = match a
        .started_on
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => Date::parse(s).ok_or_else(|| {
            ApiError::invalid_field("started_on", format!("{s:?} is not a date (2026-09-01)"))
        })?,
        None => Date::from_days(today),
    };
    Ok(Action {
        id: 0,
        title: title.to_string(),
        survey: def.slug.clone(),
        metric: metric.to_string(),
        filters: a.filters.iter().map(|f| f.trim().to_string()).collect(),
        owner: a.owner.clone().filter(|o| !o.trim().is_empty()),
        started_on: started.to_string(),
        status: "active".into(),
        created_at: String::new(),
    })
}

/// The metric's change since the action started, as of `today`.
pub async fn effect(store: &AnyStore, a: &Action, today: i32) -> Result<Option<Effect>, ApiError> {
    let Some(start) = Date::parse(&a.started_on) else {
        return Ok(None);
    };
    if start.days() >= today {
        return Ok(None);
    }
    let survey = store.survey(&a.survey).await?;
    let def = &survey.definition;
    let question = |kind| def.first_of(kind).map(|q| q.id.clone());
    let mut q = MetricsQuery {
        from: Some(start.to_string()),
        to: Some(Date::from_days(today).to_string()),
        compare: true,
        filters: a.filters.clone(),
        ..MetricsQuery::default()
    };
    let (section, figure, label) = match a.metric.as_str() {
        "nps" => {
            q.nps = question(QuestionKind::Nps);
            ("nps".to_string(), "score", "NPS")
        }
        "csat" => {
            q.csat = question(QuestionKind::Csat);
            ("csat".to_string(), "top2_pct", "CSAT top-2 %")
        }
        "ces" => {
            q.ces = question(QuestionKind::Ces);
            ("ces".to_string(), "mean", "CES mean")
        }
        m => {
            let d = m.trim_start_matches("dim:");
            let Some(qn) = def
                .questions
                .iter()
                .find(|x| x.dimension.as_deref() == Some(d) || x.id == d)
            else {
                return Ok(None);
            };
            q.dim = vec![format!("{d}={}", qn.id)];
            (format!("dims.{d}"), "mean", "mean")
        }
    };
    let request = q
        .resolve(&survey)
        .map_err(|e| ApiError::invalid_field("metric", e))?;
    let report = survey_metrics(store, &request).await?;
    let json = serde_json::to_value(&report).unwrap_or(Value::Null);
    let group = &json["groups"][0];
    let node = section.split('.').fold(group, |v, k| &v[k]);
    let change = &node["change"][figure];
    let window_days = today - start.days() + 1;
    Ok(Some(Effect {
        figure: format!("{label} ({})", a.metric),
        n: node["n"].as_u64().unwrap_or(0),
        since: node[figure].as_f64(),
        before: change["previous"].as_f64(),
        change: change["diff"].as_f64(),
        p_value: change["p_value"].as_f64(),
        significant: change["significant"].as_bool(),
        windows: [
            format!("{} – {}", start.add_days(-window_days), start.add_days(-1)),
            format!("{start} – {}", Date::from_days(today)),
        ],
    }))
}

/// Every action with its effect, newest first.
pub async fn views(store: &AnyStore, today: i32) -> Result<Vec<ActionView>, ApiError> {
    use cx_store::followup::FollowUpStore;
    let mut out = Vec::new();
    for action in store.actions().await? {
        // One action whose survey is gone must not hide the others.
        let (effect, problem) = match effect(store, &action, today).await {
            Ok(e) => (e, None),
            Err(e) => (None, Some(e.message())),
        };
        out.push(ActionView {
            action,
            effect,
            problem,
        });
    }
    Ok(out)
}
