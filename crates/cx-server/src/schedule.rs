//! Scheduled reports: the overview as a self-contained HTML file, once a week
//! or once a month, written to a folder and announced as a `report.ready`
//! event (webhooks and `mailto:` subscriptions that want it receive it, the
//! file's HTML included). Schedules live in the settings table; each remembers
//! the last period it wrote, so a restart neither skips nor repeats one.

use askama::Template;
use cx_core::period::{Date, Interval, Period};
use cx_store::followup::FollowUpStore;
use cx_store::{AnyStore, Store};
use serde::{Deserialize, Serialize};

use crate::dashboard::{ViewParams, Viewer, overview};
use crate::error::ApiError;

const KEY: &str = "report_schedules";

/// One scheduled report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Id (for removal).
    pub id: u32,
    /// `week` or `month`.
    pub every: String,
    /// The report's view as a query string (survey, interval, by, filters).
    pub view: String,
    /// Language (zh or en).
    pub lang: String,
    /// The folder files are written to.
    pub dir: String,
    /// The last period written (`2026-W49`, `2026-12`).
    pub last: Option<String>,
}

/// The period label a schedule writes for `today`.
pub fn period_label(every: &str, today: i32) -> Option<String> {
    let interval = match every {
        "week" => Interval::Week,
        "month" => Interval::Month,
        _ => return None,
    };
    Some(Period::of(Date::from_days(today), interval).to_string())
}

/// The schedules stored.
pub async fn schedules(store: &AnyStore) -> Result<Vec<Schedule>, ApiError> {
    Ok(match store.setting(KEY).await? {
        Some(text) => serde_json::from_str(&text).unwrap_or_default(),
        None => Vec::new(),
    })
}

async fn save(store: &AnyStore, list: &[Schedule]) -> Result<(), ApiError> {
    let text = serde_json::to_string(list).map_err(|e| ApiError::internal("schedules", e))?;
    store.set_setting(KEY, &text).await?;
    Ok(())
}

/// Adds a schedule after checking it renders; returns it.
pub async fn add(
    store: &AnyStore,
    every: &str,
    view: &str,
    lang: &str,
    dir: &str,
) -> Result<Schedule, ApiError> {
    if period_label(every, 0).is_none() {
        return Err(ApiError::invalid_field(
            "every",
            format!("{every:?}: use week or month"),
        ));
    }
    if !matches!(lang, "zh" | "en") {
        return Err(ApiError::invalid_field(
            "lang",
            format!("{lang:?}: use zh or en"),
        ));
    }
    if dir.trim().is_empty() {
        return Err(ApiError::invalid_field(
            "dir",
            "give the folder reports are written to",
        ));
    }
    render(store, view, lang).await?;
    let mut list = schedules(store).await?;
    let schedule = Schedule {
        id: list.iter().map(|s| s.id).max().unwrap_or(0) + 1,
        every: every.to_string(),
        view: view.to_string(),
        lang: lang.to_string(),
        dir: dir.trim().to_string(),
        last: None,
    };
    list.push(schedule.clone());
    save(store, &list).await?;
    Ok(schedule)
}

/// Removes a schedule; false when there is none.
pub async fn remove(store: &AnyStore, id: u32) -> Result<bool, ApiError> {
    let mut list = schedules(store).await?;
    let before = list.len();
    list.retain(|s| s.id != id);
    if list.len() == before {
        return Ok(false);
    }
    save(store, &list).await?;
    Ok(true)
}

async fn render(store: &AnyStore, view: &str, lang: &str) -> Result<(String, String), ApiError> {
    let params = ViewParams::parse(view);
    let viewer = Viewer {
        lang,
        csrf: "",
        username: "",
        standalone: true,
    };
    let page = overview(store, &params, &viewer).await?;
    let html = page
        .render()
        .map_err(|e| ApiError::internal("rendering the report", e))?;
    let slug = match &params.survey {
        Some(s) => store.survey(s).await?.definition.slug,
        None => "overview".into(),
    };
    Ok((slug, html))
}

/// Writes every report due on `today`; returns the files written.
pub async fn run_due(store: &AnyStore, today: i32) -> Result<Vec<String>, ApiError> {
    let mut list = schedules(store).await?;
    let mut written = Vec::new();
    let mut events = Vec::new();
    for s in &mut list {
        let Some(label) = period_label(&s.every, today) else {
            continue;
        };
        if s.last.as_deref() == Some(label.as_str()) {
            continue;
        }
        let (slug, html) = render(store, &s.view, &s.lang).await?;
        std::fs::create_dir_all(&s.dir)
            .map_err(|e| ApiError::internal(&format!("creating {}", s.dir), e))?;
        let path = std::path::Path::new(&s.dir).join(format!("cxscore-{slug}-{label}.html"));
        std::fs::write(&path, &html)
            .map_err(|e| ApiError::internal(&format!("writing {}", path.display()), e))?;
        let file = path.display().to_string();
        let body = serde_json::json!({
            "event": "report.ready",
            "survey": slug,
            "period": label,
            "file": file,
            "html": html,
        });
        events.push(("report.ready".to_string(), body.to_string()));
        s.last = Some(label);
        written.push(file);
    }
    if written.is_empty() {
        return Ok(written);
    }
    // Files first (writing one again is harmless); then the periods written and
    // their events in one transaction, so a crash in between rewrites the same
    // file rather than announcing it twice or forgetting it.
    let text = serde_json::to_string(&list).map_err(|e| ApiError::internal("schedules", e))?;
    store
        .open_tasks(&[], &events, None, &[(KEY.to_string(), text)])
        .await?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        let day = Date::from_ymd(2026, 12, 1).expect("date").days();
        assert_eq!(period_label("week", day).as_deref(), Some("2026-W49"));
        assert_eq!(period_label("month", day).as_deref(), Some("2026-12"));
        assert_eq!(period_label("day", day), None);
    }
}
