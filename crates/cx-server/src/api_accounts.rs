//! The API of accounts and closing the loop: account scores with their
//! reasons and people (`/accounts`), the company's scorecard and loop rules,
//! follow-up tasks (`/tasks`) and outgoing webhooks (`/webhooks`).

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use cx_core::account::rules::{TaskStatus, TeamLoopFigures};
use cx_core::account::scorecard::Scorecard;
use cx_store::accounts::{AccountScore, score_accounts};
use cx_store::followup::{FollowUpStore, TaskQuery};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Shared;
use crate::auth::{Caller, Need, random_token};
use crate::error::ApiError;
use crate::followup::{self, TaskUpdate, TaskView, UpdateError};

/// Routes, merged under `/api/v1`.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/accounts", get(list_accounts))
        .route("/accounts/{code}", get(get_account))
        .route(
            "/accounts/{code}/assessments",
            axum::routing::put(put_assessment),
        )
        .route("/scorecard", get(get_scorecard).put(put_scorecard))
        .route("/loop-rules", get(get_rules).put(put_rules))
        .route("/tasks", get(list_tasks))
        .route("/tasks/metrics", get(task_metrics))
        .route("/tasks/{id}", get(get_task).patch(patch_task))
        .route("/actions", get(list_actions).post(create_action))
        .route("/actions/{id}", axum::routing::patch(patch_action))
        .route("/webhooks", get(list_webhooks).post(create_webhook))
        .route("/webhooks/{id}", delete(delete_webhook))
        .route("/webhooks/{id}/deliveries", get(list_deliveries))
        .route(
            "/webhooks/{id}/deliveries/{delivery}/redeliver",
            axum::routing::post(redeliver),
        )
}

/// Today's day number (UTC).
pub(crate) fn today() -> i32 {
    crate::unix_now().div_euclid(86_400) as i32
}

/// Every account's score as of today, with the company's scorecard.
pub(crate) async fn all_scores(state: &Shared) -> Result<(Scorecard, Vec<AccountScore>), ApiError> {
    let card = followup::current_scorecard(&state.store).await?;
    let scores = scores_at(state, &card, today()).await?;
    Ok((card, scores.as_ref().clone()))
}

/// Every account's score at `day` under `card`, from the minute-long cache.
pub(crate) async fn scores_at(
    state: &Shared,
    card: &Scorecard,
    day: i32,
) -> Result<std::sync::Arc<Vec<AccountScore>>, ApiError> {
    let key = format!("{day}:{}", card.to_json());
    if let Some(hit) = state.scores.get(&key) {
        return Ok(hit);
    }
    let scores = std::sync::Arc::new(score_accounts(&state.store, card, day, None).await?);
    state.scores.put(&key, scores.clone());
    Ok(scores)
}

/// An account in the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountRow {
    /// Customer code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Tier.
    pub tier: String,
    /// Region.
    pub region: String,
    /// Sales team.
    pub sales_team: String,
    /// Owner.
    pub owner: String,
    /// Composite customer score 0–100.
    pub score: Option<f64>,
    /// A, B, C, D or insufficient.
    pub grade: String,
    /// healthy, at_risk, critical or unknown.
    pub health: String,
    /// Share of the scorecard's weight with data.
    pub coverage: f64,
    /// Relationship score 0–100.
    pub relationship: Option<f64>,
    /// NPS over the trailing year.
    pub nps: Option<f64>,
    /// Revenue in the trailing year.
    pub revenue: f64,
    /// Open tasks.
    pub open_tasks: u64,
    /// The components that cost the most points, worst first.
    pub reasons: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct AccountParams {
    tier: Option<String>,
    health: Option<String>,
    q: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/accounts", params(("tier" = Option<String>, Query, description = "only this tier, e.g. key"),
    ("health" = Option<String>, Query, description = "healthy, at_risk, critical or unknown"), ("q" = Option<String>, Query, description = "code or name contains")),
    responses((status = 200, body = [AccountRow])))]
async fn list_accounts(
    State(state): State<Shared>,
    caller: Caller,
    Query(p): Query<AccountParams>,
) -> Result<Json<Vec<AccountRow>>, ApiError> {
    caller.require(Need::Read)?;
    caller.require_all_surveys()?;
    let (_, scores) = all_scores(&state).await?;
    let q =
        p.q.as_deref()
            .map(str::to_lowercase)
            .filter(|q| !q.is_empty());
    Ok(Json(
        scores
            .into_iter()
            .filter(|s| {
                p.tier
                    .as_deref()
                    .is_none_or(|t| t.is_empty() || s.account.tier == t)
            })
            .filter(|s| {
                p.health
                    .as_deref()
                    .is_none_or(|h| h.is_empty() || s.score.health.as_str() == h)
            })
            .filter(|s| {
                q.as_deref().is_none_or(|q| {
                    s.account.code.to_lowercase().contains(q)
                        || s.account.name.to_lowercase().contains(q)
                })
            })
            .map(|s| AccountRow {
                reasons: s
                    .score
                    .reasons(3)
                    .iter()
                    .map(|c| c.component.as_str().to_string())
                    .collect(),
                code: s.account.code,
                name: s.account.name,
                tier: s.account.tier,
                region: s.account.region,
                sales_team: s.account.sales_team,
                owner: s.account.owner,
                score: s.score.score,
                grade: s.score.grade.as_str().to_string(),
                health: s.score.health.as_str().to_string(),
                coverage: s.score.coverage,
                relationship: s.relationship.score,
                nps: s.facts.nps,
                revenue: s.facts.revenue,
                open_tasks: s.facts.open_tasks,
            })
            .collect(),
    ))
}

/// One account's score at an earlier day.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPoint {
    /// The day (the end of a quarter, or today).
    pub date: String,
    /// Its composite score.
    pub score: Option<f64>,
    /// Its grade.
    pub grade: String,
    /// Its relationship score.
    pub relationship: Option<f64>,
}

/// An account with everything behind its score.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountDetail {
    /// The score, its components, the relationship (people, dimensions, flags) and the raw figures.
    #[schema(value_type = Object)]
    #[serde(flatten)]
    pub score: AccountScore,
    /// Scores at the end of the last four quarters and today.
    pub history: Vec<HistoryPoint>,
    /// Tasks not yet resolved.
    #[schema(value_type = Vec<Object>)]
    pub open_tasks: Vec<cx_store::followup::StoredTask>,
}

/// The scores at the ends of the last four quarters, then today.
pub(crate) async fn history(
    state: &Shared,
    card: &Scorecard,
    code: &str,
) -> Result<Vec<HistoryPoint>, ApiError> {
    use cx_core::period::Date;
    let day = today();
    // The first day of the quarter holding `d`.
    let quarter_start = |d: Date| {
        let (y, m, _) = d.ymd();
        Date::from_ymd(y, (m - 1) / 3 * 3 + 1, 1).unwrap_or(d)
    };
    let mut days = Vec::with_capacity(5);
    let mut end = quarter_start(Date::from_days(day)).add_days(-1);
    for _ in 0..4 {
        days.push(end.days());
        end = quarter_start(end).add_days(-1);
    }
    days.reverse();
    days.push(day);
    let mut out = Vec::with_capacity(days.len());
    for d in days {
        let scores = scores_at(state, card, d).await?;
        if let Some(s) = scores.iter().find(|s| s.account.code == code) {
            out.push(HistoryPoint {
                date: Date::from_days(d).to_string(),
                score: s.score.score,
                grade: s.score.grade.as_str().to_string(),
                relationship: s.relationship.score,
            });
        }
    }
    Ok(out)
}

#[utoipa::path(get, path = "/api/v1/accounts/{code}", params(("code" = String, Path, description = "customer code")),
    responses((status = 200, body = AccountDetail), (status = 404, body = crate::error::ErrorBody)))]
async fn get_account(
    State(state): State<Shared>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<Json<AccountDetail>, ApiError> {
    caller.require(Need::Read)?;
    caller.require_all_surveys()?;
    let (card, scores) = all_scores(&state).await?;
    let score = scores
        .into_iter()
        .find(|s| s.account.code == code)
        .ok_or_else(|| ApiError::not_found(format!("no account {code:?}")))?;
    let history = history(&state, &card, &code).await?;
    let open_tasks = state
        .store
        .tasks(
            &TaskQuery {
                status: Some("active".into()),
                account: Some(code.clone()),
                limit: 100,
                ..TaskQuery::default()
            },
            crate::unix_now(),
        )
        .await?;
    Ok(Json(AccountDetail {
        score,
        history,
        open_tasks,
    }))
}

#[utoipa::path(get, path = "/api/v1/scorecard", responses((status = 200, description = "the scorecard in force (weights, standards, grades)")))]
async fn get_scorecard(State(state): State<Shared>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Need::Read)?;
    let card = followup::current_scorecard(&state.store).await?;
    Ok(json_text(StatusCode::OK, card.to_json()))
}

fn json_text(status: StatusCode, text: String) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response()
}

#[utoipa::path(put, path = "/api/v1/scorecard", request_body(content = Object, description = "weights, standards, grades, min_coverage"),
    responses((status = 200, description = "the scorecard now in force"), (status = 422, body = crate::error::ErrorBody)))]
async fn put_scorecard(
    State(state): State<Shared>,
    caller: Caller,
    body: bytes::Bytes,
) -> Result<Response, ApiError> {
    caller.require(Need::Manage)?;
    let text =
        std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    let card = Scorecard::from_json(text)
        .map_err(|e| ApiError::invalid_field("scorecard", e.to_string()))?;
    let saved = card.to_json();
    state
        .store
        .set_setting(followup::SCORECARD_KEY, &saved)
        .await?;
    Ok(json_text(StatusCode::OK, saved))
}

#[utoipa::path(get, path = "/api/v1/loop-rules", responses((status = 200, description = "the close-the-loop rules in force")))]
async fn get_rules(State(state): State<Shared>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Need::Read)?;
    let rules = followup::current_rules(&state.store).await?;
    Ok(json_text(
        StatusCode::OK,
        serde_json::to_string_pretty(&rules).unwrap_or_default(),
    ))
}

#[utoipa::path(put, path = "/api/v1/loop-rules", request_body(content = Object, description = "detractor_max, csat_max, negative_comment, score_drop, key_nps_max, key_csat_max, sla_hours, default_sla_hours"),
    responses((status = 200, description = "the rules now in force"), (status = 422, body = crate::error::ErrorBody)))]
async fn put_rules(
    State(state): State<Shared>,
    caller: Caller,
    body: bytes::Bytes,
) -> Result<Response, ApiError> {
    caller.require(Need::Manage)?;
    let text =
        std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    let rules = cx_core::account::rules::rules_from_json(text)
        .map_err(|e| ApiError::invalid_field("loop_rules", e))?;
    let saved = serde_json::to_string_pretty(&rules).unwrap_or_default();
    state.store.set_setting(followup::RULES_KEY, &saved).await?;
    Ok(json_text(StatusCode::OK, saved))
}

#[derive(Debug, Deserialize)]
struct TaskParams {
    status: Option<String>,
    owner: Option<String>,
    account: Option<String>,
    overdue: Option<bool>,
    limit: Option<i64>,
}

/// Reads the `status` filter: a status, `active` (everything not resolved) or nothing.
pub(crate) fn status_filter(text: Option<&str>) -> Result<Option<String>, ApiError> {
    match text.map(str::trim).filter(|s| !s.is_empty()) {
        None | Some("all") => Ok(None),
        Some("active") => Ok(Some("active".into())),
        Some(s) => TaskStatus::parse(s)
            .map(|s| Some(s.as_str().to_string()))
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "status",
                    format!("{s:?}: use open, in_progress, waiting, resolved or active"),
                )
            }),
    }
}

#[utoipa::path(get, path = "/api/v1/tasks", params(("status" = Option<String>, Query, description = "open, in_progress, waiting, resolved, active (not resolved) or all (the default)"),
    ("owner" = Option<String>, Query, description = "owner"), ("account" = Option<String>, Query, description = "customer code"),
    ("overdue" = Option<bool>, Query, description = "only overdue tasks"), ("limit" = Option<i64>, Query, description = "at most, newest first (default 100)")),
    responses((status = 200, description = "tasks, newest first"), (status = 422, body = crate::error::ErrorBody)))]
async fn list_tasks(
    State(state): State<Shared>,
    caller: Caller,
    Query(p): Query<TaskParams>,
) -> Result<Json<Vec<cx_store::followup::StoredTask>>, ApiError> {
    caller.require(Need::Read)?;
    let q = TaskQuery {
        status: status_filter(p.status.as_deref())?,
        owner: p.owner.filter(|o| !o.is_empty()),
        account: p.account.filter(|a| !a.is_empty()),
        overdue: p.overdue.unwrap_or(false),
        limit: p.limit.unwrap_or(100).clamp(1, 10_000),
    };
    let tasks = state.store.tasks(&q, crate::unix_now()).await?;
    Ok(Json(visible_tasks(&state, &caller, tasks).await?))
}

/// The tasks a survey-scoped token may see: those from its surveys' responses.
async fn visible_tasks(
    state: &Shared,
    caller: &Caller,
    tasks: Vec<cx_store::followup::StoredTask>,
) -> Result<Vec<cx_store::followup::StoredTask>, ApiError> {
    use cx_store::Store;
    if caller.require_all_surveys().is_ok() {
        return Ok(tasks);
    }
    let mut seen: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        let Some(slug) = t.survey.clone() else {
            continue;
        };
        let ok = match seen.get(&slug) {
            Some(ok) => *ok,
            None => {
                let ok = match state.store.survey(&slug).await {
                    Ok(s) => caller.sees(s.id.0, &slug),
                    Err(_) => false,
                };
                seen.insert(slug, ok);
                ok
            }
        };
        if ok {
            out.push(t);
        }
    }
    Ok(out)
}

/// Refuses a task a survey-scoped token may not see (as if it did not exist).
async fn check_task_visible(state: &Shared, caller: &Caller, id: i64) -> Result<(), ApiError> {
    if caller.require_all_surveys().is_ok() {
        return Ok(());
    }
    let task = state
        .store
        .task(id, crate::unix_now())
        .await?
        .map(|t| t.0)
        .into_iter()
        .collect();
    if visible_tasks(state, caller, task).await?.is_empty() {
        return Err(ApiError::not_found(format!("no task {id}")));
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/v1/tasks/metrics", responses((status = 200, description = "response and resolution times by team")))]
async fn task_metrics(
    State(state): State<Shared>,
    caller: Caller,
) -> Result<Json<Vec<TeamLoopFigures>>, ApiError> {
    caller.require(Need::Read)?;
    caller.require_all_surveys()?;
    Ok(Json(followup::loop_figures(&state.store).await?))
}

#[utoipa::path(get, path = "/api/v1/tasks/{id}", params(("id" = i64, Path, description = "task id")),
    responses((status = 200, description = "the task, its history and the re-survey's before/after"), (status = 404, body = crate::error::ErrorBody)))]
async fn get_task(
    State(state): State<Shared>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<TaskView>, ApiError> {
    caller.require(Need::Read)?;
    check_task_visible(&state, &caller, id).await?;
    followup::task_view(&state.store, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no task {id}")))
}

impl From<UpdateError> for ApiError {
    fn from(e: UpdateError) -> ApiError {
        match e {
            UpdateError::Invalid(field, message) => ApiError::invalid_field(field, message),
            UpdateError::Store(e) => e.into(),
        }
    }
}

#[utoipa::path(patch, path = "/api/v1/tasks/{id}", params(("id" = i64, Path, description = "task id")), request_body = TaskUpdate,
    responses((status = 200, description = "the task after the change (with `resurvey_link` when a re-survey was sent)"), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn patch_task(
    State(state): State<Shared>,
    caller: Caller,
    Path(id): Path<i64>,
    body: bytes::Bytes,
) -> Result<Json<TaskView>, ApiError> {
    caller.require(Need::Tasks)?;
    check_task_visible(&state, &caller, id).await?;
    let update: TaskUpdate = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
    let view = followup::update_task(
        &state.store,
        &state.loop_config,
        id,
        &update,
        &caller.user.username,
    )
    .await?;
    state.scores.clear();
    state.wake.wake();
    Ok(Json(view))
}

/// A webhook to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    /// Where to POST (http:// or https://), or `mailto:a@b.com[,c@d.com]` for email.
    pub url: String,
    /// Events: `*` (default) or a list of response.created, task.created,
    /// task.overdue, task.resolved, score.changed.
    #[serde(default)]
    pub events: Vec<String>,
    /// The signing secret; one is generated when absent.
    pub secret: Option<String>,
}

/// A new webhook, with its secret (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookCreated {
    /// Id.
    pub id: i64,
    /// The HMAC-SHA256 key the receiver checks `X-Cxscore-Signature` with.
    pub secret: String,
}

/// The events a webhook can ask for.
pub const EVENTS: [&str; 6] = [
    "response.created",
    "task.created",
    "task.overdue",
    "task.resolved",
    "score.changed",
    "report.ready",
];

/// Checks a webhook's URL and events; shared with `cxscore webhook add`.
pub fn check_webhook(url: &str, events: &[String]) -> Result<String, (&'static str, String)> {
    let url = url.trim();
    if let Some(to) = url.strip_prefix("mailto:") {
        let bad = to
            .split(',')
            .map(str::trim)
            .find(|a| a.is_empty() || !a.contains('@') || a.contains(['<', '>', '\r', '\n', ' ']));
        if let Some(a) = bad {
            return Err(("url", format!("mailto: {a:?} is not an email address")));
        }
    } else {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or((
                "url",
                format!("{url:?}: use an http:// or https:// address, or mailto:ADDRESS"),
            ))?;
        if rest.is_empty() || rest.starts_with('/') || url.chars().any(char::is_whitespace) {
            return Err(("url", format!("{url:?} has no host")));
        }
    }
    let events: Vec<&str> = events
        .iter()
        .map(|e| e.trim())
        .filter(|e| !e.is_empty())
        .collect();
    for e in &events {
        if *e != "*" && !EVENTS.contains(e) {
            return Err((
                "events",
                format!("unknown event {e:?}: use * or {}", EVENTS.join(", ")),
            ));
        }
    }
    Ok(if events.is_empty() {
        "*".into()
    } else {
        events.join(",")
    })
}

#[utoipa::path(post, path = "/api/v1/webhooks", request_body = WebhookBody,
    responses((status = 201, body = WebhookCreated), (status = 422, body = crate::error::ErrorBody)))]
async fn create_webhook(
    State(state): State<Shared>,
    caller: Caller,
    body: bytes::Bytes,
) -> Result<(StatusCode, Json<WebhookCreated>), ApiError> {
    caller.require(Need::Manage)?;
    let body: WebhookBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
    let events = check_webhook(&body.url, &body.events)
        .map_err(|(field, message)| ApiError::invalid_field(field, message))?;
    let secret = body
        .secret
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(random_token);
    let id = state
        .store
        .create_webhook(body.url.trim(), &secret, &events)
        .await?;
    Ok((StatusCode::CREATED, Json(WebhookCreated { id, secret })))
}

#[utoipa::path(get, path = "/api/v1/webhooks", responses((status = 200, description = "webhooks (secrets not shown)")))]
async fn list_webhooks(
    State(state): State<Shared>,
    caller: Caller,
) -> Result<Json<Vec<cx_store::followup::Webhook>>, ApiError> {
    caller.require(Need::Manage)?;
    Ok(Json(state.store.webhooks().await?))
}

#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", params(("id" = i64, Path, description = "webhook id")),
    responses((status = 204, description = "removed"), (status = 404, body = crate::error::ErrorBody)))]
async fn delete_webhook(
    State(state): State<Shared>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Need::Manage)?;
    if state.store.delete_webhook(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no webhook {id}")))
    }
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", params(("id" = i64, Path, description = "webhook id")),
    responses((status = 200, description = "the delivery log, newest first")))]
async fn list_deliveries(
    State(state): State<Shared>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<cx_store::followup::Delivery>>, ApiError> {
    caller.require(Need::Manage)?;
    Ok(Json(state.store.deliveries(id, 200).await?))
}

/// Reads a period label (default: this quarter) and ratings by dimension name,
/// each −2…+2 (numbers or numeric text); unrated dimensions are left out.
pub fn check_assessment(
    period: Option<&str>,
    ratings: &serde_json::Map<String, serde_json::Value>,
) -> Result<(String, [Option<i8>; 7]), ApiError> {
    let period = match period.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => {
            let b = p.as_bytes();
            let ok = b.len() == 7
                && b[..4].iter().all(u8::is_ascii_digit)
                && &b[4..6] == b"-Q"
                && (b'1'..=b'4').contains(&b[6]);
            if !ok {
                return Err(ApiError::invalid_field(
                    "period",
                    format!("{p:?}: use a quarter such as 2026-Q4"),
                ));
            }
            let current = cx_store::accounts::quarter_label(today());
            if p > current.as_str() {
                return Err(ApiError::invalid_field(
                    "period",
                    format!("{p} has not begun (this quarter is {current})"),
                ));
            }
            p.to_string()
        }
        None => cx_store::accounts::quarter_label(today()),
    };
    let dims = cx_core::model::customer::RELATIONSHIP_DIMENSIONS;
    let mut out = [None; 7];
    for (name, value) in ratings {
        let Some(i) = dims.iter().position(|d| d == name) else {
            return Err(ApiError::invalid_field(
                "ratings",
                format!("unknown dimension {name:?}: use {}", dims.join(", ")),
            ));
        };
        let v = match value {
            serde_json::Value::Null => continue,
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.trim().trim_start_matches('+').parse::<i64>().ok(),
            _ => None,
        };
        match v {
            Some(v @ -2..=2) => out[i] = Some(v as i8),
            _ => {
                return Err(ApiError::invalid_field(
                    "ratings",
                    format!("{name}: {value} is not a rating from -2 to +2"),
                ));
            }
        }
    }
    if out.iter().all(Option::is_none) {
        return Err(ApiError::invalid_field(
            "ratings",
            "rate at least one dimension",
        ));
    }
    Ok((period, out))
}

/// A key person's assessment entered by hand.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssessmentBody {
    /// The contact's code.
    pub contact: String,
    /// The quarter (`2026-Q4`); default the current one.
    pub period: Option<String>,
    /// Ratings −2…+2 by dimension: satisfaction, loyalty, engagement,
    /// information_transfer, daily_guidance, project_support, competitive_preference.
    #[schema(value_type = Object)]
    pub ratings: serde_json::Map<String, serde_json::Value>,
}

#[utoipa::path(put, path = "/api/v1/accounts/{code}/assessments", params(("code" = String, Path, description = "customer code")), request_body = AssessmentBody,
    responses((status = 200, description = "the account's relationship after the change"), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn put_assessment(
    State(state): State<Shared>,
    caller: Caller,
    Path(code): Path<String>,
    body: bytes::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    use cx_store::accounts::AccountStore;
    caller.require(Need::Tasks)?;
    caller.require_all_surveys()?;
    let body: AssessmentBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
    let (period, ratings) = check_assessment(body.period.as_deref(), &body.ratings)?;
    state
        .store
        .set_assessment(&code, &body.contact, &period, &ratings)
        .await?;
    state.scores.clear();
    let (_, scores) = all_scores(&state).await?;
    let s = scores
        .into_iter()
        .find(|s| s.account.code == code)
        .ok_or_else(|| ApiError::not_found(format!("no account {code:?}")))?;
    Ok(Json(
        serde_json::json!({"period": period, "relationship": s.relationship}),
    ))
}

#[utoipa::path(get, path = "/api/v1/actions", responses((status = 200, body = [crate::actions::ActionView])))]
async fn list_actions(
    State(state): State<Shared>,
    caller: Caller,
) -> Result<Json<Vec<crate::actions::ActionView>>, ApiError> {
    caller.require(Need::Read)?;
    caller.require_all_surveys()?;
    Ok(Json(crate::actions::views(&state.store, today()).await?))
}

#[utoipa::path(post, path = "/api/v1/actions", request_body = crate::actions::NewAction,
    responses((status = 201, body = crate::actions::ActionView), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn create_action(
    State(state): State<Shared>,
    caller: Caller,
    body: bytes::Bytes,
) -> Result<(StatusCode, Json<crate::actions::ActionView>), ApiError> {
    caller.require(Need::Tasks)?;
    caller.require_all_surveys()?;
    let body: crate::actions::NewAction = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
    let mut action = crate::actions::check(&state.store, &body, today()).await?;
    action.id = state.store.create_action(&action).await?;
    let effect = crate::actions::effect(&state.store, &action, today()).await?;
    Ok((
        StatusCode::CREATED,
        Json(crate::actions::ActionView {
            action,
            effect,
            problem: None,
        }),
    ))
}

/// A change of an action's status.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionStatus {
    /// active or done.
    pub status: String,
}

#[utoipa::path(patch, path = "/api/v1/actions/{id}", params(("id" = i64, Path, description = "action id")), request_body = ActionStatus,
    responses((status = 204, description = "changed"), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn patch_action(
    State(state): State<Shared>,
    caller: Caller,
    Path(id): Path<i64>,
    body: bytes::Bytes,
) -> Result<StatusCode, ApiError> {
    caller.require(Need::Tasks)?;
    caller.require_all_surveys()?;
    let body: ActionStatus = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
    if !matches!(body.status.as_str(), "active" | "done") {
        return Err(ApiError::invalid_field("status", "use active or done"));
    }
    if state.store.set_action_status(id, &body.status).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no action {id}")))
    }
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver", params(("id" = i64, Path, description = "webhook id"), ("delivery" = i64, Path, description = "delivery id")),
    responses((status = 202, description = "queued again"), (status = 404, body = crate::error::ErrorBody)))]
async fn redeliver(
    State(state): State<Shared>,
    caller: Caller,
    Path((id, delivery)): Path<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    caller.require(Need::Manage)?;
    if state
        .store
        .redeliver(id, delivery, crate::unix_now())
        .await?
    {
        state.wake.wake();
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(ApiError::not_found(format!(
            "no delivery {delivery} of webhook {id}"
        )))
    }
}
