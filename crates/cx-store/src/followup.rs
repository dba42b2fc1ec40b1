//! Closing the loop in the database: follow-up tasks (opened by the rules of
//! `cx_core::account::rules`, at most one per response thanks to a dedupe key),
//! their history of notes and status changes, outgoing webhooks with a
//! delivery queue that survives restarts, and small settings (the scorecard,
//! the rules, the loop's cursor).

use serde::Serialize;

use crate::StoreError;

/// A task to open.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    /// `response:ID`, `drop:ACCOUNT:PERIOD`, …: a second attempt opens nothing.
    pub dedupe_key: String,
    /// The account.
    pub account_id: Option<i64>,
    /// The response that caused it.
    pub response_id: Option<i64>,
    /// The person who answered.
    pub contact_id: Option<i64>,
    /// Title.
    pub title: String,
    /// The rules that fired (JSON array of `cx_core::account::rules::Reason`).
    pub reasons: String,
    /// normal, high, urgent.
    pub priority: String,
    /// Owner (account owner or sales team).
    pub owner: Option<String>,
    /// The owner's team.
    pub team: Option<String>,
    /// Created (Unix seconds).
    pub created: i64,
    /// Deadline (Unix seconds).
    pub due: i64,
    /// The body of its `task.created` event, queued in the same transaction
    /// once the task has an id (written into `payload["task"]["id"]`).
    pub event: Option<serde_json::Value>,
}

/// A stored task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredTask {
    /// Id.
    pub id: i64,
    /// The account's code and name.
    pub account: Option<String>,
    /// The account's name.
    pub account_name: Option<String>,
    /// The account's tier.
    pub tier: Option<String>,
    /// The response that caused it.
    pub response_id: Option<i64>,
    /// The person's contact code.
    pub contact: Option<String>,
    /// Title.
    pub title: String,
    /// Why (JSON array of reasons).
    pub reasons: serde_json::Value,
    /// normal, high, urgent.
    pub priority: String,
    /// Owner.
    pub owner: Option<String>,
    /// Team.
    pub team: Option<String>,
    /// open, in_progress, waiting, resolved.
    pub status: String,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Deadline (RFC 3339).
    pub due: Option<String>,
    /// Created (Unix seconds).
    #[serde(skip)]
    pub created_ts: i64,
    /// Deadline (Unix seconds).
    #[serde(skip)]
    pub due_ts: Option<i64>,
    /// First action (Unix seconds).
    #[serde(skip)]
    pub first_action_ts: Option<i64>,
    /// Resolved (Unix seconds).
    #[serde(skip)]
    pub resolved_ts: Option<i64>,
    /// Resolved (RFC 3339).
    pub resolved_at: Option<String>,
    /// Escalated because overdue (RFC 3339).
    pub escalated_at: Option<String>,
    /// What was done.
    pub resolution: Option<String>,
    /// The re-survey invitation sent after resolution.
    pub resurvey_invitation: Option<i64>,
    /// Whether it is past its deadline and not resolved (as of the read).
    pub overdue: bool,
    /// The survey (slug) of the response that caused it.
    pub survey: Option<String>,
}

/// One entry of a task's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskEvent {
    /// When (RFC 3339).
    pub at: String,
    /// Who.
    pub author: String,
    /// The new status, if it changed.
    pub status: Option<String>,
    /// A note.
    pub note: Option<String>,
}

/// Which tasks to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskQuery {
    /// Only this status; `active` = every status but resolved.
    pub status: Option<String>,
    /// Only this owner.
    pub owner: Option<String>,
    /// Only this account (code).
    pub account: Option<String>,
    /// Only overdue ones.
    pub overdue: bool,
    /// At most this many (newest first).
    pub limit: i64,
}

/// A change to a task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskChange {
    /// New status (already checked by `cx_core::account::rules::check_transition`).
    pub status: Option<String>,
    /// New owner.
    pub owner: Option<String>,
    /// A note to add.
    pub note: Option<String>,
    /// The resolution (with status resolved).
    pub resolution: Option<String>,
    /// Who.
    pub author: String,
    /// When (Unix seconds).
    pub now: i64,
    /// The app's address, for the link in a `task.resolved` event; `None`
    /// queues no event.
    pub app: Option<String>,
}

/// A webhook subscription.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Webhook {
    /// Id.
    pub id: i64,
    /// Where events are POSTed.
    pub url: String,
    /// HMAC-SHA256 key.
    #[serde(skip)]
    pub secret: String,
    /// Events (`*` or a comma-separated list).
    pub events: String,
    /// Active.
    pub active: bool,
    /// Created.
    pub created_at: String,
}

impl Webhook {
    /// Whether the webhook wants `event`.
    pub fn wants(&self, event: &str) -> bool {
        self.active
            && self
                .events
                .split(',')
                .map(str::trim)
                .any(|e| e == "*" || e == event)
    }
}

/// One delivery of one event to one webhook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    /// Id.
    pub id: i64,
    /// Webhook.
    pub webhook_id: i64,
    /// Event name.
    pub event: String,
    /// The JSON body.
    pub payload: String,
    /// pending, delivered, failed.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Next attempt (Unix seconds).
    #[serde(skip)]
    pub next_ts: i64,
    /// Last HTTP status.
    pub last_code: Option<i64>,
    /// Last error.
    pub last_error: Option<String>,
    /// Queued.
    pub created_at: String,
    /// Delivered.
    pub delivered_at: Option<String>,
}

/// The outcome of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// HTTP status, if an answer came.
    pub code: Option<i64>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// Delivered (2xx).
    pub delivered: bool,
    /// When to retry; `None` = give up (failed).
    pub retry_at: Option<i64>,
}

/// An answer: (question, value, text, sentiment −1/0/1).
pub type LoopAnswer = (String, Option<i64>, Option<String>, Option<i64>);

/// A response the loop has not looked at yet.
#[derive(Debug, Clone, PartialEq)]
pub struct LoopResponse {
    /// Response id.
    pub id: i64,
    /// Survey id.
    pub survey_id: i64,
    /// Survey slug.
    pub survey: String,
    /// When (RFC 3339).
    pub submitted_at: String,
    /// Channel.
    pub channel: String,
    /// Account: (id, code, name, tier, owner, sales team).
    pub account: Option<(i64, String, String, String, String, String)>,
    /// Contact: (id, code, name).
    pub contact: Option<(i64, String, String)>,
    /// Answers.
    pub answers: Vec<LoopAnswer>,
}

/// An improvement action: what a team does to move a metric, from when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    /// Id (0 before it is stored).
    pub id: i64,
    /// What is done.
    pub title: String,
    /// The survey (slug) whose metric it targets.
    pub survey: String,
    /// `nps`, `csat`, `ces` or `dim:NAME`.
    pub metric: String,
    /// `COL=VALUE` filters (region=华东).
    pub filters: Vec<String>,
    /// Who.
    pub owner: Option<String>,
    /// Since when (YYYY-MM-DD).
    pub started_on: String,
    /// active or done.
    pub status: String,
    /// Recorded.
    pub created_at: String,
}

/// Tasks, webhooks and settings.
#[allow(async_fn_in_trait)]
pub trait FollowUpStore {
    /// A setting's value.
    async fn setting(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Stores a setting.
    async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Responses with id > `after`, oldest first, at most `limit`.
    async fn responses_for_loop(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<LoopResponse>, StoreError>;
    /// Opens tasks (known dedupe keys are skipped) and queues their events, in
    /// one transaction that also moves the loop cursor from `cursor.0` to
    /// `cursor.1` (a conflict when another process moved it meanwhile: nothing
    /// is stored) and writes `settings`; returns the new tasks' ids in the
    /// order given (None = already there).
    async fn open_tasks(
        &self,
        tasks: &[NewTask],
        events: &[(String, String)],
        cursor: Option<(i64, i64)>,
        settings: &[(String, String)],
    ) -> Result<Vec<Option<i64>>, StoreError>;
    /// Lists tasks.
    async fn tasks(&self, q: &TaskQuery, now: i64) -> Result<Vec<StoredTask>, StoreError>;
    /// One task with its history.
    async fn task(
        &self,
        id: i64,
        now: i64,
    ) -> Result<Option<(StoredTask, Vec<TaskEvent>)>, StoreError>;
    /// Changes a task and records the change in its history, the row locked
    /// for the transaction; returns the task and its status before. Resolving
    /// queues `task.resolved` in the same transaction when `change.app` is set.
    async fn update_task(
        &self,
        id: i64,
        change: &TaskChange,
    ) -> Result<(StoredTask, String), StoreError>;
    /// Records the re-survey invitation of a resolved task.
    async fn set_resurvey(&self, id: i64, invitation: i64) -> Result<(), StoreError>;
    /// The response to a task's re-survey: the same person's next response
    /// to the same survey, once the task has a re-survey invitation.
    async fn resurvey_response(&self, id: i64) -> Result<Option<i64>, StoreError>;
    /// Marks overdue unresolved tasks as escalated (once), queues their
    /// `task.overdue` in the same transaction (links under `app`), and returns them.
    async fn escalate_overdue(&self, now: i64, app: &str) -> Result<Vec<StoredTask>, StoreError>;
    /// Adds a webhook.
    async fn create_webhook(
        &self,
        url: &str,
        secret: &str,
        events: &str,
    ) -> Result<i64, StoreError>;
    /// All webhooks.
    async fn webhooks(&self) -> Result<Vec<Webhook>, StoreError>;
    /// Removes a webhook and its deliveries; false when there was none.
    async fn delete_webhook(&self, id: i64) -> Result<bool, StoreError>;
    /// Queues an event for every webhook that wants it.
    async fn enqueue(&self, event: &str, payload: &str, now: i64) -> Result<u64, StoreError>;
    /// Pending deliveries due at `now`, oldest first.
    async fn due_deliveries(&self, now: i64, limit: i64) -> Result<Vec<Delivery>, StoreError>;
    /// Records an attempt.
    async fn record_attempt(&self, id: i64, a: &Attempt, now: i64) -> Result<(), StoreError>;
    /// A webhook's deliveries, newest first.
    async fn deliveries(&self, webhook: i64, limit: i64) -> Result<Vec<Delivery>, StoreError>;
    /// Queues a delivery again (after a receiver's outage): pending, attempts
    /// reset, due at `now`; false when there is no such delivery of `webhook`.
    async fn redeliver(&self, webhook: i64, id: i64, now: i64) -> Result<bool, StoreError>;
    /// Records an improvement action.
    async fn create_action(&self, action: &Action) -> Result<i64, StoreError>;
    /// All improvement actions, newest first.
    async fn actions(&self) -> Result<Vec<Action>, StoreError>;
    /// Sets an action's status; false when there is none.
    async fn set_action_status(&self, id: i64, status: &str) -> Result<bool, StoreError>;
}

const TASK_COLUMNS: &str = "t.id, a.external_id, a.name, a.tier, t.response_id, c.external_id, t.title, t.reasons,
    t.priority, t.owner, t.team, t.status, t.created_at, t.due, t.created_ts, t.due_ts, t.first_action_ts,
    t.resolved_ts, t.escalated_ts, t.resolution, t.resurvey_invitation_id, s.slug
    FROM tasks t LEFT JOIN accounts a ON a.id = t.account_id LEFT JOIN contacts c ON c.id = t.contact_id
    LEFT JOIN responses r ON r.id = t.response_id LEFT JOIN surveys s ON s.id = r.survey_id";

/// The SELECT list and joins of a task row.
pub(crate) fn task_select() -> String {
    format!("SELECT {TASK_COLUMNS}")
}

/// Reads a task row selected by [`task_select`].
pub(crate) fn task_row<R: sqlx::Row>(r: &R, now: i64) -> Result<StoredTask, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    usize: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let reasons: String = r.try_get(7)?;
    let status: String = r.try_get(11)?;
    let due_ts: Option<i64> = r.try_get(15)?;
    let resolved_ts: Option<i64> = r.try_get(17)?;
    let escalated: Option<i64> = r.try_get(18)?;
    Ok(StoredTask {
        id: r.try_get(0)?,
        account: r.try_get(1)?,
        account_name: r.try_get(2)?,
        tier: r.try_get(3)?,
        response_id: r.try_get(4)?,
        contact: r.try_get(5)?,
        title: r.try_get(6)?,
        reasons: serde_json::from_str(&reasons).unwrap_or(serde_json::Value::Null),
        priority: r.try_get(8)?,
        owner: r.try_get(9)?,
        team: r.try_get(10)?,
        overdue: status != "resolved" && due_ts.is_some_and(|d| now > d),
        status,
        created_at: r.try_get(12)?,
        due: r.try_get(13)?,
        created_ts: r.try_get(14)?,
        due_ts,
        first_action_ts: r.try_get(16)?,
        resolved_ts,
        resolved_at: resolved_ts.map(cx_core::period::format_timestamp),
        escalated_at: escalated.map(cx_core::period::format_timestamp),
        resolution: r.try_get(19)?,
        resurvey_invitation: r.try_get(20)?,
        survey: r.try_get(21)?,
    })
}

/// Reads a delivery row (`id, webhook_id, event, payload, status, attempts,
/// next_ts, last_code, last_error, created_at, delivered_at`).
pub(crate) fn delivery_row<R: sqlx::Row>(r: &R) -> Result<Delivery, StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Delivery {
        id: r.try_get(0)?,
        webhook_id: r.try_get(1)?,
        event: r.try_get(2)?,
        payload: r.try_get(3)?,
        status: r.try_get(4)?,
        attempts: r.try_get(5)?,
        next_ts: r.try_get(6)?,
        last_code: r.try_get(7)?,
        last_error: r.try_get(8)?,
        created_at: r.try_get(9)?,
        delivered_at: r.try_get(10)?,
    })
}

/// The delivery columns, in [`delivery_row`]'s order.
pub(crate) const DELIVERY_COLUMNS: &str = "id, webhook_id, event, payload, status, attempts, next_ts, last_code, last_error, created_at, delivered_at";

/// Queues `$event` for every active webhook that wants it, inside `$tx`.
macro_rules! queue_in_tx {
    ($tx:expr, $event:expr, $payload:expr, $now_ts:expr, $now:expr) => {{
        let hooks: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, events FROM webhooks WHERE active = $1")
                .bind(true)
                .fetch_all(&mut *$tx)
                .await?;
        for (hook, wanted) in &hooks {
            if !wanted.split(',').map(str::trim).any(|e| e == "*" || e == $event) {
                continue;
            }
            sqlx::query(
                "INSERT INTO deliveries (webhook_id, event, payload, status, attempts, next_ts, created_at)
                 VALUES ($1, $2, $3, 'pending', 0, $4, $5)",
            )
            .bind(hook)
            .bind($event)
            .bind($payload)
            .bind($now_ts)
            .bind($now)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

pub(crate) use queue_in_tx;

/// The body of a task event.
pub fn task_event_body(event: &str, task: &StoredTask, app: &str) -> String {
    serde_json::json!({
        "event": event,
        "task": task,
        "app": format!("{}/app/tasks/{}", app.trim_end_matches('/'), task.id),
    })
    .to_string()
}

macro_rules! impl_followup_store {
    ($ty:ident) => {
        impl $crate::followup::FollowUpStore for $ty {
            async fn setting(&self, key: &str) -> Result<Option<String>, $crate::StoreError> {
                Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn set_setting(&self, key: &str, value: &str) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                )
                .bind(key)
                .bind(value)
                .bind($crate::now_rfc3339())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn responses_for_loop(
                &self,
                after: i64,
                limit: i64,
            ) -> Result<Vec<$crate::followup::LoopResponse>, $crate::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT r.id, r.survey_id, s.slug, r.submitted_at, r.channel,
                            a.id, a.external_id, a.name, COALESCE(a.tier, ''), COALESCE(a.owner, ''), COALESCE(a.sales_team, ''),
                            c.id, c.external_id, c.name
                     FROM responses r JOIN surveys s ON s.id = r.survey_id
                     LEFT JOIN accounts a ON a.id = r.account_id LEFT JOIN contacts c ON c.id = r.contact_id
                     WHERE r.id > $1 ORDER BY r.id LIMIT $2",
                )
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    let account_id: Option<i64> = r.try_get(5)?;
                    let contact_id: Option<i64> = r.try_get(11)?;
                    out.push($crate::followup::LoopResponse {
                        id: r.try_get(0)?,
                        survey_id: r.try_get(1)?,
                        survey: r.try_get(2)?,
                        submitted_at: r.try_get(3)?,
                        channel: r.try_get(4)?,
                        account: match account_id {
                            Some(id) => Some((
                                id,
                                r.try_get(6)?,
                                r.try_get(7)?,
                                r.try_get(8)?,
                                r.try_get(9)?,
                                r.try_get(10)?,
                            )),
                            None => None,
                        },
                        contact: match contact_id {
                            Some(id) => Some((id, r.try_get(12)?, r.try_get(13)?)),
                            None => None,
                        },
                        answers: Vec::new(),
                    });
                }
                if let (Some(first), Some(last)) = (out.first().map(|r| r.id), out.last().map(|r| r.id)) {
                    let answers = sqlx::query(
                        "SELECT response_id, question_id, value_int, value_text, CAST(sentiment AS BIGINT)
                         FROM answers WHERE response_id >= $1 AND response_id <= $2 ORDER BY response_id, question_id",
                    )
                    .bind(first)
                    .bind(last)
                    .fetch_all(&self.pool)
                    .await?;
                    let mut k = 0;
                    for a in &answers {
                        let rid: i64 = a.try_get(0)?;
                        while k < out.len() && out[k].id < rid {
                            k += 1;
                        }
                        if k < out.len() && out[k].id == rid {
                            out[k]
                                .answers
                                .push((a.try_get(1)?, a.try_get(2)?, a.try_get(3)?, a.try_get(4)?));
                        }
                    }
                }
                Ok(out)
            }

            async fn open_tasks(
                &self,
                tasks: &[$crate::followup::NewTask],
                events: &[(String, String)],
                cursor: Option<(i64, i64)>,
                settings: &[(String, String)],
            ) -> Result<Vec<Option<i64>>, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                let mut ids = Vec::with_capacity(tasks.len());
                for t in tasks {
                    let id: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO tasks (account_id, response_id, contact_id, dedupe_key, title, reasons, priority,
                                            owner, team, status, created_at, created_ts, due, due_ts)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10, $11, $12, $13)
                         ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
                    )
                    .bind(t.account_id)
                    .bind(t.response_id)
                    .bind(t.contact_id)
                    .bind(&t.dedupe_key)
                    .bind(&t.title)
                    .bind(&t.reasons)
                    .bind(&t.priority)
                    .bind(&t.owner)
                    .bind(&t.team)
                    .bind(cx_core::period::format_timestamp(t.created))
                    .bind(t.created)
                    .bind(cx_core::period::format_timestamp(t.due))
                    .bind(t.due)
                    .fetch_optional(&mut *tx)
                    .await?;
                    ids.push(id);
                }
                let mut events: Vec<(String, String)> = events.to_vec();
                for (t, id) in tasks.iter().zip(&ids) {
                    if let (Some(body), Some(id)) = (&t.event, id) {
                        let mut body = body.clone();
                        if let Some(task) = body.get_mut("task").and_then(|v| v.as_object_mut()) {
                            task.insert("id".into(), serde_json::Value::from(*id));
                        }
                        events.push(("task.created".into(), body.to_string()));
                    }
                }
                let now = $crate::now_rfc3339();
                let now_ts = cx_core::period::parse_timestamp(&now).unwrap_or(0);
                if !events.is_empty() {
                    let hooks: Vec<(i64, String)> =
                        sqlx::query_as("SELECT id, events FROM webhooks WHERE active = $1")
                            .bind(true)
                            .fetch_all(&mut *tx)
                            .await?;
                    for (event, payload) in &events {
                        for (hook, wanted) in &hooks {
                            if !wanted.split(',').map(str::trim).any(|e| e == "*" || e == event) {
                                continue;
                            }
                            sqlx::query(
                                "INSERT INTO deliveries (webhook_id, event, payload, status, attempts, next_ts, created_at)
                                 VALUES ($1, $2, $3, 'pending', 0, $4, $5)",
                            )
                            .bind(hook)
                            .bind(event)
                            .bind(payload)
                            .bind(now_ts)
                            .bind(&now)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                }
                if let Some((old, new)) = cursor {
                    sqlx::query(
                        "INSERT INTO settings (key, value, updated_at) VALUES ('loop_cursor', '0', $1)
                         ON CONFLICT (key) DO NOTHING",
                    )
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?;
                    let moved = sqlx::query(
                        "UPDATE settings SET value = $1, updated_at = $2 WHERE key = 'loop_cursor' AND value = $3",
                    )
                    .bind(new.to_string())
                    .bind(&now)
                    .bind(old.to_string())
                    .execute(&mut *tx)
                    .await?;
                    if moved.rows_affected() == 0 {
                        // Another process looked at these responses first; ours is rolled back.
                        return Err($crate::StoreError::Conflict(
                            "another process moved the follow-up cursor".into(),
                        ));
                    }
                }
                for (key, value) in settings {
                    sqlx::query(
                        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    )
                    .bind(key)
                    .bind(value)
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(ids)
            }

            async fn tasks(
                &self,
                q: &$crate::followup::TaskQuery,
                now: i64,
            ) -> Result<Vec<$crate::followup::StoredTask>, $crate::StoreError> {
                let sql = format!(
                    "{} WHERE ($1 IS NULL OR t.status = $1 OR ($1 = 'active' AND t.status <> 'resolved'))
                       AND ($2 IS NULL OR t.owner = $2) AND ($3 IS NULL OR a.external_id = $3)
                       AND ($4 = 0 OR (t.status <> 'resolved' AND t.due_ts < $5))
                     ORDER BY t.id DESC LIMIT $6",
                    $crate::followup::task_select()
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(&q.status)
                    .bind(&q.owner)
                    .bind(&q.account)
                    .bind(i64::from(q.overdue))
                    .bind(now)
                    .bind(q.limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(|r| $crate::followup::task_row(r, now)).collect()
            }

            async fn task(
                &self,
                id: i64,
                now: i64,
            ) -> Result<Option<($crate::followup::StoredTask, Vec<$crate::followup::TaskEvent>)>, $crate::StoreError> {
                use sqlx::Row;
                let sql = format!("{} WHERE t.id = $1", $crate::followup::task_select());
                let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_optional(&self.pool).await? else {
                    return Ok(None);
                };
                let task = $crate::followup::task_row(&row, now)?;
                let events = sqlx::query("SELECT at, author, status, note FROM task_events WHERE task_id = $1 ORDER BY id")
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|r| {
                        Ok($crate::followup::TaskEvent {
                            at: r.try_get(0)?,
                            author: r.try_get(1)?,
                            status: r.try_get(2)?,
                            note: r.try_get(3)?,
                        })
                    })
                    .collect::<Result<Vec<_>, $crate::StoreError>>()?;
                Ok(Some((task, events)))
            }

            async fn update_task(
                &self,
                id: i64,
                change: &$crate::followup::TaskChange,
            ) -> Result<($crate::followup::StoredTask, String), $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                // A write first: the row (PostgreSQL) or the database (SQLite) is
                // locked until COMMIT, so two clicks cannot both resolve the task.
                let locked = sqlx::query("UPDATE tasks SET status = status WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                if locked.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound(format!("no task {id}")));
                }
                let current: Option<(String,)> = sqlx::query_as("SELECT status FROM tasks WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some((status,)) = current else {
                    return Err($crate::StoreError::NotFound(format!("no task {id}")));
                };
                let at = cx_core::period::format_timestamp(change.now);
                let new_status = change.status.clone().filter(|s| *s != status);
                let resolving = new_status.as_deref() == Some("resolved");
                let reopening = new_status.is_some() && status == "resolved";
                sqlx::query(
                    "UPDATE tasks SET status = COALESCE($1, status), owner = COALESCE($2, owner),
                        first_action_ts = COALESCE(first_action_ts, $3),
                        resolved_ts = CASE WHEN $4 = 1 THEN $3 WHEN $5 = 1 THEN NULL ELSE resolved_ts END,
                        resolution = CASE WHEN $4 = 1 THEN $6 WHEN $5 = 1 THEN NULL ELSE resolution END
                     WHERE id = $7",
                )
                .bind(&new_status)
                .bind(&change.owner)
                .bind(change.now)
                .bind(i64::from(resolving))
                .bind(i64::from(reopening))
                .bind(&change.resolution)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                let note = match (&change.note, resolving, &change.resolution) {
                    (Some(n), true, Some(r)) if !n.trim().is_empty() => Some(format!("{n}\n{r}")),
                    (_, true, Some(r)) => Some(r.clone()),
                    (n, _, _) => n.clone().filter(|n| !n.trim().is_empty()),
                };
                let note = match (&change.owner, note) {
                    (Some(o), None) => Some(format!("→ {o}")),
                    (_, n) => n,
                };
                if new_status.is_some() || note.is_some() {
                    sqlx::query("INSERT INTO task_events (task_id, at, author, status, note) VALUES ($1, $2, $3, $4, $5)")
                        .bind(id)
                        .bind(&at)
                        .bind(&change.author)
                        .bind(&new_status)
                        .bind(&note)
                        .execute(&mut *tx)
                        .await?;
                }
                let sql = format!("{} WHERE t.id = $1", $crate::followup::task_select());
                let row = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_one(&mut *tx).await?;
                let task = $crate::followup::task_row(&row, change.now)?;
                if resolving && let Some(app) = &change.app {
                    let body = $crate::followup::task_event_body("task.resolved", &task, app);
                    $crate::followup::queue_in_tx!(tx, "task.resolved", &body, change.now, &at);
                }
                tx.commit().await?;
                Ok((task, status))
            }

            async fn set_resurvey(&self, id: i64, invitation: i64) -> Result<(), $crate::StoreError> {
                sqlx::query("UPDATE tasks SET resurvey_invitation_id = $1 WHERE id = $2")
                    .bind(invitation)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn resurvey_response(&self, id: i64) -> Result<Option<i64>, $crate::StoreError> {
                Ok(sqlx::query_scalar(
                    "SELECT r2.id FROM tasks t JOIN responses r1 ON r1.id = t.response_id
                     JOIN responses r2 ON r2.contact_id = t.contact_id AND r2.survey_id = r1.survey_id AND r2.id > r1.id
                     WHERE t.id = $1 AND t.resurvey_invitation_id IS NOT NULL AND t.resolved_ts IS NOT NULL
                       AND r2.submitted_day >= t.resolved_ts / 86400
                     ORDER BY r2.id LIMIT 1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn escalate_overdue(
                &self,
                now: i64,
                app: &str,
            ) -> Result<Vec<$crate::followup::StoredTask>, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                let ids: Vec<i64> = sqlx::query_scalar(
                    "UPDATE tasks SET escalated_ts = $1, priority = 'urgent'
                     WHERE status <> 'resolved' AND escalated_ts IS NULL AND due_ts IS NOT NULL AND due_ts < $1
                     RETURNING id",
                )
                .bind(now)
                .fetch_all(&mut *tx)
                .await?;
                let mut out = Vec::with_capacity(ids.len());
                let sql = format!("{} WHERE t.id = $1", $crate::followup::task_select());
                let at = cx_core::period::format_timestamp(now);
                for id in ids {
                    let row = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_one(&mut *tx).await?;
                    let task = $crate::followup::task_row(&row, now)?;
                    let body = $crate::followup::task_event_body("task.overdue", &task, app);
                    $crate::followup::queue_in_tx!(tx, "task.overdue", &body, now, &at);
                    out.push(task);
                }
                tx.commit().await?;
                Ok(out)
            }

            async fn create_webhook(
                &self,
                url: &str,
                secret: &str,
                events: &str,
            ) -> Result<i64, $crate::StoreError> {
                Ok(sqlx::query_scalar(
                    "INSERT INTO webhooks (url, secret, events, active, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(url)
                .bind(secret)
                .bind(events)
                .bind(true)
                .bind($crate::now_rfc3339())
                .fetch_one(&self.pool)
                .await?)
            }

            async fn webhooks(&self) -> Result<Vec<$crate::followup::Webhook>, $crate::StoreError> {
                use sqlx::Row;
                sqlx::query("SELECT id, url, secret, events, active, created_at FROM webhooks ORDER BY id")
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|r| {
                        Ok($crate::followup::Webhook {
                            id: r.try_get(0)?,
                            url: r.try_get(1)?,
                            secret: r.try_get(2)?,
                            events: r.try_get(3)?,
                            active: r.try_get(4)?,
                            created_at: r.try_get(5)?,
                        })
                    })
                    .collect()
            }

            async fn delete_webhook(&self, id: i64) -> Result<bool, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query("DELETE FROM deliveries WHERE webhook_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let done = sqlx::query("DELETE FROM webhooks WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() > 0)
            }

            async fn enqueue(&self, event: &str, payload: &str, now: i64) -> Result<u64, $crate::StoreError> {
                let hooks = self.webhooks().await?;
                let mut n = 0;
                let created = cx_core::period::format_timestamp(now);
                for h in hooks.iter().filter(|h| h.wants(event)) {
                    sqlx::query(
                        "INSERT INTO deliveries (webhook_id, event, payload, status, attempts, next_ts, created_at)
                         VALUES ($1, $2, $3, 'pending', 0, $4, $5)",
                    )
                    .bind(h.id)
                    .bind(event)
                    .bind(payload)
                    .bind(now)
                    .bind(&created)
                    .execute(&self.pool)
                    .await?;
                    n += 1;
                }
                Ok(n)
            }

            async fn due_deliveries(
                &self,
                now: i64,
                limit: i64,
            ) -> Result<Vec<$crate::followup::Delivery>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {} FROM deliveries WHERE status = 'pending' AND next_ts <= $1 ORDER BY id LIMIT $2",
                    $crate::followup::DELIVERY_COLUMNS
                );
                sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map($crate::followup::delivery_row)
                    .collect()
            }

            async fn record_attempt(
                &self,
                id: i64,
                a: &$crate::followup::Attempt,
                now: i64,
            ) -> Result<(), $crate::StoreError> {
                let status = if a.delivered {
                    "delivered"
                } else if a.retry_at.is_some() {
                    "pending"
                } else {
                    "failed"
                };
                sqlx::query(
                    "UPDATE deliveries SET status = $1, attempts = attempts + 1, next_ts = $2, last_code = $3,
                        last_error = $4, delivered_at = $5 WHERE id = $6",
                )
                .bind(status)
                .bind(a.retry_at.unwrap_or(now))
                .bind(a.code)
                .bind(&a.error)
                .bind(a.delivered.then(|| cx_core::period::format_timestamp(now)))
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn redeliver(&self, webhook: i64, id: i64, now: i64) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE deliveries SET status = 'pending', attempts = 0, next_ts = $1
                     WHERE id = $2 AND webhook_id = $3",
                )
                .bind(now)
                .bind(id)
                .bind(webhook)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn create_action(
                &self,
                a: &$crate::followup::Action,
            ) -> Result<i64, $crate::StoreError> {
                Ok(sqlx::query_scalar(
                    "INSERT INTO actions (title, survey, metric, filters, owner, started_on, status, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                )
                .bind(&a.title)
                .bind(&a.survey)
                .bind(&a.metric)
                .bind(serde_json::to_string(&a.filters).unwrap_or_else(|_| "[]".into()))
                .bind(&a.owner)
                .bind(&a.started_on)
                .bind(&a.status)
                .bind($crate::now_rfc3339())
                .fetch_one(&self.pool)
                .await?)
            }

            async fn actions(&self) -> Result<Vec<$crate::followup::Action>, $crate::StoreError> {
                use sqlx::Row;
                sqlx::query(
                    "SELECT id, title, survey, metric, filters, owner, started_on, status, created_at
                     FROM actions ORDER BY id DESC",
                )
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| {
                    let filters: String = r.try_get(4)?;
                    Ok($crate::followup::Action {
                        id: r.try_get(0)?,
                        title: r.try_get(1)?,
                        survey: r.try_get(2)?,
                        metric: r.try_get(3)?,
                        filters: serde_json::from_str(&filters).unwrap_or_default(),
                        owner: r.try_get(5)?,
                        started_on: r.try_get(6)?,
                        status: r.try_get(7)?,
                        created_at: r.try_get(8)?,
                    })
                })
                .collect()
            }

            async fn set_action_status(&self, id: i64, status: &str) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query("UPDATE actions SET status = $1 WHERE id = $2")
                    .bind(status)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn deliveries(
                &self,
                webhook: i64,
                limit: i64,
            ) -> Result<Vec<$crate::followup::Delivery>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {} FROM deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2",
                    $crate::followup::DELIVERY_COLUMNS
                );
                sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(webhook)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map($crate::followup::delivery_row)
                    .collect()
            }
        }
    };
}

pub(crate) use impl_followup_store;
