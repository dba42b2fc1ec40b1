//! The JSON API under `/api/v1`, described by an OpenAPI document generated
//! from these handlers (`GET /api/v1/openapi.json`).

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use cx_core::model::survey::{QuestionKind, SurveyDefinition};
use cx_store::metrics::{MetricsQuery, survey_metrics};
use cx_store::server::{ServerStore, StoredResponse, Submission, Submitted};
use cx_store::{Store, StoredSurvey};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::Shared;
use crate::auth::{Caller, Need, Scope, hash_secret, random_token};
use crate::error::{ApiError, ErrorBody};
use crate::respond::{check_answers, new_response, now};

/// Channels a response may arrive by (SPEC §4).
pub const CHANNELS: [&str; 8] = [
    "web",
    "email",
    "sms",
    "phone",
    "in_person",
    "app",
    "api",
    "import",
];

/// Routes under `/api/v1`.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/surveys", get(list_surveys).post(create_survey))
        .route(
            "/surveys/{id}",
            get(get_survey).put(update_survey).delete(delete_survey),
        )
        .route(
            "/surveys/{id}/responses",
            post(submit_response).get(list_responses),
        )
        .route("/surveys/{id}/invitations", post(create_invitations))
        .route("/metrics", get(metrics))
        .route(
            "/imports/{kind}",
            post(import).layer(axum::extract::DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
        .route("/text/analyze", post(analyze_text))
        .route("/feedback", get(list_feedback))
        .route("/tokens", get(list_tokens).post(create_token))
        .route("/tokens/{id}", delete(revoke_token))
        .merge(crate::api_accounts::routes())
        .merge(crate::api_programmes::routes())
        .fallback(|| async {
            ApiError::not_found("no such API endpoint; see /api/v1/openapi.json")
        })
}

#[derive(OpenApi)]
#[openapi(
    info(title = "cxscore API", version = "1", description = "Surveys, responses, invitations and metrics. Authenticate with `Authorization: Bearer TOKEN` (`cxscore token create`)."),
    paths(list_surveys, create_survey, get_survey, update_survey, delete_survey, submit_response, list_responses, create_invitations, metrics, import, analyze_text, list_feedback, list_tokens, create_token, revoke_token,
        crate::api_accounts::list_accounts, crate::api_accounts::list_actions, crate::api_accounts::create_action, crate::api_accounts::patch_action, crate::api_accounts::get_account, crate::api_accounts::put_assessment, crate::api_accounts::get_scorecard, crate::api_accounts::put_scorecard,
        crate::api_accounts::get_rules, crate::api_accounts::put_rules, crate::api_accounts::list_tasks, crate::api_accounts::task_metrics,
        crate::api_accounts::get_task, crate::api_accounts::patch_task, crate::api_accounts::list_webhooks, crate::api_accounts::create_webhook,
        crate::api_accounts::delete_webhook, crate::api_accounts::list_deliveries, crate::api_accounts::redeliver,
        crate::api_programmes::list_programmes, crate::api_programmes::create_programme, crate::api_programmes::get_programme, crate::api_programmes::put_programme,
        crate::api_programmes::patch_programme, crate::api_programmes::programme_rates, crate::api_programmes::programme_messages, crate::api_programmes::programme_rewards,
        crate::api_programmes::list_coupons, crate::api_programmes::add_coupons, crate::api_programmes::get_contact_rules, crate::api_programmes::put_contact_rules),
    components(schemas(TextBody, TextResults, FeedbackPage, FeedbackRow, ImportResult, ErrorBody, SurveySummary, SurveyDetail, Created, SubmitBody, SubmitResult, ResponsesPage, ResponseRow, InvitationsBody, InvitationResult, TokenBody, TokenCreated, TokenRow,
        crate::api_accounts::AccountRow, crate::api_accounts::ActionStatus, crate::actions::NewAction, crate::actions::ActionView, crate::actions::Effect, crate::api_accounts::AccountDetail, crate::api_accounts::AssessmentBody, crate::api_accounts::HistoryPoint, crate::followup::TaskUpdate,
        crate::api_accounts::WebhookBody, crate::api_accounts::WebhookCreated)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// The OpenAPI document.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

async fn openapi() -> impl IntoResponse {
    Json(openapi_document())
}

/// A survey in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct SurveySummary {
    /// Id.
    pub id: i64,
    /// URL name (`/s/{slug}`).
    pub slug: String,
    /// Title, `{"zh", "en"}`.
    #[schema(value_type = Object)]
    pub title: serde_json::Value,
    /// Stores no identity.
    pub anonymous: bool,
    /// Number of questions.
    pub questions: usize,
    /// Responses stored.
    pub responses: u64,
}

/// A survey with its definition.
#[derive(Debug, Serialize, ToSchema)]
pub struct SurveyDetail {
    /// Id.
    pub id: i64,
    /// Responses stored.
    pub responses: u64,
    /// The respondent page.
    pub url: String,
    /// The definition (SPEC §4).
    #[schema(value_type = Object)]
    pub definition: SurveyDefinition,
}

/// Something created.
#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    /// Id.
    pub id: i64,
    /// Slug.
    pub slug: String,
}

fn summary(s: &StoredSurvey) -> SurveySummary {
    SurveySummary {
        id: s.id.0,
        slug: s.definition.slug.clone(),
        title: serde_json::to_value(&s.definition.title).unwrap_or_default(),
        anonymous: s.definition.anonymous,
        questions: s.definition.questions.len(),
        responses: s.responses,
    }
}

/// A JSON body, with serde's message (which names the field and position) as a 400.
fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}

async fn find_survey(state: &Shared, caller: &Caller, key: &str) -> Result<StoredSurvey, ApiError> {
    let s = state.store.survey(key).await?;
    caller.require_survey(s.id.0, &s.definition.slug)?;
    Ok(s)
}

/// The survey's definition from the cache (its response count may be stale):
/// what every submission needs, without a query.
async fn cached_survey(
    state: &Shared,
    caller: &Caller,
    key: &str,
) -> Result<std::sync::Arc<StoredSurvey>, ApiError> {
    let s = match state.surveys.get(key) {
        Some(s) => s,
        None => {
            let s = std::sync::Arc::new(state.store.survey_definition(key).await?);
            state.surveys.put(key, s.clone());
            s
        }
    };
    caller.require_survey(s.id.0, &s.definition.slug)?;
    Ok(s)
}

/// Lists surveys.
#[utoipa::path(get, path = "/api/v1/surveys", responses((status = 200, body = [SurveySummary]), (status = 401, body = ErrorBody)))]
async fn list_surveys(
    State(state): State<Shared>,
    caller: Caller,
) -> Result<Json<Vec<SurveySummary>>, ApiError> {
    caller.require(Need::Read)?;
    let surveys = state.store.surveys().await?;
    Ok(Json(
        surveys
            .iter()
            .filter(|s| caller.sees(s.id.0, &s.definition.slug))
            .map(summary)
            .collect(),
    ))
}

/// Creates a survey from its definition (SPEC §4).
#[utoipa::path(post, path = "/api/v1/surveys", request_body(content = Object, description = "survey definition, SPEC §4"),
    responses((status = 201, body = Created), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_survey(
    State(state): State<Shared>,
    caller: Caller,
    body: bytes::Bytes,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    caller.require(Need::Manage)?;
    let d: SurveyDefinition = parse_json(&body)?;
    let id = state.store.create_survey(&d).await?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            id: id.0,
            slug: d.slug,
        }),
    ))
}

/// One survey (by id or slug).
#[utoipa::path(get, path = "/api/v1/surveys/{id}", params(("id" = String, Path, description = "id or slug")),
    responses((status = 200, body = SurveyDetail), (status = 404, body = ErrorBody)))]
async fn get_survey(
    State(state): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SurveyDetail>, ApiError> {
    caller.require(Need::Read)?;
    let s = find_survey(&state, &caller, &id).await?;
    Ok(Json(SurveyDetail {
        id: s.id.0,
        responses: s.responses,
        url: format!("{}/s/{}", state.config.base_url, s.definition.slug),
        definition: s.definition,
    }))
}

/// Replaces a survey's definition. Once it has responses, every existing
/// question must keep its id and kind (texts may change, questions may be added).
#[utoipa::path(put, path = "/api/v1/surveys/{id}", params(("id" = String, Path, description = "id or slug")), request_body(content = Object),
    responses((status = 200, body = Created), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_survey(
    State(state): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
    body: bytes::Bytes,
) -> Result<Json<Created>, ApiError> {
    caller.require(Need::Manage)?;
    let s = find_survey(&state, &caller, &id).await?;
    let d: SurveyDefinition = parse_json(&body)?;
    if s.responses > 0 {
        for old in &s.definition.questions {
            match d.question(&old.id) {
                Some(new) if new.kind == old.kind && new.rating_scale() == old.rating_scale() => {}
                _ => {
                    return Err(ApiError {
                        field: Some(format!("questions.{}", old.id)),
                        ..ApiError::new(
                            StatusCode::CONFLICT,
                            "conflict",
                            format!(
                                "the survey has {} responses: question {:?} must stay, with its kind and scale",
                                s.responses, old.id
                            ),
                        )
                    });
                }
            }
        }
    }
    state.store.update_survey(s.id, &d).await?;
    state.surveys.clear();
    Ok(Json(Created {
        id: s.id.0,
        slug: d.slug,
    }))
}

/// Deletes a survey without responses.
#[utoipa::path(delete, path = "/api/v1/surveys/{id}", params(("id" = String, Path, description = "id or slug")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_survey(
    State(state): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Need::Manage)?;
    let s = find_survey(&state, &caller, &id).await?;
    state.store.delete_survey(s.id).await?;
    state.surveys.clear();
    Ok(StatusCode::NO_CONTENT)
}

/// A response submitted through the API.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    /// Answers by question id: a number for rated questions, text, or a list of option ids.
    #[schema(value_type = Object)]
    pub answers: serde_json::Map<String, serde_json::Value>,
    /// zh or en (default: the survey's first language).
    pub language: Option<String>,
    /// web, email, sms, phone, in_person, app, api (default), import.
    pub channel: Option<String>,
    /// Free metadata: product_line, region, sales_team, …
    #[schema(value_type = Object)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// An invitation token: links the response to its contact (not for anonymous surveys) and is used up.
    pub token: Option<String>,
    /// A contact code (named surveys only).
    pub contact: Option<String>,
}

/// What a submission became.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmitResult {
    /// The response id.
    pub id: i64,
    /// True when this request repeated an earlier one (same `Idempotency-Key`): nothing new was stored.
    pub duplicate: bool,
}

/// Submits a response. Honours `Idempotency-Key`: a retried request returns the
/// first response and stores nothing new. 201 means committed to disk.
#[utoipa::path(post, path = "/api/v1/surveys/{id}/responses", params(("id" = String, Path, description = "id or slug"),
    ("Idempotency-Key" = Option<String>, Header, description = "retries with the same key store one response")),
    request_body = SubmitBody,
    responses((status = 201, body = SubmitResult), (status = 200, body = SubmitResult, description = "a retry"), (status = 409, body = ErrorBody, description = "invitation already used"), (status = 422, body = ErrorBody)))]
async fn submit_response(
    State(state): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Result<(StatusCode, Json<SubmitResult>), ApiError> {
    caller.require(Need::Submit)?;
    let survey = cached_survey(&state, &caller, &id).await?;
    let body: SubmitBody = parse_json(&body)?;
    let key = match headers.get("idempotency-key") {
        None => format!("api:{}", random_token()),
        Some(v) => {
            let k = v.to_str().unwrap_or("").trim();
            if k.is_empty() || k.len() > 200 {
                return Err(ApiError::bad_request(
                    "Idempotency-Key must be 1 to 200 visible ASCII characters",
                ));
            }
            format!("idem:{k}")
        }
    };
    let lang = match body.language.as_deref() {
        None => survey
            .definition
            .languages
            .first()
            .cloned()
            .unwrap_or_else(|| "zh".into()),
        Some(l @ ("zh" | "en")) => l.to_string(),
        Some(other) => {
            return Err(ApiError::invalid_field(
                "language",
                format!("{other:?}: use zh or en"),
            ));
        }
    };
    let channel = body.channel.as_deref().unwrap_or("api");
    if !CHANNELS.contains(&channel) {
        return Err(ApiError::invalid_field(
            "channel",
            format!("{channel:?}: use one of {}", CHANNELS.join(", ")),
        ));
    }
    for k in body.answers.keys() {
        if survey.definition.question(k).is_none() {
            return Err(ApiError::invalid_field(
                &format!("answers.{k}"),
                "the survey has no such question",
            ));
        }
    }
    let mut raw = Vec::new();
    for (k, v) in &body.answers {
        match v {
            serde_json::Value::Null => {}
            serde_json::Value::Number(n) => raw.push((k.clone(), n.to_string())),
            serde_json::Value::String(s) => raw.push((k.clone(), s.clone())),
            serde_json::Value::Array(items) => {
                for item in items {
                    match item.as_str() {
                        Some(s) => raw.push((k.clone(), s.to_string())),
                        None => {
                            return Err(ApiError::invalid_field(
                                &format!("answers.{k}"),
                                "a list of option ids (strings)",
                            ));
                        }
                    }
                }
            }
            _ => {
                return Err(ApiError::invalid_field(
                    &format!("answers.{k}"),
                    "a number, a text or a list of option ids",
                ));
            }
        }
    }
    let answers = check_answers(&survey.definition, &raw, "en").map_err(|errors| {
        let (q, m) = &errors[0];
        let mut e = ApiError::invalid_field(&format!("answers.{q}"), format!("{q}: {m}"));
        if errors.len() > 1 {
            e.message
                .push_str(&format!(" (and {} more)", errors.len() - 1));
        }
        e
    })?;
    let anonymous = survey.definition.anonymous;
    let mut invitation = None;
    if let Some(token) = body.token.as_deref().filter(|t| !t.is_empty()) {
        match state.store.invitation(&hash_secret(token)).await? {
            Some(i) if i.survey == survey.id => invitation = Some(i),
            _ => {
                return Err(ApiError::invalid_field(
                    "token",
                    "no invitation to this survey has this token",
                ));
            }
        }
    }
    let mut response = new_response(
        &survey,
        key,
        channel,
        &lang,
        invitation.as_ref(),
        answers,
        body.metadata.unwrap_or_default(),
    );
    if let Some(code) = &body.contact {
        if anonymous {
            return Err(ApiError::invalid_field(
                "contact",
                "the survey is anonymous: it stores no contact",
            ));
        }
        let ids = state.store.contact_ids(std::slice::from_ref(code)).await?;
        let contact = *ids
            .get(code)
            .ok_or_else(|| ApiError::invalid_field("contact", format!("no contact {code:?}")))?;
        response.contact = Some(contact);
        response.account = state.store.contact_account(contact).await?;
    }
    let outcome = state
        .committer
        .submit(Submission::new(
            survey.id,
            response,
            invitation.map(|i| i.id),
        ))
        .await?;
    match outcome {
        Submitted::Stored(id) => Ok((
            StatusCode::CREATED,
            Json(SubmitResult {
                id,
                duplicate: false,
            }),
        )),
        Submitted::Duplicate(id) => Ok((
            StatusCode::OK,
            Json(SubmitResult {
                id,
                duplicate: true,
            }),
        )),
        Submitted::AlreadyAnswered => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_answered",
            "this invitation has already been used for a response",
        )),
    }
}

/// A page of responses.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResponsesPage {
    /// The responses.
    pub responses: Vec<ResponseRow>,
    /// Pass as `after` for the next page (absent on the last page).
    pub next_after: Option<i64>,
}

/// A stored response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResponseRow {
    /// Id.
    pub id: i64,
    /// UTC.
    pub submitted_at: String,
    /// Channel.
    pub channel: String,
    /// Language.
    pub language: Option<String>,
    /// Account code.
    pub account: Option<String>,
    /// Contact code.
    pub contact: Option<String>,
    /// Metadata.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Answers by question id.
    #[schema(value_type = Object)]
    pub answers: serde_json::Map<String, serde_json::Value>,
}

fn row(r: StoredResponse, survey: &SurveyDefinition) -> ResponseRow {
    let answers = r
        .answers
        .into_iter()
        .map(|(q, int, text)| {
            let choice = survey
                .question(&q)
                .is_some_and(|q| q.kind == QuestionKind::Choice);
            let v = match (int, text) {
                (Some(i), _) => serde_json::Value::from(i),
                (None, Some(t)) if choice => {
                    serde_json::Value::from(t.split(';').map(str::to_string).collect::<Vec<_>>())
                }
                (None, Some(t)) => serde_json::Value::from(t),
                (None, None) => serde_json::Value::Null,
            };
            (q, v)
        })
        .collect();
    ResponseRow {
        id: r.id,
        submitted_at: r.submitted_at,
        channel: r.channel,
        language: r.language,
        account: r.account,
        contact: r.contact,
        metadata: r.metadata,
        answers,
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    after: Option<i64>,
    limit: Option<i64>,
    format: Option<String>,
}

const EXPORT_PAGE: i64 = 2000;

/// Lists responses (`format=json`, paged by `after`/`limit`) or exports them
/// all (`format=csv` or `jsonl`, streamed).
#[utoipa::path(get, path = "/api/v1/surveys/{id}/responses", params(("id" = String, Path, description = "id or slug"),
    ("after" = Option<i64>, Query, description = "responses with larger ids"), ("limit" = Option<i64>, Query, description = "page size, at most 1000 (json)"),
    ("format" = Option<String>, Query, description = "json (default), csv or jsonl")),
    responses((status = 200, body = ResponsesPage), (status = 403, body = ErrorBody)))]
async fn list_responses(
    State(state): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    caller.require(Need::Export)?;
    let survey = find_survey(&state, &caller, &id).await?;
    let after = q.after.unwrap_or(0);
    match q.format.as_deref().unwrap_or("json") {
        "json" => {
            let limit = q.limit.unwrap_or(100).clamp(1, 1000);
            let rows = state.store.responses_after(survey.id, after, limit).await?;
            let next_after = (rows.len() as i64 == limit)
                .then(|| rows.last().map(|r| r.id))
                .flatten();
            let responses = rows
                .into_iter()
                .map(|r| row(r, &survey.definition))
                .collect();
            Ok(Json(ResponsesPage {
                responses,
                next_after,
            })
            .into_response())
        }
        format @ ("csv" | "jsonl") => Ok(export(state, survey, after, format == "csv")),
        other => Err(ApiError::invalid_field(
            "format",
            format!("{other:?}: use json, csv or jsonl"),
        )),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Streams every response, a page at a time: memory stays flat however many there are.
fn export(state: Shared, survey: StoredSurvey, after: i64, csv: bool) -> Response {
    let questions: Vec<String> = survey
        .definition
        .questions
        .iter()
        .map(|q| q.id.clone())
        .collect();
    let header_line = if csv {
        let mut cols = vec![
            "response_id",
            "submitted_at",
            "channel",
            "language",
            "account",
            "contact",
        ];
        cols.extend(questions.iter().map(String::as_str));
        cols.push("metadata");
        let mut line = cols
            .iter()
            .map(|c| csv_field(c))
            .collect::<Vec<_>>()
            .join(",");
        line.push('\n');
        Some(line)
    } else {
        None
    };
    let disposition = format!(
        "attachment; filename=\"{}-responses.{}\"",
        survey_slug_ascii(&survey.definition.slug),
        if csv { "csv" } else { "jsonl" }
    );
    let stream = futures_util::stream::unfold((Some(after), header_line), move |(cursor, head)| {
        let state = state.clone();
        let survey = survey.clone();
        let questions = questions.clone();
        async move {
            if let Some(h) = head {
                return Some((
                    Ok::<_, std::io::Error>(bytes::Bytes::from(h)),
                    (cursor, None),
                ));
            }
            let after = cursor?;
            let rows = match state
                .store
                .responses_after(survey.id, after, EXPORT_PAGE)
                .await
            {
                Ok(r) => r,
                Err(e) => return Some((Err(std::io::Error::other(e.to_string())), (None, None))),
            };
            if rows.is_empty() {
                return None;
            }
            let next = (rows.len() as i64 == EXPORT_PAGE)
                .then(|| rows.last().map(|r| r.id))
                .flatten();
            let mut out = String::new();
            for r in rows {
                let r = row(r, &survey.definition);
                if csv {
                    let mut fields = vec![
                        r.id.to_string(),
                        csv_field(&r.submitted_at),
                        csv_field(&r.channel),
                        csv_field(r.language.as_deref().unwrap_or("")),
                        csv_field(r.account.as_deref().unwrap_or("")),
                        csv_field(r.contact.as_deref().unwrap_or("")),
                    ];
                    for q in &questions {
                        fields.push(match r.answers.get(q) {
                            None | Some(serde_json::Value::Null) => String::new(),
                            Some(serde_json::Value::String(s)) => csv_field(s),
                            Some(serde_json::Value::Array(a)) => csv_field(
                                &a.iter()
                                    .filter_map(|v| v.as_str())
                                    .collect::<Vec<_>>()
                                    .join(";"),
                            ),
                            Some(v) => v.to_string(),
                        });
                    }
                    fields.push(csv_field(
                        &serde_json::Value::Object(r.metadata).to_string(),
                    ));
                    out.push_str(&fields.join(","));
                    out.push('\n');
                } else {
                    out.push_str(&serde_json::to_string(&r).unwrap_or_default());
                    out.push('\n');
                }
            }
            Some((Ok(bytes::Bytes::from(out)), (next, None)))
        }
    });
    let ctype = if csv {
        "text/csv; charset=utf-8"
    } else {
        "application/x-ndjson"
    };
    Response::builder()
        .header(header::CONTENT_TYPE, ctype)
        .header(header::CONTENT_DISPOSITION, disposition)
        .body(Body::from_stream(stream))
        .unwrap_or_else(|e| ApiError::internal("export", e).into_response())
}

fn survey_slug_ascii(slug: &str) -> String {
    slug.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

/// Invitations to send.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationsBody {
    /// Contact codes (as imported).
    pub contacts: Vec<String>,
    /// Skip a contact invited or answering within this many days (default 30; 0 = never skip).
    pub quiet_days: Option<u32>,
}

/// One contact's invitation.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationResult {
    /// Contact code.
    pub contact: String,
    /// The personal link (shown once; only its hash is stored).
    pub link: Option<String>,
    /// Why there is no link: `unknown contact`, or the date the contact was last surveyed.
    pub skipped: Option<String>,
}

/// Creates one unguessable link per contact; each accepts one response.
#[utoipa::path(post, path = "/api/v1/surveys/{id}/invitations", params(("id" = String, Path, description = "id or slug")), request_body = InvitationsBody,
    responses((status = 200, body = [InvitationResult]), (status = 404, body = ErrorBody)))]
async fn create_invitations(
    State(state): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
    body: bytes::Bytes,
) -> Result<Json<Vec<InvitationResult>>, ApiError> {
    caller.require(Need::Manage)?;
    let survey = find_survey(&state, &caller, &id).await?;
    let body: InvitationsBody = parse_json(&body)?;
    if body.contacts.len() > 100_000 {
        return Err(ApiError::invalid_field(
            "contacts",
            "at most 100,000 contacts per request",
        ));
    }
    Ok(Json(
        invite(
            &state,
            &survey,
            &body.contacts,
            body.quiet_days.unwrap_or(30),
        )
        .await?,
    ))
}

/// Invites `contacts` (codes) to `survey`; shared by the API and `survey invite`.
pub async fn invite(
    state: &Shared,
    survey: &StoredSurvey,
    contacts: &[String],
    quiet_days: u32,
) -> Result<Vec<InvitationResult>, ApiError> {
    invite_in(
        &state.store,
        &state.config.base_url,
        survey,
        contacts,
        quiet_days,
    )
    .await
}

/// [`invite`] without a running server.
pub async fn invite_in(
    store: &cx_store::AnyStore,
    base_url: &str,
    survey: &StoredSurvey,
    contacts: &[String],
    quiet_days: u32,
) -> Result<Vec<InvitationResult>, ApiError> {
    let ids = store.contact_ids(contacts).await?;
    let mut tokens = Vec::new();
    let mut items = Vec::new();
    for code in contacts {
        if let Some(id) = ids.get(code) {
            let token = random_token();
            items.push((*id, hash_secret(&token)));
            tokens.push(token);
        }
    }
    let (today, _) = now();
    let outcomes = store
        .create_invitations(survey.id, &items, quiet_days, today.days())
        .await?;
    let mut outcomes = outcomes.into_iter().zip(tokens);
    let base = base_url.trim_end_matches('/');
    Ok(contacts
        .iter()
        .map(|code| {
            if !ids.contains_key(code) {
                return InvitationResult {
                    contact: code.clone(),
                    link: None,
                    skipped: Some("unknown contact".into()),
                };
            }
            match outcomes.next() {
                Some((cx_store::server::Invited::Created(_), token)) => InvitationResult {
                    contact: code.clone(),
                    link: Some(format!("{base}/s/{}?t={token}", survey.definition.slug)),
                    skipped: None,
                },
                Some((cx_store::server::Invited::Skipped { last_day }, _)) => InvitationResult {
                    contact: code.clone(),
                    link: None,
                    skipped: Some(format!(
                        "surveyed on {} (within {quiet_days} days)",
                        cx_core::period::Date::from_days(last_day)
                    )),
                },
                None => InvitationResult {
                    contact: code.clone(),
                    link: None,
                    skipped: Some("not invited".into()),
                },
            }
        })
        .collect())
}

/// Metric parameters allowed in the query string (the CLI's flags).
const METRIC_PARAMS: [&str; 13] = [
    "survey",
    "nps",
    "csat",
    "ces",
    "dim",
    "weights",
    "by",
    "interval",
    "from",
    "to",
    "where",
    "compare",
    "anonymous",
];

/// Survey metrics with the CLI's parameters and JSON (`cxscore metrics --survey … --format json`).
#[utoipa::path(get, path = "/api/v1/metrics", params(
    ("survey" = String, Query, description = "survey id or slug"), ("nps" = Option<String>, Query), ("csat" = Option<String>, Query), ("ces" = Option<String>, Query),
    ("dim" = Option<String>, Query, description = "NAME=QUESTION or QUESTION; repeat"), ("weights" = Option<String>, Query),
    ("by" = Option<String>, Query, description = "field; repeat or separate with commas"), ("interval" = Option<String>, Query, description = "day, week, month, quarter or year"),
    ("from" = Option<String>, Query), ("to" = Option<String>, Query), ("where" = Option<String>, Query, description = "FIELD=VALUE; repeat"),
    ("compare" = Option<String>, Query, description = "previous"), ("anonymous" = Option<bool>, Query)),
    responses((status = 200, description = "the metrics report (SPEC §2 JSON)", body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn metrics(
    State(state): State<Shared>,
    caller: Caller,
    uri: axum::http::Uri,
) -> Result<Response, ApiError> {
    caller.require(Need::Read)?;
    let pairs: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let mut q = MetricsQuery::default();
    let mut survey = None;
    let mut by_seen: HashMap<String, ()> = HashMap::new();
    for (k, v) in pairs {
        match k.as_str() {
            "survey" => survey = Some(v),
            "nps" => q.nps = Some(v),
            "csat" => q.csat = Some(v),
            "ces" => q.ces = Some(v),
            "sentiment" => q.sentiment = Some(v),
            "dim" => q.dim.push(v),
            "weights" => q.weights = Some(v),
            "by" => {
                for b in v.split(',').map(str::trim).filter(|b| !b.is_empty()) {
                    if by_seen.insert(b.to_string(), ()).is_none() {
                        q.by.push(b.to_string());
                    }
                }
            }
            "interval" => q.interval = Some(v),
            "from" => q.from = Some(v),
            "to" => q.to = Some(v),
            "where" => q.filters.push(v),
            "compare" if v == "previous" => q.compare = true,
            "compare" => return Err(ApiError::invalid_field("compare", "use compare=previous")),
            "anonymous" => q.anonymous = matches!(v.as_str(), "true" | "1" | "yes"),
            other => {
                return Err(ApiError {
                    field: Some(other.to_string()),
                    ..ApiError::bad_request(format!(
                        "unknown parameter {other:?}; parameters: {}",
                        METRIC_PARAMS.join(", ")
                    ))
                });
            }
        }
    }
    let survey = survey.ok_or_else(|| ApiError {
        field: Some("survey".into()),
        ..ApiError::bad_request("survey=ID is required")
    })?;
    let stored = find_survey(&state, &caller, &survey).await?;
    let request = q.resolve(&stored).map_err(ApiError::bad_request)?;
    let report = survey_metrics(&state.store, &request).await?;
    Ok(Json(report).into_response())
}

/// A token to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// Whose token (default: the caller).
    pub username: Option<String>,
    /// read, submit or write, optionally with survey:ID items (default write).
    pub scope: Option<String>,
}

/// A new token, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    /// Id (for revoking).
    pub id: i64,
    /// The secret: send as `Authorization: Bearer …`. Only its hash is stored.
    pub token: String,
    /// Scope.
    pub scope: String,
}

/// A token in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenRow {
    /// Id.
    pub id: i64,
    /// Owner.
    pub username: String,
    /// Scope.
    pub scope: String,
    /// Created.
    pub created_at: String,
    /// Revoked.
    pub revoked_at: Option<String>,
}

/// Lists API tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/tokens", responses((status = 200, body = [TokenRow]), (status = 403, body = ErrorBody)))]
async fn list_tokens(
    State(state): State<Shared>,
    caller: Caller,
) -> Result<Json<Vec<TokenRow>>, ApiError> {
    caller.require(Need::Manage)?;
    Ok(Json(
        state
            .store
            .tokens()
            .await?
            .into_iter()
            .map(|t| TokenRow {
                id: t.id,
                username: t.username,
                scope: t.scope,
                created_at: t.created_at,
                revoked_at: t.revoked_at,
            })
            .collect(),
    ))
}

/// Creates an API token.
#[utoipa::path(post, path = "/api/v1/tokens", request_body = TokenBody, responses((status = 201, body = TokenCreated), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_token(
    State(state): State<Shared>,
    caller: Caller,
    body: bytes::Bytes,
) -> Result<(StatusCode, Json<TokenCreated>), ApiError> {
    caller.require(Need::Manage)?;
    let body: TokenBody = parse_json(&body)?;
    let scope = body.scope.unwrap_or_else(|| "write".into());
    Scope::parse(&scope).map_err(|e| ApiError::invalid_field("scope", e))?;
    let user = match &body.username {
        None => caller.user.clone(),
        Some(name) => state
            .store
            .user_by_name(name)
            .await?
            .ok_or_else(|| ApiError::invalid_field("username", format!("no user {name:?}")))?,
    };
    let token = random_token();
    let id = state
        .store
        .create_token(user.id, &hash_secret(&token), &scope)
        .await?;
    Ok((StatusCode::CREATED, Json(TokenCreated { id, token, scope })))
}

/// Revokes an API token.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn revoke_token(
    State(state): State<Shared>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Need::Manage)?;
    let revoked = state.store.revoke_token(id).await?;
    state.tokens.clear();
    if revoked {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no active token {id}")))
    }
}

/// Largest file accepted by the import endpoint.
pub const IMPORT_LIMIT: usize = 64 << 20;

#[derive(Debug, Deserialize)]
struct ImportQuery {
    survey: Option<String>,
    format: Option<String>,
    encoding: Option<String>,
    strict: Option<bool>,
    assessment_scale: Option<String>,
}

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    /// Data rows read.
    pub read: u64,
    /// Rows stored.
    pub imported: u64,
    /// Rows already stored.
    pub duplicate: u64,
    /// Accounts updated.
    pub updated: u64,
    /// Rows refused.
    pub rejected: u64,
    /// Responses stored without their unknown account or contact.
    pub unlinked: u64,
    /// Each refused row: line, column, value, reason.
    #[schema(value_type = Vec<Object>)]
    pub rejections: Vec<cx_store::import::RejectionOut>,
}

/// Texts to analyse: `text` for one, `texts` for many (at most 10,000).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextBody {
    /// One text.
    #[serde(default)]
    text: Option<String>,
    /// Several texts.
    #[serde(default)]
    texts: Vec<String>,
    /// `auto` (default), `zh` or `en`.
    #[serde(default)]
    lang: Option<String>,
}

/// One analysis per text, in order (SPEC §2 `text analyze`: lang, sentiment,
/// score, topics with their own sentiment, phrases).
#[derive(Debug, Serialize, ToSchema)]
pub struct TextResults {
    /// The analyses.
    #[schema(value_type = Vec<Object>)]
    results: Vec<cx_text::Analysis>,
}

/// At most this many texts per request.
const MAX_TEXTS: usize = 10_000;

/// Filters of `GET /api/v1/feedback`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackParams {
    sentiment: Option<String>,
    topic: Option<String>,
    source: Option<String>,
    q: Option<String>,
    after: Option<i64>,
    limit: Option<i64>,
}

/// A page of feedback items.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackPage {
    /// The items, oldest first.
    items: Vec<FeedbackRow>,
    /// Pass as `after` for the next page (absent on the last page).
    next_after: Option<i64>,
}

/// A feedback item with its text analysis.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackRow {
    id: i64,
    /// The customer (account) code.
    customer: Option<String>,
    /// complaint, review, interview, focus_group, social, …
    source: String,
    date: String,
    text: String,
    /// zh, en, mixed or und.
    lang: Option<String>,
    /// positive, neutral or negative.
    sentiment: Option<String>,
    /// −1…1.
    score: Option<f64>,
    /// `[{"topic", "sentiment", "score"}]`.
    #[schema(value_type = Vec<Object>)]
    topics: serde_json::Value,
}

#[utoipa::path(get, path = "/api/v1/feedback", params(("sentiment" = Option<String>, Query, description = "positive, neutral or negative"),
    ("topic" = Option<String>, Query, description = "a topic id, e.g. delivery"), ("source" = Option<String>, Query, description = "complaint, review, …"),
    ("q" = Option<String>, Query, description = "text contains (case-insensitive)"), ("after" = Option<i64>, Query, description = "items with larger ids"),
    ("limit" = Option<i64>, Query, description = "page size, at most 1000")),
    responses((status = 200, body = FeedbackPage), (status = 400, body = ErrorBody)))]
async fn list_feedback(
    State(state): State<Shared>,
    caller: Caller,
    Query(p): Query<FeedbackParams>,
) -> Result<Json<FeedbackPage>, ApiError> {
    caller.require(Need::Read)?;
    let sentiment = match p.sentiment.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            cx_text::Polarity::parse(text)
                .ok_or_else(|| {
                    ApiError::invalid_field("sentiment", "use positive, neutral or negative")
                })?
                .value(),
        ),
    };
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    if let Some(topic) = p.topic.as_deref().filter(|t| !t.is_empty())
        && !topic
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(ApiError::invalid_field(
            "topic",
            "a topic id such as delivery or after_sales",
        ));
    }
    let query = cx_store::server::FeedbackQuery {
        sentiment,
        topic: p.topic.filter(|t| !t.is_empty()),
        source: p.source.filter(|s| !s.is_empty()),
        search: p.q.filter(|q| !q.is_empty()),
        after: p.after.unwrap_or(0),
    };
    let rows = state.store.feedback_items(&query, limit).await?;
    let next_after = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let items = rows
        .into_iter()
        .map(|r| FeedbackRow {
            id: r.id,
            customer: r.customer,
            source: r.source,
            date: r.date,
            text: r.text,
            lang: r.lang,
            sentiment: r.sentiment.map(|v| {
                match v {
                    1 => "positive",
                    -1 => "negative",
                    _ => "neutral",
                }
                .to_owned()
            }),
            score: r.score,
            topics: r
                .topics
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_else(|| serde_json::json!([])),
        })
        .collect();
    Ok(Json(FeedbackPage { items, next_after }))
}

#[utoipa::path(post, path = "/api/v1/text/analyze", request_body = TextBody,
    responses((status = 200, body = TextResults), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn analyze_text(caller: Caller, body: bytes::Bytes) -> Result<Json<TextResults>, ApiError> {
    caller.require(Need::Read)?;
    let b: TextBody = parse_json(&body)?;
    let mut texts = b.texts;
    if let Some(t) = b.text {
        texts.insert(0, t);
    }
    if texts.is_empty() {
        return Err(ApiError::invalid_field(
            "texts",
            "give \"text\" or a non-empty \"texts\" list",
        ));
    }
    if texts.len() > MAX_TEXTS {
        return Err(ApiError::invalid_field(
            "texts",
            format!("{} texts; at most {MAX_TEXTS} per request", texts.len()),
        ));
    }
    let forced = match b.lang.as_deref() {
        None | Some("auto") => None,
        Some(code) => Some(
            cx_text::Lang::parse(code)
                .filter(|l| matches!(l, cx_text::Lang::Zh | cx_text::Lang::En))
                .ok_or_else(|| ApiError::invalid_field("lang", "use auto, zh or en"))?,
        ),
    };
    let analyzer = cx_text::Analyzer::builtin().with_lang(forced);
    // Analysis is CPU work (tens of microseconds a text): off the async threads.
    let results = tokio::task::spawn_blocking(move || {
        let mut scratch = cx_text::Scratch::default();
        texts
            .iter()
            .map(|t| analyzer.analyze_with(t, &mut scratch))
            .collect()
    })
    .await
    .map_err(|e| ApiError::internal("text analysis", e))?;
    Ok(Json(TextResults { results }))
}

/// Imports a file sent as the request body (CSV, TSV, XLSX, JSONL or Parquet,
/// named by `format`; UTF-8 or GBK), exactly as `cxscore import` does; `map`
/// repeats as `COLUMN=FIELD`.
#[utoipa::path(post, path = "/api/v1/imports/{kind}", params(
    ("kind" = String, Path, description = "responses, accounts, contacts, transactions, feedback or assessments"),
    ("format" = String, Query, description = "csv, tsv, xlsx, jsonl or parquet"), ("survey" = Option<String>, Query, description = "for responses"),
    ("map" = Option<String>, Query, description = "COLUMN=FIELD; repeat"), ("encoding" = Option<String>, Query, description = "auto, utf-8 or gb18030"),
    ("strict" = Option<bool>, Query, description = "import nothing unless every row is valid"), ("assessment_scale" = Option<String>, Query, description = "-2..2 or 1-5")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = ImportResult), (status = 422, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn import(
    State(state): State<Shared>,
    caller: Caller,
    Path(kind): Path<String>,
    Query(q): Query<ImportQuery>,
    uri: axum::http::Uri,
    body: bytes::Bytes,
) -> Result<Json<ImportResult>, ApiError> {
    caller.require(Need::Manage)?;
    let kind_value = cx_io_kind(&kind)?;
    let format = q.format.as_deref().unwrap_or("");
    if ![
        "csv", "tsv", "txt", "xlsx", "xls", "jsonl", "ndjson", "parquet",
    ]
    .contains(&format)
    {
        return Err(ApiError::invalid_field(
            "format",
            "name the file's format: csv, tsv, xlsx, jsonl or parquet",
        ));
    }
    if let Some(survey) = &q.survey {
        let s = state.store.survey(survey).await?;
        caller.require_survey(s.id.0, &s.definition.slug)?;
    }
    let encoding = cx_io::EncodingChoice::parse(q.encoding.as_deref().unwrap_or("auto"))
        .ok_or_else(|| ApiError::invalid_field("encoding", "use auto, utf-8 or gb18030"))?;
    let mut overrides = Vec::new();
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if k == "map" {
            let (src, dest) = v.split_once('=').ok_or_else(|| {
                ApiError::invalid_field("map", format!("{v:?}: write COLUMN=FIELD"))
            })?;
            overrides.push((src.trim().to_string(), dest.trim().to_string()));
        }
    }
    let one_to_five = match q.assessment_scale.as_deref().unwrap_or("-2..2") {
        "-2..2" | "-2..+2" => false,
        "1-5" | "1..5" => true,
        _ => {
            return Err(ApiError::invalid_field(
                "assessment_scale",
                "use -2..2 or 1-5",
            ));
        }
    };
    let options = cx_store::import::ImportOptions {
        survey: q.survey.clone(),
        overrides,
        strict: q.strict.unwrap_or(false),
        assessment_one_to_five: one_to_five,
        scan: cx_io::ScanOptions {
            encoding,
            ..cx_io::ScanOptions::default()
        },
    };
    // The readers work on files: the body goes to a private temporary file first.
    let path = std::env::temp_dir().join(format!("cxscore-upload-{}.{format}", random_token()));
    tokio::fs::write(&path, &body)
        .await
        .map_err(|e| ApiError::internal("saving the upload", e))?;
    let result = cx_store::import::import_file(
        &state.store,
        kind_value,
        &path,
        &options,
        std::sync::Arc::new(|_| {}),
    )
    .await;
    tokio::fs::remove_file(&path).await.ok();
    let report = result.map_err(|e| {
        let message = e
            .to_string()
            .replace(&path.display().to_string(), "the file");
        if e.is_bad_input() {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
        } else {
            ApiError::internal("import", message)
        }
    })?;
    if !report.written {
        let first = report
            .rejections
            .first()
            .map(|r| {
                format!(
                    "; line {}: {} = {:?}: {}",
                    r.line, r.column, r.value, r.reason
                )
            })
            .unwrap_or_default();
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!(
                "strict: {} row(s) rejected, nothing imported{first}",
                report.rejected
            ),
        ));
    }
    Ok(Json(ImportResult {
        read: report.read,
        imported: report.imported,
        duplicate: report.duplicate,
        updated: report.updated,
        rejected: report.rejected,
        unlinked: report.unlinked,
        rejections: report.rejections,
    }))
}

fn cx_io_kind(kind: &str) -> Result<cx_io::import::ImportKind, ApiError> {
    cx_io::import::ImportKind::parse(kind).ok_or_else(|| {
        ApiError::invalid_field(
            "kind",
            "use responses, accounts, contacts, transactions, feedback or assessments",
        )
    })
}
