//! `/app`: sign in and out, and the signed-in home page (the dashboard issue
//! builds on it). Forms carry CSRF tokens: the login form a double-submit
//! cookie, signed-in forms the session's own token.

use std::net::SocketAddr;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use cx_store::Store;
use cx_store::server::ServerStore;

use crate::auth::{
    SESSION_COOKIE, SESSION_SECONDS, cookie, decoy_hash, hash_secret, random_token, same_secret,
    session_user, set_cookie, verify_password,
};
use crate::respond::{FORM_COOKIE, pick_language};
use crate::{Shared, unix_now};

/// Routes under `/app`.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/app", get(overview))
        .route("/app/report.html", get(report))
        .route("/app/report.pdf", get(report_pdf))
        .route("/app/drivers", get(drivers_page))
        .route("/app/feedback", get(feedback_page))
        .route("/app/accounts", get(accounts_page))
        .route("/app/accounts/{code}", get(account_page))
        .route(
            "/app/accounts/{code}/assessment",
            post(crate::app_loop::assessment_post),
        )
        .route("/app/live", get(crate::app_loop::live_feed))
        .route("/app/live.js", get(crate::app_loop::live_script))
        .route("/app/static/charts.js", get(charts_script))
        .route("/app/static/echarts.min.js", get(echarts_script))
        .route("/app/tasks", get(crate::app_loop::tasks_page))
        .route("/app/actions", post(crate::app_loop::action_post))
        .route(
            "/app/tasks/{id}",
            get(crate::app_loop::task_page).post(crate::app_loop::task_post),
        )
        .route(
            "/app/scorecard",
            get(crate::app_loop::scorecard_page).post(crate::app_loop::scorecard_post),
        )
        .route(
            "/app/programmes",
            get(crate::app_programmes::list_page).post(crate::app_programmes::create_post),
        )
        .route(
            "/app/programmes/{slug}",
            get(crate::app_programmes::programme_page).post(crate::app_programmes::status_post),
        )
        .route(
            "/app/programmes/{slug}/sheet",
            get(crate::app_programmes::sheet_page),
        )
        .route("/app/surveys", get(home))
        .route("/app/login", get(login_page).post(login))
        .route("/app/logout", post(logout))
}

struct Labels {
    tag: &'static str,
    sign_in: &'static str,
    sign_out: &'static str,
    username: &'static str,
    password: &'static str,
    wrong: &'static str,
    locked: &'static str,
    expired: &'static str,
    surveys: &'static str,
    responses: &'static str,
    page: &'static str,
    metrics: &'static str,
    signed_in_as: &'static str,
    none: &'static str,
}

const ZH: Labels = Labels {
    tag: "zh-CN",
    sign_in: "登录",
    sign_out: "退出",
    username: "用户名",
    password: "密码",
    wrong: "用户名或密码错误。",
    locked: "尝试次数过多，请稍后再试。",
    expired: "页面已过期，请重新登录。",
    surveys: "问卷",
    responses: "回答数",
    page: "答题页面",
    metrics: "指标 (JSON)",
    signed_in_as: "当前用户",
    none: "还没有问卷。用 cxscore survey create 或 API 创建。",
};

const EN: Labels = Labels {
    tag: "en",
    sign_in: "Sign in",
    sign_out: "Sign out",
    username: "User name",
    password: "Password",
    wrong: "Wrong user name or password.",
    locked: "Too many attempts. Please try again later.",
    expired: "The page had expired. Please sign in again.",
    surveys: "Surveys",
    responses: "Responses",
    page: "Survey page",
    metrics: "Metrics (JSON)",
    signed_in_as: "Signed in as",
    none: "No surveys yet. Create one with cxscore survey create or the API.",
};

fn labels(headers: &HeaderMap) -> &'static Labels {
    if pick_language(None, headers, &["zh".into(), "en".into()]) == "zh" {
        &ZH
    } else {
        &EN
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    l: &'static Labels,
    csrf: String,
    username: String,
    error: String,
}

struct SurveyRow {
    id: i64,
    slug: String,
    title: String,
    responses: u64,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    l: &'static Labels,
    csrf: String,
    username: String,
    role: String,
    surveys: Vec<SurveyRow>,
}

pub(crate) fn html(status: StatusCode, page: Result<String, askama::Error>) -> Response {
    match page {
        Ok(h) => {
            let mut r = (status, Html(h)).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => crate::error::ApiError::internal("rendering", e).into_response(),
    }
}

fn with_cookie(mut r: Response, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// What every signed-in page needs.
pub(crate) struct PageRequest {
    pub(crate) user: cx_store::server::User,
    pub(crate) csrf: String,
    pub(crate) lang: String,
    pub(crate) query: String,
    pub(crate) params: crate::dashboard::ViewParams,
}

/// The signed-in user, language and view of a page request; a redirect to the
/// sign-in page when there is no session.
pub(crate) async fn page_request(
    state: &Shared,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
) -> Result<PageRequest, Response> {
    let (user, csrf) = match session_user(state, headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(Redirect::to("/app/login").into_response()),
        Err(e) => return Err(e.into_response()),
    };
    let query = uri.query().unwrap_or("").to_string();
    Ok(PageRequest {
        user,
        csrf,
        lang: view_language(uri, headers),
        params: crate::dashboard::ViewParams::parse(&query),
        query,
    })
}

/// A non-empty query parameter.
pub(crate) fn query_value(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The interface language: `?lang=`, else `Accept-Language`.
fn view_language(uri: &axum::http::Uri, headers: &HeaderMap) -> String {
    let explicit = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.into_owned());
    pick_language(explicit.as_deref(), headers, &["zh".into(), "en".into()])
}

async fn overview(
    State(state): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let p = match page_request(&state, &uri, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (params, lang) = (&p.params, &p.lang);
    let viewer = crate::dashboard::Viewer {
        lang,
        csrf: &p.csrf,
        username: &p.user.username,
        standalone: false,
    };
    match crate::dashboard::overview(&state.store, params, &viewer).await {
        Ok(view) => html(StatusCode::OK, view.render()),
        Err(e) => e.into_response(),
    }
}

async fn drivers_page(
    State(state): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let PageRequest {
        user,
        csrf,
        lang,
        query,
        params,
    } = match page_request(&state, &uri, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let query = query.as_str();
    let target = query_value(query, "target");
    match crate::pages::drivers(
        &state.store,
        &params,
        target.as_deref(),
        &lang,
        &csrf,
        &user.username,
    )
    .await
    {
        Ok(page) => html(StatusCode::OK, page.render()),
        Err(e) => e.into_response(),
    }
}

async fn feedback_page(
    State(state): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let PageRequest {
        user,
        csrf,
        lang,
        query,
        params,
    } = match page_request(&state, &uri, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let query = query.as_str();
    let get = |name: &str| query_value(query, name);
    let page_no = get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
    match crate::pages::feedback(
        &state.store,
        &params,
        get("q"),
        get("polarity"),
        page_no,
        &lang,
        &csrf,
        &user.username,
    )
    .await
    {
        Ok(page) => html(StatusCode::OK, page.render()),
        Err(e) => e.into_response(),
    }
}

async fn accounts_page(
    State(state): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let PageRequest {
        user,
        csrf,
        lang,
        query,
        params,
    } = match page_request(&state, &uri, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let query = query.as_str();
    let get = |name: &str| query_value(query, name);
    let scores: std::collections::HashMap<String, (String, String, String)> =
        match crate::api_accounts::all_scores(&state).await {
            Ok((_, list)) => list
                .into_iter()
                .map(|s| {
                    let score = s
                        .score
                        .score
                        .map_or_else(|| "—".into(), |v| format!("{v:.1}"));
                    let health = match s.score.health.as_str() {
                        "healthy" => "positive",
                        "critical" => "negative",
                        _ => "neutral",
                    };
                    (
                        s.account.code,
                        (
                            score,
                            s.score.grade.as_str().to_string(),
                            health.to_string(),
                        ),
                    )
                })
                .collect(),
            Err(e) => return e.into_response(),
        };
    match crate::pages::accounts(
        &state.store,
        &params,
        get("q"),
        get("tier"),
        &lang,
        &csrf,
        &user.username,
        &scores,
    )
    .await
    {
        Ok(page) => html(StatusCode::OK, page.render()),
        Err(e) => e.into_response(),
    }
}

async fn account_page(
    State(state): State<Shared>,
    axum::extract::Path(code): axum::extract::Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let p = match page_request(&state, &uri, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    render_account(&state, &p, &code, String::new(), StatusCode::OK).await
}

pub(crate) async fn render_account(
    state: &Shared,
    p: &PageRequest,
    code: &str,
    error: String,
    status: StatusCode,
) -> Response {
    let mut care = match crate::app_loop::account_care(state, code, &p.lang).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if let Some(c) = care.as_mut() {
        c.error = error;
        c.can_assess = crate::app_loop::role_allows(&p.user, crate::auth::Need::Tasks);
    }
    if let (Some(c), Some(person)) = (care.as_mut(), query_value(&p.query, "assess")) {
        // The person's ratings in force fill the form (blank keeps what was recorded).
        if let Ok((_, scores)) = crate::api_accounts::all_scores(state).await
            && let Some(s) = scores.iter().find(|s| s.account.code == code)
        {
            c.choose(&s.relationship, Some(&person), p.lang.starts_with("zh"));
            c.open_form = true;
        }
    }
    let code = code.to_string();
    match crate::pages::account(
        &state.store,
        &code,
        &p.lang,
        &p.csrf,
        &p.user.username,
        care,
    )
    .await
    {
        Ok(Some(page)) => html(status, page.render()),
        Ok(None) => {
            crate::error::ApiError::not_found(format!("no account {code:?}")).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// The overview as a self-contained HTML file (inline SVG, no external requests).
async fn report(State(state): State<Shared>, uri: axum::http::Uri, headers: HeaderMap) -> Response {
    let p = match page_request(&state, &uri, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (params, lang) = (&p.params, &p.lang);
    let viewer = crate::dashboard::Viewer {
        lang,
        csrf: "",
        username: &p.user.username,
        standalone: true,
    };
    match crate::dashboard::overview(&state.store, params, &viewer).await {
        Ok(view) => {
            let mut r = html(StatusCode::OK, view.render());
            r.headers_mut().insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"cxscore-report.html\""),
            );
            r
        }
        Err(e) => e.into_response(),
    }
}

/// The same report as a PDF (the overview's content and filters; charts as vectors).
async fn report_pdf(
    State(state): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let p = match page_request(&state, &uri, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let viewer = crate::dashboard::Viewer {
        lang: &p.lang,
        csrf: "",
        username: &p.user.username,
        standalone: true,
    };
    let view = match crate::dashboard::overview(&state.store, &p.params, &viewer).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let blocks = view.pdf_blocks();
    // Fonts are read from disk and the PDF laid out on a blocking thread.
    let made = tokio::task::spawn_blocking(move || {
        let (_, font) = cx_pdf::find_font(None)?;
        cx_pdf::render(&blocks, font)
    })
    .await;
    match made {
        Ok(Ok(pdf)) => (
            [
                (header::CONTENT_TYPE, "application/pdf"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"cxscore-report.pdf\"",
                ),
                (header::CACHE_CONTROL, "no-store"),
            ],
            pdf,
        )
            .into_response(),
        Ok(Err(cx_pdf::PdfError::NoFont(m))) => {
            crate::error::ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_font", m)
                .into_response()
        }
        Ok(Err(e)) => crate::error::ApiError::internal("the PDF report", e).into_response(),
        Err(e) => crate::error::ApiError::internal("the PDF report", e).into_response(),
    }
}

async fn home(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let l = labels(&headers);
    let (user, csrf) = match session_user(&state, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return Redirect::to("/app/login").into_response(),
        Err(e) => return e.into_response(),
    };
    let surveys = match state.store.surveys().await {
        Ok(s) => s,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let lang = if l.tag == "en" { "en" } else { "zh" };
    let page = HomePage {
        l,
        csrf,
        username: user.username,
        role: user.role,
        surveys: surveys
            .into_iter()
            .map(|s| SurveyRow {
                id: s.id.0,
                title: s.definition.title.get(lang).to_string(),
                slug: s.definition.slug,
                responses: s.responses,
            })
            .collect(),
    };
    html(StatusCode::OK, page.render())
}

fn login_form(
    state: &Shared,
    headers: &HeaderMap,
    username: &str,
    error: &str,
    status: StatusCode,
) -> Response {
    let l = labels(headers);
    // Keep the form cookie a retry already has: another tab's form stays valid.
    let csrf = cookie(headers, FORM_COOKIE)
        .filter(|c| c.len() == 43)
        .map(str::to_string)
        .unwrap_or_else(random_token);
    let page = LoginPage {
        l,
        csrf: csrf.clone(),
        username: username.to_string(),
        error: error.to_string(),
    };
    with_cookie(
        html(status, page.render()),
        &set_cookie(FORM_COOKIE, &csrf, 3600, state.config.secure_cookies),
    )
}

async fn login_page(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if let Ok(Some(_)) = session_user(&state, &headers).await {
        return Redirect::to("/app").into_response();
    }
    login_form(&state, &headers, "", "", StatusCode::OK)
}

async fn login(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let l = labels(&headers);
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let username = field("username").trim();
    if !state.limits.allow(peer.ip()) {
        state
            .stats
            .rate_limited
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return login_form(
            &state,
            &headers,
            username,
            l.locked,
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let sent = cookie(&headers, FORM_COOKIE).unwrap_or("");
    if sent.is_empty() || !same_secret(sent, field("_csrf")) {
        return login_form(&state, &headers, username, l.expired, StatusCode::FORBIDDEN);
    }
    let throttle_key = format!("{username}|{}", peer.ip());
    if state.limits.login_locked(&throttle_key).is_some() {
        return login_form(
            &state,
            &headers,
            username,
            l.locked,
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let user = match state.store.user_by_name(username).await {
        Ok(u) => u,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let password = field("password").to_string();
    let phc = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| decoy_hash().to_string());
    // argon2 is deliberately slow: keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .unwrap_or(false);
    let Some(user) = user.filter(|_| ok) else {
        state.limits.login_failed(&throttle_key);
        state
            .stats
            .login_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return login_form(
            &state,
            &headers,
            username,
            l.wrong,
            StatusCode::UNAUTHORIZED,
        );
    };
    state.limits.login_succeeded(&throttle_key);
    let secret = random_token();
    let csrf = random_token();
    if let Err(e) = state
        .store
        .create_session(
            &hash_secret(&secret),
            user.id,
            &csrf,
            unix_now() + SESSION_SECONDS,
        )
        .await
    {
        return crate::error::ApiError::from(e).into_response();
    }
    let r = Redirect::to("/app").into_response();
    let r = with_cookie(
        r,
        &set_cookie(
            SESSION_COOKIE,
            &secret,
            SESSION_SECONDS,
            state.config.secure_cookies,
        ),
    );
    with_cookie(
        r,
        &set_cookie(FORM_COOKIE, "", 0, state.config.secure_cookies),
    )
}

async fn logout(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let sent = fields
        .iter()
        .find(|(k, _)| k == "_csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    match session_user(&state, &headers).await {
        Ok(Some((_, csrf))) if same_secret(sent, &csrf) => {
            if let Some(secret) = cookie(&headers, SESSION_COOKIE)
                && let Err(e) = state
                    .store
                    .delete_session(&hash_secret(secret), unix_now())
                    .await
            {
                return crate::error::ApiError::from(e).into_response();
            }
            let r = Redirect::to("/app/login").into_response();
            with_cookie(
                r,
                &set_cookie(SESSION_COOKIE, "", 0, state.config.secure_cookies),
            )
        }
        Ok(Some(_)) => {
            crate::error::ApiError::forbidden("missing or wrong CSRF token").into_response()
        }
        Ok(None) => Redirect::to("/app/login").into_response(),
        Err(e) => e.into_response(),
    }
}

/// The overview's interactive charts (progressive: the SVG stays for no-JS readers).
async fn charts_script() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../static/charts.js"),
    )
        .into_response()
}

/// Apache ECharts, vendored at a pinned version by `scripts/vendor-echarts.sh`.
async fn echarts_script() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_bytes!("../static/vendor/echarts.min.js").as_slice(),
    )
        .into_response()
}
