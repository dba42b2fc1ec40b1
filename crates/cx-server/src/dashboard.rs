//! The dashboard's overview (`/app`) and the self-contained HTML report built
//! from the same data (`/app/report.html`, `cxscore report`): tiles with n, 95%
//! interval and change against the previous period (significant or noise), the
//! trend with its interval band, a breakdown by any field, and the highest and
//! lowest rated aspects. Every figure comes from the same push-down as
//! `GET /api/v1/metrics`; filters live in the URL so a view can be shared.

use askama::Template;
use cx_store::metrics::{MetricsQuery, survey_metrics};
use cx_store::server::ServerStore;
use cx_store::{AnyStore, Store};
use serde_json::Value;

use crate::svg::{Point, bars, trend};

/// Fields a view can be filtered by (kept in the URL).
pub const FILTER_FIELDS: [&str; 5] = ["region", "product_line", "sales_team", "channel", "tier"];

/// What a view shows: its URL parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewParams {
    /// Survey id or slug (default: the newest survey).
    pub survey: Option<String>,
    /// month or quarter (default quarter).
    pub interval: String,
    /// First date.
    pub from: Option<String>,
    /// Last date.
    pub to: Option<String>,
    /// The breakdown field (default region).
    pub by: String,
    /// `field=value` filters.
    pub filters: Vec<(String, String)>,
    /// Breakdown sort column.
    pub sort: String,
}

impl ViewParams {
    /// From a query string; unknown parameters are ignored.
    pub fn parse(query: &str) -> ViewParams {
        let mut p = ViewParams {
            survey: None,
            interval: "quarter".into(),
            from: None,
            to: None,
            by: "region".into(),
            filters: Vec::new(),
            sort: "n".into(),
        };
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let v = v.trim().to_string();
            if v.is_empty() {
                continue;
            }
            match k.as_ref() {
                "survey" => p.survey = Some(v),
                "interval" if ["day", "week", "month", "quarter", "year"].contains(&v.as_str()) => {
                    p.interval = v
                }
                "from" => p.from = Some(v),
                "to" => p.to = Some(v),
                "by" if !v.contains(['"', '\'', '\\']) => p.by = v,
                "sort" if ["n", "key", "nps", "csat", "ces", "csi"].contains(&v.as_str()) => {
                    p.sort = v
                }
                k if FILTER_FIELDS.contains(&k) => p.filters.push((k.to_string(), v)),
                _ => {}
            }
        }
        p
    }

    /// Back to a query string (for links that keep the view).
    pub fn query(&self, sort: Option<&str>) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        if let Some(s) = &self.survey {
            q.append_pair("survey", s);
        }
        q.append_pair("interval", &self.interval);
        if let Some(f) = &self.from {
            q.append_pair("from", f);
        }
        if let Some(t) = &self.to {
            q.append_pair("to", t);
        }
        q.append_pair("by", &self.by);
        for (k, v) in &self.filters {
            q.append_pair(k, v);
        }
        q.append_pair("sort", sort.unwrap_or(&self.sort));
        q.finish()
    }

    fn filter(&self, field: &str) -> String {
        self.filters
            .iter()
            .find(|(k, _)| k == field)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

/// Dashboard texts.
pub struct Labels {
    tag: &'static str,
    overview: &'static str,
    drivers: &'static str,
    feedback: &'static str,
    accounts: &'static str,
    surveys: &'static str,
    survey: &'static str,
    period: &'static str,
    from: &'static str,
    to: &'static str,
    breakdown_by: &'static str,
    apply: &'static str,
    download: &'static str,
    latest: &'static str,
    vs_previous: &'static str,
    significant: &'static str,
    noise: &'static str,
    no_previous: &'static str,
    trend: &'static str,
    breakdown: &'static str,
    group: &'static str,
    responses: &'static str,
    small: &'static str,
    suppressed: &'static str,
    aspects: &'static str,
    highest: &'static str,
    lowest: &'static str,
    invitations: &'static str,
    sent: &'static str,
    answered: &'static str,
    rate: &'static str,
    no_data: &'static str,
    sign_out: &'static str,
    generated: &'static str,
    month: &'static str,
    quarter: &'static str,
    field_names: [&'static str; 5],
}

const ZH: Labels = Labels {
    tag: "zh-CN",
    overview: "总览",
    drivers: "驱动因素",
    feedback: "反馈",
    accounts: "客户",
    surveys: "问卷",
    survey: "问卷",
    period: "周期",
    from: "开始日期",
    to: "结束日期",
    breakdown_by: "细分维度",
    apply: "应用",
    download: "下载 HTML 报告",
    latest: "最近一期",
    vs_previous: "较上期",
    significant: "显著",
    noise: "在误差范围内",
    no_previous: "无上期数据",
    trend: "趋势（阴影为 95% 置信区间）",
    breakdown: "细分",
    group: "分组",
    responses: "回答数",
    small: "小样本",
    suppressed: "匿名问卷：样本过少，不显示",
    aspects: "各方面评分",
    highest: "最高",
    lowest: "最低",
    invitations: "邀请",
    sent: "已发送",
    answered: "已回答",
    rate: "回复率",
    no_data: "所选范围内没有回答。",
    sign_out: "退出",
    generated: "生成于",
    month: "月",
    quarter: "季度",
    field_names: ["区域", "产品线", "销售团队", "渠道", "客户级别"],
};

const EN: Labels = Labels {
    tag: "en",
    overview: "Overview",
    drivers: "Drivers",
    feedback: "Feedback",
    accounts: "Accounts",
    surveys: "Surveys",
    survey: "Survey",
    period: "Period",
    from: "From",
    to: "To",
    breakdown_by: "Break down by",
    apply: "Apply",
    download: "Download HTML report",
    latest: "latest period",
    vs_previous: "vs previous",
    significant: "significant",
    noise: "within noise",
    no_previous: "no previous period",
    trend: "Trend (band: 95% interval)",
    breakdown: "Breakdown",
    group: "Group",
    responses: "Responses",
    small: "small sample",
    suppressed: "anonymous survey: too few answers to show",
    aspects: "Aspects",
    highest: "highest",
    lowest: "lowest",
    invitations: "Invitations",
    sent: "sent",
    answered: "answered",
    rate: "response rate",
    no_data: "No responses in this view.",
    sign_out: "Sign out",
    generated: "Generated",
    month: "month",
    quarter: "quarter",
    field_names: ["Region", "Product line", "Sales team", "Channel", "Tier"],
};

/// Labels for `lang`.
pub fn labels(lang: &str) -> &'static Labels {
    if lang.starts_with("zh") { &ZH } else { &EN }
}

/// A headline figure.
pub struct Tile {
    label: String,
    value: String,
    ci: String,
    n: u64,
    change: String,
    /// up, down, flat, none
    direction: &'static str,
    significant: bool,
}

/// A breakdown row.
pub struct Row {
    key: String,
    n: u64,
    nps: String,
    nps_ci: String,
    csat: String,
    ces: String,
    csi: String,
    note: String,
}

/// An aspect's average.
pub struct Aspect {
    name: String,
    mean: String,
    index: String,
    n: u64,
    mark: String,
}

/// A filter input.
pub struct FilterInput {
    name: &'static str,
    label: &'static str,
    value: String,
}

/// The overview's content.
#[derive(Template)]
#[template(path = "overview.html")]
pub struct Overview {
    l: &'static Labels,
    /// Standalone report (no navigation or form).
    standalone: bool,
    csrf: String,
    username: String,
    title: String,
    surveys: Vec<(String, String, bool)>,
    interval: String,
    from: String,
    to: String,
    by: String,
    filters: Vec<FilterInput>,
    filter_summary: String,
    latest_period: String,
    tiles: Vec<Tile>,
    trend_svgs: Vec<String>,
    /// Each trend's points as JSON, for the interactive chart (`static/charts.js`).
    trend_points: Vec<String>,
    breakdown_svg: String,
    rows: Vec<Row>,
    sort_links: Vec<(String, String, bool)>,
    aspects: Vec<Aspect>,
    invitations: Option<(u64, u64, String)>,
    report_link: String,
    pdf_link: String,
    query: String,
    generated: String,
    empty: bool,
}

impl Overview {
    /// Each trend's SVG with its points as JSON ('' when there are none).
    fn trends(&self) -> Vec<(&str, &str)> {
        self.trend_svgs
            .iter()
            .enumerate()
            .map(|(i, svg)| {
                (
                    svg.as_str(),
                    self.trend_points.get(i).map_or("", String::as_str),
                )
            })
            .collect()
    }
}

impl Overview {
    /// The report's content as PDF blocks: the same tiles, charts, tables
    /// and filters as the HTML report.
    pub fn pdf_blocks(&self) -> Vec<cx_pdf::Block> {
        use cx_pdf::Block;
        let l = self.l;
        let mut b = vec![Block::Title(self.title.clone())];
        let mut note = format!("{} {}", l.generated, self.generated);
        if !self.filter_summary.is_empty() {
            note.push_str(&format!(" · {}", self.filter_summary));
        }
        b.push(Block::Note(note));
        if self.empty {
            b.push(Block::Text(l.no_data.to_string()));
            return b;
        }
        b.push(Block::Heading(format!(
            "{} ({})",
            self.latest_period, l.latest
        )));
        b.push(Block::Tiles(
            self.tiles
                .iter()
                .map(|t| {
                    let mut detail = vec![format!("95% CI {} · n {}", t.ci, t.n)];
                    if !t.change.is_empty() {
                        let arrow = match t.direction {
                            "up" => "▲ ",
                            "down" => "▼ ",
                            _ => "",
                        };
                        detail.push(format!("{arrow}{}", t.change));
                    }
                    (t.label.clone(), t.value.clone(), detail)
                })
                .collect(),
        ));
        b.push(Block::Heading(l.trend.to_string()));
        b.extend(self.trend_svgs.iter().cloned().map(Block::Svg));
        b.push(Block::Heading(format!("{}: {}", l.breakdown, self.by)));
        if !self.breakdown_svg.is_empty() {
            b.push(Block::Svg(self.breakdown_svg.clone()));
        }
        let mut header: Vec<String> = self.sort_links.iter().map(|(c, _, _)| c.clone()).collect();
        header.push(String::new());
        b.push(Block::Table(
            header,
            self.rows
                .iter()
                .map(|r| {
                    vec![
                        r.key.clone(),
                        r.n.to_string(),
                        format!("{} {}", r.nps, r.nps_ci),
                        r.csat.clone(),
                        r.ces.clone(),
                        r.csi.clone(),
                        r.note.clone(),
                    ]
                })
                .collect(),
        ));
        if !self.aspects.is_empty() {
            b.push(Block::Heading(l.aspects.to_string()));
            b.push(Block::Table(
                vec![
                    String::new(),
                    "mean".into(),
                    "index 0–100".into(),
                    "n".into(),
                    String::new(),
                ],
                self.aspects
                    .iter()
                    .map(|a| {
                        vec![
                            a.name.clone(),
                            a.mean.clone(),
                            a.index.clone(),
                            a.n.to_string(),
                            a.mark.clone(),
                        ]
                    })
                    .collect(),
            ));
        }
        if let Some((sent, used, rate)) = &self.invitations {
            b.push(Block::Heading(l.invitations.to_string()));
            b.push(Block::Text(format!(
                "{} {sent} · {} {used} · {} {rate}",
                l.sent, l.answered, l.rate
            )));
        }
        b
    }
}

fn num(v: &Value, decimals: usize) -> String {
    v.as_f64()
        .map(|x| format!("{x:.decimals$}"))
        .unwrap_or_else(|| "—".into())
}

fn ci(v: &Value, decimals: usize) -> String {
    match (
        v.get(0).and_then(Value::as_f64),
        v.get(1).and_then(Value::as_f64),
    ) {
        (Some(a), Some(b)) => format!("[{a:.decimals$}, {b:.decimals$}]"),
        _ => String::new(),
    }
}

fn point(label: &str, m: &Value, value: &str, interval: &str, n: u64) -> Option<Point> {
    Some(Point {
        label: label.to_string(),
        value: m.get(value)?.as_f64()?,
        lo: m.get(interval)?.get(0)?.as_f64()?,
        hi: m.get(interval)?.get(1)?.as_f64()?,
        n,
    })
}

/// What the dashboard needs from the caller besides the store.
pub struct Viewer<'a> {
    /// Interface language.
    pub lang: &'a str,
    /// The session's CSRF token (for the sign-out form).
    pub csrf: &'a str,
    /// Who is looking.
    pub username: &'a str,
    /// A report file rather than a page.
    pub standalone: bool,
}

/// Builds the overview for `params`.
pub async fn overview(
    store: &AnyStore,
    params: &ViewParams,
    viewer: &Viewer<'_>,
) -> Result<Overview, crate::error::ApiError> {
    let l = labels(viewer.lang);
    let all = store.surveys().await?;
    let chosen = match &params.survey {
        Some(key) => Some(store.survey(key).await?),
        None => all.first().cloned(),
    };
    let lang = if viewer.lang.starts_with("zh") {
        "zh"
    } else {
        "en"
    };
    let surveys = all
        .iter()
        .map(|s| {
            (
                s.id.0.to_string(),
                s.definition.title.get(lang).to_string(),
                chosen.as_ref().is_some_and(|c| c.id == s.id),
            )
        })
        .collect();
    let filters: Vec<FilterInput> = FILTER_FIELDS
        .iter()
        .zip(l.field_names)
        .map(|(f, label)| FilterInput {
            name: f,
            label,
            value: params.filter(f),
        })
        .collect();
    let filter_summary = params
        .filters
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .chain(params.from.iter().map(|f| format!("{} {f}", l.from)))
        .chain(params.to.iter().map(|t| format!("{} {t}", l.to)))
        .collect::<Vec<_>>()
        .join(" · ");
    let mut view = Overview {
        l,
        standalone: viewer.standalone,
        csrf: viewer.csrf.into(),
        username: viewer.username.into(),
        title: String::new(),
        surveys,
        interval: params.interval.clone(),
        from: params.from.clone().unwrap_or_default(),
        to: params.to.clone().unwrap_or_default(),
        by: params.by.clone(),
        filters,
        filter_summary,
        latest_period: String::new(),
        tiles: Vec::new(),
        trend_svgs: Vec::new(),
        trend_points: Vec::new(),
        breakdown_svg: String::new(),
        rows: Vec::new(),
        sort_links: Vec::new(),
        aspects: Vec::new(),
        invitations: None,
        report_link: format!("/app/report.html?{}", params.query(None)),
        pdf_link: format!("/app/report.pdf?{}", params.query(None)),
        query: params.query(None),
        generated: crate::respond::now().1,
        empty: true,
    };
    let Some(survey) = chosen else {
        return Ok(view);
    };
    view.title = survey.definition.title.get(lang).to_string();
    let base = MetricsQuery {
        from: params.from.clone(),
        to: params.to.clone(),
        filters: params
            .filters
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        ..MetricsQuery::default()
    };
    let bad = |e: String| crate::error::ApiError::bad_request(e);
    // Trend and latest-period tiles.
    let trend_q = MetricsQuery {
        interval: Some(params.interval.clone()),
        compare: true,
        ..base.clone()
    };
    let report = survey_metrics(store, &trend_q.resolve(&survey).map_err(bad)?).await?;
    let trend_json = serde_json::to_value(&report).unwrap_or_default();
    let groups = trend_json["groups"].as_array().cloned().unwrap_or_default();
    view.empty = groups.is_empty();
    let period_of = |g: &Value| g["key"]["period"].as_str().unwrap_or("").to_string();
    // One trend per headline metric the survey has: the estimate and its interval band.
    for (metric, value, interval, label) in [
        ("nps", "score", "ci95", "NPS"),
        ("csat", "top2_pct", "top2_ci95", "CSAT top-2 %"),
        ("ces", "mean", "mean_ci95", "CES"),
    ] {
        let points: Vec<Point> = groups
            .iter()
            .filter_map(|g| {
                let n = g[metric]["n"].as_u64().unwrap_or(0);
                point(&period_of(g), &g[metric], value, interval, n)
            })
            .collect();
        if !points.is_empty() {
            let title = format!("{label} · {}", l.trend);
            view.trend_svgs.push(trend(&points, &title, label));
            view.trend_points.push(
                serde_json::json!({
                    "title": title,
                    "unit": label,
                    "points": points.iter().map(|p| serde_json::json!({
                        "label": p.label, "value": p.value, "lo": p.lo, "hi": p.hi, "n": p.n,
                    })).collect::<Vec<_>>(),
                })
                .to_string(),
            );
        }
    }
    if let Some(last) = groups.last() {
        view.latest_period = period_of(last);
        let tile = |label: &str, m: &Value, value: &str, interval: &str, change: &str, d: usize| {
            let c = &m["change"][change];
            let (change_text, direction, significant) = match c["diff"].as_f64() {
                Some(diff) => (
                    format!(
                        "{}{diff:.d$} {} (p = {:.2}, {})",
                        if diff >= 0.0 { "+" } else { "" },
                        l.vs_previous,
                        c["p_value"].as_f64().unwrap_or(1.0),
                        if c["significant"].as_bool() == Some(true) {
                            l.significant
                        } else {
                            l.noise
                        }
                    ),
                    if diff > 0.0 {
                        "up"
                    } else if diff < 0.0 {
                        "down"
                    } else {
                        "flat"
                    },
                    c["significant"].as_bool() == Some(true),
                ),
                None => (l.no_previous.to_string(), "none", false),
            };
            Tile {
                label: label.to_string(),
                value: num(&m[value], d),
                ci: ci(&m[interval], d),
                n: m["n"].as_u64().unwrap_or(0),
                change: change_text,
                direction,
                significant,
            }
        };
        if last.get("nps").is_some() {
            view.tiles
                .push(tile("NPS", &last["nps"], "score", "ci95", "score", 1));
        }
        if last.get("csat").is_some() {
            view.tiles.push(tile(
                "CSAT top-2 %",
                &last["csat"],
                "top2_pct",
                "top2_ci95",
                "top2_pct",
                1,
            ));
        }
        if last.get("ces").is_some() {
            view.tiles
                .push(tile("CES", &last["ces"], "mean", "mean_ci95", "mean", 2));
        }
        if let Some(csi) = last["csi"].as_f64() {
            view.tiles.push(Tile {
                label: "CSI".into(),
                value: format!("{csi:.1}"),
                ci: ci(&last["csi_ci95"], 1),
                n: last["n"].as_u64().unwrap_or(0),
                change: String::new(),
                direction: "none",
                significant: false,
            });
        }
    }
    // Breakdown by the chosen field over the whole window.
    let by_q = MetricsQuery {
        by: vec![params.by.clone()],
        ..base.clone()
    };
    let report = survey_metrics(store, &by_q.resolve(&survey).map_err(bad)?).await?;
    let by_json = serde_json::to_value(&report).unwrap_or_default();
    let mut groups = by_json["groups"].as_array().cloned().unwrap_or_default();
    let metric = |g: &Value| -> f64 {
        match params.sort.as_str() {
            "nps" => g["nps"]["score"].as_f64(),
            "csat" => g["csat"]["top2_pct"].as_f64(),
            "ces" => g["ces"]["mean"].as_f64(),
            "csi" => g["csi"].as_f64(),
            _ => g["n"].as_f64(),
        }
        .unwrap_or(f64::NEG_INFINITY)
    };
    let key_of = |g: &Value| {
        g["key"][params.by.as_str()]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    if params.sort == "key" {
        groups.sort_by_key(|g| key_of(g));
    } else {
        groups.sort_by(|a, b| metric(b).total_cmp(&metric(a)));
    }
    let mut bar_points = Vec::new();
    for g in &groups {
        let warnings: Vec<&str> = g["warnings"]
            .as_array()
            .map(|w| w.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let suppressed =
            g.get("nps").is_none() && g.get("csat").is_none() && g.get("ces").is_none();
        let key = key_of(g);
        let key = if key.is_empty() {
            "—".to_string()
        } else {
            key
        };
        if let Some(p) = point(
            &key,
            &g["nps"],
            "score",
            "ci95",
            g["nps"]["n"].as_u64().unwrap_or(0),
        ) {
            bar_points.push(p);
        }
        view.rows.push(Row {
            n: g["n"].as_u64().unwrap_or(0),
            nps: num(&g["nps"]["score"], 1),
            nps_ci: ci(&g["nps"]["ci95"], 1),
            csat: num(&g["csat"]["top2_pct"], 1),
            ces: num(&g["ces"]["mean"], 2),
            csi: num(&g["csi"], 1),
            note: if suppressed {
                l.suppressed.to_string()
            } else if warnings.iter().any(|w| w.contains("small")) {
                l.small.to_string()
            } else {
                String::new()
            },
            key,
        });
    }
    view.breakdown_svg = bars(&bar_points, &format!("NPS · {}", params.by));
    view.sort_links = [
        ("key", l.group),
        ("n", l.responses),
        ("nps", "NPS"),
        ("csat", "CSAT top-2 %"),
        ("ces", "CES"),
        ("csi", "CSI"),
    ]
    .iter()
    .map(|(s, label)| {
        (
            label.to_string(),
            format!("?{}", params.query(Some(s))),
            params.sort == *s,
        )
    })
    .collect();
    // Aspects, highest first.
    if let Some(dims) = by_json["overall"]["dims"].as_object() {
        let mut aspects: Vec<(String, &Value)> = dims.iter().map(|(k, v)| (k.clone(), v)).collect();
        aspects.sort_by(|a, b| {
            b.1["index"]
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&a.1["index"].as_f64().unwrap_or(0.0))
        });
        let count = aspects.len();
        view.aspects = aspects
            .into_iter()
            .enumerate()
            .map(|(i, (name, d))| Aspect {
                name,
                mean: num(&d["mean"], 2),
                index: num(&d["index"], 1),
                n: d["n"].as_u64().unwrap_or(0),
                mark: if count > 1 && i == 0 {
                    l.highest.to_string()
                } else if count > 1 && i + 1 == count {
                    l.lowest.to_string()
                } else {
                    String::new()
                },
            })
            .collect();
    }
    let (sent, used) = store.invitation_counts(survey.id).await?;
    if sent > 0 {
        let rate = cx_core::stats::wilson_interval(used, sent)
            .map(|i| {
                format!(
                    "{:.1}% [{:.1}, {:.1}]",
                    100.0 * used as f64 / sent as f64,
                    100.0 * i.lo,
                    100.0 * i.hi
                )
            })
            .unwrap_or_default();
        view.invitations = Some((sent, used, rate));
    }
    Ok(view)
}
