//! Turning rows of a CRM or survey export into validated records: which column
//! is which field (Chinese and English headers recognised, `--map` for the
//! rest), and each cell checked — dates in every common form including Excel
//! serials, amounts like `¥12,800.00`, roles and sources in either language,
//! answers against the survey's scales. A bad row becomes a [`Rejection`] that
//! says line, column, value and why; it never stops the rest of the file.

use std::collections::HashMap;

use cx_core::model::customer::{
    Account, Assessment, Contact, ContactRole, FeedbackItem, FeedbackSource,
    RELATIONSHIP_DIMENSIONS, Transaction, normalize_tier, parse_amount,
};
use cx_core::model::survey::{AnswerValue, QuestionKind, SurveyDefinition};
use cx_core::period::Date;
use thiserror::Error;

use crate::table::excel_serial_date;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    /// Survey answers (phone, in-person, offline, another tool's export).
    Responses,
    /// Customer accounts.
    Accounts,
    /// Key people at accounts.
    Contacts,
    /// Orders / invoice lines.
    Transactions,
    /// Free-text feedback.
    Feedback,
    /// Relationship assessments of key people.
    Assessments,
}

impl ImportKind {
    /// Parses `responses|accounts|contacts|transactions|feedback|assessments`.
    pub fn parse(text: &str) -> Option<ImportKind> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "responses" | "response" => ImportKind::Responses,
            "accounts" | "account" | "customers" => ImportKind::Accounts,
            "contacts" | "contact" | "people" => ImportKind::Contacts,
            "transactions" | "transaction" | "orders" => ImportKind::Transactions,
            "feedback" => ImportKind::Feedback,
            "assessments" | "assessment" => ImportKind::Assessments,
            _ => return None,
        })
    }

    /// The fields of this kind: `(field, required, header aliases)`.
    pub fn fields(self) -> &'static [(&'static str, bool, &'static [&'static str])] {
        match self {
            ImportKind::Responses => &[
                (
                    "response_id",
                    false,
                    &[
                        "答卷编号",
                        "问卷编号",
                        "答卷id",
                        "responseid",
                        "response_id",
                        "id",
                        "编号",
                    ],
                ),
                (
                    "submitted_at",
                    true,
                    &[
                        "提交时间",
                        "提交日期",
                        "答题时间",
                        "回答时间",
                        "日期",
                        "时间",
                        "submittedat",
                        "submitted",
                        "date",
                        "timestamp",
                        "createdat",
                        "responsedate",
                    ],
                ),
                (
                    "channel",
                    false,
                    &["渠道", "来源渠道", "调查方式", "channel", "source", "mode"],
                ),
                ("language", false, &["语言", "language", "lang"]),
                (
                    "account",
                    false,
                    &[
                        "客户编号",
                        "客户id",
                        "客户代码",
                        "customerid",
                        "accountid",
                        "customercode",
                    ],
                ),
                (
                    "contact",
                    false,
                    &["联系人编号", "联系人id", "contactid", "contactcode"],
                ),
            ],
            ImportKind::Accounts => &[
                (
                    "external_id",
                    true,
                    &[
                        "客户编号",
                        "客户id",
                        "客户代码",
                        "客户编码",
                        "customerid",
                        "accountid",
                        "customercode",
                        "accountcode",
                        "code",
                        "id",
                    ],
                ),
                (
                    "name",
                    true,
                    &[
                        "客户名称",
                        "公司名称",
                        "企业名称",
                        "客户",
                        "名称",
                        "name",
                        "accountname",
                        "company",
                        "companyname",
                        "customername",
                        "account",
                    ],
                ),
                ("industry", false, &["行业", "所属行业", "industry"]),
                (
                    "region",
                    false,
                    &["区域", "地区", "大区", "所属区域", "region", "area"],
                ),
                (
                    "tier",
                    false,
                    &[
                        "客户等级",
                        "客户级别",
                        "等级",
                        "级别",
                        "客户类型",
                        "tier",
                        "level",
                        "grade",
                        "segment",
                    ],
                ),
                (
                    "sales_team",
                    false,
                    &["销售团队", "销售部门", "团队", "salesteam", "team"],
                ),
                (
                    "owner",
                    false,
                    &[
                        "负责人",
                        "客户经理",
                        "销售",
                        "所有人",
                        "owner",
                        "accountmanager",
                        "salesrep",
                        "accountowner",
                    ],
                ),
                (
                    "since",
                    false,
                    &[
                        "成为客户日期",
                        "签约日期",
                        "首次合作日期",
                        "合作开始日期",
                        "创建日期",
                        "since",
                        "customersince",
                        "startdate",
                        "createddate",
                    ],
                ),
                (
                    "until",
                    false,
                    &[
                        "流失日期",
                        "终止日期",
                        "解约日期",
                        "until",
                        "churndate",
                        "enddate",
                        "lostdate",
                    ],
                ),
            ],
            ImportKind::Contacts => &[
                (
                    "external_id",
                    false,
                    &[
                        "联系人编号",
                        "联系人id",
                        "联系人代码",
                        "contactid",
                        "contactcode",
                        "id",
                    ],
                ),
                (
                    "account",
                    true,
                    &[
                        "客户编号",
                        "客户id",
                        "客户代码",
                        "customerid",
                        "accountid",
                        "customercode",
                        "account",
                    ],
                ),
                (
                    "name",
                    true,
                    &[
                        "姓名",
                        "联系人",
                        "联系人姓名",
                        "name",
                        "contactname",
                        "fullname",
                    ],
                ),
                (
                    "role",
                    false,
                    &["角色", "决策角色", "采购角色", "role", "buyingrole"],
                ),
                (
                    "influence",
                    false,
                    &["影响力", "影响力权重", "权重", "influence", "weight"],
                ),
                ("email", false, &["邮箱", "电子邮件", "email", "mail"]),
                (
                    "phone",
                    false,
                    &["电话", "手机", "手机号", "联系电话", "phone", "mobile"],
                ),
                ("time_zone", false, &["时区", "time_zone", "timezone", "tz"]),
            ],
            ImportKind::Transactions => &[
                (
                    "external_id",
                    false,
                    &[
                        "订单号",
                        "订单编号",
                        "单号",
                        "发票号",
                        "orderid",
                        "orderno",
                        "ordernumber",
                        "invoice",
                        "invoiceno",
                        "transactionid",
                    ],
                ),
                (
                    "customer",
                    true,
                    &[
                        "客户编号",
                        "客户id",
                        "客户代码",
                        "客户编码",
                        "customerid",
                        "customer",
                        "accountid",
                        "customercode",
                        "客户",
                    ],
                ),
                (
                    "date",
                    true,
                    &[
                        "日期",
                        "下单日期",
                        "订单日期",
                        "交易日期",
                        "成交日期",
                        "date",
                        "orderdate",
                        "transactiondate",
                        "invoicedate",
                    ],
                ),
                (
                    "amount",
                    true,
                    &[
                        "金额",
                        "订单金额",
                        "交易金额",
                        "销售额",
                        "成交金额",
                        "amount",
                        "total",
                        "revenue",
                        "value",
                        "sales",
                    ],
                ),
                ("currency", false, &["币种", "货币", "currency"]),
                (
                    "product_line",
                    false,
                    &[
                        "产品线",
                        "产品类别",
                        "产品",
                        "productline",
                        "product",
                        "category",
                    ],
                ),
            ],
            ImportKind::Feedback => &[
                (
                    "account",
                    false,
                    &["客户编号", "客户id", "customerid", "accountid", "account"],
                ),
                ("source", false, &["来源", "反馈来源", "source"]),
                ("date", true, &["日期", "反馈日期", "date"]),
                (
                    "text",
                    true,
                    &[
                        "内容",
                        "反馈内容",
                        "意见",
                        "评论",
                        "反馈",
                        "text",
                        "feedback",
                        "comment",
                        "content",
                    ],
                ),
            ],
            ImportKind::Assessments => &[
                (
                    "contact",
                    true,
                    &["联系人编号", "联系人id", "contactid", "contact"],
                ),
                (
                    "period",
                    true,
                    &["周期", "期间", "季度", "评估周期", "period", "quarter"],
                ),
                ("satisfaction", false, &["满意度", "satisfaction"]),
                (
                    "loyalty",
                    false,
                    &["忠诚度", "推荐度", "loyalty", "recommend"],
                ),
                ("engagement", false, &["参与度", "投入度", "engagement"]),
                (
                    "information_transfer",
                    false,
                    &["信息传递度", "信息传递", "informationtransfer"],
                ),
                (
                    "daily_guidance",
                    false,
                    &["日常指导度", "日常指导", "dailyguidance"],
                ),
                (
                    "project_support",
                    false,
                    &["项目支持度", "项目支持", "projectsupport"],
                ),
                (
                    "competitive_preference",
                    false,
                    &["竞争偏向度", "竞争偏向", "competitivepreference"],
                ),
            ],
        }
    }
}

/// Header text reduced for matching: lowercase, without spaces, `_`, `-`,
/// brackets and colons (full-width too).
pub fn normalize_header(text: &str) -> String {
    text.trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| {
            !matches!(
                c,
                ' ' | '_' | '-' | '(' | ')' | '（' | '）' | ':' | '：' | '\u{3000}'
            )
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Problems with the columns themselves (not a single row): the import cannot start.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MappingError {
    /// A required field has no column.
    #[error(
        "no column for {field:?}; the file's columns are: {columns}. Name one with --map COLUMN={field}"
    )]
    Missing {
        /// The field.
        field: String,
        /// The columns found.
        columns: String,
    },
    /// Two columns claim one field.
    #[error(
        "columns {first:?} and {second:?} both look like {field:?}; choose one with --map COLUMN={field}"
    )]
    Ambiguous {
        /// The field.
        field: String,
        /// One column.
        first: String,
        /// The other.
        second: String,
    },
    /// A `--map` that names no column or no field.
    #[error("--map {0}")]
    BadMap(String),
}

/// Which column holds what.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapping {
    /// Field → column index.
    pub fields: HashMap<&'static str, usize>,
    /// Question id → column index (responses).
    pub answers: Vec<(String, usize)>,
    /// Metadata key → column index (responses: every other column).
    pub metadata: Vec<(String, usize)>,
}

/// Metadata keys recognised from Chinese headers, so that `--by region` works
/// whatever language the export was in.
const METADATA_ALIASES: &[(&str, &[&str])] = &[
    ("region", &["区域", "地区", "大区", "region", "area"]),
    (
        "product_line",
        &["产品线", "产品类别", "productline", "product"],
    ),
    ("sales_team", &["销售团队", "销售部门", "salesteam", "team"]),
    (
        "account_name",
        &["客户名称", "公司名称", "accountname", "company", "account"],
    ),
    ("tier", &["客户等级", "客户级别", "tier"]),
    ("industry", &["行业", "industry"]),
];

/// Decides which column is which field. `overrides` are `--map COLUMN=FIELD`
/// (for responses FIELD may also be a question id, `metadata:KEY` or `ignore`).
pub fn map_columns(
    kind: ImportKind,
    header: &[String],
    overrides: &[(String, String)],
    survey: Option<&SurveyDefinition>,
) -> Result<Mapping, MappingError> {
    let columns = || header.join(", ");
    let normalized: Vec<String> = header.iter().map(|h| normalize_header(h)).collect();
    let fields = kind.fields();
    let mut mapping = Mapping::default();
    let mut taken = vec![false; header.len()];

    for (src, dest) in overrides {
        let col = header
            .iter()
            .position(|h| h.trim() == src.trim())
            .or_else(|| normalized.iter().position(|h| *h == normalize_header(src)))
            .ok_or_else(|| {
                MappingError::BadMap(format!(
                    "{src}={dest}: no column {src:?} (columns: {})",
                    columns()
                ))
            })?;
        taken[col] = true;
        if dest == "ignore" {
            continue;
        }
        if let Some(key) = dest.strip_prefix("metadata:") {
            mapping.metadata.push((key.to_string(), col));
        } else if let Some((name, _, _)) = fields.iter().find(|(f, _, _)| f == dest) {
            mapping.fields.insert(name, col);
        } else if survey.is_some_and(|s| s.question(dest).is_some()) {
            mapping.answers.push((dest.clone(), col));
        } else {
            let names: Vec<&str> = fields.iter().map(|(f, _, _)| *f).collect();
            return Err(MappingError::BadMap(format!(
                "{src}={dest}: {dest:?} is not a field ({}{})",
                names.join(", "),
                if survey.is_some() {
                    ", a question id, metadata:KEY or ignore"
                } else {
                    " or ignore"
                }
            )));
        }
    }

    // Fields by alias, most specific alias first (aliases are listed in priority order).
    for (field, _, aliases) in fields {
        if mapping.fields.contains_key(field) {
            continue;
        }
        let exact = normalize_header(field);
        let mut found: Option<usize> = None;
        'aliases: for alias in std::iter::once(exact.as_str()).chain(aliases.iter().copied()) {
            let alias = normalize_header(alias);
            for (i, h) in normalized.iter().enumerate() {
                if taken[i] || *h != alias {
                    continue;
                }
                if let Some(prev) = found {
                    return Err(MappingError::Ambiguous {
                        field: field.to_string(),
                        first: header[prev].clone(),
                        second: header[i].clone(),
                    });
                }
                found = Some(i);
            }
            if found.is_some() {
                break 'aliases;
            }
        }
        if let Some(i) = found {
            taken[i] = true;
            mapping.fields.insert(field, i);
        }
    }

    // Survey questions by id, text, dimension or kind.
    if let Some(survey) = survey {
        for q in &survey.questions {
            if mapping.answers.iter().any(|(id, _)| *id == q.id) {
                continue;
            }
            let mut names = vec![normalize_header(&q.id)];
            names.extend(
                q.text
                    .zh
                    .iter()
                    .chain(q.text.en.iter())
                    .map(|t| normalize_header(t)),
            );
            names.extend(q.dimension.iter().map(|d| normalize_header(d)));
            let kind_aliases: &[&str] = match q.kind {
                QuestionKind::Nps => &[
                    "推荐意愿",
                    "推荐值",
                    "净推荐值",
                    "nps",
                    "likelihoodtorecommend",
                    "recommend",
                ],
                QuestionKind::Csat => &["总体满意度", "满意度", "csat", "satisfaction"],
                QuestionKind::Ces => &["费力度", "客户费力度", "容易程度", "ces", "effort"],
                _ => &[],
            };
            if survey.questions.iter().filter(|o| o.kind == q.kind).count() == 1 {
                names.extend(kind_aliases.iter().map(|a| normalize_header(a)));
            }
            if let Some(i) = names
                .iter()
                .find_map(|n| (0..header.len()).find(|&i| !taken[i] && normalized[i] == *n))
            {
                taken[i] = true;
                mapping.answers.push((q.id.clone(), i));
            }
        }
    }

    for (field, required, _) in fields {
        if *required && !mapping.fields.contains_key(field) {
            return Err(MappingError::Missing {
                field: field.to_string(),
                columns: columns(),
            });
        }
    }
    if kind == ImportKind::Responses {
        if mapping.answers.is_empty() {
            let ids: Vec<&str> = survey
                .map(|s| s.questions.iter().map(|q| q.id.as_str()).collect())
                .unwrap_or_default();
            return Err(MappingError::Missing {
                field: format!("any question of the survey ({})", ids.join(", ")),
                columns: columns(),
            });
        }
        for (i, h) in header.iter().enumerate() {
            if taken[i] || h.trim().is_empty() {
                continue;
            }
            let key = METADATA_ALIASES
                .iter()
                .find(|(_, aliases)| aliases.iter().any(|a| normalize_header(a) == normalized[i]))
                .map_or_else(|| h.trim().to_string(), |(k, _)| k.to_string());
            if !mapping.metadata.iter().any(|(k, _)| *k == key) {
                mapping.metadata.push((key, i));
            }
        }
    }
    if kind == ImportKind::Assessments
        && !RELATIONSHIP_DIMENSIONS
            .iter()
            .any(|d| mapping.fields.contains_key(d))
    {
        return Err(MappingError::Missing {
            field: format!(
                "any of the seven dimensions ({})",
                RELATIONSHIP_DIMENSIONS.join(", ")
            ),
            columns: columns(),
        });
    }
    Ok(mapping)
}

/// A row that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Physical line (header = 1).
    pub line: u64,
    /// The column at fault.
    pub column: String,
    /// Its value.
    pub value: String,
    /// Why it is not accepted.
    pub reason: String,
}

/// A response read from a row, before account and contact codes are resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseRow {
    /// Recognises a re-import.
    pub dedupe_key: String,
    /// RFC 3339 UTC.
    pub submitted_at: String,
    /// Calendar date.
    pub submitted_on: Date,
    /// Channel.
    pub channel: String,
    /// Language.
    pub language: Option<String>,
    /// Account code (dropped for anonymous surveys).
    pub account: Option<String>,
    /// Contact code (dropped for anonymous surveys).
    pub contact: Option<String>,
    /// Metadata.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Answers.
    pub answers: Vec<(String, AnswerValue)>,
}

/// One validated record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A survey response.
    Response(Box<ResponseRow>),
    /// An account.
    Account(Account),
    /// A contact.
    Contact(Contact),
    /// A transaction with its dedupe key.
    Transaction(String, Transaction),
    /// Feedback with its dedupe key.
    Feedback(String, FeedbackItem),
    /// An assessment.
    Assessment(Assessment),
}

/// Reads records from rows of one file: holds the mapping and what it must
/// remember across rows (occurrences of identical transactions).
#[derive(Debug)]
pub struct RowReader {
    kind: ImportKind,
    mapping: Mapping,
    header: Vec<String>,
    survey: Option<std::sync::Arc<SurveyDefinition>>,
    /// `1-5`: assessment ratings given on 1–5 are shifted to −2…+2.
    pub assessment_one_to_five: bool,
    /// Occurrences of each row fingerprint so far in this file, by 64 bits of
    /// it (two rows sharing them only share a count: their keys still differ).
    seen: HashMap<u64, u32, foldhash::fast::FixedState>,
    /// Reused text of a row's day and amount.
    scratch: String,
}

const CHANNELS: [&str; 8] = [
    "web",
    "email",
    "sms",
    "phone",
    "in_person",
    "app",
    "api",
    "import",
];

fn channel(text: &str) -> Option<&'static str> {
    let t = text.trim().to_lowercase().replace([' ', '-'], "_");
    if t.is_empty() {
        return Some("import");
    }
    if let Some(c) = CHANNELS.iter().find(|c| **c == t) {
        return Some(c);
    }
    Some(match t.as_str() {
        "网页" | "网站" | "在线" | "online" => "web",
        "邮件" | "电子邮件" | "mail" => "email",
        "短信" | "text" => "sms",
        "电话" | "电话回访" | "call" | "telephone" => "phone",
        "面访" | "拜访" | "现场" | "当面" | "线下" | "visit" | "face_to_face" | "inperson"
        | "offline" => "in_person",
        "微信" | "小程序" | "wechat" | "mobile" => "app",
        _ => return None,
    })
}

/// Reads a date or date-time cell: the forms [`Date::parse`] knows, plus Excel
/// serial numbers (`46082` → 2026-03-01). Returns the date and RFC 3339 UTC text.
pub fn parse_import_timestamp(text: &str) -> Option<(Date, String)> {
    let t = text.trim();
    if let Some(date) = Date::parse(t) {
        // The time of day when one is written; a written offset (`+08:00`,
        // `-05:00`, `Z`) converts it to UTC, a bare time is taken as UTC. The
        // calendar date stays as written, as file mode reads it.
        let Some(rest) = t.find(['T', 't', ' ']).map(|i| t[i + 1..].trim()) else {
            return Some((date, format!("{date}T00:00:00Z")));
        };
        let digits = |s: &str| s.parse::<i64>().ok();
        let (h, m) = (
            rest.get(0..2).and_then(digits),
            rest.get(3..5).and_then(digits),
        );
        let (Some(h), Some(m)) = (h, m) else {
            return Some((date, format!("{date}T00:00:00Z")));
        };
        let sec = rest
            .get(5..6)
            .filter(|c| *c == ":")
            .and(rest.get(6..8))
            .and_then(digits)
            .unwrap_or(0);
        if h > 23 || m > 59 || sec > 59 {
            return None;
        }
        let zone = rest.find(['+', '-', 'Z', 'z']).map(|i| &rest[i..]);
        let offset = match zone {
            None | Some("Z" | "z") => 0,
            Some(z) => {
                let sign = if z.starts_with('-') { -1 } else { 1 };
                let d: String = z[1..].chars().filter(char::is_ascii_digit).collect();
                match d.len() {
                    2 => sign * digits(&d)? * 3600,
                    4 => sign * (digits(&d[..2])? * 3600 + digits(&d[2..])? * 60),
                    _ => return None,
                }
            }
        };
        let utc = i64::from(date.days()) * 86_400 + h * 3600 + m * 60 + sec - offset;
        let (day, secs) = (utc.div_euclid(86_400), utc.rem_euclid(86_400));
        let utc_date = Date::from_days(day as i32);
        return Some((
            date,
            format!(
                "{utc_date}T{:02}:{:02}:{:02}Z",
                secs / 3600,
                secs % 3600 / 60,
                secs % 60
            ),
        ));
    }
    // Excel serials, only in the range of plausible dates (1954–2119): a bare
    // 2026 or 202603 is not a date.
    let serial: f64 = t.parse().ok()?;
    if !(20_000.0..=80_000.0).contains(&serial) {
        return None;
    }
    let date = excel_serial_date(serial)?;
    let secs = ((serial.fract() * 86_400.0).round() as i64).clamp(0, 86_399);
    Some((
        date,
        format!(
            "{date}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        ),
    ))
}

/// The date of a date or date-time cell, as [`parse_import_timestamp`] reads
/// it, without writing out the time for a plain date.
fn parse_import_date(text: &str) -> Option<Date> {
    let t = text.trim();
    if !t.contains(['T', 't', ' '])
        && let Some(date) = Date::parse(t)
    {
        return Some(date);
    }
    parse_import_timestamp(t).map(|(d, _)| d)
}

/// A stable 128-bit FNV-1a fingerprint of `parts`, as hex.
pub fn fingerprint(parts: &[&str]) -> String {
    format!("{:032x}", fingerprint128(parts))
}

/// The 128-bit FNV-1a fingerprint of `parts` (trimmed, separated by 0x1F).
fn fingerprint128(parts: &[&str]) -> u128 {
    let mut f = Fingerprint::default();
    for p in parts {
        f.part(p);
    }
    f.0
}

/// [`fingerprint128`] fed part by part.
#[derive(Debug, Clone, Copy)]
struct Fingerprint(u128, bool);

impl Default for Fingerprint {
    fn default() -> Self {
        Fingerprint(0x6c62272e07bb014262b821756295c58d, false)
    }
}

impl Fingerprint {
    const PRIME: u128 = 0x0000000001000000000000000000013B;

    fn part(&mut self, text: &str) {
        if self.1 {
            self.0 ^= 0x1F;
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
        self.1 = true;
        for b in text.trim().bytes() {
            self.0 ^= u128::from(b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }
}

/// Appends `v` in decimal.
fn push_decimal(out: &mut String, v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = v;
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // ASCII digits: always UTF-8.
    out.push_str(std::str::from_utf8(&digits[i..]).unwrap_or_default());
}

/// Appends the `width` low nibbles of `v` in lower-case hex.
fn push_hex(out: &mut String, v: u64, width: u32) {
    for i in (0..width).rev() {
        let nibble = ((v >> (4 * i)) & 0xF) as u8;
        out.push(char::from(if nibble < 10 {
            b'0' + nibble
        } else {
            b'a' + nibble - 10
        }));
    }
}

impl RowReader {
    /// A reader for `kind` rows with `mapping`.
    pub fn new(
        kind: ImportKind,
        mapping: Mapping,
        header: Vec<String>,
        survey: Option<&SurveyDefinition>,
    ) -> Self {
        RowReader {
            kind,
            mapping,
            header,
            survey: survey.cloned().map(std::sync::Arc::new),
            assessment_one_to_five: false,
            seen: HashMap::default(),
            scratch: String::new(),
        }
    }

    /// Makes room for about `rows` rows' occurrence counts at once (an
    /// estimate from the file's size spares rehashing a big table as it
    /// grows); kinds whose keys need no count reserve nothing.
    pub fn expect_rows(&mut self, rows: usize) {
        if matches!(
            self.kind,
            ImportKind::Transactions | ImportKind::Responses | ImportKind::Feedback
        ) {
            self.seen.reserve(rows);
        }
    }

    /// How many times `fingerprint` has been seen in this file, this row included.
    fn count(&mut self, fingerprint: u128) -> u32 {
        let n = self
            .seen
            .entry(fingerprint as u64 ^ (fingerprint >> 64) as u64)
            .or_insert(0);
        *n += 1;
        *n
    }

    /// `prefix:fingerprint:n`, n counting identical rows of this file so far.
    fn occurrence(&mut self, prefix: &str, fingerprint: u128) -> String {
        let n = self.count(fingerprint);
        format!("{prefix}:{fingerprint:032x}:{n}")
    }

    fn cell<'r>(&self, row: &'r [String], field: &str) -> Option<&'r str> {
        self.mapping
            .fields
            .get(field)
            .and_then(|&i| row.get(i))
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    fn reject(
        &self,
        line: u64,
        row: &[String],
        field: &str,
        reason: impl Into<String>,
    ) -> Rejection {
        let col = self.mapping.fields.get(field).copied();
        Rejection {
            line,
            column: col
                .and_then(|i| self.header.get(i))
                .cloned()
                .unwrap_or_else(|| field.to_string()),
            value: col.and_then(|i| row.get(i)).cloned().unwrap_or_default(),
            reason: reason.into(),
        }
    }

    fn required<'r>(
        &self,
        line: u64,
        row: &'r [String],
        field: &str,
    ) -> Result<&'r str, Rejection> {
        self.cell(row, field)
            .ok_or_else(|| self.reject(line, row, field, "required value missing"))
    }

    fn date(&self, line: u64, row: &[String], field: &str) -> Result<Option<Date>, Rejection> {
        match self.cell(row, field) {
            None => Ok(None),
            Some(t) => parse_import_date(t).map(Some).ok_or_else(|| {
                self.reject(
                    line,
                    row,
                    field,
                    "not a date (2026-03-01, 2026/3/1, 2026年3月1日 or an Excel serial)",
                )
            }),
        }
    }

    /// Validates one row.
    pub fn read(&mut self, line: u64, row: &[String]) -> Result<Record, Rejection> {
        match self.kind {
            ImportKind::Responses => self
                .response(line, row)
                .map(|r| Record::Response(Box::new(r))),
            ImportKind::Accounts => self.account(line, row).map(Record::Account),
            ImportKind::Contacts => self.contact(line, row).map(Record::Contact),
            ImportKind::Transactions => self.transaction(line, row),
            ImportKind::Feedback => self.feedback(line, row),
            ImportKind::Assessments => self.assessment(line, row).map(Record::Assessment),
        }
    }

    fn response(&mut self, line: u64, row: &[String]) -> Result<ResponseRow, Rejection> {
        let Some(survey) = self.survey.clone() else {
            return Err(self.reject(line, row, "survey", "responses need --survey"));
        };
        let when = self.required(line, row, "submitted_at")?;
        let (submitted_on, submitted_at) = parse_import_timestamp(when).ok_or_else(|| {
            self.reject(
                line,
                row,
                "submitted_at",
                "not a date (2026-03-01 14:02:03, 2026/3/1, 2026年3月1日 or an Excel serial)",
            )
        })?;
        let channel = channel(self.cell(row, "channel").unwrap_or("")).ok_or_else(|| {
            self.reject(
                line,
                row,
                "channel",
                format!("unknown channel; use one of {}", CHANNELS.join(", ")),
            )
        })?;
        let language = match self.cell(row, "language").map(str::to_lowercase) {
            None => None,
            Some(l) if l.starts_with("zh") || l == "中文" || l == "chinese" => {
                Some("zh".to_string())
            }
            Some(l) if l.starts_with("en") || l == "英文" || l == "english" => {
                Some("en".to_string())
            }
            Some(_) => {
                return Err(self.reject(line, row, "language", "unknown language; use zh or en"));
            }
        };
        let mut answers = Vec::new();
        for (qid, col) in &self.mapping.answers {
            let Some(q) = survey.question(qid) else {
                continue;
            };
            let raw = row.get(*col).map(String::as_str).unwrap_or("");
            let value = q.parse_answer(raw).map_err(|reason| Rejection {
                line,
                column: self.header[*col].clone(),
                value: raw.to_string(),
                reason: format!("question {qid:?}: {reason}"),
            })?;
            match value {
                Some(v) => answers.push((qid.clone(), v)),
                None if q.required => {
                    return Err(Rejection {
                        line,
                        column: self.header[*col].clone(),
                        value: String::new(),
                        reason: format!("question {qid:?} is required and has no answer"),
                    });
                }
                None => {}
            }
        }
        let mut metadata = serde_json::Map::new();
        for (key, col) in &self.mapping.metadata {
            if let Some(v) = row.get(*col).map(|s| s.trim()).filter(|s| !s.is_empty()) {
                metadata.insert(key.clone(), v.into());
            }
        }
        let (account, contact) = if survey.anonymous {
            (None, None)
        } else {
            (
                self.cell(row, "account").map(String::from),
                self.cell(row, "contact").map(String::from),
            )
        };
        let dedupe_key = match self.cell(row, "response_id") {
            Some(id) => format!("id:{id}"),
            None => {
                // Two respondents may give identical answers: count identical
                // rows within the file, so only a second import is a duplicate.
                let parts: Vec<&str> = row.iter().map(String::as_str).collect();
                self.occurrence("row", fingerprint128(&parts))
            }
        };
        Ok(ResponseRow {
            dedupe_key,
            submitted_at,
            submitted_on,
            channel: channel.to_string(),
            language,
            account,
            contact,
            metadata,
            answers,
        })
    }

    fn account(&self, line: u64, row: &[String]) -> Result<Account, Rejection> {
        let external_id = self.required(line, row, "external_id")?.to_string();
        let name = self.required(line, row, "name")?.to_string();
        let since = self.date(line, row, "since")?;
        let until = self.date(line, row, "until")?;
        if let (Some(s), Some(u)) = (since, until)
            && u < s
        {
            return Err(self.reject(
                line,
                row,
                "until",
                format!("lost on {u}, before becoming a customer on {s}"),
            ));
        }
        let text = |f: &str| self.cell(row, f).map(String::from);
        Ok(Account {
            external_id,
            name,
            industry: text("industry"),
            region: text("region"),
            tier: self.cell(row, "tier").and_then(normalize_tier),
            sales_team: text("sales_team"),
            owner: text("owner"),
            since,
            until,
        })
    }

    fn contact(&self, line: u64, row: &[String]) -> Result<Contact, Rejection> {
        let account = self.required(line, row, "account")?.to_string();
        let name = self.required(line, row, "name")?.to_string();
        let role = match self.cell(row, "role") {
            None => None,
            Some(r) => Some(ContactRole::parse(r).ok_or_else(|| {
                let roles: Vec<&str> = ContactRole::ALL.iter().map(|r| r.as_str()).collect();
                self.reject(line, row, "role", format!("unknown role; use {} (or 决策者, 影响者, 技术评估者, 采购, 使用者, 把关者)", roles.join(", ")))
            })?),
        };
        let influence = match self.cell(row, "influence") {
            None => 0.5,
            Some(t) => parse_influence(t).ok_or_else(|| {
                self.reject(
                    line,
                    row,
                    "influence",
                    "influence is 0–1, a percentage, or 1–5",
                )
            })?,
        };
        let external_id = self
            .cell(row, "external_id")
            .map_or_else(|| format!("{account}/{name}"), String::from);
        Ok(Contact {
            external_id,
            account,
            name,
            role,
            influence,
            email: self.cell(row, "email").map(String::from),
            phone: self.cell(row, "phone").map(String::from),
            time_zone: self.cell(row, "time_zone").map(String::from),
        })
    }

    fn transaction(&mut self, line: u64, row: &[String]) -> Result<Record, Rejection> {
        let customer = self.required(line, row, "customer")?.to_string();
        let date = self
            .date(line, row, "date")?
            .ok_or_else(|| self.reject(line, row, "date", "required value missing"))?;
        let amount_text = self.required(line, row, "amount")?;
        let amount_minor = parse_amount(amount_text).ok_or_else(|| {
            self.reject(
                line,
                row,
                "amount",
                "not an amount (12800, 12,800.00, ¥12,800.00)",
            )
        })?;
        let currency = match self.cell(row, "currency") {
            // Already a code (CNY, USD): as it is.
            Some(c) if c.len() == 3 && c != "RMB" && c.bytes().all(|b| b.is_ascii_uppercase()) => {
                c.to_string()
            }
            Some(c) => c
                .to_ascii_uppercase()
                .replace("RMB", "CNY")
                .replace(['¥', '￥'], "CNY"),
            None if amount_text.contains('$') => "USD".into(),
            None if amount_text.contains('€') => "EUR".into(),
            None => "CNY".into(),
        };
        let external_id = self.cell(row, "external_id").map(String::from);
        let product_line = self.cell(row, "product_line").map(String::from);
        // An order number identifies an order, not a line: several lines of one
        // order (or one number reused by another customer) are told apart by
        // their content, and identical rows within the file by their count.
        let mut f = Fingerprint::default();
        f.part(external_id.as_deref().unwrap_or(""));
        f.part(&customer);
        self.scratch.clear();
        date.push_iso(&mut self.scratch);
        f.part(&self.scratch);
        self.scratch.clear();
        if amount_minor < 0 {
            self.scratch.push('-');
        }
        push_decimal(&mut self.scratch, amount_minor.unsigned_abs());
        f.part(&self.scratch);
        f.part(&currency);
        f.part(product_line.as_deref().unwrap_or(""));
        let content = f.0;
        // Keys start with the order number when there is one: they then arrive
        // in order and the unique index grows at its end instead of at random
        // places (a random key made a 1M-row import 3× slower). Written by hand:
        // `id:ORDER:64 bits of the fingerprint in hex:n` or
        // `row:128 bits in hex:n`, n counting identical rows of this file.
        let n = self.count(content);
        let mut key = String::with_capacity(56);
        match &external_id {
            Some(id) => {
                key.push_str("id:");
                key.push_str(id);
                key.push(':');
                push_hex(&mut key, (content >> 64) as u64, 16);
            }
            None => {
                key.push_str("row:");
                push_hex(&mut key, (content >> 64) as u64, 16);
                push_hex(&mut key, content as u64, 16);
            }
        }
        key.push(':');
        push_decimal(&mut key, u64::from(n));
        Ok(Record::Transaction(
            key,
            Transaction {
                external_id,
                customer,
                date,
                amount_minor,
                currency,
                product_line,
            },
        ))
    }

    fn feedback(&mut self, line: u64, row: &[String]) -> Result<Record, Rejection> {
        let text = self.required(line, row, "text")?.to_string();
        let date = self
            .date(line, row, "date")?
            .ok_or_else(|| self.reject(line, row, "date", "required value missing"))?;
        let source = match self.cell(row, "source") {
            None => FeedbackSource::Other,
            Some(s) => FeedbackSource::parse(s).ok_or_else(|| {
                self.reject(line, row, "source", "unknown source; use review, complaint, interview, focus_group, social_media, survey or other")
            })?,
        };
        let account = self.cell(row, "account").map(String::from);
        let day = date.to_string();
        let key = self.occurrence(
            "row",
            fingerprint128(&[
                account.as_deref().unwrap_or(""),
                source.as_str(),
                &day,
                &text,
            ]),
        );
        Ok(Record::Feedback(
            key,
            FeedbackItem {
                account,
                source,
                date,
                text,
            },
        ))
    }

    fn assessment(&self, line: u64, row: &[String]) -> Result<Assessment, Rejection> {
        let contact = self.required(line, row, "contact")?.to_string();
        let period = self.required(line, row, "period")?.to_string();
        let mut ratings = [None; 7];
        for (slot, dim) in ratings.iter_mut().zip(RELATIONSHIP_DIMENSIONS) {
            let Some(t) = self.cell(row, dim) else {
                continue;
            };
            let v: i64 = match cx_core::value::parse_score(t.as_bytes()) {
                cx_core::value::ScoreCell::Value(v) => v,
                _ => return Err(self.reject(line, row, dim, "not a whole number")),
            };
            let v = if self.assessment_one_to_five {
                if !(1..=5).contains(&v) {
                    return Err(self.reject(line, row, dim, "off the 1–5 scale"));
                }
                v - 3
            } else if (-2..=2).contains(&v) {
                v
            } else {
                return Err(self.reject(
                    line,
                    row,
                    dim,
                    "off the −2…+2 scale (use --assessment-scale 1-5 for 1–5 ratings)",
                ));
            };
            *slot = Some(v as i8);
        }
        if ratings.iter().all(Option::is_none) {
            return Err(self.reject(line, row, "satisfaction", "no dimension is rated"));
        }
        Ok(Assessment {
            contact,
            period,
            ratings,
        })
    }
}

/// Influence as 0–1: `0.8`, `80%`, or a 1–5 rating (5 → 1.0).
fn parse_influence(text: &str) -> Option<f64> {
    let t = text.trim();
    let (number, percent) = match t.strip_suffix('%') {
        Some(n) => (n.trim(), true),
        None => (t, false),
    };
    let v: f64 = number.parse().ok()?;
    let v = if percent {
        v / 100.0
    } else if v > 1.0 && v <= 5.0 && v.fract() == 0.0 {
        v / 5.0
    } else {
        v
    };
    (v.is_finite() && (0.0..=1.0).contains(&v)).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cols: &[&str]) -> Vec<String> {
        cols.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn chinese_headers_map_to_fields() {
        let h = header(&["客户编号", "下单日期", "订单金额", "产品线", "备注"]);
        let m = map_columns(ImportKind::Transactions, &h, &[], None).expect("maps");
        assert_eq!(m.fields["customer"], 0);
        assert_eq!(m.fields["date"], 1);
        assert_eq!(m.fields["amount"], 2);
        assert_eq!(m.fields["product_line"], 3);
        let err = map_columns(
            ImportKind::Transactions,
            &header(&["客户编号", "备注"]),
            &[],
            None,
        )
        .expect_err("no date");
        assert!(
            err.to_string().contains("\"date\"") && err.to_string().contains("--map"),
            "{err}"
        );
        let m = map_columns(
            ImportKind::Transactions,
            &header(&["cust", "when", "how much"]),
            &[
                ("cust".into(), "customer".into()),
                ("when".into(), "date".into()),
                ("how much".into(), "amount".into()),
            ],
            None,
        )
        .expect("mapped by hand");
        assert_eq!(m.fields.len(), 3);
        let err = map_columns(
            ImportKind::Accounts,
            &header(&["Customer ID", "customer_id", "名称"]),
            &[],
            None,
        )
        .expect_err("ambiguous");
        assert!(matches!(err, MappingError::Ambiguous { .. }), "{err}");
    }

    #[test]
    fn transaction_rows() {
        let h = header(&["客户编号", "日期", "金额"]);
        let m = map_columns(ImportKind::Transactions, &h, &[], None).expect("maps");
        let mut r = RowReader::new(ImportKind::Transactions, m, h, None);
        let row = |a: &str, b: &str, c: &str| vec![a.to_string(), b.to_string(), c.to_string()];
        let Ok(Record::Transaction(k1, t)) = r.read(2, &row("C001", "46082", "¥12,800.00")) else {
            panic!("valid")
        };
        assert_eq!(
            (t.date.to_string(), t.amount_minor, t.currency.as_str()),
            ("2026-03-01".into(), 1_280_000, "CNY")
        );
        let Ok(Record::Transaction(k2, _)) = r.read(3, &row("C001", "2026/3/1", "12800")) else {
            panic!("valid")
        };
        assert_ne!(
            k1, k2,
            "an identical second order in the same file is a second order"
        );
        let bad = r
            .read(4, &row("C001", "2026-02-30", "1"))
            .expect_err("bad date");
        assert_eq!(
            (bad.line, bad.column.as_str(), bad.value.as_str()),
            (4, "日期", "2026-02-30")
        );
        let bad = r
            .read(5, &row("C001", "2026-03-01", "lots"))
            .expect_err("bad amount");
        assert_eq!(bad.column, "金额");
        assert!(r.read(6, &row("", "2026-03-01", "1")).is_err());
    }

    /// Stored keys must not change from one version to the next, or a second
    /// import of the same file would double it. Expected keys computed apart
    /// (FNV-1a 128 over the trimmed parts joined by 0x1F, in Python).
    #[test]
    fn transaction_keys_are_stable() {
        let h = header(&[
            "order_id",
            "customer_id",
            "order_date",
            "amount",
            "currency",
            "product_line",
        ]);
        let m = map_columns(ImportKind::Transactions, &h, &[], None).expect("maps");
        let mut r = RowReader::new(ImportKind::Transactions, m, h, None);
        let row = |cells: [&str; 6]| cells.map(String::from).to_vec();
        let mut key = |line, cells| match r.read(line, &row(cells)) {
            Ok(Record::Transaction(k, _)) => k,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            key(
                2,
                ["SO-7", " C001", "2026-03-01", "¥12,800.00", "CNY", "云服务"]
            ),
            "id:SO-7:ee4f55fce187371a:1"
        );
        let unnamed = ["", "C001", "2026/3/1", "-5", "USD", ""];
        assert_eq!(key(3, unnamed), "row:2304772f3f0c796ebe00a80d6062d462:1");
        assert_eq!(key(4, unnamed), "row:2304772f3f0c796ebe00a80d6062d462:2");
    }

    #[test]
    fn timestamps_and_fingerprints() {
        assert_eq!(
            parse_import_timestamp("2026-03-01 14:02:03").map(|t| t.1),
            Some("2026-03-01T14:02:03Z".into())
        );
        assert_eq!(
            parse_import_timestamp("2026年3月1日").map(|t| t.1),
            Some("2026-03-01T00:00:00Z".into())
        );
        assert_eq!(
            parse_import_timestamp("46082.5").map(|t| t.1),
            Some("2026-03-01T12:00:00Z".into())
        );
        assert_eq!(parse_import_timestamp("12"), None);
        assert_eq!(
            parse_import_timestamp("2026"),
            None,
            "a year is not an Excel serial"
        );
        assert_eq!(parse_import_timestamp("202603"), None);
        assert_eq!(
            parse_import_timestamp("2026-03-31T23:30:00-05:00"),
            Some((
                Date::from_ymd(2026, 3, 31).expect("date"),
                "2026-04-01T04:30:00Z".into()
            ))
        );
        assert_eq!(
            parse_import_timestamp("2026-03-01 08:00:00+08:00").map(|t| t.1),
            Some("2026-03-01T00:00:00Z".into())
        );
        assert_eq!(parse_import_timestamp("2026-03-01 25:00"), None);
        assert_eq!(fingerprint(&["a", "b"]), fingerprint(&[" a", "b "]));
        assert_ne!(fingerprint(&["ab", ""]), fingerprint(&["a", "b"]));
        assert_eq!(parse_influence("80%"), Some(0.8));
        assert_eq!(parse_influence("4"), Some(0.8));
        assert_eq!(parse_influence("0.3"), Some(0.3));
        assert_eq!(parse_influence("7"), None);
    }
}
