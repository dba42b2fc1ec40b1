//! The CX topic taxonomy and the keyword matcher that finds topics in text.
//!
//! Ten topics ship built in (`DEFAULT_TOPICS`), each with Chinese and English
//! keywords; a company adds its own or extends these with a JSON file
//! (`TopicConfig`, `cxscore text analyze --topics FILE`):
//!
//! ```json
//! {"topics": [{"id": "installation", "zh": ["安装"], "en": ["install*", "setup"]},
//!             {"id": "billing", "en": ["purchase order"]}]}
//! ```
//!
//! Keywords are matched in the normalised text (lower case, half-width).
//! Chinese keywords match anywhere; English ones only at word boundaries, and a
//! trailing `*` lets the word go on (`deliver*` matches delivery, delivered).
//! Where keywords overlap the longest wins (`售后服务` is after-sales, not
//! service attitude).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use serde::Deserialize;

use crate::TextError;

/// The built-in taxonomy: (topic, Chinese keywords, English keywords).
pub const DEFAULT_TOPICS: &[(&str, &[&str], &[&str])] = &[
    (
        "product_quality",
        &[
            "不稳定",
            "跳变",
            "起球",
            "难吃",
            "黑屏",
            "发烫",
            "虚焊",
            "返工",
            "良率",
            "信号",
            "网速",
            "断网",
            "褪色",
            "缩水",
            "开线",
            "色差",
            "口味",
            "分量",
            "食材",
            "商品本身",
            "尺码",
            "公差",
            "菜品",
            "饭菜",
            "质量",
            "品质",
            "做工",
            "质感",
            "耐用",
            "故障",
            "坏了",
            "损坏",
            "次品",
            "瑕疵",
            "性能",
            "稳定性",
            "好用",
            "不好用",
            "口感",
            "味道",
            "好吃",
            "难吃",
            "新鲜",
            "变质",
            "精度",
            "寿命",
            "返修率",
            "良品率",
            "不良率",
            "产品很好",
            "产品不错",
            "产品质量",
            "产品",
            "材质",
            "漏水",
            "异响",
            "发热",
            "死机",
            "卡顿",
            "崩溃",
            "bug",
            "掉线",
            "断线",
            "效果",
        ],
        &[
            "food",
            "meal",
            "soggy",
            "flavour",
            "flavor",
            "sweet",
            "tolerance",
            "inconsistent",
            "sturdy",
            "sturdier",
            "signal",
            "calls drop",
            "internet",
            "wifi",
            "wi-fi",
            "connection",
            "tool life",
            "parts",
            "machine*",
            "fries",
            "sizes",
            "colour",
            "color",
            "toy",
            "quality",
            "defect*",
            "broke",
            "broken",
            "breaks",
            "breaking",
            "breakdown*",
            "faulty",
            "durable",
            "durability",
            "reliab*",
            "performance",
            "crash*",
            "bug",
            "bugs",
            "buggy",
            "glitch*",
            "stable",
            "stability",
            "unstable",
            "taste*",
            "tasty",
            "fresh",
            "stale",
            "works great",
            "stopped working",
            "doesn't work",
            "malfunction*",
            "product",
            "products",
            "material*",
            "accura*",
            "precision",
            "lag",
            "laggy",
            "leak*",
            "overheat*",
            "outage*",
            "downtime",
            "uptime",
        ],
    ),
    (
        "price",
        &[
            "阶梯价",
            "协议价",
            "单价",
            "块钱",
            "多少钱",
            "¥",
            "价格",
            "价钱",
            "便宜",
            "太贵",
            "偏贵",
            "贵了",
            "很贵",
            "性价比",
            "划算",
            "实惠",
            "涨价",
            "降价",
            "优惠",
            "折扣",
            "报价",
            "费用",
            "成本",
            "物美价廉",
            "价位",
            "收费标准",
            "值这个价",
        ],
        &[
            "$",
            "€",
            "£",
            "increase at renewal",
            "price increase",
            "price*",
            "pricing",
            "great deal",
            "good deal",
            "cheap*",
            "expensive",
            "overpriced",
            "cost*",
            "costly",
            "afford*",
            "value for money",
            "good value",
            "great value",
            "discount*",
            "quote",
            "quotes",
            "quotation",
            "budget",
            "worth the money",
            "worth it",
            "fee",
            "fees",
            "pricey",
            "rate increase",
            "price hike",
        ],
    ),
    (
        "service_attitude",
        &[
            "语气",
            "很凶",
            "推销",
            "暖心",
            "态度",
            "服务态度",
            "热情",
            "耐心",
            "礼貌",
            "客气",
            "专业",
            "不专业",
            "冷漠",
            "敷衍",
            "推诿",
            "傲慢",
            "不耐烦",
            "爱答不理",
            "服务很好",
            "服务周到",
            "服务好",
            "服务差",
            "服务不错",
            "贴心",
            "用心",
            "负责",
            "不负责",
        ],
        &[
            "accused",
            "pushy",
            "attitude",
            "friendly",
            "unfriendly",
            "polite",
            "impolite",
            "rude*",
            "courteous",
            "helpful",
            "unhelpful",
            "professional*",
            "unprofessional",
            "patient",
            "impatient",
            "respectful",
            "disrespectful",
            "service was",
            "great service",
            "excellent service",
            "poor service",
            "bad service",
            "arrogant",
            "dismissive",
            "condescending",
            "caring",
            "attentive",
        ],
    ),
    (
        "response_speed",
        &[
            "很快就",
            "马上就",
            "马上",
            "几分钟",
            "立刻",
            "立即",
            "当天就",
            "三天了",
            "好几天",
            "一个月还没",
            "一直在等",
            "响应",
            "回复",
            "回应",
            "答复",
            "反馈慢",
            "处理速度",
            "处理慢",
            "处理很快",
            "效率",
            "等待",
            "没人理",
            "没人回",
            "没人接",
            "打不通",
            "秒回",
            "拖延",
            "拖了",
            "一直没",
            "催了",
        ],
        &[
            "in minutes",
            "within minutes",
            "same day",
            "right away",
            "days now",
            "quick to",
            "sorted it out in",
            "took them",
            "respon*",
            "slow support",
            "support was slow",
            "support is slow",
            "answer*",
            "slow to respond",
            "slow response",
            "quick response",
            "reply",
            "replied",
            "replies",
            "get back",
            "got back",
            "wait*",
            "prompt*",
            "timely",
            "turnaround",
            "on hold",
            "hold time",
            "took forever",
            "immediately",
            "right away",
            "no one answered",
            "nobody answered",
            "ignored",
            "follow up",
            "followed up",
            "follow-up",
            "ticket",
            "tickets",
            "escalat*",
            "sla",
        ],
    ),
    (
        "delivery",
        &[
            "物流",
            "交付",
            "交货",
            "快递",
            "送货",
            "发货",
            "到货",
            "配送",
            "送达",
            "运输",
            "交货",
            "交期",
            "货期",
            "货到",
            "送餐",
            "外卖",
            "送到",
            "延误",
            "准时",
            "按时",
            "顺丰",
            "京东物流",
            "运费",
            "包邮",
            "签收",
            "到达",
            "送得",
            "送的",
            "送来",
        ],
        &[
            "deliver*",
            "shipping",
            "shipped",
            "ship",
            "shipment*",
            "arriv*",
            "courier",
            "lead time",
            "late",
            "on time",
            "on-time",
            "dispatch*",
            "logistics",
            "freight",
            "transit",
            "tracking",
            "package arrived",
            "came early",
            "came late",
            "postage",
        ],
    ),
    (
        "packaging",
        &[
            "盒子塌",
            "包装盒",
            "包装",
            "外包装",
            "纸箱",
            "箱子",
            "盒子",
            "包得",
            "泡沫",
            "压坏",
            "破损",
            "漏了",
            "撒了",
            "洒了",
            "密封",
            "封口",
            "打包",
        ],
        &[
            "soaked",
            "crate",
            "pallet",
            "packag*",
            "packing",
            "packed",
            "box",
            "boxes",
            "wrapping",
            "wrapped",
            "bubble wrap",
            "crushed",
            "dented",
            "sealed",
            "seal",
            "spill*",
            "leaked",
            "damaged in transit",
        ],
    ),
    (
        "documentation",
        &[
            "指导书",
            "指南",
            "说明书",
            "文档",
            "手册",
            "使用说明",
            "操作指南",
            "教程",
            "资料",
            "规格书",
            "技术资料",
            "api文档",
            "帮助文档",
            "培训资料",
            "培训",
            "指引",
        ],
        &[
            "release notes",
            "changelog",
            "datasheets",
            "document*",
            "docs",
            "manual",
            "manuals",
            "instruction*",
            "guide",
            "guides",
            "tutorial*",
            "handbook",
            "spec sheet",
            "datasheet",
            "api reference",
            "knowledge base",
            "help center",
            "faq",
            "training material*",
            "readme",
            "onboarding material*",
        ],
    ),
    (
        "after_sales",
        &[
            "拿去修",
            "修了",
            "修好",
            "售后",
            "售后服务",
            "保修",
            "维修",
            "退货",
            "换货",
            "退换",
            "退款",
            "三包",
            "质保",
            "上门",
            "安装",
            "维护",
            "保养",
            "返厂",
            "维保",
            "索赔",
            "理赔",
        ],
        &[
            "service engineer",
            "site visit",
            "field service",
            "spare parts",
            "after-sales",
            "after sales",
            "returned",
            "returns",
            "return it",
            "return policy",
            "return process",
            "aftersales",
            "warranty",
            "repair*",
            "refund*",
            "replac*",
            "exchange",
            "install*",
            "maintenance",
            "servicing",
            "rma",
            "claim",
            "claims",
            "technician visit",
            "on-site",
        ],
    ),
    (
        "usability",
        &[
            "很麻烦",
            "太麻烦",
            "藏得",
            "入口",
            "大字版",
            "顺手",
            "操作",
            "界面",
            "易用",
            "好上手",
            "上手",
            "方便",
            "不方便",
            "繁琐",
            "复杂",
            "简单",
            "直观",
            "流程",
            "设置",
            "app",
            "页面",
            "功能",
            "体验",
            "难用",
            "好操作",
            "用起来",
        ],
        &[
            "overcomplicated",
            "paired with the app",
            "easy to use",
            "easy",
            "intuitive",
            "user-friendly",
            "user friendly",
            "usab*",
            "interface",
            "ui",
            "ux",
            "confusing",
            "complicated",
            "clunky",
            "cumbersome",
            "navigat*",
            "setup",
            "set up",
            "learning curve",
            "app",
            "website",
            "dashboard",
            "portal",
            "feature*",
            "workflow",
            "login",
            "log in",
            "checkout",
            "menu",
            "settings",
            "simple",
            "hard to use",
            "difficult to use",
        ],
    ),
    (
        "billing",
        &[
            "多收",
            "扣了",
            "房费",
            "押金",
            "发票",
            "开票",
            "账单",
            "扣费",
            "收费",
            "付款",
            "支付",
            "对账",
            "结算",
            "多扣",
            "乱收费",
            "账期",
            "合同",
            "续费",
            "充值",
            "扣款",
            "税",
            "报销",
            "余额",
        ],
        &[
            "overdue",
            "hold on my card",
            "charged",
            "refund of the overcharge",
            "invoic*",
            "bill",
            "billed",
            "billing",
            "bills",
            "charge",
            "charged",
            "charges",
            "charging us",
            "overcharg*",
            "payment*",
            "credit card",
            "subscription",
            "renewal",
            "receipt*",
            "statement*",
            "purchase order",
            "tax",
            "vat",
            "double charged",
            "auto-renew*",
            "account balance",
        ],
    ),
];

/// A topic added or extended by configuration.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TopicEntry {
    /// The topic's id (`snake_case`); an existing id gets the keywords added.
    pub id: String,
    /// Chinese keywords.
    #[serde(default)]
    pub zh: Vec<String>,
    /// English keywords (`word*` for a prefix).
    #[serde(default)]
    pub en: Vec<String>,
}

/// A topic configuration file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TopicConfig {
    /// Topics to add or extend.
    pub topics: Vec<TopicEntry>,
}

impl TopicConfig {
    /// Parse a configuration from JSON.
    pub fn from_json(text: &str) -> Result<TopicConfig, TextError> {
        let config: TopicConfig =
            serde_json::from_str(text).map_err(|e| TextError::Config(e.to_string()))?;
        for entry in &config.topics {
            let ok = !entry.id.is_empty()
                && entry
                    .id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok {
                return Err(TextError::Config(format!(
                    "topic id {:?}: use lower-case letters, digits and _",
                    entry.id
                )));
            }
            if let Some(empty) = entry
                .zh
                .iter()
                .chain(&entry.en)
                .find(|k| k.trim().trim_end_matches('*').is_empty())
            {
                return Err(TextError::Config(format!(
                    "topic {}: empty keyword {empty:?}",
                    entry.id
                )));
            }
        }
        Ok(config)
    }
}

#[derive(Debug, Clone)]
struct Pattern {
    topic: usize,
    /// English: must start and end at word boundaries (end only without `*`).
    latin: bool,
    prefix: bool,
}

/// A topic found in a text: which, and where (byte range in the normalised text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mention {
    /// Index into `TopicMatcher::topics`.
    pub topic: usize,
    /// Start byte.
    pub start: usize,
    /// End byte.
    pub end: usize,
}

/// Finds topic keywords in normalised text.
#[derive(Debug, Clone)]
pub struct TopicMatcher {
    topics: Vec<String>,
    patterns: Vec<Pattern>,
    automaton: AhoCorasick,
}

impl TopicMatcher {
    /// The built-in taxonomy, extended by `config`.
    pub fn new(config: &TopicConfig) -> Result<TopicMatcher, TextError> {
        let mut topics: Vec<String> = Vec::new();
        let mut keywords: Vec<(usize, String)> = Vec::new();
        let mut add =
            |topics: &mut Vec<String>, id: &str, words: &mut dyn Iterator<Item = &str>| {
                let index = topics.iter().position(|t| t == id).unwrap_or_else(|| {
                    topics.push(id.to_owned());
                    topics.len() - 1
                });
                for word in words {
                    keywords.push((index, crate::normalize::normalize(word)));
                }
            };
        for (id, zh, en) in DEFAULT_TOPICS {
            add(&mut topics, id, &mut zh.iter().chain(en.iter()).copied());
        }
        for entry in &config.topics {
            add(
                &mut topics,
                &entry.id,
                &mut entry.zh.iter().chain(&entry.en).map(String::as_str),
            );
        }
        // One pattern per distinct keyword; a keyword listed under two topics
        // belongs to the first.
        keywords.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        keywords.dedup_by(|a, b| a.1 == b.1);
        let mut patterns = Vec::with_capacity(keywords.len());
        let mut strings = Vec::with_capacity(keywords.len());
        for (topic, word) in keywords {
            let prefix = word.ends_with('*');
            let word = word.trim_end_matches('*').to_owned();
            let latin = word
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric());
            patterns.push(Pattern {
                topic,
                latin,
                prefix,
            });
            strings.push(word);
        }
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(&strings)
            .map_err(|e| TextError::Config(e.to_string()))?;
        Ok(TopicMatcher {
            topics,
            patterns,
            automaton,
        })
    }

    /// The topic ids, in index order.
    pub fn topics(&self) -> &[String] {
        &self.topics
    }

    /// Every keyword occurrence in `text` (normalised), left to right.
    pub fn find(&self, text: &str, out: &mut Vec<Mention>) {
        out.clear();
        let bytes = text.as_bytes();
        // Every keyword occurrence that stands at word boundaries (so a longer
        // keyword that fails them — "price increase" in "price increases" —
        // does not hide a shorter one that passes: "price*")…
        let mut found: Vec<(usize, usize, usize)> = Vec::new();
        for m in self.automaton.find_overlapping_iter(text) {
            let pattern = &self.patterns[m.pattern().as_usize()];
            let mut end = m.end();
            if pattern.latin {
                let before = m.start().checked_sub(1).map(|i| bytes[i]);
                if before.is_some_and(|b| b.is_ascii_alphanumeric()) {
                    continue;
                }
                if pattern.prefix {
                    while end < bytes.len() && bytes[end].is_ascii_alphabetic() {
                        end += 1;
                    }
                } else if bytes.get(end).is_some_and(|b| b.is_ascii_alphanumeric()) {
                    continue;
                }
            }
            found.push((m.start(), end, pattern.topic));
        }
        // …then leftmost first, longest at one start, none overlapping
        // (`售后服务` is after-sales, not service attitude).
        found.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut last_end = 0;
        for (start, end, topic) in found {
            if start >= last_end {
                out.push(Mention { topic, start, end });
                last_end = end;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics_of(matcher: &TopicMatcher, text: &str) -> Vec<String> {
        let mut found = Vec::new();
        matcher.find(&crate::normalize::normalize(text), &mut found);
        found
            .iter()
            .map(|m| matcher.topics()[m.topic].clone())
            .collect()
    }

    #[test]
    fn finds_topics_in_both_languages() {
        let m = TopicMatcher::new(&TopicConfig::default()).expect("built-in taxonomy");
        assert_eq!(
            topics_of(&m, "物流太慢了，包装也破了"),
            ["delivery", "packaging"]
        );
        assert_eq!(topics_of(&m, "售后服务很差"), ["after_sales"]);
        assert_eq!(
            topics_of(&m, "The Delivery was late"),
            ["delivery", "delivery"]
        );
        assert_eq!(topics_of(&m, "Invoices were wrong"), ["billing"]);
        // Word boundaries: "ship" is not in "relationship", "bill" not in "billion".
        assert!(topics_of(&m, "a good relationship worth a billion").is_empty());
        // A longer keyword failing its boundary leaves the shorter one.
        assert_eq!(topics_of(&m, "price increases again"), ["price"]);
        assert!(
            topics_of(&m, "the charger broke")
                .iter()
                .all(|t| t != "billing")
        );
        assert!(topics_of(&m, "breakfast was great").is_empty());
    }

    #[test]
    fn configuration_adds_and_extends() {
        let config = TopicConfig::from_json(
            r#"{"topics": [{"id": "installation", "zh": ["装机"], "en": ["rack*"]},
                           {"id": "billing", "en": ["purchase ledger"]}]}"#,
        )
        .expect("valid config");
        let m = TopicMatcher::new(&config).expect("matcher");
        assert_eq!(topics_of(&m, "装机很顺利"), ["installation"]);
        assert_eq!(topics_of(&m, "racking took a day"), ["installation"]);
        assert_eq!(topics_of(&m, "the purchase ledger"), ["billing"]);
        assert_eq!(m.topics().len(), DEFAULT_TOPICS.len() + 1);
    }

    #[test]
    fn bad_configuration_says_what() {
        let err = TopicConfig::from_json(r#"{"topics": [{"id": "Bad Id"}]}"#).expect_err("bad id");
        assert!(err.to_string().contains("Bad Id"), "{err}");
        let err = TopicConfig::from_json(r#"{"topic": []}"#).expect_err("unknown field");
        assert!(err.to_string().contains("topic"), "{err}");
    }
}
