//! Rendering a metrics report: an aligned table for people (CJK characters
//! count two columns), JSON with full precision, or CSV with one row per group.

use std::io::{self, Write};

use cx_core::period::TimeFilter;
use cx_core::stats::{Comparison, Interval};
use cx_core::survey::Changes;
use cx_core::survey::group::GroupFigures;
use cx_core::survey::report::{ExclusionReason, MetricsReport};
use serde_json::Value;
use unicode_width::UnicodeWidthStr;

use crate::cli::OutputFormat;

/// Prints the report to stdout in `format`.
pub fn print_report(
    report: &MetricsReport,
    by: &[String],
    time: &TimeFilter,
    format: OutputFormat,
) -> io::Result<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    match format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, report)?;
            writeln!(out)?;
        }
        OutputFormat::Csv => write_csv(&mut out, report)?,
        OutputFormat::Table => write_table(&mut out, report, by, time)?,
    }
    out.flush()
}

/// Tells stderr about every excluded cell group: never silently.
pub fn warn_exclusions(report: &MetricsReport) {
    let mut err = io::stderr().lock();
    for e in &report.excluded {
        let reason = match e.reason {
            ExclusionReason::NotANumber => "not a number",
            ExclusionReason::OutOfRange => "off the scale",
            ExclusionReason::BadDate => "unreadable date",
            ExclusionReason::MissingDate => "no date",
        };
        let mut places: Vec<String> = Vec::new();
        for loc in &e.examples {
            match places.last_mut() {
                Some(last) if last.starts_with(&loc.file) => {
                    last.push_str(&format!(", {}", loc.line))
                }
                _ => {
                    // Parquet has rows, not lines.
                    let parquet = loc.file.ends_with(".parquet") || loc.file.ends_with(".pq");
                    places.push(format!(
                        "{} {} {}",
                        loc.file,
                        if parquet { "row" } else { "line" },
                        loc.line
                    ));
                }
            }
        }
        let more = if e.count as usize > e.examples.len() {
            ", …"
        } else {
            ""
        };
        let expected = e
            .expected
            .as_deref()
            .map(|x| format!(", expected {x}"))
            .unwrap_or_default();
        let _ = writeln!(
            err,
            "warning: column {:?} ({}): {} cell{} excluded, {reason}{expected}: {}{more}",
            e.column,
            e.metric,
            e.count,
            if e.count == 1 { "" } else { "s" },
            places.join("; ")
        );
    }
}

// ---------------------------------------------------------------- table

struct TableRow {
    key: Vec<String>,
    metric: String,
    n: String,
    value: String,
    ci: String,
    change: String,
    p: String,
    note: String,
}

fn fmt_ci(ci: Option<Interval>, decimals: usize) -> String {
    ci.map(|i| format!("[{:.d$}, {:.d$}]", i.lo, i.hi, d = decimals))
        .unwrap_or_default()
}

fn fmt_change(change: Option<&Changes>, figure: &str, decimals: usize) -> (String, String) {
    match change.and_then(|c| c.get(figure)) {
        Some(Comparison {
            diff,
            p_value,
            significant,
            ..
        }) => (
            // A two-character marker either way keeps right-aligned digits in line.
            format!(
                "{diff:+.d$}{}",
                if *significant { " *" } else { "  " },
                d = decimals
            ),
            p_value
                .map(|p| {
                    if p < 0.001 {
                        "<0.001".into()
                    } else {
                        format!("{p:.3}")
                    }
                })
                .unwrap_or_default(),
        ),
        None => (String::new(), String::new()),
    }
}

fn note(small: bool, suppressed: bool, extra: &str) -> String {
    let mut parts = Vec::new();
    if suppressed {
        parts.push("suppressed (anonymous, n < 5)".to_string());
    } else if small {
        parts.push("small sample".to_string());
    }
    if !extra.is_empty() {
        parts.push(extra.to_string());
    }
    parts.join("; ")
}

fn group_rows(key: &[String], f: &GroupFigures, rows: &mut Vec<TableRow>) {
    let row = |metric: &str,
               n: u64,
               value: String,
               ci: String,
               (change, p): (String, String),
               note: String| TableRow {
        key: key.to_vec(),
        metric: metric.to_string(),
        n: n.to_string(),
        value,
        ci,
        change,
        p,
        note,
    };
    let v = |x: Option<f64>, d: usize| x.map(|x| format!("{x:.d$}")).unwrap_or_else(|| "–".into());
    if let Some(m) = &f.nps {
        rows.push(row(
            "NPS",
            m.n,
            v(m.score, 1),
            fmt_ci(m.ci95, 1),
            fmt_change(m.change.as_ref(), "score", 1),
            note(m.small_sample, m.suppressed, ""),
        ));
    }
    if let Some(m) = &f.csat {
        rows.push(row(
            "CSAT top-2 %",
            m.n,
            v(m.top2_pct, 1),
            fmt_ci(m.top2_ci95, 1),
            fmt_change(m.change.as_ref(), "top2_pct", 1),
            note(m.small_sample, m.suppressed, ""),
        ));
        rows.push(row(
            "CSAT mean",
            m.n,
            v(m.mean, 2),
            fmt_ci(m.mean_ci95, 2),
            fmt_change(m.change.as_ref(), "mean", 2),
            note(m.small_sample, m.suppressed, ""),
        ));
    }
    if let Some(m) = &f.ces {
        rows.push(row(
            "CES mean (ease)",
            m.n,
            v(m.mean, 2),
            fmt_ci(m.mean_ci95, 2),
            fmt_change(m.change.as_ref(), "mean", 2),
            note(m.small_sample, m.suppressed, ""),
        ));
        rows.push(row(
            "CES easy %",
            m.n,
            v(m.easy_pct, 1),
            fmt_ci(m.easy_ci95, 1),
            fmt_change(m.change.as_ref(), "easy_pct", 1),
            note(m.small_sample, m.suppressed, ""),
        ));
    }
    if let Some(m) = &f.sentiment {
        for (label, pct, ci, field) in [
            (
                "positive %",
                m.positive_pct,
                m.positive_ci95,
                "positive_pct",
            ),
            ("neutral %", m.neutral_pct, m.neutral_ci95, ""),
            (
                "negative %",
                m.negative_pct,
                m.negative_ci95,
                "negative_pct",
            ),
        ] {
            rows.push(row(
                label,
                m.n,
                v(pct, 1),
                fmt_ci(ci, 1),
                fmt_change(m.change.as_ref(), field, 1),
                note(m.small_sample, m.suppressed, ""),
            ));
        }
    }
    for (name, m) in &f.dims.0 {
        let mut extra = m.index.map(|i| format!("index {i:.1}")).unwrap_or_default();
        if f.highest_dim.as_deref() == Some(name) {
            extra.push_str(", highest");
        }
        if f.lowest_dim.as_deref() == Some(name) {
            extra.push_str(", lowest");
        }
        rows.push(row(
            name,
            m.n,
            v(m.mean, 2),
            fmt_ci(m.mean_ci95, 2),
            fmt_change(m.change.as_ref(), "mean", 2),
            note(m.small_sample, m.suppressed, &extra),
        ));
    }
    if let Some(csi) = f.csi {
        rows.push(row(
            "CSI",
            f.n,
            format!("{csi:.1}"),
            fmt_ci(f.csi_ci95, 1),
            (String::new(), String::new()),
            String::new(),
        ));
    }
}

fn write_table(
    out: &mut impl Write,
    report: &MetricsReport,
    by: &[String],
    time: &TimeFilter,
) -> io::Result<()> {
    let mut headers: Vec<String> = by.to_vec();
    let by_period = time.interval().is_some();
    if by_period {
        headers.push("period".into());
    }
    let mut rows = Vec::new();
    if !headers.is_empty() {
        for g in &report.groups {
            let mut key: Vec<String> = g
                .key
                .by
                .iter()
                .map(|(_, v)| {
                    if v.is_empty() {
                        "(blank)".into()
                    } else {
                        v.clone()
                    }
                })
                .collect();
            if let Some(p) = g.key.period {
                key.push(p.to_string());
            }
            group_rows(&key, &g.figures, &mut rows);
        }
    }
    let mut overall_key = vec![String::new(); headers.len()];
    if let Some(first) = overall_key.first_mut() {
        *first = "(all)".into();
    }
    group_rows(&overall_key, &report.overall, &mut rows);

    let compare = time.compare_previous();
    let mut header_row: Vec<String> = headers.clone();
    header_row.extend(["metric", "n", "value", "95% CI"].map(String::from));
    if compare {
        header_row.extend(["change", "p"].map(String::from));
    }
    header_row.push("notes".into());
    let mut table: Vec<Vec<String>> = vec![header_row];
    let mut previous_key: Option<Vec<String>> = None;
    for r in rows {
        // Print each key once, at the first row of its group.
        let key = if previous_key.as_ref() == Some(&r.key) {
            vec![String::new(); r.key.len()]
        } else {
            r.key.clone()
        };
        previous_key = Some(r.key);
        let mut line = key;
        line.extend([r.metric, r.n, r.value, r.ci]);
        if compare {
            line.extend([r.change, r.p]);
        }
        line.push(r.note);
        table.push(line);
    }
    let columns = table[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| table.iter().map(|r| r[c].width()).max().unwrap_or(0))
        .collect();
    let numeric_from = headers.len() + 1;
    for row in &table {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c] - cell.width();
            let right = c >= numeric_from && c < columns - 1 && c != numeric_from + 2;
            if right {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                if c + 1 < columns {
                    line.push_str(&" ".repeat(pad));
                }
            }
            if c + 1 < columns {
                line.push_str("  ");
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    if compare {
        writeln!(
            out,
            "\n* significant change at p < 0.05 (NPS: z test; shares: two-proportion z; means: Welch t)"
        )?;
    }
    if let Some([lo, hi]) = &report.comparison_window {
        writeln!(out, "(all) compared with {lo} … {hi}")?;
    }
    Ok(())
}

// ---------------------------------------------------------------- csv

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    let name = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(&name(k), v, out);
            }
        }
        Value::Array(items) if items.len() == 2 && items.iter().all(Value::is_number) => {
            out.push((format!("{prefix}.lo"), items[0].to_string()));
            out.push((format!("{prefix}.hi"), items[1].to_string()));
        }
        Value::Array(items) => out.push((
            prefix.to_string(),
            items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(";"),
        )),
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        Value::Null => out.push((prefix.to_string(), String::new())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn write_csv(out: &mut impl Write, report: &MetricsReport) -> io::Result<()> {
    let mut records: Vec<Vec<(String, String)>> = Vec::new();
    let as_value = |v: &dyn erased::Ser| v.to_value();
    for g in &report.groups {
        let mut fields = vec![("scope".to_string(), "group".to_string())];
        flatten("", &as_value(g), &mut fields);
        records.push(fields);
    }
    let mut fields = vec![("scope".to_string(), "overall".to_string())];
    flatten("", &as_value(&report.overall), &mut fields);
    records.push(fields);

    let mut columns: Vec<String> = Vec::new();
    for r in &records {
        for (k, _) in r {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    writeln!(
        out,
        "{}",
        columns
            .iter()
            .map(|c| csv_field(c))
            .collect::<Vec<_>>()
            .join(",")
    )?;
    for r in &records {
        let line: Vec<String> = columns
            .iter()
            .map(|c| {
                r.iter()
                    .find(|(k, _)| k == c)
                    .map(|(_, v)| csv_field(v))
                    .unwrap_or_default()
            })
            .collect();
        writeln!(out, "{}", line.join(","))?;
    }
    Ok(())
}

mod erased {
    //! Turning any serialisable report part into a JSON value.

    /// Serialisable to a JSON value.
    pub trait Ser {
        fn to_value(&self) -> serde_json::Value;
    }

    impl<T: serde::Serialize> Ser for T {
        fn to_value(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
        }
    }
}
