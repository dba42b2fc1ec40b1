//! Survey programmes at work: the scheduler inside `cxscore serve` that draws
//! each wave when it is due, sends invitations, reminders and reward mails
//! (SMTP, or the company's SMS/WeChat gateway), and grants rewards; and the
//! response-rate funnel by wave, channel and segment.
//!
//! Everything the scheduler does is recorded before it is done: a wave is
//! drawn in one transaction with its invitations and messages; a message is
//! claimed before it is sent and its outcome recorded after, and a message
//! found claimed at start-up is marked failed instead of being sent again. A
//! restart in the middle of a wave therefore resumes it and sends nobody a
//! second invitation.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use cx_core::model::survey::{QuestionKind, SurveyDefinition};
use cx_core::period::Date;
use cx_core::programme::{
    Cadence, Channel, ContactRules, Funnel, ProgrammeDefinition, Reward, Share, draw,
};
use cx_store::followup::FollowUpStore;
use cx_store::programmes::{
    FunnelRow, MessageOutcome, NewSend, NewWave, OutMessage, ProgrammeStore, StoredProgramme,
};
use cx_store::{AnyStore, Store, StoreError};
use serde::Serialize;

use crate::auth::hash_secret;
use crate::followup::{LoopConfig, hmac_sha256, signature};
use crate::mail::{self, Mail};
use crate::unix_now;

/// The settings key of the secret invitation tokens are derived from.
const SECRET_KEY: &str = "programme_secret";
/// The settings key of the contact rules.
pub const RULES_KEY: &str = "contact_rules";
/// Messages sent per round.
const SEND_BATCH: i64 = 50;
/// Attempts before a message is given up.
const MAX_ATTEMPTS: i64 = 8;

/// The secret invitation tokens are derived from, made once per database.
pub async fn secret(store: &AnyStore) -> Result<String, StoreError> {
    if let Some(s) = store.setting(SECRET_KEY).await? {
        return Ok(s);
    }
    let fresh = crate::auth::random_token();
    store.init_setting(SECRET_KEY, &fresh).await
}

/// The invitation token of a person in a wave: derived, not stored (the
/// database keeps its hash), so reminders and printed sheets carry the same link.
pub fn invitation_token(secret: &str, programme: i64, wave: &str, contact: i64) -> String {
    let mac = hmac_sha256(
        secret.as_bytes(),
        format!("invitation|{programme}|{wave}|{contact}").as_bytes(),
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac)
}

/// The company's contact rules, or the defaults.
pub async fn contact_rules(store: &AnyStore) -> Result<ContactRules, StoreError> {
    Ok(match store.setting(RULES_KEY).await? {
        Some(t) => ContactRules::from_json(&t).unwrap_or_default(),
        None => ContactRules::default(),
    })
}

/// Seconds a time zone is ahead of UTC at `ts`: an IANA name (`Asia/Shanghai`,
/// daylight saving included) or a fixed offset (`+08:00`, `UTC-5`). None
/// when the name is unknown.
pub fn tz_offset(name: &str, ts: i64) -> Option<i64> {
    use chrono::{Offset, TimeZone};
    let name = name.trim();
    let fixed = name
        .strip_prefix("UTC")
        .or_else(|| name.strip_prefix("GMT"))
        .unwrap_or(name);
    if fixed.is_empty() {
        return Some(0);
    }
    if let Some(sign) = fixed
        .strip_prefix('+')
        .map(|r| (1, r))
        .or_else(|| fixed.strip_prefix('-').map(|r| (-1, r)))
    {
        let (s, rest) = sign;
        let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
        let (h, m) = (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?);
        return (h <= 14 && m < 60).then_some(s * (h * 3600 + m * 60));
    }
    let tz: chrono_tz::Tz = name.parse().ok()?;
    let at = chrono::Utc.timestamp_opt(ts, 0).single()?;
    Some(
        tz.offset_from_utc_datetime(&at.naive_utc())
            .fix()
            .local_minus_utc() as i64,
    )
}

/// A stored programme's definition.
pub fn definition(p: &StoredProgramme) -> Result<ProgrammeDefinition, String> {
    ProgrammeDefinition::from_json(&p.definition)
}

/// What one round of planning did for a programme.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Planned {
    /// Programme slug.
    pub programme: String,
    /// Wave label.
    pub wave: String,
    /// People invited.
    pub invited: usize,
}

/// Draws every wave that is due and not yet drawn.
pub async fn plan_due(store: &AnyStore, now: i64) -> Result<Vec<Planned>, StoreError> {
    let today = Date::from_days(now.div_euclid(86_400) as i32);
    let rules = contact_rules(store).await?;
    let mut planned = Vec::new();
    let mut candidates = None;
    for p in store.programmes().await? {
        if p.status != "active" {
            continue;
        }
        let def = match definition(&p) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("cxscore: programme {}: {e}", p.slug);
                continue;
            }
        };
        match def.cadence {
            Cadence::Trigger { event, delay_days } => {
                let kind = match event {
                    cx_core::programme::Trigger::Transaction => "transaction",
                    cx_core::programme::Trigger::TaskResolved => "task_resolved",
                };
                if let Some(w) =
                    plan_triggered(store, &p, &def, &rules, kind, delay_days, now).await?
                {
                    planned.push(w);
                }
            }
            _ => {
                let Some((label, start)) = def.cadence.wave_on(today) else {
                    continue;
                };
                if store.wave_exists(p.id, &label).await? {
                    continue;
                }
                if candidates.is_none() {
                    candidates = Some(store.candidates(None).await?);
                }
                let all = candidates.as_deref().unwrap_or_default();
                let starts = (start.days() as i64 * 86_400).max(now);
                if let Some(w) = plan_one(
                    store,
                    &p,
                    &def,
                    &rules,
                    &label,
                    all,
                    today.days(),
                    starts,
                    &[],
                )
                .await?
                {
                    planned.push(w);
                }
            }
        }
    }
    Ok(planned)
}

#[allow(clippy::too_many_arguments)]
async fn plan_one(
    store: &AnyStore,
    p: &StoredProgramme,
    def: &ProgrammeDefinition,
    rules: &ContactRules,
    label: &str,
    candidates: &[cx_core::programme::Candidate],
    today: i32,
    starts: i64,
    settings: &[(String, String)],
) -> Result<Option<Planned>, StoreError> {
    let secret = secret(store).await?;
    let d = draw(def, rules, label, candidates, today);
    let sends: Vec<NewSend> = d
        .drawn
        .iter()
        .map(|k| {
            let c = &candidates[*k];
            NewSend {
                contact_id: c.contact_id,
                token_hash: hash_secret(&invitation_token(&secret, p.id, label, c.contact_id)),
                channel: def.channel.as_str().to_string(),
                due_ts: starts,
                status: if def.channel.is_sent() {
                    "pending"
                } else {
                    "sent"
                }
                .into(),
            }
        })
        .collect();
    let stats = serde_json::json!({
        "audience": d.audience,
        "invited": d.drawn.len(),
        "left_out": {
            "suppressed": d.suppressed,
            "unreachable": d.unreachable,
            "fatigue": d.fatigue,
            "account_cap": d.account_cap,
            "not_sampled": d.not_sampled,
        },
        "seed": def.seed,
    });
    let wave = NewWave {
        programme_id: p.id,
        label: label.to_string(),
        starts_ts: starts,
        stats: stats.to_string(),
        today,
    };
    Ok(store
        .plan_wave(p.survey_id, &wave, &sends, settings)
        .await?
        .map(|_| Planned {
            programme: p.slug.clone(),
            wave: label.to_string(),
            invited: sends.len(),
        }))
}

async fn plan_triggered(
    store: &AnyStore,
    p: &StoredProgramme,
    def: &ProgrammeDefinition,
    rules: &ContactRules,
    kind: &str,
    delay_days: u32,
    now: i64,
) -> Result<Option<Planned>, StoreError> {
    let key = format!("programme_cursor:{}", p.id);
    let created = cx_core::period::parse_timestamp(&p.created_at)
        .map(|t| t.div_euclid(86_400) as i32)
        .unwrap_or(0);
    let after: i64 = store
        .setting(&key)
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let events = store.trigger_events(kind, after, 2000).await?;
    let Some(last) = events.last().map(|e| e.0) else {
        return Ok(None);
    };
    // Events from before the programme existed move the cursor and ask nobody.
    let recent: Vec<_> = events.iter().filter(|e| e.3 >= created).collect();
    let settings = [(key.clone(), last.to_string())];
    if recent.is_empty() {
        store.set_setting(&key, &last.to_string()).await?;
        return Ok(None);
    }
    let accounts: std::collections::HashSet<i64> = recent
        .iter()
        .filter(|e| e.2.is_none())
        .filter_map(|e| e.1)
        .collect();
    let contacts: std::collections::HashSet<i64> = recent.iter().filter_map(|e| e.2).collect();
    let people: Vec<_> = store
        .candidates(None)
        .await?
        .into_iter()
        .filter(|c| contacts.contains(&c.contact_id) || accounts.contains(&c.account_id))
        .collect();
    let day = recent.iter().map(|e| e.3).max().unwrap_or(created);
    let label = format!("{} #{}", Date::from_days(day), recent[0].0);
    let starts = ((day as i64 + delay_days as i64) * 86_400).max(now);
    let today = now.div_euclid(86_400) as i32;
    let planned = plan_one(
        store, p, def, rules, &label, &people, today, starts, &settings,
    )
    .await?;
    Ok(planned)
}

/// Queues reminders for every programme that has them.
pub async fn queue_reminders(store: &AnyStore, now: i64) -> Result<u64, StoreError> {
    let mut n = 0;
    for p in store.programmes().await? {
        let Ok(def) = definition(&p) else { continue };
        if p.status == "active" && def.reminders.max > 0 && def.channel.is_sent() {
            n += store
                .queue_reminders(
                    p.id,
                    def.reminders.after_days as i64 * 86_400,
                    def.reminders.max,
                    now,
                )
                .await?;
        }
    }
    Ok(n)
}

/// Gives the reward of an answered invitation (once), queuing its mail.
pub async fn reward(
    store: &AnyStore,
    invitation: i64,
    def: &ProgrammeDefinition,
    now: i64,
) -> Result<Option<cx_store::programmes::StoredReward>, StoreError> {
    let (pool, points) = match &def.reward {
        Some(Reward::Coupon(pool)) => (Some(pool.as_str()), None),
        Some(Reward::Points(p)) => (None, Some(*p)),
        None => return Ok(None),
    };
    let channel = (def.channel == Channel::Email).then_some("email");
    // Two people finishing at the same moment may reach for the same free
    // code; the loser's transaction fails and takes the next one.
    let mut tries = 0;
    loop {
        match store
            .grant_reward(invitation, pool, points, channel, now)
            .await
        {
            Err(StoreError::Conflict(_)) if tries < 3 => tries += 1,
            other => return other,
        }
    }
}

/// Rewards for completions the thank-you page did not see (the respondent
/// closed it, or the code ran out and was topped up).
pub async fn grant_rewards(store: &AnyStore, now: i64) -> Result<u64, StoreError> {
    let mut n = 0;
    for (invitation, _, _, text) in store.awaiting_reward(200).await? {
        let Ok(def) = ProgrammeDefinition::from_json(&text) else {
            continue;
        };
        if reward(store, invitation, &def, now).await?.is_some() {
            n += 1;
        }
    }
    Ok(n)
}

/// Links of an invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    /// The survey.
    pub survey: String,
    /// Never ask again.
    pub unsubscribe: String,
    /// The open-tracking image.
    pub pixel: String,
}

/// The links of an invitation token.
pub fn links(base: &str, survey: &str, token: &str, lang: &str) -> Links {
    let base = base.trim_end_matches('/');
    Links {
        survey: format!("{base}/s/{survey}?t={token}&lang={lang}"),
        unsubscribe: format!("{base}/u/{token}?lang={lang}"),
        pixel: format!("{base}/o/{token}.gif"),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The invitation (or reminder, when `reminder` > 0) mail: the person's name,
/// the survey's NPS question with 0–10 buttons that open the survey with the
/// answer filled in, the link, and an unsubscribe link honoured forever.
pub fn invitation_mail(
    to: &str,
    name: &str,
    survey: &SurveyDefinition,
    lang: &str,
    links: &Links,
    reminder: u32,
) -> Mail {
    let zh = lang == "zh";
    let title = survey.title.get(lang);
    let nps = survey
        .questions
        .iter()
        .find(|q| matches!(q.kind, QuestionKind::Nps));
    let subject = match (zh, reminder) {
        (true, 0) => format!("邀请您参与：{title}"),
        (true, _) => format!("提醒：{title}（只需一分钟）"),
        (false, 0) => format!("Your opinion, please: {title}"),
        (false, _) => format!("Reminder: {title} (one minute)"),
    };
    let greeting = if zh {
        format!("{name}，您好：")
    } else {
        format!("Dear {name},")
    };
    let intro = match (zh, reminder) {
        (true, 0) => "感谢您一直以来的合作。我们希望听听您的意见，只需一两分钟。",
        (true, _) => "前几天我们邀请您参与一份简短的问卷，如果您还没来得及回答，现在只需一两分钟。",
        (false, 0) => {
            "Thank you for working with us. We would like to hear what you think; it takes a minute or two."
        }
        (false, _) => {
            "A few days ago we asked for your opinion. If you have not had a moment yet, it takes a minute or two."
        }
    };
    let (open, unsubscribe, ignore) = if zh {
        (
            "打开问卷",
            "不想再收到问卷邀请？退订",
            "点击分数即可打开问卷，您的选择已为您填好。",
        )
    } else {
        (
            "Open the survey",
            "Do not want survey invitations? Unsubscribe",
            "Click a score to open the survey with your answer filled in.",
        )
    };
    let mut body = format!("{greeting}\n\n{intro}\n\n");
    let mut buttons = String::new();
    if let Some(q) = nps {
        let text = q.text.get(lang);
        body.push_str(&format!("{text}\n"));
        for k in 0..=10 {
            body.push_str(&format!("  {k}: {}&q_{}={k}\n", links.survey, q.id));
            buttons.push_str(&format!(
                "<a href=\"{}&amp;q_{}={k}\" style=\"display:inline-block;min-width:28px;padding:8px 4px;margin:2px;border:1px solid #888;border-radius:4px;text-align:center;text-decoration:none;color:#111\">{k}</a>",
                html_escape(&links.survey),
                html_escape(&q.id)
            ));
        }
        body.push('\n');
        buttons = format!(
            "<p><strong>{}</strong></p><p>{buttons}</p><p style=\"color:#555;font-size:13px\">{ignore}</p>",
            html_escape(text)
        );
    }
    body.push_str(&format!(
        "{open}: {}\n\n{unsubscribe}: {}\n",
        links.survey, links.unsubscribe
    ));
    let html = format!(
        "<!doctype html><html lang=\"{lang}\"><body style=\"font-family:sans-serif;max-width:560px\">\
         <p>{}</p><p>{}</p>{buttons}\
         <p><a href=\"{}\">{open}</a></p>\
         <p style=\"color:#777;font-size:12px\"><a href=\"{}\">{unsubscribe}</a></p>\
         <img src=\"{}\" width=\"1\" height=\"1\" alt=\"\"></body></html>",
        html_escape(&greeting),
        html_escape(intro),
        html_escape(&links.survey),
        html_escape(&links.unsubscribe),
        html_escape(&links.pixel),
    );
    Mail {
        to: vec![to.to_string()],
        subject,
        body,
        html: Some(html),
        headers: vec![
            (
                "List-Unsubscribe".into(),
                format!("<{}>", links.unsubscribe),
            ),
            (
                "List-Unsubscribe-Post".into(),
                "List-Unsubscribe=One-Click".into(),
            ),
        ],
    }
}

/// The text of a reward, in the respondent's language.
pub fn reward_text(r: &cx_store::programmes::StoredReward, lang: &str) -> String {
    match (&r.code, r.points, lang == "zh") {
        (Some(code), _, true) => format!("您的优惠券码：{code}"),
        (Some(code), _, false) => format!("Your coupon code: {code}"),
        (None, Some(p), true) => format!("已为您累计 {p} 积分。"),
        (None, Some(p), false) => format!("{p} points have been credited to you."),
        (None, None, _) => String::new(),
    }
}

fn reward_mail(to: &str, name: &str, title: &str, text: &str, lang: &str) -> Mail {
    let zh = lang == "zh";
    let subject = if zh {
        format!("感谢您参与：{title}")
    } else {
        format!("Thank you for answering: {title}")
    };
    let body = if zh {
        format!("{name}，您好：\n\n感谢您抽出时间回答问卷。{text}\n")
    } else {
        format!("Dear {name},\n\nThank you for your answers. {text}\n")
    };
    Mail::text(vec![to.to_string()], subject, body)
}

/// Where the scheduler sends and what it links to.
#[derive(Debug, Clone)]
pub struct SendConfig {
    /// Address links point at.
    pub base_url: String,
    /// The SMTP server.
    pub smtp: Option<mail::SmtpConfig>,
}

impl From<&LoopConfig> for SendConfig {
    fn from(c: &LoopConfig) -> SendConfig {
        SendConfig {
            base_url: c.base_url.clone(),
            smtp: c.smtp.clone(),
        }
    }
}

/// What a round of sending did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Sent {
    /// Sent.
    pub sent: u64,
    /// Bounced, failed or to be retried.
    pub failed: u64,
    /// Skipped (answered meanwhile, unsubscribed).
    pub skipped: u64,
    /// Deferred to the end of quiet hours.
    pub deferred: u64,
}

/// Sends the messages that are due, one at a time, each claimed first.
pub async fn send_due(
    store: &AnyStore,
    config: &SendConfig,
    client: &reqwest::Client,
    now: i64,
) -> Result<Sent, StoreError> {
    let rules = contact_rules(store).await?;
    let secret = secret(store).await?;
    let mut surveys: HashMap<i64, Arc<SurveyDefinition>> = HashMap::new();
    let mut out = Sent::default();
    loop {
        let due = store.due_messages(now, SEND_BATCH).await?;
        for m in &due {
            let outcome = prepare(store, &rules, m, now);
            let outcome = match outcome {
                Some(o) => o,
                None => {
                    if !store.claim_message(m.id, unix_now()).await? {
                        continue;
                    }
                    let survey = match surveys.get(&m.survey_id) {
                        Some(s) => s.clone(),
                        None => {
                            let s =
                                Arc::new(store.survey(&m.survey_id.to_string()).await?.definition);
                            surveys.insert(m.survey_id, s.clone());
                            s
                        }
                    };
                    deliver(config, client, &secret, m, &survey, unix_now()).await
                }
            };
            match &outcome {
                MessageOutcome::Sent => out.sent += 1,
                MessageOutcome::Skipped(_) => out.skipped += 1,
                MessageOutcome::Deferred(_) => out.deferred += 1,
                _ => out.failed += 1,
            }
            store.finish_message(m.id, &outcome, now).await?;
        }
        if (due.len() as i64) < SEND_BATCH {
            return Ok(out);
        }
    }
}

/// An outcome decided without sending: answered, unsubscribed, paused, quiet hours.
fn prepare(
    _store: &AnyStore,
    rules: &ContactRules,
    m: &OutMessage,
    now: i64,
) -> Option<MessageOutcome> {
    if m.kind != "reward" && m.answered {
        return Some(MessageOutcome::Skipped("answered".into()));
    }
    if m.kind != "reward"
        && let Some(why) = &m.suppressed
    {
        return Some(MessageOutcome::Skipped(why.clone()));
    }
    if m.programme_status != "active" && m.kind != "reward" {
        return Some(MessageOutcome::Deferred(now + 600));
    }
    let zone = m
        .time_zone
        .as_deref()
        .filter(|z| !z.trim().is_empty())
        .unwrap_or(&rules.default_time_zone);
    let offset = tz_offset(zone, now)
        .or_else(|| tz_offset(&rules.default_time_zone, now))
        .unwrap_or(0);
    let next = rules.next_allowed(now, offset);
    (next > now).then_some(MessageOutcome::Deferred(next))
}

async fn deliver(
    config: &SendConfig,
    client: &reqwest::Client,
    secret: &str,
    m: &OutMessage,
    survey: &SurveyDefinition,
    now: i64,
) -> MessageOutcome {
    let def = match ProgrammeDefinition::from_json(&m.definition) {
        Ok(d) => d,
        Err(e) => return MessageOutcome::Failed(e),
    };
    let lang = def
        .language
        .clone()
        .or_else(|| survey.languages.first().cloned())
        .unwrap_or_else(|| "zh".into());
    let lang = if lang.starts_with("zh") { "zh" } else { "en" };
    let token = invitation_token(secret, m.programme_id, &m.wave, m.contact_id);
    let links = links(&config.base_url, &m.survey, &token, lang);
    let reminder: u32 = m
        .kind
        .strip_prefix("reminder-")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let reward_text = m
        .reward
        .as_ref()
        .map(|(code, points)| {
            reward_text(
                &cx_store::programmes::StoredReward {
                    id: 0,
                    invitation_id: m.invitation_id,
                    contact: m.contact.clone(),
                    name: m.name.clone(),
                    kind: String::new(),
                    code: code.clone(),
                    points: *points,
                    wave: m.wave.clone(),
                    given_at: String::new(),
                },
                lang,
            )
        })
        .unwrap_or_default();
    let result = match m.channel.as_str() {
        "email" => {
            let Some(smtp) = &config.smtp else {
                return retry(
                    m,
                    now,
                    "no SMTP server configured (cxscore serve --smtp URL --mail-from ADDRESS)",
                );
            };
            let Some(to) = m.email.as_deref().filter(|e| !e.trim().is_empty()) else {
                return MessageOutcome::Failed("no email address".into());
            };
            let mail = if m.kind == "reward" {
                reward_mail(to, &m.name, survey.title.get(lang), &reward_text, lang)
            } else {
                invitation_mail(to, &m.name, survey, lang, &links, reminder)
            };
            mail::send(smtp, &mail, now, &format!("programme-{}", m.id)).await
        }
        "sms" | "wechat" => {
            let Some(gateway) = &def.gateway else {
                return MessageOutcome::Failed("the programme has no gateway".into());
            };
            let body = serde_json::json!({
                "channel": m.channel,
                "to": m.phone,
                "contact": m.contact,
                "name": m.name,
                "kind": m.kind,
                "language": lang,
                "programme": def.slug,
                "wave": m.wave,
                "link": links.survey,
                "unsubscribe": links.unsubscribe,
                "text": gateway_text(&m.name, survey.title.get(lang), &links.survey, lang, reminder, &m.kind, &reward_text),
            })
            .to_string();
            let sent = client
                .post(&gateway.url)
                .header("content-type", "application/json")
                .header(
                    "x-cxscore-signature",
                    signature(&gateway.secret, now, &body),
                )
                .body(body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => Ok(()),
                // The gateway refused the number for good.
                Ok(r) if r.status().as_u16() == 400 || r.status().as_u16() == 422 => Err(format!(
                    "SMTP: 5{} gateway refused the recipient",
                    r.status().as_u16()
                )),
                Ok(r) => Err(format!("gateway answered {}", r.status())),
                Err(e) => Err(format!("gateway: {e}")),
            }
        }
        other => return MessageOutcome::Failed(format!("channel {other} is not sent")),
    };
    match result {
        Ok(()) => MessageOutcome::Sent,
        // A permanent refusal (5xx) is a bounce: the address is never used again.
        Err(e) if e.starts_with("SMTP: 5") => MessageOutcome::Bounced(e),
        Err(e) => retry(m, now, &e),
    }
}

fn retry(m: &OutMessage, now: i64, error: &str) -> MessageOutcome {
    if m.attempts + 1 >= MAX_ATTEMPTS {
        MessageOutcome::Failed(format!("{error} (after {MAX_ATTEMPTS} attempts)"))
    } else {
        MessageOutcome::Retry(now + 60 * (1 << m.attempts.clamp(0, 10)), error.to_string())
    }
}

fn gateway_text(
    name: &str,
    title: &str,
    link: &str,
    lang: &str,
    reminder: u32,
    kind: &str,
    reward: &str,
) -> String {
    match (lang == "zh", kind == "reward", reminder > 0) {
        (true, true, _) => format!("{name}，感谢参与「{title}」。{reward}"),
        (false, true, _) => format!("{name}, thank you for answering \"{title}\". {reward}"),
        (true, false, false) => {
            format!("{name}，邀请您参与「{title}」，约 1 分钟：{link} 回复 TD 退订")
        }
        (true, false, true) => format!("{name}，提醒您参与「{title}」：{link} 回复 TD 退订"),
        (false, false, false) => format!("{name}, a one-minute survey, \"{title}\": {link}"),
        (false, false, true) => format!("{name}, a reminder: \"{title}\": {link}"),
    }
}

/// One round of the scheduler: plan, remind, reward, send. Each step fails on its own.
pub async fn tick(store: &AnyStore, config: &SendConfig, client: &reqwest::Client, now: i64) {
    if let Err(e) = plan_due(store, now).await {
        eprintln!("cxscore: programmes: drawing waves: {e}");
    }
    if let Err(e) = queue_reminders(store, now).await {
        eprintln!("cxscore: programmes: reminders: {e}");
    }
    if let Err(e) = grant_rewards(store, now).await {
        eprintln!("cxscore: programmes: rewards: {e}");
    }
    if let Err(e) = send_due(store, config, client, now).await {
        eprintln!("cxscore: programmes: sending: {e}");
    }
}

/// A client for gateways: no redirects, a timeout.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("cxscore/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// Starts the scheduler: first marks messages a stopped process left
/// claimed as failed (never sent twice), then runs a round every `every`.
pub fn start(store: AnyStore, config: SendConfig, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // This process is the scheduler: whatever is still claimed was claimed
        // by one that stopped.
        match store.recover_interrupted(i64::MAX).await {
            Ok(0) => {}
            Ok(n) => eprintln!(
                "cxscore: programmes: {n} message(s) were being sent when the server stopped; marked failed, not sent again"
            ),
            Err(e) => eprintln!("cxscore: programmes: {e}"),
        }
        let client = client();
        loop {
            tick(&store, &config, &client, unix_now()).await;
            tokio::time::sleep(every).await;
        }
    })
}

/// Response rates of a group, with intervals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rates {
    /// The group (a wave label, a channel, a segment value, or `all`).
    pub group: String,
    /// Counts.
    pub funnel: Funnel,
    /// Completed of sent.
    pub response_rate: Share,
    /// Opened of sent.
    pub open_rate: Share,
    /// Sent of invited.
    pub delivery_rate: Share,
    /// NPS of those who answered, with their count.
    pub nps: Option<f64>,
    /// NPS answers.
    pub nps_n: u64,
    /// Fewer than 30 sent: read with care.
    pub small_sample: bool,
}

/// The funnel of rows grouped by `by` (wave, channel, tier, region, industry,
/// sales_team, role, or `all`).
pub fn rates(rows: &[FunnelRow], by: &str) -> Result<Vec<Rates>, String> {
    let key = |r: &FunnelRow| -> Result<String, String> {
        Ok(match by {
            "all" | "" => "all".into(),
            "wave" => r.wave.clone(),
            "channel" => r.channel.clone(),
            "tier" => r.tier.clone(),
            "region" => r.region.clone(),
            "industry" => r.industry.clone(),
            "sales_team" => r.sales_team.clone(),
            "role" => r.role.clone(),
            other => {
                return Err(format!(
                    "--by {other:?}: use wave, channel, tier, region, industry, sales_team or role"
                ));
            }
        })
    };
    let mut groups: BTreeMap<String, (Funnel, [u64; 3])> = BTreeMap::new();
    for r in rows {
        let g = groups.entry(key(r)?).or_default();
        g.0.invited += 1;
        match r.status.as_str() {
            "sent" => g.0.sent += 1,
            "bounced" | "failed" => g.0.failed += 1,
            _ => {}
        }
        g.0.opened += u64::from(r.opened);
        g.0.started += u64::from(r.started);
        g.0.completed += u64::from(r.completed);
        if let Some(s) = r.nps {
            let k = if s >= 9 {
                0
            } else if s <= 6 {
                2
            } else {
                1
            };
            g.1[k] += 1;
        }
    }
    Ok(groups
        .into_iter()
        .map(|(group, (f, [pro, pas, det]))| {
            let n = pro + pas + det;
            Rates {
                group,
                response_rate: f.response_rate(),
                open_rate: f.open_rate(),
                delivery_rate: f.delivery_rate(),
                nps: (n > 0).then(|| 100.0 * (pro as f64 - det as f64) / n as f64),
                nps_n: n,
                small_sample: f.sent < 30,
                funnel: f,
            }
        })
        .collect())
}

/// The NPS question of a survey, if it has one.
pub fn nps_question(d: &SurveyDefinition) -> Option<String> {
    d.questions
        .iter()
        .find(|q| matches!(q.kind, QuestionKind::Nps))
        .map(|q| q.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones() {
        let winter = cx_core::period::parse_timestamp("2026-12-01T12:00:00Z").expect("a value");
        let summer = cx_core::period::parse_timestamp("2026-07-01T12:00:00Z").expect("a value");
        assert_eq!(tz_offset("Asia/Shanghai", winter), Some(8 * 3600));
        assert_eq!(tz_offset("Europe/Berlin", winter), Some(3600));
        assert_eq!(tz_offset("Europe/Berlin", summer), Some(7200));
        assert_eq!(tz_offset("America/New_York", winter), Some(-5 * 3600));
        assert_eq!(tz_offset("+08:00", winter), Some(8 * 3600));
        assert_eq!(tz_offset("UTC-5", winter), Some(-5 * 3600));
        assert_eq!(tz_offset("UTC", winter), Some(0));
        assert_eq!(tz_offset("Mars/Olympus", winter), None);
    }

    #[test]
    fn tokens_are_derived_and_distinct() {
        let a = invitation_token("s", 1, "2026-10-01", 7);
        assert_eq!(a, invitation_token("s", 1, "2026-10-01", 7));
        assert_ne!(a, invitation_token("s", 1, "2026-10-01", 8));
        assert_ne!(a, invitation_token("s", 1, "2027-01-01", 7));
        assert_ne!(a, invitation_token("t", 1, "2026-10-01", 7));
        assert_eq!(a.len(), 43);
    }

    #[test]
    fn rates_by_segment() {
        let row = |tier: &str, status: &str, completed: bool, nps: Option<i64>| FunnelRow {
            wave: "2026-10-01".into(),
            channel: "email".into(),
            tier: tier.into(),
            region: String::new(),
            industry: String::new(),
            sales_team: String::new(),
            role: String::new(),
            status: status.into(),
            opened: completed,
            started: completed,
            completed,
            nps,
        };
        let rows = vec![
            row("key", "sent", true, Some(10)),
            row("key", "sent", true, Some(3)),
            row("key", "sent", false, None),
            row("key", "bounced", false, None),
            row("standard", "sent", true, Some(9)),
        ];
        let r = rates(&rows, "tier").expect("a value");
        assert_eq!(r[0].group, "key");
        assert_eq!(
            (
                r[0].funnel.invited,
                r[0].funnel.sent,
                r[0].funnel.failed,
                r[0].funnel.completed
            ),
            (4, 3, 1, 2)
        );
        assert!((r[0].response_rate.percent.expect("a value") - 200.0 / 3.0).abs() < 1e-9);
        assert_eq!(r[0].nps, Some(0.0));
        assert_eq!(r[1].nps, Some(100.0));
        assert!(rates(&rows, "colour").is_err());
        assert_eq!(rates(&rows, "all").expect("a value")[0].funnel.invited, 5);
    }
}

/// A programme as pages, the API and the CLI show it.
#[derive(Debug, Clone, Serialize)]
pub struct ProgrammeView {
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Survey slug.
    pub survey: String,
    /// active or paused.
    pub status: String,
    /// The cadence in words.
    pub cadence: String,
    /// Channel.
    pub channel: String,
    /// The definition (the gateway secret left out).
    pub definition: serde_json::Value,
    /// All invitations together.
    pub totals: Rates,
    /// Per wave, newest first, with how its draw went.
    pub waves: Vec<WaveView>,
    /// Per segment value of `by`.
    pub by: String,
    /// Rates per value of `by`.
    pub segments: Vec<Rates>,
    /// Rewards given.
    pub rewards: u64,
    /// The coupon pool: (codes, given), when the reward is a coupon.
    pub coupons: Option<(i64, i64)>,
    /// Created.
    pub created_at: String,
}

/// A wave with its rates.
#[derive(Debug, Clone, Serialize)]
pub struct WaveView {
    /// Id.
    pub id: i64,
    /// Label.
    pub label: String,
    /// When its messages could first go (RFC 3339).
    pub starts_at: String,
    /// How the draw went (audience, invited, left out per reason).
    pub draw: serde_json::Value,
    /// Rates.
    pub rates: Rates,
    /// The previous wave's response rate (percent): a key account going quiet shows here.
    pub previous_response_rate: Option<f64>,
}

/// The programme `slug` with its waves and rates by `by`.
pub async fn view(
    store: &AnyStore,
    slug: &str,
    by: &str,
) -> Result<Option<ProgrammeView>, crate::error::ApiError> {
    let Some(p) = store.programme(slug).await? else {
        return Ok(None);
    };
    let def = definition(&p).map_err(|e| crate::error::ApiError::internal("programme", e))?;
    let survey = store.survey(&p.survey_id.to_string()).await?.definition;
    let rows = store
        .funnel_rows(p.id, nps_question(&survey).as_deref())
        .await?;
    let segments = rates(&rows, by).map_err(|e| crate::error::ApiError::invalid_field("by", e))?;
    let per_wave: HashMap<String, Rates> = rates(&rows, "wave")
        .unwrap_or_default()
        .into_iter()
        .map(|r| (r.group.clone(), r))
        .collect();
    let totals = rates(&rows, "all")
        .unwrap_or_default()
        .into_iter()
        .next()
        .unwrap_or_else(rates_of_nothing);
    let waves = store.waves(p.id).await?;
    let mut wave_views: Vec<WaveView> = waves
        .iter()
        .map(|w| WaveView {
            id: w.id,
            label: w.label.clone(),
            starts_at: cx_core::period::format_timestamp(w.starts_ts),
            draw: w.stats.clone(),
            rates: per_wave
                .get(&w.label)
                .cloned()
                .unwrap_or_else(rates_of_nothing),
            previous_response_rate: None,
        })
        .collect();
    for k in 0..wave_views.len() {
        wave_views[k].previous_response_rate = wave_views
            .get(k + 1)
            .and_then(|w| w.rates.response_rate.percent);
    }
    let rewards = store.rewards(p.id).await?.len() as u64;
    let coupons = match &def.reward {
        Some(Reward::Coupon(pool)) => Some(
            store
                .coupon_stock()
                .await?
                .into_iter()
                .find(|(p, _, _)| p == pool)
                .map(|(_, n, g)| (n, g))
                .unwrap_or((0, 0)),
        ),
        _ => None,
    };
    let mut definition = def.to_value();
    if let Some(g) = definition.get_mut("gateway") {
        g["secret"] = serde_json::Value::from("***");
    }
    Ok(Some(ProgrammeView {
        slug: p.slug,
        name: p.name,
        survey: p.survey,
        status: p.status,
        cadence: def.cadence_text(),
        channel: def.channel.as_str().into(),
        definition,
        totals,
        waves: wave_views,
        by: by.to_string(),
        segments,
        rewards,
        coupons,
        created_at: p.created_at,
    }))
}

fn rates_of_nothing() -> Rates {
    rates(&[], "all")
        .ok()
        .and_then(|r| r.into_iter().next())
        .unwrap_or(Rates {
            group: "all".into(),
            funnel: Funnel::default(),
            response_rate: Share::of(0, 0),
            open_rate: Share::of(0, 0),
            delivery_rate: Share::of(0, 0),
            nps: None,
            nps_n: 0,
            small_sample: true,
        })
}

/// Checks a programme definition against the database and stores it.
pub async fn save(
    store: &AnyStore,
    def: &serde_json::Value,
    replace: bool,
) -> Result<StoredProgramme, crate::error::ApiError> {
    let mut def = ProgrammeDefinition::from_value(def)
        .map_err(|e| crate::error::ApiError::invalid_field("definition", e))?;
    // An update that leaves the gateway secret as shown keeps the stored one.
    if replace
        && let Some(g) = def.gateway.as_mut()
        && g.secret == "***"
        && let Some(old) = store.programme(&def.slug).await?
        && let Ok(old) = definition(&old)
        && let Some(og) = old.gateway
    {
        g.secret = og.secret;
    }
    let survey = match store.survey(&def.survey).await {
        Ok(s) => s,
        Err(StoreError::NotFound(_)) => {
            return Err(crate::error::ApiError::invalid_field(
                "survey",
                format!(
                    "programme.survey {:?}: no such survey (cxscore survey list)",
                    def.survey
                ),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(l) = &def.language
        && !survey
            .definition
            .languages
            .iter()
            .any(|s| s.starts_with(l.as_str()))
    {
        return Err(crate::error::ApiError::invalid_field(
            "language",
            format!(
                "programme.language {l:?}: the survey is in {}",
                survey.definition.languages.join(", ")
            ),
        ));
    }
    let text = def.to_value().to_string();
    store
        .save_programme(&def.slug, &def.name, survey.id.0, &text, replace)
        .await?;
    store
        .programme(&def.slug)
        .await?
        .ok_or_else(|| crate::error::ApiError::not_found("programme"))
}

/// Reads coupon codes: one per line (CSV's first column), blank lines and a
/// `code` header skipped.
pub fn coupon_codes(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            l.trim_start_matches('\u{feff}')
                .split([',', '\t'])
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('"')
        })
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("code") && *c != "券码")
        .map(str::to_string)
        .collect()
}

/// One line of a wave's sheet for staff.
#[derive(Debug, Clone, Serialize)]
pub struct SheetLine {
    /// Contact code.
    pub contact: String,
    /// Name.
    pub name: String,
    /// Account name.
    pub account: String,
    /// Phone.
    pub phone: Option<String>,
    /// The personal survey link.
    pub link: String,
    /// Its QR code (SVG), for printed invitations.
    pub qr: Option<String>,
    /// Already answered.
    pub answered: bool,
}

/// A QR code of `text` as an SVG element.
pub fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(144, 144)
        .build();
    // Drop the XML declaration: the SVG goes inline into HTML.
    Some(match svg.find("<svg") {
        Some(at) => svg[at..].to_string(),
        None => svg,
    })
}

/// The people of a programme's wave (the latest when `wave` is None) with
/// their personal links: a call list for phone interviews, or a printable
/// sheet with QR codes for visits.
pub async fn sheet(
    store: &AnyStore,
    base_url: &str,
    slug: &str,
    wave: Option<&str>,
) -> Result<Option<(ProgrammeDefinition, String, Vec<SheetLine>)>, StoreError> {
    let Some(p) = store.programme(slug).await? else {
        return Ok(None);
    };
    let Ok(def) = definition(&p) else {
        return Ok(None);
    };
    let waves = store.waves(p.id).await?;
    let Some(w) = (match wave {
        Some(label) => waves.iter().find(|w| w.label == label),
        None => waves.first(),
    }) else {
        return Ok(Some((def, String::new(), Vec::new())));
    };
    let secret = secret(store).await?;
    let lang = def.language.clone().unwrap_or_else(|| "zh".into());
    let lines = store
        .programme_invitations(p.id, Some(w.id))
        .await?
        .into_iter()
        .map(|i| {
            let token = invitation_token(&secret, p.id, &w.label, i.contact_id);
            let link = links(base_url, &p.survey, &token, &lang).survey;
            SheetLine {
                qr: (def.channel == Channel::Print)
                    .then(|| qr_svg(&link))
                    .flatten(),
                contact: i.contact,
                name: i.name,
                account: i.account,
                phone: i.phone,
                link,
                answered: i.answered,
            }
        })
        .collect();
    Ok(Some((def, w.label.clone(), lines)))
}

/// A printable page: one card per person with their QR code and link.
pub fn sheet_html(name: &str, wave: &str, lines: &[SheetLine]) -> String {
    let mut html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{} · {}</title><style>\
         body{{font-family:sans-serif}} .card{{display:inline-block;width:45%;margin:1%;padding:8px;border:1px solid #999;\
         vertical-align:top;page-break-inside:avoid}} .link{{font-size:10px;word-break:break-all}}</style></head><body>\
         <h1>{} · {}</h1>",
        html_escape(name),
        html_escape(wave),
        html_escape(name),
        html_escape(wave)
    );
    for l in lines {
        let _ = std::fmt::Write::write_fmt(
            &mut html,
            format_args!(
                "<div class=\"card\"><strong>{}</strong> · {}<br>{}{}<div class=\"link\"><a href=\"{}\">{}</a></div></div>",
                html_escape(&l.name),
                html_escape(&l.account),
                l.qr.as_deref().unwrap_or(""),
                l.phone
                    .as_deref()
                    .map(|p| format!("<br>☎ {}", html_escape(p)))
                    .unwrap_or_default(),
                html_escape(&l.link),
                html_escape(&l.link)
            ),
        );
    }
    html.push_str("</body></html>");
    html
}
