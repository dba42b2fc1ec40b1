//! Survey programmes: who is asked (an audience of key people selected by
//! their account's segment), when (one-off, every N weeks/months/quarters, or
//! after an event), how many (all, a sample size or a rate, drawn
//! deterministically from a seed), through which channel, with what reminders
//! and reward — and the contact rules that keep anyone from being pestered
//! (at most once in N days across all programmes, a cap per account, quiet
//! hours in the person's time zone).
//!
//! Everything here is pure: the store finds the candidates, the server sends.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::customer::ContactRole;
use crate::period::Date;
use crate::stats::{Interval, wilson_interval};

/// A programme as written in its JSON file (`cxscore programme create FILE`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProgrammeDefinition {
    /// Short name used in URLs (`key-rnps`).
    pub slug: String,
    /// Display name.
    pub name: String,
    /// The survey's slug.
    pub survey: String,
    /// Who may be asked.
    pub audience: Audience,
    /// When waves go out.
    pub cadence: Cadence,
    /// How many of the eligible people each wave asks.
    pub sample: Sample,
    /// Seed of the sampling: the same seed draws the same people.
    pub seed: u64,
    /// How invitations reach people.
    pub channel: Channel,
    /// Where SMS/WeChat messages are posted (the company's gateway).
    pub gateway: Option<Gateway>,
    /// Reminders to people who have not answered.
    pub reminders: Reminders,
    /// A reward on completion.
    pub reward: Option<Reward>,
    /// Language of the invitation (`zh` or `en`); the survey's first when absent.
    pub language: Option<String>,
}

/// Account and person filters; an empty list means "any".
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Audience {
    /// Account tiers (`key`, `standard`, …).
    pub tiers: Vec<String>,
    /// Regions.
    pub regions: Vec<String>,
    /// Industries.
    pub industries: Vec<String>,
    /// Sales teams.
    pub sales_teams: Vec<String>,
    /// Product lines the account has bought.
    pub product_lines: Vec<String>,
    /// Roles of the key people.
    pub roles: Vec<ContactRole>,
    /// Only key accounts (tier `key`).
    pub key_accounts_only: bool,
    /// Only people with at least this influence.
    pub min_influence: Option<f64>,
    /// Only accounts that bought within this many days.
    pub purchased_within_days: Option<u32>,
}

/// A person the store found, with their account's segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// Contact id.
    pub contact_id: i64,
    /// Contact code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Time zone (IANA name or `+08:00`).
    pub time_zone: Option<String>,
    /// Role.
    pub role: Option<String>,
    /// Influence.
    pub influence: f64,
    /// Account id.
    pub account_id: i64,
    /// Account tier.
    pub tier: String,
    /// Region.
    pub region: String,
    /// Industry.
    pub industry: String,
    /// Sales team.
    pub sales_team: String,
    /// Product lines the account bought.
    pub product_lines: Vec<String>,
    /// Day of the account's last purchase.
    pub last_purchase_day: Option<i32>,
    /// Day this person was last invited or last answered (any survey).
    pub last_contact_day: Option<i32>,
    /// Unsubscribed or bounced: never asked again.
    pub suppressed: Option<String>,
}

impl Audience {
    /// Whether a person belongs to the audience on `today`.
    pub fn admits(&self, c: &Candidate, today: i32) -> bool {
        let any = |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x == v);
        (!self.key_accounts_only || c.tier == "key")
            && any(&self.tiers, &c.tier)
            && any(&self.regions, &c.region)
            && any(&self.industries, &c.industry)
            && any(&self.sales_teams, &c.sales_team)
            && (self.product_lines.is_empty()
                || c.product_lines
                    .iter()
                    .any(|p| self.product_lines.contains(p)))
            && (self.roles.is_empty()
                || c.role
                    .as_deref()
                    .is_some_and(|r| self.roles.iter().any(|x| x.as_str() == r)))
            && self.min_influence.is_none_or(|m| c.influence >= m)
            && self
                .purchased_within_days
                .is_none_or(|d| c.last_purchase_day.is_some_and(|p| today - p <= d as i32))
    }
}

/// When waves go out.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    /// One wave on this day.
    Once(Date),
    /// A wave every `n` units, the first on `start`.
    Every {
        /// How many units between waves.
        n: u32,
        /// Week, month or quarter.
        unit: Unit,
        /// The first wave's day.
        start: Date,
    },
    /// A wave per day of events, each person asked `delay_days` after theirs.
    Trigger {
        /// What starts it.
        event: Trigger,
        /// Days between the event and the invitation.
        delay_days: u32,
    },
}

/// Calendar units of a cadence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Seven days.
    Week,
    /// A calendar month.
    Month,
    /// Three calendar months.
    Quarter,
}

/// Events that trigger an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A purchase by the person's account (its key people matching the audience are asked).
    Transaction,
    /// A follow-up task about the person was resolved.
    TaskResolved,
}

impl Cadence {
    /// The wave a scheduled cadence is in on `today`: its label (the first
    /// day, ISO) and first day. `None` before the first wave and for triggers.
    pub fn wave_on(&self, today: Date) -> Option<(String, Date)> {
        let start = match *self {
            Cadence::Once(day) => (today >= day).then_some(day)?,
            Cadence::Every { n, unit, start } => {
                if today < start {
                    return None;
                }
                match unit {
                    Unit::Week => {
                        let step = 7 * n as i32;
                        start.add_days((today.days() - start.days()) / step * step)
                    }
                    Unit::Month | Unit::Quarter => {
                        let months = n as i32 * if unit == Unit::Quarter { 3 } else { 1 };
                        let (y0, m0, _) = start.ymd();
                        let (y, m, _) = today.ymd();
                        let mut k = ((y - y0) * 12 + m as i32 - m0 as i32) / months;
                        let mut d = add_months(start, k * months);
                        if d > today {
                            k -= 1;
                            d = add_months(start, k * months);
                        }
                        d
                    }
                }
            }
            Cadence::Trigger { .. } => return None,
        };
        Some((start.to_string(), start))
    }
}

/// `d` moved by `months` calendar months, the day clamped to the month's end.
pub fn add_months(d: Date, months: i32) -> Date {
    let (y, m, day) = d.ymd();
    let index = y * 12 + m as i32 - 1 + months;
    let (y, m) = (index.div_euclid(12), index.rem_euclid(12) as u32 + 1);
    let mut day = day;
    loop {
        if let Some(d) = Date::from_ymd(y, m, day) {
            return d;
        }
        day -= 1;
    }
}

/// How many of the eligible people a wave asks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sample {
    /// Everybody eligible.
    All,
    /// At most this many.
    Size(u32),
    /// This share, rounded up.
    Rate(f64),
}

/// Invitation channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Email through SMTP, with reminders.
    Email,
    /// A text message through the company's gateway (a webhook).
    Sms,
    /// A WeChat message through the company's gateway (a webhook).
    Wechat,
    /// Printed links and QR codes handed out in person.
    Print,
    /// A call list for staff who interview by phone.
    Phone,
}

impl Channel {
    /// The name in files and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Wechat => "wechat",
            Channel::Print => "print",
            Channel::Phone => "phone",
        }
    }

    /// Reads a channel name.
    pub fn parse(text: &str) -> Option<Channel> {
        Some(match text {
            "email" => Channel::Email,
            "sms" => Channel::Sms,
            "wechat" => Channel::Wechat,
            "print" | "qr" => Channel::Print,
            "phone" => Channel::Phone,
            _ => return None,
        })
    }

    /// The response channel an answer through this invitation is stored with.
    pub fn response_channel(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Wechat => "app",
            Channel::Print => "in_person",
            Channel::Phone => "phone",
        }
    }

    /// Whether the server sends something itself (email, SMS, WeChat); print
    /// and phone invitations are handed to staff.
    pub fn is_sent(self) -> bool {
        matches!(self, Channel::Email | Channel::Sms | Channel::Wechat)
    }

    /// Why a person cannot be reached this way, if they cannot.
    pub fn unreachable(self, c: &Candidate) -> Option<&'static str> {
        let has = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        match self {
            Channel::Email if !has(&c.email) => Some("no email address"),
            Channel::Sms | Channel::Wechat | Channel::Phone if !has(&c.phone) => {
                Some("no phone number")
            }
            _ => None,
        }
    }
}

/// The company's SMS/WeChat gateway.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gateway {
    /// Where messages are posted (JSON).
    pub url: String,
    /// Key of the `X-Cxscore-Signature` HMAC.
    #[serde(skip_serializing)]
    pub secret: String,
}

/// Reminders to people who have not answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Reminders {
    /// Days after the invitation (and after each reminder).
    pub after_days: u32,
    /// At most this many.
    pub max: u32,
}

/// A reward on completion.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reward {
    /// A code from the named pool the company uploaded, each given at most once.
    Coupon(String),
    /// Points credited to the person.
    Points(i64),
}

/// Rules for every programme together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactRules {
    /// Never ask a person twice within this many days (any programme or survey).
    pub min_days_between: u32,
    /// At most this many people of one account per wave (0 = no cap).
    pub account_cap: u32,
    /// Quiet hours in the person's time zone: no message from `quiet_start:00`…
    pub quiet_start: u32,
    /// …to `quiet_end:00`.
    pub quiet_end: u32,
    /// The time zone of people who have none.
    pub default_time_zone: String,
}

impl Default for ContactRules {
    fn default() -> ContactRules {
        ContactRules {
            min_days_between: 30,
            account_cap: 5,
            quiet_start: 21,
            quiet_end: 8,
            default_time_zone: "Asia/Shanghai".into(),
        }
    }
}

impl ContactRules {
    /// Reads rules from JSON; missing keys keep their defaults.
    pub fn from_json(text: &str) -> Result<ContactRules, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("contact rules: {e}"))?;
        let o = v
            .as_object()
            .ok_or("contact rules: expected a JSON object")?;
        let mut r = ContactRules::default();
        for (k, val) in o {
            let hour = |val: &Value| {
                val.as_u64()
                    .filter(|h| *h < 24)
                    .map(|h| h as u32)
                    .ok_or(format!("contact rules: {k:?} must be an hour 0–23"))
            };
            match k.as_str() {
                "min_days_between" => {
                    r.min_days_between = val
                        .as_u64()
                        .filter(|d| *d <= 3660)
                        .ok_or("contact rules: \"min_days_between\" must be a number of days")?
                        as u32
                }
                "account_cap" => {
                    r.account_cap = val
                        .as_u64()
                        .filter(|d| *d <= 100_000)
                        .ok_or("contact rules: \"account_cap\" must be a whole number")?
                        as u32
                }
                "quiet_start" => r.quiet_start = hour(val)?,
                "quiet_end" => r.quiet_end = hour(val)?,
                "default_time_zone" => {
                    r.default_time_zone = val
                        .as_str()
                        .filter(|s| !s.trim().is_empty())
                        .ok_or("contact rules: \"default_time_zone\" must be a time zone name")?
                        .trim()
                        .to_string()
                }
                _ => {
                    return Err(format!(
                        "contact rules: unknown key {k:?} (min_days_between, account_cap, quiet_start, quiet_end, default_time_zone)"
                    ));
                }
            }
        }
        Ok(r)
    }

    /// The rules as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The first moment at or after `ts` (Unix seconds) outside quiet hours for
    /// someone whose clock is `offset` seconds ahead of UTC.
    pub fn next_allowed(&self, ts: i64, offset: i64) -> i64 {
        if self.quiet_start == self.quiet_end {
            return ts;
        }
        let local = ts + offset;
        let hour = local.rem_euclid(86_400) / 3600;
        let (s, e) = (self.quiet_start as i64, self.quiet_end as i64);
        let quiet = if s < e {
            hour >= s && hour < e
        } else {
            hour >= s || hour < e
        };
        if !quiet {
            return ts;
        }
        let day_start = local - local.rem_euclid(86_400);
        let mut end = day_start + e * 3600;
        if end <= local {
            end += 86_400;
        }
        end - offset
    }
}

/// Why a candidate was left out of a wave, or that they were drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// Drawn.
    Drawn,
    /// Unsubscribed or bounced before.
    Suppressed,
    /// Cannot be reached through the channel.
    Unreachable,
    /// Asked or answered within the minimum days.
    Fatigue,
    /// Their account already has its cap of people in this wave.
    AccountCap,
    /// Not drawn by the sample.
    NotSampled,
}

/// The people a wave asks and how many were left out for each reason.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Draw {
    /// Indices into the candidates, in draw order.
    pub drawn: Vec<usize>,
    /// In the audience.
    pub audience: u64,
    /// Left out: unsubscribed or bounced.
    pub suppressed: u64,
    /// Left out: no address for the channel.
    pub unreachable: u64,
    /// Left out: asked or answered recently.
    pub fatigue: u64,
    /// Left out: the account's cap.
    pub account_cap: u64,
    /// Left out: not drawn.
    pub not_sampled: u64,
}

/// A deterministic 64-bit hash (FNV-1a then a SplitMix64 finish): the same
/// on every platform and release, so a seed always draws the same people.
pub fn stable_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0xff]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Draws a wave: the audience, less suppressed, unreachable and recently
/// asked people, ordered by a hash of (seed, wave, person) — reproducible and
/// unchanged for everyone else when one person is added — then the account
/// cap, then the sample size or rate.
pub fn draw(
    def: &ProgrammeDefinition,
    rules: &ContactRules,
    wave: &str,
    candidates: &[Candidate],
    today: i32,
) -> Draw {
    let mut d = Draw::default();
    let seed = def.seed.to_string();
    let mut pool: Vec<(u64, usize)> = Vec::new();
    for (k, c) in candidates.iter().enumerate() {
        if !def.audience.admits(c, today) {
            continue;
        }
        d.audience += 1;
        if c.suppressed.is_some() {
            d.suppressed += 1;
        } else if def.channel.unreachable(c).is_some() {
            d.unreachable += 1;
        } else if c
            .last_contact_day
            .is_some_and(|l| today - l < rules.min_days_between as i32)
        {
            d.fatigue += 1;
        } else {
            pool.push((stable_hash(&[&seed, wave, &c.code]), k));
        }
    }
    pool.sort_unstable();
    let mut per_account: std::collections::HashMap<i64, u32> = Default::default();
    let mut capped = Vec::with_capacity(pool.len());
    for (_, k) in pool {
        let n = per_account.entry(candidates[k].account_id).or_default();
        if rules.account_cap > 0 && *n >= rules.account_cap {
            d.account_cap += 1;
            continue;
        }
        *n += 1;
        capped.push(k);
    }
    let take = match def.sample {
        Sample::All => capped.len(),
        Sample::Size(n) => (n as usize).min(capped.len()),
        Sample::Rate(r) => ((capped.len() as f64 * r).ceil() as usize).min(capped.len()),
    };
    d.not_sampled = (capped.len() - take) as u64;
    capped.truncate(take);
    d.drawn = capped;
    d
}

/// A share with its Wilson interval, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Share {
    /// Successes.
    pub count: u64,
    /// Out of.
    pub n: u64,
    /// Percent.
    pub percent: Option<f64>,
    /// 95% interval, percent.
    pub interval: Option<Interval>,
}

impl Share {
    /// `count` of `n`.
    pub fn of(count: u64, n: u64) -> Share {
        Share {
            count,
            n,
            percent: (n > 0).then(|| 100.0 * count as f64 / n as f64),
            interval: wilson_interval(count, n).map(|i| i.scaled(100.0)),
        }
    }
}

/// Invitation outcomes of a group (a wave, a channel, a segment).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Funnel {
    /// Invitations made.
    pub invited: u64,
    /// Sent (accepted by the mail server or gateway; print/phone: handed out).
    pub sent: u64,
    /// Bounced or failed.
    pub failed: u64,
    /// Opened (the email's image loaded, or the survey page seen).
    pub opened: u64,
    /// Survey page seen.
    pub started: u64,
    /// Answered.
    pub completed: u64,
}

impl Funnel {
    /// Adds another group.
    pub fn add(&mut self, o: &Funnel) {
        self.invited += o.invited;
        self.sent += o.sent;
        self.failed += o.failed;
        self.opened += o.opened;
        self.started += o.started;
        self.completed += o.completed;
    }

    /// Completed of sent: the response rate.
    pub fn response_rate(&self) -> Share {
        Share::of(self.completed, self.sent)
    }

    /// Delivered of invited (sent less failures).
    pub fn delivery_rate(&self) -> Share {
        Share::of(self.sent, self.invited)
    }

    /// Opened of sent.
    pub fn open_rate(&self) -> Share {
        Share::of(self.opened, self.sent)
    }
}

fn strings(o: &Map<String, Value>, key: &str, ctx: &str) -> Result<Vec<String>, String> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.trim().to_string()]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(|s| s.trim().to_string())
                    .ok_or(format!("{ctx}.{key}: expected a list of names"))
            })
            .collect(),
        Some(_) => Err(format!("{ctx}.{key}: expected a list of names")),
    }
}

impl ProgrammeDefinition {
    /// Reads and checks a programme file; errors name the key.
    pub fn from_json(text: &str) -> Result<ProgrammeDefinition, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("programme: {e}"))?;
        ProgrammeDefinition::from_value(&v)
    }

    /// Reads and checks a programme from JSON.
    pub fn from_value(v: &Value) -> Result<ProgrammeDefinition, String> {
        let o = v.as_object().ok_or("programme: expected a JSON object")?;
        const KEYS: [&str; 12] = [
            "slug",
            "name",
            "survey",
            "audience",
            "cadence",
            "sample",
            "seed",
            "channel",
            "gateway",
            "reminders",
            "reward",
            "language",
        ];
        if let Some(k) = o.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(format!(
                "programme: unknown key {k:?} (expected one of {})",
                KEYS.join(", ")
            ));
        }
        let text = |key: &str| -> Result<Option<String>, String> {
            match o.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
                Some(_) => Err(format!("programme.{key}: expected a non-empty text")),
            }
        };
        let slug = text("slug")?.ok_or("programme.slug is missing")?;
        if slug.len() > 64
            || !slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!(
                "programme.slug {slug:?}: use lowercase letters, digits and '-' (at most 64)"
            ));
        }
        let name = text("name")?.unwrap_or_else(|| slug.clone());
        let survey = text("survey")?.ok_or("programme.survey is missing (a survey's slug)")?;
        let audience = match o.get("audience") {
            None | Some(Value::Null) => Audience::default(),
            Some(Value::Object(a)) => parse_audience(a)?,
            Some(_) => return Err("programme.audience: expected an object".into()),
        };
        let cadence = parse_cadence(o.get("cadence").ok_or(
            "programme.cadence is missing: {\"once\": DATE}, {\"every\": N, \"unit\": \"quarter\", \"start\": DATE} or {\"trigger\": \"transaction\", \"delay_days\": N}",
        )?)?;
        let sample = match o.get("sample") {
            None | Some(Value::Null) => Sample::All,
            Some(Value::String(s)) if s == "all" => Sample::All,
            Some(Value::Object(s)) => match (s.get("size"), s.get("rate")) {
                (Some(n), None) => Sample::Size(
                    n.as_u64()
                        .filter(|n| *n > 0 && *n <= 10_000_000)
                        .ok_or("programme.sample.size: expected a whole number above 0")?
                        as u32,
                ),
                (None, Some(r)) => Sample::Rate(
                    r.as_f64()
                        .filter(|r| *r > 0.0 && *r <= 1.0)
                        .ok_or("programme.sample.rate: expected a share in (0, 1]")?,
                ),
                _ => {
                    return Err(
                        "programme.sample: give either {\"size\": N} or {\"rate\": 0.25}".into(),
                    );
                }
            },
            Some(_) => {
                return Err("programme.sample: \"all\", {\"size\": N} or {\"rate\": 0.25}".into());
            }
        };
        let seed = match o.get("seed") {
            None | Some(Value::Null) => 1,
            Some(s) => s
                .as_u64()
                .ok_or("programme.seed: expected a whole number")?,
        };
        let channel = match text("channel")? {
            None => Channel::Email,
            Some(c) => Channel::parse(&c).ok_or(format!(
                "programme.channel {c:?}: use email, sms, wechat, print or phone"
            ))?,
        };
        let gateway = match o.get("gateway") {
            None | Some(Value::Null) => None,
            Some(Value::Object(g)) => {
                let url = g
                    .get("url")
                    .and_then(Value::as_str)
                    .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
                    .ok_or("programme.gateway.url: expected an http(s) address")?;
                let secret = g
                    .get("secret")
                    .and_then(Value::as_str)
                    .filter(|s| s.len() >= 16)
                    .ok_or(
                        "programme.gateway.secret: expected a shared secret of 16+ characters",
                    )?;
                Some(Gateway {
                    url: url.to_string(),
                    secret: secret.to_string(),
                })
            }
            Some(_) => return Err("programme.gateway: expected {\"url\": …, \"secret\": …}".into()),
        };
        if matches!(channel, Channel::Sms | Channel::Wechat) && gateway.is_none() {
            return Err(format!(
                "programme.gateway is needed for channel {}: the address of your SMS/WeChat gateway",
                channel.as_str()
            ));
        }
        let reminders = match o.get("reminders") {
            None | Some(Value::Null) => Reminders {
                after_days: 3,
                max: 0,
            },
            Some(Value::Object(r)) => {
                let num = |k: &str, max: u64| {
                    r.get(k)
                        .and_then(Value::as_u64)
                        .filter(|n| *n <= max)
                        .map(|n| n as u32)
                        .ok_or(format!(
                            "programme.reminders.{k}: expected a whole number up to {max}"
                        ))
                };
                let rem = Reminders {
                    after_days: num("after_days", 365)?,
                    max: num("max", 10)?,
                };
                if rem.after_days == 0 && rem.max > 0 {
                    return Err("programme.reminders.after_days must be at least 1".into());
                }
                rem
            }
            Some(_) => {
                return Err("programme.reminders: expected {\"after_days\": N, \"max\": M}".into());
            }
        };
        let reward = match o.get("reward") {
            None | Some(Value::Null) => None,
            Some(Value::Object(r)) => match (r.get("coupon"), r.get("points")) {
                (Some(Value::String(pool)), None) if !pool.trim().is_empty() => {
                    Some(Reward::Coupon(pool.trim().to_string()))
                }
                (None, Some(p)) => {
                    Some(Reward::Points(p.as_i64().filter(|p| *p > 0).ok_or(
                        "programme.reward.points: expected a whole number above 0",
                    )?))
                }
                _ => {
                    return Err(
                        "programme.reward: {\"coupon\": \"POOL\"} or {\"points\": N}".into(),
                    );
                }
            },
            Some(_) => {
                return Err("programme.reward: {\"coupon\": \"POOL\"} or {\"points\": N}".into());
            }
        };
        let language = text("language")?;
        if let Some(l) = &language
            && l != "zh"
            && l != "en"
        {
            return Err(format!("programme.language {l:?}: use zh or en"));
        }
        Ok(ProgrammeDefinition {
            slug,
            name,
            survey,
            audience,
            cadence,
            sample,
            seed,
            channel,
            gateway,
            reminders,
            reward,
            language,
        })
    }

    /// The definition as JSON (the form `from_value` reads; the gateway secret included).
    pub fn to_value(&self) -> Value {
        let a = &self.audience;
        let mut audience = Map::new();
        let mut list = |k: &str, v: &[String]| {
            if !v.is_empty() {
                audience.insert(k.into(), Value::from(v.to_vec()));
            }
        };
        list("tiers", &a.tiers);
        list("regions", &a.regions);
        list("industries", &a.industries);
        list("sales_teams", &a.sales_teams);
        list("product_lines", &a.product_lines);
        if !a.roles.is_empty() {
            audience.insert(
                "roles".into(),
                Value::from(a.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>()),
            );
        }
        if a.key_accounts_only {
            audience.insert("key_accounts_only".into(), Value::Bool(true));
        }
        if let Some(m) = a.min_influence {
            audience.insert("min_influence".into(), Value::from(m));
        }
        if let Some(d) = a.purchased_within_days {
            audience.insert("purchased_within_days".into(), Value::from(d));
        }
        let cadence = match &self.cadence {
            Cadence::Once(d) => serde_json::json!({"once": d.to_string()}),
            Cadence::Every { n, unit, start } => serde_json::json!({
                "every": n, "unit": unit, "start": start.to_string()
            }),
            Cadence::Trigger { event, delay_days } => serde_json::json!({
                "trigger": event, "delay_days": delay_days
            }),
        };
        let mut o = serde_json::json!({
            "slug": self.slug,
            "name": self.name,
            "survey": self.survey,
            "audience": audience,
            "cadence": cadence,
            "seed": self.seed,
            "channel": self.channel.as_str(),
            "reminders": {"after_days": self.reminders.after_days, "max": self.reminders.max},
        });
        match self.sample {
            Sample::All => o["sample"] = Value::from("all"),
            Sample::Size(n) => o["sample"] = serde_json::json!({"size": n}),
            Sample::Rate(r) => o["sample"] = serde_json::json!({"rate": r}),
        }
        if let Some(g) = &self.gateway {
            o["gateway"] = serde_json::json!({"url": g.url, "secret": g.secret});
        }
        match &self.reward {
            Some(Reward::Coupon(p)) => o["reward"] = serde_json::json!({"coupon": p}),
            Some(Reward::Points(p)) => o["reward"] = serde_json::json!({"points": p}),
            None => {}
        }
        if let Some(l) = &self.language {
            o["language"] = Value::from(l.as_str());
        }
        o
    }

    /// A one-line description of the cadence, in English.
    pub fn cadence_text(&self) -> String {
        match &self.cadence {
            Cadence::Once(d) => format!("once, on {d}"),
            Cadence::Every { n, unit, start } => {
                let unit = match unit {
                    Unit::Week => "week",
                    Unit::Month => "month",
                    Unit::Quarter => "quarter",
                };
                if *n == 1 {
                    format!("every {unit} from {start}")
                } else {
                    format!("every {n} {unit}s from {start}")
                }
            }
            Cadence::Trigger { event, delay_days } => format!(
                "{} days after {}",
                delay_days,
                match event {
                    Trigger::Transaction => "each purchase",
                    Trigger::TaskResolved => "a resolved follow-up task",
                }
            ),
        }
    }
}

fn parse_audience(a: &Map<String, Value>) -> Result<Audience, String> {
    const KEYS: [&str; 9] = [
        "tiers",
        "regions",
        "industries",
        "sales_teams",
        "product_lines",
        "roles",
        "key_accounts_only",
        "min_influence",
        "purchased_within_days",
    ];
    if let Some(k) = a.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!(
            "programme.audience: unknown key {k:?} (expected one of {})",
            KEYS.join(", ")
        ));
    }
    let ctx = "programme.audience";
    let roles = strings(a, "roles", ctx)?
        .iter()
        .map(|r| {
            ContactRole::parse(r).ok_or(format!(
                "programme.audience.roles: unknown role {r:?} (decision_maker, influencer, technical_evaluator, purchaser, user, gatekeeper)"
            ))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let tiers = strings(a, "tiers", ctx)?
        .iter()
        .map(|t| crate::model::customer::normalize_tier(t).unwrap_or_else(|| t.clone()))
        .collect();
    Ok(Audience {
        tiers,
        regions: strings(a, "regions", ctx)?,
        industries: strings(a, "industries", ctx)?,
        sales_teams: strings(a, "sales_teams", ctx)?,
        product_lines: strings(a, "product_lines", ctx)?,
        roles,
        key_accounts_only: match a.get("key_accounts_only") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err("programme.audience.key_accounts_only: true or false".into()),
        },
        min_influence: match a.get("min_influence") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_f64()
                    .filter(|m| (0.0..=1.0).contains(m))
                    .ok_or("programme.audience.min_influence: expected 0–1")?,
            ),
        },
        purchased_within_days: match a.get("purchased_within_days") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|d| *d > 0 && *d <= 36_600)
                    .ok_or("programme.audience.purchased_within_days: expected a number of days")?
                    as u32,
            ),
        },
    })
}

fn parse_cadence(v: &Value) -> Result<Cadence, String> {
    let o = v
        .as_object()
        .ok_or("programme.cadence: expected an object")?;
    let date = |k: &str| -> Result<Date, String> {
        let s = o.get(k).and_then(Value::as_str).ok_or(format!(
            "programme.cadence.{k}: expected a date (YYYY-MM-DD)"
        ))?;
        Date::parse(s).ok_or(format!(
            "programme.cadence.{k} {s:?}: expected a date (YYYY-MM-DD)"
        ))
    };
    if o.contains_key("once") {
        return Ok(Cadence::Once(date("once")?));
    }
    if let Some(n) = o.get("every") {
        let n = n
            .as_u64()
            .filter(|n| *n >= 1 && *n <= 520)
            .ok_or("programme.cadence.every: expected a whole number from 1")?
            as u32;
        let unit = match o.get("unit").and_then(Value::as_str) {
            Some("week" | "weeks") => Unit::Week,
            Some("month" | "months") => Unit::Month,
            Some("quarter" | "quarters") => Unit::Quarter,
            other => {
                return Err(format!(
                    "programme.cadence.unit {:?}: use week, month or quarter",
                    other.unwrap_or("")
                ));
            }
        };
        return Ok(Cadence::Every {
            n,
            unit,
            start: date("start")?,
        });
    }
    if let Some(t) = o.get("trigger") {
        let event = match t.as_str() {
            Some("transaction" | "purchase") => Trigger::Transaction,
            Some("task_resolved" | "task.resolved") => Trigger::TaskResolved,
            _ => {
                return Err(format!(
                    "programme.cadence.trigger {t}: use \"transaction\" or \"task_resolved\""
                ));
            }
        };
        let delay_days = match o.get("delay_days") {
            None => 0,
            Some(d) => {
                d.as_u64()
                    .filter(|d| *d <= 365)
                    .ok_or("programme.cadence.delay_days: expected 0–365")? as u32
            }
        };
        return Ok(Cadence::Trigger { event, delay_days });
    }
    Err(
        "programme.cadence: give \"once\", \"every\" (with \"unit\" and \"start\") or \"trigger\""
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Date {
        Date::parse(s).expect("a value")
    }

    fn candidate(code: &str, account: i64, tier: &str) -> Candidate {
        Candidate {
            contact_id: account * 100,
            code: code.into(),
            name: code.into(),
            email: Some(format!("{code}@example.com")),
            phone: None,
            time_zone: None,
            role: Some("decision_maker".into()),
            influence: 0.8,
            account_id: account,
            tier: tier.into(),
            region: "华东".into(),
            industry: "制造".into(),
            sales_team: "A".into(),
            product_lines: vec!["云".into()],
            last_purchase_day: Some(day("2026-11-01").days()),
            last_contact_day: None,
            suppressed: None,
        }
    }

    fn quarterly() -> ProgrammeDefinition {
        ProgrammeDefinition::from_json(
            r#"{"slug":"key-rnps","survey":"rnps","audience":{"key_accounts_only":true},
                "cadence":{"every":1,"unit":"quarter","start":"2026-01-01"},"seed":7,
                "reminders":{"after_days":3,"max":2},"reward":{"coupon":"Q4"}}"#,
        )
        .expect("a value")
    }

    #[test]
    fn waves_of_a_cadence() {
        let q = quarterly();
        assert_eq!(q.cadence.wave_on(day("2025-12-31")), None);
        assert_eq!(
            q.cadence.wave_on(day("2026-01-01")),
            Some(("2026-01-01".into(), day("2026-01-01")))
        );
        assert_eq!(
            q.cadence.wave_on(day("2026-12-01")).expect("a value").0,
            "2026-10-01"
        );
        assert_eq!(
            q.cadence.wave_on(day("2027-03-31")).expect("a value").0,
            "2027-01-01"
        );
        let monthly = Cadence::Every {
            n: 2,
            unit: Unit::Month,
            start: day("2026-01-31"),
        };
        // Every two months from 31 January: 31 Jan, 31 Mar, 31 May, …
        assert_eq!(
            monthly.wave_on(day("2026-03-30")).expect("a value").0,
            "2026-01-31"
        );
        assert_eq!(
            monthly.wave_on(day("2026-03-31")).expect("a value").0,
            "2026-03-31"
        );
        assert_eq!(add_months(day("2026-01-31"), 1), day("2026-02-28"));
        let weekly = Cadence::Every {
            n: 2,
            unit: Unit::Week,
            start: day("2026-11-02"),
        };
        assert_eq!(
            weekly.wave_on(day("2026-11-15")).expect("a value").0,
            "2026-11-02"
        );
        assert_eq!(
            weekly.wave_on(day("2026-11-16")).expect("a value").0,
            "2026-11-16"
        );
        assert_eq!(
            Cadence::Once(day("2026-12-01")).wave_on(day("2026-12-24")),
            Some(("2026-12-01".into(), day("2026-12-01")))
        );
    }

    #[test]
    fn definitions_round_trip_and_errors_name_the_key() {
        let q = quarterly();
        assert_eq!(
            ProgrammeDefinition::from_value(&q.to_value()).expect("a value"),
            q
        );
        assert_eq!(q.reward, Some(Reward::Coupon("Q4".into())));
        let bad = |json: &str| ProgrammeDefinition::from_json(json).expect_err("an error");
        assert!(bad(r#"{"slug":"x","survey":"s"}"#).contains("programme.cadence is missing"));
        assert!(
            bad(r#"{"slug":"x","survey":"s","cadence":{"every":1,"unit":"fortnight","start":"2026-01-01"}}"#)
                .contains("programme.cadence.unit \"fortnight\"")
        );
        assert!(
            bad(r#"{"slug":"x","survey":"s","cadence":{"once":"2026-01-01"},"audience":{"roles":["boss"]}}"#)
                .contains("unknown role \"boss\"")
        );
        assert!(
            bad(r#"{"slug":"x","survey":"s","cadence":{"once":"2026-01-01"},"channel":"sms"}"#)
                .contains("programme.gateway is needed")
        );
        assert!(
            bad(r#"{"slug":"X Y","survey":"s","cadence":{"once":"2026-01-01"}}"#)
                .contains("programme.slug")
        );
        assert!(
            bad(
                r#"{"slug":"x","survey":"s","cadence":{"once":"2026-01-01"},"sample":{"rate":1.5}}"#
            )
            .contains("programme.sample.rate")
        );
        assert!(
            bad(r#"{"slug":"x","survey":"s","cadence":{"once":"2026-01-01"},"colour":"red"}"#)
                .contains("unknown key \"colour\"")
        );
        // Chinese tier names are normalised like imports.
        let zh = ProgrammeDefinition::from_json(
            r#"{"slug":"x","survey":"s","cadence":{"once":"2026-01-01"},"audience":{"tiers":["大客户"]}}"#,
        )
        .expect("a value");
        assert_eq!(zh.audience.tiers, vec!["key".to_string()]);
    }

    #[test]
    fn the_draw_is_reproducible_and_follows_the_rules() {
        let mut def = quarterly();
        let rules = ContactRules {
            account_cap: 2,
            ..ContactRules::default()
        };
        let today = day("2026-12-01").days();
        let mut people: Vec<Candidate> = (0..40)
            .map(|k| {
                candidate(
                    &format!("C{k:02}"),
                    k / 4,
                    if k < 32 { "key" } else { "standard" },
                )
            })
            .collect();
        people[0].suppressed = Some("unsubscribed".into());
        people[1].email = None;
        people[2].last_contact_day = Some(today - 10);
        people[3].last_contact_day = Some(today - 40);
        let all = draw(&def, &rules, "2026-10-01", &people, today);
        assert_eq!(all.audience, 32);
        assert_eq!((all.suppressed, all.unreachable, all.fatigue), (1, 1, 1));
        // Eight key accounts of four people, at most two each; account 0 has
        // one person left (C03) after the exclusions.
        assert_eq!(all.drawn.len(), 15);
        assert_eq!(all.account_cap, 29 - 15);
        assert_eq!(all.not_sampled, 0);
        let mut per: std::collections::HashMap<i64, usize> = Default::default();
        for k in &all.drawn {
            *per.entry(people[*k].account_id).or_default() += 1;
        }
        assert!(per.values().all(|n| *n <= 2));
        def.sample = Sample::Size(5);
        let a = draw(&def, &rules, "2026-10-01", &people, today);
        let b = draw(&def, &rules, "2026-10-01", &people, today);
        assert_eq!(a.drawn, b.drawn);
        assert_eq!(a.drawn.len(), 5);
        assert_eq!(a.not_sampled, 10);
        // The sample is the first five of the full draw's order.
        assert_eq!(a.drawn[..], all.drawn[..5]);
        let other_wave = draw(&def, &rules, "2027-01-01", &people, today);
        assert_ne!(other_wave.drawn, a.drawn);
        def.seed = 8;
        assert_ne!(
            draw(&def, &rules, "2026-10-01", &people, today).drawn,
            a.drawn
        );
        def.sample = Sample::Rate(0.5);
        assert_eq!(
            draw(&def, &rules, "2026-10-01", &people, today).drawn.len(),
            8
        );
        assert_eq!(
            stable_hash(&["7", "2026-10-01", "C05"]),
            stable_hash(&["7", "2026-10-01", "C05"])
        );
        assert_ne!(
            stable_hash(&["7", "2026-10-01C", "05"]),
            stable_hash(&["7", "2026-10-01", "C05"])
        );
    }

    #[test]
    fn quiet_hours_in_the_persons_time_zone() {
        let rules = ContactRules::default();
        let shanghai = 8 * 3600;
        // 2026-12-01 13:00 UTC is 21:00 in Shanghai: quiet until 08:00 the next day (00:00 UTC).
        let ts = cx_ts("2026-12-01T13:00:00Z");
        assert_eq!(
            rules.next_allowed(ts, shanghai),
            cx_ts("2026-12-02T00:00:00Z")
        );
        // 02:00 UTC is 10:00 in Shanghai: fine.
        let morning = cx_ts("2026-12-01T02:00:00Z");
        assert_eq!(rules.next_allowed(morning, shanghai), morning);
        // 23:30 UTC is 07:30 in Shanghai: wait half an hour.
        assert_eq!(
            rules.next_allowed(cx_ts("2026-11-30T23:30:00Z"), shanghai),
            cx_ts("2026-12-01T00:00:00Z")
        );
        // New York (UTC−5): 02:00 UTC is 21:00 — quiet until 08:00 local, 13:00 UTC.
        assert_eq!(
            rules.next_allowed(morning, -5 * 3600),
            cx_ts("2026-12-01T13:00:00Z")
        );
        let none = ContactRules {
            quiet_start: 0,
            quiet_end: 0,
            ..ContactRules::default()
        };
        assert_eq!(none.next_allowed(ts, shanghai), ts);
        let r = ContactRules::from_json(r#"{"min_days_between": 60, "quiet_start": 22}"#)
            .expect("a value");
        assert_eq!(
            (r.min_days_between, r.quiet_start, r.quiet_end),
            (60, 22, 8)
        );
        assert!(
            ContactRules::from_json(r#"{"quiet_end": 24}"#)
                .expect_err("an error")
                .contains("quiet_end")
        );
    }

    fn cx_ts(s: &str) -> i64 {
        crate::period::parse_timestamp(s).expect("a value")
    }

    #[test]
    fn funnels_and_rates() {
        let mut f = Funnel {
            invited: 10,
            sent: 9,
            failed: 1,
            opened: 6,
            started: 5,
            completed: 3,
        };
        f.add(&Funnel {
            invited: 10,
            sent: 10,
            completed: 7,
            ..Funnel::default()
        });
        let r = f.response_rate();
        assert_eq!((r.count, r.n), (10, 19));
        assert!((r.percent.expect("a value") - 52.631_578_9).abs() < 1e-6);
        let i = r.interval.expect("a value");
        assert!(i.lo < 52.6 && i.hi > 52.7);
        assert_eq!(Funnel::default().response_rate().percent, None);
    }
}
