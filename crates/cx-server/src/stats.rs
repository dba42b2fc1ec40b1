//! Counters for `GET /metrics` (Prometheus text format).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::Shared;

/// Server counters.
#[derive(Debug, Default)]
pub struct Stats {
    requests_2xx: AtomicU64,
    requests_3xx: AtomicU64,
    requests_4xx: AtomicU64,
    requests_5xx: AtomicU64,
    /// Responses committed.
    pub stored: AtomicU64,
    /// Retried submissions answered with the first response.
    pub duplicates: AtomicU64,
    /// Submissions refused because their invitation was used.
    pub already_answered: AtomicU64,
    /// Commit groups.
    pub batches: AtomicU64,
    /// Requests refused by a rate limit.
    pub rate_limited: AtomicU64,
    /// Failed logins.
    pub login_failures: AtomicU64,
}

impl Stats {
    /// Prometheus exposition text.
    pub fn render(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# HELP cxscore_http_requests_total HTTP requests answered, by status class."
        );
        let _ = writeln!(s, "# TYPE cxscore_http_requests_total counter");
        for (class, a) in [
            ("2xx", &self.requests_2xx),
            ("3xx", &self.requests_3xx),
            ("4xx", &self.requests_4xx),
            ("5xx", &self.requests_5xx),
        ] {
            let _ = writeln!(
                s,
                "cxscore_http_requests_total{{class=\"{class}\"}} {}",
                g(a)
            );
        }
        for (name, help, a) in [
            (
                "cxscore_responses_stored_total",
                "Survey responses committed.",
                &self.stored,
            ),
            (
                "cxscore_responses_duplicate_total",
                "Retried submissions answered with the response stored first.",
                &self.duplicates,
            ),
            (
                "cxscore_responses_already_answered_total",
                "Submissions refused because their invitation was already used.",
                &self.already_answered,
            ),
            (
                "cxscore_commit_batches_total",
                "Transactions that committed submissions.",
                &self.batches,
            ),
            (
                "cxscore_rate_limited_total",
                "Requests refused by a per-IP rate limit.",
                &self.rate_limited,
            ),
            (
                "cxscore_login_failures_total",
                "Failed sign-in attempts.",
                &self.login_failures,
            ),
        ] {
            let _ = writeln!(s, "# HELP {name} {help}");
            let _ = writeln!(s, "# TYPE {name} counter");
            let _ = writeln!(s, "{name} {}", g(a));
        }
        s
    }
}

/// Middleware counting answered requests by status class.
pub async fn count_requests(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let s = &state.stats;
    let counter = match response.status().as_u16() {
        200..=299 => &s.requests_2xx,
        300..=399 => &s.requests_3xx,
        400..=499 => &s.requests_4xx,
        _ => &s.requests_5xx,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    response
}
