//! What the server keeps besides surveys and customers: web and API
//! submissions committed in groups, invitations (one response per token),
//! users, login sessions and API tokens. Secrets (invitation tokens, session
//! cookies, API tokens) arrive here already hashed; the store never sees them
//! in clear.

use cx_core::model::survey::SurveyDefinition;
use cx_core::model::{AccountId, ContactId, SurveyId};

use crate::{NewResponse, StoreError};

/// One response submitted through the web page or the API.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// The survey.
    pub survey: SurveyId,
    /// The response; its `dedupe_key` carries the `Idempotency-Key` (or a
    /// fresh random key), so a retried request finds the first one.
    pub response: NewResponse,
    /// The invitation it answers, consumed in the same transaction.
    pub invitation: Option<i64>,
    /// The text analysis of each answer (index-aligned with
    /// `response.answers`; `None` for non-text answers). Computed by
    /// `Submission::new` in the request's task, so the committer, which
    /// serialises every submission, does not spend its time on it; an empty
    /// list is analysed at commit.
    pub texts: Vec<Option<crate::TextColumns>>,
}

impl Submission {
    /// A submission with its open-text answers analysed.
    pub fn new(survey: SurveyId, response: NewResponse, invitation: Option<i64>) -> Submission {
        let texts = response
            .answers
            .iter()
            .map(|(_, v)| crate::common::text_columns(v))
            .collect();
        Submission {
            survey,
            response,
            invitation,
            texts,
        }
    }
}

/// What became of a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// Committed as a new response with this id.
    Stored(i64),
    /// The same submission (same key) was committed before, as this response.
    Duplicate(i64),
    /// The invitation was already used by another response; nothing stored.
    AlreadyAnswered,
}

/// A stored invitation, found by its token's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// Id.
    pub id: i64,
    /// The survey it invites to.
    pub survey: SurveyId,
    /// The contact invited.
    pub contact: ContactId,
    /// The contact's account.
    pub account: Option<AccountId>,
    /// Whether a response already used it.
    pub used: bool,
    /// The account's region, tier and sales team (for slicing named responses).
    pub account_fields: Vec<(&'static str, String)>,
    /// The programme that sent it.
    pub programme: Option<i64>,
    /// The programme's channel (email, sms, wechat, print, phone).
    pub channel: Option<String>,
}

/// What `create_invitations` did for one contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invited {
    /// A new invitation with this id.
    Created(i64),
    /// Not invited: surveyed (invited or answered) on this day, within the
    /// quiet period.
    Skipped {
        /// Days since 1970-01-01 of the last invitation or response.
        last_day: i32,
    },
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// The argon2 PHC string.
    pub password_hash: String,
    /// admin, analyst or viewer.
    pub role: String,
}

/// An API token (its hash stays in the database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Id (what `revoke` takes).
    pub id: i64,
    /// Its owner.
    pub username: String,
    /// Scope: `read`, `write`, `submit` or `survey:ID` forms (see the server).
    pub scope: String,
    /// When it was created.
    pub created_at: String,
    /// When it was revoked.
    pub revoked_at: Option<String>,
}

/// A stored response, for listing and export.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    /// Id.
    pub id: i64,
    /// UTC, RFC 3339.
    pub submitted_at: String,
    /// Channel.
    pub channel: String,
    /// Language.
    pub language: Option<String>,
    /// The account's code.
    pub account: Option<String>,
    /// The contact's code.
    pub contact: Option<String>,
    /// Metadata.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// `(question, score, text)` per answer.
    pub answers: Vec<(String, Option<i64>, Option<String>)>,
}

/// A free-text answer with what is known about its respondent.
#[derive(Debug, Clone, PartialEq)]
pub struct Verbatim {
    /// Response id.
    pub id: i64,
    /// UTC.
    pub submitted_at: String,
    /// The text.
    pub text: String,
    /// The rating given in the same response (the score question).
    pub score: Option<i64>,
    /// The account's name.
    pub account: Option<String>,
    /// The response's region.
    pub region: String,
    /// The text's polarity from text analysis (−1, 0, 1).
    pub sentiment: Option<i64>,
    /// The text's topics as JSON (`[{"topic", "sentiment", "score"}]`).
    pub topics: Option<String>,
}

/// Which feedback items to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedbackQuery {
    /// Only this polarity (−1, 0, 1).
    pub sentiment: Option<i64>,
    /// Only items about this topic.
    pub topic: Option<String>,
    /// Only this source (`complaint`, `review`, …).
    pub source: Option<String>,
    /// Case-insensitive substring of the text.
    pub search: Option<String>,
    /// Items with a larger id.
    pub after: i64,
}

/// A stored feedback item with its text analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFeedback {
    /// Id.
    pub id: i64,
    /// The customer code it came with.
    pub customer: Option<String>,
    /// Its source.
    pub source: String,
    /// Its date (ISO).
    pub date: String,
    /// The text.
    pub text: String,
    /// Language (`zh`, `en`, `mixed`, `und`), once analysed.
    pub lang: Option<String>,
    /// −1, 0, 1, once analysed.
    pub sentiment: Option<i64>,
    /// −1…1, once analysed.
    pub score: Option<f64>,
    /// Topics as JSON, once analysed.
    pub topics: Option<String>,
}

/// An account with its survey and revenue figures, for the accounts list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSummary {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Tier ("" if none).
    pub tier: String,
    /// Region ("" if none).
    pub region: String,
    /// Responses to the survey.
    pub responses: u64,
    /// The latest response (UTC).
    pub last_response: Option<String>,
    /// NPS answers: promoters, detractors, all.
    pub nps: (u64, u64, u64),
    /// Revenue (minor units) in the 365 days up to the latest transaction day.
    pub revenue: i64,
    /// Revenue in the 365 days before that.
    pub revenue_prior: i64,
}

/// A response on an account page: `(submitted_at, survey slug, channel, answers as
/// (question, score, text))`.
pub type AccountResponse = (
    String,
    String,
    String,
    Vec<(String, Option<i64>, Option<String>)>,
);

/// One account with its people and history, for the account page.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountDetail {
    /// Code, name, industry, region, tier, sales team, owner, since, until ("" when unknown).
    pub fields: [String; 9],
    /// `(code, name, role, influence)` by influence.
    pub contacts: Vec<(String, String, String, f64)>,
    /// Newest responses: `(submitted_at, survey slug, channel, answers as (question, score, text))`.
    pub responses: Vec<AccountResponse>,
    /// All transactions: count and total (minor units).
    pub transaction_totals: (u64, i64),
    /// Newest transactions: `(date, order, amount minor, currency, product line)`.
    pub transactions: Vec<(String, String, i64, String, String)>,
    /// Newest interactions: `(date, kind, note)`.
    pub interactions: Vec<(String, String, String)>,
}

/// Which verbatims: the slice, a day window, the questions and a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerbatimQuery {
    /// Survey and metadata filters (`by` is ignored).
    pub slice: crate::ResponseSlice,
    /// First and last day (days since 1970-01-01).
    pub days: (Option<i32>, Option<i32>),
    /// The open-text question.
    pub text_question: String,
    /// The rating that gives polarity (e.g. the NPS question).
    pub score_question: Option<String>,
    /// Case-insensitive substring (Chinese too).
    pub search: Option<String>,
    /// Only scores in this range.
    pub scores: Option<(i64, i64)>,
}

/// The server's operations, on both backends.
#[allow(async_fn_in_trait)]
pub trait ServerStore {
    /// Commits a group of submissions in one transaction and says what became
    /// of each. Nothing is acknowledged before the commit returns.
    async fn submit(&self, batch: &[Submission]) -> Result<Vec<Submitted>, StoreError>;
    /// A survey by id or slug without counting its responses (`responses` is 0):
    /// a primary-key lookup, for what every submission needs.
    async fn survey_definition(&self, key: &str) -> Result<crate::StoredSurvey, StoreError>;
    /// Replaces a survey's definition (slug, title, questions).
    async fn update_survey(&self, id: SurveyId, d: &SurveyDefinition) -> Result<(), StoreError>;
    /// Deletes a survey that has no responses (and its unused invitations).
    async fn delete_survey(&self, id: SurveyId) -> Result<(), StoreError>;
    /// Responses with ids above `after`, oldest first, at most `limit`.
    async fn responses_after(
        &self,
        survey: SurveyId,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StoredResponse>, StoreError>;
    /// One invitation per `(contact, token hash)`, skipping a contact invited
    /// or answering within `quiet_days` of `today` (days since 1970-01-01).
    async fn create_invitations(
        &self,
        survey: SurveyId,
        items: &[(ContactId, String)],
        quiet_days: u32,
        today: i32,
    ) -> Result<Vec<Invited>, StoreError>;
    /// Up to `limit` of the newest responses of a slice as rows of the `questions`' scores
    /// (None where unanswered), for driver analysis.
    async fn answer_matrix(
        &self,
        slice: &crate::ResponseSlice,
        days: (Option<i32>, Option<i32>),
        questions: &[String],
        limit: i64,
    ) -> Result<Vec<Vec<Option<i64>>>, StoreError>;
    /// Verbatims, newest first (`limit`, `offset`), and how many match.
    async fn verbatims(
        &self,
        q: &VerbatimQuery,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Verbatim>, u64), StoreError>;
    /// Feedback items matching `q`, oldest first from `q.after`, at most `limit`.
    async fn feedback_items(
        &self,
        q: &FeedbackQuery,
        limit: i64,
    ) -> Result<Vec<StoredFeedback>, StoreError>;
    /// Text polarity and topics (JSON) of the `limit` newest matching verbatims.
    async fn verbatim_analyses(
        &self,
        q: &VerbatimQuery,
        limit: i64,
    ) -> Result<Vec<(Option<i64>, Option<String>)>, StoreError>;
    /// Count of matching verbatims per score (None: no score).
    async fn verbatim_scores(
        &self,
        q: &VerbatimQuery,
    ) -> Result<Vec<(Option<i64>, u64)>, StoreError>;
    /// Accounts matching `search` (name or code) and `tier`, by revenue, with the
    /// survey's response count, latest response and NPS counts for `nps_question`.
    async fn account_summaries(
        &self,
        survey: SurveyId,
        nps_question: &str,
        search: Option<&str>,
        tier: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AccountSummary>, StoreError>;
    /// An account by code with its contacts and its newest `limit` responses,
    /// transactions and interactions.
    async fn account_detail(
        &self,
        code: &str,
        limit: i64,
    ) -> Result<Option<AccountDetail>, StoreError>;
    /// The account a contact belongs to.
    async fn contact_account(&self, contact: ContactId) -> Result<Option<AccountId>, StoreError>;
    /// Invitations sent for a survey and how many were answered.
    async fn invitation_counts(&self, survey: SurveyId) -> Result<(u64, u64), StoreError>;
    /// The invitation with this token hash.
    async fn invitation(&self, token_hash: &str) -> Result<Option<Invitation>, StoreError>;
    /// Adds a user; a taken name is a conflict.
    async fn create_user(&self, username: &str, hash: &str, role: &str) -> Result<i64, StoreError>;
    /// The user with this name.
    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError>;
    /// Number of users.
    async fn user_count(&self) -> Result<u64, StoreError>;
    /// Stores a login session (hash of the cookie, CSRF token, expiry in Unix seconds).
    async fn create_session(
        &self,
        token_hash: &str,
        user: i64,
        csrf: &str,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    /// The session's user and CSRF token, if it exists and has not expired at `now`.
    async fn session(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<(User, String)>, StoreError>;
    /// Ends a session (and any expired ones).
    async fn delete_session(&self, token_hash: &str, now: i64) -> Result<(), StoreError>;
    /// Stores an API token's hash for `user`.
    async fn create_token(&self, user: i64, hash: &str, scope: &str) -> Result<i64, StoreError>;
    /// The user and scope of a token that is not revoked.
    async fn token_user(&self, hash: &str) -> Result<Option<(User, String)>, StoreError>;
    /// Revokes a token; false when there was none to revoke.
    async fn revoke_token(&self, id: i64) -> Result<bool, StoreError>;
    /// All tokens, newest first.
    async fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError>;
}

macro_rules! impl_server_store {
    ($ty:ident, $dialect:expr) => {
        impl $crate::server::ServerStore for $ty {
            async fn submit(
                &self,
                batch: &[$crate::server::Submission],
            ) -> Result<Vec<$crate::server::Submitted>, $crate::StoreError> {
                use $crate::server::Submitted;
                use sqlx::Row;
                let ph = $dialect.placeholder;
                let now = $crate::now_rfc3339();
                let mut out: Vec<Option<Submitted>> = vec![None; batch.len()];
                // (response id, index in batch) of new responses, for their answers.
                let mut stored: Vec<(i64, usize)> = Vec::with_capacity(batch.len());
                let mut tx = self.begin_write().await?;
                // Submissions that use an invitation, one at a time: the invitation
                // is consumed in the same transaction as its response.
                for (k, s) in batch.iter().enumerate().filter(|(_, s)| s.invitation.is_some()) {
                    let r = &s.response;
                    let existing = sqlx::query_scalar::<_, i64>(
                        "SELECT id FROM responses WHERE survey_id = $1 AND dedupe_key = $2",
                    )
                    .bind(s.survey.0)
                    .bind(&r.dedupe_key);
                    let invitation = s.invitation.unwrap_or_default();
                    let done = sqlx::query(
                        "UPDATE invitations SET used_at = $1 WHERE id = $2 AND used_at IS NULL",
                    )
                    .bind(&now)
                    .bind(invitation)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 0 {
                        // Used: by this very submission retried, or by another.
                        out[k] = Some(match existing.fetch_optional(&mut *tx).await? {
                            Some(id) => Submitted::Duplicate(id),
                            None => Submitted::AlreadyAnswered,
                        });
                        continue;
                    }
                    let metadata = serde_json::Value::Object(r.metadata.clone()).to_string();
                    let row = sqlx::query(sqlx::AssertSqlSafe(Self::INSERT_RESPONSE))
                        .bind(s.survey.0)
                        .bind(&r.dedupe_key)
                        .bind(&r.submitted_at)
                        .bind(i64::from(r.submitted_on.days()))
                        .bind(&r.channel)
                        .bind(&r.language)
                        .bind(r.account.map(|a| a.0))
                        .bind(r.contact.map(|c| c.0))
                        .bind(metadata)
                        .fetch_optional(&mut *tx)
                        .await?;
                    match row {
                        Some(row) => {
                            let id: i64 = row.try_get(0)?;
                            // Named responses remember their invitation (for a
                            // programme's figures); anonymous ones never do.
                            if r.contact.is_some() {
                                sqlx::query("UPDATE invitations SET response_id = $1 WHERE id = $2")
                                    .bind(id)
                                    .bind(invitation)
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            stored.push((id, k));
                            out[k] = Some(Submitted::Stored(id));
                        }
                        None => {
                            // The key was used before without this invitation:
                            // leave the invitation as it was.
                            sqlx::query("UPDATE invitations SET used_at = NULL WHERE id = $1")
                                .bind(invitation)
                                .execute(&mut *tx)
                                .await?;
                            let id = existing.fetch_optional(&mut *tx).await?.ok_or_else(|| {
                                $crate::StoreError::Invalid("response key conflict".into())
                            })?;
                            out[k] = Some(Submitted::Duplicate(id));
                        }
                    }
                }
                // The rest in multi-row inserts: a few statements for the whole group.
                let plain: Vec<usize> = (0..batch.len()).filter(|k| batch[*k].invitation.is_none()).collect();
                for chunk in plain.chunks(500) {
                    let mut sql = String::from(
                        "INSERT INTO responses (survey_id, dedupe_key, submitted_at, submitted_day, channel, language, account_id, contact_id, metadata) VALUES ",
                    );
                    let mut n = 0;
                    for (i, _) in chunk.iter().enumerate() {
                        if i > 0 {
                            sql.push(',');
                        }
                        sql.push('(');
                        for c in 0..9 {
                            n += 1;
                            if c > 0 {
                                sql.push_str(", ");
                            }
                            // Anonymous `?` (SQLite) cannot mix with a numbered JSON cast.
                            let anonymous = ph(1) == "?";
                            sql.push_str(&if c == 8 && !anonymous { ($dialect.json_param)(n) } else { ph(n) });
                        }
                        sql.push(')');
                    }
                    sql.push_str(" ON CONFLICT (survey_id, dedupe_key) DO NOTHING RETURNING id, survey_id, dedupe_key");
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for &k in chunk {
                        let s = &batch[k];
                        let r = &s.response;
                        q = q
                            .bind(s.survey.0)
                            .bind(&r.dedupe_key)
                            .bind(&r.submitted_at)
                            .bind(i64::from(r.submitted_on.days()))
                            .bind(&r.channel)
                            .bind(&r.language)
                            .bind(r.account.map(|a| a.0))
                            .bind(r.contact.map(|c| c.0))
                            .bind(serde_json::Value::Object(r.metadata.clone()).to_string());
                    }
                    let rows = q.fetch_all(&mut *tx).await?;
                    let mut new: std::collections::HashMap<(i64, String), i64> =
                        std::collections::HashMap::with_capacity(rows.len());
                    for row in &rows {
                        new.insert((row.try_get(1)?, row.try_get(2)?), row.try_get(0)?);
                    }
                    for &k in chunk {
                        let s = &batch[k];
                        // The first submission with a key is the one stored; a later
                        // one with the same key (a retry in the same group) repeats it.
                        match new.remove(&(s.survey.0, s.response.dedupe_key.clone())) {
                            Some(id) => {
                                stored.push((id, k));
                                out[k] = Some(Submitted::Stored(id));
                            }
                            None => {
                                let id = sqlx::query_scalar::<_, i64>(
                                    "SELECT id FROM responses WHERE survey_id = $1 AND dedupe_key = $2",
                                )
                                .bind(s.survey.0)
                                .bind(&s.response.dedupe_key)
                                .fetch_optional(&mut *tx)
                                .await?
                                .ok_or_else(|| $crate::StoreError::Invalid("response key conflict".into()))?;
                                out[k] = Some(Submitted::Duplicate(id));
                            }
                        }
                    }
                }
                // Every new response's answers, in multi-row inserts.
                let answers: Vec<(i64, &String, &cx_core::model::survey::AnswerValue, Option<&$crate::TextColumns>)> = stored
                    .iter()
                    .flat_map(|&(id, k)| {
                        let s = &batch[k];
                        s.response.answers.iter().enumerate().map(move |(j, (q, v))| (id, q, v, s.texts.get(j).and_then(Option::as_ref)))
                    })
                    .collect();
                // Open-text answers come analysed (`Submission::new`); those that
                // do not are analysed here.
                for chunk in answers.chunks(2000) {
                    let mut sql = String::from(
                        "INSERT INTO answers (response_id, question_id, value_int, value_text, sentiment, sentiment_score, topics) VALUES ",
                    );
                    for i in 0..chunk.len() {
                        if i > 0 {
                            sql.push(',');
                        }
                        let p = i * 7;
                        let cells: Vec<String> = (1..=7).map(|j| ph(p + j)).collect();
                        sql.push_str(&format!("({})", cells.join(", ")));
                    }
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for (id, question, value, analysed) in chunk {
                        let (int, text) = $crate::common::answer_columns(value);
                        let t = match analysed {
                            Some(t) => Some((*t).clone()),
                            None => $crate::common::text_columns(value),
                        };
                        q = q
                            .bind(*id)
                            .bind(*question)
                            .bind(int)
                            .bind(text)
                            .bind(t.as_ref().map(|t| t.sentiment))
                            .bind(t.as_ref().map(|t| t.score))
                            .bind(t.map(|t| t.topics));
                    }
                    q.execute(&mut *tx).await?;
                }
                // The daily counts, in the same transaction.
                let mut by_survey: std::collections::BTreeMap<i64, Vec<&$crate::NewResponse>> = Default::default();
                for &(_, k) in &stored {
                    by_survey.entry(batch[k].survey.0).or_default().push(&batch[k].response);
                }
                for (survey, responses) in &by_survey {
                    $crate::cube::cube_add!(tx, *survey, responses);
                }
                tx.commit().await?;
                out.into_iter()
                    .map(|o| o.ok_or_else(|| $crate::StoreError::Invalid("a submission had no outcome".into())))
                    .collect()
            }

            async fn survey_definition(
                &self,
                key: &str,
            ) -> Result<$crate::StoredSurvey, $crate::StoreError> {
                let id: i64 = key.trim().parse().unwrap_or(-1);
                let row = sqlx::query(
                    "SELECT s.id, s.definition, CAST(0 AS BIGINT) FROM surveys s WHERE s.id = $1 OR s.slug = $2",
                )
                .bind(id)
                .bind(key.trim())
                .fetch_optional(&self.pool)
                .await?;
                match row {
                    Some(r) => $crate::common::stored_survey(&r),
                    None => Err($crate::StoreError::NotFound(format!("no survey {key:?}"))),
                }
            }

            async fn update_survey(
                &self,
                id: cx_core::model::SurveyId,
                d: &cx_core::model::survey::SurveyDefinition,
            ) -> Result<(), $crate::StoreError> {
                if let Err(problems) = d.validate() {
                    return Err($crate::StoreError::Invalid(problems.join("; ")));
                }
                let json = serde_json::to_string(d)
                    .map_err(|e| $crate::StoreError::Invalid(e.to_string()))?;
                let taken: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM surveys WHERE slug = $1 AND id <> $2")
                        .bind(&d.slug)
                        .bind(id.0)
                        .fetch_optional(&self.pool)
                        .await?;
                if taken.is_some() {
                    return Err($crate::StoreError::Conflict(format!(
                        "a survey with slug {:?} already exists",
                        d.slug
                    )));
                }
                let mut tx = self.begin_write().await?;
                let Some(old): Option<String> = sqlx::query_scalar("SELECT definition FROM surveys WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(&mut *tx)
                    .await?
                else {
                    return Err($crate::StoreError::NotFound(format!("no survey {}", id.0)));
                };
                sqlx::query(
                    "UPDATE surveys SET slug = $1, title = $2, anonymous = $3, definition = $4 WHERE id = $5",
                )
                .bind(&d.slug)
                .bind(d.title.get("en"))
                .bind(d.anonymous)
                .bind(&json)
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
                // The daily pair sums follow the rated dimensions.
                $crate::cube::cube_pairs_refresh!(tx, $dialect, id.0, &old, &json);
                tx.commit().await?;
                Ok(())
            }

            async fn delete_survey(
                &self,
                id: cx_core::model::SurveyId,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                let responses: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM responses WHERE survey_id = $1")
                        .bind(id.0)
                        .fetch_one(&mut *tx)
                        .await?;
                if responses > 0 {
                    return Err($crate::StoreError::Conflict(format!(
                        "survey {} has {responses} responses; a survey with responses is kept",
                        id.0
                    )));
                }
                sqlx::query("DELETE FROM invitations WHERE survey_id = $1")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
                let done = sqlx::query("DELETE FROM surveys WHERE id = $1")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound(format!("no survey {}", id.0)));
                }
                tx.commit().await?;
                Ok(())
            }

            async fn responses_after(
                &self,
                survey: cx_core::model::SurveyId,
                after: i64,
                limit: i64,
            ) -> Result<Vec<$crate::server::StoredResponse>, $crate::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT r.id, r.submitted_at, r.channel, r.language, a.external_id, c.external_id,
                            CAST(r.metadata AS TEXT)
                     FROM responses r
                     LEFT JOIN accounts a ON a.id = r.account_id
                     LEFT JOIN contacts c ON c.id = r.contact_id
                     WHERE r.survey_id = $1 AND r.id > $2 ORDER BY r.id LIMIT $3",
                )
                .bind(survey.0)
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                let mut out = Vec::with_capacity(rows.len());
                for row in &rows {
                    let metadata: String = row.try_get(6)?;
                    let metadata = match serde_json::from_str(&metadata) {
                        Ok(serde_json::Value::Object(m)) => m,
                        _ => serde_json::Map::new(),
                    };
                    out.push($crate::server::StoredResponse {
                        id: row.try_get(0)?,
                        submitted_at: row.try_get(1)?,
                        channel: row.try_get(2)?,
                        language: row.try_get(3)?,
                        account: row.try_get(4)?,
                        contact: row.try_get(5)?,
                        metadata,
                        answers: Vec::new(),
                    });
                }
                if let (Some(first), Some(last)) = (out.first(), out.last()) {
                    let (lo, hi) = (first.id, last.id);
                    let answers = sqlx::query(
                        "SELECT response_id, question_id, value_int, value_text FROM answers
                         WHERE response_id BETWEEN $1 AND $2 ORDER BY response_id",
                    )
                    .bind(lo)
                    .bind(hi)
                    .fetch_all(&self.pool)
                    .await?;
                    let mut i = 0;
                    for a in &answers {
                        let rid: i64 = a.try_get(0)?;
                        while i < out.len() && out[i].id < rid {
                            i += 1;
                        }
                        if i < out.len() && out[i].id == rid {
                            out[i].answers.push((a.try_get(1)?, a.try_get(2)?, a.try_get(3)?));
                        }
                    }
                }
                Ok(out)
            }

            async fn create_invitations(
                &self,
                survey: cx_core::model::SurveyId,
                items: &[(cx_core::model::ContactId, String)],
                quiet_days: u32,
                today: i32,
            ) -> Result<Vec<$crate::server::Invited>, $crate::StoreError> {
                use $crate::server::Invited;
                let now = $crate::now_rfc3339();
                let mut out = Vec::with_capacity(items.len());
                let mut tx = self.begin_write().await?;
                for (contact, hash) in items {
                    if quiet_days > 0 {
                        let last: Option<i64> = sqlx::query_scalar(
                            "SELECT CAST(MAX(d) AS BIGINT) FROM (
                               SELECT MAX(created_day) AS d FROM invitations WHERE contact_id = $1
                               UNION ALL
                               SELECT MAX(submitted_day) AS d FROM responses WHERE contact_id = $1) x",
                        )
                        .bind(contact.0)
                        .fetch_one(&mut *tx)
                        .await?;
                        if let Some(last) = last
                            && i64::from(today) - last < i64::from(quiet_days)
                        {
                            out.push(Invited::Skipped {
                                last_day: last as i32,
                            });
                            continue;
                        }
                    }
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO invitations (survey_id, contact_id, token_hash, created_at, created_day)
                         VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    )
                    .bind(survey.0)
                    .bind(contact.0)
                    .bind(hash)
                    .bind(&now)
                    .bind(i64::from(today))
                    .fetch_one(&mut *tx)
                    .await?;
                    out.push(Invited::Created(id));
                }
                tx.commit().await?;
                Ok(out)
            }

            async fn answer_matrix(
                &self,
                slice: &$crate::ResponseSlice,
                days: (Option<i32>, Option<i32>),
                questions: &[String],
                limit: i64,
            ) -> Result<Vec<Vec<Option<i64>>>, $crate::StoreError> {
                use sqlx::Row;
                if questions.is_empty() {
                    return Ok(Vec::new());
                }
                let (_, _, filter, binds) = $crate::common::slice_sql(&$dialect, slice, 2)?;
                let mut n = 1 + binds.len();
                let mut next = || {
                    n += 1;
                    format!("${n}")
                };
                let (lo, hi) = (next(), next());
                let list: Vec<String> = questions.iter().map(|_| next()).collect();
                let lim = next();
                let sql = format!(
                    "SELECT r.id, a.question_id, a.value_int FROM responses r
                     JOIN answers a ON a.response_id = r.id
                     WHERE r.survey_id = $1 {filter} AND r.submitted_day >= {lo} AND r.submitted_day <= {hi}
                       AND a.question_id IN ({}) AND a.value_int IS NOT NULL
                     ORDER BY r.id DESC LIMIT {lim}",
                    list.join(", ")
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(slice.survey.0);
                for b in &binds {
                    q = q.bind(b);
                }
                q = q.bind(i64::from(days.0.unwrap_or(i32::MIN))).bind(i64::from(days.1.unwrap_or(i32::MAX)));
                for question in questions {
                    q = q.bind(question);
                }
                let rows = q.bind(limit.saturating_mul(questions.len() as i64)).fetch_all(&self.pool).await?;
                let mut out: Vec<Vec<Option<i64>>> = Vec::new();
                let mut current = None;
                for row in &rows {
                    let id: i64 = row.try_get(0)?;
                    let question: String = row.try_get(1)?;
                    let value: Option<i64> = row.try_get(2)?;
                    if current != Some(id) {
                        current = Some(id);
                        out.push(vec![None; questions.len()]);
                    }
                    if let (Some(i), Some(last)) = (questions.iter().position(|x| *x == question), out.last_mut()) {
                        last[i] = value;
                    }
                }
                Ok(out)
            }

            async fn verbatims(
                &self,
                vq: &$crate::server::VerbatimQuery,
                limit: i64,
                offset: i64,
            ) -> Result<(Vec<$crate::server::Verbatim>, u64), $crate::StoreError> {
                use sqlx::Row;
                let (from_where, binds) = Self::verbatim_sql(vq)?;
                let region = $crate::field_expr(&$dialect, "region")?;
                let count_sql = format!("SELECT COUNT(*) {from_where}");
                let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql));
                for b in &binds {
                    q = b.bind_scalar(q);
                }
                let total = q.fetch_one(&self.pool).await? as u64;
                let n = binds.len();
                let sql = format!(
                    "SELECT r.id, r.submitted_at, t.value_text, s.value_int, acc.name, {region}, CAST(t.sentiment AS BIGINT), t.topics {from_where}
                     ORDER BY r.id DESC LIMIT ${} OFFSET ${}",
                    n + 1,
                    n + 2
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for b in &binds {
                    q = b.bind(q);
                }
                let rows = q.bind(limit).bind(offset).fetch_all(&self.pool).await?;
                let list = rows
                    .iter()
                    .map(|r| {
                        Ok($crate::server::Verbatim {
                            id: r.try_get(0)?,
                            submitted_at: r.try_get(1)?,
                            text: r.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
                            score: r.try_get(3)?,
                            account: r.try_get(4)?,
                            region: r.try_get(5)?,
                            sentiment: r.try_get::<Option<i64>, _>(6)?,
                            topics: r.try_get(7)?,
                        })
                    })
                    .collect::<Result<Vec<_>, $crate::StoreError>>()?;
                Ok((list, total))
            }

            async fn feedback_items(
                &self,
                fq: &$crate::server::FeedbackQuery,
                limit: i64,
            ) -> Result<Vec<$crate::server::StoredFeedback>, $crate::StoreError> {
                use sqlx::Row;
                let mut sql = String::from(
                    "SELECT id, customer, source, date, text, lang, CAST(sentiment AS BIGINT), sentiment_score, topics
                     FROM feedback WHERE id > $1",
                );
                let mut texts: Vec<String> = Vec::new();
                let mut n = 1;
                let mut next = || {
                    n += 1;
                    format!("${n}")
                };
                if fq.sentiment.is_some() {
                    sql.push_str(&format!(" AND sentiment = {}", next()));
                }
                if let Some(topic) = &fq.topic {
                    // Topics are stored as JSON text; the topic id is matched as written there.
                    sql.push_str(&format!(" AND topics LIKE {}", next()));
                    texts.push(format!("%\"topic\":{}%", serde_json::Value::String(topic.clone())));
                }
                if let Some(source) = &fq.source {
                    sql.push_str(&format!(" AND source = {}", next()));
                    texts.push(source.clone());
                }
                if let Some(search) = &fq.search {
                    sql.push_str(&format!(" AND LOWER(text) LIKE {} ESCAPE '\\'", next()));
                    let escaped = search.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                    texts.push(format!("%{escaped}%"));
                }
                sql.push_str(&format!(" ORDER BY id LIMIT {}", next()));
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(fq.after);
                if let Some(s) = fq.sentiment {
                    q = q.bind(s as i16);
                }
                for t in &texts {
                    q = q.bind(t);
                }
                let rows = q.bind(limit).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::server::StoredFeedback {
                            id: r.try_get(0)?,
                            customer: r.try_get(1)?,
                            source: r.try_get(2)?,
                            date: r.try_get(3)?,
                            text: r.try_get(4)?,
                            lang: r.try_get(5)?,
                            sentiment: r.try_get(6)?,
                            score: r.try_get::<Option<f32>, _>(7)?.map(f64::from),
                            topics: r.try_get(8)?,
                        })
                    })
                    .collect()
            }

            async fn verbatim_analyses(
                &self,
                vq: &$crate::server::VerbatimQuery,
                limit: i64,
            ) -> Result<Vec<(Option<i64>, Option<String>)>, $crate::StoreError> {
                use sqlx::Row;
                let (from_where, binds) = Self::verbatim_sql(vq)?;
                let sql = format!(
                    "SELECT CAST(t.sentiment AS BIGINT), t.topics {from_where} ORDER BY r.id DESC LIMIT ${}",
                    binds.len() + 1
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for b in &binds {
                    q = b.bind(q);
                }
                let rows = q.bind(limit).fetch_all(&self.pool).await?;
                rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
            }

            async fn verbatim_scores(
                &self,
                vq: &$crate::server::VerbatimQuery,
            ) -> Result<Vec<(Option<i64>, u64)>, $crate::StoreError> {
                use sqlx::Row;
                let (from_where, binds) = Self::verbatim_sql(vq)?;
                let sql = format!("SELECT s.value_int, COUNT(*) {from_where} GROUP BY s.value_int");
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for b in &binds {
                    q = b.bind(q);
                }
                let rows = q.fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get::<i64, _>(1)? as u64)))
                    .collect()
            }

            async fn account_summaries(
                &self,
                survey: cx_core::model::SurveyId,
                nps_question: &str,
                search: Option<&str>,
                tier: Option<&str>,
                limit: i64,
            ) -> Result<Vec<$crate::server::AccountSummary>, $crate::StoreError> {
                use sqlx::Row;
                let pattern = search
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| format!("%{}%", s.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
                let rows = sqlx::query(
                    "SELECT a.external_id, a.name, COALESCE(a.tier, ''), COALESCE(a.region, ''),
                            COALESCE(r.n, 0), r.last, COALESCE(r.promoters, 0), COALESCE(r.detractors, 0),
                            COALESCE(r.nps_n, 0), COALESCE(t.recent, 0), COALESCE(t.prior, 0)
                     FROM accounts a
                     LEFT JOIN (
                       SELECT r.account_id, COUNT(*) AS n, MAX(r.submitted_at) AS last,
                              CAST(SUM(CASE WHEN x.value_int >= 9 THEN 1 ELSE 0 END) AS BIGINT) AS promoters,
                              CAST(SUM(CASE WHEN x.value_int <= 6 THEN 1 ELSE 0 END) AS BIGINT) AS detractors,
                              COUNT(x.value_int) AS nps_n
                       FROM responses r LEFT JOIN answers x ON x.response_id = r.id AND x.question_id = $1
                       WHERE r.survey_id = $2 AND r.account_id IS NOT NULL GROUP BY r.account_id) r
                       ON r.account_id = a.id
                     LEFT JOIN (
                       SELECT account_id,
                              CAST(SUM(CASE WHEN day > m.d - 365 THEN amount_minor ELSE 0 END) AS BIGINT) AS recent,
                              CAST(SUM(CASE WHEN day <= m.d - 365 THEN amount_minor ELSE 0 END) AS BIGINT) AS prior
                       FROM transactions, (SELECT MAX(day) AS d FROM transactions) m
                       WHERE account_id IS NOT NULL AND day > m.d - 730 GROUP BY account_id) t
                       ON t.account_id = a.id
                     WHERE ($3 IS NULL OR LOWER(a.name) LIKE $3 ESCAPE '\\' OR LOWER(a.external_id) LIKE $3 ESCAPE '\\')
                       AND ($4 IS NULL OR a.tier = $4)
                     ORDER BY COALESCE(t.recent, 0) DESC, a.external_id LIMIT $5",
                )
                .bind(nps_question)
                .bind(survey.0)
                .bind(pattern)
                .bind(tier.map(str::trim).filter(|t| !t.is_empty()))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::server::AccountSummary {
                            code: r.try_get(0)?,
                            name: r.try_get(1)?,
                            tier: r.try_get(2)?,
                            region: r.try_get(3)?,
                            responses: r.try_get::<i64, _>(4)? as u64,
                            last_response: r.try_get(5)?,
                            nps: (
                                r.try_get::<i64, _>(6)? as u64,
                                r.try_get::<i64, _>(7)? as u64,
                                r.try_get::<i64, _>(8)? as u64,
                            ),
                            revenue: r.try_get(9)?,
                            revenue_prior: r.try_get(10)?,
                        })
                    })
                    .collect()
            }

            async fn account_detail(
                &self,
                code: &str,
                limit: i64,
            ) -> Result<Option<$crate::server::AccountDetail>, $crate::StoreError> {
                use sqlx::Row;
                let Some(a) = sqlx::query(
                    "SELECT id, external_id, name, COALESCE(industry, ''), COALESCE(region, ''), COALESCE(tier, ''),
                            COALESCE(sales_team, ''), COALESCE(owner, ''), COALESCE(since, ''), COALESCE(until, '')
                     FROM accounts WHERE external_id = $1",
                )
                .bind(code)
                .fetch_optional(&self.pool)
                .await?
                else {
                    return Ok(None);
                };
                let id: i64 = a.try_get(0)?;
                let mut fields: [String; 9] = Default::default();
                for (i, f) in fields.iter_mut().enumerate() {
                    *f = a.try_get(i + 1)?;
                }
                let contacts = sqlx::query(
                    "SELECT external_id, name, COALESCE(role, ''), influence FROM contacts
                     WHERE account_id = $1 ORDER BY influence DESC, external_id",
                )
                .bind(id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
                .collect::<Result<Vec<_>, $crate::StoreError>>()?;
                let rows = sqlx::query(
                    "SELECT r.id, r.submitted_at, s.slug, r.channel FROM responses r JOIN surveys s ON s.id = r.survey_id
                     WHERE r.account_id = $1 ORDER BY r.id DESC LIMIT $2",
                )
                .bind(id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                let mut responses = Vec::with_capacity(rows.len());
                for r in &rows {
                    let rid: i64 = r.try_get(0)?;
                    let answers = sqlx::query(
                        "SELECT question_id, value_int, value_text FROM answers WHERE response_id = $1 ORDER BY question_id",
                    )
                    .bind(rid)
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|x| Ok((x.try_get(0)?, x.try_get(1)?, x.try_get(2)?)))
                    .collect::<Result<Vec<_>, $crate::StoreError>>()?;
                    responses.push((r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, answers));
                }
                let totals = sqlx::query(
                    "SELECT COUNT(*), CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM transactions WHERE account_id = $1",
                )
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
                let transactions = sqlx::query(
                    "SELECT date, COALESCE(external_id, ''), amount_minor, currency, COALESCE(product_line, '')
                     FROM transactions WHERE account_id = $1 ORDER BY day DESC, id DESC LIMIT $2",
                )
                .bind(id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?)))
                .collect::<Result<Vec<_>, $crate::StoreError>>()?;
                let interactions = sqlx::query(
                    "SELECT date, kind, COALESCE(note, '') FROM interactions
                     WHERE account_id = $1 ORDER BY date DESC, id DESC LIMIT $2",
                )
                .bind(id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<Vec<_>, $crate::StoreError>>()?;
                Ok(Some($crate::server::AccountDetail {
                    fields,
                    contacts,
                    responses,
                    transaction_totals: (totals.try_get::<i64, _>(0)? as u64, totals.try_get(1)?),
                    transactions,
                    interactions,
                }))
            }

            async fn contact_account(
                &self,
                contact: cx_core::model::ContactId,
            ) -> Result<Option<cx_core::model::AccountId>, $crate::StoreError> {
                let id: Option<i64> = sqlx::query_scalar("SELECT account_id FROM contacts WHERE id = $1")
                    .bind(contact.0)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(id.map(cx_core::model::AccountId))
            }

            async fn invitation_counts(
                &self,
                survey: cx_core::model::SurveyId,
            ) -> Result<(u64, u64), $crate::StoreError> {
                use sqlx::Row;
                let row = sqlx::query(
                    "SELECT COUNT(*), COUNT(used_at) FROM invitations WHERE survey_id = $1",
                )
                .bind(survey.0)
                .fetch_one(&self.pool)
                .await?;
                Ok((row.try_get::<i64, _>(0)? as u64, row.try_get::<i64, _>(1)? as u64))
            }

            async fn invitation(
                &self,
                token_hash: &str,
            ) -> Result<Option<$crate::server::Invitation>, $crate::StoreError> {
                use sqlx::Row;
                let row = sqlx::query(
                    "SELECT i.id, i.survey_id, i.contact_id, c.account_id, i.used_at, a.region, a.tier, a.sales_team,
                            i.programme_id, i.channel
                     FROM invitations i JOIN contacts c ON c.id = i.contact_id
                     LEFT JOIN accounts a ON a.id = c.account_id WHERE i.token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| {
                    Ok($crate::server::Invitation {
                        id: r.try_get(0)?,
                        survey: cx_core::model::SurveyId(r.try_get(1)?),
                        contact: cx_core::model::ContactId(r.try_get(2)?),
                        account: r.try_get::<Option<i64>, _>(3)?.map(cx_core::model::AccountId),
                        used: r.try_get::<Option<String>, _>(4)?.is_some(),
                        account_fields: ["region", "tier", "sales_team"]
                            .into_iter()
                            .enumerate()
                            .filter_map(|(i, name)| {
                                r.try_get::<Option<String>, _>(5 + i)
                                    .ok()
                                    .flatten()
                                    .filter(|v| !v.is_empty())
                                    .map(|v| (name, v))
                            })
                            .collect(),
                        programme: r.try_get(8)?,
                        channel: r.try_get(9)?,
                    })
                })
                .transpose()
            }

            async fn create_user(
                &self,
                username: &str,
                hash: &str,
                role: &str,
            ) -> Result<i64, $crate::StoreError> {
                let id: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO users (username, password_hash, role, created_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (username) DO NOTHING RETURNING id",
                )
                .bind(username)
                .bind(hash)
                .bind(role)
                .bind($crate::now_rfc3339())
                .fetch_optional(&self.pool)
                .await?;
                id.ok_or_else(|| {
                    $crate::StoreError::Conflict(format!("a user {username:?} already exists"))
                })
            }

            async fn user_by_name(
                &self,
                username: &str,
            ) -> Result<Option<$crate::server::User>, $crate::StoreError> {
                let row = sqlx::query(
                    "SELECT id, username, password_hash, role FROM users WHERE username = $1",
                )
                .bind(username)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| $crate::server::user_row(&r)).transpose()
            }

            async fn user_count(&self) -> Result<u64, $crate::StoreError> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n as u64)
            }

            async fn create_session(
                &self,
                token_hash: &str,
                user: i64,
                csrf: &str,
                expires_at: i64,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO sessions (token_hash, user_id, csrf, expires_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(token_hash)
                .bind(user)
                .bind(csrf)
                .bind(expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn session(
                &self,
                token_hash: &str,
                now: i64,
            ) -> Result<Option<($crate::server::User, String)>, $crate::StoreError> {
                use sqlx::Row;
                let row = sqlx::query(
                    "SELECT u.id, u.username, u.password_hash, u.role, s.csrf
                     FROM sessions s JOIN users u ON u.id = s.user_id
                     WHERE s.token_hash = $1 AND s.expires_at > $2",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| {
                    Ok((
                        $crate::server::user_row(&r)?,
                        r.try_get(4)?,
                    ))
                })
                .transpose()
            }

            async fn delete_session(
                &self,
                token_hash: &str,
                now: i64,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query("DELETE FROM sessions WHERE token_hash = $1 OR expires_at <= $2")
                    .bind(token_hash)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn create_token(
                &self,
                user: i64,
                hash: &str,
                scope: &str,
            ) -> Result<i64, $crate::StoreError> {
                Ok(sqlx::query_scalar(
                    "INSERT INTO api_tokens (user_id, token_hash, scope, created_at) VALUES ($1, $2, $3, $4)
                     RETURNING id",
                )
                .bind(user)
                .bind(hash)
                .bind(scope)
                .bind($crate::now_rfc3339())
                .fetch_one(&self.pool)
                .await?)
            }

            async fn token_user(
                &self,
                hash: &str,
            ) -> Result<Option<($crate::server::User, String)>, $crate::StoreError> {
                use sqlx::Row;
                let row = sqlx::query(
                    "SELECT u.id, u.username, u.password_hash, u.role, t.scope
                     FROM api_tokens t JOIN users u ON u.id = t.user_id
                     WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
                )
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| {
                    Ok((
                        $crate::server::user_row(&r)?,
                        r.try_get(4)?,
                    ))
                })
                .transpose()
            }

            async fn revoke_token(&self, id: i64) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                )
                .bind($crate::now_rfc3339())
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn tokens(&self) -> Result<Vec<$crate::server::TokenInfo>, $crate::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT t.id, u.username, t.scope, t.created_at, t.revoked_at
                     FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id DESC",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::server::TokenInfo {
                            id: r.try_get(0)?,
                            username: r.try_get(1)?,
                            scope: r.try_get(2)?,
                            created_at: r.try_get(3)?,
                            revoked_at: r.try_get(4)?,
                        })
                    })
                    .collect()
            }
        }
    };
}
pub(crate) use impl_server_store;

/// The user in columns 0–3 (id, username, password_hash, role) of a row.
pub(crate) fn user_row<R: sqlx::Row>(r: &R) -> Result<User, StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(User {
        id: r.try_get(0)?,
        username: r.try_get(1)?,
        password_hash: r.try_get(2)?,
        role: r.try_get(3)?,
    })
}

/// A bound value of a verbatim query.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Int(i64),
    Text(String),
}

impl Bind {
    pub(crate) fn bind<'q, DB: sqlx::Database>(
        &'q self,
        q: sqlx::query::Query<'q, DB, DB::Arguments>,
    ) -> sqlx::query::Query<'q, DB, DB::Arguments>
    where
        i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        match self {
            Bind::Int(v) => q.bind(*v),
            Bind::Text(v) => q.bind(v.as_str()),
        }
    }

    pub(crate) fn bind_scalar<'q, DB: sqlx::Database, O>(
        &'q self,
        q: sqlx::query::QueryScalar<'q, DB, O, DB::Arguments>,
    ) -> sqlx::query::QueryScalar<'q, DB, O, DB::Arguments>
    where
        i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        match self {
            Bind::Int(v) => q.bind(*v),
            Bind::Text(v) => q.bind(v.as_str()),
        }
    }
}

macro_rules! verbatim_sql {
    ($ty:ident, $dialect:expr) => {
        impl $ty {
            /// `FROM … WHERE …` of a verbatim query and its values ($1, $2, …).
            fn verbatim_sql(
                vq: &$crate::server::VerbatimQuery,
            ) -> Result<(String, Vec<$crate::server::Bind>), $crate::StoreError> {
                use $crate::server::Bind;
                let (_, _, filter, filter_binds) = $crate::common::slice_sql(&$dialect, &vq.slice, 4)?;
                let mut binds = vec![
                    Bind::Int(vq.slice.survey.0),
                    Bind::Text(vq.text_question.clone()),
                    Bind::Text(vq.score_question.clone().unwrap_or_default()),
                ];
                binds.extend(filter_binds.into_iter().map(Bind::Text));
                let mut sql = format!(
                    "FROM responses r
                     JOIN answers t ON t.response_id = r.id AND t.question_id = $2 AND t.value_text IS NOT NULL
                     LEFT JOIN answers s ON s.response_id = r.id AND s.question_id = $3
                     LEFT JOIN accounts acc ON acc.id = r.account_id
                     WHERE r.survey_id = $1 {filter}"
                );
                let mut push = |clause: &str, b: Bind, binds: &mut Vec<Bind>| {
                    binds.push(b);
                    sql.push_str(&clause.replace("{}", &format!("${}", binds.len())));
                };
                if let Some(lo) = vq.days.0 {
                    push(" AND r.submitted_day >= {}", Bind::Int(i64::from(lo)), &mut binds);
                }
                if let Some(hi) = vq.days.1 {
                    push(" AND r.submitted_day <= {}", Bind::Int(i64::from(hi)), &mut binds);
                }
                if let Some((lo, hi)) = vq.scores {
                    push(" AND s.value_int >= {}", Bind::Int(lo), &mut binds);
                    push(" AND s.value_int <= {}", Bind::Int(hi), &mut binds);
                }
                if let Some(search) = vq.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                    let pattern = format!(
                        "%{}%",
                        search.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
                    );
                    push(" AND LOWER(t.value_text) LIKE {} ESCAPE '\\'", Bind::Text(pattern), &mut binds);
                }
                Ok((sql, binds))
            }
        }

    };
}
pub(crate) use verbatim_sql;
