//! # cx-store
//!
//! Where cxscore keeps surveys, responses and what it knows about customers:
//! SQLite by default (`sqlite://cxscore.db`, WAL, foreign keys on) and
//! PostgreSQL for a team server (`postgres://…`), chosen by the URL scheme.
//! Each backend has its own migrations; both implement the same [`Store`]
//! trait and pass the same conformance story (`tests/story.rs`).
//!
//! Survey metrics are computed by push-down ([`metrics`]): the database returns
//! counts per score value per group and day, never the rows themselves, and
//! `cx-core` finishes them exactly as it does for files.

pub mod accounts;
mod common;
mod cube;
pub use cube::{daily_counts_used, use_daily_counts};
pub mod followup;
pub mod import;
pub mod metrics;
mod migrate;
mod postgres;
pub mod programmes;
pub mod server;
mod sqlite;
pub mod text;

use std::collections::HashMap;

use cx_core::model::customer::{
    Account, Assessment, Contact, FeedbackItem, Interaction, Transaction,
};
use cx_core::model::survey::{AnswerValue, SurveyDefinition};
use cx_core::model::{AccountId, ContactId, SurveyId};
use cx_core::period::Date;
use thiserror::Error;

pub use common::analyze_text;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// The default database: a file in the current directory.
pub const DEFAULT_URL: &str = "sqlite://cxscore.db";

/// Store errors.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A URL with a scheme we do not speak.
    #[error("database URL {0:?}: use sqlite://FILE or postgres://USER@HOST/DB")]
    BadUrl(String),
    /// Could not connect or open.
    #[error("cannot open {url}: {source}")]
    Open {
        /// The URL (password removed).
        url: String,
        /// Why.
        source: sqlx::Error,
    },
    /// Something the caller asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with what is stored (e.g. a survey slug in use).
    #[error("{0}")]
    Conflict(String),
    /// The request is invalid.
    #[error("{0}")]
    Invalid(String),
    /// A database error.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A stored survey.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSurvey {
    /// Id.
    pub id: SurveyId,
    /// Definition.
    pub definition: SurveyDefinition,
    /// Responses stored.
    pub responses: u64,
}

/// A response to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewResponse {
    /// Recognises a re-import of the same response (the export's response id, or
    /// a hash of the row).
    pub dedupe_key: String,
    /// When it was given (UTC, RFC 3339).
    pub submitted_at: String,
    /// Its calendar date.
    pub submitted_on: Date,
    /// web, email, sms, phone, in_person, app, api, import.
    pub channel: String,
    /// zh or en.
    pub language: Option<String>,
    /// The account, if known (never for anonymous surveys).
    pub account: Option<AccountId>,
    /// The contact, if known (never for anonymous surveys).
    pub contact: Option<ContactId>,
    /// Free metadata: product_line, region, sales_team, …
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Answers by question id.
    pub answers: Vec<(String, AnswerValue)>,
}

/// What an insert did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InsertCounts {
    /// New rows stored.
    pub inserted: u64,
    /// Rows already stored (nothing changed).
    pub duplicate: u64,
    /// Rows already stored whose fields changed and were updated (accounts).
    pub updated: u64,
}

impl std::ops::AddAssign for InsertCounts {
    fn add_assign(&mut self, o: InsertCounts) {
        self.inserted += o.inserted;
        self.duplicate += o.duplicate;
        self.updated += o.updated;
    }
}

/// A transaction with the key that recognises it on re-import.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyedTransaction {
    /// Dedupe key.
    pub key: String,
    /// The transaction.
    pub transaction: Transaction,
}

/// A feedback item with its dedupe key.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyedFeedback {
    /// Dedupe key.
    pub key: String,
    /// The item.
    pub item: FeedbackItem,
}

/// An account's code, lifecycle dates and slice value.
pub type AccountLifecycle = (String, Option<Date>, Option<Date>, String);

/// A stored transaction, reduced to what customer metrics need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPurchase {
    /// Customer code.
    pub customer: String,
    /// Day (days since 1970-01-01).
    pub day: i32,
    /// Amount in minor units.
    pub amount_minor: i64,
    /// Currency code.
    pub currency: String,
    /// The `by` field's value ("" without one).
    pub slice: String,
}

/// The SQL expression of a customer-metrics slice field, over transactions `t`
/// and accounts `a`.
pub(crate) fn slice_expr(by: Option<&str>, transactions: bool) -> Result<&'static str, StoreError> {
    Ok(match (by, transactions) {
        (None, _) => "''",
        (Some("product_line"), true) => "COALESCE(t.product_line, '')",
        (Some("currency"), true) => "t.currency",
        (Some("region"), _) => "COALESCE(a.region, '')",
        (Some("tier"), _) => "COALESCE(a.tier, '')",
        (Some("sales_team"), _) => "COALESCE(a.sales_team, '')",
        (Some("industry"), _) => "COALESCE(a.industry, '')",
        (Some(other), _) => {
            return Err(StoreError::Invalid(format!(
                "--by {other:?}: in the database slice by product_line, currency, region, tier, sales_team or industry"
            )));
        }
    })
}

/// Row counts per table, for reports and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableCounts(pub Vec<(&'static str, u64)>);

/// One group × day of push-down statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRows {
    /// `--by` values.
    pub key: Vec<String>,
    /// Days since 1970-01-01.
    pub day: i32,
    /// Responses.
    pub count: u64,
}

/// Count of one score value of one question for one group × day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayScore {
    /// `--by` values.
    pub key: Vec<String>,
    /// Day.
    pub day: i32,
    /// The score.
    pub value: i64,
    /// Answers with that score.
    pub count: u64,
}

/// Which column of an answer push-down counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreColumn {
    /// The score (`value_int`).
    Value,
    /// The text's polarity (`sentiment`: −1, 0, 1).
    Sentiment,
}

/// The stored analysis of a text (cx-text): language, polarity (−1, 0, 1),
/// score in −1…1, topics as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct TextColumns {
    /// `zh`, `en`, `mixed` or `und`.
    pub lang: String,
    /// −1 negative, 0 neutral, 1 positive.
    pub sentiment: i64,
    /// −1…1.
    pub score: f64,
    /// `[{"topic", "sentiment", "score"}]`.
    pub topics: String,
}

/// Pair sums of two questions for one group × day (respondents answering both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayPair {
    /// `--by` values.
    pub key: Vec<String>,
    /// Day.
    pub day: i32,
    /// Respondents.
    pub n: u64,
    /// Σx.
    pub sum_x: i64,
    /// Σy.
    pub sum_y: i64,
    /// Σxy.
    pub sum_xy: i64,
}

/// Which responses to aggregate and how to group them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseSlice {
    /// The survey.
    pub survey: SurveyId,
    /// Group by: `channel`, `language`, or a metadata key.
    pub by: Vec<String>,
    /// Keep responses whose field is one of the values.
    pub filters: Vec<(String, Vec<String>)>,
    /// The caller needs only totals over these days (inclusive): a store may
    /// return one row per group and value, dated any day inside (the daily
    /// counts do; reading every answer returns days as usual).
    pub collapse: Option<(i32, i32)>,
}

/// The operations every backend provides.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// Which backend this is.
    fn backend(&self) -> Backend;
    /// Stores a new survey; the slug must be unused.
    async fn create_survey(&self, definition: &SurveyDefinition) -> Result<SurveyId, StoreError>;
    /// All surveys, newest first.
    async fn surveys(&self) -> Result<Vec<StoredSurvey>, StoreError>;
    /// A survey by id or slug.
    async fn survey(&self, id_or_slug: &str) -> Result<StoredSurvey, StoreError>;
    /// Stores responses in one database transaction; known dedupe keys are skipped.
    async fn insert_responses(
        &self,
        survey: SurveyId,
        batch: &[NewResponse],
    ) -> Result<InsertCounts, StoreError>;
    /// Stores accounts; known customer codes are skipped (nothing is overwritten).
    async fn insert_accounts(&self, batch: &[Account]) -> Result<InsertCounts, StoreError>;
    /// Stores contacts whose account exists; known contact codes are skipped.
    async fn insert_contacts(
        &self,
        batch: &[(AccountId, Contact)],
    ) -> Result<InsertCounts, StoreError>;
    /// Stores transactions; known keys are skipped.
    async fn insert_transactions(
        &self,
        batch: &[KeyedTransaction],
    ) -> Result<InsertCounts, StoreError>;
    /// Stores transactions whose customers' accounts the caller has looked up
    /// (`accounts`: customer code → account; a code not in it is stored
    /// unlinked); known keys are skipped. An import looks each customer up
    /// once instead of once per batch. Takes the batch to bind its text
    /// without copying it.
    async fn insert_linked_transactions(
        &self,
        batch: Vec<KeyedTransaction>,
        accounts: &HashMap<String, AccountId>,
    ) -> Result<InsertCounts, StoreError>;
    /// Before an import of about `rows` transactions: drops the index of
    /// transactions by account when building it once afterwards is cheaper
    /// than putting each linked row into it at a random place (many rows,
    /// accounts stored, few transactions stored yet). `true` when dropped: the
    /// caller then calls [`Store::restore_transaction_index`], whatever
    /// happens; a store opened after an import that never finished builds it.
    /// Queries stay correct meanwhile, only slower.
    async fn defer_transaction_index(&self, rows: u64) -> Result<bool, StoreError>;
    /// Builds the index of transactions by account if it is missing.
    async fn restore_transaction_index(&self) -> Result<(), StoreError>;
    /// Stores interactions; known keys are skipped.
    async fn insert_interactions(
        &self,
        batch: &[(String, Interaction)],
    ) -> Result<InsertCounts, StoreError>;
    /// Stores feedback; known keys are skipped.
    async fn insert_feedback(&self, batch: &[KeyedFeedback]) -> Result<InsertCounts, StoreError>;
    /// Stores relationship assessments; a contact's period already assessed is skipped.
    async fn insert_assessments(
        &self,
        batch: &[(ContactId, Assessment)],
    ) -> Result<InsertCounts, StoreError>;
    /// Account ids by customer code, for the codes given.
    async fn account_ids(&self, codes: &[String])
    -> Result<HashMap<String, AccountId>, StoreError>;
    /// Contact ids by contact code, for the codes given.
    async fn contact_ids(&self, codes: &[String])
    -> Result<HashMap<String, ContactId>, StoreError>;
    /// Rows in each table.
    async fn table_counts(&self) -> Result<TableCounts, StoreError>;
    /// Every transaction as `(customer, day, amount in minor units, slice value)`;
    /// `by` is a transaction or account field (product_line, currency, region,
    /// tier, sales_team, industry).
    async fn purchases(&self, by: Option<&str>) -> Result<Vec<StoredPurchase>, StoreError>;
    /// Every account's lifecycle `(customer code, since, lost on, slice value)`.
    async fn account_lifecycles(
        &self,
        by: Option<&str>,
    ) -> Result<Vec<AccountLifecycle>, StoreError>;
    /// Each account's latest answer to `question` of `survey`: `(customer code, score)`.
    async fn latest_scores(
        &self,
        survey: SurveyId,
        question: &str,
    ) -> Result<Vec<(String, i64)>, StoreError>;
    /// Push-down: responses per group × day.
    async fn day_rows(&self, slice: &ResponseSlice) -> Result<Vec<DayRows>, StoreError>;
    /// Push-down: answers per score value (or polarity) of `question` per group × day.
    async fn day_scores(
        &self,
        slice: &ResponseSlice,
        question: &str,
        column: ScoreColumn,
    ) -> Result<Vec<DayScore>, StoreError>;
    /// Open-text answers to `question` of `survey` with response id > `after`:
    /// `(response id, text)`, in id order, at most `limit`.
    async fn text_answers(
        &self,
        survey: SurveyId,
        question: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String)>, StoreError>;
    /// Stores the analyses of answers to `question`, by response id.
    async fn set_answer_analyses(
        &self,
        question: &str,
        rows: &[(i64, TextColumns)],
    ) -> Result<(), StoreError>;
    /// Feedback items with id > `after`: `(id, text)`, at most `limit`.
    async fn feedback_texts(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String)>, StoreError>;
    /// Stores the analyses of feedback items, by id.
    async fn set_feedback_analyses(&self, rows: &[(i64, TextColumns)]) -> Result<(), StoreError>;
    /// Push-down: pair sums of two questions per group × day.
    async fn day_pairs(
        &self,
        slice: &ResponseSlice,
        x: &str,
        y: &str,
    ) -> Result<Vec<DayPair>, StoreError>;
    /// Push-down: pair sums of every pair `(i, j)`, `i < j`, of `questions` per
    /// group × day, in one pass over the answers (what `day_pairs` gives for each pair).
    async fn day_pairs_all(
        &self,
        slice: &ResponseSlice,
        questions: &[String],
    ) -> Result<Vec<(usize, usize, DayPair)>, StoreError>;
}

/// Either backend, chosen by URL.
#[derive(Debug, Clone)]
pub enum AnyStore {
    /// SQLite.
    Sqlite(SqliteStore),
    /// PostgreSQL.
    Postgres(PgStore),
}

/// Opens (creating if needed) the database at `url` and brings its schema up to date.
pub async fn open(url: &str) -> Result<AnyStore, StoreError> {
    let store = if url.starts_with("sqlite:") {
        AnyStore::Sqlite(SqliteStore::open(url).await?)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        AnyStore::Postgres(PgStore::open(url).await?)
    } else {
        return Err(StoreError::BadUrl(url.to_string()));
    };
    // The daily counts are filled once from what is already stored.
    if followup::FollowUpStore::setting(&store, cube::BUILT_KEY)
        .await?
        .is_none()
    {
        match &store {
            AnyStore::Sqlite(s) => s.rebuild_day_counts().await?,
            AnyStore::Postgres(s) => s.rebuild_day_counts().await?,
        }
    }
    Ok(store)
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Sqlite($s) => $e,
            AnyStore::Postgres($s) => $e,
        }
    };
}

impl Store for AnyStore {
    fn backend(&self) -> Backend {
        delegate!(self, s => s.backend())
    }
    async fn create_survey(&self, d: &SurveyDefinition) -> Result<SurveyId, StoreError> {
        delegate!(self, s => s.create_survey(d).await)
    }
    async fn surveys(&self) -> Result<Vec<StoredSurvey>, StoreError> {
        delegate!(self, s => s.surveys().await)
    }
    async fn survey(&self, key: &str) -> Result<StoredSurvey, StoreError> {
        delegate!(self, s => s.survey(key).await)
    }
    async fn insert_responses(
        &self,
        survey: SurveyId,
        b: &[NewResponse],
    ) -> Result<InsertCounts, StoreError> {
        delegate!(self, s => s.insert_responses(survey, b).await)
    }
    async fn insert_accounts(&self, b: &[Account]) -> Result<InsertCounts, StoreError> {
        delegate!(self, s => s.insert_accounts(b).await)
    }
    async fn insert_contacts(
        &self,
        b: &[(AccountId, Contact)],
    ) -> Result<InsertCounts, StoreError> {
        delegate!(self, s => s.insert_contacts(b).await)
    }
    async fn insert_transactions(
        &self,
        b: &[KeyedTransaction],
    ) -> Result<InsertCounts, StoreError> {
        delegate!(self, s => s.insert_transactions(b).await)
    }
    async fn insert_linked_transactions(
        &self,
        b: Vec<KeyedTransaction>,
        accounts: &HashMap<String, AccountId>,
    ) -> Result<InsertCounts, StoreError> {
        delegate!(self, s => s.insert_linked_transactions(b, accounts).await)
    }
    async fn defer_transaction_index(&self, rows: u64) -> Result<bool, StoreError> {
        delegate!(self, s => s.defer_transaction_index(rows).await)
    }
    async fn restore_transaction_index(&self) -> Result<(), StoreError> {
        delegate!(self, s => s.restore_transaction_index().await)
    }
    async fn insert_feedback(&self, b: &[KeyedFeedback]) -> Result<InsertCounts, StoreError> {
        delegate!(self, s => s.insert_feedback(b).await)
    }
    async fn insert_interactions(
        &self,
        b: &[(String, Interaction)],
    ) -> Result<InsertCounts, StoreError> {
        delegate!(self, s => s.insert_interactions(b).await)
    }
    async fn insert_assessments(
        &self,
        b: &[(ContactId, Assessment)],
    ) -> Result<InsertCounts, StoreError> {
        delegate!(self, s => s.insert_assessments(b).await)
    }
    async fn account_ids(
        &self,
        codes: &[String],
    ) -> Result<HashMap<String, AccountId>, StoreError> {
        delegate!(self, s => s.account_ids(codes).await)
    }
    async fn contact_ids(
        &self,
        codes: &[String],
    ) -> Result<HashMap<String, ContactId>, StoreError> {
        delegate!(self, s => s.contact_ids(codes).await)
    }
    async fn table_counts(&self) -> Result<TableCounts, StoreError> {
        delegate!(self, s => s.table_counts().await)
    }
    async fn day_rows(&self, slice: &ResponseSlice) -> Result<Vec<DayRows>, StoreError> {
        delegate!(self, s => s.day_rows(slice).await)
    }
    async fn purchases(&self, by: Option<&str>) -> Result<Vec<StoredPurchase>, StoreError> {
        delegate!(self, s => s.purchases(by).await)
    }
    async fn latest_scores(
        &self,
        survey: SurveyId,
        question: &str,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        delegate!(self, s => s.latest_scores(survey, question).await)
    }
    async fn account_lifecycles(
        &self,
        by: Option<&str>,
    ) -> Result<Vec<AccountLifecycle>, StoreError> {
        delegate!(self, s => s.account_lifecycles(by).await)
    }
    async fn day_scores(
        &self,
        slice: &ResponseSlice,
        q: &str,
        column: ScoreColumn,
    ) -> Result<Vec<DayScore>, StoreError> {
        delegate!(self, s => s.day_scores(slice, q, column).await)
    }
    async fn text_answers(
        &self,
        survey: SurveyId,
        question: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        delegate!(self, s => s.text_answers(survey, question, after, limit).await)
    }
    async fn set_answer_analyses(
        &self,
        question: &str,
        rows: &[(i64, TextColumns)],
    ) -> Result<(), StoreError> {
        delegate!(self, s => s.set_answer_analyses(question, rows).await)
    }
    async fn feedback_texts(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        delegate!(self, s => s.feedback_texts(after, limit).await)
    }
    async fn set_feedback_analyses(&self, rows: &[(i64, TextColumns)]) -> Result<(), StoreError> {
        delegate!(self, s => s.set_feedback_analyses(rows).await)
    }
    async fn day_pairs(
        &self,
        slice: &ResponseSlice,
        x: &str,
        y: &str,
    ) -> Result<Vec<DayPair>, StoreError> {
        delegate!(self, s => s.day_pairs(slice, x, y).await)
    }
    async fn day_pairs_all(
        &self,
        slice: &ResponseSlice,
        questions: &[String],
    ) -> Result<Vec<(usize, usize, DayPair)>, StoreError> {
        delegate!(self, s => s.day_pairs_all(slice, questions).await)
    }
}

macro_rules! delegate_server {
    ($($name:ident ( $($arg:ident : $t:ty),* ) -> $ret:ty;)*) => {
        impl server::ServerStore for AnyStore {
            $(async fn $name(&self, $($arg: $t),*) -> Result<$ret, StoreError> {
                delegate!(self, s => s.$name($($arg),*).await)
            })*
        }
    };
}

delegate_server! {
    submit(batch: &[server::Submission]) -> Vec<server::Submitted>;
    survey_definition(key: &str) -> StoredSurvey;
    update_survey(id: SurveyId, d: &SurveyDefinition) -> ();
    delete_survey(id: SurveyId) -> ();
    responses_after(survey: SurveyId, after: i64, limit: i64) -> Vec<server::StoredResponse>;
    create_invitations(survey: SurveyId, items: &[(ContactId, String)], quiet_days: u32, today: i32) -> Vec<server::Invited>;
    answer_matrix(slice: &ResponseSlice, days: (Option<i32>, Option<i32>), questions: &[String], limit: i64) -> Vec<Vec<Option<i64>>>;
    verbatims(q: &server::VerbatimQuery, limit: i64, offset: i64) -> (Vec<server::Verbatim>, u64);
    verbatim_scores(q: &server::VerbatimQuery) -> Vec<(Option<i64>, u64)>;
    verbatim_analyses(q: &server::VerbatimQuery, limit: i64) -> Vec<(Option<i64>, Option<String>)>;
    feedback_items(q: &server::FeedbackQuery, limit: i64) -> Vec<server::StoredFeedback>;
    account_summaries(survey: SurveyId, nps_question: &str, search: Option<&str>, tier: Option<&str>, limit: i64) -> Vec<server::AccountSummary>;
    account_detail(code: &str, limit: i64) -> Option<server::AccountDetail>;
    contact_account(contact: ContactId) -> Option<AccountId>;
    invitation_counts(survey: SurveyId) -> (u64, u64);
    invitation(token_hash: &str) -> Option<server::Invitation>;
    create_user(username: &str, hash: &str, role: &str) -> i64;
    user_by_name(username: &str) -> Option<server::User>;
    user_count() -> u64;
    create_session(token_hash: &str, user: i64, csrf: &str, expires_at: i64) -> ();
    session(token_hash: &str, now: i64) -> Option<(server::User, String)>;
    delete_session(token_hash: &str, now: i64) -> ();
    create_token(user: i64, hash: &str, scope: &str) -> i64;
    token_user(hash: &str) -> Option<(server::User, String)>;
    revoke_token(id: i64) -> bool;
    tokens() -> Vec<server::TokenInfo>;
}

macro_rules! delegate_trait {
    ($tr:path; $($name:ident ( $($arg:ident : $t:ty),* ) -> $ret:ty;)*) => {
        impl $tr for AnyStore {
            $(async fn $name(&self, $($arg: $t),*) -> Result<$ret, StoreError> {
                delegate!(self, s => s.$name($($arg),*).await)
            })*
        }
    };
}

delegate_trait! { accounts::AccountStore;
    account_facts(day: i32, only: Option<&str>) -> Vec<accounts::AccountFacts>;
    set_assessment(account: &str, contact: &str, period: &str, ratings: &[Option<i8>; 7]) -> ();
    people(day: i32, period: &str, only: Option<&str>) -> Vec<accounts::PersonFacts>;
}

delegate_trait! { followup::FollowUpStore;
    setting(key: &str) -> Option<String>;
    set_setting(key: &str, value: &str) -> ();
    responses_for_loop(after: i64, limit: i64) -> Vec<followup::LoopResponse>;
    open_tasks(tasks: &[followup::NewTask], events: &[(String, String)], cursor: Option<(i64, i64)>, settings: &[(String, String)]) -> Vec<Option<i64>>;
    tasks(q: &followup::TaskQuery, now: i64) -> Vec<followup::StoredTask>;
    task(id: i64, now: i64) -> Option<(followup::StoredTask, Vec<followup::TaskEvent>)>;
    update_task(id: i64, change: &followup::TaskChange) -> (followup::StoredTask, String);
    set_resurvey(id: i64, invitation: i64) -> ();
    resurvey_response(id: i64) -> Option<i64>;
    escalate_overdue(now: i64, app: &str) -> Vec<followup::StoredTask>;
    create_webhook(url: &str, secret: &str, events: &str) -> i64;
    webhooks() -> Vec<followup::Webhook>;
    delete_webhook(id: i64) -> bool;
    enqueue(event: &str, payload: &str, now: i64) -> u64;
    due_deliveries(now: i64, limit: i64) -> Vec<followup::Delivery>;
    record_attempt(id: i64, a: &followup::Attempt, now: i64) -> ();
    deliveries(webhook: i64, limit: i64) -> Vec<followup::Delivery>;
    redeliver(webhook: i64, id: i64, now: i64) -> bool;
    create_action(action: &followup::Action) -> i64;
    actions() -> Vec<followup::Action>;
    set_action_status(id: i64, status: &str) -> bool;
}

delegate_trait! { programmes::ProgrammeStore;
    save_programme(slug: &str, name: &str, survey_id: i64, definition: &str, replace: bool) -> i64;
    programmes() -> Vec<programmes::StoredProgramme>;
    programme(slug: &str) -> Option<programmes::StoredProgramme>;
    set_programme_status(slug: &str, status: &str) -> bool;
    candidates(only: Option<&[i64]>) -> Vec<cx_core::programme::Candidate>;
    wave_exists(programme_id: i64, label: &str) -> bool;
    plan_wave(survey_id: i64, wave: &programmes::NewWave, sends: &[programmes::NewSend], settings: &[(String, String)]) -> Option<i64>;
    init_setting(key: &str, value: &str) -> String;
    waves(programme_id: i64) -> Vec<programmes::StoredWave>;
    due_messages(now: i64, limit: i64) -> Vec<programmes::OutMessage>;
    claim_message(id: i64, now: i64) -> bool;
    finish_message(id: i64, outcome: &programmes::MessageOutcome, now: i64) -> ();
    recover_interrupted(before: i64) -> u64;
    queue_reminders(programme_id: i64, after_secs: i64, max: u32, now: i64) -> u64;
    mark_invitation(invitation_id: i64, started: bool, now: i64) -> ();
    suppress(contact_id: i64, reason: &str) -> bool;
    suppression(contact_id: i64) -> Option<String>;
    add_coupons(pool: &str, codes: &[String]) -> InsertCounts;
    coupon_stock() -> Vec<(String, i64, i64)>;
    awaiting_reward(limit: i64) -> Vec<(i64, i64, i64, String)>;
    grant_reward(invitation_id: i64, pool: Option<&str>, points: Option<i64>, channel: Option<&str>, now: i64) -> Option<programmes::StoredReward>;
    reward_for(invitation_id: i64) -> Option<programmes::StoredReward>;
    rewards(programme_id: i64) -> Vec<programmes::StoredReward>;
    funnel_rows(programme_id: i64, nps_question: Option<&str>) -> Vec<programmes::FunnelRow>;
    programme_invitations(programme_id: i64, wave_id: Option<i64>) -> Vec<programmes::ListedInvitation>;
    messages(programme_id: i64, limit: i64) -> Vec<programmes::LoggedMessage>;
    trigger_events(kind: &str, after: i64, limit: i64) -> Vec<programmes::TriggerEvent>;
}

/// SQL text that differs between the backends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dialect {
    /// The n-th positional parameter in a statement with many of them. SQLite
    /// gets anonymous `?`: looking up a `$N` name is linear in the number of
    /// parameters, which made large multi-row inserts quadratic.
    pub placeholder: fn(usize) -> String,
    /// Parameter placeholder for a JSON value.
    pub json_param: fn(usize) -> String,
    /// Expression for a metadata field of response alias `r` (key already checked).
    pub metadata_field: fn(&str) -> String,
}

/// The SQL expression for a `--by`/`--where` field of responses `r`.
pub(crate) fn field_expr(dialect: &Dialect, field: &str) -> Result<String, StoreError> {
    match field {
        "channel" => Ok("COALESCE(r.channel, '')".into()),
        "language" => Ok("COALESCE(r.language, '')".into()),
        _ if field.is_empty() || field.contains(['"', '\'', '\\']) => Err(StoreError::Invalid(
            format!("field name {field:?} cannot be used for grouping"),
        )),
        _ => Ok(format!("COALESCE({}, '')", (dialect.metadata_field)(field))),
    }
}

/// Now, UTC, RFC 3339 with seconds (no external time crate needed).
pub(crate) fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let date = Date::from_days(secs.div_euclid(86_400) as i32);
    let s = secs.rem_euclid(86_400);
    format!("{date}T{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}
