//! The API of survey programmes: definitions (`/programmes`), their waves,
//! response rates by segment, messages and rewards; coupon pools
//! (`/coupons/{pool}`) and the contact rules every programme follows.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use cx_core::programme::ContactRules;
use cx_store::followup::FollowUpStore;
use cx_store::programmes::{LoggedMessage, ProgrammeStore, StoredReward};
use serde::{Deserialize, Serialize};

use crate::Shared;
use crate::auth::{Caller, Need};
use crate::error::ApiError;
use crate::programmes::{self, ProgrammeView, Rates};

/// Routes, merged under `/api/v1`.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/programmes", get(list_programmes).post(create_programme))
        .route(
            "/programmes/{slug}",
            get(get_programme).put(put_programme).patch(patch_programme),
        )
        .route("/programmes/{slug}/rates", get(programme_rates))
        .route("/programmes/{slug}/messages", get(programme_messages))
        .route("/programmes/{slug}/rewards", get(programme_rewards))
        .route("/coupons", get(list_coupons))
        .route("/coupons/{pool}", axum::routing::post(add_coupons))
        .route(
            "/contact-rules",
            get(get_contact_rules).put(put_contact_rules),
        )
}

/// A programme in the list.
#[derive(Debug, Serialize)]
pub struct ProgrammeRow {
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Survey.
    pub survey: String,
    /// active or paused.
    pub status: String,
    /// Cadence in words.
    pub cadence: String,
    /// Channel.
    pub channel: String,
    /// Waves drawn.
    pub waves: usize,
    /// All invitations together.
    pub totals: Rates,
}

fn json_body(body: &[u8]) -> Result<serde_json::Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}

#[utoipa::path(get, path = "/api/v1/programmes", responses((status = 200, description = "programmes with their response rates")))]
pub(crate) async fn list_programmes(
    State(state): State<Shared>,
    caller: Caller,
) -> Result<Json<Vec<ProgrammeRow>>, ApiError> {
    caller.require(Need::Read)?;
    caller.require_all_surveys()?;
    let mut out = Vec::new();
    for p in state.store.programmes().await? {
        if let Some(v) = programmes::view(&state.store, &p.slug, "all").await? {
            out.push(ProgrammeRow {
                slug: v.slug,
                name: v.name,
                survey: v.survey,
                status: v.status,
                cadence: v.cadence,
                channel: v.channel,
                waves: v.waves.len(),
                totals: v.totals,
            });
        }
    }
    Ok(Json(out))
}

#[utoipa::path(post, path = "/api/v1/programmes", request_body(content = String, description = "the programme definition (JSON, as `cxscore programme create FILE`)"),
    responses((status = 201, description = "created"), (status = 409, description = "a programme with this slug exists"), (status = 422, description = "the definition is wrong; the message names the key")))]
pub(crate) async fn create_programme(
    State(state): State<Shared>,
    caller: Caller,
    body: bytes::Bytes,
) -> Result<(StatusCode, Json<ProgrammeView>), ApiError> {
    caller.require(Need::Manage)?;
    let p = programmes::save(&state.store, &json_body(&body)?, false).await?;
    let v = programmes::view(&state.store, &p.slug, "tier")
        .await?
        .ok_or_else(|| ApiError::not_found("programme"))?;
    Ok((StatusCode::CREATED, Json(v)))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ByParams {
    by: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/programmes/{slug}", params(("slug" = String, Path, description = "programme"),
    ("by" = Option<String>, Query, description = "segment of the rates: wave, channel, tier (default), region, industry, sales_team, role")),
    responses((status = 200, description = "the programme, its waves and its response rates"), (status = 404, description = "no such programme")))]
pub(crate) async fn get_programme(
    State(state): State<Shared>,
    caller: Caller,
    Path(slug): Path<String>,
    Query(p): Query<ByParams>,
) -> Result<Json<ProgrammeView>, ApiError> {
    caller.require(Need::Read)?;
    caller.require_all_surveys()?;
    programmes::view(&state.store, &slug, p.by.as_deref().unwrap_or("tier"))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("programme {slug:?}")))
}

#[utoipa::path(put, path = "/api/v1/programmes/{slug}", params(("slug" = String, Path, description = "programme")),
    request_body(content = String, description = "the new definition (its slug must match)"),
    responses((status = 200, description = "updated; waves already drawn stay as they were")))]
pub(crate) async fn put_programme(
    State(state): State<Shared>,
    caller: Caller,
    Path(slug): Path<String>,
    body: bytes::Bytes,
) -> Result<Json<ProgrammeView>, ApiError> {
    caller.require(Need::Manage)?;
    let mut def = json_body(&body)?;
    match def.get("slug").and_then(|s| s.as_str()) {
        None => def["slug"] = serde_json::Value::from(slug.as_str()),
        Some(s) if s == slug => {}
        Some(s) => {
            return Err(ApiError::invalid_field(
                "slug",
                format!("the body's slug {s:?} is not {slug:?}"),
            ));
        }
    }
    if state.store.programme(&slug).await?.is_none() {
        return Err(ApiError::not_found(format!("programme {slug:?}")));
    }
    programmes::save(&state.store, &def, true).await?;
    programmes::view(&state.store, &slug, "tier")
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("programme"))
}

#[derive(Debug, Deserialize)]
pub(crate) struct StatusBody {
    status: String,
}

#[utoipa::path(patch, path = "/api/v1/programmes/{slug}", params(("slug" = String, Path, description = "programme")),
    request_body(content = String, description = "{\"status\": \"paused\"} or {\"status\": \"active\"}"),
    responses((status = 200, description = "changed")))]
pub(crate) async fn patch_programme(
    State(state): State<Shared>,
    caller: Caller,
    Path(slug): Path<String>,
    body: bytes::Bytes,
) -> Result<Json<ProgrammeView>, ApiError> {
    caller.require(Need::Manage)?;
    let b: StatusBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
    if b.status != "active" && b.status != "paused" {
        return Err(ApiError::invalid_field(
            "status",
            format!("status {:?}: use active or paused", b.status),
        ));
    }
    if !state.store.set_programme_status(&slug, &b.status).await? {
        return Err(ApiError::not_found(format!("programme {slug:?}")));
    }
    programmes::view(&state.store, &slug, "tier")
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("programme"))
}

#[utoipa::path(get, path = "/api/v1/programmes/{slug}/rates", params(("slug" = String, Path, description = "programme"),
    ("by" = Option<String>, Query, description = "wave, channel, tier, region, industry, sales_team, role or all")),
    responses((status = 200, description = "sent, delivered, opened, started and completed per group, with 95% intervals and the respondents' NPS")))]
pub(crate) async fn programme_rates(
    State(state): State<Shared>,
    caller: Caller,
    Path(slug): Path<String>,
    Query(p): Query<ByParams>,
) -> Result<Json<Vec<Rates>>, ApiError> {
    caller.require(Need::Read)?;
    caller.require_all_surveys()?;
    programmes::view(&state.store, &slug, p.by.as_deref().unwrap_or("tier"))
        .await?
        .map(|v| Json(v.segments))
        .ok_or_else(|| ApiError::not_found(format!("programme {slug:?}")))
}

async fn programme_id(state: &Shared, slug: &str) -> Result<i64, ApiError> {
    Ok(state
        .store
        .programme(slug)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("programme {slug:?}")))?
        .id)
}

#[utoipa::path(get, path = "/api/v1/programmes/{slug}/messages", params(("slug" = String, Path, description = "programme")),
    responses((status = 200, description = "invitations, reminders and reward messages, newest first, with their status and failures")))]
pub(crate) async fn programme_messages(
    State(state): State<Shared>,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<Json<Vec<LoggedMessage>>, ApiError> {
    caller.require(Need::Manage)?;
    let id = programme_id(&state, &slug).await?;
    Ok(Json(state.store.messages(id, 1000).await?))
}

#[utoipa::path(get, path = "/api/v1/programmes/{slug}/rewards", params(("slug" = String, Path, description = "programme")),
    responses((status = 200, description = "who received which coupon code or points, newest first")))]
pub(crate) async fn programme_rewards(
    State(state): State<Shared>,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<Json<Vec<StoredReward>>, ApiError> {
    caller.require(Need::Manage)?;
    let id = programme_id(&state, &slug).await?;
    Ok(Json(state.store.rewards(id).await?))
}

/// A coupon pool's stock.
#[derive(Debug, Serialize)]
pub struct PoolStock {
    /// Pool name.
    pub pool: String,
    /// Codes uploaded.
    pub codes: i64,
    /// Codes given.
    pub given: i64,
}

#[utoipa::path(get, path = "/api/v1/coupons", responses((status = 200, description = "coupon pools: codes uploaded and given")))]
pub(crate) async fn list_coupons(
    State(state): State<Shared>,
    caller: Caller,
) -> Result<Json<Vec<PoolStock>>, ApiError> {
    caller.require(Need::Manage)?;
    Ok(Json(
        state
            .store
            .coupon_stock()
            .await?
            .into_iter()
            .map(|(pool, codes, given)| PoolStock { pool, codes, given })
            .collect(),
    ))
}

/// What an upload of codes did.
#[derive(Debug, Serialize)]
pub struct CouponsAdded {
    /// New codes.
    pub added: u64,
    /// Codes the pool already had.
    pub duplicate: u64,
}

#[utoipa::path(post, path = "/api/v1/coupons/{pool}", params(("pool" = String, Path, description = "pool name")),
    request_body(content = String, description = "codes, one per line (or a JSON array of strings)"),
    responses((status = 200, description = "codes added; codes already in the pool are counted as duplicates")))]
pub(crate) async fn add_coupons(
    State(state): State<Shared>,
    caller: Caller,
    Path(pool): Path<String>,
    body: bytes::Bytes,
) -> Result<Json<CouponsAdded>, ApiError> {
    caller.require(Need::Manage)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the codes must be UTF-8 text"))?;
    let codes: Vec<String> = if text.trim_start().starts_with('[') {
        serde_json::from_str(text)
            .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?
    } else {
        programmes::coupon_codes(text)
    };
    if codes.is_empty() {
        return Err(ApiError::bad_request("no codes in the request body"));
    }
    if let Some(c) = codes.iter().find(|c| c.len() > 200) {
        return Err(ApiError::invalid_field(
            "code",
            format!("code {:?}… is longer than 200 characters", &c[..20]),
        ));
    }
    let n = state.store.add_coupons(pool.trim(), &codes).await?;
    Ok(Json(CouponsAdded {
        added: n.inserted,
        duplicate: n.duplicate,
    }))
}

#[utoipa::path(get, path = "/api/v1/contact-rules", responses((status = 200, description = "the contact rules every programme follows")))]
pub(crate) async fn get_contact_rules(
    State(state): State<Shared>,
    caller: Caller,
) -> Result<Json<ContactRules>, ApiError> {
    caller.require(Need::Read)?;
    Ok(Json(programmes::contact_rules(&state.store).await?))
}

#[utoipa::path(put, path = "/api/v1/contact-rules", request_body(content = String, description = "{\"min_days_between\": 30, \"account_cap\": 5, \"quiet_start\": 21, \"quiet_end\": 8, \"default_time_zone\": \"Asia/Shanghai\"}; missing keys keep their defaults"),
    responses((status = 200, description = "stored")))]
pub(crate) async fn put_contact_rules(
    State(state): State<Shared>,
    caller: Caller,
    body: bytes::Bytes,
) -> Result<Json<ContactRules>, ApiError> {
    caller.require(Need::Manage)?;
    let text =
        std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("UTF-8 JSON expected"))?;
    let rules = ContactRules::from_json(text).map_err(|e| ApiError::invalid_field("rules", e))?;
    if programmes::tz_offset(&rules.default_time_zone, crate::unix_now()).is_none() {
        return Err(ApiError::invalid_field(
            "default_time_zone",
            format!(
                "unknown time zone {:?}: use a name such as Asia/Shanghai or an offset such as +08:00",
                rules.default_time_zone
            ),
        ));
    }
    state
        .store
        .set_setting(programmes::RULES_KEY, &rules.to_json())
        .await?;
    Ok(Json(rules))
}
