//! The task service shared by the API, the app pages and the CLI: reading a
//! task with its history and re-survey result, changing it (checked, locked,
//! `task.resolved` queued with the change, the re-survey invitation), the
//! teams' response and resolution times, and the scorecard in force.

use cx_core::account::rules;
use cx_core::account::scorecard::Scorecard;
use cx_core::period::parse_timestamp;
use cx_store::followup::{FollowUpStore, StoredTask};
use cx_store::{AnyStore, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::followup::{LoopConfig, SCORECARD_KEY, SurveyCache, signal_of};
use crate::unix_now;

/// The company's scorecard, or the default one.
pub async fn current_scorecard(store: &AnyStore) -> Result<Scorecard, StoreError> {
    Ok(match store.setting(SCORECARD_KEY).await? {
        Some(text) => Scorecard::from_json(&text).unwrap_or_default(),
        None => Scorecard::default(),
    })
}

/// A task with its history and, after a re-survey, the before/after answers.
#[derive(Debug, Clone, Serialize)]
pub struct TaskView {
    /// The task.
    #[serde(flatten)]
    pub task: StoredTask,
    /// Notes and status changes, oldest first.
    pub history: Vec<cx_store::followup::TaskEvent>,
    /// The NPS answer that opened the task.
    pub nps_before: Option<u8>,
    /// The NPS answer to the re-survey.
    pub nps_after: Option<u8>,
    /// `nps_after − nps_before`.
    pub nps_change: Option<i32>,
    /// The re-survey link, shown once when the task is resolved with a re-survey.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resurvey_link: Option<String>,
    /// Something the user should know about the change just made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
}

async fn nps_of(
    store: &AnyStore,
    surveys: &mut SurveyCache,
    response: i64,
) -> Result<Option<u8>, StoreError> {
    let Some(r) = store
        .responses_for_loop(response - 1, 1)
        .await?
        .into_iter()
        .next()
        .filter(|r| r.id == response)
    else {
        return Ok(None);
    };
    let def = surveys.get(store, r.survey_id).await?;
    Ok(signal_of(&r, &def, 0).nps)
}

/// A task as pages and the API show it.
pub async fn task_view(store: &AnyStore, id: i64) -> Result<Option<TaskView>, StoreError> {
    let Some((task, history)) = store.task(id, unix_now()).await? else {
        return Ok(None);
    };
    let mut surveys = SurveyCache::default();
    let nps_before = match task.response_id {
        Some(r) => nps_of(store, &mut surveys, r).await?,
        None => None,
    };
    let nps_after = match store.resurvey_response(id).await? {
        Some(r) => nps_of(store, &mut surveys, r).await?,
        None => None,
    };
    Ok(Some(TaskView {
        nps_change: nps_before
            .zip(nps_after)
            .map(|(b, a)| i32::from(a) - i32::from(b)),
        task,
        history,
        nps_before,
        nps_after,
        resurvey_link: None,
        notice: None,
    }))
}

/// A change a user asks for.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskUpdate {
    /// open, in_progress, waiting or resolved.
    pub status: Option<String>,
    /// A new owner.
    pub owner: Option<String>,
    /// A note for the history.
    pub note: Option<String>,
    /// What was done (needed to resolve).
    pub resolution: Option<String>,
    /// On resolving: invite the person to answer the survey again.
    #[serde(default)]
    pub resurvey: bool,
}

/// Why a change was refused.
#[derive(Debug)]
pub enum UpdateError {
    /// The request is wrong (field, message).
    Invalid(&'static str, String),
    /// The store failed or the task does not exist.
    Store(StoreError),
}

impl From<StoreError> for UpdateError {
    fn from(e: StoreError) -> UpdateError {
        UpdateError::Store(e)
    }
}

/// Checks and applies a change; on resolution queues `task.resolved` and,
/// when asked, creates the re-survey invitation.
pub async fn update_task(
    store: &AnyStore,
    config: &LoopConfig,
    id: i64,
    update: &TaskUpdate,
    author: &str,
) -> Result<TaskView, UpdateError> {
    let status = match update
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(text) => Some(rules::TaskStatus::parse(text).ok_or_else(|| {
            UpdateError::Invalid(
                "status",
                format!("{text:?}: use open, in_progress, waiting or resolved"),
            )
        })?),
        None => None,
    };
    let clean = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let (owner, note, resolution) = (
        clean(&update.owner),
        clean(&update.note),
        clean(&update.resolution),
    );
    if let Some(s) = status {
        rules::check_transition(s, resolution.as_deref())
            .map_err(|m| UpdateError::Invalid("resolution", m.to_string()))?;
    }
    if status.is_none() && owner.is_none() && note.is_none() {
        return Err(UpdateError::Invalid(
            "status",
            "nothing to change: give a status, an owner or a note".into(),
        ));
    }
    let Some((before, history)) = store.task(id, unix_now()).await? else {
        return Err(StoreError::NotFound(format!("no task {id}")).into());
    };
    if update.resurvey && status != Some(rules::TaskStatus::Resolved) {
        return Err(UpdateError::Invalid(
            "resurvey",
            "a re-survey is sent when the task is resolved: choose the status resolved".into(),
        ));
    }
    if update.resurvey && (before.contact.is_none() || before.survey.is_none()) {
        return Err(UpdateError::Invalid(
            "resurvey",
            "this task has no person and survey to re-survey (anonymous, or not from a response)"
                .into(),
        ));
    }
    // The same form sent twice (a double click, a reload) changes nothing the
    // second time.
    let same_status = status.is_none_or(|s| s.as_str() == before.status);
    let same_owner = owner
        .as_ref()
        .is_none_or(|o| before.owner.as_ref() == Some(o));
    let repeated_note = note.is_none()
        || history.last().is_some_and(|e| {
            let last = e.note.as_deref().unwrap_or("");
            let sent = note.as_deref().unwrap_or("");
            // A resolution is stored after the note, on its own line.
            (last == sent || last.starts_with(&format!("{sent}\n")))
                && e.author == author
                && parse_timestamp(&e.at).is_some_and(|at| unix_now() - at < 600)
        });
    if same_status && same_owner && repeated_note {
        return task_view(store, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no task {id}")).into());
    }
    let now = unix_now();
    // The store decides, under a lock, whether this change resolved the task
    // (a second click finds it resolved already) and queues `task.resolved`
    // in the same transaction.
    let (task, previous) = store
        .update_task(
            id,
            &cx_store::followup::TaskChange {
                status: status.map(|s| s.as_str().to_string()),
                owner,
                note,
                resolution,
                author: author.to_string(),
                now,
                app: Some(config.base_url.clone()),
            },
        )
        .await?;
    let (mut link, mut notice) = (None, None);
    if task.status == "resolved" && previous != "resolved" && update.resurvey {
        match resurvey(store, config, &task).await {
            Ok(Some(l)) => link = Some(l),
            Ok(None) => {
                notice = Some(format!(
                    "resolved; no re-survey invitation could be made for {}",
                    task.contact.as_deref().unwrap_or("this person")
                ))
            }
            Err(UpdateError::Store(e)) => {
                notice = Some(format!("resolved; the re-survey invitation failed: {e}"));
            }
            Err(UpdateError::Invalid(_, m)) => notice = Some(format!("resolved; {m}")),
        }
    }
    let mut view = task_view(store, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no task {id}")))?;
    view.resurvey_link = link;
    view.notice = notice;
    Ok(view)
}

async fn resurvey(
    store: &AnyStore,
    config: &LoopConfig,
    task: &StoredTask,
) -> Result<Option<String>, UpdateError> {
    let (Some(contact), Some(slug)) = (&task.contact, &task.survey) else {
        return Err(UpdateError::Invalid(
            "resurvey",
            "this task has no person and survey to re-survey (anonymous or not from a response)"
                .into(),
        ));
    };
    use cx_store::server::ServerStore;
    let survey = store.survey(slug).await?;
    let ids = store.contact_ids(std::slice::from_ref(contact)).await?;
    let Some(contact_id) = ids.get(contact) else {
        return Ok(None);
    };
    let token = crate::auth::random_token();
    let today = cx_core::period::Date::from_days(unix_now().div_euclid(86_400) as i32);
    let outcome = store
        .create_invitations(
            survey.id,
            &[(*contact_id, crate::auth::hash_secret(&token))],
            0,
            today.days(),
        )
        .await?;
    match outcome.first() {
        Some(cx_store::server::Invited::Created(invitation)) => {
            store.set_resurvey(task.id, *invitation).await?;
            Ok(Some(format!(
                "{}/s/{slug}?t={token}",
                config.base_url.trim_end_matches('/')
            )))
        }
        _ => Ok(None),
    }
}

/// Response and resolution times by team, over every task.
pub async fn loop_figures(store: &AnyStore) -> Result<Vec<rules::TeamLoopFigures>, StoreError> {
    let now = unix_now();
    let tasks = store
        .tasks(
            &cx_store::followup::TaskQuery {
                limit: 1_000_000,
                ..Default::default()
            },
            now,
        )
        .await?;
    let times: Vec<rules::TaskTimes> = tasks
        .iter()
        .map(|t| rules::TaskTimes {
            team: t
                .team
                .clone()
                .or_else(|| t.owner.clone())
                .unwrap_or_else(|| "(unassigned)".into()),
            created: t.created_ts,
            first_action: t.first_action_ts,
            resolved: t.resolved_ts,
            due: t.due_ts,
        })
        .collect();
    Ok(rules::loop_figures(&times, now))
}
