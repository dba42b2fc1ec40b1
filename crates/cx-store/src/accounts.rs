//! What the account scores need, read by push-down: per account, the NPS,
//! CSAT and CES answers of a trailing year, purchases, negative feedback, open
//! tasks and the last contact; per key person, the latest assessment and their
//! own latest answers. [`score_accounts`] turns them into relationship scores
//! and composite customer scores with `cx-core` (`account::relationship`,
//! `account::scorecard`), as of any day, so a score's history is the same
//! computation at earlier days.

use std::collections::HashMap;

use cx_core::account::relationship::{self, AccountRelationship, Person, RelationshipSettings};
use cx_core::account::scorecard::{self, CustomerScore, Inputs, Scorecard};
use cx_core::model::customer::ContactRole;
use cx_core::model::survey::QuestionKind;
use cx_core::period::{Date, Interval, Period};
use cx_core::survey::ces::CesDirection;
use serde::Serialize;

use crate::StoreError;

/// The trailing window of survey answers and purchases (days).
pub const WINDOW_DAYS: i32 = 365;
/// The window of negative feedback counted against an account (days).
pub const FEEDBACK_DAYS: i32 = 180;
/// Interactions in this many days count towards a person's engagement.
pub const ENGAGEMENT_DAYS: i32 = 90;

/// An account's own fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AccountRow {
    /// Row id.
    #[serde(skip)]
    pub id: i64,
    /// Customer code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Tier (`key` = key account), empty when unknown.
    pub tier: String,
    /// Region.
    pub region: String,
    /// Sales team.
    pub sales_team: String,
    /// Owner.
    pub owner: String,
}

/// Survey answers counted for one account or person, on a common footing.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AnswerTotals {
    /// Promoters, passives, detractors.
    pub nps: [u64; 3],
    /// CSAT answers and the sum of their mean index (0–100 each).
    pub csat: (u64, f64),
    /// CES answers and the sum of their ease index (0–100 each).
    pub ces: (u64, f64),
}

impl AnswerTotals {
    /// NPS in −100…100.
    pub fn nps_score(&self) -> Option<f64> {
        let n: u64 = self.nps.iter().sum();
        (n > 0).then(|| 100.0 * (self.nps[0] as f64 - self.nps[2] as f64) / n as f64)
    }

    /// Mean CSAT index.
    pub fn csat_index(&self) -> Option<f64> {
        (self.csat.0 > 0).then(|| self.csat.1 / self.csat.0 as f64)
    }

    /// Mean CES ease index.
    pub fn ces_index(&self) -> Option<f64> {
        (self.ces.0 > 0).then(|| self.ces.1 / self.ces.0 as f64)
    }
}

/// Everything the composite score reads about one account, as of a day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountFacts {
    /// The account.
    pub account: AccountRow,
    /// Its answers in the trailing year.
    pub answers: AnswerTotals,
    /// Last purchase on or before the day.
    pub last_purchase: Option<i32>,
    /// Distinct purchase days in the trailing year.
    pub orders_12m: u64,
    /// Revenue (minor units) in the trailing year and in the year before.
    pub revenue: (i64, i64),
    /// Negative feedback items, complaints and negative comments in the last 180 days.
    pub negative_feedback: u64,
    /// Tasks open on the day.
    pub open_tasks: u64,
    /// Last interaction (visit, call, …) on or before the day.
    pub last_interaction: Option<i32>,
    /// Interactions in the last 90 days.
    pub recent_interactions: u64,
    /// Last response (RFC 3339).
    pub last_response: Option<String>,
}

/// A key person, with what is known of them as of a day.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonFacts {
    /// Their account's row id.
    pub account_id: i64,
    /// Contact code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Option<ContactRole>,
    /// Influence weight.
    pub influence: f64,
    /// The latest assessment on or before the period: (period, ratings).
    pub assessment: Option<(String, [Option<i8>; 7])>,
    /// Their latest NPS answer in the trailing year.
    pub last_nps: Option<u8>,
    /// Their latest CSAT answer and its scale.
    pub last_csat: Option<(u8, u8)>,
    /// Their last response's day.
    pub last_response: Option<i32>,
}

/// How each scored question of each survey counts: `(survey id, question id) → kind`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Counted {
    /// An NPS question.
    Nps,
    /// A CSAT question on 1…scale.
    Csat(u8),
    /// A CES question on 1…scale, and whether higher means harder.
    Ces(u8, bool),
}

impl Counted {
    /// Adds `count` answers of `value` to `totals`.
    pub fn add(self, totals: &mut AnswerTotals, value: i64, count: u64) {
        match self {
            Counted::Nps => {
                let slot = match value {
                    9.. => 0,
                    7..=8 => 1,
                    _ => 2,
                };
                totals.nps[slot] += count;
            }
            Counted::Csat(scale) => {
                totals.csat.0 += count;
                totals.csat.1 += count as f64 * index(value, scale, false);
            }
            Counted::Ces(scale, harder) => {
                totals.ces.0 += count;
                totals.ces.1 += count as f64 * index(value, scale, harder);
            }
        }
    }
}

fn index(value: i64, scale: u8, reversed: bool) -> f64 {
    let span = f64::from(scale.max(2)) - 1.0;
    let i = 100.0 * (value as f64 - 1.0) / span;
    (if reversed { 100.0 - i } else { i }).clamp(0.0, 100.0)
}

/// The scored questions of every survey.
pub fn counted_questions(surveys: &[crate::StoredSurvey]) -> HashMap<(i64, String), Counted> {
    let mut out = HashMap::new();
    for s in surveys {
        for q in &s.definition.questions {
            let scale = q
                .rating_scale()
                .map(|sc| u8::try_from(sc.max).unwrap_or(10))
                .unwrap_or(5);
            let counted = match q.kind {
                QuestionKind::Nps => Counted::Nps,
                QuestionKind::Csat => Counted::Csat(scale),
                QuestionKind::Ces => {
                    Counted::Ces(scale, q.direction == Some(CesDirection::HigherIsHarder))
                }
                _ => continue,
            };
            out.insert((s.id.0, q.id.clone()), counted);
        }
    }
    out
}

/// Reads what account scores need.
#[allow(async_fn_in_trait)]
pub trait AccountStore {
    /// Facts of every account (or the one with code `only`) as of `day` (inclusive).
    async fn account_facts(
        &self,
        day: i32,
        only: Option<&str>,
    ) -> Result<Vec<AccountFacts>, StoreError>;
    /// Records a key person's assessment for a period, entered by hand: the
    /// dimensions given replace what that period had, the others are kept; the
    /// contact must belong to the account.
    async fn set_assessment(
        &self,
        account: &str,
        contact: &str,
        period: &str,
        ratings: &[Option<i8>; 7],
    ) -> Result<(), StoreError>;
    /// Key people of every account (or of `only`), with assessments up to the
    /// period label `period` and answers up to `day`.
    async fn people(
        &self,
        day: i32,
        period: &str,
        only: Option<&str>,
    ) -> Result<Vec<PersonFacts>, StoreError>;
}

/// Runs a per-account aggregate and hands each known account's row to `$body`.
macro_rules! each_row {
    ($pool:expr, $at:ident, $facts:ident, $only:ident, $sql:expr, $($bind:expr),* ; |$f:ident, $row:ident| $body:block) => {
        for $row in sqlx::query($sql)$(.bind($bind))*.bind($only).fetch_all($pool).await? {
            let id: i64 = $row.try_get(0)?;
            if let Some(&k) = $at.get(&id) {
                let $f = &mut $facts[k];
                $body
            }
        }
    };
}

pub(crate) use each_row;

macro_rules! impl_account_store {
    ($ty:ident) => {
        impl $crate::accounts::AccountStore for $ty {
            async fn account_facts(
                &self,
                day: i32,
                only: Option<&str>,
            ) -> Result<Vec<$crate::accounts::AccountFacts>, $crate::StoreError> {
                use std::collections::HashMap;
                use sqlx::Row;
                use $crate::accounts::{AccountFacts, AccountRow};
                use $crate::Store;
                let surveys = self.surveys().await?;
                let counted = $crate::accounts::counted_questions(&surveys);
                let only_id: Option<i64> = match only {
                    Some(code) => Some(
                        sqlx::query_scalar("SELECT id FROM accounts WHERE external_id = $1")
                            .bind(code)
                            .fetch_optional(&self.pool)
                            .await?
                            .ok_or_else(|| {
                                $crate::StoreError::NotFound(format!("no account {code:?}"))
                            })?,
                    ),
                    None => None,
                };
                let (d, year_ago) = (i64::from(day), i64::from(day - $crate::accounts::WINDOW_DAYS));
                let mut facts: Vec<AccountFacts> = Vec::new();
                let mut at: HashMap<i64, usize> = HashMap::new();
                for r in sqlx::query(
                    "SELECT id, external_id, name, COALESCE(tier, ''), COALESCE(region, ''),
                            COALESCE(sales_team, ''), COALESCE(owner, '')
                     FROM accounts WHERE ($1 IS NULL OR id = $1) ORDER BY external_id",
                )
                .bind(only_id)
                .fetch_all(&self.pool)
                .await?
                {
                    let id: i64 = r.try_get(0)?;
                    at.insert(id, facts.len());
                    facts.push(AccountFacts {
                        account: AccountRow {
                            id,
                            code: r.try_get(1)?,
                            name: r.try_get(2)?,
                            tier: r.try_get(3)?,
                            region: r.try_get(4)?,
                            sales_team: r.try_get(5)?,
                            owner: r.try_get(6)?,
                        },
                        ..AccountFacts::default()
                    });
                }
                $crate::accounts::each_row!(&self.pool, at, facts, only_id,
                    "SELECT r.account_id, r.survey_id, a.question_id, a.value_int, COUNT(*)
                     FROM responses r JOIN answers a ON a.response_id = r.id
                     WHERE r.account_id IS NOT NULL AND r.submitted_day > $1 AND r.submitted_day <= $2
                       AND a.value_int IS NOT NULL AND ($3 IS NULL OR r.account_id = $3)
                     GROUP BY r.account_id, r.survey_id, a.question_id, a.value_int",
                    year_ago, d;
                    |f, r| {
                        let key: (i64, String) = (r.try_get(1)?, r.try_get(2)?);
                        if let Some(c) = counted.get(&key) {
                            let n: i64 = r.try_get(4)?;
                            c.add(&mut f.answers, r.try_get(3)?, n as u64);
                        }
                    }
                );
                $crate::accounts::each_row!(&self.pool, at, facts, only_id,
                    "SELECT account_id, MAX(submitted_at) FROM responses
                     WHERE account_id IS NOT NULL AND submitted_day <= $1 AND ($2 IS NULL OR account_id = $2)
                     GROUP BY account_id",
                    d;
                    |f, r| { f.last_response = r.try_get(1)?; }
                );
                $crate::accounts::each_row!(&self.pool, at, facts, only_id,
                    "SELECT account_id, MAX(day), COUNT(DISTINCT CASE WHEN day > $1 THEN day END),
                            CAST(SUM(CASE WHEN day > $1 THEN amount_minor ELSE 0 END) AS BIGINT),
                            CAST(SUM(CASE WHEN day > $2 AND day <= $1 THEN amount_minor ELSE 0 END) AS BIGINT)
                     FROM transactions WHERE account_id IS NOT NULL AND day <= $3 AND ($4 IS NULL OR account_id = $4)
                     GROUP BY account_id",
                    year_ago, year_ago - i64::from($crate::accounts::WINDOW_DAYS), d;
                    |f, r| {
                        let last: Option<i64> = r.try_get(1)?;
                        f.last_purchase = last.map(|v| v as i32);
                        let orders: i64 = r.try_get(2)?;
                        f.orders_12m = orders as u64;
                        f.revenue = (r.try_get(3)?, r.try_get(4)?);
                    }
                );
                let (from, to) = (
                    cx_core::period::Date::from_days(day - $crate::accounts::FEEDBACK_DAYS).to_string(),
                    cx_core::period::Date::from_days(day).to_string(),
                );
                $crate::accounts::each_row!(&self.pool, at, facts, only_id,
                    "SELECT account_id, COUNT(*) FROM feedback
                     WHERE account_id IS NOT NULL AND date > $1 AND date <= $2
                       AND (sentiment = -1 OR source = 'complaint') AND ($3 IS NULL OR account_id = $3)
                     GROUP BY account_id",
                    &from, &to;
                    |f, r| { let n: i64 = r.try_get(1)?; f.negative_feedback += n as u64; }
                );
                $crate::accounts::each_row!(&self.pool, at, facts, only_id,
                    "SELECT r.account_id, COUNT(*) FROM responses r JOIN answers a ON a.response_id = r.id
                     WHERE r.account_id IS NOT NULL AND a.sentiment = -1
                       AND r.submitted_day > $1 AND r.submitted_day <= $2 AND ($3 IS NULL OR r.account_id = $3)
                     GROUP BY r.account_id",
                    d - i64::from($crate::accounts::FEEDBACK_DAYS), d;
                    |f, r| { let n: i64 = r.try_get(1)?; f.negative_feedback += n as u64; }
                );
                let end_ts = (d + 1) * 86_400;
                $crate::accounts::each_row!(&self.pool, at, facts, only_id,
                    "SELECT account_id, COUNT(*) FROM tasks
                     WHERE account_id IS NOT NULL AND created_ts < $1
                       AND (resolved_ts IS NULL OR resolved_ts >= $1) AND ($2 IS NULL OR account_id = $2)
                     GROUP BY account_id",
                    end_ts;
                    |f, r| { let n: i64 = r.try_get(1)?; f.open_tasks = n as u64; }
                );
                let recent = cx_core::period::Date::from_days(day - $crate::accounts::ENGAGEMENT_DAYS).to_string();
                $crate::accounts::each_row!(&self.pool, at, facts, only_id,
                    "SELECT account_id, MAX(date), CAST(SUM(CASE WHEN date > $1 THEN 1 ELSE 0 END) AS BIGINT)
                     FROM interactions WHERE account_id IS NOT NULL AND date <= $2 AND ($3 IS NULL OR account_id = $3)
                     GROUP BY account_id",
                    &recent, &to;
                    |f, r| {
                        let last: Option<String> = r.try_get(1)?;
                        f.last_interaction = last.and_then(|s| cx_core::period::Date::parse(&s)).map(cx_core::period::Date::days);
                        let n: i64 = r.try_get(2)?;
                        f.recent_interactions = n as u64;
                    }
                );
                Ok(facts)
            }

            async fn set_assessment(
                &self,
                account: &str,
                contact: &str,
                period: &str,
                ratings: &[Option<i8>; 7],
            ) -> Result<(), $crate::StoreError> {
                let id: Option<i64> = sqlx::query_scalar(
                    "SELECT c.id FROM contacts c JOIN accounts a ON a.id = c.account_id
                     WHERE a.external_id = $1 AND c.external_id = $2",
                )
                .bind(account)
                .bind(contact)
                .fetch_optional(&self.pool)
                .await?;
                let Some(id) = id else {
                    return Err($crate::StoreError::NotFound(format!(
                        "no contact {contact:?} at account {account:?}"
                    )));
                };
                let r = |i: usize| ratings[i].map(i64::from);
                sqlx::query(
                    "INSERT INTO assessments (contact_id, period, satisfaction, loyalty, engagement,
                       information_transfer, daily_guidance, project_support, competitive_preference)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (contact_id, period) DO UPDATE SET
                       satisfaction = COALESCE(excluded.satisfaction, assessments.satisfaction),
                       loyalty = COALESCE(excluded.loyalty, assessments.loyalty),
                       engagement = COALESCE(excluded.engagement, assessments.engagement),
                       information_transfer = COALESCE(excluded.information_transfer, assessments.information_transfer),
                       daily_guidance = COALESCE(excluded.daily_guidance, assessments.daily_guidance),
                       project_support = COALESCE(excluded.project_support, assessments.project_support),
                       competitive_preference = COALESCE(excluded.competitive_preference, assessments.competitive_preference)",
                )
                .bind(id)
                .bind(period)
                .bind(r(0))
                .bind(r(1))
                .bind(r(2))
                .bind(r(3))
                .bind(r(4))
                .bind(r(5))
                .bind(r(6))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn people(
                &self,
                day: i32,
                period: &str,
                only: Option<&str>,
            ) -> Result<Vec<$crate::accounts::PersonFacts>, $crate::StoreError> {
                use std::collections::HashMap;
                use sqlx::Row;
                use $crate::Store;
                use $crate::accounts::{Counted, PersonFacts};
                let counted = $crate::accounts::counted_questions(&self.surveys().await?);
                let mut people: Vec<PersonFacts> = Vec::new();
                let mut at: HashMap<i64, usize> = HashMap::new();
                for r in sqlx::query(
                    "SELECT c.id, c.account_id, c.external_id, c.name, c.role, c.influence
                     FROM contacts c JOIN accounts a ON a.id = c.account_id
                     WHERE ($1 IS NULL OR a.external_id = $1) ORDER BY c.external_id",
                )
                .bind(only)
                .fetch_all(&self.pool)
                .await?
                {
                    let role: Option<String> = r.try_get(4)?;
                    at.insert(r.try_get(0)?, people.len());
                    people.push(PersonFacts {
                        account_id: r.try_get(1)?,
                        code: r.try_get(2)?,
                        name: r.try_get(3)?,
                        role: role.as_deref().and_then(cx_core::model::customer::ContactRole::parse),
                        influence: r.try_get(5)?,
                        assessment: None,
                        last_nps: None,
                        last_csat: None,
                        last_response: None,
                    });
                }
                for r in sqlx::query(
                    "SELECT s.contact_id, s.period, s.satisfaction, s.loyalty, s.engagement,
                            s.information_transfer, s.daily_guidance, s.project_support, s.competitive_preference
                     FROM assessments s JOIN contacts c ON c.id = s.contact_id JOIN accounts a ON a.id = c.account_id
                     WHERE s.period <= $1 AND ($2 IS NULL OR a.external_id = $2)
                     ORDER BY s.contact_id, s.period",
                )
                .bind(period)
                .bind(only)
                .fetch_all(&self.pool)
                .await?
                {
                    let id: i64 = r.try_get(0)?;
                    if let Some(&k) = at.get(&id) {
                        let mut ratings = [None; 7];
                        for (i, slot) in ratings.iter_mut().enumerate() {
                            let v: Option<i64> = r.try_get(i + 2)?;
                            *slot = v.map(|v| v.clamp(-2, 2) as i8);
                        }
                        // Rows come in period order: the last one is the latest.
                        people[k].assessment = Some((r.try_get(1)?, ratings));
                    }
                }
                for r in sqlx::query(
                    "SELECT r.contact_id, r.survey_id, a.question_id, a.value_int, r.submitted_day
                     FROM responses r JOIN answers a ON a.response_id = r.id
                     JOIN contacts c ON c.id = r.contact_id JOIN accounts ac ON ac.id = c.account_id
                     WHERE r.contact_id IS NOT NULL AND a.value_int IS NOT NULL
                       AND r.submitted_day > $1 AND r.submitted_day <= $2 AND ($3 IS NULL OR ac.external_id = $3)
                     ORDER BY r.submitted_day, r.id",
                )
                .bind(i64::from(day - $crate::accounts::WINDOW_DAYS))
                .bind(i64::from(day))
                .bind(only)
                .fetch_all(&self.pool)
                .await?
                {
                    let id: i64 = r.try_get(0)?;
                    let Some(&k) = at.get(&id) else { continue };
                    let p = &mut people[k];
                    let rday: i64 = r.try_get(4)?;
                    p.last_response = Some(rday as i32);
                    let key: (i64, String) = (r.try_get(1)?, r.try_get(2)?);
                    let v: i64 = r.try_get(3)?;
                    match counted.get(&key) {
                        Some(Counted::Nps) => p.last_nps = u8::try_from(v).ok(),
                        Some(Counted::Csat(scale)) => {
                            p.last_csat = u8::try_from(v).ok().map(|v| (v, *scale))
                        }
                        _ => {}
                    }
                }
                Ok(people)
            }
        }
    };
}

pub(crate) use impl_account_store;

/// One account's relationship and composite score.
#[derive(Debug, Clone, Serialize)]
pub struct AccountScore {
    /// The account.
    pub account: AccountRow,
    /// Its key people, flags and relationship score.
    pub relationship: AccountRelationship,
    /// The composite score with its components.
    pub score: CustomerScore,
    /// Raw figures behind the components.
    pub facts: FactsView,
}

/// The raw figures, for pages and JSON.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FactsView {
    /// Survey answers in the trailing year (NPS answers).
    pub nps_n: u64,
    /// NPS.
    pub nps: Option<f64>,
    /// CSAT answers.
    pub csat_n: u64,
    /// CSAT mean index (0–100).
    pub csat_index: Option<f64>,
    /// Revenue in the trailing year (major units).
    pub revenue: f64,
    /// Revenue in the year before.
    pub revenue_prior: f64,
    /// Last purchase.
    pub last_purchase: Option<String>,
    /// Purchase days in the trailing year.
    pub orders_12m: u64,
    /// Tasks open.
    pub open_tasks: u64,
    /// Negative feedback in 180 days.
    pub negative_feedback: u64,
    /// Last response.
    pub last_response: Option<String>,
}

/// The quarter label (`2026-Q1`) of a day: assessments are looked up by it.
pub fn quarter_label(day: i32) -> String {
    Period::of(Date::from_days(day), Interval::Quarter).to_string()
}

/// Scores every account (or one) as of `day`.
pub async fn score_accounts<S: AccountStore>(
    store: &S,
    card: &Scorecard,
    day: i32,
    only: Option<&str>,
) -> Result<Vec<AccountScore>, StoreError> {
    let facts = store.account_facts(day, only).await?;
    let people = store.people(day, &quarter_label(day), only).await?;
    Ok(assemble(facts, people, card, day))
}

/// Puts facts and people together into scores (no I/O; tested on its own).
pub fn assemble(
    facts: Vec<AccountFacts>,
    people: Vec<PersonFacts>,
    card: &Scorecard,
    day: i32,
) -> Vec<AccountScore> {
    let mut by_account: HashMap<i64, Vec<PersonFacts>> = HashMap::new();
    for p in people {
        by_account.entry(p.account_id).or_default().push(p);
    }
    let settings = RelationshipSettings::new(day);
    // Churn of the whole book gives the expected lifespan of the CLV formula.
    let active_before = facts.iter().filter(|f| f.revenue.1 > 0).count();
    let kept = facts
        .iter()
        .filter(|f| f.revenue.1 > 0 && f.revenue.0 > 0)
        .count();
    let churn = if active_before > 0 {
        1.0 - kept as f64 / active_before as f64
    } else {
        0.0
    };
    // Lifespan = 1 / churn, capped at 10 years when (almost) nobody churns.
    let lifespan = if churn > 0.1 { 1.0 / churn } else { 10.0 };
    let mut relationships = Vec::with_capacity(facts.len());
    let mut inputs = Vec::with_capacity(facts.len());
    for f in &facts {
        let persons: Vec<Person> = by_account
            .get(&f.account.id)
            .map(|ps| ps.iter().map(|p| person(p, f)).collect())
            .unwrap_or_default();
        let rel = relationship::account_relationship(&persons, &settings);
        let a = &f.answers;
        let growth = (f.revenue.1 > 0)
            .then(|| 100.0 * (f.revenue.0 - f.revenue.1) as f64 / f.revenue.1 as f64);
        inputs.push(Inputs {
            nps: a.nps_score(),
            csat: a.csat_index(),
            ces: a.ces_index(),
            relationship: rel.score,
            days_since_purchase: f.last_purchase.map(|d| f64::from(day - d)),
            orders_12m: f.last_purchase.map(|_| f.orders_12m as f64),
            growth_pct: growth,
            clv: (f.revenue.0 > 0 || f.revenue.1 > 0)
                .then(|| f.revenue.0 as f64 / 100.0 * lifespan),
            // Complaints are known for every account: none is a fact, not a gap.
            complaints: Some((f.negative_feedback + f.open_tasks) as f64),
        });
        relationships.push(rel);
    }
    let scores = scorecard::score_all(&inputs, card);
    facts
        .into_iter()
        .zip(relationships)
        .zip(scores)
        .map(|((f, relationship), score)| {
            let a = f.answers;
            AccountScore {
                facts: FactsView {
                    nps_n: a.nps.iter().sum(),
                    nps: a.nps_score(),
                    csat_n: a.csat.0,
                    csat_index: a.csat_index(),
                    revenue: f.revenue.0 as f64 / 100.0,
                    revenue_prior: f.revenue.1 as f64 / 100.0,
                    last_purchase: f.last_purchase.map(|d| Date::from_days(d).to_string()),
                    orders_12m: f.orders_12m,
                    open_tasks: f.open_tasks,
                    negative_feedback: f.negative_feedback,
                    last_response: f.last_response,
                },
                account: f.account,
                relationship,
                score,
            }
        })
        .collect()
}

fn person(p: &PersonFacts, account: &AccountFacts) -> Person {
    let assessed = p.assessment.as_ref().map(|a| a.1).unwrap_or([None; 7]);
    let mut derived = [None; 7];
    derived[0] = p
        .last_csat
        .map(|(v, scale)| relationship::derive_satisfaction(v, scale));
    derived[1] = p.last_nps.map(relationship::derive_loyalty);
    // Interactions are recorded per account, so every person of an account
    // shares the account's engagement when nobody assessed theirs.
    if account.last_interaction.is_some() {
        derived[2] = Some(relationship::derive_engagement(
            u32::try_from(account.recent_interactions).unwrap_or(u32::MAX),
        ));
    }
    let (ratings, derived_flags) = relationship::merge_ratings(assessed, derived);
    let last_contact = match (account.last_interaction, p.last_response) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    Person {
        code: p.code.clone(),
        name: p.name.clone(),
        role: p.role,
        influence: p.influence,
        ratings,
        derived: derived_flags,
        last_contact_day: last_contact,
    }
}
