//! # cx-server
//!
//! `cxscore serve`: the respondent pages (`/s/{slug}`, server-rendered, no
//! JavaScript needed, Chinese and English), invitations, the JSON API under
//! `/api/v1` with its OpenAPI document, users, sessions and API tokens,
//! `/healthz` and Prometheus `/metrics`.
//!
//! Durable before acknowledged: every submission goes through the
//! [`commit::Committer`], which commits submissions in groups (one transaction,
//! one fsync for many) and answers each request only after its group is
//! committed.

pub mod actions;
pub mod api;
pub mod api_accounts;
pub mod api_programmes;
pub mod app;
pub mod app_loop;
pub mod app_programmes;
pub mod auth;
pub mod cache;
pub mod commit;
pub mod dashboard;
pub mod error;
pub mod followup;
pub mod limits;
pub mod mail;
pub mod pages;
pub mod pages_loop;
pub mod programmes;
pub mod respond;
pub mod schedule;
pub mod stats;
pub mod svg;
pub mod tasks;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use cx_store::AnyStore;
use cx_store::server::ServerStore;

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Requests per minute per IP address on public endpoints (survey pages,
    /// login); 0 turns the limit off.
    pub public_rate_per_minute: u32,
    /// Most submissions committed in one transaction.
    pub max_batch: usize,
    /// Mark cookies `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    /// The address links are printed with, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// Largest request body accepted, in bytes (imports excepted).
    pub body_limit: usize,
    /// Run the follow-up loop (tasks from rules, escalation, webhooks).
    pub follow_up: bool,
    /// First webhook retry after this many seconds (doubling).
    pub webhook_retry_secs: i64,
    /// Responses older than this many days open no task.
    pub task_max_age_days: i64,
    /// Where `mailto:` subscriptions are sent.
    pub smtp: Option<mail::SmtpConfig>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            public_rate_per_minute: 120,
            max_batch: 1024,
            secure_cookies: false,
            base_url: "http://127.0.0.1:8080".into(),
            body_limit: 256 * 1024,
            follow_up: true,
            webhook_retry_secs: 30,
            task_max_age_days: 14,
            smtp: None,
        }
    }
}

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The database.
    pub store: AnyStore,
    /// Group commits of submissions.
    pub committer: commit::Committer,
    /// Per-IP limits and login throttling.
    pub limits: limits::Limits,
    /// Counters for `/metrics`.
    pub stats: Arc<stats::Stats>,
    /// Survey definitions by id or slug (their response counts are not kept fresh).
    pub surveys: cache::TtlCache<Arc<cx_store::StoredSurvey>>,
    /// Users and scopes by token hash.
    pub tokens: cache::TtlCache<(cx_store::server::User, String)>,
    /// Account scores by day and scorecard, for a minute (cleared when this
    /// server records a task change or an assessment).
    pub scores: cache::TtlCache<Arc<Vec<cx_store::accounts::AccountScore>>>,
    /// Wakes the follow-up loop.
    pub wake: followup::Wake,
    /// New responses for live pages.
    pub live: followup::Live,
    /// How the follow-up loop runs (also used by handlers that queue events).
    pub loop_config: followup::LoopConfig,
    /// Settings.
    pub config: Config,
}

/// Shared state handle.
pub type Shared = Arc<AppState>;

impl AppState {
    /// State over `store`; starts the committer task (call inside a Tokio runtime).
    pub fn new(store: AnyStore, config: Config) -> Shared {
        let stats = Arc::new(stats::Stats::default());
        let loop_config = followup::LoopConfig {
            max_age_days: config.task_max_age_days,
            retry_base_secs: config.webhook_retry_secs,
            base_url: config.base_url.clone(),
            smtp: config.smtp.clone(),
            ..followup::LoopConfig::default()
        };
        let (live, _) = tokio::sync::broadcast::channel(256);
        let wake = if config.follow_up {
            programmes::start(
                store.clone(),
                programmes::SendConfig::from(&loop_config),
                std::time::Duration::from_secs(5),
            );
            followup::start(store.clone(), loop_config.clone(), live.clone())
        } else {
            followup::Wake::default()
        };
        let committer =
            commit::Committer::start(store.clone(), config.max_batch, stats.clone(), wake.clone());
        Arc::new(AppState {
            limits: limits::Limits::new(config.public_rate_per_minute),
            store,
            committer,
            stats,
            surveys: cache::TtlCache::new(std::time::Duration::from_secs(2)),
            tokens: cache::TtlCache::new(std::time::Duration::from_secs(2)),
            scores: cache::TtlCache::new(std::time::Duration::from_secs(60)),
            wake,
            live,
            loop_config,
            config,
        })
    }
}

/// The whole application.
pub fn router(state: Shared) -> Router {
    let body_limit = state.config.body_limit;
    Router::new()
        .route("/", get(|| async { axum::response::Redirect::to("/app") }))
        .route("/healthz", get(healthz))
        .route("/metrics", get(prometheus))
        .merge(respond::routes())
        .merge(app::routes())
        .nest("/api/v1", api::routes())
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            stats::count_requests,
        ))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Headers every page gets: nothing loads from elsewhere, tokens in URLs do
/// not leak through `Referer`, no framing, no sniffing.
pub async fn security_headers(mut response: axum::response::Response) -> axum::response::Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

async fn healthz(State(state): State<Shared>) -> impl IntoResponse {
    match state.store.user_count().await {
        Ok(_) => (axum::http::StatusCode::OK, "ok\n"),
        Err(_) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "database unavailable\n",
        ),
    }
}

async fn prometheus(State(state): State<Shared>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.stats.render(),
    )
}

/// Serves `router(state)` on `listener` until Ctrl-C / SIGTERM; client
/// addresses reach the handlers for per-IP limits.
pub async fn serve(listener: tokio::net::TcpListener, state: Shared) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
