//! `/app/programmes`: survey programmes in the browser, without JavaScript —
//! the list with a form that creates one, a programme's page (its waves,
//! who was left out and why, response rates by segment with intervals and
//! the respondents' NPS, rewards), pause/resume, and the sheet of personal
//! links for staff (QR codes to print, or a call list for phone interviews).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use bytes::Bytes;
use cx_store::Store;
use cx_store::programmes::ProgrammeStore;
use serde_json::{Value, json};

use crate::Shared;
use crate::app::{PageRequest, html, page_request, query_value};
use crate::app_loop::{page_chrome, role_allows, signed_form};
use crate::auth::Need;
use crate::pages::{Chrome, Texts};
use crate::programmes::{self, Rates};

/// Words of the programme pages.
pub struct Words {
    new: &'static str,
    name: &'static str,
    slug: &'static str,
    survey: &'static str,
    tier: &'static str,
    region: &'static str,
    roles: &'static str,
    cadence: &'static str,
    every: &'static str,
    start: &'static str,
    sample: &'static str,
    sample_note: &'static str,
    channel: &'static str,
    gateway: &'static str,
    reminders: &'static str,
    after_days: &'static str,
    at_most: &'static str,
    reward: &'static str,
    none: &'static str,
    coupon: &'static str,
    points: &'static str,
    seed: &'static str,
    create: &'static str,
    status: &'static str,
    waves: &'static str,
    wave: &'static str,
    audience: &'static str,
    invited: &'static str,
    suppressed: &'static str,
    unreachable: &'static str,
    fatigue: &'static str,
    account_cap: &'static str,
    not_sampled: &'static str,
    rates_by: &'static str,
    sent: &'static str,
    failed: &'static str,
    opened: &'static str,
    answered: &'static str,
    rate: &'static str,
    previous: &'static str,
    small: &'static str,
    quiet: &'static str,
    rewards: &'static str,
    coupons_left: &'static str,
    pause: &'static str,
    resume: &'static str,
    sheet: &'static str,
    no_programmes: &'static str,
    admin_only: &'static str,
    rules: &'static str,
    apply: &'static str,
    all: &'static str,
}

const ZH: Words = Words {
    new: "新建问卷计划",
    name: "名称",
    slug: "代号",
    survey: "问卷",
    tier: "客户等级",
    region: "区域",
    roles: "角色",
    cadence: "频率",
    every: "每",
    start: "开始日期",
    sample: "抽样人数",
    sample_note: "留空 = 全部符合条件的人",
    channel: "渠道",
    gateway: "短信/微信网关",
    reminders: "提醒",
    after_days: "未回答几天后",
    at_most: "最多次数",
    reward: "奖励",
    none: "无",
    coupon: "优惠券（券池）",
    points: "积分",
    seed: "抽样种子",
    create: "创建",
    status: "状态",
    waves: "各轮",
    wave: "轮次",
    audience: "目标人群",
    invited: "已邀请",
    suppressed: "已退订/退信",
    unreachable: "无联系方式",
    fatigue: "近期已调查",
    account_cap: "超出每客户上限",
    not_sampled: "未抽中",
    rates_by: "回复率，按",
    sent: "已发送",
    failed: "失败/退信",
    opened: "已打开",
    answered: "已回答",
    rate: "回复率",
    previous: "上一轮",
    small: "样本少",
    quiet: "比整体明显更少回复",
    rewards: "奖励发放记录",
    coupons_left: "优惠券：已发放 / 总数",
    pause: "暂停",
    resume: "恢复",
    sheet: "个人链接（打印二维码 / 电话访问名单）",
    no_programmes: "还没有问卷计划。",
    admin_only: "只有管理员可以创建或修改问卷计划。",
    rules: "联系规则",
    apply: "应用",
    all: "合计",
};

const EN: Words = Words {
    new: "New programme",
    name: "Name",
    slug: "Slug",
    survey: "Survey",
    tier: "Account tier",
    region: "Region",
    roles: "Roles",
    cadence: "Cadence",
    every: "every",
    start: "Start",
    sample: "Sample size",
    sample_note: "blank = everyone eligible",
    channel: "Channel",
    gateway: "SMS/WeChat gateway",
    reminders: "Reminders",
    after_days: "after days without answer",
    at_most: "at most",
    reward: "Reward",
    none: "none",
    coupon: "coupon (pool)",
    points: "points",
    seed: "Sampling seed",
    create: "Create",
    status: "Status",
    waves: "Waves",
    wave: "Wave",
    audience: "Audience",
    invited: "Invited",
    suppressed: "Unsubscribed/bounced",
    unreachable: "No address",
    fatigue: "Asked recently",
    account_cap: "Over the account cap",
    not_sampled: "Not drawn",
    rates_by: "Response rates by",
    sent: "Sent",
    failed: "Failed/bounced",
    opened: "Opened",
    answered: "Answered",
    rate: "Response rate",
    previous: "Previous wave",
    small: "small sample",
    quiet: "answers clearly less than the rest",
    rewards: "Rewards given",
    coupons_left: "Coupons: given / uploaded",
    pause: "Pause",
    resume: "Resume",
    sheet: "Personal links (QR codes to print / call list)",
    no_programmes: "No programme yet.",
    admin_only: "Only admins create or change programmes.",
    rules: "Contact rules",
    apply: "Apply",
    all: "all",
};

fn words(lang: &str) -> &'static Words {
    if lang.starts_with("zh") { &ZH } else { &EN }
}

/// A programme in the list.
pub struct Row {
    slug: String,
    name: String,
    survey: String,
    status: String,
    cadence: String,
    channel: String,
    waves: usize,
    sent: u64,
    rate: String,
}

#[derive(Template)]
#[template(path = "programmes.html")]
struct ListPage {
    t: &'static Texts,
    c: Chrome,
    w: &'static Words,
    rows: Vec<Row>,
    surveys: Vec<(String, String)>,
    roles: Vec<(&'static str, bool)>,
    values: Vec<(String, String)>,
    error: String,
    can_edit: bool,
    rules: String,
    tiers: [&'static str; 4],
    cadences: [&'static str; 4],
    channels: [&'static str; 5],
    reward_kinds: [(&'static str, &'static str); 3],
}

impl ListPage {
    fn value(&self, name: &str) -> &str {
        self.values
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    fn is(&self, name: &str, v: &str) -> bool {
        self.value(name) == v
    }
}

fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.1}%"))
}

async fn render_list(
    state: &Shared,
    p: &PageRequest,
    values: Vec<(String, String)>,
    error: String,
    code: StatusCode,
) -> Response {
    let mut rows = Vec::new();
    let list = match state.store.programmes().await {
        Ok(l) => l,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    for pr in list {
        match programmes::view(&state.store, &pr.slug, "all").await {
            Ok(Some(v)) => rows.push(Row {
                slug: v.slug,
                name: v.name,
                survey: v.survey,
                status: v.status,
                cadence: v.cadence,
                channel: v.channel,
                waves: v.waves.len(),
                sent: v.totals.funnel.sent,
                rate: percent(v.totals.response_rate.percent),
            }),
            Ok(None) => {}
            Err(e) => return e.into_response(),
        }
    }
    let surveys = match state.store.surveys().await {
        Ok(s) => s
            .into_iter()
            .map(|s| {
                (
                    s.definition.slug.clone(),
                    s.definition.title.get(&p.lang).to_string(),
                )
            })
            .collect(),
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let rules = match programmes::contact_rules(&state.store).await {
        Ok(r) => r,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let zh = p.lang.starts_with("zh");
    let rules = if zh {
        format!(
            "同一人 {} 天内最多调查一次（所有计划与问卷合计）；每轮每个客户最多 {} 人；免打扰时段 {:02}:00–{:02}:00（按每人所在时区，默认 {}）。",
            rules.min_days_between,
            rules.account_cap,
            rules.quiet_start,
            rules.quiet_end,
            rules.default_time_zone
        )
    } else {
        format!(
            "A person is asked at most once in {} days (all programmes and surveys); at most {} people per account per wave; quiet hours {:02}:00–{:02}:00 in each person's time zone (default {}).",
            rules.min_days_between,
            rules.account_cap,
            rules.quiet_start,
            rules.quiet_end,
            rules.default_time_zone
        )
    };
    let chosen: Vec<String> = values
        .iter()
        .filter(|(k, _)| k == "role")
        .map(|(_, v)| v.clone())
        .collect();
    let page = ListPage {
        t: crate::pages::texts(&p.lang),
        c: page_chrome(p),
        w: words(&p.lang),
        rows,
        surveys,
        roles: cx_core::model::customer::ContactRole::ALL
            .iter()
            .map(|r| (r.as_str(), chosen.iter().any(|c| c == r.as_str())))
            .collect(),
        values,
        error,
        can_edit: role_allows(&p.user, Need::Manage),
        rules,
        tiers: ["any", "key", "major", "standard"],
        cadences: ["once", "week", "month", "quarter"],
        channels: ["email", "sms", "wechat", "print", "phone"],
        reward_kinds: [
            ("none", words(&p.lang).none),
            ("coupon", words(&p.lang).coupon),
            ("points", words(&p.lang).points),
        ],
    };
    html(code, page.render())
}

/// `GET /app/programmes`.
pub(crate) async fn list_page(
    State(state): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let p = match page_request(&state, &uri, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let today = cx_core::period::Date::from_days(crate::unix_now().div_euclid(86_400) as i32);
    let defaults = vec![
        ("tier".to_string(), "key".to_string()),
        ("cadence".into(), "quarter".into()),
        ("every".into(), "1".into()),
        ("start".into(), today.to_string()),
        ("channel".into(), "email".into()),
        ("after_days".into(), "3".into()),
        ("max".into(), "2".into()),
        ("reward".into(), "none".into()),
        ("seed".into(), "1".into()),
    ];
    render_list(&state, &p, defaults, String::new(), StatusCode::OK).await
}

/// The definition the creation form describes.
fn definition_of(f: &crate::app_loop::Form) -> Result<Value, String> {
    let text = |k: &str| f.get(k).unwrap_or_default();
    let number = |k: &str, what: &str| -> Result<Option<u64>, String> {
        match f.get(k) {
            None => Ok(None),
            Some(v) => v
                .parse::<u64>()
                .map(Some)
                .map_err(|_| format!("{what}: {v:?} is not a whole number")),
        }
    };
    let mut audience = serde_json::Map::new();
    match text("tier").as_str() {
        "" | "any" => {}
        t => {
            audience.insert("tiers".into(), json!([t]));
        }
    }
    if let Some(r) = f.get("region") {
        audience.insert(
            "regions".into(),
            json!(
                r.split([',', '，'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
            ),
        );
    }
    let roles: Vec<&str> = f
        .fields
        .iter()
        .filter(|(k, _)| k == "role")
        .map(|(_, v)| v.as_str())
        .collect();
    if !roles.is_empty() {
        audience.insert("roles".into(), json!(roles));
    }
    let start = text("start");
    let cadence = match text("cadence").as_str() {
        "once" => json!({"once": start}),
        unit @ ("week" | "month" | "quarter") => {
            json!({"every": number("every", "every")?.unwrap_or(1), "unit": unit, "start": start})
        }
        other => {
            return Err(format!(
                "cadence {other:?}: choose once, week, month or quarter"
            ));
        }
    };
    let mut def = json!({
        "slug": text("slug"),
        "name": text("name"),
        "survey": text("survey"),
        "audience": audience,
        "cadence": cadence,
        "channel": text("channel"),
        "seed": number("seed", "seed")?.unwrap_or(1),
        "reminders": {"after_days": number("after_days", "reminders")?.unwrap_or(3), "max": number("max", "reminders")?.unwrap_or(0)},
    });
    if let Some(n) = number("sample", "sample size")? {
        def["sample"] = json!({"size": n});
    }
    match text("reward").as_str() {
        "coupon" => def["reward"] = json!({"coupon": text("reward_value")}),
        "points" => {
            def["reward"] = json!({"points": number("reward_value", "points")?.unwrap_or(0)})
        }
        _ => {}
    }
    if let Some(url) = f.get("gateway_url") {
        def["gateway"] = json!({"url": url, "secret": text("gateway_secret")});
    }
    Ok(def)
}

/// `POST /app/programmes`: creates a programme from the form; the form
/// comes back with the values and the reason when it is wrong.
pub(crate) async fn create_post(
    State(state): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = match signed_form(
        &state,
        &uri,
        &headers,
        &body,
        Need::Manage,
        "create programmes",
    )
    .await
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    let values: Vec<(String, String)> = f
        .fields
        .iter()
        .filter(|(k, _)| k != "_csrf" && k != "gateway_secret")
        .cloned()
        .collect();
    let def = match definition_of(&f) {
        Ok(d) => d,
        Err(e) => {
            return render_list(&state, &f.p, values, e, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    match programmes::save(&state.store, &def, false).await {
        Ok(p) => Redirect::to(&format!("/app/programmes/{}", p.slug)).into_response(),
        Err(e) if e.status_code().is_client_error() => {
            render_list(
                &state,
                &f.p,
                values,
                e.message(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => e.into_response(),
    }
}

/// A row of rates for the page.
pub struct RateRow {
    group: String,
    invited: u64,
    sent: u64,
    failed: u64,
    opened: u64,
    answered: u64,
    rate: String,
    interval: String,
    nps: String,
    small: bool,
    quiet: bool,
}

fn rate_row(r: &Rates, overall: Option<f64>) -> RateRow {
    let rr = &r.response_rate;
    RateRow {
        group: if r.group.is_empty() {
            "—".into()
        } else {
            r.group.clone()
        },
        invited: r.funnel.invited,
        sent: r.funnel.sent,
        failed: r.funnel.failed,
        opened: r.funnel.opened,
        answered: r.funnel.completed,
        rate: percent(rr.percent),
        interval: rr
            .interval
            .map_or_else(|| "—".into(), |i| format!("{:.1}–{:.1}", i.lo, i.hi)),
        nps: r
            .nps
            .map_or_else(|| "—".into(), |n| format!("{n:.0} (n={})", r.nps_n)),
        small: r.small_sample,
        // Going quiet: the whole interval lies below the overall rate.
        quiet: matches!((rr.interval, overall), (Some(i), Some(o)) if i.hi < o),
    }
}

/// A wave row.
pub struct WaveRow {
    label: String,
    starts: String,
    audience: String,
    invited: String,
    left: Vec<String>,
    rate: String,
    previous: String,
}

#[derive(Template)]
#[template(path = "programme.html")]
struct ProgrammePage {
    t: &'static Texts,
    c: Chrome,
    w: &'static Words,
    v: programmes::ProgrammeView,
    by: String,
    bys: Vec<(&'static str, bool)>,
    waves: Vec<WaveRow>,
    segments: Vec<RateRow>,
    total: RateRow,
    rewards: Vec<(String, String, String, String, String)>,
    can_edit: bool,
}

/// `GET /app/programmes/{slug}?by=tier`.
pub(crate) async fn programme_page(
    State(state): State<Shared>,
    Path(slug): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let p = match page_request(&state, &uri, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let by = query_value(&p.query, "by").unwrap_or_else(|| "tier".into());
    let v = match programmes::view(&state.store, &slug, &by).await {
        Ok(Some(v)) => v,
        Ok(None) => {
            return crate::error::ApiError::not_found(format!("programme {slug:?}"))
                .into_response();
        }
        Err(e) => return e.into_response(),
    };
    let id = match state.store.programme(&slug).await {
        Ok(Some(p)) => p.id,
        Ok(None) => return crate::error::ApiError::not_found("programme").into_response(),
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let rewards = match state.store.rewards(id).await {
        Ok(r) => r
            .into_iter()
            .take(200)
            .map(|r| {
                let what = r
                    .code
                    .clone()
                    .or(r.points.map(|p| format!("{p} pts")))
                    .unwrap_or_default();
                (r.given_at, r.wave, r.contact, r.name, what)
            })
            .collect(),
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let overall = v.totals.response_rate.percent;
    let segments = v.segments.iter().map(|r| rate_row(r, overall)).collect();
    let total = rate_row(&v.totals, None);
    let waves = v
        .waves
        .iter()
        .map(|w| {
            let n = |k: &str| w.draw["left_out"][k].as_u64().unwrap_or(0).to_string();
            WaveRow {
                label: w.label.clone(),
                starts: w.starts_at.clone(),
                audience: w.draw["audience"].to_string(),
                invited: w.draw["invited"].to_string(),
                left: [
                    "suppressed",
                    "unreachable",
                    "fatigue",
                    "account_cap",
                    "not_sampled",
                ]
                .iter()
                .map(|k| n(k))
                .collect(),
                rate: percent(w.rates.response_rate.percent),
                previous: percent(w.previous_response_rate),
            }
        })
        .collect();
    let page = ProgrammePage {
        t: crate::pages::texts(&p.lang),
        c: page_chrome(&p),
        w: words(&p.lang),
        bys: [
            "tier",
            "region",
            "industry",
            "sales_team",
            "role",
            "channel",
            "wave",
        ]
        .into_iter()
        .map(|b| (b, b == by))
        .collect(),
        by,
        waves,
        segments,
        total,
        rewards,
        can_edit: role_allows(&p.user, Need::Manage),
        v,
    };
    html(StatusCode::OK, page.render())
}

/// `POST /app/programmes/{slug}`: pause or resume (a repeated click changes nothing).
pub(crate) async fn status_post(
    State(state): State<Shared>,
    Path(slug): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = match signed_form(
        &state,
        &uri,
        &headers,
        &body,
        Need::Manage,
        "change programmes",
    )
    .await
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    let status = match f.get("status").as_deref() {
        Some("paused") => "paused",
        Some("active") => "active",
        _ => {
            return crate::error::ApiError::invalid_field("status", "active or paused")
                .into_response();
        }
    };
    match state.store.set_programme_status(&slug, status).await {
        Ok(true) => Redirect::to(&format!("/app/programmes/{slug}")).into_response(),
        Ok(false) => {
            crate::error::ApiError::not_found(format!("programme {slug:?}")).into_response()
        }
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

/// `GET /app/programmes/{slug}/sheet?wave=LABEL`: the personal links of a
/// wave, with QR codes for printed invitations (staff only: the links are
/// the invitations themselves).
pub(crate) async fn sheet_page(
    State(state): State<Shared>,
    Path(slug): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let p = match page_request(&state, &uri, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if !role_allows(&p.user, Need::Tasks) {
        return crate::error::ApiError::forbidden("viewers cannot see personal survey links")
            .into_response();
    }
    let wave = query_value(&p.query, "wave");
    match programmes::sheet(&state.store, &state.config.base_url, &slug, wave.as_deref()).await {
        Ok(Some((def, label, lines))) => {
            let mut r = Html(programmes::sheet_html(&def.name, &label, &lines)).into_response();
            r.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            r
        }
        Ok(None) => {
            crate::error::ApiError::not_found(format!("programme {slug:?}")).into_response()
        }
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}
