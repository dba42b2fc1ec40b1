//! What a team knows about its customers: accounts, key people, transactions,
//! interactions, feedback, relationship assessments and follow-up tasks — and
//! how their values are read from CRM exports (Chinese and English labels,
//! amounts like `¥12,800.00`).

use serde::{Deserialize, Serialize};

use crate::period::Date;

/// A customer account: a company (B2B) or a person (B2C).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// The CRM's customer code (客户编号); unique.
    pub external_id: String,
    /// Name.
    pub name: String,
    /// Industry.
    pub industry: Option<String>,
    /// Region (华东, North America, …).
    pub region: Option<String>,
    /// Tier; `key` marks a key account (大客户).
    pub tier: Option<String>,
    /// Sales team.
    pub sales_team: Option<String>,
    /// Account owner.
    pub owner: Option<String>,
    /// Customer since.
    pub since: Option<Date>,
    /// Lost on (churned).
    pub until: Option<Date>,
}

/// The role a key person plays in buying decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactRole {
    /// Decides (决策者).
    DecisionMaker,
    /// Influences the decision (影响者).
    Influencer,
    /// Evaluates technically (技术评估者).
    TechnicalEvaluator,
    /// Buys (采购).
    Purchaser,
    /// Uses the product (使用者).
    User,
    /// Controls access (把关者).
    Gatekeeper,
}

impl ContactRole {
    /// All roles.
    pub const ALL: [ContactRole; 6] = [
        ContactRole::DecisionMaker,
        ContactRole::Influencer,
        ContactRole::TechnicalEvaluator,
        ContactRole::Purchaser,
        ContactRole::User,
        ContactRole::Gatekeeper,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactRole::DecisionMaker => "decision_maker",
            ContactRole::Influencer => "influencer",
            ContactRole::TechnicalEvaluator => "technical_evaluator",
            ContactRole::Purchaser => "purchaser",
            ContactRole::User => "user",
            ContactRole::Gatekeeper => "gatekeeper",
        }
    }

    /// Reads a role written in English or Chinese.
    pub fn parse(text: &str) -> Option<ContactRole> {
        let t = text.trim().to_lowercase().replace([' ', '-'], "_");
        Some(match t.as_str() {
            "decision_maker" | "decider" | "决策者" | "决策人" => ContactRole::DecisionMaker,
            "influencer" | "影响者" | "影响人" => ContactRole::Influencer,
            "technical_evaluator" | "tech_evaluator" | "technical" | "技术评估者" | "技术评估" => {
                ContactRole::TechnicalEvaluator
            }
            "purchaser" | "buyer" | "procurement" | "采购" | "采购者" | "采购人" => {
                ContactRole::Purchaser
            }
            "user" | "end_user" | "使用者" | "用户" => ContactRole::User,
            "gatekeeper" | "把关者" | "守门人" => ContactRole::Gatekeeper,
            _ => return None,
        })
    }
}

/// A key person at an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    /// The CRM's contact code; unique.
    pub external_id: String,
    /// The account's customer code.
    pub account: String,
    /// Name.
    pub name: String,
    /// Role in buying decisions.
    pub role: Option<ContactRole>,
    /// Influence weight, 0–1.
    pub influence: f64,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Time zone (IANA name such as `Asia/Shanghai`, or `+08:00`) for quiet hours.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// An order or invoice line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// The CRM's order number, when there is one (used to recognise re-imports).
    pub external_id: Option<String>,
    /// The customer (account code).
    pub customer: String,
    /// Date.
    pub date: Date,
    /// Amount in minor units (分, cents).
    pub amount_minor: i64,
    /// ISO currency code.
    pub currency: String,
    /// Product line.
    pub product_line: Option<String>,
}

/// How we were in touch with a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractionKind {
    /// Visit (拜访).
    Visit,
    /// Call (电话).
    Call,
    /// Event (活动).
    Event,
    /// Training (培训).
    Training,
    /// Support ticket (工单).
    SupportTicket,
    /// Complaint (投诉).
    Complaint,
}

impl InteractionKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            InteractionKind::Visit => "visit",
            InteractionKind::Call => "call",
            InteractionKind::Event => "event",
            InteractionKind::Training => "training",
            InteractionKind::SupportTicket => "support_ticket",
            InteractionKind::Complaint => "complaint",
        }
    }

    /// Reads a kind written in English or Chinese.
    pub fn parse(text: &str) -> Option<InteractionKind> {
        let t = text.trim().to_lowercase().replace([' ', '-'], "_");
        Some(match t.as_str() {
            "visit" | "拜访" | "走访" => InteractionKind::Visit,
            "call" | "phone" | "电话" | "通话" => InteractionKind::Call,
            "event" | "活动" | "会议" => InteractionKind::Event,
            "training" | "培训" => InteractionKind::Training,
            "support_ticket" | "ticket" | "support" | "工单" | "服务工单" => {
                InteractionKind::SupportTicket
            }
            "complaint" | "投诉" => InteractionKind::Complaint,
            _ => return None,
        })
    }
}

/// A contact moment with a customer: a visit, a call, a training, a complaint…
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interaction {
    /// The account's customer code.
    pub customer: String,
    /// What kind of contact.
    pub kind: InteractionKind,
    /// Date.
    pub date: Date,
    /// Note.
    pub note: Option<String>,
}

/// Where a piece of free-text feedback came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackSource {
    /// Online review.
    Review,
    /// Complaint.
    Complaint,
    /// Interview.
    Interview,
    /// Focus group.
    FocusGroup,
    /// Social media.
    SocialMedia,
    /// Survey comment.
    Survey,
    /// Anything else.
    Other,
}

impl FeedbackSource {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackSource::Review => "review",
            FeedbackSource::Complaint => "complaint",
            FeedbackSource::Interview => "interview",
            FeedbackSource::FocusGroup => "focus_group",
            FeedbackSource::SocialMedia => "social_media",
            FeedbackSource::Survey => "survey",
            FeedbackSource::Other => "other",
        }
    }

    /// Reads a source written in English or Chinese.
    pub fn parse(text: &str) -> Option<FeedbackSource> {
        let t = text.trim().to_lowercase().replace([' ', '-'], "_");
        Some(match t.as_str() {
            "review" | "评价" | "评论" | "点评" => FeedbackSource::Review,
            "complaint" | "投诉" => FeedbackSource::Complaint,
            "interview" | "访谈" | "采访" => FeedbackSource::Interview,
            "focus_group" | "焦点小组" | "座谈会" => FeedbackSource::FocusGroup,
            "social_media" | "social" | "社交媒体" | "微博" | "微信" => {
                FeedbackSource::SocialMedia
            }
            "survey" | "问卷" | "调查" => FeedbackSource::Survey,
            "other" | "其他" => FeedbackSource::Other,
            _ => return None,
        })
    }
}

/// A piece of free-text feedback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackItem {
    /// The account's customer code, when known.
    pub account: Option<String>,
    /// Source.
    pub source: FeedbackSource,
    /// Date.
    pub date: Date,
    /// The text.
    pub text: String,
}

/// The seven relationship dimensions (SPEC §1), in order.
pub const RELATIONSHIP_DIMENSIONS: [&str; 7] = [
    "satisfaction",
    "loyalty",
    "engagement",
    "information_transfer",
    "daily_guidance",
    "project_support",
    "competitive_preference",
];

/// A key person's relationship with us in one period, seven dimensions rated −2…+2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    /// The contact's code.
    pub contact: String,
    /// Period label (`2026-Q1`).
    pub period: String,
    /// Ratings in the order of [`RELATIONSHIP_DIMENSIONS`]; `None` = not rated.
    pub ratings: [Option<i8>; 7],
}

/// Parses an amount as written in exports: `12800`, `12,800.00`, `¥12,800.00`,
/// `RMB 12800`, `-1,200.50`, `(1,200.50)`, `1.2万`. Returns minor units (1/100).
pub fn parse_amount(text: &str) -> Option<i64> {
    if let Some(minor) = plain_decimal(text.trim()) {
        return Some(minor);
    }
    let mut t = text.trim().to_string();
    let mut negative = false;
    if t.starts_with('(') && t.ends_with(')') {
        negative = true;
        t = t[1..t.len() - 1].to_string();
    }
    for prefix in [
        "CNY", "RMB", "USD", "EUR", "HKD", "¥", "￥", "$", "€", "£", "元",
    ] {
        t = t.replace(prefix, "");
    }
    let t = t.trim();
    // Thousands separators must be commas between groups of three digits before
    // the decimal point: "1.234,56" (European) is refused rather than misread.
    if t.contains([',', '，']) {
        let integer_part = t.split('.').next().unwrap_or("");
        let groups: Vec<&str> = integer_part.split([',', '，']).collect();
        let lead = groups[0].trim_start_matches('-').trim();
        let well_formed = groups.len() > 1
            && !lead.is_empty()
            && lead.len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3);
        if !well_formed {
            return None;
        }
    }
    let mut t = t.replace([',', '，', ' ', '\u{a0}'], "");
    if let Some(rest) = t.strip_prefix('-') {
        negative = !negative;
        t = rest.to_string();
    }
    let multiplier = if let Some(rest) = t.strip_suffix('万') {
        t = rest.to_string();
        10_000.0
    } else {
        1.0
    };
    if t.is_empty()
        || !t.chars().all(|c| c.is_ascii_digit() || c == '.')
        || t.matches('.').count() > 1
    {
        return None;
    }
    let value: f64 = t.parse().ok()?;
    let minor = (value * multiplier * 100.0).round();
    if !minor.is_finite() || minor.abs() > 9e15 {
        return None;
    }
    Some(if negative {
        -(minor as i64)
    } else {
        minor as i64
    })
}

/// The common case without allocation: `-?digits(.digits)?`, exactly, rounded
/// half away from zero at the cent. `None` for anything else.
fn plain_decimal(s: &str) -> Option<i64> {
    let (negative, b) = match s.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        b => (false, b),
    };
    let int_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let (int, rest) = b.split_at(int_len);
    let frac = match rest {
        [] => &[][..],
        [b'.', f @ ..] if f.iter().all(u8::is_ascii_digit) => f,
        _ => return None,
    };
    if int.is_empty() && frac.is_empty() || int.len() > 15 {
        return None;
    }
    let mut minor: i64 = 0;
    for &d in int {
        minor = minor * 10 + i64::from(d - b'0');
    }
    for k in 0..2 {
        minor = minor * 10 + frac.get(k).map_or(0, |d| i64::from(d - b'0'));
    }
    if frac.get(2).is_some_and(|d| *d >= b'5') {
        minor += 1;
    }
    Some(if negative { -minor } else { minor })
}

/// Normalises a tier label: key account / KA / 大客户 / 重点客户 → `key`; others lowercased.
pub fn normalize_tier(text: &str) -> Option<String> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    let lower = t.to_lowercase();
    Some(match lower.as_str() {
        "key" | "key account" | "key_account" | "ka" | "大客户" | "重点客户" | "战略客户"
        | "vip" => "key".into(),
        _ => lower,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_as_exported() {
        for (text, minor) in [
            ("12800", 1_280_000),
            ("12,800.00", 1_280_000),
            ("¥12,800.00", 1_280_000),
            ("￥ 12,800.5", 1_280_050),
            ("RMB 99", 9_900),
            ("-1,200.50", -120_050),
            ("(1,200.50)", -120_050),
            ("1.2万", 1_200_000),
            ("0.1", 10),
            ("12800.5", 1_280_050),
            ("-3", -300),
            ("1.005", 101),
            ("0.125", 13),
            (".5", 50),
        ] {
            assert_eq!(parse_amount(text), Some(minor), "{text}");
        }
        for bad in [
            "", "abc", "1.2.3", "12e3", "--5", "1.234,56", "12,80", "1,2345",
        ] {
            assert_eq!(parse_amount(bad), None, "{bad}");
        }
    }

    #[test]
    fn labels_in_both_languages() {
        assert_eq!(
            ContactRole::parse("决策者"),
            Some(ContactRole::DecisionMaker)
        );
        assert_eq!(
            ContactRole::parse("Technical Evaluator"),
            Some(ContactRole::TechnicalEvaluator)
        );
        assert_eq!(ContactRole::parse("ceo"), None);
        assert_eq!(
            InteractionKind::parse("投诉"),
            Some(InteractionKind::Complaint)
        );
        assert_eq!(
            FeedbackSource::parse("Focus group"),
            Some(FeedbackSource::FocusGroup)
        );
        assert_eq!(normalize_tier("大客户").as_deref(), Some("key"));
        assert_eq!(normalize_tier("Gold").as_deref(), Some("gold"));
    }
}
