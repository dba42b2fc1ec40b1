//! Pages of accounts as a whole and of closing the loop: the score, people
//! and open tasks on an account's page; `/app/tasks` and `/app/tasks/{id}`
//! (forms that work without JavaScript); `/app/scorecard`. The figures come
//! from the same functions as the API (`cx_store::accounts`,
//! `crate::followup`), so page and API agree.

use askama::Template;
use cx_core::account::relationship::{AccountRelationship, Stance, role_label};
use cx_core::account::rules::{Reason, TaskStatus, TeamLoopFigures};
use cx_core::account::scorecard::{Component, CustomerScore, Grade, Scorecard};
use cx_core::model::customer::ContactRole;
use cx_store::accounts::AccountScore;
use cx_store::followup::StoredTask;

use crate::followup::TaskView;
use crate::pages::{Chrome, Texts};

fn f1(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.1}"))
}

/// Percent-encodes `text` for one URL path segment (a space is `%20`, never `+`).
pub fn path_segment(text: &str) -> String {
    use std::fmt::Write;
    text.bytes().fold(String::new(), |mut out, b| {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
        out
    })
}

/// Labels of the seven relationship dimensions.
pub fn dimension_label(dimension: &str, zh: bool) -> &'static str {
    match (dimension, zh) {
        ("satisfaction", true) => "满意度",
        ("loyalty", true) => "忠诚度(推荐)",
        ("engagement", true) => "参与度",
        ("information_transfer", true) => "信息传递度",
        ("daily_guidance", true) => "日常指导度",
        ("project_support", true) => "项目支持度",
        ("competitive_preference", true) => "竞争偏向度",
        ("satisfaction", false) => "Satisfaction",
        ("loyalty", false) => "Loyalty (recommend)",
        ("engagement", false) => "Engagement",
        ("information_transfer", false) => "Information transfer",
        ("daily_guidance", false) => "Daily guidance",
        ("project_support", false) => "Project support",
        ("competitive_preference", false) => "Competitive preference",
        _ => "?",
    }
}

/// The words of these pages.
pub struct Words {
    pub(crate) score: &'static str,
    pub(crate) relationship: &'static str,
    pub(crate) why: &'static str,
    pub(crate) component: &'static str,
    pub(crate) value: &'static str,
    pub(crate) of_100: &'static str,
    pub(crate) weight: &'static str,
    pub(crate) points: &'static str,
    pub(crate) lost: &'static str,
    pub(crate) no_data: &'static str,
    pub(crate) coverage: &'static str,
    pub(crate) people: &'static str,
    pub(crate) role: &'static str,
    pub(crate) influence: &'static str,
    pub(crate) stance: &'static str,
    pub(crate) last_contact: &'static str,
    pub(crate) days: &'static str,
    pub(crate) dimension: &'static str,
    pub(crate) map: &'static str,
    pub(crate) history: &'static str,
    pub(crate) open_tasks: &'static str,
    pub(crate) flags: &'static str,
    pub(crate) derived: &'static str,
    pub(crate) status: &'static str,
    pub(crate) owner: &'static str,
    pub(crate) priority: &'static str,
    pub(crate) due: &'static str,
    pub(crate) overdue: &'static str,
    pub(crate) all: &'static str,
    pub(crate) active: &'static str,
    pub(crate) apply: &'static str,
    pub(crate) title: &'static str,
    pub(crate) reasons: &'static str,
    pub(crate) note: &'static str,
    pub(crate) resolution: &'static str,
    pub(crate) resurvey: &'static str,
    pub(crate) save: &'static str,
    pub(crate) resurvey_link: &'static str,
    pub(crate) before_after: &'static str,
    pub(crate) team: &'static str,
    pub(crate) tasks: &'static str,
    pub(crate) resolved: &'static str,
    pub(crate) response_h: &'static str,
    pub(crate) resolution_h: &'static str,
    pub(crate) in_sla: &'static str,
    pub(crate) no_tasks: &'static str,
    pub(crate) grades: &'static str,
    pub(crate) accounts: &'static str,
    pub(crate) admin_only: &'static str,
    pub(crate) saved: &'static str,
    pub(crate) unassigned: &'static str,
    pub(crate) not_assessed: &'static str,
    pub(crate) created: &'static str,
    pub(crate) assess: &'static str,
    pub(crate) period: &'static str,
    pub(crate) actions: &'static str,
    pub(crate) actions_note: &'static str,
    pub(crate) metric: &'static str,
    pub(crate) filter: &'static str,
    pub(crate) since: &'static str,
    pub(crate) before: &'static str,
    pub(crate) after: &'static str,
    pub(crate) change: &'static str,
    pub(crate) add: &'static str,
    pub(crate) survey: &'static str,
    pub(crate) action: &'static str,
}

const ZH: Words = Words {
    score: "客户评分",
    relationship: "关系评分",
    why: "失分最多的方面",
    component: "组成",
    value: "原始值",
    of_100: "得分(0–100)",
    weight: "权重",
    points: "贡献分",
    lost: "失分",
    no_data: "无数据（权重已重新分配）",
    coverage: "数据覆盖",
    people: "关键人",
    role: "角色",
    influence: "影响力",
    stance: "立场",
    last_contact: "最近联系",
    days: "天前",
    dimension: "维度",
    map: "关系图（按角色与立场）",
    history: "评分历史（季度末）",
    open_tasks: "未完成的跟进任务",
    flags: "提醒",
    derived: "* 由数据推导（满意度来自 CSAT，忠诚度来自 NPS，参与度来自互动次数）",
    status: "状态",
    owner: "负责人",
    priority: "优先级",
    due: "期限",
    overdue: "已逾期",
    all: "全部",
    active: "未完成",
    apply: "应用",
    title: "任务",
    reasons: "原因",
    note: "备注",
    resolution: "处理结果（标记为已解决时必填）",
    resurvey: "解决后再次邀请此人填写问卷",
    save: "保存",
    resurvey_link: "再次调查链接（只显示这一次，请发给客户）：",
    before_after: "NPS 处理前 → 处理后",
    team: "团队",
    tasks: "任务数",
    resolved: "已解决",
    response_h: "首次响应(小时,中位数)",
    resolution_h: "解决用时(小时,中位数)",
    in_sla: "按期解决 %",
    no_tasks: "没有符合条件的任务。",
    grades: "评级阈值",
    accounts: "客户数",
    admin_only: "只有管理员可以修改评分卡。",
    saved: "已保存，以下评级按新评分卡计算。",
    unassigned: "（未分配）",
    not_assessed: "未评估",
    created: "创建",
    assess: "记录关系评估（−2…+2，留空为未评）",
    period: "期间",
    actions: "改进措施",
    actions_note: "每项措施对比开始后与开始前同样长的时间段（显著性检验同指标页）。",
    metric: "指标",
    filter: "筛选",
    since: "开始",
    before: "之前",
    after: "之后",
    change: "变化",
    add: "添加",
    survey: "问卷",
    action: "措施",
};

const EN: Words = Words {
    score: "Customer score",
    relationship: "Relationship score",
    why: "Where the points are lost",
    component: "Component",
    value: "Raw value",
    of_100: "Score (0–100)",
    weight: "Weight",
    points: "Points",
    lost: "Lost",
    no_data: "no data (weight shared out)",
    coverage: "Coverage",
    people: "Key people",
    role: "Role",
    influence: "Influence",
    stance: "Stance",
    last_contact: "Last contact",
    days: "days ago",
    dimension: "Dimension",
    map: "Relationship map (role × stance)",
    history: "Score history (quarter ends)",
    open_tasks: "Open follow-up tasks",
    flags: "Flags",
    derived: "* derived from data (satisfaction from CSAT, loyalty from NPS, engagement from interactions)",
    status: "Status",
    owner: "Owner",
    priority: "Priority",
    due: "Due",
    overdue: "overdue",
    all: "all",
    active: "not resolved",
    apply: "Apply",
    title: "Task",
    reasons: "Reasons",
    note: "Note",
    resolution: "Resolution (needed to resolve)",
    resurvey: "After resolving, invite this person to answer the survey again",
    save: "Save",
    resurvey_link: "Re-survey link (shown once; send it to the customer):",
    before_after: "NPS before → after",
    team: "Team",
    tasks: "Tasks",
    resolved: "Resolved",
    response_h: "First response (h, median)",
    resolution_h: "Resolution (h, median)",
    in_sla: "Within SLA %",
    no_tasks: "No tasks match.",
    grades: "Grade thresholds",
    accounts: "Accounts",
    admin_only: "Only admins can change the scorecard.",
    saved: "Saved; the grades below use the new scorecard.",
    unassigned: "(unassigned)",
    not_assessed: "not assessed",
    created: "Created",
    assess: "Record an assessment (−2…+2, blank = not rated)",
    period: "Period",
    actions: "Improvement actions",
    actions_note: "Each action's metric since it started, against the equally long window before (the same tests as the metrics).",
    metric: "Metric",
    filter: "Filter",
    since: "Since",
    before: "Before",
    after: "After",
    change: "Change",
    add: "Add",
    survey: "Survey",
    action: "Action",
};

/// The words for `lang`.
pub fn words(lang: &str) -> &'static Words {
    if lang.starts_with("zh") { &ZH } else { &EN }
}

/// A component row on the account page.
pub struct ComponentRow {
    pub(crate) label: &'static str,
    pub(crate) raw: String,
    pub(crate) normalised: String,
    pub(crate) weight: String,
    pub(crate) points: String,
    pub(crate) lost: String,
    pub(crate) missing: bool,
}

/// A person on the account page.
pub struct PersonRow {
    pub(crate) name: String,
    pub(crate) code: String,
    pub(crate) role: &'static str,
    pub(crate) influence: String,
    pub(crate) stance: &'static str,
    pub(crate) stance_class: &'static str,
    pub(crate) score: String,
    pub(crate) ratings: Vec<String>,
    pub(crate) contact: String,
}

/// What the account page shows about the score, the people and the tasks.
pub struct AccountCare {
    pub(crate) w: &'static Words,
    pub(crate) score: String,
    pub(crate) grade: &'static str,
    pub(crate) health: &'static str,
    pub(crate) health_class: &'static str,
    pub(crate) coverage: String,
    pub(crate) components: Vec<ComponentRow>,
    pub(crate) reasons: Vec<String>,
    pub(crate) relationship: String,
    pub(crate) dimensions: Vec<(&'static str, String, String, usize)>,
    pub(crate) dim_heads: Vec<&'static str>,
    pub(crate) people: Vec<PersonRow>,
    pub(crate) flags: Vec<String>,
    pub(crate) map: Vec<(&'static str, [String; 4])>,
    pub(crate) stances: [&'static str; 4],
    pub(crate) history: Vec<(String, String, &'static str, String)>,
    pub(crate) tasks: Vec<TaskRow>,
    /// An error of the assessment form just sent.
    pub(crate) error: String,
    /// Whether the reader may record assessments.
    pub(crate) can_assess: bool,
    /// The current quarter (the form's default period).
    pub(crate) period: String,
    /// The account code, URL-encoded.
    pub(crate) code: String,
    /// Dimension ids, labels and the chosen person's rating in force (assessed,
    /// not derived), for the form.
    pub(crate) dim_fields: Vec<(&'static str, &'static str, String)>,
    /// The person the form is for (`?assess=CODE`), else the first.
    pub(crate) assess: String,
    /// Show the form open (a person was chosen).
    pub(crate) open_form: bool,
}

fn health_class(score: &CustomerScore) -> &'static str {
    score.health.as_str()
}

fn component_raw(c: Component, raw: Option<f64>, zh: bool) -> String {
    let Some(v) = raw else {
        return "—".into();
    };
    match c {
        Component::Activity => format!(
            "{v:.0} {}",
            if zh {
                "天未购买"
            } else {
                "days since purchase"
            }
        ),
        Component::Repeat => format!(
            "{v:.0} {}",
            if zh {
                "次购买/年"
            } else {
                "purchases/year"
            }
        ),
        Component::Growth if v.abs() < 0.05 => "0.0%".into(),
        Component::Growth => format!("{v:+.1}%"),
        Component::Clv => format!("{v:.0}"),
        Component::Complaints => format!("{v:.0}"),
        _ => format!("{v:.1}"),
    }
}

/// The sentences of "why is this account red": the components that cost most.
pub fn reason_sentences(score: &CustomerScore, zh: bool) -> Vec<String> {
    score
        .reasons(3)
        .into_iter()
        .map(|c| {
            let label = c.component.label(zh);
            let got = c.normalised.unwrap_or(0.0);
            if zh {
                format!("{label}：{got:.0}/100，失 {:.1} 分", c.lost)
            } else {
                format!("{label}: {got:.0}/100, {:.1} points lost", c.lost)
            }
        })
        .collect()
}

impl AccountCare {
    /// Points the assessment form at `code` (or the first person) and fills
    /// in that person's ratings in force.
    pub fn choose(&mut self, relationship: &AccountRelationship, code: Option<&str>, zh: bool) {
        let person = code
            .and_then(|c| relationship.people.iter().find(|p| p.code == c))
            .or_else(|| relationship.people.first());
        self.assess = person.map(|p| p.code.clone()).unwrap_or_default();
        self.dim_fields = cx_core::model::customer::RELATIONSHIP_DIMENSIONS
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let value = person
                    .filter(|p| !p.derived[i])
                    .and_then(|p| p.ratings[i])
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                (*d, dimension_label(d, zh), value)
            })
            .collect();
    }
}

/// Builds the account page's score section.
pub fn account_care(
    s: &AccountScore,
    history: &[crate::api_accounts::HistoryPoint],
    tasks: &[StoredTask],
    lang: &str,
) -> AccountCare {
    let mut care = account_care_inner(s, history, tasks, lang);
    care.choose(&s.relationship, None, lang.starts_with("zh"));
    care
}

fn account_care_inner(
    s: &AccountScore,
    history: &[crate::api_accounts::HistoryPoint],
    tasks: &[StoredTask],
    lang: &str,
) -> AccountCare {
    let zh = lang.starts_with("zh");
    let w = words(lang);
    let r: &AccountRelationship = &s.relationship;
    let stances = [
        Stance::Supporter,
        Stance::Neutral,
        Stance::Opponent,
        Stance::Unknown,
    ];
    let mut map: Vec<(&'static str, [String; 4])> = Vec::new();
    for role in ContactRole::ALL
        .iter()
        .map(|r| Some(*r))
        .chain(std::iter::once(None))
    {
        let mut cells: [Vec<String>; 4] = Default::default();
        for p in r.people.iter().filter(|p| p.role == role) {
            let k = stances.iter().position(|s| *s == p.stance).unwrap_or(3);
            cells[k].push(p.name.clone());
        }
        if cells.iter().any(|c| !c.is_empty()) || role.is_some() {
            let label = role.map_or(if zh { "未填角色" } else { "No role" }, |r| {
                role_label(r, zh)
            });
            map.push((label, cells.map(|c| c.join("、"))));
        }
    }
    AccountCare {
        w,
        score: f1(s.score.score),
        grade: s.score.grade.as_str(),
        health: s.score.health.label(zh),
        health_class: health_class(&s.score),
        coverage: format!("{:.0}%", 100.0 * s.score.coverage),
        components: s
            .score
            .components
            .iter()
            .map(|c| ComponentRow {
                label: c.component.label(zh),
                raw: component_raw(c.component, c.raw, zh),
                normalised: f1(c.normalised),
                weight: format!("{:.0}", c.weight),
                points: if c.missing {
                    "—".into()
                } else {
                    format!("{:.1}", c.points)
                },
                lost: if c.missing {
                    "—".into()
                } else {
                    format!("{:.1}", c.lost)
                },
                missing: c.missing,
            })
            .collect(),
        reasons: reason_sentences(&s.score, zh),
        relationship: f1(r.score),
        dimensions: r
            .dimensions
            .iter()
            .map(|d| {
                (
                    dimension_label(d.dimension, zh),
                    d.mean.map_or_else(|| "—".into(), |m| format!("{m:+.2}")),
                    f1(d.score),
                    d.n,
                )
            })
            .collect(),
        dim_heads: cx_core::model::customer::RELATIONSHIP_DIMENSIONS
            .iter()
            .map(|d| dimension_label(d, zh))
            .collect(),
        people: r
            .people
            .iter()
            .map(|p| PersonRow {
                name: p.name.clone(),
                code: p.code.clone(),
                role: p.role.map_or("—", |r| role_label(r, zh)),
                influence: format!("{:.2}", p.influence),
                stance: p.stance.label(zh),
                stance_class: match p.stance {
                    Stance::Supporter => "positive",
                    Stance::Opponent => "negative",
                    _ => "neutral",
                },
                score: p
                    .score
                    .map_or_else(|| w.not_assessed.to_string(), |v| format!("{v:.1}")),
                ratings: p
                    .ratings
                    .iter()
                    .zip(p.derived)
                    .map(|(v, derived)| match v {
                        Some(v) => format!("{v:+}{}", if derived { "*" } else { "" }),
                        None => "·".into(),
                    })
                    .collect(),
                contact: p
                    .days_since_contact
                    .map_or_else(|| "—".into(), |d| format!("{d} {}", w.days)),
            })
            .collect(),
        flags: r.flags.iter().map(|f| f.message(zh)).collect(),
        map,
        stances: stances.map(|s| s.label(zh)),
        history: history
            .iter()
            .map(|h| {
                (
                    h.date.clone(),
                    f1(h.score),
                    match h.grade.as_str() {
                        "A" => "A",
                        "B" => "B",
                        "C" => "C",
                        "D" => "D",
                        _ => "—",
                    },
                    f1(h.relationship),
                )
            })
            .collect(),
        tasks: tasks.iter().map(|t| task_row(t, zh)).collect(),
        error: String::new(),
        can_assess: false,
        period: cx_store::accounts::quarter_label(crate::api_accounts::today()),
        code: path_segment(&s.account.code),
        dim_fields: Vec::new(),
        assess: String::new(),
        open_form: false,
    }
}

/// A task in a list.
pub struct TaskRow {
    pub(crate) id: i64,
    pub(crate) title: String,
    pub(crate) account: String,
    pub(crate) account_code: String,
    pub(crate) owner: String,
    pub(crate) priority: &'static str,
    pub(crate) status: &'static str,
    pub(crate) due: String,
    pub(crate) overdue: bool,
}

/// The reasons of a task, in the reader's language.
fn reasons_text(t: &StoredTask, zh: bool) -> Vec<String> {
    t.reasons
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| serde_json::from_value::<Reason>(v.clone()).ok())
                .map(|r| r.describe(zh))
                .collect()
        })
        .unwrap_or_default()
}

fn priority_label(p: &str, zh: bool) -> &'static str {
    match (p, zh) {
        ("urgent", true) => "紧急",
        ("high", true) => "高",
        (_, true) => "普通",
        ("urgent", false) => "urgent",
        ("high", false) => "high",
        _ => "normal",
    }
}

fn task_row(t: &StoredTask, zh: bool) -> TaskRow {
    let reasons = reasons_text(t, zh);
    TaskRow {
        id: t.id,
        title: if reasons.is_empty() {
            t.title.clone()
        } else {
            reasons.join(if zh { ";" } else { "; " })
        },
        account: t.account_name.clone().unwrap_or_default(),
        account_code: t.account.clone().unwrap_or_default(),
        owner: t
            .owner
            .clone()
            .unwrap_or_else(|| words(if zh { "zh" } else { "en" }).unassigned.into()),
        priority: priority_label(&t.priority, zh),
        status: TaskStatus::parse(&t.status).map_or("?", |s| s.label(zh)),
        due: t
            .due
            .as_deref()
            .map(|d| {
                d.replace('T', " ")
                    .trim_end_matches('Z')
                    .chars()
                    .take(16)
                    .collect()
            })
            .unwrap_or_default(),
        overdue: t.overdue,
    }
}

/// `/app/tasks`.
#[derive(Template)]
#[template(path = "tasks.html")]
pub struct TasksPage {
    pub(crate) t: &'static Texts,
    pub(crate) c: Chrome,
    pub(crate) w: &'static Words,
    pub(crate) rows: Vec<TaskRow>,
    pub(crate) statuses: Vec<(&'static str, &'static str, bool)>,
    pub(crate) owner: String,
    pub(crate) overdue: bool,
    pub(crate) figures: Vec<(String, u64, u64, u64, String, String, String)>,
    /// Improvement actions with the change of their metric.
    pub(crate) actions: Vec<ActionRow>,
    /// Surveys for the new-action form: (slug, title).
    pub(crate) surveys: Vec<(String, String)>,
    /// An error of the new-action form just sent.
    pub(crate) action_error: String,
    /// Whether the reader may record actions.
    pub(crate) can_edit: bool,
}

/// An improvement action in the list.
pub struct ActionRow {
    pub(crate) id: i64,
    pub(crate) title: String,
    pub(crate) metric: String,
    pub(crate) owner: String,
    pub(crate) since: String,
    pub(crate) before: String,
    pub(crate) after: String,
    pub(crate) change: String,
    pub(crate) p: String,
    pub(crate) class: &'static str,
    pub(crate) status: String,
}

/// Rows of the actions table.
pub fn action_rows(views: &[crate::actions::ActionView]) -> Vec<ActionRow> {
    views
        .iter()
        .map(|v| {
            let a = &v.action;
            let e = v.effect.as_ref();
            ActionRow {
                id: a.id,
                title: a.title.clone(),
                metric: format!("{} {}", a.metric, a.filters.join(" "))
                    .trim()
                    .to_string(),
                owner: a.owner.clone().unwrap_or_default(),
                since: a.started_on.clone(),
                before: f1(e.and_then(|e| e.before)),
                after: f1(e.and_then(|e| e.since)),
                change: e
                    .and_then(|e| e.change)
                    .map_or_else(|| "—".into(), |c| format!("{c:+.1}")),
                p: e.and_then(|e| e.p_value)
                    .map_or_else(|| "—".into(), |p| format!("{p:.3}")),
                class: match (e.and_then(|e| e.significant), e.and_then(|e| e.change)) {
                    (Some(true), Some(c)) if c > 0.0 => "sig up",
                    (Some(true), Some(_)) => "sig down",
                    _ => "",
                },
                status: a.status.clone(),
            }
        })
        .collect()
}

/// Builds `/app/tasks`.
pub fn tasks_page(
    t: &'static Texts,
    c: Chrome,
    lang: &str,
    tasks: &[StoredTask],
    (status, owner, overdue): (Option<&str>, Option<&str>, bool),
    figures: &[TeamLoopFigures],
    (actions, surveys, action_error): (Vec<ActionRow>, Vec<(String, String)>, String),
) -> TasksPage {
    let zh = lang.starts_with("zh");
    let w = words(lang);
    let current = status.unwrap_or("active");
    let mut statuses = vec![
        ("active", w.active, current == "active"),
        ("", w.all, current.is_empty() || current == "all"),
    ];
    for s in TaskStatus::ALL {
        statuses.push((s.as_str(), s.label(zh), current == s.as_str()));
    }
    TasksPage {
        t,
        c,
        w,
        rows: tasks.iter().map(|t| task_row(t, zh)).collect(),
        statuses,
        owner: owner.unwrap_or_default().to_string(),
        overdue,
        figures: figures
            .iter()
            .map(|f| {
                (
                    if f.team == "(all)" {
                        w.all.to_string()
                    } else {
                        f.team.clone()
                    },
                    f.tasks,
                    f.resolved,
                    f.overdue,
                    f1(f.median_response_hours),
                    f1(f.median_resolution_hours),
                    match (f.within_sla_pct, f.within_sla_ci95) {
                        (Some(p), Some([lo, hi])) => format!("{p:.0} [{lo:.0}–{hi:.0}]"),
                        _ => "—".into(),
                    },
                )
            })
            .collect(),
        actions,
        surveys,
        action_error,
        can_edit: false,
    }
}

/// `/app/tasks/{id}`.
#[derive(Template)]
#[template(path = "task.html")]
pub struct TaskPage {
    pub(crate) t: &'static Texts,
    pub(crate) c: Chrome,
    pub(crate) w: &'static Words,
    pub(crate) row: TaskRow,
    pub(crate) reasons: Vec<String>,
    pub(crate) facts: Vec<(&'static str, String)>,
    pub(crate) history: Vec<(String, String, String, String)>,
    pub(crate) statuses: Vec<(&'static str, &'static str, bool)>,
    pub(crate) before_after: Option<String>,
    pub(crate) resolution: String,
    pub(crate) can_edit: bool,
    pub(crate) error: String,
    pub(crate) link: String,
    pub(crate) notice: String,
    pub(crate) draft_owner: String,
    pub(crate) draft_note: String,
    pub(crate) draft_resolution: String,
    pub(crate) draft_resurvey: bool,
}

/// Builds `/app/tasks/{id}`; `error` and `link` come from a form just sent.
/// What a task form just sent came to: an error (with what was typed, to
/// show again), a re-survey link, a notice.
#[derive(Debug, Default)]
pub struct TaskForm {
    /// Why the change was refused.
    pub error: String,
    /// The fields as sent, shown again after an error.
    pub draft: Option<crate::followup::TaskUpdate>,
    /// Something to tell the user after a change.
    pub notice: Option<String>,
}

/// Builds `/app/tasks/{id}`.
pub fn task_page(
    t: &'static Texts,
    c: Chrome,
    lang: &str,
    view: &TaskView,
    can_edit: bool,
    form: TaskForm,
) -> TaskPage {
    let zh = lang.starts_with("zh");
    let w = words(lang);
    let task = &view.task;
    let mut facts = vec![(
        w.created,
        task.created_at
            .replace('T', " ")
            .trim_end_matches('Z')
            .to_string(),
    )];
    if let Some(c) = &task.contact {
        facts.push((w.people, c.clone()));
    }
    if let Some(s) = &task.survey {
        facts.push(("survey", s.clone()));
    }
    if let Some(r) = &task.resolved_at {
        facts.push((
            w.resolved,
            r.replace('T', " ").trim_end_matches('Z').to_string(),
        ));
    }
    TaskPage {
        t,
        c,
        w,
        row: task_row(task, zh),
        reasons: reasons_text(task, zh),
        facts,
        history: view
            .history
            .iter()
            .map(|e| {
                (
                    e.at.replace('T', " ").trim_end_matches('Z').to_string(),
                    e.author.clone(),
                    e.status
                        .as_deref()
                        .and_then(TaskStatus::parse)
                        .map(|s| s.label(zh).to_string())
                        .unwrap_or_default(),
                    e.note.clone().unwrap_or_default(),
                )
            })
            .collect(),
        statuses: TaskStatus::ALL
            .iter()
            .map(|s| {
                let chosen = form
                    .draft
                    .as_ref()
                    .and_then(|d| d.status.as_deref())
                    .and_then(TaskStatus::parse)
                    .map_or(s.as_str() == task.status, |d| d == *s);
                (s.as_str(), s.label(zh), chosen)
            })
            .collect(),
        before_after: view.nps_before.map(|b| match view.nps_after {
            Some(a) => format!("{b} → {a} ({:+})", i32::from(a) - i32::from(b)),
            None => format!("{b} → …"),
        }),
        resolution: task.resolution.clone().unwrap_or_default(),
        can_edit,
        error: form.error,
        link: view.resurvey_link.clone().unwrap_or_default(),
        notice: form
            .notice
            .or_else(|| view.notice.clone())
            .unwrap_or_default(),
        draft_owner: form
            .draft
            .as_ref()
            .and_then(|d| d.owner.clone())
            .unwrap_or_default(),
        draft_note: form
            .draft
            .as_ref()
            .and_then(|d| d.note.clone())
            .unwrap_or_default(),
        draft_resolution: form
            .draft
            .as_ref()
            .and_then(|d| d.resolution.clone())
            .unwrap_or_default(),
        draft_resurvey: form.draft.as_ref().is_some_and(|d| d.resurvey),
    }
}

/// `/app/scorecard`.
#[derive(Template)]
#[template(path = "scorecard.html")]
pub struct ScorecardPage {
    pub(crate) t: &'static Texts,
    pub(crate) c: Chrome,
    pub(crate) w: &'static Words,
    pub(crate) weights: Vec<(&'static str, &'static str, String)>,
    pub(crate) grades: [String; 3],
    pub(crate) distribution: Vec<(&'static str, &'static str, usize)>,
    pub(crate) can_edit: bool,
    pub(crate) message: String,
    pub(crate) error: String,
    pub(crate) json: String,
}

/// Builds `/app/scorecard` with the grade distribution under `card`.
pub fn scorecard_page(
    t: &'static Texts,
    c: Chrome,
    lang: &str,
    card: &Scorecard,
    scores: &[AccountScore],
    can_edit: bool,
    (message, error): (String, String),
) -> ScorecardPage {
    let zh = lang.starts_with("zh");
    let grades = [Grade::A, Grade::B, Grade::C, Grade::D, Grade::Insufficient];
    ScorecardPage {
        t,
        c,
        w: words(lang),
        weights: Component::ALL
            .iter()
            .map(|c| (c.as_str(), c.label(zh), format!("{}", card.weight(*c))))
            .collect(),
        grades: [
            format!("{}", card.grades.a),
            format!("{}", card.grades.b),
            format!("{}", card.grades.c),
        ],
        distribution: grades
            .iter()
            .map(|g| {
                (
                    g.as_str(),
                    g.health().label(zh),
                    scores.iter().filter(|s| s.score.grade == *g).count(),
                )
            })
            .collect(),
        can_edit,
        message,
        error,
        json: card.to_json(),
    }
}

impl ScorecardPage {
    /// Shows the values a refused form sent instead of the saved ones.
    pub fn keep(&mut self, fields: &[(String, String)]) {
        let sent = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        for (id, _, value) in &mut self.weights {
            if let Some(v) = sent(&format!("w_{id}")) {
                *value = v;
            }
        }
        for (i, k) in ["grade_a", "grade_b", "grade_c"].iter().enumerate() {
            if let Some(v) = sent(k) {
                self.grades[i] = v;
            }
        }
    }
}

/// Reads the scorecard form: `w_COMPONENT` weights and `grade_a|b|c`.
pub fn scorecard_from_form(
    fields: &[(String, String)],
    current: &Scorecard,
) -> Result<Scorecard, String> {
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim());
    let number = |k: &str, label: &str| -> Result<Option<f64>, String> {
        match get(k) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse::<f64>()
                .map(Some)
                .map_err(|_| format!("{label}: {v:?} is not a number")),
        }
    };
    let mut weights = serde_json::Map::new();
    for c in Component::ALL {
        let w = number(&format!("w_{}", c.as_str()), c.as_str())?.unwrap_or(0.0);
        weights.insert(c.as_str().into(), serde_json::json!(w));
    }
    let mut grades = serde_json::Map::new();
    for (k, name, default) in [
        ("grade_a", "A", current.grades.a),
        ("grade_b", "B", current.grades.b),
        ("grade_c", "C", current.grades.c),
    ] {
        grades.insert(
            name.into(),
            serde_json::json!(number(k, name)?.unwrap_or(default)),
        );
    }
    // Keep the standards and coverage the file set; change weights and grades.
    let mut doc: serde_json::Value =
        serde_json::from_str(&current.to_json()).map_err(|e| e.to_string())?;
    doc["weights"] = serde_json::Value::Object(weights);
    doc["grades"] = serde_json::Value::Object(grades);
    Scorecard::from_json(&doc.to_string()).map_err(|e| e.to_string())
}

/// "Saved", in the reader's language.
pub fn saved_message(lang: &str) -> String {
    words(lang).saved.to_string()
}

#[cfg(test)]
mod tests {
    use super::path_segment;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(path_segment("ACME 01"), "ACME%2001");
        assert_eq!(path_segment("a+b/c"), "a%2Bb%2Fc");
        assert_eq!(path_segment("客户"), "%E5%AE%A2%E6%88%B7");
        assert_eq!(path_segment("KA-0006_x.y~"), "KA-0006_x.y~");
    }
}
