//! `cxscore demo`: a realistic, deterministic bilingual data set — accounts
//! across regions, industries and tiers (key accounts among them), their key
//! people, two years of transactions with seasonality, new and lost customers,
//! three surveys (relationship NPS, post-delivery CSAT with rated dimensions,
//! support CES) whose comments agree with their scores, interactions,
//! complaints and relationship assessments.
//!
//! Every customer has a latent satisfaction that drifts over time and differs
//! by region and service team; scores, comments, churn and purchases all follow
//! from it, so the metrics have something true to find.

use std::io::Write;

use cx_core::model::customer::{
    Account, Assessment, Contact, ContactRole, FeedbackItem, FeedbackSource, Interaction,
    InteractionKind, Transaction,
};
use cx_core::model::survey::{AnswerValue, SurveyDefinition};
use cx_core::model::{AccountId, ContactId};
use cx_core::period::{Date, Interval, Period};
use cx_store::{KeyedFeedback, KeyedTransaction, NewResponse, Store};

use crate::cli::{DemoArgs, OutputFormat};
use crate::{Failure, block_on, store_failure};

/// SplitMix64: small, fast, and the same numbers on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = self.unit().max(1e-12);
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()
    }
}

const REGIONS: [(&str, f64, bool); 7] = [
    // (region, satisfaction shift, Chinese-speaking)
    ("华东", 0.35, true),
    ("华南", 0.05, true),
    ("华北", 0.15, true),
    ("西南", -0.55, true),
    ("华中", 0.0, true),
    ("North America", 0.2, false),
    ("Europe", 0.1, false),
];
const INDUSTRIES: [&str; 6] = ["制造", "汽车", "电子", "医药", "物流", "能源"];
const PRODUCT_LINES: [&str; 4] = ["工业设备", "云服务", "备件", "维保服务"];
const TEAMS: [(&str, f64); 5] = [
    ("华东一部", 0.2),
    ("华东二部", 0.0),
    ("南方大区", -0.1),
    ("北方大区", 0.1),
    ("海外事业部", 0.05),
];
const ZH_PREFIX: [&str; 16] = [
    "华星", "东方", "新锐", "恒通", "远航", "金桥", "瑞丰", "天成", "中联", "博远", "海川", "宏达",
    "鼎盛", "嘉禾", "启明", "安泰",
];
const ZH_SUFFIX: [&str; 8] = [
    "精密制造有限公司",
    "智能科技股份有限公司",
    "汽车零部件有限公司",
    "电子有限公司",
    "医药集团",
    "物流有限公司",
    "能源科技有限公司",
    "机械有限公司",
];
const EN_PREFIX: [&str; 12] = [
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Litware",
    "Tailspin",
    "Adatum",
    "Proseware",
    "Woodgrove",
    "Lucerne",
    "Alpine",
    "Coho",
    "Wingtip",
];
const EN_SUFFIX: [&str; 6] = [
    "Logistics",
    "Manufacturing",
    "Energy",
    "Medical",
    "Electronics",
    "Automotive",
];
const SURNAMES: [&str; 12] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙",
];
const EN_NAMES: [&str; 12] = [
    "Alice Smith",
    "Bob Jones",
    "Carol White",
    "David Brown",
    "Emma Davis",
    "Frank Miller",
    "Grace Wilson",
    "Henry Moore",
    "Irene Taylor",
    "Jack Anderson",
    "Karen Thomas",
    "Leo Martin",
];

/// Comments by polarity and topic (zh, en).
const COMMENTS: [(i8, &str, &str); 24] = [
    (
        1,
        "产品质量稳定，设备运行一年没出过问题。",
        "Rock-solid quality, the equipment has run a year without a fault.",
    ),
    (
        1,
        "客服响应很快，工程师当天就到现场了。",
        "Support responded fast; the engineer was on site the same day.",
    ),
    (
        1,
        "交付准时，包装也很专业。",
        "Delivered on time and well packed.",
    ),
    (
        1,
        "客户经理非常专业，沟通顺畅，值得推荐。",
        "Our account manager is very professional; easy to recommend.",
    ),
    (
        1,
        "云服务很稳定，文档清楚，上手容易。",
        "The cloud service is stable and the documentation is clear.",
    ),
    (
        1,
        "售后服务周到，问题都能及时解决。",
        "After-sales service is thorough and issues get fixed quickly.",
    ),
    (
        1,
        "性价比高，比之前用的供应商好很多。",
        "Great value, much better than our previous supplier.",
    ),
    (
        1,
        "培训很有帮助，团队很快就能独立操作。",
        "The training helped a lot; the team was independent quickly.",
    ),
    (
        0,
        "整体还可以，价格略高。",
        "Fine overall, a bit expensive.",
    ),
    (
        0,
        "产品没问题，但交付时间可以再短一些。",
        "The product is fine, but delivery could be quicker.",
    ),
    (
        0,
        "服务一般，没有特别的印象。",
        "Service was average, nothing memorable.",
    ),
    (
        0,
        "功能够用，界面有点复杂。",
        "It does the job; the interface is a little complex.",
    ),
    (
        0,
        "响应速度还行，希望周末也有人值班。",
        "Response is okay; weekend cover would help.",
    ),
    (
        0,
        "中规中矩，和同类产品差不多。",
        "About the same as comparable products.",
    ),
    (
        0,
        "发票流程有点慢，其他都还好。",
        "Invoicing is slow, otherwise fine.",
    ),
    (
        0,
        "备件价格偏高，但质量可以。",
        "Spare parts are pricey but the quality is good.",
    ),
    (
        -1,
        "发货太慢，比承诺晚了两周，影响了我们的生产。",
        "Shipping was two weeks late and hurt our production.",
    ),
    (
        -1,
        "客服电话总是打不通，问题拖了一个月没解决。",
        "Support never picks up; our issue dragged on for a month.",
    ),
    (
        -1,
        "设备故障频繁，质量不稳定，非常失望。",
        "Frequent breakdowns and unstable quality. Very disappointed.",
    ),
    (
        -1,
        "价格涨得太多，不考虑续约了。",
        "The price rise is too steep; we will not renew.",
    ),
    (
        -1,
        "工程师态度很差，不专业。",
        "The engineer was rude and unprofessional.",
    ),
    (
        -1,
        "包装破损，配件缺失，退换货流程很麻烦。",
        "Damaged packaging, missing parts, and a painful return process.",
    ),
    (
        -1,
        "账单经常出错，对账浪费很多时间。",
        "Billing errors are constant and reconciling wastes hours.",
    ),
    (
        -1,
        "系统经常宕机，售后没有给出解决方案。",
        "The system keeps going down and after-sales has no fix.",
    ),
];

const RELATIONSHIP: &str = include_str!("../../../examples/survey.json");
const DELIVERY: &str = r#"{"slug": "delivery-csat", "title": {"zh": "交付满意度调查", "en": "Post-delivery survey"},
 "anonymous": false, "languages": ["zh", "en"], "questions": [
  {"id": "csat", "kind": "csat", "scale": 5, "required": true, "text": {"zh": "您对本次交付满意吗?", "en": "How satisfied are you with this delivery?"}},
  {"id": "product_quality", "kind": "rating", "scale": 5, "dimension": "product_quality", "text": {"zh": "产品质量", "en": "Product quality"}},
  {"id": "delivery_speed", "kind": "rating", "scale": 5, "dimension": "delivery_speed", "text": {"zh": "交付速度", "en": "Delivery speed"}},
  {"id": "packaging", "kind": "rating", "scale": 5, "dimension": "packaging", "text": {"zh": "包装", "en": "Packaging"}},
  {"id": "service_attitude", "kind": "rating", "scale": 5, "dimension": "service_attitude", "text": {"zh": "服务态度", "en": "Service attitude"}},
  {"id": "comment", "kind": "text", "text": {"zh": "还有什么想告诉我们的?", "en": "Anything else?"}}]}"#;
const SUPPORT: &str = r#"{"slug": "support-ces", "title": {"zh": "服务支持体验调查", "en": "Support experience survey"},
 "anonymous": false, "languages": ["zh", "en"], "questions": [
  {"id": "ces", "kind": "ces", "scale": 7, "direction": "higher_is_easier", "required": true, "text": {"zh": "解决问题有多容易?", "en": "How easy was it to get your issue resolved?"}},
  {"id": "response_speed", "kind": "rating", "scale": 5, "dimension": "response_speed", "text": {"zh": "响应速度", "en": "Response speed"}},
  {"id": "after_sales", "kind": "rating", "scale": 5, "dimension": "after_sales", "text": {"zh": "售后服务", "en": "After-sales service"}},
  {"id": "comment", "kind": "text", "text": {"zh": "请告诉我们原因", "en": "Tell us why"}}]}"#;

/// A response with the account and contact codes it is to be linked to.
type DemoResponse = (NewResponse, String, String);

struct DemoAccount {
    account: Account,
    region: usize,
    team: usize,
    product_line: &'static str,
    base: f64,
    contacts: Vec<String>,
}

/// The demo data, built in memory.
pub struct DemoData {
    accounts: Vec<DemoAccount>,
    contacts: Vec<Contact>,
    transactions: Vec<KeyedTransaction>,
    interactions: Vec<(String, Interaction)>,
    feedback: Vec<KeyedFeedback>,
    assessments: Vec<Assessment>,
    /// Responses per survey.
    surveys: Vec<(SurveyDefinition, Vec<DemoResponse>)>,
}

fn clamp_score(x: f64, lo: i64, hi: i64) -> i64 {
    (x.round() as i64).clamp(lo, hi)
}

/// Satisfaction of an account on a day: its base, its region and team, and a
/// slow drift (西南 gets worse in 2026, 华东 better).
fn satisfaction(a: &DemoAccount, day: Date) -> f64 {
    let t = f64::from(day.days() - Date::from_ymd(2024, 10, 1).map_or(0, Date::days)) / 730.0;
    let drift = match REGIONS[a.region].0 {
        "西南" => -0.5 * t,
        "华东" => 0.3 * t,
        _ => 0.0,
    };
    a.base + REGIONS[a.region].1 + TEAMS[a.team].1 + drift
}

pub fn generate(accounts: u32, seed: u64) -> DemoData {
    let mut rng = Rng(seed);
    let start = Date::from_ymd(2024, 10, 1).expect("valid");
    let end = Date::from_ymd(2026, 10, 31).expect("valid");
    let span = end.days() - start.days();
    let mut data = DemoData {
        accounts: Vec::new(),
        contacts: Vec::new(),
        transactions: Vec::new(),
        interactions: Vec::new(),
        feedback: Vec::new(),
        assessments: Vec::new(),
        surveys: Vec::new(),
    };

    for i in 0..accounts {
        let region = rng.below(REGIONS.len());
        let chinese = REGIONS[region].2;
        let name = if chinese {
            format!("{}{}", rng.pick(&ZH_PREFIX), rng.pick(&ZH_SUFFIX))
        } else {
            format!("{} {}", rng.pick(&EN_PREFIX), rng.pick(&EN_SUFFIX))
        };
        let tier = match rng.unit() {
            x if x < 0.12 => "key",
            x if x < 0.4 => "major",
            _ => "standard",
        };
        // About a fifth are new during the period, about one in eight is lost.
        let since = if rng.unit() < 0.2 {
            start.add_days(rng.below(span as usize / 2) as i32)
        } else {
            Date::from_ymd(
                2018 + rng.below(6) as i32,
                1 + rng.below(12) as u32,
                1 + rng.below(28) as u32,
            )
            .expect("valid")
        };
        let base = rng.normal() * 0.6;
        let until = (base + REGIONS[region].1 < -0.4 && rng.unit() < 0.6)
            .then(|| since.max(start).add_days(120 + rng.below(400) as i32))
            .filter(|d| *d < end);
        let team = if chinese { rng.below(4) } else { 4 };
        let code = format!("KA{:04}", i + 1);
        let mut contacts = Vec::new();
        for (k, role) in ContactRole::ALL
            .iter()
            .enumerate()
            .take(4 + usize::from(tier == "key") * 2)
        {
            let influence = match role {
                ContactRole::DecisionMaker => 0.9,
                ContactRole::Influencer => 0.7,
                ContactRole::TechnicalEvaluator => 0.6,
                ContactRole::Purchaser => 0.5,
                ContactRole::Gatekeeper => 0.4,
                ContactRole::User => 0.3,
            };
            let person = if chinese {
                format!(
                    "{}{}",
                    rng.pick(&SURNAMES),
                    ["经理", "总", "工", "主管"][k % 4]
                )
            } else {
                rng.pick(&EN_NAMES).to_string()
            };
            let contact_code = format!("{code}-P{}", k + 1);
            contacts.push(contact_code.clone());
            // Addresses under example.com (reserved, RFC 2606): the demo can
            // mail its people through a test SMTP sink and nobody real.
            let email = format!(
                "{}@{}.example.com",
                contact_code[7..].to_lowercase(),
                code.to_lowercase()
            );
            let phone = format!("+86 139{:08}", i as usize * 10 + k);
            let time_zone = match REGIONS[region].0 {
                "North America" => "America/New_York",
                "Europe" => "Europe/Berlin",
                _ => "Asia/Shanghai",
            };
            data.contacts.push(Contact {
                external_id: contact_code,
                account: code.clone(),
                name: person,
                role: Some(*role),
                influence,
                email: Some(email),
                phone: Some(phone),
                time_zone: Some(time_zone.to_string()),
            });
        }
        data.accounts.push(DemoAccount {
            account: Account {
                external_id: code,
                name,
                industry: Some(rng.pick(&INDUSTRIES).to_string()),
                region: Some(REGIONS[region].0.to_string()),
                tier: Some(tier.to_string()),
                sales_team: Some(TEAMS[team].0.to_string()),
                owner: Some(format!(
                    "{}{}",
                    rng.pick(&SURNAMES),
                    rng.pick(&["伟", "芳", "磊", "静", "强", "敏"])
                )),
                since: Some(since),
                until,
            },
            region,
            team,
            product_line: PRODUCT_LINES[rng.below(PRODUCT_LINES.len())],
            base,
            contacts,
        });
    }

    // Transactions: weekly chance of an order, seasonal (Q4 up, February down).
    let mut seq = 0_u64;
    for a in &data.accounts {
        let first = a.account.since.map_or(start, |s| s.max(start));
        let last = a.account.until.unwrap_or(end);
        let tier_rate = match a.account.tier.as_deref() {
            Some("key") => 0.55,
            Some("major") => 0.3,
            _ => 0.12,
        };
        let size = match a.account.tier.as_deref() {
            Some("key") => 180_000.0,
            Some("major") => 60_000.0,
            _ => 15_000.0,
        };
        let mut day = first;
        while day <= last {
            let (_, month, _) = day.ymd();
            let season = match month {
                10..=12 => 1.35,
                2 => 0.5,
                _ => 1.0,
            };
            let loyalty = (1.0 + satisfaction(a, day) * 0.3).max(0.3);
            if rng.unit() < tier_rate * season * loyalty {
                seq += 1;
                let amount = size * (0.4 + rng.unit() * 1.2);
                data.transactions.push(KeyedTransaction {
                    key: format!("demo:{seed}:{seq}"),
                    transaction: Transaction {
                        external_id: Some(format!("SO{seq:07}")),
                        customer: a.account.external_id.clone(),
                        date: day.add_days(rng.below(7) as i32),
                        amount_minor: (amount * 100.0).round() as i64,
                        currency: if REGIONS[a.region].2 { "CNY" } else { "USD" }.into(),
                        product_line: Some(
                            if rng.unit() < 0.7 {
                                a.product_line
                            } else {
                                *rng.pick(&PRODUCT_LINES)
                            }
                            .to_string(),
                        ),
                    },
                });
            }
            day = day.add_days(7);
        }
    }

    // Surveys.
    let relationship: SurveyDefinition = serde_json::from_str(RELATIONSHIP).expect("valid survey");
    let delivery: SurveyDefinition = serde_json::from_str(DELIVERY).expect("valid survey");
    let support: SurveyDefinition = serde_json::from_str(SUPPORT).expect("valid survey");
    let mut survey_rows: [Vec<DemoResponse>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let targets = [2600, 1800, 1200];
    for (s, target) in targets.iter().enumerate() {
        let mut made = 0;
        let mut guard = 0;
        while made < *target && guard < target * 20 {
            guard += 1;
            let a = &data.accounts[rng.below(data.accounts.len())];
            let first = a.account.since.map_or(start, |d| d.max(start));
            let last = a.account.until.unwrap_or(end);
            if last <= first {
                continue;
            }
            let day = first.add_days(rng.below((last.days() - first.days()) as usize) as i32);
            let sat = satisfaction(a, day) + rng.normal() * 0.7;
            let chinese = REGIONS[a.region].2 && rng.unit() < 0.9;
            let contact = rng.pick(&a.contacts).clone();
            let dim = |rng: &mut Rng, shift: f64| {
                clamp_score(3.6 + sat * 0.9 + shift + rng.normal() * 0.6, 1, 5)
            };
            let mut answers = Vec::new();
            let polarity: i8;
            match s {
                0 => {
                    let nps = clamp_score(7.4 + sat * 2.2 + rng.normal() * 1.2, 0, 10);
                    polarity = if nps >= 9 {
                        1
                    } else if nps >= 7 {
                        0
                    } else {
                        -1
                    };
                    answers.push(("nps".to_string(), AnswerValue::Score(nps)));
                    answers.push(("csat".into(), AnswerValue::Score(dim(&mut rng, 0.1))));
                    answers.push((
                        "ces".into(),
                        AnswerValue::Score(clamp_score(5.0 + sat * 1.3 + rng.normal(), 1, 7)),
                    ));
                    for (q, shift) in [
                        ("product_quality", 0.3),
                        ("service_attitude", 0.1),
                        ("response_speed", -0.2),
                        ("delivery_speed", -0.1),
                        ("price", -0.5),
                    ] {
                        if rng.unit() < 0.97 {
                            answers.push((q.into(), AnswerValue::Score(dim(&mut rng, shift))));
                        }
                    }
                }
                1 => {
                    let csat = dim(&mut rng, 0.1);
                    polarity = if csat >= 4 {
                        1
                    } else if csat == 3 {
                        0
                    } else {
                        -1
                    };
                    answers.push(("csat".into(), AnswerValue::Score(csat)));
                    for (q, shift) in [
                        ("product_quality", 0.3),
                        ("delivery_speed", -0.2),
                        ("packaging", 0.2),
                        ("service_attitude", 0.0),
                    ] {
                        answers.push((q.into(), AnswerValue::Score(dim(&mut rng, shift))));
                    }
                }
                _ => {
                    let ces = clamp_score(4.8 + sat * 1.4 + rng.normal(), 1, 7);
                    polarity = if ces >= 6 {
                        1
                    } else if ces >= 4 {
                        0
                    } else {
                        -1
                    };
                    answers.push(("ces".into(), AnswerValue::Score(ces)));
                    answers.push((
                        "response_speed".into(),
                        AnswerValue::Score(dim(&mut rng, -0.3)),
                    ));
                    answers.push(("after_sales".into(), AnswerValue::Score(dim(&mut rng, 0.0))));
                }
            }
            if rng.unit() < 0.65 {
                let pool: Vec<&(i8, &str, &str)> =
                    COMMENTS.iter().filter(|c| c.0 == polarity).collect();
                let c = rng.pick(&pool);
                answers.push((
                    "comment".into(),
                    AnswerValue::Text(if chinese { c.1 } else { c.2 }.to_string()),
                ));
            }
            let mut metadata = serde_json::Map::new();
            metadata.insert("region".into(), REGIONS[a.region].0.into());
            metadata.insert("product_line".into(), a.product_line.into());
            metadata.insert("sales_team".into(), TEAMS[a.team].0.into());
            if let Some(t) = &a.account.tier {
                metadata.insert("tier".into(), t.clone().into());
            }
            let hour = 8 + rng.below(11);
            let minute = rng.below(60);
            let channel = *rng.pick(&["web", "web", "email", "phone", "in_person", "app"]);
            survey_rows[s].push((
                NewResponse {
                    dedupe_key: format!("demo:{seed}:{s}:{made}"),
                    submitted_at: format!("{day}T{hour:02}:{minute:02}:00Z"),
                    submitted_on: day,
                    channel: channel.into(),
                    language: Some(if chinese { "zh" } else { "en" }.into()),
                    account: None,
                    contact: None,
                    metadata,
                    answers,
                },
                a.account.external_id.clone(),
                contact,
            ));
            made += 1;

            // Detractors and unhappy customers complain; some get a visit.
            if polarity < 0 && rng.unit() < 0.25 {
                let c = rng.pick(&COMMENTS[16..]);
                let text = if chinese { c.1 } else { c.2 };
                data.feedback.push(KeyedFeedback {
                    key: format!("demo:{seed}:complaint:{}", data.feedback.len()),
                    item: FeedbackItem {
                        account: Some(a.account.external_id.clone()),
                        source: FeedbackSource::Complaint,
                        date: day.add_days(rng.below(5) as i32),
                        text: text.to_string(),
                    },
                });
                data.interactions.push((
                    format!("demo:{seed}:interaction:{}", data.interactions.len()),
                    Interaction {
                        customer: a.account.external_id.clone(),
                        kind: InteractionKind::Complaint,
                        date: day,
                        note: Some(text.to_string()),
                    },
                ));
            }
        }
    }
    data.surveys = vec![
        (relationship, std::mem::take(&mut survey_rows[0])),
        (delivery, std::mem::take(&mut survey_rows[1])),
        (support, std::mem::take(&mut survey_rows[2])),
    ];

    // Visits, calls, trainings; reviews; quarterly assessments of key accounts' people.
    for a in &data.accounts {
        let visits = match a.account.tier.as_deref() {
            Some("key") => 10,
            Some("major") => 5,
            _ => 2,
        };
        for _ in 0..visits {
            let day = start.add_days(rng.below(span as usize) as i32);
            let kind = *rng.pick(&[
                InteractionKind::Visit,
                InteractionKind::Call,
                InteractionKind::Call,
                InteractionKind::Training,
                InteractionKind::Event,
                InteractionKind::SupportTicket,
            ]);
            data.interactions.push((
                format!("demo:{seed}:interaction:{}", data.interactions.len()),
                Interaction {
                    customer: a.account.external_id.clone(),
                    kind,
                    date: day,
                    note: None,
                },
            ));
        }
        if rng.unit() < 0.3 {
            let sat = satisfaction(a, end);
            let polarity = if sat > 0.3 {
                1
            } else if sat > -0.3 {
                0
            } else {
                -1
            };
            let pool: Vec<&(i8, &str, &str)> =
                COMMENTS.iter().filter(|c| c.0 == polarity).collect();
            let c = rng.pick(&pool);
            data.feedback.push(KeyedFeedback {
                key: format!("demo:{seed}:review:{}", data.feedback.len()),
                item: FeedbackItem {
                    account: Some(a.account.external_id.clone()),
                    source: *rng.pick(&[
                        FeedbackSource::Review,
                        FeedbackSource::Interview,
                        FeedbackSource::SocialMedia,
                    ]),
                    date: start.add_days(rng.below(span as usize) as i32),
                    text: if REGIONS[a.region].2 { c.1 } else { c.2 }.to_string(),
                },
            });
        }
        if a.account.tier.as_deref() == Some("key") {
            let mut period = Period::of(
                Date::from_ymd(2025, 1, 1).expect("valid"),
                Interval::Quarter,
            );
            let last = Period::of(
                Date::from_ymd(2026, 9, 30).expect("valid"),
                Interval::Quarter,
            );
            let mut periods = Vec::new();
            while period <= last {
                periods.push(period);
                period = match period {
                    Period::Quarter(y, 4) => Period::Quarter(y + 1, 1),
                    Period::Quarter(y, q) => Period::Quarter(y, q + 1),
                    other => other,
                };
            }
            for p in periods {
                let Period::Quarter(y, q) = p else { continue };
                let mid = Date::from_ymd(y, q * 3 - 1, 15).expect("valid");
                if a.account.until.is_some_and(|u| u < mid) {
                    continue;
                }
                for contact in &a.contacts {
                    let sat = satisfaction(a, mid);
                    let mut ratings = [None; 7];
                    for r in ratings.iter_mut() {
                        *r = Some(clamp_score(sat * 1.4 + rng.normal() * 0.8, -2, 2) as i8);
                    }
                    data.assessments.push(Assessment {
                        contact: contact.clone(),
                        period: p.to_string(),
                        ratings,
                    });
                }
            }
        }
    }
    data
}

/// Runs `cxscore demo`.
pub fn run(args: &DemoArgs, db: &str, format: OutputFormat) -> Result<(), Failure> {
    let data = generate(args.accounts, args.seed);
    block_on(async {
        let store = cx_store::open(db).await.map_err(store_failure)?;
        fill(&store, data).await.map_err(store_failure)?;
        seed_tasks(&store, args.seed).await.map_err(store_failure)?;
        let counts = store.table_counts().await.map_err(store_failure)?;
        let mut out = std::io::stdout().lock();
        let result = match format {
            OutputFormat::Json => {
                let map: serde_json::Map<String, serde_json::Value> =
                    counts.0.iter().map(|(t, n)| (t.to_string(), (*n).into())).collect();
                writeln!(out, "{}", serde_json::Value::Object(map))
            }
            _ => {
                writeln!(out, "demo data in {} (seed {}):", cx_store::redact(db), args.seed)
                    .and_then(|_| counts.0.iter().try_for_each(|(t, n)| writeln!(out, "  {t:<13} {n}")))
                    .and_then(|_| writeln!(out, "try: cxscore metrics --survey relationship-2026 --by region --interval quarter --compare previous"))
            }
        };
        result.map_err(Failure::runtime)
    })
}

/// Follow-up tasks as a team would have them at the end of the demo period:
/// the close-the-loop rules run over the last 30 days of responses as they
/// arrived; older tasks mostly resolved (with a note and a resolution),
/// recent ones open, some overdue. Deterministic per seed; a second run adds
/// nothing (tasks are keyed by response).
pub async fn seed_tasks(
    store: &cx_store::AnyStore,
    seed: u64,
) -> Result<u64, cx_store::StoreError> {
    use cx_core::period::parse_timestamp;
    use cx_server::followup::{self, LoopConfig, SurveyCache};
    use cx_store::followup::{FollowUpStore, TaskChange};
    let mut rng = Rng(seed ^ 0x7A5C);
    let end = i64::from(Date::from_ymd(2026, 10, 31).expect("valid").days() + 1) * 86_400;
    let config = LoopConfig::default();
    let rules = followup::current_rules(store).await?;
    let mut surveys = SurveyCache::default();
    // Start where the loop stands (a second `demo` run opens nothing twice).
    let mut cursor = store
        .setting("loop_cursor")
        .await?
        .and_then(|c| c.parse::<i64>().ok())
        .unwrap_or(0);
    let mut opened = 0;
    loop {
        let batch = store.responses_for_loop(cursor, 2000).await?;
        let Some(last) = batch.last().map(|r| r.id) else {
            break;
        };
        let previous = std::mem::replace(&mut cursor, last);
        let mut tasks = Vec::new();
        for r in &batch {
            let Some(at) = parse_timestamp(&r.submitted_at) else {
                continue;
            };
            if end - at > 30 * 86_400 || r.account.is_none() {
                continue;
            }
            let def = surveys.get(store, r.survey_id).await?;
            if def.anonymous {
                continue;
            }
            let signal = followup::signal_of(r, &def, at);
            if let Some(plan) = cx_core::account::rules::evaluate(&signal, &rules) {
                let mut task = followup::new_task(r, &def, &plan, &config, at);
                task.event = None;
                tasks.push(task);
            }
        }
        let ids = store
            .open_tasks(&tasks, &[], Some((previous, last)), &[])
            .await?;
        for (task, id) in tasks.iter().zip(ids) {
            let Some(id) = id else { continue };
            opened += 1;
            let age_days = (end - task.created) / 86_400;
            let roll = rng.unit();
            let first = task.created + 3600 * (1 + rng.below(30) as i64);
            let author = task.owner.clone().unwrap_or_else(|| "demo".into());
            let change =
                |status: &str, note: Option<&str>, resolution: Option<&str>, now| TaskChange {
                    status: Some(status.to_string()),
                    owner: None,
                    note: note.map(str::to_string),
                    resolution: resolution.map(str::to_string),
                    author: author.clone(),
                    now,
                    app: None,
                };
            if age_days >= 5 && roll < 0.75 {
                store
                    .update_task(
                        id,
                        &change("in_progress", Some("已联系客户，了解问题经过"), None, first),
                    )
                    .await?;
                let done = first + 3600 * (2 + rng.below(70) as i64);
                let resolution = *rng.pick(&[
                    "补发货物并致歉",
                    "安排工程师上门处理",
                    "调整交付计划，每周同步进度",
                    "Refunded the order and apologised",
                    "Escalated to product; workaround agreed",
                ]);
                store
                    .update_task(
                        id,
                        &change("resolved", None, Some(resolution), done.min(end)),
                    )
                    .await?;
            } else if roll < 0.85 {
                store
                    .update_task(
                        id,
                        &change("waiting", Some("等待客户回复"), None, first.min(end)),
                    )
                    .await?;
            }
        }
    }
    Ok(opened)
}

/// Writes the data; what is already there (same seed) is skipped.
pub async fn fill<S: Store>(store: &S, data: DemoData) -> Result<(), cx_store::StoreError> {
    let accounts: Vec<Account> = data.accounts.iter().map(|a| a.account.clone()).collect();
    for chunk in accounts.chunks(1000) {
        store.insert_accounts(chunk).await?;
    }
    let codes: Vec<String> = accounts.iter().map(|a| a.external_id.clone()).collect();
    let account_ids = store.account_ids(&codes).await?;
    let contacts: Vec<(AccountId, Contact)> = data
        .contacts
        .iter()
        .filter_map(|c| account_ids.get(&c.account).map(|id| (*id, c.clone())))
        .collect();
    for chunk in contacts.chunks(1000) {
        store.insert_contacts(chunk).await?;
    }
    let contact_codes: Vec<String> = data
        .contacts
        .iter()
        .map(|c| c.external_id.clone())
        .collect();
    let contact_ids = store.contact_ids(&contact_codes).await?;
    for chunk in data.transactions.chunks(5000) {
        store.insert_transactions(chunk).await?;
    }
    for chunk in data.interactions.chunks(2000) {
        store.insert_interactions(chunk).await?;
    }
    for chunk in data.feedback.chunks(2000) {
        store.insert_feedback(chunk).await?;
    }
    let assessments: Vec<(ContactId, Assessment)> = data
        .assessments
        .iter()
        .filter_map(|a| contact_ids.get(&a.contact).map(|id| (*id, a.clone())))
        .collect();
    for chunk in assessments.chunks(2000) {
        store.insert_assessments(chunk).await?;
    }
    for (definition, rows) in data.surveys {
        let id = match store.create_survey(&definition).await {
            Ok(id) => id,
            Err(cx_store::StoreError::Conflict(_)) => store.survey(&definition.slug).await?.id,
            Err(e) => return Err(e),
        };
        let responses: Vec<NewResponse> = rows
            .into_iter()
            .map(|(mut r, account, contact)| {
                r.account = account_ids.get(&account).copied();
                r.contact = contact_ids.get(&contact).copied();
                r
            })
            .collect();
        for chunk in responses.chunks(2000) {
            store.insert_responses(id, chunk).await?;
        }
    }
    Ok(())
}
