//! Survey programmes in the database: definitions, waves (drawn once, in one
//! transaction with their invitations and messages), the message outbox the
//! scheduler claims and records, unsubscribes and bounces (kept forever),
//! coupon pools and rewards (each code given at most once), and the rows of
//! the response-rate funnel.

use serde::Serialize;

use crate::{InsertCounts, StoreError};

/// A stored programme.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredProgramme {
    /// Id.
    pub id: i64,
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Survey id.
    pub survey_id: i64,
    /// Survey slug.
    pub survey: String,
    /// The definition (JSON, the file's form).
    #[serde(skip)]
    pub definition: String,
    /// active or paused.
    pub status: String,
    /// Created (RFC 3339).
    pub created_at: String,
}

/// A wave to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWave {
    /// Programme.
    pub programme_id: i64,
    /// Label (the first day, ISO, or `DAY #EVENT` for triggered waves).
    pub label: String,
    /// When its messages may go (Unix seconds).
    pub starts_ts: i64,
    /// How the draw went (JSON).
    pub stats: String,
    /// Today (days since 1970-01-01): the day its invitations count as made,
    /// for the contact rules of later waves.
    pub today: i32,
}

/// One person in a new wave.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSend {
    /// Contact.
    pub contact_id: i64,
    /// SHA-256 of their invitation token.
    pub token_hash: String,
    /// email, sms, wechat, print, phone.
    pub channel: String,
    /// When the invitation may go.
    pub due_ts: i64,
    /// `pending` (the scheduler sends it) or `sent` (handed to staff: print, phone).
    pub status: String,
}

/// A stored wave.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredWave {
    /// Id.
    pub id: i64,
    /// Label.
    pub label: String,
    /// Start (Unix seconds).
    pub starts_ts: i64,
    /// How the draw went.
    pub stats: serde_json::Value,
    /// Created (RFC 3339).
    pub created_at: String,
}

/// A message due to go out, with everything needed to write it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutMessage {
    /// Id.
    pub id: i64,
    /// invite, reminder-N, reward.
    pub kind: String,
    /// email, sms, wechat.
    pub channel: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Programme id.
    pub programme_id: i64,
    /// The programme's definition (JSON).
    pub definition: String,
    /// Programme status.
    pub programme_status: String,
    /// Wave label.
    pub wave: String,
    /// Wave id.
    pub wave_id: i64,
    /// The invitation.
    pub invitation_id: i64,
    /// Already answered.
    pub answered: bool,
    /// Contact id.
    pub contact_id: i64,
    /// Contact code.
    pub contact: String,
    /// Name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Time zone.
    pub time_zone: Option<String>,
    /// Unsubscribed or bounced.
    pub suppressed: Option<String>,
    /// Survey slug.
    pub survey: String,
    /// Survey id.
    pub survey_id: i64,
    /// The reward given, for reward messages: (coupon code, points).
    pub reward: Option<(Option<String>, Option<i64>)>,
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageOutcome {
    /// Accepted by the mail server or gateway.
    Sent,
    /// Refused for good (SMTP 5xx): the address is suppressed from now on.
    Bounced(String),
    /// A passing failure: try again at this time.
    Retry(i64, String),
    /// Given up.
    Failed(String),
    /// Not sent, and never will be (answered meanwhile, unsubscribed, paused…).
    Skipped(String),
    /// Not now (quiet hours): due again at this time, no attempt counted.
    Deferred(i64),
}

/// A reward given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredReward {
    /// Id.
    pub id: i64,
    /// The invitation answered.
    pub invitation_id: i64,
    /// Contact code.
    pub contact: String,
    /// Name.
    pub name: String,
    /// coupon or points.
    pub kind: String,
    /// The coupon code.
    pub code: Option<String>,
    /// Points credited.
    pub points: Option<i64>,
    /// Wave label.
    pub wave: String,
    /// When.
    pub given_at: String,
}

/// One invitation of a programme, as the funnel counts it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelRow {
    /// Wave label.
    pub wave: String,
    /// Channel.
    pub channel: String,
    /// Account tier.
    pub tier: String,
    /// Region.
    pub region: String,
    /// Industry.
    pub industry: String,
    /// Sales team.
    pub sales_team: String,
    /// The person's role.
    pub role: String,
    /// Status of the invitation message (pending, sending, sent, bounced, failed, skipped).
    pub status: String,
    /// Opened.
    pub opened: bool,
    /// Survey page seen.
    pub started: bool,
    /// Answered.
    pub completed: bool,
    /// Their answer to the survey's NPS question, when named and answered.
    pub nps: Option<i64>,
}

/// A programme's invitation handed to staff (print, phone) or listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListedInvitation {
    /// Invitation id.
    pub id: i64,
    /// Wave label.
    pub wave: String,
    /// Contact id.
    pub contact_id: i64,
    /// Contact code.
    pub contact: String,
    /// Name.
    pub name: String,
    /// Phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Account name.
    pub account: String,
    /// Answered.
    pub answered: bool,
    /// Status of the invitation message.
    pub status: String,
}

/// A message in the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggedMessage {
    /// Id.
    pub id: i64,
    /// Wave label.
    pub wave: String,
    /// Contact code.
    pub contact: String,
    /// invite, reminder-N, reward.
    pub kind: String,
    /// Channel.
    pub channel: String,
    /// Status.
    pub status: String,
    /// Why (failures, skips).
    pub reason: Option<String>,
    /// Attempts.
    pub attempts: i64,
    /// Sent (RFC 3339).
    pub sent_at: Option<String>,
}

/// An event that starts a triggered wave: (event id, account, contact, day).
pub type TriggerEvent = (i64, Option<i64>, Option<i64>, i32);

/// Programmes, waves, messages, rewards.
#[allow(async_fn_in_trait)]
pub trait ProgrammeStore {
    /// Stores a programme; `replace` updates one with the same slug (else a conflict).
    async fn save_programme(
        &self,
        slug: &str,
        name: &str,
        survey_id: i64,
        definition: &str,
        replace: bool,
    ) -> Result<i64, StoreError>;
    /// All programmes.
    async fn programmes(&self) -> Result<Vec<StoredProgramme>, StoreError>;
    /// One programme by slug.
    async fn programme(&self, slug: &str) -> Result<Option<StoredProgramme>, StoreError>;
    /// Pauses or resumes; false when there is none.
    async fn set_programme_status(&self, slug: &str, status: &str) -> Result<bool, StoreError>;
    /// Every contact with their account's segment, last contact and suppression.
    async fn candidates(
        &self,
        only: Option<&[i64]>,
    ) -> Result<Vec<cx_core::programme::Candidate>, StoreError>;
    /// Whether a wave with this label exists.
    async fn wave_exists(&self, programme_id: i64, label: &str) -> Result<bool, StoreError>;
    /// Stores a wave with its invitations and messages, and `settings`, in one
    /// transaction; None when the wave was already there (nothing stored).
    async fn plan_wave(
        &self,
        survey_id: i64,
        wave: &NewWave,
        sends: &[NewSend],
        settings: &[(String, String)],
    ) -> Result<Option<i64>, StoreError>;
    /// The setting's value, storing `value` first when it has none (the first
    /// writer wins when two processes race).
    async fn init_setting(&self, key: &str, value: &str) -> Result<String, StoreError>;
    /// A programme's waves, newest first.
    async fn waves(&self, programme_id: i64) -> Result<Vec<StoredWave>, StoreError>;
    /// Pending messages due at `now`, oldest first.
    async fn due_messages(&self, now: i64, limit: i64) -> Result<Vec<OutMessage>, StoreError>;
    /// Claims a pending message for sending at `now`; false when another process has it.
    async fn claim_message(&self, id: i64, now: i64) -> Result<bool, StoreError>;
    /// Records what became of a claimed message.
    async fn finish_message(
        &self,
        id: i64,
        outcome: &MessageOutcome,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Messages claimed before `before` by a process that stopped before
    /// recording the outcome: marked failed, never sent again (the mail may
    /// have gone).
    async fn recover_interrupted(&self, before: i64) -> Result<u64, StoreError>;
    /// Queues the next reminder for every unanswered, sent invitation of the
    /// programme whose last message is `after_secs` old, up to `max` reminders.
    async fn queue_reminders(
        &self,
        programme_id: i64,
        after_secs: i64,
        max: u32,
        now: i64,
    ) -> Result<u64, StoreError>;
    /// Records that an invitation's email was opened (`started` = the survey page seen).
    async fn mark_invitation(
        &self,
        invitation_id: i64,
        started: bool,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Never contact this person again; false when they already were.
    async fn suppress(&self, contact_id: i64, reason: &str) -> Result<bool, StoreError>;
    /// Why a person is suppressed, if they are.
    async fn suppression(&self, contact_id: i64) -> Result<Option<String>, StoreError>;
    /// Adds codes to a pool; codes already there are duplicates.
    async fn add_coupons(&self, pool: &str, codes: &[String]) -> Result<InsertCounts, StoreError>;
    /// Per pool: (pool, codes, given).
    async fn coupon_stock(&self) -> Result<Vec<(String, i64, i64)>, StoreError>;
    /// Answered programme invitations with no reward yet:
    /// (invitation, programme, contact, the programme's definition).
    async fn awaiting_reward(&self, limit: i64)
    -> Result<Vec<(i64, i64, i64, String)>, StoreError>;
    /// Gives the reward of an answered invitation once: a free code of `pool`,
    /// or `points`; queues a reward message when `channel` is given. Returns
    /// the reward (the earlier one when there was), None when the pool is empty.
    async fn grant_reward(
        &self,
        invitation_id: i64,
        pool: Option<&str>,
        points: Option<i64>,
        channel: Option<&str>,
        now: i64,
    ) -> Result<Option<StoredReward>, StoreError>;
    /// The reward of an invitation.
    async fn reward_for(&self, invitation_id: i64) -> Result<Option<StoredReward>, StoreError>;
    /// A programme's rewards, newest first.
    async fn rewards(&self, programme_id: i64) -> Result<Vec<StoredReward>, StoreError>;
    /// Every invitation of a programme with its segment and outcome.
    async fn funnel_rows(
        &self,
        programme_id: i64,
        nps_question: Option<&str>,
    ) -> Result<Vec<FunnelRow>, StoreError>;
    /// A programme's invitations (optionally of one wave), by account and name.
    async fn programme_invitations(
        &self,
        programme_id: i64,
        wave_id: Option<i64>,
    ) -> Result<Vec<ListedInvitation>, StoreError>;
    /// A programme's messages, newest first.
    async fn messages(
        &self,
        programme_id: i64,
        limit: i64,
    ) -> Result<Vec<LoggedMessage>, StoreError>;
    /// Events after `after` that trigger waves: `transaction` (purchases by an
    /// account) or `task_resolved` (a resolved task about a person).
    async fn trigger_events(
        &self,
        kind: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<TriggerEvent>, StoreError>;
}

const REWARD_SELECT: &str = "SELECT r.id, r.invitation_id, c.external_id, c.name, r.kind, r.code, r.points,
        COALESCE(w.label, ''), r.given_at
    FROM rewards r JOIN contacts c ON c.id = r.contact_id JOIN invitations i ON i.id = r.invitation_id
    LEFT JOIN waves w ON w.id = i.wave_id";

/// Reads a reward row (`REWARD_SELECT_SQL`'s columns).
pub fn reward_row<R: sqlx::Row>(r: &R) -> Result<StoredReward, StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(StoredReward {
        id: r.try_get(0)?,
        invitation_id: r.try_get(1)?,
        contact: r.try_get(2)?,
        name: r.try_get(3)?,
        kind: r.try_get(4)?,
        code: r.try_get(5)?,
        points: r.try_get(6)?,
        wave: r.try_get(7)?,
        given_at: r.try_get(8)?,
    })
}

/// The programme columns.
pub(crate) const PROGRAMME_SELECT: &str =
    "SELECT p.id, p.slug, p.name, p.survey_id, s.slug, p.definition, p.status, p.created_at
    FROM programmes p JOIN surveys s ON s.id = p.survey_id";

pub(crate) const REWARD_SELECT_SQL: &str = REWARD_SELECT;

macro_rules! impl_programme_store {
    ($ty:ident) => {
        impl $crate::programmes::ProgrammeStore for $ty {
            async fn save_programme(
                &self,
                slug: &str,
                name: &str,
                survey_id: i64,
                definition: &str,
                replace: bool,
            ) -> Result<i64, $crate::StoreError> {
                let now = $crate::now_rfc3339();
                let inserted: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO programmes (slug, name, survey_id, definition, status, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, 'active', $5, $5) ON CONFLICT (slug) DO NOTHING RETURNING id",
                )
                .bind(slug)
                .bind(name)
                .bind(survey_id)
                .bind(definition)
                .bind(&now)
                .fetch_optional(&self.pool)
                .await?;
                if let Some(id) = inserted {
                    return Ok(id);
                }
                if !replace {
                    return Err($crate::StoreError::Conflict(format!(
                        "programme {slug:?} already exists (use `programme update` or PUT to change it)"
                    )));
                }
                let id: Option<i64> = sqlx::query_scalar(
                    "UPDATE programmes SET name = $1, survey_id = $2, definition = $3, updated_at = $4
                     WHERE slug = $5 RETURNING id",
                )
                .bind(name)
                .bind(survey_id)
                .bind(definition)
                .bind(&now)
                .bind(slug)
                .fetch_optional(&self.pool)
                .await?;
                id.ok_or_else(|| $crate::StoreError::NotFound(format!("programme {slug:?}")))
            }

            async fn programmes(
                &self,
            ) -> Result<Vec<$crate::programmes::StoredProgramme>, $crate::StoreError> {
                let rows: Vec<(i64, String, String, i64, String, String, String, String)> =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!("{} ORDER BY p.id", $crate::programmes::PROGRAMME_SELECT)))
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows.into_iter().map($crate::programmes::programme_of).collect())
            }

            async fn programme(
                &self,
                slug: &str,
            ) -> Result<Option<$crate::programmes::StoredProgramme>, $crate::StoreError> {
                let row: Option<(i64, String, String, i64, String, String, String, String)> =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!("{} WHERE p.slug = $1", $crate::programmes::PROGRAMME_SELECT)))
                        .bind(slug)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map($crate::programmes::programme_of))
            }

            async fn set_programme_status(
                &self,
                slug: &str,
                status: &str,
            ) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query("UPDATE programmes SET status = $1, updated_at = $2 WHERE slug = $3")
                    .bind(status)
                    .bind($crate::now_rfc3339())
                    .bind(slug)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn candidates(
                &self,
                only: Option<&[i64]>,
            ) -> Result<Vec<cx_core::programme::Candidate>, $crate::StoreError> {
                use sqlx::Row;
                let filter = match only {
                    Some(ids) if ids.is_empty() => return Ok(Vec::new()),
                    Some(ids) => format!(
                        "WHERE c.id IN ({})",
                        ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
                    ),
                    None => String::new(),
                };
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT c.id, c.external_id, c.name, c.email, c.phone, c.time_zone, c.role, c.influence,
                            a.id, COALESCE(a.tier, ''), COALESCE(a.region, ''), COALESCE(a.industry, ''),
                            COALESCE(a.sales_team, ''),
                            (SELECT MAX(t.day) FROM transactions t WHERE t.account_id = a.id),
                            (SELECT MAX(i.created_day) FROM invitations i WHERE i.contact_id = c.id),
                            (SELECT MAX(r.submitted_day) FROM responses r WHERE r.contact_id = c.id),
                            x.reason
                     FROM contacts c JOIN accounts a ON a.id = c.account_id
                     LEFT JOIN suppressions x ON x.contact_id = c.id
                     {filter} ORDER BY c.id"
                )))
                .fetch_all(&self.pool)
                .await?;
                let lines: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT DISTINCT account_id, product_line FROM transactions
                     WHERE account_id IS NOT NULL AND product_line IS NOT NULL",
                )
                .fetch_all(&self.pool)
                .await?;
                let mut by_account: std::collections::HashMap<i64, Vec<String>> = Default::default();
                for (a, p) in lines {
                    by_account.entry(a).or_default().push(p);
                }
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    let account_id: i64 = r.try_get(8)?;
                    let invited: Option<i32> = r.try_get::<Option<i64>, _>(14)?.map(|d| d as i32);
                    let answered: Option<i32> = r.try_get::<Option<i64>, _>(15)?.map(|d| d as i32);
                    out.push(cx_core::programme::Candidate {
                        contact_id: r.try_get(0)?,
                        code: r.try_get(1)?,
                        name: r.try_get(2)?,
                        email: r.try_get(3)?,
                        phone: r.try_get(4)?,
                        time_zone: r.try_get(5)?,
                        role: r.try_get(6)?,
                        influence: r.try_get(7)?,
                        account_id,
                        tier: r.try_get(9)?,
                        region: r.try_get(10)?,
                        industry: r.try_get(11)?,
                        sales_team: r.try_get(12)?,
                        product_lines: by_account.get(&account_id).cloned().unwrap_or_default(),
                        last_purchase_day: r.try_get::<Option<i64>, _>(13)?.map(|d| d as i32),
                        last_contact_day: invited.max(answered),
                        suppressed: r.try_get(16)?,
                    });
                }
                Ok(out)
            }

            async fn wave_exists(&self, programme_id: i64, label: &str) -> Result<bool, $crate::StoreError> {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM waves WHERE programme_id = $1 AND label = $2",
                )
                .bind(programme_id)
                .bind(label)
                .fetch_one(&self.pool)
                .await?;
                Ok(n > 0)
            }

            async fn plan_wave(
                &self,
                survey_id: i64,
                wave: &$crate::programmes::NewWave,
                sends: &[$crate::programmes::NewSend],
                settings: &[(String, String)],
            ) -> Result<Option<i64>, $crate::StoreError> {
                let now = $crate::now_rfc3339();
                let mut tx = self.begin_write().await?;
                let id: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO waves (programme_id, label, starts_ts, stats, created_at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (programme_id, label) DO NOTHING RETURNING id",
                )
                .bind(wave.programme_id)
                .bind(&wave.label)
                .bind(wave.starts_ts)
                .bind(&wave.stats)
                .bind(&now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(wave_id) = id else {
                    return Ok(None);
                };
                let created_day = wave.today as i64;
                for s in sends {
                    let invitation: i64 = sqlx::query_scalar(
                        "INSERT INTO invitations (survey_id, contact_id, token_hash, created_at, created_day,
                                                  programme_id, wave_id, channel)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                    )
                    .bind(survey_id)
                    .bind(s.contact_id)
                    .bind(&s.token_hash)
                    .bind(&now)
                    .bind(created_day)
                    .bind(wave.programme_id)
                    .bind(wave_id)
                    .bind(&s.channel)
                    .fetch_one(&mut *tx)
                    .await?;
                    let sent_ts = (s.status == "sent").then_some(wave.starts_ts);
                    sqlx::query(
                        "INSERT INTO programme_messages (wave_id, invitation_id, contact_id, kind, channel, status,
                                                         due_ts, attempts, sent_ts, created_at)
                         VALUES ($1, $2, $3, 'invite', $4, $5, $6, 0, $7, $8)",
                    )
                    .bind(wave_id)
                    .bind(invitation)
                    .bind(s.contact_id)
                    .bind(&s.channel)
                    .bind(&s.status)
                    .bind(s.due_ts)
                    .bind(sent_ts)
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?;
                }
                for (k, v) in settings {
                    sqlx::query(
                        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    )
                    .bind(k)
                    .bind(v)
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(Some(wave_id))
            }

            async fn init_setting(&self, key: &str, value: &str) -> Result<String, $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING",
                )
                .bind(key)
                .bind(value)
                .bind($crate::now_rfc3339())
                .execute(&self.pool)
                .await?;
                Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                    .bind(key)
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn waves(
                &self,
                programme_id: i64,
            ) -> Result<Vec<$crate::programmes::StoredWave>, $crate::StoreError> {
                let rows: Vec<(i64, String, i64, String, String)> = sqlx::query_as(
                    "SELECT id, label, starts_ts, stats, created_at FROM waves WHERE programme_id = $1 ORDER BY id DESC",
                )
                .bind(programme_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, label, starts_ts, stats, created_at)| $crate::programmes::StoredWave {
                        id,
                        label,
                        starts_ts,
                        stats: serde_json::from_str(&stats).unwrap_or(serde_json::Value::Null),
                        created_at,
                    })
                    .collect())
            }

            async fn due_messages(
                &self,
                now: i64,
                limit: i64,
            ) -> Result<Vec<$crate::programmes::OutMessage>, $crate::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT m.id, m.kind, m.channel, m.attempts, p.id, p.definition, p.status, w.label, w.id,
                            i.id, i.used_at, c.id, c.external_id, c.name, c.email, c.phone, c.time_zone, x.reason,
                            s.slug, s.id, r.code, r.points, r.id
                     FROM programme_messages m
                     JOIN waves w ON w.id = m.wave_id
                     JOIN programmes p ON p.id = w.programme_id
                     JOIN invitations i ON i.id = m.invitation_id
                     JOIN surveys s ON s.id = i.survey_id
                     JOIN contacts c ON c.id = m.contact_id
                     LEFT JOIN suppressions x ON x.contact_id = c.id
                     LEFT JOIN rewards r ON r.invitation_id = i.id
                     WHERE m.status = 'pending' AND m.due_ts <= $1
                     ORDER BY m.due_ts, m.id LIMIT $2",
                )
                .bind(now)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    let used: Option<String> = r.try_get(10)?;
                    let reward_id: Option<i64> = r.try_get(22)?;
                    out.push($crate::programmes::OutMessage {
                        id: r.try_get(0)?,
                        kind: r.try_get(1)?,
                        channel: r.try_get(2)?,
                        attempts: r.try_get(3)?,
                        programme_id: r.try_get(4)?,
                        definition: r.try_get(5)?,
                        programme_status: r.try_get(6)?,
                        wave: r.try_get(7)?,
                        wave_id: r.try_get(8)?,
                        invitation_id: r.try_get(9)?,
                        answered: used.is_some(),
                        contact_id: r.try_get(11)?,
                        contact: r.try_get(12)?,
                        name: r.try_get(13)?,
                        email: r.try_get(14)?,
                        phone: r.try_get(15)?,
                        time_zone: r.try_get(16)?,
                        suppressed: r.try_get(17)?,
                        survey: r.try_get(18)?,
                        survey_id: r.try_get(19)?,
                        reward: match reward_id {
                            Some(_) => Some((r.try_get(20)?, r.try_get(21)?)),
                            None => None,
                        },
                    });
                }
                Ok(out)
            }

            async fn claim_message(&self, id: i64, now: i64) -> Result<bool, $crate::StoreError> {
                // The claim's time is kept in due_ts, for recover_interrupted.
                let done = sqlx::query(
                    "UPDATE programme_messages SET status = 'sending', attempts = attempts + 1, due_ts = $2
                     WHERE id = $1 AND status = 'pending'",
                )
                .bind(id)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn finish_message(
                &self,
                id: i64,
                outcome: &$crate::programmes::MessageOutcome,
                now: i64,
            ) -> Result<(), $crate::StoreError> {
                use $crate::programmes::MessageOutcome as O;
                let mut tx = self.begin_write().await?;
                let (status, reason, due, sent, uncount) = match outcome {
                    O::Sent => ("sent", None, None, Some(now), false),
                    O::Bounced(e) => ("bounced", Some(e.as_str()), None, None, false),
                    O::Retry(at, e) => ("pending", Some(e.as_str()), Some(*at), None, false),
                    O::Failed(e) => ("failed", Some(e.as_str()), None, None, false),
                    O::Skipped(e) => ("skipped", Some(e.as_str()), None, None, true),
                    O::Deferred(at) => ("pending", None, Some(*at), None, true),
                };
                sqlx::query(
                    "UPDATE programme_messages
                     SET status = $1, reason = COALESCE($2, reason), due_ts = COALESCE($3, due_ts),
                         sent_ts = COALESCE($4, sent_ts), attempts = attempts - $5
                     WHERE id = $6",
                )
                .bind(status)
                .bind(reason)
                .bind(due)
                .bind(sent)
                .bind(i64::from(uncount))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if let O::Bounced(e) = outcome {
                    sqlx::query(
                        "INSERT INTO suppressions (contact_id, reason, at)
                         SELECT contact_id, $1, $2 FROM programme_messages WHERE id = $3
                         ON CONFLICT (contact_id) DO NOTHING",
                    )
                    .bind(format!("bounced: {e}"))
                    .bind($crate::now_rfc3339())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn recover_interrupted(&self, before: i64) -> Result<u64, $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE programme_messages SET status = 'failed',
                         reason = 'interrupted: the server stopped while sending; not sent again so nobody gets it twice'
                     WHERE status = 'sending' AND due_ts < $1",
                )
                .bind(before)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }

            async fn queue_reminders(
                &self,
                programme_id: i64,
                after_secs: i64,
                max: u32,
                now: i64,
            ) -> Result<u64, $crate::StoreError> {
                if max == 0 {
                    return Ok(0);
                }
                // Per unanswered invitation whose invitation went out: how many
                // reminders exist, whether one is still on its way, the last send.
                let rows: Vec<(i64, i64, i64, String, i64, i64, Option<i64>)> = sqlx::query_as(
                    "SELECT i.id, m.wave_id, m.contact_id, m.channel,
                            (SELECT COUNT(*) FROM programme_messages r WHERE r.invitation_id = i.id AND r.kind LIKE 'reminder-%'),
                            (SELECT COUNT(*) FROM programme_messages r WHERE r.invitation_id = i.id
                                AND r.kind LIKE 'reminder-%' AND r.status IN ('pending', 'sending')),
                            (SELECT MAX(r.sent_ts) FROM programme_messages r WHERE r.invitation_id = i.id)
                     FROM invitations i JOIN programme_messages m ON m.invitation_id = i.id AND m.kind = 'invite'
                     WHERE i.programme_id = $1 AND i.used_at IS NULL AND m.status = 'sent'
                       AND m.channel IN ('email', 'sms', 'wechat')
                       AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.contact_id = i.contact_id)",
                )
                .bind(programme_id)
                .fetch_all(&self.pool)
                .await?;
                let created = $crate::now_rfc3339();
                let mut queued = 0;
                for (invitation, wave, contact, channel, reminders, pending, last) in rows {
                    if reminders >= max as i64 || pending > 0 || last.is_none_or(|l| l + after_secs > now) {
                        continue;
                    }
                    let done = sqlx::query(
                        "INSERT INTO programme_messages (wave_id, invitation_id, contact_id, kind, channel, status,
                                                         due_ts, attempts, created_at)
                         VALUES ($1, $2, $3, $4, $5, 'pending', $6, 0, $7)
                         ON CONFLICT (invitation_id, kind) DO NOTHING",
                    )
                    .bind(wave)
                    .bind(invitation)
                    .bind(contact)
                    .bind(format!("reminder-{}", reminders + 1))
                    .bind(&channel)
                    .bind(now)
                    .bind(&created)
                    .execute(&self.pool)
                    .await?;
                    queued += done.rows_affected();
                }
                Ok(queued)
            }

            async fn mark_invitation(
                &self,
                invitation_id: i64,
                started: bool,
                now: i64,
            ) -> Result<(), $crate::StoreError> {
                let sql = if started {
                    "UPDATE invitations SET started_ts = COALESCE(started_ts, $1), opened_ts = COALESCE(opened_ts, $1) WHERE id = $2"
                } else {
                    "UPDATE invitations SET opened_ts = COALESCE(opened_ts, $1) WHERE id = $2"
                };
                sqlx::query(sql)
                    .bind(now)
                    .bind(invitation_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn suppress(&self, contact_id: i64, reason: &str) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query(
                    "INSERT INTO suppressions (contact_id, reason, at) VALUES ($1, $2, $3)
                     ON CONFLICT (contact_id) DO NOTHING",
                )
                .bind(contact_id)
                .bind(reason)
                .bind($crate::now_rfc3339())
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn suppression(&self, contact_id: i64) -> Result<Option<String>, $crate::StoreError> {
                Ok(sqlx::query_scalar("SELECT reason FROM suppressions WHERE contact_id = $1")
                    .bind(contact_id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn add_coupons(
                &self,
                pool: &str,
                codes: &[String],
            ) -> Result<$crate::InsertCounts, $crate::StoreError> {
                let mut counts = $crate::InsertCounts::default();
                let now = $crate::now_rfc3339();
                let mut tx = self.begin_write().await?;
                for code in codes {
                    let done = sqlx::query(
                        "INSERT INTO coupons (pool, code, added_at) VALUES ($1, $2, $3)
                         ON CONFLICT (pool, code) DO NOTHING",
                    )
                    .bind(pool)
                    .bind(code)
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?;
                    counts += $crate::common::counted(done.rows_affected(), 1);
                }
                tx.commit().await?;
                Ok(counts)
            }

            async fn coupon_stock(&self) -> Result<Vec<(String, i64, i64)>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT pool, COUNT(*), COUNT(reward_id) FROM coupons GROUP BY pool ORDER BY pool",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn awaiting_reward(
                &self,
                limit: i64,
            ) -> Result<Vec<(i64, i64, i64, String)>, $crate::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT i.id, p.id, i.contact_id, p.definition
                     FROM invitations i JOIN programmes p ON p.id = i.programme_id
                     WHERE i.used_at IS NOT NULL AND p.definition LIKE '%\"reward\"%'
                       AND NOT EXISTS (SELECT 1 FROM rewards r WHERE r.invitation_id = i.id)
                     ORDER BY i.id LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn grant_reward(
                &self,
                invitation_id: i64,
                pool: Option<&str>,
                points: Option<i64>,
                channel: Option<&str>,
                now: i64,
            ) -> Result<Option<$crate::programmes::StoredReward>, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                // Lock the invitation: two requests for the same reward wait for each other.
                let inv: Option<(i64, Option<i64>, Option<i64>, Option<String>)> = sqlx::query_as(
                    "UPDATE invitations SET opened_ts = COALESCE(opened_ts, $1) WHERE id = $2
                     RETURNING contact_id, programme_id, wave_id, used_at",
                )
                .bind(now)
                .bind(invitation_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((contact, Some(programme), Some(wave), Some(_))) = inv else {
                    return Ok(None);
                };
                let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM rewards WHERE invitation_id = $1")
                    .bind(invitation_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if existing.is_none() {
                    let code: Option<(i64, String)> = match pool {
                        Some(pool) => {
                            let free: Option<(i64, String)> = sqlx::query_as(
                                "SELECT id, code FROM coupons WHERE pool = $1 AND reward_id IS NULL ORDER BY id LIMIT 1",
                            )
                            .bind(pool)
                            .fetch_optional(&mut *tx)
                            .await?;
                            if free.is_none() {
                                return Ok(None);
                            }
                            free
                        }
                        None => None,
                    };
                    let reward: i64 = sqlx::query_scalar(
                        "INSERT INTO rewards (invitation_id, programme_id, contact_id, kind, code, points, given_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                    )
                    .bind(invitation_id)
                    .bind(programme)
                    .bind(contact)
                    .bind(if code.is_some() { "coupon" } else { "points" })
                    .bind(code.as_ref().map(|c| c.1.as_str()))
                    .bind(if code.is_some() { None } else { points })
                    .bind(cx_core::period::format_timestamp(now))
                    .fetch_one(&mut *tx)
                    .await?;
                    if let Some((coupon, _)) = &code {
                        // Taken only if still free: a concurrent grant of the same
                        // code fails this transaction instead of giving it twice.
                        let taken = sqlx::query("UPDATE coupons SET reward_id = $1 WHERE id = $2 AND reward_id IS NULL")
                            .bind(reward)
                            .bind(coupon)
                            .execute(&mut *tx)
                            .await?;
                        if taken.rows_affected() != 1 {
                            return Err($crate::StoreError::Conflict(
                                "the coupon was given to someone else meanwhile; try again".into(),
                            ));
                        }
                    }
                    if let Some(channel) = channel {
                        sqlx::query(
                            "INSERT INTO programme_messages (wave_id, invitation_id, contact_id, kind, channel, status,
                                                             due_ts, attempts, created_at)
                             VALUES ($1, $2, $3, 'reward', $4, 'pending', $5, 0, $6)
                             ON CONFLICT (invitation_id, kind) DO NOTHING",
                        )
                        .bind(wave)
                        .bind(invitation_id)
                        .bind(contact)
                        .bind(channel)
                        .bind(now)
                        .bind($crate::now_rfc3339())
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{} WHERE r.invitation_id = $1",
                    $crate::programmes::REWARD_SELECT_SQL
                )))
                .bind(invitation_id)
                .fetch_one(&mut *tx)
                .await?;
                let reward = $crate::programmes::reward_row(&row)?;
                tx.commit().await?;
                Ok(Some(reward))
            }

            async fn reward_for(
                &self,
                invitation_id: i64,
            ) -> Result<Option<$crate::programmes::StoredReward>, $crate::StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{} WHERE r.invitation_id = $1",
                    $crate::programmes::REWARD_SELECT_SQL
                )))
                .bind(invitation_id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map($crate::programmes::reward_row).transpose()
            }

            async fn rewards(
                &self,
                programme_id: i64,
            ) -> Result<Vec<$crate::programmes::StoredReward>, $crate::StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{} WHERE r.programme_id = $1 ORDER BY r.id DESC",
                    $crate::programmes::REWARD_SELECT_SQL
                )))
                .bind(programme_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map($crate::programmes::reward_row).collect()
            }

            async fn funnel_rows(
                &self,
                programme_id: i64,
                nps_question: Option<&str>,
            ) -> Result<Vec<$crate::programmes::FunnelRow>, $crate::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT COALESCE(w.label, ''), COALESCE(i.channel, ''), COALESCE(a.tier, ''), COALESCE(a.region, ''),
                            COALESCE(a.industry, ''), COALESCE(a.sales_team, ''), COALESCE(c.role, ''),
                            COALESCE(m.status, 'pending'), i.opened_ts, i.started_ts, i.used_at,
                            (SELECT an.value_int FROM answers an WHERE an.response_id = i.response_id AND an.question_id = $2)
                     FROM invitations i
                     JOIN contacts c ON c.id = i.contact_id JOIN accounts a ON a.id = c.account_id
                     LEFT JOIN waves w ON w.id = i.wave_id
                     LEFT JOIN programme_messages m ON m.invitation_id = i.id AND m.kind = 'invite'
                     WHERE i.programme_id = $1 ORDER BY i.id",
                )
                .bind(programme_id)
                .bind(nps_question.unwrap_or(""))
                .fetch_all(&self.pool)
                .await?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    let opened: Option<i64> = r.try_get(8)?;
                    let started: Option<i64> = r.try_get(9)?;
                    let used: Option<String> = r.try_get(10)?;
                    out.push($crate::programmes::FunnelRow {
                        wave: r.try_get(0)?,
                        channel: r.try_get(1)?,
                        tier: r.try_get(2)?,
                        region: r.try_get(3)?,
                        industry: r.try_get(4)?,
                        sales_team: r.try_get(5)?,
                        role: r.try_get(6)?,
                        status: r.try_get(7)?,
                        opened: opened.is_some() || started.is_some() || used.is_some(),
                        started: started.is_some() || used.is_some(),
                        completed: used.is_some(),
                        nps: r.try_get(11)?,
                    });
                }
                Ok(out)
            }

            async fn programme_invitations(
                &self,
                programme_id: i64,
                wave_id: Option<i64>,
            ) -> Result<Vec<$crate::programmes::ListedInvitation>, $crate::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT i.id, COALESCE(w.label, ''), c.id, c.external_id, c.name, c.phone, c.email, a.name,
                            i.used_at, COALESCE(m.status, '')
                     FROM invitations i JOIN contacts c ON c.id = i.contact_id JOIN accounts a ON a.id = c.account_id
                     LEFT JOIN waves w ON w.id = i.wave_id
                     LEFT JOIN programme_messages m ON m.invitation_id = i.id AND m.kind = 'invite'
                     WHERE i.programme_id = $1 AND ($2 = 0 OR i.wave_id = $2)
                     ORDER BY i.wave_id DESC, a.name, c.name, i.id",
                )
                .bind(programme_id)
                .bind(wave_id.unwrap_or(0))
                .fetch_all(&self.pool)
                .await?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    let used: Option<String> = r.try_get(8)?;
                    out.push($crate::programmes::ListedInvitation {
                        id: r.try_get(0)?,
                        wave: r.try_get(1)?,
                        contact_id: r.try_get(2)?,
                        contact: r.try_get(3)?,
                        name: r.try_get(4)?,
                        phone: r.try_get(5)?,
                        email: r.try_get(6)?,
                        account: r.try_get(7)?,
                        answered: used.is_some(),
                        status: r.try_get(9)?,
                    });
                }
                Ok(out)
            }

            async fn messages(
                &self,
                programme_id: i64,
                limit: i64,
            ) -> Result<Vec<$crate::programmes::LoggedMessage>, $crate::StoreError> {
                let rows: Vec<(i64, String, String, String, String, String, Option<String>, i64, Option<i64>)> =
                    sqlx::query_as(
                        "SELECT m.id, w.label, c.external_id, m.kind, m.channel, m.status, m.reason, m.attempts, m.sent_ts
                         FROM programme_messages m JOIN waves w ON w.id = m.wave_id JOIN contacts c ON c.id = m.contact_id
                         WHERE w.programme_id = $1 ORDER BY m.id DESC LIMIT $2",
                    )
                    .bind(programme_id)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, wave, contact, kind, channel, status, reason, attempts, sent)| {
                        $crate::programmes::LoggedMessage {
                            id,
                            wave,
                            contact,
                            kind,
                            channel,
                            status,
                            reason,
                            attempts,
                            sent_at: sent.map(cx_core::period::format_timestamp),
                        }
                    })
                    .collect())
            }

            async fn trigger_events(
                &self,
                kind: &str,
                after: i64,
                limit: i64,
            ) -> Result<Vec<$crate::programmes::TriggerEvent>, $crate::StoreError> {
                let rows: Vec<(i64, Option<i64>, Option<i64>, i64)> = match kind {
                    "transaction" => sqlx::query_as(
                        "SELECT id, account_id, CAST(NULL AS BIGINT), day FROM transactions
                         WHERE id > $1 AND account_id IS NOT NULL ORDER BY id LIMIT $2",
                    ),
                    _ => sqlx::query_as(
                        "SELECT e.id, t.account_id, t.contact_id, COALESCE(t.resolved_ts, 0) / 86400
                         FROM task_events e JOIN tasks t ON t.id = e.task_id
                         WHERE e.id > $1 AND e.status = 'resolved' AND t.contact_id IS NOT NULL ORDER BY e.id LIMIT $2",
                    ),
                }
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, a, c, d)| (id, a, c, d as i32))
                    .collect())
            }
        }
    };
}

pub(crate) use impl_programme_store;

/// A programme row (`PROGRAMME_SELECT`'s columns).
pub(crate) fn programme_of(
    (id, slug, name, survey_id, survey, definition, status, created_at): (
        i64,
        String,
        String,
        i64,
        String,
        String,
        String,
        String,
    ),
) -> StoredProgramme {
    StoredProgramme {
        id,
        slug,
        name,
        survey_id,
        survey,
        definition,
        status,
        created_at,
    }
}
