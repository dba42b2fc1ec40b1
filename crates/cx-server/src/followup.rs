//! The loop inside `cxscore serve`: a background task that looks at every new
//! response (woken by the committer after each commit, and every second
//! anyway), opens follow-up tasks by the company's rules, escalates overdue
//! tasks, and delivers webhook events with retries.
//!
//! Everything it decides is recorded in the database first — tasks, queued
//! deliveries and the cursor (the last response looked at) in one
//! transaction — so a restart neither loses nor repeats work: a response is
//! looked at once, a task is opened once (`response:ID`), and a delivery is
//! retried until it succeeds or runs out of attempts.
//!
//! Webhooks are POSTed as JSON with
//! `X-Cxscore-Signature: t=TIMESTAMP,v1=HEX`, where HEX is the HMAC-SHA256 of
//! `TIMESTAMP.BODY` under the webhook's secret ([`signature`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cx_core::account::rules::{self, LoopRules, Signal, TaskPlan};
use cx_core::model::survey::{QuestionKind, SurveyDefinition};
use cx_core::period::{format_timestamp, parse_timestamp};
use cx_store::followup::{Attempt, Delivery, FollowUpStore, LoopResponse, NewTask, StoredTask};
use cx_store::{AnyStore, Store, StoreError};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::unix_now;

pub use crate::tasks::{
    TaskUpdate, TaskView, UpdateError, current_scorecard, loop_figures, task_view, update_task,
};

/// The settings key of the company's loop rules (JSON, `cx_core::account::rules`).
pub const RULES_KEY: &str = "loop_rules";
/// The settings key of the company's scorecard (JSON, `cx_core::account::scorecard`).
pub const SCORECARD_KEY: &str = "scorecard";
const CURSOR_KEY: &str = "loop_cursor";

/// How the loop runs.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    /// Responses older than this many days open no task (an import of last
    /// year's answers should not flood the team).
    pub max_age_days: i64,
    /// First retry after this many seconds, doubling each time.
    pub retry_base_secs: i64,
    /// Attempts before a delivery is given up.
    pub max_attempts: i64,
    /// The address links in events point at.
    pub base_url: String,
    /// The SMTP server for `mailto:` subscriptions.
    pub smtp: Option<crate::mail::SmtpConfig>,
}

impl Default for LoopConfig {
    fn default() -> LoopConfig {
        LoopConfig {
            max_age_days: 14,
            retry_base_secs: 30,
            max_attempts: 12,
            base_url: "http://127.0.0.1:8080".into(),
            smtp: None,
        }
    }
}

/// HMAC-SHA256 (RFC 2104) over `sha2`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let (mut ipad, mut opad) = ([0x36u8; 64], [0x5cu8; 64]);
    for i in 0..64 {
        ipad[i] ^= k[i];
        opad[i] ^= k[i];
    }
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize()
        .into()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The `X-Cxscore-Signature` value of `body` sent at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mac = hmac_sha256(secret.as_bytes(), format!("{timestamp}.{body}").as_bytes());
    format!("t={timestamp},v1={}", hex(&mac))
}

/// The feed of `response.created` bodies for live pages (`/app/live`).
pub type Live = tokio::sync::broadcast::Sender<String>;

/// The loop's handle: wake it when there is new work.
#[derive(Debug, Clone, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    /// Asks the loop to look now.
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// Starts the loop on the current runtime; returns its wake handle.
pub fn start(store: AnyStore, config: LoopConfig, live: Live) -> Wake {
    let wake = Wake::default();
    let notify = wake.0.clone();
    let deliver = Wake::default();
    let deliver_notify = deliver.0.clone();
    {
        let (store, config) = (store.clone(), config.clone());
        tokio::spawn(async move {
            let mut surveys = SurveyCache::default();
            let mut last_sweep = 0;
            loop {
                tokio::select! {
                    () = notify.notified() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                tick(&store, &config, &mut surveys, &mut last_sweep, &live).await;
                deliver.wake();
            }
        });
    }
    // Deliveries run on their own, so a slow or dead receiver never holds up
    // new tasks and escalations.
    tokio::spawn(async move {
        // No redirects: a webhook posts to the address it was given, nowhere else.
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("cxscore/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        loop {
            tokio::select! {
                () = deliver_notify.notified() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            if let Err(e) = deliver_due(&store, &config, &client, unix_now()).await {
                eprintln!("cxscore: webhook and mail delivery: {e}");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    });
    wake
}

/// Survey definitions by id, kept for 10 seconds (a changed survey is seen soon).
#[derive(Debug, Default)]
pub struct SurveyCache(HashMap<i64, (std::time::Instant, Arc<SurveyDefinition>)>);

impl SurveyCache {
    /// A survey's definition.
    pub async fn get(
        &mut self,
        store: &AnyStore,
        id: i64,
    ) -> Result<Arc<SurveyDefinition>, StoreError> {
        if let Some((at, d)) = self.0.get(&id)
            && at.elapsed() < Duration::from_secs(10)
        {
            return Ok(d.clone());
        }
        let d = Arc::new(store.survey(&id.to_string()).await?.definition);
        self.0.insert(id, (std::time::Instant::now(), d.clone()));
        Ok(d)
    }
}

/// The company's rules, or the defaults when none are set (or they no longer parse).
pub async fn current_rules(store: &AnyStore) -> Result<LoopRules, StoreError> {
    Ok(match store.setting(RULES_KEY).await? {
        Some(text) => rules::rules_from_json(&text).unwrap_or_default(),
        None => LoopRules::default(),
    })
}

/// One round: new responses, overdue tasks, the hourly score sweep and
/// scheduled reports. Each step
/// fails on its own: an error is logged and the next step still runs.
pub async fn tick(
    store: &AnyStore,
    config: &LoopConfig,
    surveys: &mut SurveyCache,
    last_sweep: &mut i64,
    live: &Live,
) {
    let now = unix_now();
    let rules = match current_rules(store).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cxscore: follow-up loop: reading the rules: {e}");
            return;
        }
    };
    loop {
        match process_responses(store, config, &rules, surveys, now, Some(live)).await {
            Ok(Looked {
                responses: BATCH, ..
            }) => continue,
            Ok(_) => break,
            Err(e) => {
                eprintln!("cxscore: follow-up loop: new responses: {e}");
                break;
            }
        }
    }
    if let Err(e) = store.escalate_overdue(now, &config.base_url).await {
        eprintln!("cxscore: follow-up loop: escalating overdue tasks: {e}");
    }
    if now - *last_sweep >= 3600 {
        // Retried in an hour either way: a failing sweep must not spin.
        *last_sweep = now;
        if let Err(e) = score_sweep(store, config, &rules, now).await {
            eprintln!("cxscore: follow-up loop: score sweep: {e}");
        }
        if let Err(e) = crate::schedule::run_due(store, now.div_euclid(86_400) as i32).await {
            eprintln!(
                "cxscore: follow-up loop: scheduled reports: {}",
                e.message()
            );
        }
    }
}

const BATCH: usize = 500;

/// The settings key of each account's grade at the last sweep (JSON object).
const GRADES_KEY: &str = "account_grades";

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Sweep {
    /// Tasks opened for a score drop.
    pub opened: usize,
    /// Accounts whose grade changed since the last sweep (`score.changed` events).
    pub changed: usize,
}

/// Scores every account today and at the end of the previous quarter: a drop of
/// more than the rule's points opens a task (once per account and quarter), and
/// a grade that changed since the last sweep sends `score.changed`.
pub async fn score_sweep(
    store: &AnyStore,
    config: &LoopConfig,
    rules: &LoopRules,
    now: i64,
) -> Result<Sweep, StoreError> {
    use cx_core::period::Date;
    use cx_store::accounts::{quarter_label, score_accounts};
    let card = current_scorecard(store).await?;
    let day = now.div_euclid(86_400) as i32;
    let (y, m, _) = Date::from_days(day).ymd();
    let quarter_start = Date::from_ymd(y, (m - 1) / 3 * 3 + 1, 1).map_or(day, Date::days);
    let previous_end = quarter_start - 1;
    let current = score_accounts(store, &card, day, None).await?;
    // Only scores with enough data behind them (a grade, not "insufficient") are compared.
    let graded = |s: &cx_store::accounts::AccountScore| {
        s.score
            .score
            .filter(|_| s.score.grade != cx_core::account::scorecard::Grade::Insufficient)
    };
    let previous: HashMap<String, Option<f64>> = score_accounts(store, &card, previous_end, None)
        .await?
        .iter()
        .map(|s| (s.account.code.clone(), graded(s)))
        .collect();
    let label = quarter_label(previous_end);
    let mut tasks = Vec::new();
    for s in &current {
        let (Some(now_score), Some(Some(before))) = (graded(s), previous.get(&s.account.code))
        else {
            continue;
        };
        let signal = Signal {
            score_drop: Some(before - now_score),
            tier: Some(s.account.tier.clone()).filter(|t| !t.is_empty()),
            at: now,
            ..Signal::default()
        };
        let Some(plan) = rules::evaluate(&signal, rules) else {
            continue;
        };
        let owner = rules::default_owner(Some(&s.account.owner), Some(&s.account.sales_team));
        let team = Some(s.account.sales_team.clone())
            .filter(|t| !t.is_empty())
            .or_else(|| owner.clone());
        let reasons = serde_json::to_value(&plan.reasons).unwrap_or(Value::Null);
        let title = plan.title(true);
        tasks.push(NewTask {
            dedupe_key: format!("drop:{}:{label}", s.account.code),
            account_id: Some(s.account.id),
            response_id: None,
            contact_id: None,
            title: title.clone(),
            reasons: reasons.to_string(),
            priority: plan.priority.as_str().into(),
            owner: owner.clone(),
            team: team.clone(),
            created: now,
            due: plan.due,
            event: Some(json!({
                "event": "task.created",
                "task": {
                    "title": title, "reasons": reasons, "priority": plan.priority.as_str(),
                    "owner": owner, "team": team, "status": "open", "due": format_timestamp(plan.due),
                    "account": s.account.code, "account_name": s.account.name,
                    "app": format!("{}/app/tasks", config.base_url.trim_end_matches('/')),
                }
            })),
        });
    }
    let seen: serde_json::Map<String, Value> = store
        .setting(GRADES_KEY)
        .await?
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let mut grades = serde_json::Map::new();
    let mut events = Vec::new();
    for s in &current {
        let grade = s.score.grade.as_str();
        if let Some(old) = seen.get(&s.account.code).and_then(Value::as_str)
            && old != grade
        {
            events.push((
                "score.changed".to_string(),
                json!({
                    "event": "score.changed",
                    "account": s.account.code, "account_name": s.account.name, "tier": s.account.tier,
                    "from": old, "to": grade, "score": s.score.score, "health": s.score.health.as_str(),
                    "app": format!("{}/app/accounts/{}", config.base_url.trim_end_matches('/'), s.account.code),
                })
                .to_string(),
            ));
        }
        grades.insert(s.account.code.clone(), Value::from(grade));
    }
    // The grades are remembered in the same transaction as the events they cause.
    let opened = store
        .open_tasks(
            &tasks,
            &events,
            None,
            &[(GRADES_KEY.to_string(), Value::Object(grades).to_string())],
        )
        .await?
        .iter()
        .filter(|id| id.is_some())
        .count();
    Ok(Sweep {
        opened,
        changed: events.len(),
    })
}

/// What one round over new responses did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Looked {
    /// Responses looked at.
    pub responses: usize,
    /// Tasks opened for them.
    pub opened: usize,
}

/// Looks at up to [`BATCH`] new responses.
pub async fn process_responses(
    store: &AnyStore,
    config: &LoopConfig,
    rules: &LoopRules,
    surveys: &mut SurveyCache,
    now: i64,
    live: Option<&Live>,
) -> Result<Looked, StoreError> {
    let cursor = store
        .setting(CURSOR_KEY)
        .await?
        .and_then(|c| c.parse::<i64>().ok())
        .unwrap_or(0);
    let fresh = store.responses_for_loop(cursor, BATCH as i64).await?;
    let Some(last) = fresh.last().map(|r| r.id) else {
        return Ok(Looked::default());
    };
    let mut tasks = Vec::new();
    let mut events = Vec::new();
    for r in &fresh {
        let def = surveys.get(store, r.survey_id).await?;
        let at = parse_timestamp(&r.submitted_at).unwrap_or(now);
        // Old answers (an import of last year's survey) neither open tasks nor
        // notify anyone: they are history, not news.
        if now - at > config.max_age_days * 86_400 {
            continue;
        }
        let signal = signal_of(r, &def, at);
        events.push((
            "response.created".to_string(),
            response_event(r, &def, &signal).to_string(),
        ));
        if def.anonymous {
            continue;
        }
        if let Some(plan) = rules::evaluate(&signal, rules) {
            tasks.push(new_task(r, &def, &plan, config, now));
        }
    }
    match store
        .open_tasks(&tasks, &events, Some((cursor, last)), &[])
        .await
    {
        Ok(ids) => {
            // Pages showing the live feed get what was just committed and looked at.
            if let Some(live) = live {
                for (_, body) in &events {
                    let _ = live.send(body.clone());
                }
            }
            Ok(Looked {
                responses: fresh.len(),
                opened: ids.iter().filter(|id| id.is_some()).count(),
            })
        }
        // Another process (a second server, `tasks scan`) took these responses.
        Err(StoreError::Conflict(_)) => Ok(Looked::default()),
        Err(e) => Err(e),
    }
}

/// What the rules see in a response.
pub fn signal_of(r: &LoopResponse, def: &SurveyDefinition, at: i64) -> Signal {
    let mut signal = Signal {
        tier: r
            .account
            .as_ref()
            .map(|a| a.3.clone())
            .filter(|t| !t.is_empty()),
        at,
        ..Signal::default()
    };
    for (qid, value, text, sentiment) in &r.answers {
        let Some(q) = def.questions.iter().find(|q| q.id == *qid) else {
            continue;
        };
        match (q.kind, value) {
            (QuestionKind::Nps, Some(v)) if signal.nps.is_none() => {
                signal.nps = u8::try_from(*v).ok();
            }
            (QuestionKind::Csat, Some(v)) if signal.csat.is_none() => {
                let scale = q.rating_scale().map_or(5, |s| s.max);
                signal.csat = u8::try_from(*v).ok().zip(u8::try_from(scale).ok());
            }
            (QuestionKind::Text, _)
                if *sentiment == Some(-1) && signal.negative_comment.is_none() =>
            {
                signal.negative_comment = text.clone();
            }
            _ => {}
        }
    }
    signal
}

/// The task `plan` asks for, opened at `now`, with its `task.created` event.
pub fn new_task(
    r: &LoopResponse,
    def: &SurveyDefinition,
    plan: &TaskPlan,
    config: &LoopConfig,
    now: i64,
) -> NewTask {
    let zh = def.languages.first().is_none_or(|l| l == "zh");
    let (owner, team) = match &r.account {
        Some((_, _, _, _, owner, team)) => (
            rules::default_owner(Some(owner), Some(team)),
            Some(team.clone()).filter(|t| !t.is_empty()),
        ),
        None => (None, None),
    };
    let team = team.or_else(|| owner.clone());
    let reasons = serde_json::to_value(&plan.reasons).unwrap_or(Value::Null);
    let title = plan.title(zh);
    let event = json!({
        "event": "task.created",
        "task": {
            "title": title,
            "reasons": reasons,
            "priority": plan.priority.as_str(),
            "owner": owner,
            "team": team,
            "status": "open",
            "due": format_timestamp(plan.due),
            "account": r.account.as_ref().map(|a| &a.1),
            "account_name": r.account.as_ref().map(|a| &a.2),
            "contact": r.contact.as_ref().map(|c| &c.1),
            "response_id": r.id,
            "survey": r.survey,
            "app": format!("{}/app/tasks", config.base_url.trim_end_matches('/')),
        }
    });
    NewTask {
        dedupe_key: format!("response:{}", r.id),
        account_id: r.account.as_ref().map(|a| a.0),
        response_id: Some(r.id),
        contact_id: r.contact.as_ref().map(|c| c.0),
        title,
        reasons: reasons.to_string(),
        priority: plan.priority.as_str().into(),
        owner,
        team,
        created: now,
        due: plan.due,
        event: Some(event),
    }
}

fn response_event(r: &LoopResponse, def: &SurveyDefinition, signal: &Signal) -> Value {
    let identity = !def.anonymous;
    json!({
        "event": "response.created",
        "response": {
            "id": r.id,
            "survey": r.survey,
            "survey_id": r.survey_id,
            "comment": r.answers.iter().find_map(|(_, _, text, _)| text.as_ref()).map(|t| t.chars().take(140).collect::<String>()),
            "submitted_at": r.submitted_at,
            "channel": r.channel,
            "account": if identity { r.account.as_ref().map(|a| a.1.clone()) } else { None },
            "contact": if identity { r.contact.as_ref().map(|c| c.1.clone()) } else { None },
            "nps": signal.nps,
            "csat": signal.csat.map(|c| c.0),
            "negative_comment": signal.negative_comment.is_some(),
        }
    })
}

/// The body of a task event (`task.overdue`, `task.resolved`, …).
pub fn task_event(event: &str, task: &StoredTask, config: &LoopConfig) -> Value {
    json!({
        "event": event,
        "task": task,
        "app": format!("{}/app/tasks/{}", config.base_url.trim_end_matches('/'), task.id),
    })
}

/// Delivers what is due, a few at a time.
async fn deliver_due(
    store: &AnyStore,
    config: &LoopConfig,
    client: &reqwest::Client,
    now: i64,
) -> Result<(), StoreError> {
    loop {
        let due = store.due_deliveries(now, 16).await?;
        if due.is_empty() {
            return Ok(());
        }
        let hooks: HashMap<i64, (String, String)> = store
            .webhooks()
            .await?
            .into_iter()
            .map(|h| (h.id, (h.url, h.secret)))
            .collect();
        let attempts = futures_util::future::join_all(due.iter().map(|d| {
            let hook = hooks.get(&d.webhook_id).cloned();
            async move { (d, attempt(client, hook, d, config, now).await) }
        }))
        .await;
        for (d, a) in attempts {
            store.record_attempt(d.id, &a, unix_now()).await?;
        }
        if due.len() < 16 {
            return Ok(());
        }
    }
}

async fn attempt(
    client: &reqwest::Client,
    hook: Option<(String, String)>,
    d: &Delivery,
    config: &LoopConfig,
    now: i64,
) -> Attempt {
    let Some((url, secret)) = hook else {
        return Attempt {
            code: None,
            error: Some("webhook removed".into()),
            delivered: false,
            retry_at: None,
        };
    };
    if let Some(to) = url.strip_prefix("mailto:") {
        let outcome = match &config.smtp {
            Some(smtp) => {
                let to = to.split(',').map(|a| a.trim().to_string()).collect();
                let mail = crate::mail::event_mail(to, &d.event, &d.payload);
                crate::mail::send(smtp, &mail, now, &format!("delivery-{}", d.id)).await
            }
            None => Err(
                "no SMTP server configured (cxscore serve --smtp URL --mail-from ADDRESS)".into(),
            ),
        };
        return match outcome {
            Ok(()) => Attempt {
                code: Some(250),
                error: None,
                delivered: true,
                retry_at: None,
            },
            Err(e) => retry(config, d, None, e, now),
        };
    }
    let sent = client
        .post(&url)
        .header("Content-Type", "application/json")
        .header("X-Cxscore-Event", &d.event)
        .header("X-Cxscore-Delivery", d.id.to_string())
        .header("X-Cxscore-Signature", signature(&secret, now, &d.payload))
        .body(d.payload.clone())
        .send()
        .await;
    let (code, error) = match sent {
        Ok(resp) if resp.status().is_success() => {
            return Attempt {
                code: Some(i64::from(resp.status().as_u16())),
                error: None,
                delivered: true,
                retry_at: None,
            };
        }
        Ok(resp) => (
            Some(i64::from(resp.status().as_u16())),
            format!("HTTP {}", resp.status()),
        ),
        Err(e) => (None, e.to_string()),
    };
    retry(config, d, code, error, now)
}

/// A failed attempt: retried after a doubling delay (at most six hours) until
/// `max_attempts`.
fn retry(config: &LoopConfig, d: &Delivery, code: Option<i64>, error: String, now: i64) -> Attempt {
    // Attempts so far, this one included.
    let n = d.attempts + 1;
    let delay = (config.retry_base_secs << (n - 1).clamp(0, 20)).min(6 * 3600);
    Attempt {
        code,
        error: Some(error),
        delivered: false,
        retry_at: (n < config.max_attempts).then_some(now + delay),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        assert_eq!(
            signature("Jefe", 7, "{}"),
            format!("t=7,v1={}", hex(&hmac_sha256(b"Jefe", b"7.{}")))
        );
    }
}
