//! The respondent pages: `GET /s/{slug}` renders the survey (no JavaScript,
//! phone first, zh/en), `POST /s/{slug}` checks it on the server and commits
//! it, `GET /s/{slug}/thanks` thanks.
//!
//! Two clicks on Submit, or a reload of the POST, carry the same submission key
//! (a hidden field made when the page was rendered), so they store one
//! response. An invitation token (`?t=`) accepts one response. Anonymous
//! surveys store neither contact nor account; no survey stores IP addresses.

use std::net::SocketAddr;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use bytes::Bytes;
use cx_core::model::survey::{AnswerValue, Question, QuestionKind, SurveyDefinition};
use cx_core::period::Date;
use cx_core::survey::ces::CesDirection;
use cx_store::programmes::ProgrammeStore;
use cx_store::server::{Invitation, ServerStore, Submission, Submitted};
use cx_store::{NewResponse, StoreError, StoredSurvey};
use serde::Deserialize;

use crate::auth::{cookie, hash_secret, random_token, same_secret, set_cookie};
use crate::{Shared, unix_now};

/// The form's CSRF cookie (double submit: the cookie and a hidden field match).
pub(crate) const FORM_COOKIE: &str = "cx_form";
/// Longest open-text answer, in characters.
pub const MAX_TEXT: usize = 5000;

/// Routes of the respondent pages.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/s/{slug}", get(show).post(submit))
        .route("/s/{slug}/thanks", get(thanks))
        .route("/u/{token}", get(unsubscribe_page).post(unsubscribe))
        .route("/o/{file}", get(opened))
}

/// Interface text in one language.
#[derive(Debug)]
pub struct Texts {
    /// `lang` attribute.
    pub tag: &'static str,
    submit: &'static str,
    required: &'static str,
    answer_required: &'static str,
    errors: &'static str,
    expired: &'static str,
    thanks_title: &'static str,
    thanks_body: &'static str,
    already: &'static str,
    invalid_link: &'static str,
    not_found: &'static str,
    too_many: &'static str,
    too_long: &'static str,
    bad_choice: &'static str,
    bad_score: &'static str,
    nps: (&'static str, &'static str),
    csat: (&'static str, &'static str),
    ces: (&'static str, &'static str),
    rating: (&'static str, &'static str),
    optional_text: &'static str,
}

const ZH: Texts = Texts {
    tag: "zh-CN",
    submit: "提交",
    required: "必答",
    answer_required: "请回答此问题。",
    errors: "有问题需要您补充，请查看下方标出的问题。",
    expired: "页面已过期，请再提交一次（您的回答已保留）。",
    thanks_title: "感谢您的反馈！",
    thanks_body: "您的回答已保存。我们会认真阅读每一条意见。",
    already: "您已经回答过这份问卷，感谢您的参与！",
    invalid_link: "此链接无效。请使用邀请邮件或短信中的完整链接。",
    not_found: "找不到这份问卷。",
    too_many: "请求过于频繁，请稍后再试。",
    too_long: "回答太长了（最多 5000 字）。",
    bad_choice: "请从列出的选项中选择。",
    bad_score: "请选择量表上的一个分数。",
    nps: ("0 = 不可能", "10 = 极有可能"),
    csat: ("非常不满意", "非常满意"),
    ces: ("非常困难", "非常容易"),
    rating: ("很差", "很好"),
    optional_text: "选填",
};

const EN: Texts = Texts {
    tag: "en",
    submit: "Submit",
    required: "required",
    answer_required: "Please answer this question.",
    errors: "Some answers need your attention; see the questions marked below.",
    expired: "This page had expired. Please submit again (your answers are kept).",
    thanks_title: "Thank you for your feedback!",
    thanks_body: "Your answers are saved. We read every comment.",
    already: "You have already answered this survey. Thank you!",
    invalid_link: "This link is not valid. Please use the full link from your invitation.",
    not_found: "We cannot find this survey.",
    too_many: "Too many requests. Please try again in a minute.",
    too_long: "This answer is too long (at most 5,000 characters).",
    bad_choice: "Please choose one of the options listed.",
    bad_score: "Please choose a point on the scale.",
    nps: ("0 = Not at all likely", "10 = Extremely likely"),
    csat: ("Very dissatisfied", "Very satisfied"),
    ces: ("Very difficult", "Very easy"),
    rating: ("Very poor", "Excellent"),
    optional_text: "optional",
};

/// The texts for `lang` (`zh…` or anything else for English).
pub fn texts(lang: &str) -> &'static Texts {
    if lang.starts_with("zh") { &ZH } else { &EN }
}

/// The language to show: `?lang=`, else the first of `Accept-Language` the
/// survey offers, else the survey's first language.
pub fn pick_language(explicit: Option<&str>, headers: &HeaderMap, offered: &[String]) -> String {
    let offered_has = |l: &str| offered.is_empty() || offered.iter().any(|o| o == l);
    if let Some(l) = explicit.and_then(normalize_lang)
        && offered_has(l)
    {
        return l.to_string();
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut ranked: Vec<(f32, &str)> = accept
        .split(',')
        .filter_map(|part| {
            let mut it = part.trim().split(';');
            let tag = it.next()?.trim();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            (!tag.is_empty()).then_some((q, tag))
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (_, tag) in ranked {
        if let Some(l) = normalize_lang(tag)
            && offered_has(l)
        {
            return l.to_string();
        }
    }
    offered.first().cloned().unwrap_or_else(|| "zh".into())
}

fn normalize_lang(tag: &str) -> Option<&'static str> {
    let tag = tag.trim().to_ascii_lowercase();
    if tag.starts_with("zh") {
        Some("zh")
    } else if tag.starts_with("en") {
        Some("en")
    } else {
        None
    }
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    lang: Option<String>,
    t: Option<String>,
}

struct Point {
    value: i64,
    checked: bool,
}

struct Opt {
    value: String,
    label: String,
    checked: bool,
}

struct QuestionView {
    id: String,
    name: String,
    kind: &'static str,
    legend: String,
    required: bool,
    error: Option<String>,
    points: Vec<Point>,
    low: String,
    high: String,
    multiple: bool,
    options: Vec<Opt>,
    text: String,
}

#[derive(Template)]
#[template(path = "survey.html")]
struct SurveyPage<'a> {
    t: &'a Texts,
    title: String,
    slug: String,
    lang: String,
    csrf: String,
    key: String,
    token: String,
    alert: String,
    questions: Vec<QuestionView>,
    languages: Vec<(String, String, bool)>,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    t: &'a Texts,
    title: String,
    heading: String,
    body: String,
}

/// A plain page with one message.
pub(crate) fn message(
    status: StatusCode,
    lang: &str,
    title: &str,
    heading: &str,
    body: &str,
) -> Response {
    let page = MessagePage {
        t: texts(lang),
        title: title.to_string(),
        heading: heading.to_string(),
        body: body.to_string(),
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => crate::error::ApiError::internal("rendering", e).into_response(),
    }
}

fn too_many(state: &Shared, lang: &str) -> Response {
    state
        .stats
        .rate_limited
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let t = texts(lang);
    let mut r = message(
        StatusCode::TOO_MANY_REQUESTS,
        lang,
        t.too_many,
        t.too_many,
        "",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
    r
}

fn server_error(e: impl std::fmt::Display) -> Response {
    crate::error::ApiError::internal("survey page", e).into_response()
}

/// The survey with this slug (ids are not accepted on public pages).
async fn survey_by_slug(
    state: &Shared,
    slug: &str,
) -> Result<Option<std::sync::Arc<StoredSurvey>>, StoreError> {
    let survey = match state.surveys.get(slug) {
        Some(s) => s,
        None => match state.store.survey_definition(slug).await {
            Ok(s) => {
                let s = std::sync::Arc::new(s);
                state.surveys.put(slug, s.clone());
                s
            }
            Err(StoreError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        },
    };
    Ok((survey.definition.slug == slug).then_some(survey))
}

/// What a `?t=` token leads to.
enum TokenState {
    None,
    Valid(Invitation),
    Used(Invitation),
    Invalid,
}

async fn token_state(
    state: &Shared,
    survey: &StoredSurvey,
    token: Option<&str>,
) -> Result<TokenState, StoreError> {
    let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(TokenState::None);
    };
    Ok(match state.store.invitation(&hash_secret(token)).await? {
        Some(i) if i.survey != survey.id => TokenState::Invalid,
        Some(i) if i.used => TokenState::Used(i),
        Some(i) => TokenState::Valid(i),
        None => TokenState::Invalid,
    })
}

async fn show(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(slug): Path<String>,
    Query(q): Query<PageQuery>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let fallback = pick_language(q.lang.as_deref(), &headers, &[]);
    if !state.limits.allow(peer.ip()) {
        return too_many(&state, &fallback);
    }
    // Answers in the link (`&q_nps=9`, the score buttons of an invitation
    // email) are filled in; the respondent still submits the form.
    let prefill: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .filter_map(|(k, v)| {
            k.strip_prefix("q_")
                .map(|id| (id.to_string(), v.into_owned()))
        })
        .take(50)
        .collect();
    let survey = match survey_by_slug(&state, &slug).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            let t = texts(&fallback);
            return message(
                StatusCode::NOT_FOUND,
                &fallback,
                t.not_found,
                t.not_found,
                "",
            );
        }
        Err(e) => return server_error(e),
    };
    let lang = pick_language(q.lang.as_deref(), &headers, &survey.definition.languages);
    let t = texts(&lang);
    match token_state(&state, &survey, q.t.as_deref()).await {
        Ok(TokenState::Used(_)) => {
            return message(StatusCode::OK, &lang, t.already, t.already, "");
        }
        Ok(TokenState::Valid(i)) => {
            if let Err(e) = state.store.mark_invitation(i.id, true, unix_now()).await {
                eprintln!("cxscore: recording a started invitation: {e}");
            }
        }
        Ok(TokenState::Invalid) => {
            return message(
                StatusCode::NOT_FOUND,
                &lang,
                t.invalid_link,
                t.invalid_link,
                "",
            );
        }
        Ok(_) => {}
        Err(e) => return server_error(e),
    }
    let csrf = cookie(&headers, FORM_COOKIE)
        .filter(|c| c.len() == 43)
        .map(str::to_string)
        .unwrap_or_else(random_token);
    let form = FormState {
        values: prefill,
        errors: Vec::new(),
        key: random_token(),
        token: q.t.unwrap_or_default(),
        alert: String::new(),
    };
    render_form(
        &state,
        &survey.definition,
        &lang,
        &csrf,
        form,
        StatusCode::OK,
    )
}

/// What the respondent sent, kept when the form comes back with errors.
struct FormState {
    values: Vec<(String, String)>,
    errors: Vec<(String, String)>,
    key: String,
    token: String,
    alert: String,
}

fn render_form(
    state: &Shared,
    d: &SurveyDefinition,
    lang: &str,
    csrf: &str,
    form: FormState,
    status: StatusCode,
) -> Response {
    let t = texts(lang);
    let value_of = |id: &str| -> Vec<&str> {
        form.values
            .iter()
            .filter(|(k, _)| k == id)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let questions = d
        .questions
        .iter()
        .map(|q| {
            let chosen = value_of(&q.id);
            let error = form
                .errors
                .iter()
                .find(|(k, _)| *k == q.id)
                .map(|(_, e)| e.clone());
            let (low, high) = scale_ends(q, t);
            let scale = q.rating_scale();
            QuestionView {
                id: q.id.clone(),
                name: format!("q_{}", q.id),
                kind: match q.kind {
                    QuestionKind::Text => "text",
                    QuestionKind::Choice => "choice",
                    _ => "scale",
                },
                legend: q.text.get(lang).to_string(),
                required: q.required,
                error,
                points: scale
                    .map(|s| {
                        (i64::from(s.min)..=i64::from(s.max))
                            .map(|v| Point {
                                value: v,
                                checked: chosen.iter().any(|c| c.trim() == v.to_string()),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                low: low.to_string(),
                high: high.to_string(),
                multiple: q.multiple,
                options: q
                    .options
                    .iter()
                    .map(|o| Opt {
                        value: o.id.clone(),
                        label: o.text.get(lang).to_string(),
                        checked: chosen.contains(&o.id.as_str()),
                    })
                    .collect(),
                text: if q.kind == QuestionKind::Text {
                    chosen.first().map(|s| s.to_string()).unwrap_or_default()
                } else {
                    String::new()
                },
            }
        })
        .collect();
    let token_param = if form.token.is_empty() {
        String::new()
    } else {
        format!("&t={}", form.token)
    };
    let languages = d
        .languages
        .iter()
        .map(|l| {
            let name = if l == "zh" { "中文" } else { "English" };
            (
                format!("/s/{}?lang={l}{token_param}", d.slug),
                name.to_string(),
                l == lang,
            )
        })
        .collect();
    let page = SurveyPage {
        t,
        title: d.title.get(lang).to_string(),
        slug: d.slug.clone(),
        lang: lang.to_string(),
        csrf: csrf.to_string(),
        key: form.key,
        token: form.token,
        alert: form.alert,
        questions,
        languages,
    };
    match page.render() {
        Ok(html) => {
            let mut r = (status, Html(html)).into_response();
            if let Ok(v) = header::HeaderValue::from_str(&set_cookie(
                FORM_COOKIE,
                csrf,
                86_400,
                state.config.secure_cookies,
            )) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            r
        }
        Err(e) => server_error(e),
    }
}

/// The labels at the two ends of a question's scale.
fn scale_ends(q: &Question, t: &'static Texts) -> (&'static str, &'static str) {
    match q.kind {
        QuestionKind::Nps => t.nps,
        QuestionKind::Csat => t.csat,
        QuestionKind::Ces => match q.direction.unwrap_or_default() {
            CesDirection::HigherIsEasier => t.ces,
            CesDirection::HigherIsHarder => (t.ces.1, t.ces.0),
        },
        QuestionKind::Rating => t.rating,
        _ => ("", t.optional_text),
    }
}

/// `(question id, message)`.
pub type FieldError = (String, String);

/// Checks raw answers (`(question id, value)`, repeated for several choices)
/// against the survey. Errors are `(question id, message in lang)`.
pub fn check_answers(
    d: &SurveyDefinition,
    raw: &[(String, String)],
    lang: &str,
) -> Result<Vec<(String, AnswerValue)>, Vec<FieldError>> {
    let t = texts(lang);
    let mut answers = Vec::new();
    let mut errors = Vec::new();
    for q in &d.questions {
        let values: Vec<&str> = raw
            .iter()
            .filter(|(k, _)| *k == q.id)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            if q.required {
                errors.push((q.id.clone(), t.answer_required.to_string()));
            }
            continue;
        }
        if q.kind == QuestionKind::Text
            && values.iter().map(|v| v.chars().count()).sum::<usize>() > MAX_TEXT
        {
            errors.push((q.id.clone(), t.too_long.to_string()));
            continue;
        }
        if q.kind != QuestionKind::Choice && values.len() > 1 {
            errors.push((q.id.clone(), t.bad_score.to_string()));
            continue;
        }
        let joined = values.join(";");
        match q.parse_answer(&joined) {
            Ok(Some(v)) => answers.push((q.id.clone(), v)),
            Ok(None) => {
                if q.required {
                    errors.push((q.id.clone(), t.answer_required.to_string()));
                }
            }
            Err(_) => errors.push((
                q.id.clone(),
                if q.kind == QuestionKind::Choice {
                    t.bad_choice
                } else {
                    t.bad_score
                }
                .to_string(),
            )),
        }
    }
    if errors.is_empty() {
        Ok(answers)
    } else {
        Err(errors)
    }
}

/// Today (UTC) and now as RFC 3339.
pub(crate) fn now() -> (Date, String) {
    let secs = unix_now();
    let date = Date::from_days(secs.div_euclid(86_400) as i32);
    let s = secs.rem_euclid(86_400);
    (
        date,
        format!("{date}T{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60),
    )
}

/// A submission key the client chose: a fresh key's shape, or none.
fn client_key(k: &str) -> Option<&str> {
    (k.len() == 43
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then_some(k)
}

/// Builds the response to store: identity only for named surveys.
pub(crate) fn new_response(
    survey: &StoredSurvey,
    dedupe_key: String,
    channel: &str,
    lang: &str,
    invitation: Option<&Invitation>,
    answers: Vec<(String, AnswerValue)>,
    metadata: serde_json::Map<String, serde_json::Value>,
) -> NewResponse {
    let (today, now) = now();
    let anonymous = survey.definition.anonymous;
    let mut metadata = metadata;
    // A named response carries its account's region, tier and sales team, so that
    // web answers slice like imported ones (`--by region`).
    if let Some(i) = invitation.filter(|_| !anonymous) {
        for (k, v) in &i.account_fields {
            metadata
                .entry(k.to_string())
                .or_insert_with(|| serde_json::Value::from(v.as_str()));
        }
    }
    NewResponse {
        dedupe_key,
        submitted_at: now,
        submitted_on: today,
        channel: channel.to_string(),
        language: Some(lang.to_string()),
        account: invitation.filter(|_| !anonymous).and_then(|i| i.account),
        contact: invitation.filter(|_| !anonymous).map(|i| i.contact),
        metadata,
        answers,
    }
}

async fn submit(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let explicit = Some(field("lang")).filter(|l| !l.is_empty());
    let fallback = pick_language(explicit, &headers, &[]);
    if !state.limits.allow(peer.ip()) {
        return too_many(&state, &fallback);
    }
    let survey = match survey_by_slug(&state, &slug).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            let t = texts(&fallback);
            return message(
                StatusCode::NOT_FOUND,
                &fallback,
                t.not_found,
                t.not_found,
                "",
            );
        }
        Err(e) => return server_error(e),
    };
    let lang = pick_language(explicit, &headers, &survey.definition.languages);
    let t = texts(&lang);
    let token = field("t").trim().to_string();
    let invitation = match token_state(&state, &survey, Some(&token)).await {
        // A used invitation goes to the commit too: the same form sent again
        // (a second click) finds its own response and thanks; another is refused.
        Ok(TokenState::Valid(i) | TokenState::Used(i)) => Some(i),
        Ok(TokenState::None) => None,
        Ok(TokenState::Invalid) => {
            return message(
                StatusCode::NOT_FOUND,
                &lang,
                t.invalid_link,
                t.invalid_link,
                "",
            );
        }
        Err(e) => return server_error(e),
    };
    let raw: Vec<(String, String)> = fields
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("q_").map(|id| (id.to_string(), v.clone())))
        .collect();
    let key = client_key(field("_k"))
        .map(str::to_string)
        .unwrap_or_else(random_token);
    let cookie_csrf = cookie(&headers, FORM_COOKIE).unwrap_or("");
    let csrf_ok = !cookie_csrf.is_empty() && same_secret(cookie_csrf, field("_csrf"));
    if !csrf_ok {
        let form = FormState {
            values: raw,
            errors: Vec::new(),
            key,
            token,
            alert: t.expired.to_string(),
        };
        return render_form(
            &state,
            &survey.definition,
            &lang,
            &random_token(),
            form,
            StatusCode::FORBIDDEN,
        );
    }
    let answers = match check_answers(&survey.definition, &raw, &lang) {
        Ok(a) => a,
        Err(errors) => {
            let form = FormState {
                values: raw,
                errors,
                key,
                token,
                alert: t.errors.to_string(),
            };
            return render_form(
                &state,
                &survey.definition,
                &lang,
                cookie_csrf,
                form,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    // A programme's invitation answers through its channel (a QR sheet is
    // in person, a call list is phone); a staff member signed in who records
    // a phone interview is kept as the interviewer.
    let channel = match invitation.as_ref().map(|i| i.channel.as_deref()) {
        None => "web",
        Some(None) => "email",
        Some(Some(c)) => cx_core::programme::Channel::parse(c)
            .map(|c| c.response_channel())
            .unwrap_or("email"),
    };
    let mut metadata = serde_json::Map::new();
    if channel == "phone"
        && let Ok(Some((user, _))) = crate::auth::session_user(&state, &headers).await
    {
        metadata.insert("interviewer".into(), serde_json::Value::from(user.username));
    }
    let response = new_response(
        &survey,
        format!("web:{key}"),
        channel,
        &lang,
        invitation.as_ref(),
        answers,
        metadata,
    );
    let submission = Submission::new(survey.id, response, invitation.as_ref().map(|i| i.id));
    match state.committer.submit(submission).await {
        Ok(Submitted::Stored(_) | Submitted::Duplicate(_)) => {
            // The token goes on so the thank-you page can show the reward.
            let t = if invitation.as_ref().is_some_and(|i| i.programme.is_some()) {
                format!(
                    "&t={}",
                    form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
                )
            } else {
                String::new()
            };
            Redirect::to(&format!(
                "/s/{}/thanks?lang={lang}{t}",
                survey.definition.slug
            ))
            .into_response()
        }
        Ok(Submitted::AlreadyAnswered) => {
            message(StatusCode::CONFLICT, &lang, t.already, t.already, "")
        }
        Err(e) => e.into_response(),
    }
}

async fn thanks(
    State(state): State<Shared>,
    Path(slug): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let offered = match survey_by_slug(&state, &slug).await {
        Ok(Some(s)) => s.definition.languages.clone(),
        Ok(None) => Vec::new(),
        Err(e) => return server_error(e),
    };
    let lang = pick_language(q.lang.as_deref(), &headers, &offered);
    let t = texts(&lang);
    let mut body = t.thanks_body.to_string();
    if let Some(token) = q.t.as_deref().filter(|t| !t.is_empty()) {
        match reward_of(&state, &slug, token, &lang).await {
            Ok(Some(text)) => body = format!("{body} {text}"),
            Ok(None) => {}
            Err(e) => eprintln!("cxscore: the reward of an invitation: {e}"),
        }
    }
    message(StatusCode::OK, &lang, t.thanks_title, t.thanks_title, &body)
}

/// The reward of the answered invitation `token` of survey `slug`, given now
/// if it was not yet (each coupon code at most once), as text in `lang`.
async fn reward_of(
    state: &Shared,
    slug: &str,
    token: &str,
    lang: &str,
) -> Result<Option<String>, StoreError> {
    let Some(i) = state.store.invitation(&hash_secret(token)).await? else {
        return Ok(None);
    };
    let Some(programme) = i.programme.filter(|_| i.used) else {
        return Ok(None);
    };
    let Some(p) = state
        .store
        .programmes()
        .await?
        .into_iter()
        .find(|p| p.id == programme && p.survey == slug)
    else {
        return Ok(None);
    };
    let Ok(def) = cx_core::programme::ProgrammeDefinition::from_json(&p.definition) else {
        return Ok(None);
    };
    let reward = crate::programmes::reward(&state.store, i.id, &def, unix_now()).await?;
    Ok(reward.map(|r| crate::programmes::reward_text(&r, lang)))
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage<'a> {
    t: &'a Texts,
    heading: String,
    body: String,
    button: String,
    token: String,
    lang: String,
}

/// The unsubscribe link of an invitation email asks to confirm (mail
/// scanners follow links; they do not press buttons).
async fn unsubscribe_page(
    State(state): State<Shared>,
    Path(token): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = pick_language(q.lang.as_deref(), &headers, &[]);
    let t = texts(&lang);
    match state.store.invitation(&hash_secret(&token)).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return message(
                StatusCode::NOT_FOUND,
                &lang,
                t.invalid_link,
                t.invalid_link,
                "",
            );
        }
        Err(e) => return server_error(e),
    }
    let zh = lang.starts_with("zh");
    let page = UnsubscribePage {
        t,
        heading: if zh {
            "退订问卷邀请"
        } else {
            "Unsubscribe from surveys"
        }
        .into(),
        body: if zh {
            "确认后，我们不会再向您发送任何问卷邀请或提醒。"
        } else {
            "Once you confirm, we will not send you any survey invitation or reminder again."
        }
        .into(),
        button: if zh { "确认退订" } else { "Unsubscribe" }.into(),
        token: form_urlencoded::byte_serialize(token.as_bytes()).collect(),
        lang: lang.clone(),
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => server_error(e),
    }
}

/// Unsubscribes the invited person for good (also the one-click POST of
/// RFC 8058 that mail programs send from `List-Unsubscribe-Post`).
async fn unsubscribe(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = pick_language(q.lang.as_deref(), &headers, &[]);
    let t = texts(&lang);
    if !state.limits.allow(peer.ip()) {
        return too_many(&state, &lang);
    }
    let invitation = match state.store.invitation(&hash_secret(&token)).await {
        Ok(Some(i)) => i,
        Ok(None) => {
            return message(
                StatusCode::NOT_FOUND,
                &lang,
                t.invalid_link,
                t.invalid_link,
                "",
            );
        }
        Err(e) => return server_error(e),
    };
    if let Err(e) = state
        .store
        .suppress(invitation.contact.0, "unsubscribed")
        .await
    {
        return server_error(e);
    }
    let (heading, body) = if lang.starts_with("zh") {
        ("您已退订", "我们不会再向您发送问卷邀请。感谢您告诉我们。")
    } else {
        (
            "You are unsubscribed",
            "We will not send you survey invitations again. Thank you for letting us know.",
        )
    };
    message(StatusCode::OK, &lang, heading, heading, body)
}

/// The 1×1 image of an invitation email: records that it was opened.
async fn opened(State(state): State<Shared>, Path(file): Path<String>) -> Response {
    const GIF: &[u8] = &[
        0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
        0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
    ];
    let token = file.strip_suffix(".gif").unwrap_or(&file);
    if let Ok(Some(i)) = state.store.invitation(&hash_secret(token)).await
        && let Err(e) = state.store.mark_invitation(i.id, false, unix_now()).await
    {
        eprintln!("cxscore: recording an opened invitation: {e}");
    }
    (
        [
            (header::CONTENT_TYPE, "image/gif"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        GIF,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_choice() {
        let mut h = HeaderMap::new();
        let both = vec!["zh".to_string(), "en".to_string()];
        assert_eq!(pick_language(None, &h, &both), "zh");
        h.insert(
            header::ACCEPT_LANGUAGE,
            "en-US,en;q=0.9,zh-CN;q=0.8".parse().expect("header"),
        );
        assert_eq!(pick_language(None, &h, &both), "en");
        assert_eq!(pick_language(Some("zh"), &h, &both), "zh");
        h.insert(
            header::ACCEPT_LANGUAGE,
            "fr, zh-TW;q=0.5".parse().expect("header"),
        );
        assert_eq!(pick_language(None, &h, &both), "zh");
        assert_eq!(pick_language(Some("en"), &h, &["zh".to_string()]), "zh");
    }

    #[test]
    fn answers_checked_in_the_respondent_language() {
        let d: SurveyDefinition = serde_json::from_str(
            r#"{"slug":"s","title":"T","questions":[
              {"id":"nps","kind":"nps","text":"NPS","required":true},
              {"id":"c","kind":"choice","multiple":true,"text":"C","options":[{"id":"a","text":"A"},{"id":"b","text":"B"}]},
              {"id":"why","kind":"text","text":"Why"}]}"#,
        )
        .expect("definition");
        let raw = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let ok = check_answers(
            &d,
            &raw(&[("nps", "9"), ("c", "a"), ("c", "b"), ("why", " 好 ")]),
            "zh",
        )
        .expect("valid");
        assert_eq!(ok[0], ("nps".into(), AnswerValue::Score(9)));
        assert_eq!(
            ok[1],
            (
                "c".into(),
                AnswerValue::Choices(vec!["a".into(), "b".into()])
            )
        );
        assert_eq!(ok[2], ("why".into(), AnswerValue::Text("好".into())));
        let err = check_answers(&d, &raw(&[("c", "z")]), "zh").expect_err("invalid");
        assert_eq!(err[0], ("nps".into(), "请回答此问题。".into()));
        assert_eq!(err[1].0, "c");
        let err = check_answers(&d, &raw(&[("nps", "11")]), "en").expect_err("invalid");
        assert_eq!(
            err[0],
            ("nps".into(), "Please choose a point on the scale.".into())
        );
        let long = "x".repeat(MAX_TEXT + 1);
        assert!(check_answers(&d, &raw(&[("nps", "3"), ("why", &long)]), "en").is_err());
    }
}
