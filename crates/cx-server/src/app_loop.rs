//! `/app` pages of accounts as a whole and of closing the loop — the account
//! page's score section, tasks, the scorecard, assessments, improvement
//! actions — and the overview's live feed (server-sent events and its script).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use bytes::Bytes;
use cx_store::Store;

use crate::app::{PageRequest, html, page_request, query_value};
use crate::auth::{same_secret, session_user};
use crate::{Shared, unix_now};

/// The score, people and open tasks of an account page.
pub(crate) async fn account_care(
    state: &Shared,
    code: &str,
    lang: &str,
) -> Result<Option<crate::pages_loop::AccountCare>, crate::error::ApiError> {
    use cx_store::followup::{FollowUpStore, TaskQuery};
    let (card, scores) = crate::api_accounts::all_scores(state).await?;
    let Some(score) = scores.into_iter().find(|s| s.account.code == code) else {
        return Ok(None);
    };
    let history = crate::api_accounts::history(state, &card, code).await?;
    let tasks = state
        .store
        .tasks(
            &TaskQuery {
                status: Some("active".into()),
                account: Some(code.to_string()),
                limit: 100,
                ..TaskQuery::default()
            },
            unix_now(),
        )
        .await?;
    Ok(Some(crate::pages_loop::account_care(
        &score, &history, &tasks, lang,
    )))
}

pub(crate) fn page_chrome(p: &PageRequest) -> crate::pages::Chrome {
    crate::pages::chrome(None, &p.lang, &p.csrf, &p.user.username, &p.params)
}

pub(crate) fn role_allows(user: &cx_store::server::User, need: crate::auth::Need) -> bool {
    crate::auth::Role::parse(&user.role).is_some_and(|r| r.allows(need))
}

pub(crate) async fn tasks_page(
    State(state): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let p = match page_request(&state, &uri, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    render_tasks(&state, &p, &uri, String::new(), StatusCode::OK).await
}

/// `/app/tasks` for the request's filters, with an error of the action form.
pub(crate) async fn render_tasks(
    state: &Shared,
    p: &PageRequest,
    uri: &axum::http::Uri,
    action_error: String,
    code: StatusCode,
) -> Response {
    use cx_store::followup::{FollowUpStore, TaskQuery};
    let status = match query_value(&p.query, "status").as_deref() {
        None => Some("active".to_string()),
        Some("all") => None,
        Some(s) => match crate::api_accounts::status_filter(Some(s)) {
            Ok(s) => s,
            Err(e) => return e.into_response(),
        },
    };
    // An empty `status=` (the "all" option) lists everything.
    let status = if uri
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "status="))
    {
        None
    } else {
        status
    };
    let owner = query_value(&p.query, "owner");
    let overdue = query_value(&p.query, "overdue").is_some();
    let q = TaskQuery {
        status: status.clone(),
        owner: owner.clone(),
        account: query_value(&p.query, "account"),
        overdue,
        limit: 500,
    };
    let tasks = match state.store.tasks(&q, unix_now()).await {
        Ok(t) => t,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let figures = match crate::followup::loop_figures(&state.store).await {
        Ok(f) => f,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let extras = match action_extras(state, &p.lang, action_error).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let mut page = crate::pages_loop::tasks_page(
        crate::pages::texts(&p.lang),
        page_chrome(p),
        &p.lang,
        &tasks,
        (
            Some(status.as_deref().unwrap_or("")),
            owner.as_deref(),
            overdue,
        ),
        &figures,
        extras,
    );
    page.can_edit = role_allows(&p.user, crate::auth::Need::Tasks);
    html(code, page.render())
}

pub(crate) async fn render_task(
    state: &Shared,
    p: &PageRequest,
    id: i64,
    form: crate::pages_loop::TaskForm,
    link: Option<String>,
    status: StatusCode,
) -> Response {
    match crate::followup::task_view(&state.store, id).await {
        Ok(Some(mut view)) => {
            view.resurvey_link = link;
            let page = crate::pages_loop::task_page(
                crate::pages::texts(&p.lang),
                page_chrome(p),
                &p.lang,
                &view,
                role_allows(&p.user, crate::auth::Need::Tasks),
                form,
            );
            html(status, page.render())
        }
        Ok(None) => crate::error::ApiError::not_found(format!("no task {id}")).into_response(),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

pub(crate) async fn task_page(
    State(state): State<Shared>,
    axum::extract::Path(id): axum::extract::Path<i64>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let p = match page_request(&state, &uri, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    render_task(&state, &p, id, Default::default(), None, StatusCode::OK).await
}

/// The fields of a signed-in form whose CSRF token matches the session's, or the refusal.
pub(crate) fn checked_form(
    p: &PageRequest,
    body: &[u8],
) -> Result<Vec<(String, String)>, crate::error::ApiError> {
    let fields: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let sent = fields
        .iter()
        .find(|(k, _)| k == "_csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    if same_secret(sent, &p.csrf) {
        Ok(fields)
    } else {
        Err(crate::error::ApiError::forbidden(
            "missing or wrong CSRF token",
        ))
    }
}

/// A signed-in form: the session, its CSRF token checked, the role allowed.
pub(crate) struct Form {
    pub(crate) p: PageRequest,
    pub(crate) fields: Vec<(String, String)>,
}

impl Form {
    /// A field, trimmed; `None` when absent or blank.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }
}

/// Reads a signed-in form that needs `need` (`what` says what is refused).
pub(crate) async fn signed_form(
    state: &Shared,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
    need: crate::auth::Need,
    what: &str,
) -> Result<Form, Response> {
    let p = page_request(state, uri, headers).await?;
    let fields = checked_form(&p, body).map_err(IntoResponse::into_response)?;
    if !role_allows(&p.user, need) {
        return Err(crate::error::ApiError::forbidden(format!(
            "the {} role cannot {what}",
            p.user.role
        ))
        .into_response());
    }
    Ok(Form { p, fields })
}

pub(crate) async fn task_post(
    State(state): State<Shared>,
    axum::extract::Path(id): axum::extract::Path<i64>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let sent = match signed_form(
        &state,
        &uri,
        &headers,
        &body,
        crate::auth::Need::Tasks,
        "change tasks",
    )
    .await
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    let p = &sent.p;
    let get = |k: &str| sent.get(k);
    let update = crate::followup::TaskUpdate {
        status: get("status"),
        owner: get("owner"),
        note: get("note"),
        resolution: get("resolution"),
        resurvey: get("resurvey").is_some(),
    };
    match crate::followup::update_task(
        &state.store,
        &state.loop_config,
        id,
        &update,
        &p.user.username,
    )
    .await
    {
        Ok(view) => {
            state.wake.wake();
            state.scores.clear();
            let form = crate::pages_loop::TaskForm {
                notice: view.notice,
                ..Default::default()
            };
            render_task(&state, p, id, form, view.resurvey_link, StatusCode::OK).await
        }
        Err(crate::followup::UpdateError::Invalid(_, message)) => {
            let form = crate::pages_loop::TaskForm {
                error: message,
                draft: Some(update),
                notice: None,
            };
            render_task(&state, p, id, form, None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(crate::followup::UpdateError::Store(e)) => {
            crate::error::ApiError::from(e).into_response()
        }
    }
}

pub(crate) async fn render_scorecard(
    state: &Shared,
    p: &PageRequest,
    card: &cx_core::account::scorecard::Scorecard,
    message: String,
    error: String,
    status: StatusCode,
    sent: Option<&[(String, String)]>,
) -> Response {
    let day = crate::api_accounts::today();
    let scores = match crate::api_accounts::scores_at(state, card, day).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let mut page = crate::pages_loop::scorecard_page(
        crate::pages::texts(&p.lang),
        page_chrome(p),
        &p.lang,
        card,
        &scores,
        role_allows(&p.user, crate::auth::Need::Manage),
        (message, error),
    );
    if let Some(fields) = sent {
        page.keep(fields);
    }
    html(status, page.render())
}

pub(crate) async fn scorecard_page(
    State(state): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let p = match page_request(&state, &uri, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let card = match crate::followup::current_scorecard(&state.store).await {
        Ok(c) => c,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    render_scorecard(
        &state,
        &p,
        &card,
        String::new(),
        String::new(),
        StatusCode::OK,
        None,
    )
    .await
}

pub(crate) async fn scorecard_post(
    State(state): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    use cx_store::followup::FollowUpStore;
    let sent = match signed_form(
        &state,
        &uri,
        &headers,
        &body,
        crate::auth::Need::Manage,
        "change the scorecard",
    )
    .await
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (p, fields) = (&sent.p, &sent.fields);
    let current = match crate::followup::current_scorecard(&state.store).await {
        Ok(c) => c,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    match crate::pages_loop::scorecard_from_form(fields, &current) {
        Ok(card) => {
            if let Err(e) = state
                .store
                .set_setting(crate::followup::SCORECARD_KEY, &card.to_json())
                .await
            {
                return crate::error::ApiError::from(e).into_response();
            }
            let message = crate::pages_loop::saved_message(&p.lang);
            render_scorecard(
                &state,
                p,
                &card,
                message,
                String::new(),
                StatusCode::OK,
                None,
            )
            .await
        }
        Err(e) => {
            render_scorecard(
                &state,
                p,
                &current,
                String::new(),
                e,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(fields),
            )
            .await
        }
    }
}

pub(crate) async fn assessment_post(
    State(state): State<Shared>,
    axum::extract::Path(code): axum::extract::Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    use cx_store::accounts::AccountStore;
    let sent = match signed_form(
        &state,
        &uri,
        &headers,
        &body,
        crate::auth::Need::Tasks,
        "record assessments",
    )
    .await
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    let p = &sent.p;
    let get = |k: &str| sent.get(k);
    let mut ratings = serde_json::Map::new();
    for d in cx_core::model::customer::RELATIONSHIP_DIMENSIONS {
        if let Some(v) = get(&format!("r_{d}")) {
            ratings.insert(d.to_string(), serde_json::Value::String(v));
        }
    }
    let checked = crate::api_accounts::check_assessment(get("period").as_deref(), &ratings);
    let outcome = match (checked, get("contact")) {
        (Err(e), _) => Err(e.message()),
        (_, None) => Err("choose a person".to_string()),
        (Ok((period, values)), Some(contact)) => state
            .store
            .set_assessment(&code, &contact, &period, &values)
            .await
            .map_err(|e| e.to_string()),
    };
    state.scores.clear();
    match outcome {
        Ok(()) => Redirect::to(&format!(
            "/app/accounts/{}?lang={}#people",
            urlencode(&code),
            p.lang
        ))
        .into_response(),
        Err(message) => {
            crate::app::render_account(&state, p, &code, message, StatusCode::UNPROCESSABLE_ENTITY)
                .await
        }
    }
}

pub(crate) fn urlencode(text: &str) -> String {
    crate::pages_loop::path_segment(text)
}

pub(crate) type ActionExtras = (
    Vec<crate::pages_loop::ActionRow>,
    Vec<(String, String)>,
    String,
);

pub(crate) async fn action_extras(
    state: &Shared,
    lang: &str,
    error: String,
) -> Result<ActionExtras, crate::error::ApiError> {
    let views = crate::actions::views(&state.store, crate::api_accounts::today()).await?;
    let surveys = state
        .store
        .surveys()
        .await?
        .into_iter()
        .map(|s| {
            let title = s.definition.title.get(lang).to_string();
            (s.definition.slug, title)
        })
        .collect();
    Ok((crate::pages_loop::action_rows(&views), surveys, error))
}

pub(crate) async fn action_post(
    State(state): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    use cx_store::followup::FollowUpStore;
    let sent = match signed_form(
        &state,
        &uri,
        &headers,
        &body,
        crate::auth::Need::Tasks,
        "record actions",
    )
    .await
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    let p = &sent.p;
    let get = |k: &str| sent.get(k);
    let new = crate::actions::NewAction {
        title: get("title").unwrap_or_default(),
        survey: get("survey").unwrap_or_default(),
        metric: get("metric").unwrap_or_default(),
        filters: get("where").into_iter().collect(),
        owner: get("owner"),
        started_on: get("since"),
    };
    let today = crate::api_accounts::today();
    let result = match crate::actions::check(&state.store, &new, today).await {
        Ok(action) => state
            .store
            .create_action(&action)
            .await
            .map_err(crate::error::ApiError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Redirect::to(&format!("/app/tasks?lang={}#actions", p.lang)).into_response(),
        Err(e) => {
            render_tasks(
                &state,
                p,
                &uri,
                e.message(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// The live feed's script (same origin, so the CSP allows it; no inline code).
pub(crate) async fn live_script() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../static/live.js"),
    )
        .into_response()
}

/// Server-sent events: each new response of the survey (`?survey=ID`, all
/// when absent) as a `response` event, for a signed-in user.
pub(crate) async fn live_feed(
    State(state): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    match session_user(&state, &headers).await {
        Ok(Some(_)) => {}
        Ok(None) => return crate::error::ApiError::unauthorized().into_response(),
        Err(e) => return e.into_response(),
    }
    let survey =
        query_value(uri.query().unwrap_or(""), "survey").and_then(|s| s.parse::<i64>().ok());
    let rx = state.live.subscribe();
    let stream = futures_util::stream::unfold(rx, move |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(body) => {
                    let wanted = survey.is_none_or(|id| {
                        serde_json::from_str::<serde_json::Value>(&body)
                            .ok()
                            .and_then(|v| v["response"]["survey_id"].as_i64())
                            == Some(id)
                    });
                    if wanted {
                        let event = Event::default().event("response").data(body);
                        return Some((Ok::<_, std::convert::Infallible>(event), rx));
                    }
                }
                // Fell behind: skip what was missed, keep going.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response()
}
