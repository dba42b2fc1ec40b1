//! Dashboard pages beyond the overview: drivers (`/app/drivers`) and feedback
//! (`/app/feedback`). Polarity comes from the rating in the same response until
//! text analysis lands: NPS 0–6 negative, 7–8 neutral, 9–10 positive; on other
//! scales the lowest two-fifths negative, the top two-fifths positive.

use askama::Template;
use cx_core::model::survey::{QuestionKind, SurveyDefinition};
use cx_core::period::Date;
use cx_core::survey::drivers::{Quadrant, quadrants, relative_weights};
use cx_store::server::{ServerStore, VerbatimQuery};
use cx_store::{AnyStore, ResponseSlice, Store, StoredSurvey};

use crate::dashboard::ViewParams;
use crate::error::ApiError;
use crate::svg::importance_performance;

/// Newest responses used for driver analysis.
pub const DRIVER_ROWS: i64 = 20_000;
/// Verbatims per page.
pub const PAGE: i64 = 50;

/// Texts of these pages.
pub struct Texts {
    pub(crate) tag: &'static str,
    pub(crate) overview: &'static str,
    pub(crate) drivers: &'static str,
    pub(crate) feedback: &'static str,
    pub(crate) accounts: &'static str,
    pub(crate) surveys: &'static str,
    pub(crate) sign_out: &'static str,
    pub(crate) target: &'static str,
    pub(crate) importance: &'static str,
    pub(crate) performance: &'static str,
    pub(crate) fix_first: &'static str,
    pub(crate) aspect: &'static str,
    pub(crate) weight: &'static str,
    pub(crate) share: &'static str,
    pub(crate) mean: &'static str,
    pub(crate) quadrant: &'static str,
    pub(crate) explained: &'static str,
    pub(crate) search: &'static str,
    pub(crate) polarity: &'static str,
    pub(crate) all: &'static str,
    pub(crate) positive: &'static str,
    pub(crate) neutral: &'static str,
    pub(crate) negative: &'static str,
    pub(crate) unrated: &'static str,
    pub(crate) rating: &'static str,
    pub(crate) account: &'static str,
    pub(crate) date: &'static str,
    pub(crate) apply: &'static str,
    pub(crate) newer: &'static str,
    pub(crate) older: &'static str,
    pub(crate) no_text: &'static str,
    pub(crate) matching: &'static str,
    pub(crate) from_ratings: &'static str,
    pub(crate) text_sentiment: &'static str,
    pub(crate) topics: &'static str,
    pub(crate) mentions: &'static str,
    pub(crate) from_text: &'static str,
    pub(crate) tasks: &'static str,
    pub(crate) scorecard: &'static str,
    pub(crate) programmes: &'static str,
}

const ZH: Texts = Texts {
    tag: "zh-CN",
    overview: "总览",
    drivers: "驱动因素",
    feedback: "反馈",
    accounts: "客户",
    surveys: "问卷",
    sign_out: "退出",
    target: "结果指标",
    importance: "重要性（占 R² 的 %）",
    performance: "表现（指数 0–100）",
    fix_first: "优先改进",
    aspect: "方面",
    weight: "相对权重",
    share: "占比 %",
    mean: "平均分",
    quadrant: "象限",
    explained: "模型解释度 R²",
    search: "搜索",
    polarity: "倾向",
    all: "全部",
    positive: "正面",
    neutral: "中性",
    negative: "负面",
    unrated: "未评分",
    rating: "评分",
    account: "客户",
    date: "日期",
    apply: "应用",
    newer: "← 较新",
    older: "较早 →",
    no_text: "没有符合条件的文字反馈。",
    matching: "条符合条件",
    from_ratings: "倾向按同一回答中的评分判断（NPS 0–6 负面，7–8 中性，9–10 正面）。",
    text_sentiment: "文本情感",
    topics: "主题",
    mentions: "提及",
    from_text: "文本情感与主题来自内置的离线文本分析（中文、英文），统计最近的评论；每个主题按提到它的那句话判断正负。",
    tasks: "跟进任务",
    scorecard: "评分卡",
    programmes: "问卷计划",
};

const EN: Texts = Texts {
    tag: "en",
    overview: "Overview",
    drivers: "Drivers",
    feedback: "Feedback",
    accounts: "Accounts",
    surveys: "Surveys",
    sign_out: "Sign out",
    target: "Outcome",
    importance: "Importance (% of R²)",
    performance: "Performance (index 0–100)",
    fix_first: "fix first",
    aspect: "Aspect",
    weight: "Relative weight",
    share: "Share %",
    mean: "Mean",
    quadrant: "Quadrant",
    explained: "Variance explained R²",
    search: "Search",
    polarity: "Polarity",
    all: "all",
    positive: "positive",
    neutral: "neutral",
    negative: "negative",
    unrated: "no rating",
    rating: "Rating",
    account: "Account",
    date: "Date",
    apply: "Apply",
    newer: "← newer",
    older: "older →",
    no_text: "No comments match.",
    matching: "matching",
    from_ratings: "Polarity comes from the rating in the same response (NPS 0–6 negative, 7–8 neutral, 9–10 positive).",
    text_sentiment: "Text sentiment",
    topics: "Topics",
    mentions: "Mentions",
    from_text: "Text sentiment and topics come from the built-in offline text analysis (Chinese and English) of the latest comments; each topic is judged by the sentence that mentions it.",
    tasks: "Tasks",
    scorecard: "Scorecard",
    programmes: "Programmes",
};

pub(crate) fn texts(lang: &str) -> &'static Texts {
    if lang.starts_with("zh") { &ZH } else { &EN }
}

/// Shared page chrome.
pub struct Chrome {
    pub(crate) csrf: String,
    pub(crate) username: String,
    pub(crate) title: String,
    pub(crate) query: String,
}

/// One aspect's driver figures.
pub struct DriverRow {
    name: String,
    weight: String,
    share: String,
    mean: String,
    quadrant: String,
    fix: bool,
}

/// `/app/drivers`.
#[derive(Template)]
#[template(path = "drivers.html")]
pub struct DriversPage {
    t: &'static Texts,
    c: Chrome,
    target: String,
    n: usize,
    r_squared: String,
    rows: Vec<DriverRow>,
    chart: String,
    message: String,
}

/// A verbatim as shown.
pub struct Item {
    date: String,
    score: String,
    polarity: &'static str,
    polarity_label: &'static str,
    account: String,
    region: String,
    text: String,
    sentiment: &'static str,
    sentiment_label: &'static str,
    topics: Vec<(String, &'static str)>,
}

/// A topic's counts on the feedback page.
pub struct TopicRow {
    label: String,
    mentions: u64,
    negative: String,
    positive: String,
}

/// `/app/feedback`.
#[derive(Template)]
#[template(path = "feedback.html")]
pub struct FeedbackPage {
    t: &'static Texts,
    c: Chrome,
    search: String,
    polarity: String,
    shares: Vec<(&'static str, &'static str, u64, String)>,
    text_shares: Vec<(&'static str, &'static str, u64, String)>,
    analysed: u64,
    topic_rows: Vec<TopicRow>,
    total: u64,
    items: Vec<Item>,
    newer: String,
    older: String,
    hidden: Vec<(String, String)>,
}

fn day(text: &Option<String>) -> Option<i32> {
    text.as_deref().and_then(Date::parse).map(Date::days)
}

fn slice(survey: &StoredSurvey, params: &ViewParams) -> ResponseSlice {
    let mut filters: Vec<(String, Vec<String>)> = Vec::new();
    for (k, v) in &params.filters {
        match filters.iter_mut().find(|(f, _)| f == k) {
            Some((_, values)) => values.push(v.clone()),
            None => filters.push((k.clone(), vec![v.clone()])),
        }
    }
    ResponseSlice {
        survey: survey.id,
        by: Vec::new(),
        filters,
        collapse: None,
    }
}

async fn chosen(store: &AnyStore, params: &ViewParams) -> Result<Option<StoredSurvey>, ApiError> {
    Ok(match &params.survey {
        Some(key) => Some(store.survey(key).await?),
        None => store.surveys().await?.into_iter().next(),
    })
}

pub(crate) fn chrome(
    survey: Option<&StoredSurvey>,
    lang: &str,
    csrf: &str,
    username: &str,
    params: &ViewParams,
) -> Chrome {
    Chrome {
        csrf: csrf.into(),
        username: username.into(),
        title: survey
            .map(|s| s.definition.title.get(lang).to_string())
            .unwrap_or_default(),
        query: params.query(None),
    }
}

/// The outcome question: `target` if given, else the NPS question, else CSAT.
fn target_question(d: &SurveyDefinition, target: Option<&str>) -> Option<String> {
    match target {
        Some(t) => d
            .question(t)
            .filter(|q| q.rating_scale().is_some())
            .map(|q| q.id.clone()),
        None => d
            .first_of(QuestionKind::Nps)
            .or_else(|| d.first_of(QuestionKind::Csat))
            .map(|q| q.id.clone()),
    }
}

/// Builds the drivers page.
pub async fn drivers(
    store: &AnyStore,
    params: &ViewParams,
    target: Option<&str>,
    lang: &str,
    csrf: &str,
    username: &str,
) -> Result<DriversPage, ApiError> {
    let t = texts(lang);
    let survey = chosen(store, params).await?;
    let mut page = DriversPage {
        t,
        c: chrome(survey.as_ref(), lang, csrf, username, params),
        target: String::new(),
        n: 0,
        r_squared: String::new(),
        rows: Vec::new(),
        chart: String::new(),
        message: String::new(),
    };
    let Some(survey) = survey else {
        return Ok(page);
    };
    let d = &survey.definition;
    let Some(target) = target_question(d, target) else {
        page.message = if lang.starts_with("zh") {
            "这份问卷没有可解释的 NPS 或 CSAT 问题。".into()
        } else {
            "the survey has no NPS or CSAT question to explain".into()
        };
        return Ok(page);
    };
    page.target = target.clone();
    let dims: Vec<&cx_core::model::survey::Question> = d
        .questions
        .iter()
        .filter(|q| q.kind == QuestionKind::Rating && q.id != target)
        .collect();
    let mut questions = vec![target.clone()];
    questions.extend(dims.iter().map(|q| q.id.clone()));
    let matrix = store
        .answer_matrix(
            &slice(&survey, params),
            (day(&params.from), day(&params.to)),
            &questions,
            DRIVER_ROWS,
        )
        .await?;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for row in matrix {
        if let Some(values) = row.iter().copied().collect::<Option<Vec<i64>>>() {
            y.push(values[0] as f64);
            x.push(values[1..].iter().map(|v| *v as f64).collect::<Vec<f64>>());
        }
    }
    let weights = match relative_weights(&x, &y) {
        Ok(w) => w,
        Err(e) => {
            use cx_core::survey::drivers::DriverError;
            page.message = match (&e, lang.starts_with("zh")) {
                (DriverError::TooFew { n, needed }, true) => {
                    format!("只有 {n} 份回答包含全部评分；驱动因素分析至少需要 {needed} 份。")
                }
                (DriverError::Constant(_), true) => "有评分在所有回答中都相同，无法分析。".into(),
                (DriverError::Collinear, true) => {
                    "有两个方面的评分完全相关，请去掉其中一个。".into()
                }
                _ => e.to_string(),
            };
            return Ok(page);
        }
    };
    let names: Vec<String> = dims
        .iter()
        .map(|q| q.dimension.clone().unwrap_or_else(|| q.id.clone()))
        .collect();
    let index: Vec<f64> = dims
        .iter()
        .enumerate()
        .map(|(j, q)| {
            let mean = x.iter().map(|r| r[j]).sum::<f64>() / x.len() as f64;
            let s = q
                .rating_scale()
                .map(|s| (f64::from(s.min), f64::from(s.max)))
                .unwrap_or((1.0, 5.0));
            100.0 * (mean - s.0) / (s.1 - s.0)
        })
        .collect();
    let quads = quadrants(&weights.weights, &index);
    page.n = weights.n;
    page.r_squared = format!("{:.3}", weights.r_squared);
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|a, b| weights.weights[*b].total_cmp(&weights.weights[*a]));
    page.rows = order
        .iter()
        .map(|&j| DriverRow {
            name: names[j].clone(),
            weight: format!("{:.4}", weights.weights[j]),
            share: format!("{:.1}", weights.shares_pct[j]),
            mean: format!(
                "{:.2}",
                x.iter().map(|r| r[j]).sum::<f64>() / x.len() as f64
            ),
            quadrant: quads[j].label(lang).to_string(),
            fix: quads[j] == Quadrant::FixFirst,
        })
        .collect();
    let points: Vec<(String, f64, f64, bool)> = (0..names.len())
        .map(|j| {
            (
                names[j].clone(),
                weights.shares_pct[j],
                index[j],
                quads[j] == Quadrant::FixFirst,
            )
        })
        .collect();
    page.chart = importance_performance(&points, t.importance, t.performance, t.fix_first);
    Ok(page)
}

/// The polarity of a score on `(min, max)`: NPS-style thresholds on 0–10,
/// two-fifths at each end elsewhere.
pub fn polarity_range(scale: (i64, i64), polarity: &str) -> Option<(i64, i64)> {
    let (lo, hi) = scale;
    let (neg_max, pos_min) = if (lo, hi) == (0, 10) {
        (6, 9)
    } else {
        let span = (hi - lo) as f64;
        (
            (lo as f64 + span * 0.4).floor() as i64,
            (hi as f64 - span * 0.4).ceil() as i64,
        )
    };
    match polarity {
        "negative" => Some((lo, neg_max)),
        "neutral" => Some((neg_max + 1, pos_min - 1)),
        "positive" => Some((pos_min, hi)),
        _ => None,
    }
}

/// Builds the feedback page.
#[allow(clippy::too_many_arguments)]
pub async fn feedback(
    store: &AnyStore,
    params: &ViewParams,
    search: Option<String>,
    polarity: Option<String>,
    page_no: i64,
    lang: &str,
    csrf: &str,
    username: &str,
) -> Result<FeedbackPage, ApiError> {
    let t = texts(lang);
    let survey = chosen(store, params).await?;
    let mut hidden: Vec<(String, String)> = params
        .query(None)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let decode = |s: &str| {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            (k.to_string(), decode(v))
        })
        .filter(|(k, _)| k != "sort")
        .collect();
    hidden.push(("lang".into(), lang.into()));
    let mut page = FeedbackPage {
        t,
        c: chrome(survey.as_ref(), lang, csrf, username, params),
        search: search.clone().unwrap_or_default(),
        polarity: polarity.clone().unwrap_or_default(),
        shares: Vec::new(),
        text_shares: Vec::new(),
        analysed: 0,
        topic_rows: Vec::new(),
        total: 0,
        items: Vec::new(),
        newer: String::new(),
        older: String::new(),
        hidden,
    };
    let Some(survey) = survey else {
        return Ok(page);
    };
    let d = &survey.definition;
    let Some(text_q) = d.first_of(QuestionKind::Text) else {
        return Ok(page);
    };
    let score_q = target_question(d, None);
    let scale = score_q
        .as_deref()
        .and_then(|q| d.question(q))
        .and_then(|q| q.rating_scale())
        .map(|s| (i64::from(s.min), i64::from(s.max)))
        .unwrap_or((0, 10));
    let mut vq = VerbatimQuery {
        slice: slice(&survey, params),
        days: (day(&params.from), day(&params.to)),
        text_question: text_q.id.clone(),
        score_question: score_q,
        search,
        scores: None,
    };
    // Shares over everything that matches the search and filters.
    let counts = store.verbatim_scores(&vq).await?;
    let mut tally = [0u64; 4];
    for (score, n) in counts {
        let slot = match score {
            None => 3,
            Some(s)
                if polarity_range(scale, "negative").is_some_and(|(a, b)| (a..=b).contains(&s)) =>
            {
                2
            }
            Some(s)
                if polarity_range(scale, "positive").is_some_and(|(a, b)| (a..=b).contains(&s)) =>
            {
                0
            }
            Some(_) => 1,
        };
        tally[slot] += n;
    }
    page.shares = polarity_shares(t, [tally[0], tally[1], tally[2]]);
    // Text analysis of the newest matching comments: polarity and topics.
    let analyses = store.verbatim_analyses(&vq, ANALYSED).await?;
    let mut text_tally = [0u64; 3];
    let mut topics: Vec<(String, [u64; 3])> = Vec::new();
    for (sentiment, topic_json) in &analyses {
        if let Some(i) = sentiment.and_then(polarity_slot) {
            text_tally[i] += 1;
        }
        for (topic, polarity) in parse_topics(topic_json.as_deref()) {
            let Some(i) = polarity_slot(polarity) else {
                continue;
            };
            match topics.iter_mut().find(|(id, _)| *id == topic) {
                Some((_, c)) => c[i] += 1,
                None => {
                    let mut c = [0; 3];
                    c[i] = 1;
                    topics.push((topic, c));
                }
            }
        }
    }
    page.analysed = text_tally.iter().sum();
    page.text_shares = polarity_shares(t, text_tally);
    topics.sort_by(|a, b| {
        b.1[2]
            .cmp(&a.1[2])
            .then(b.1.iter().sum::<u64>().cmp(&a.1.iter().sum()))
            .then(a.0.cmp(&b.0))
    });
    page.topic_rows = topics
        .into_iter()
        .map(|(topic, c)| {
            let n: u64 = c.iter().sum();
            TopicRow {
                label: topic_label(&topic, lang),
                mentions: n,
                negative: share_text(c[2], n),
                positive: share_text(c[0], n),
            }
        })
        .collect();
    vq.scores = polarity.as_deref().and_then(|p| polarity_range(scale, p));
    let offset = page_no.max(0) * PAGE;
    let (list, total) = store.verbatims(&vq, PAGE, offset).await?;
    page.total = total;
    let label = |s: Option<i64>| -> (&'static str, &'static str) {
        match s {
            None => ("unrated", t.unrated),
            Some(s)
                if polarity_range(scale, "negative").is_some_and(|(a, b)| (a..=b).contains(&s)) =>
            {
                ("negative", t.negative)
            }
            Some(s)
                if polarity_range(scale, "positive").is_some_and(|(a, b)| (a..=b).contains(&s)) =>
            {
                ("positive", t.positive)
            }
            Some(_) => ("neutral", t.neutral),
        }
    };
    page.items = list
        .into_iter()
        .map(|v| {
            let (polarity, polarity_label) = label(v.score);
            let (sentiment, sentiment_label) = match v.sentiment {
                Some(1) => ("positive", t.positive),
                Some(0) => ("neutral", t.neutral),
                Some(-1) => ("negative", t.negative),
                _ => ("unrated", "—"),
            };
            let topics = parse_topics(v.topics.as_deref())
                .into_iter()
                .map(|(topic, p)| {
                    let class = match p {
                        1 => "positive",
                        -1 => "negative",
                        _ => "neutral",
                    };
                    (topic_label(&topic, lang), class)
                })
                .collect();
            Item {
                sentiment,
                sentiment_label,
                topics,
                date: v.submitted_at.chars().take(10).collect(),
                score: v.score.map(|s| s.to_string()).unwrap_or_else(|| "—".into()),
                polarity,
                polarity_label,
                account: v.account.unwrap_or_default(),
                region: v.region,
                text: v.text,
            }
        })
        .collect();
    let link = |p: i64| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &page.hidden {
            q.append_pair(k, v);
        }
        if !page.search.is_empty() {
            q.append_pair("q", &page.search);
        }
        if !page.polarity.is_empty() {
            q.append_pair("polarity", &page.polarity);
        }
        q.append_pair("page", &p.to_string());
        format!("/app/feedback?{}", q.finish())
    };
    if page_no > 0 {
        page.newer = link(page_no - 1);
    }
    if offset + PAGE < total as i64 {
        page.older = link(page_no + 1);
    }
    Ok(page)
}

/// Comments whose text analysis the feedback page summarises (newest first).
const ANALYSED: i64 = 20_000;

/// Index of a polarity (−1, 0, 1) in `[positive, neutral, negative]`.
fn polarity_slot(p: i64) -> Option<usize> {
    match p {
        1 => Some(0),
        0 => Some(1),
        -1 => Some(2),
        _ => None,
    }
}

/// `[positive, neutral, negative]` counts as tiles: count and share with its
/// Wilson interval.
fn polarity_shares(t: &Texts, tally: [u64; 3]) -> Vec<(&'static str, &'static str, u64, String)> {
    let n: u64 = tally.iter().sum();
    [
        ("positive", t.positive),
        ("neutral", t.neutral),
        ("negative", t.negative),
    ]
    .iter()
    .zip(tally)
    .map(|((key, label), count)| (*key, *label, count, share_text(count, n)))
    .collect()
}

/// `12.5% [9.1, 16.8]` (Wilson 95%), or nothing when n = 0.
fn share_text(count: u64, n: u64) -> String {
    cx_core::stats::wilson_interval(count, n)
        .map(|ci| {
            format!(
                "{:.1}% [{:.1}, {:.1}]",
                100.0 * count as f64 / n as f64,
                100.0 * ci.lo,
                100.0 * ci.hi
            )
        })
        .unwrap_or_default()
}

/// The stored topics JSON as `(topic, polarity −1/0/1)`.
fn parse_topics(json: Option<&str>) -> Vec<(String, i64)> {
    #[derive(serde::Deserialize)]
    struct Stored {
        topic: String,
        sentiment: String,
    }
    let Some(json) = json else { return Vec::new() };
    serde_json::from_str::<Vec<Stored>>(json)
        .unwrap_or_default()
        .into_iter()
        .map(|s| {
            let p = match s.sentiment.as_str() {
                "positive" => 1,
                "negative" => -1,
                _ => 0,
            };
            (s.topic, p)
        })
        .collect()
}

/// A topic's name in the page's language (configured topics show their id).
pub fn topic_label(topic: &str, lang: &str) -> String {
    let names: Option<(&str, &str)> = match topic {
        "product_quality" => Some(("产品质量", "Product quality")),
        "price" => Some(("价格", "Price")),
        "service_attitude" => Some(("服务态度", "Service attitude")),
        "response_speed" => Some(("响应速度", "Response speed")),
        "delivery" => Some(("物流交付", "Delivery")),
        "packaging" => Some(("包装", "Packaging")),
        "documentation" => Some(("文档资料", "Documentation")),
        "after_sales" => Some(("售后", "After-sales")),
        "usability" => Some(("易用性", "Usability")),
        "billing" => Some(("账单发票", "Billing")),
        _ => None,
    };
    match names {
        Some((zh, en)) => if lang == "zh" { zh } else { en }.to_owned(),
        None => topic.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polarity_thresholds() {
        assert_eq!(polarity_range((0, 10), "negative"), Some((0, 6)));
        assert_eq!(polarity_range((0, 10), "neutral"), Some((7, 8)));
        assert_eq!(polarity_range((0, 10), "positive"), Some((9, 10)));
        assert_eq!(polarity_range((1, 5), "negative"), Some((1, 2)));
        assert_eq!(polarity_range((1, 5), "neutral"), Some((3, 3)));
        assert_eq!(polarity_range((1, 5), "positive"), Some((4, 5)));
        assert_eq!(polarity_range((1, 7), "negative"), Some((1, 3)));
        assert_eq!(polarity_range((1, 7), "positive"), Some((5, 7)));
        assert_eq!(polarity_range((1, 5), "all"), None);
    }
}

/// An account row as shown.
pub struct AccountRow {
    code: String,
    name: String,
    tier: String,
    region: String,
    responses: u64,
    last: String,
    nps: String,
    revenue: String,
    growth: String,
    growth_class: &'static str,
    score: String,
    grade: String,
    health: String,
}

/// `/app/accounts`.
#[derive(Template)]
#[template(path = "accounts.html")]
pub struct AccountsPage {
    t: &'static Texts,
    c: Chrome,
    search: String,
    tier: String,
    rows: Vec<AccountRow>,
    hidden: Vec<(String, String)>,
    labels: [&'static str; 10],
}

/// Accounts shown per page.
pub const ACCOUNTS: i64 = 500;

/// Builds the accounts list.
#[allow(clippy::too_many_arguments)]
pub async fn accounts(
    store: &AnyStore,
    params: &ViewParams,
    search: Option<String>,
    tier: Option<String>,
    lang: &str,
    csrf: &str,
    username: &str,
    scores: &std::collections::HashMap<String, (String, String, String)>,
) -> Result<AccountsPage, ApiError> {
    let t = texts(lang);
    let survey = chosen(store, params).await?;
    let zh = lang.starts_with("zh");
    let mut page = AccountsPage {
        t,
        c: chrome(survey.as_ref(), lang, csrf, username, params),
        search: search.clone().unwrap_or_default(),
        tier: tier.clone().unwrap_or_default(),
        rows: Vec::new(),
        hidden: vec![
            ("survey".into(), params.survey.clone().unwrap_or_default()),
            ("lang".into(), lang.into()),
        ],
        labels: if zh {
            [
                "客户",
                "级别",
                "区域",
                "回答数",
                "最近回答",
                "NPS (n)",
                "近 12 个月收入",
                "同比增长",
                "客户评分",
                "评级",
            ]
        } else {
            [
                "Account",
                "Tier",
                "Region",
                "Responses",
                "Last response",
                "NPS (n)",
                "Revenue, last 12 months",
                "Growth",
                "Customer score",
                "Grade",
            ]
        },
    };
    let Some(survey) = survey else {
        return Ok(page);
    };
    let nps_q = survey
        .definition
        .first_of(QuestionKind::Nps)
        .map(|q| q.id.clone())
        .unwrap_or_default();
    let list = store
        .account_summaries(
            survey.id,
            &nps_q,
            search.as_deref(),
            tier.as_deref(),
            ACCOUNTS,
        )
        .await?;
    page.rows = list
        .into_iter()
        .map(|a| {
            let (p, d, n) = a.nps;
            let growth = (a.revenue_prior > 0)
                .then(|| 100.0 * (a.revenue - a.revenue_prior) as f64 / a.revenue_prior as f64);
            AccountRow {
                name: a.name,
                tier: a.tier,
                region: a.region,
                responses: a.responses,
                last: a
                    .last_response
                    .map(|l| l.chars().take(10).collect())
                    .unwrap_or_default(),
                nps: if n > 0 {
                    format!("{:.0} ({n})", 100.0 * (p as f64 - d as f64) / n as f64)
                } else {
                    "—".into()
                },
                revenue: money(a.revenue),
                growth: growth
                    .map(|g| format!("{g:+.1}%"))
                    .unwrap_or_else(|| "—".into()),
                growth_class: match growth {
                    Some(g) if g < 0.0 => "down",
                    Some(_) => "up",
                    None => "",
                },
                score: scores
                    .get(&a.code)
                    .map(|s| s.0.clone())
                    .unwrap_or_else(|| "—".into()),
                grade: scores.get(&a.code).map(|s| s.1.clone()).unwrap_or_default(),
                health: scores.get(&a.code).map(|s| s.2.clone()).unwrap_or_default(),
                code: a.code,
            }
        })
        .collect();
    Ok(page)
}

/// Minor units as a whole amount with thousands separators.
fn money(minor: i64) -> String {
    let whole = (minor as f64 / 100.0).round() as i64;
    let digits = whole.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if whole < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod money_tests {
    #[test]
    fn money_has_separators() {
        assert_eq!(super::money(1_280_000), "12,800");
        assert_eq!(super::money(99), "1");
        assert_eq!(super::money(-123_456_789), "-1,234,568");
        assert_eq!(super::money(0), "0");
    }
}

/// `/app/accounts/{code}`.
#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    t: &'static Texts,
    c: Chrome,
    labels: [&'static str; 14],
    facts: Vec<(&'static str, String)>,
    contacts: Vec<(String, String, String, String)>,
    responses: Vec<(String, String, String, String, String)>,
    total: String,
    transactions: Vec<(String, String, String, String, String)>,
    interactions: Vec<(String, String, String)>,
    care: Option<crate::pages_loop::AccountCare>,
}

/// Responses, transactions and interactions shown on an account page.
pub const HISTORY: i64 = 50;

/// Builds an account's page; `None` when there is no such account.
pub async fn account(
    store: &AnyStore,
    code: &str,
    lang: &str,
    csrf: &str,
    username: &str,
    care: Option<crate::pages_loop::AccountCare>,
) -> Result<Option<AccountPage>, ApiError> {
    let Some(d) = store.account_detail(code, HISTORY).await? else {
        return Ok(None);
    };
    let t = texts(lang);
    let zh = lang.starts_with("zh");
    let labels = if zh {
        [
            "编号",
            "行业",
            "区域",
            "级别",
            "销售团队",
            "负责人",
            "起始",
            "终止",
            "关键人物",
            "最近回答",
            "交易",
            "互动",
            "合计",
            "笔",
        ]
    } else {
        [
            "Code",
            "Industry",
            "Region",
            "Tier",
            "Sales team",
            "Owner",
            "Since",
            "Until",
            "Key people",
            "Latest responses",
            "Transactions",
            "Interactions",
            "Total",
            "orders",
        ]
    };
    let [
        code_,
        name,
        industry,
        region,
        tier,
        team,
        owner,
        since,
        until,
    ] = d.fields;
    let facts = [
        (labels[0], code_),
        (labels[1], industry),
        (labels[2], region),
        (labels[3], tier),
        (labels[4], team),
        (labels[5], owner),
        (labels[6], since),
        (labels[7], until),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .collect();
    let summary = |answers: &[(String, Option<i64>, Option<String>)]| -> (String, String) {
        let scores = answers
            .iter()
            .filter_map(|(q, v, _)| v.map(|v| format!("{q} {v}")))
            .collect::<Vec<_>>()
            .join(" · ");
        let text = answers
            .iter()
            .filter_map(|(_, _, t)| t.clone())
            .collect::<Vec<_>>()
            .join(" / ");
        (scores, text)
    };
    let params = ViewParams::parse("");
    let mut c = chrome(None, lang, csrf, username, &params);
    c.title = name;
    Ok(Some(AccountPage {
        t,
        c,
        labels,
        facts,
        contacts: d
            .contacts
            .into_iter()
            .map(|(code, name, role, influence)| (name, code, role, format!("{influence:.2}")))
            .collect(),
        responses: d
            .responses
            .into_iter()
            .map(|(at, survey, channel, answers)| {
                let (scores, text) = summary(&answers);
                (at.chars().take(10).collect(), survey, channel, scores, text)
            })
            .collect(),
        total: format!(
            "{} · {} {}",
            money(d.transaction_totals.1),
            d.transaction_totals.0,
            labels[13]
        ),
        transactions: d
            .transactions
            .into_iter()
            .map(|(date, order, amount, currency, line)| {
                (date, order, money(amount), currency, line)
            })
            .collect(),
        interactions: d.interactions,
        care,
    }))
}
