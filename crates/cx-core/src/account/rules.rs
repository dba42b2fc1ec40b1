//! Closing the loop: which signals (a detractor, a low CSAT, a negative
//! comment, a drop of the customer score, anything negative from a key account)
//! open a follow-up task, for whom, by when; the task's life (open → in
//! progress → waiting → resolved); and how fast each team answers and resolves.
//!
//! Times are Unix seconds (UTC); the store keeps them as RFC 3339 text too.
//!
//! ```
//! use cx_core::account::rules::{evaluate, LoopRules, Signal};
//!
//! let rules = LoopRules::default();
//! let signal = Signal { nps: Some(3), tier: Some("key".into()), at: 0, ..Signal::default() };
//! let plan = evaluate(&signal, &rules).expect("a detractor opens a task");
//! assert_eq!(plan.due, 24 * 3600); // key accounts: 24 hours
//! ```

use serde::{Deserialize, Serialize};

use crate::stats::interval::wilson_interval;

/// What happened, as far as the rules care.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// The NPS answer (0–10).
    pub nps: Option<u8>,
    /// The CSAT answer and its scale (`(2, 5)` = 2 on 1–5).
    pub csat: Option<(u8, u8)>,
    /// A comment whose text analysis is negative.
    pub negative_comment: Option<String>,
    /// How many points the account's customer score fell since the last period.
    pub score_drop: Option<f64>,
    /// The account's tier (`key` / `大客户` marks a key account).
    pub tier: Option<String>,
    /// When it happened (Unix seconds).
    pub at: i64,
}

/// Why a task was opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Reason {
    /// NPS answer at or below the detractor bar.
    Detractor {
        /// The answer.
        score: u8,
    },
    /// CSAT answer at or below the bar.
    LowCsat {
        /// The answer.
        score: u8,
        /// Its scale.
        scale: u8,
    },
    /// A negative comment.
    NegativeComment {
        /// The comment (shortened to 200 characters).
        text: String,
    },
    /// The customer score fell.
    ScoreDrop {
        /// By how many points.
        points: f64,
    },
    /// A key account sent a weaker negative signal (a low passive, a neutral CSAT).
    KeyAccountSignal {
        /// What it was.
        detail: String,
    },
}

impl Reason {
    /// A short sentence for task titles and pages.
    pub fn describe(&self, zh: bool) -> String {
        match (self, zh) {
            (Reason::Detractor { score }, true) => format!("贬损者(NPS {score})"),
            (Reason::Detractor { score }, false) => format!("Detractor (NPS {score})"),
            (Reason::LowCsat { score, scale }, true) => format!("满意度低({score}/{scale})"),
            (Reason::LowCsat { score, scale }, false) => format!("Low CSAT ({score}/{scale})"),
            (Reason::NegativeComment { .. }, true) => "负面评论".into(),
            (Reason::NegativeComment { .. }, false) => "Negative comment".into(),
            (Reason::ScoreDrop { points }, true) => format!("客户评分下降 {points:.1} 分"),
            (Reason::ScoreDrop { points }, false) => {
                format!("Customer score fell {points:.1} points")
            }
            (Reason::KeyAccountSignal { detail }, true) => format!("大客户负面信号({detail})"),
            (Reason::KeyAccountSignal { detail }, false) => {
                format!("Key account negative signal ({detail})")
            }
        }
    }
}

/// How urgent a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Routine.
    Normal,
    /// Several signals at once.
    High,
    /// A key account.
    Urgent,
}

impl Priority {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    /// Reads a name written by [`Priority::as_str`].
    pub fn parse(text: &str) -> Option<Priority> {
        Some(match text {
            "normal" => Priority::Normal,
            "high" => Priority::High,
            "urgent" => Priority::Urgent,
            _ => return None,
        })
    }
}

/// The rules a company sets; every one can be switched off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoopRules {
    /// Open a task for NPS answers ≤ this (6 = every detractor); `None` = off.
    pub detractor_max: Option<u8>,
    /// Open a task for CSAT answers ≤ this on a 1–5 scale (other scales are
    /// compared after linear rescaling to 1–5); `None` = off.
    pub csat_max: Option<u8>,
    /// Open a task for a negative comment.
    pub negative_comment: bool,
    /// Open a task when the customer score falls more than this many points; `None` = off.
    pub score_drop: Option<f64>,
    /// Key accounts also open tasks for NPS ≤ this (a low passive) and CSAT ≤
    /// `key_csat_max`; their tasks are urgent.
    pub key_nps_max: Option<u8>,
    /// See `key_nps_max`.
    pub key_csat_max: Option<u8>,
    /// Hours to resolve, by tier; tiers not listed use `default_sla_hours`.
    pub sla_hours: Vec<(String, u32)>,
    /// Hours to resolve for tiers not in `sla_hours`.
    pub default_sla_hours: u32,
}

impl Default for LoopRules {
    fn default() -> LoopRules {
        LoopRules {
            detractor_max: Some(6),
            csat_max: Some(2),
            negative_comment: true,
            score_drop: Some(10.0),
            key_nps_max: Some(7),
            key_csat_max: Some(3),
            sla_hours: vec![("key".into(), 24)],
            default_sla_hours: 72,
        }
    }
}

/// Whether a tier names a key account (大客户).
pub fn is_key_tier(tier: &str) -> bool {
    matches!(
        tier.trim().to_lowercase().as_str(),
        "key"
            | "key_account"
            | "key account"
            | "ka"
            | "strategic"
            | "大客户"
            | "重点客户"
            | "战略客户"
    )
}

impl LoopRules {
    /// Hours allowed for a tier: its own entry, the key-account entry for any
    /// key tier spelling, or the default.
    pub fn sla_for(&self, tier: Option<&str>) -> u32 {
        let Some(tier) = tier else {
            return self.default_sla_hours;
        };
        let t = tier.trim();
        if let Some((_, h)) = self.sla_hours.iter().find(|(name, _)| name == t) {
            return *h;
        }
        if is_key_tier(t)
            && let Some((_, h)) = self.sla_hours.iter().find(|(name, _)| is_key_tier(name))
        {
            return *h;
        }
        self.default_sla_hours
    }
}

/// A task the rules ask for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskPlan {
    /// Every rule that fired.
    pub reasons: Vec<Reason>,
    /// Urgent for key accounts, high for two or more reasons, else normal.
    pub priority: Priority,
    /// Deadline (Unix seconds): the signal's time plus the tier's SLA.
    pub due: i64,
}

impl TaskPlan {
    /// The task's title: its reasons joined.
    pub fn title(&self, zh: bool) -> String {
        let parts: Vec<String> = self.reasons.iter().map(|r| r.describe(zh)).collect();
        parts.join(if zh { ";" } else { "; " })
    }
}

/// A CSAT answer on a 1–`scale` scale, rescaled linearly to 1–5.
fn on_five(value: u8, scale: u8) -> f64 {
    if scale <= 1 {
        return f64::from(value);
    }
    1.0 + 4.0 * (f64::from(value) - 1.0) / (f64::from(scale) - 1.0)
}

/// The task a signal calls for, if any.
pub fn evaluate(signal: &Signal, rules: &LoopRules) -> Option<TaskPlan> {
    let key = signal.tier.as_deref().is_some_and(is_key_tier);
    let mut reasons = Vec::new();
    let mut key_detail = Vec::new();
    if let Some(score) = signal.nps {
        if rules.detractor_max.is_some_and(|max| score <= max) {
            reasons.push(Reason::Detractor { score });
        } else if key && rules.key_nps_max.is_some_and(|max| score <= max) {
            key_detail.push(format!("NPS {score}"));
        }
    }
    if let Some((score, scale)) = signal.csat {
        let five = on_five(score, scale);
        if rules
            .csat_max
            .is_some_and(|max| five <= f64::from(max) + 1e-9)
        {
            reasons.push(Reason::LowCsat { score, scale });
        } else if key
            && rules
                .key_csat_max
                .is_some_and(|max| five <= f64::from(max) + 1e-9)
        {
            key_detail.push(format!("CSAT {score}/{scale}"));
        }
    }
    if rules.negative_comment
        && let Some(text) = &signal.negative_comment
    {
        reasons.push(Reason::NegativeComment {
            text: text.chars().take(200).collect(),
        });
    }
    if let (Some(points), Some(limit)) = (signal.score_drop, rules.score_drop)
        && points > limit
    {
        reasons.push(Reason::ScoreDrop { points });
    }
    if !key_detail.is_empty() {
        reasons.push(Reason::KeyAccountSignal {
            detail: key_detail.join(", "),
        });
    }
    if reasons.is_empty() {
        return None;
    }
    let priority = if key {
        Priority::Urgent
    } else if reasons.len() >= 2 {
        Priority::High
    } else {
        Priority::Normal
    };
    let hours = rules.sla_for(signal.tier.as_deref());
    Some(TaskPlan {
        reasons,
        priority,
        due: signal.at + i64::from(hours) * 3600,
    })
}

/// Who a new task goes to: the account owner, else the sales team, else nobody
/// (the task is listed as unassigned).
pub fn default_owner(account_owner: Option<&str>, sales_team: Option<&str>) -> Option<String> {
    [account_owner, sales_team]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map(str::to_string)
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Nobody has acted yet.
    Open,
    /// Someone is on it.
    InProgress,
    /// Waiting for the customer or another team.
    Waiting,
    /// Done; carries a resolution.
    Resolved,
}

impl TaskStatus {
    /// All statuses, in workflow order.
    pub const ALL: [TaskStatus; 4] = [
        TaskStatus::Open,
        TaskStatus::InProgress,
        TaskStatus::Waiting,
        TaskStatus::Resolved,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Open => "open",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Waiting => "waiting",
            TaskStatus::Resolved => "resolved",
        }
    }

    /// Reads a status in English (`in progress`, `in-progress` too) or Chinese.
    pub fn parse(text: &str) -> Option<TaskStatus> {
        let t = text.trim().to_lowercase().replace([' ', '-'], "_");
        Some(match t.as_str() {
            "open" | "待处理" | "新建" => TaskStatus::Open,
            "in_progress" | "处理中" => TaskStatus::InProgress,
            "waiting" | "等待中" | "等待" => TaskStatus::Waiting,
            "resolved" | "closed" | "done" | "已解决" | "已关闭" => TaskStatus::Resolved,
            _ => return None,
        })
    }

    /// The label shown on pages.
    pub fn label(self, zh: bool) -> &'static str {
        match (self, zh) {
            (TaskStatus::Open, true) => "待处理",
            (TaskStatus::InProgress, true) => "处理中",
            (TaskStatus::Waiting, true) => "等待中",
            (TaskStatus::Resolved, true) => "已解决",
            (TaskStatus::Open, false) => "Open",
            (TaskStatus::InProgress, false) => "In progress",
            (TaskStatus::Waiting, false) => "Waiting",
            (TaskStatus::Resolved, false) => "Resolved",
        }
    }
}

/// A change of status a user asks for, checked.
///
/// Resolving needs a resolution (what was done); any other move is allowed,
/// including reopening a resolved task.
pub fn check_transition(to: TaskStatus, resolution: Option<&str>) -> Result<(), &'static str> {
    if to == TaskStatus::Resolved && resolution.is_none_or(|r| r.trim().is_empty()) {
        return Err("a resolved task needs a resolution: say what was done");
    }
    Ok(())
}

/// Whether a task is past its deadline and not resolved.
pub fn is_overdue(status: TaskStatus, due: Option<i64>, now: i64) -> bool {
    status != TaskStatus::Resolved && due.is_some_and(|d| now > d)
}

/// One task's times, for the response- and resolution-time figures.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskTimes {
    /// The owner's team (or the owner when no team is known).
    pub team: String,
    /// Created (Unix seconds).
    pub created: i64,
    /// First moved out of `open` or given a note.
    pub first_action: Option<i64>,
    /// Resolved.
    pub resolved: Option<i64>,
    /// Deadline.
    pub due: Option<i64>,
}

/// Response and resolution times of one team.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamLoopFigures {
    /// The team.
    pub team: String,
    /// Tasks created.
    pub tasks: u64,
    /// Tasks resolved.
    pub resolved: u64,
    /// Tasks past their deadline and not resolved (as of `now`).
    pub overdue: u64,
    /// Median hours from creation to first action, over tasks acted on.
    pub median_response_hours: Option<f64>,
    /// Median hours from creation to resolution, over resolved tasks.
    pub median_resolution_hours: Option<f64>,
    /// Percent of resolved tasks resolved by their deadline.
    pub within_sla_pct: Option<f64>,
    /// Wilson 95% interval of `within_sla_pct`.
    pub within_sla_ci95: Option<[f64; 2]>,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// Response and resolution times by team, teams in name order, plus `"(all)"` last.
pub fn loop_figures(tasks: &[TaskTimes], now: i64) -> Vec<TeamLoopFigures> {
    let mut teams: Vec<&str> = tasks.iter().map(|t| t.team.as_str()).collect();
    teams.sort_unstable();
    teams.dedup();
    let mut out: Vec<TeamLoopFigures> = teams
        .iter()
        .map(|team| figures_of(team, tasks.iter().filter(|t| t.team == *team), now))
        .collect();
    if !tasks.is_empty() {
        out.push(figures_of("(all)", tasks.iter(), now));
    }
    out
}

fn figures_of<'a>(
    team: &str,
    tasks: impl Iterator<Item = &'a TaskTimes>,
    now: i64,
) -> TeamLoopFigures {
    let hours = |from: i64, to: i64| (to - from) as f64 / 3600.0;
    let (mut n, mut resolved, mut overdue, mut in_sla, mut with_due) = (0, 0, 0, 0, 0);
    let (mut response, mut resolution) = (Vec::new(), Vec::new());
    for t in tasks {
        n += 1;
        if let Some(a) = t.first_action {
            response.push(hours(t.created, a));
        }
        match t.resolved {
            Some(r) => {
                resolved += 1;
                resolution.push(hours(t.created, r));
                if let Some(d) = t.due {
                    with_due += 1;
                    if r <= d {
                        in_sla += 1;
                    }
                }
            }
            None => {
                if t.due.is_some_and(|d| now > d) {
                    overdue += 1;
                }
            }
        }
    }
    let ci = wilson_interval(in_sla, with_due);
    TeamLoopFigures {
        team: team.to_string(),
        tasks: n,
        resolved,
        overdue,
        median_response_hours: median(response),
        median_resolution_hours: median(resolution),
        within_sla_pct: (with_due > 0).then(|| 100.0 * in_sla as f64 / with_due as f64),
        within_sla_ci95: ci.map(|i| [100.0 * i.lo, 100.0 * i.hi]),
    }
}

/// Reads a rules file (JSON; every field optional, defaults as [`LoopRules::default`]),
/// e.g. `{"detractor_max": 6, "sla_hours": [["key", 24], ["A", 48]], "default_sla_hours": 72}`.
pub fn rules_from_json(text: &str) -> Result<LoopRules, String> {
    let rules: LoopRules = serde_json::from_str(text).map_err(|e| format!("loop rules: {e}"))?;
    if rules.detractor_max.is_some_and(|m| m > 10) {
        return Err("loop rules: detractor_max must be 0–10".into());
    }
    if rules.key_nps_max.is_some_and(|m| m > 10) {
        return Err("loop rules: key_nps_max must be 0–10".into());
    }
    for (name, v) in [
        ("csat_max", rules.csat_max),
        ("key_csat_max", rules.key_csat_max),
    ] {
        if v.is_some_and(|m| !(1..=5).contains(&m)) {
            return Err(format!("loop rules: {name} must be 1–5 (on a 1–5 scale)"));
        }
    }
    if rules.score_drop.is_some_and(|d| !d.is_finite() || d < 0.0) {
        return Err("loop rules: score_drop must be a number of points ≥ 0".into());
    }
    if rules.default_sla_hours == 0 || rules.sla_hours.iter().any(|(_, h)| *h == 0) {
        return Err("loop rules: SLA hours must be at least 1".into());
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600;

    fn signal() -> Signal {
        Signal {
            at: 1_000_000,
            ..Signal::default()
        }
    }

    #[test]
    fn detractors_open_tasks_and_promoters_do_not() {
        let rules = LoopRules::default();
        for score in 0..=6 {
            let plan = evaluate(
                &Signal {
                    nps: Some(score),
                    ..signal()
                },
                &rules,
            )
            .expect("detractor");
            assert_eq!(plan.reasons, vec![Reason::Detractor { score }]);
            assert_eq!(plan.priority, Priority::Normal);
            assert_eq!(plan.due, 1_000_000 + 72 * HOUR);
        }
        for score in 7..=10 {
            let s = Signal {
                nps: Some(score),
                ..signal()
            };
            assert_eq!(evaluate(&s, &rules), None, "{score}");
        }
    }

    #[test]
    fn key_accounts_have_a_lower_bar_a_shorter_sla_and_urgency() {
        let rules = LoopRules::default();
        let key = |nps, csat| Signal {
            nps,
            csat,
            tier: Some("大客户".into()),
            ..signal()
        };
        let plan = evaluate(&key(Some(7), None), &rules).expect("low passive");
        assert_eq!(
            plan.reasons,
            vec![Reason::KeyAccountSignal {
                detail: "NPS 7".into()
            }]
        );
        assert_eq!(plan.priority, Priority::Urgent);
        assert_eq!(plan.due, 1_000_000 + 24 * HOUR);
        assert_eq!(evaluate(&key(Some(8), None), &rules), None);
        let plan = evaluate(&key(None, Some((3, 5))), &rules).expect("neutral csat");
        assert_eq!(plan.title(false), "Key account negative signal (CSAT 3/5)");
        // A non-key account with the same answers opens nothing.
        let plain = Signal {
            nps: Some(7),
            csat: Some((3, 5)),
            tier: Some("A".into()),
            ..signal()
        };
        assert_eq!(evaluate(&plain, &rules), None);
    }

    #[test]
    fn several_reasons_make_one_high_priority_task() {
        let rules = LoopRules::default();
        let s = Signal {
            nps: Some(2),
            csat: Some((1, 5)),
            negative_comment: Some("送货太慢".into()),
            ..signal()
        };
        let plan = evaluate(&s, &rules).expect("task");
        assert_eq!(plan.reasons.len(), 3);
        assert_eq!(plan.priority, Priority::High);
        assert_eq!(plan.title(true), "贬损者(NPS 2);满意度低(1/5);负面评论");
    }

    #[test]
    fn csat_on_other_scales_is_rescaled() {
        let rules = LoopRules::default();
        // 1–7: 2 → 1 + 4·1/6 = 1.67 ≤ 2 (fires); 3 → 2.33 (does not).
        let at = |v, scale| {
            evaluate(
                &Signal {
                    csat: Some((v, scale)),
                    ..signal()
                },
                &rules,
            )
            .is_some()
        };
        assert!(at(2, 7));
        assert!(!at(3, 7));
        // 1–10: 3 → 1 + 4·2/9 = 1.89 fires; 4 → 2.33 does not.
        assert!(at(3, 10));
        assert!(!at(4, 10));
        assert!(at(2, 5));
        assert!(!at(3, 5));
    }

    #[test]
    fn score_drop_and_switched_off_rules() {
        let mut rules = LoopRules::default();
        let drop = |p| Signal {
            score_drop: Some(p),
            ..signal()
        };
        assert_eq!(evaluate(&drop(10.0), &rules), None, "not more than 10");
        assert!(evaluate(&drop(10.5), &rules).is_some());
        rules.detractor_max = None;
        rules.score_drop = None;
        assert_eq!(evaluate(&drop(50.0), &rules), None);
        let d = Signal {
            nps: Some(0),
            ..signal()
        };
        assert_eq!(evaluate(&d, &rules), None);
    }

    #[test]
    fn sla_by_tier() {
        let rules =
            rules_from_json(r#"{"sla_hours": [["key", 24], ["A", 48]], "default_sla_hours": 96}"#)
                .expect("rules");
        assert_eq!(rules.sla_for(Some("key")), 24);
        assert_eq!(rules.sla_for(Some("大客户")), 24);
        assert_eq!(rules.sla_for(Some("A")), 48);
        assert_eq!(rules.sla_for(Some("B")), 96);
        assert_eq!(rules.sla_for(None), 96);
    }

    #[test]
    fn rules_file_errors_say_what() {
        let e = rules_from_json(r#"{"detractor_max": 11}"#).expect_err("bad");
        assert!(e.contains("detractor_max"), "{e}");
        let e = rules_from_json(r#"{"sla": 3}"#).expect_err("unknown");
        assert!(e.contains("unknown field `sla`"), "{e}");
        let e = rules_from_json(r#"{"default_sla_hours": 0}"#).expect_err("zero");
        assert!(e.contains("at least 1"), "{e}");
        let e = rules_from_json(r#"{"csat_max": 6}"#).expect_err("csat");
        assert!(e.contains("csat_max"), "{e}");
        assert_eq!(rules_from_json("{}").expect("empty"), LoopRules::default());
    }

    #[test]
    fn owners_statuses_and_overdue() {
        assert_eq!(
            default_owner(Some("李娜"), Some("华东一组")),
            Some("李娜".into())
        );
        assert_eq!(
            default_owner(Some(" "), Some("华东一组")),
            Some("华东一组".into())
        );
        assert_eq!(default_owner(None, None), None);
        for s in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(
            TaskStatus::parse("In progress"),
            Some(TaskStatus::InProgress)
        );
        assert_eq!(TaskStatus::parse("已解决"), Some(TaskStatus::Resolved));
        assert!(check_transition(TaskStatus::Resolved, None).is_err());
        assert!(check_transition(TaskStatus::Resolved, Some("  ")).is_err());
        assert!(check_transition(TaskStatus::Resolved, Some("refunded")).is_ok());
        assert!(check_transition(TaskStatus::Open, None).is_ok());
        assert!(is_overdue(TaskStatus::Open, Some(10), 11));
        assert!(!is_overdue(TaskStatus::Open, Some(10), 10));
        assert!(!is_overdue(TaskStatus::Resolved, Some(10), 11));
        assert!(!is_overdue(TaskStatus::Waiting, None, 11));
    }

    #[test]
    fn team_figures_by_hand() {
        let t = |team: &str, created, action, resolved, due| TaskTimes {
            team: team.into(),
            created,
            first_action: action,
            resolved,
            due,
        };
        let tasks = [
            // East: responses 1 h and 3 h → median 2 h; resolutions 10 h (in SLA
            // of 24 h) and 30 h (late) → median 20 h, 50 % in SLA.
            t("east", 0, Some(HOUR), Some(10 * HOUR), Some(24 * HOUR)),
            t("east", 0, Some(3 * HOUR), Some(30 * HOUR), Some(24 * HOUR)),
            // West: one open task past its deadline.
            t("west", 0, None, None, Some(5 * HOUR)),
        ];
        let figures = loop_figures(&tasks, 100 * HOUR);
        assert_eq!(figures.len(), 3);
        let east = &figures[0];
        assert_eq!((east.tasks, east.resolved, east.overdue), (2, 2, 0));
        assert_eq!(east.median_response_hours, Some(2.0));
        assert_eq!(east.median_resolution_hours, Some(20.0));
        assert_eq!(east.within_sla_pct, Some(50.0));
        // Wilson, 1 of 2: centre (0.5 + z²/4)/(1 + z²/2) = 0.5, half-width
        // z·sqrt(0.125 + z²/16)/(1 + z²/2) = 0.4055 → [9.45, 90.55].
        let [lo, hi] = east.within_sla_ci95.expect("ci");
        assert!(
            (lo - 9.4531).abs() < 1e-3 && (hi - 90.5469).abs() < 1e-3,
            "{lo} {hi}"
        );
        let west = &figures[1];
        assert_eq!((west.tasks, west.overdue), (1, 1));
        assert_eq!(west.median_response_hours, None);
        assert_eq!(west.within_sla_pct, None);
        let all = &figures[2];
        assert_eq!(all.team, "(all)");
        assert_eq!((all.tasks, all.resolved, all.overdue), (3, 2, 1));
    }
}
