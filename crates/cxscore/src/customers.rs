//! `cxscore customers …` and `cxscore clv …`: customer metrics from a
//! transaction log (a file, or the database's transactions).

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::anyhow;
use cx_core::customer::activity::{
    CustomerActivity, Purchase, clv_formula, repeat_rate, retention, retention_from_purchases,
    sales_growth,
};
use cx_core::customer::bgnbd::{BgNbd, BgNbdFit, discounted_clv};
use cx_core::customer::gamma_gamma::{GammaGamma, GammaGammaFit};
use cx_core::customer::rfm::{CustomerTotals, rfm, rfm_from_totals};
use cx_core::customer::summary::{CustomerSummary, TimeUnit, distinct_tuples, summarize};
use cx_core::period::{Date, Interval};
use cx_io::ScanOptions;
use cx_io::import::{ImportKind, Record, RowReader, map_columns};
use cx_io::table::TableSource;
use cx_store::Store;
use serde_json::{Value, json};

use crate::cli::{ClvCommand, ClvInput, CustomersCommand, OutputFormat, TransactionSource};
use crate::{Failure, block_on, store_failure};

/// Purchases with their slice value, and where lifecycle dates exist, accounts.
struct Loaded {
    purchases: Vec<(Purchase, String)>,
    /// Distinct currencies of the purchases.
    currencies: std::collections::BTreeSet<String>,
    /// `(since, lost on, slice)` of accounts, from the database.
    lifecycles: Vec<cx_store::AccountLifecycle>,
}

fn date_flag(flag: &str, text: &str) -> Result<Date, Failure> {
    Date::parse(text).ok_or_else(|| {
        Failure::bad_input(anyhow!(
            "{flag} {text:?} is not a date; write it like 2026-03-01"
        ))
    })
}

fn load(source: &TransactionSource, db: &str) -> Result<Loaded, Failure> {
    let mut loaded = load_any(source, db)?;
    if let Some(survey) = &source.survey {
        let categories = survey_categories(db, survey)?;
        let of = |code: &str| {
            categories
                .get(code)
                .copied()
                .unwrap_or("no_answer")
                .to_string()
        };
        for (p, slice) in &mut loaded.purchases {
            *slice = of(&p.customer);
        }
        for (code, _, _, slice) in &mut loaded.lifecycles {
            *slice = of(code);
        }
    }
    if loaded.currencies.len() > 1 && source.by.as_deref() != Some("currency") {
        let list: Vec<&str> = loaded.currencies.iter().map(String::as_str).collect();
        eprintln!(
            "warning: amounts in {} currencies ({}) are added as they are; slice with --by currency to keep them apart",
            list.len(),
            list.join(", ")
        );
    }
    Ok(loaded)
}

fn load_any(source: &TransactionSource, db: &str) -> Result<Loaded, Failure> {
    match &source.transactions {
        Some(path) => load_file(source, path),
        None => block_on(async {
            let store = cx_store::open(db).await.map_err(store_failure)?;
            let rows = store
                .purchases(source.by.as_deref())
                .await
                .map_err(store_failure)?;
            // Transaction-only fields slice purchases; accounts have no such field.
            let lifecycles = match source.by.as_deref() {
                Some("product_line" | "currency") => Vec::new(),
                by => store.account_lifecycles(by).await.map_err(store_failure)?,
            };
            let currencies = rows.iter().map(|p| p.currency.clone()).collect();
            Ok(Loaded {
                currencies,
                purchases: rows
                    .into_iter()
                    .map(|p| {
                        (
                            Purchase {
                                customer: p.customer,
                                date: Date::from_days(p.day),
                                amount: p.amount_minor as f64 / 100.0,
                            },
                            p.slice,
                        )
                    })
                    .collect(),
                lifecycles,
            })
        }),
    }
}

fn load_file(source: &TransactionSource, path: &std::path::Path) -> Result<Loaded, Failure> {
    let (options, overrides) = scan_setup(source)?;
    let table = TableSource::open(path, &options).map_err(io_failure)?;
    let mapping = map_columns(ImportKind::Transactions, &table.header, &overrides, None)
        .map_err(|e| Failure::bad_input(anyhow!("{}: {e}", path.display())))?;
    let by_col = match &source.by {
        None => None,
        Some(by) => Some(
            table
                .header
                .iter()
                .position(|h| h.trim() == by.trim())
                .ok_or_else(|| {
                    Failure::bad_input(anyhow!(
                        "{}: no column {by:?}; the columns are: {}",
                        path.display(),
                        table.header.join(", ")
                    ))
                })?,
        ),
    };
    let mut reader = RowReader::new(
        ImportKind::Transactions,
        mapping,
        table.header.clone(),
        None,
    );
    let mut purchases = Vec::new();
    let mut rejected = Vec::new();
    let mut currencies = std::collections::BTreeSet::new();
    table
        .for_each_row(&options, &|_| {}, &mut |line, row| {
            match reader.read(line, row) {
                Ok(Record::Transaction(_, t)) => {
                    currencies.insert(t.currency.clone());
                    let slice = by_col
                        .and_then(|i| row.get(i))
                        .map(|s| s.trim().to_string())
                        .unwrap_or_default();
                    purchases.push((
                        Purchase {
                            customer: t.customer,
                            date: t.date,
                            amount: t.amount_minor as f64 / 100.0,
                        },
                        slice,
                    ));
                }
                Ok(_) => {}
                Err(r) => rejected.push(r),
            }
            true
        })
        .map_err(io_failure)?;
    if !rejected.is_empty() {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "warning: {}: {} row(s) left out:",
            path.display(),
            rejected.len()
        );
        for r in rejected.iter().take(5) {
            let _ = writeln!(
                err,
                "  line {}: column {:?} = {:?}: {}",
                r.line, r.column, r.value, r.reason
            );
        }
    }
    Ok(Loaded {
        purchases,
        currencies,
        lifecycles: Vec::new(),
    })
}

/// Scan options from `--encoding`, and `--customer/--date/--amount` as column overrides.
fn scan_setup(source: &TransactionSource) -> Result<(ScanOptions, Vec<(String, String)>), Failure> {
    let encoding = crate::encoding_flag(&source.encoding)?;
    let overrides = [
        (&source.customer, "customer"),
        (&source.date, "date"),
        (&source.amount, "amount"),
    ]
    .into_iter()
    .filter_map(|(col, field)| col.as_ref().map(|c| (c.clone(), field.to_string())))
    .collect();
    Ok((
        ScanOptions {
            encoding,
            ..ScanOptions::default()
        },
        overrides,
    ))
}

fn io_failure(e: cx_io::IoError) -> Failure {
    if e.is_bad_input() {
        Failure::bad_input(e)
    } else {
        Failure::runtime(e)
    }
}

/// Per-customer totals in one parallel streaming pass, when the input is a
/// scannable file (CSV/TSV/JSONL/Parquet) and no slice is asked for.
fn fast_totals(
    source: &TransactionSource,
    as_of: Option<Date>,
) -> Result<Option<Vec<CustomerTotals>>, Failure> {
    let Some(path) = &source.transactions else {
        return Ok(None);
    };
    if source.slice_name().is_some() || cx_io::Format::of(path).is_err() {
        return Ok(None);
    }
    let (options, overrides) = scan_setup(source)?;
    let header = cx_io::header(path, &options).map_err(io_failure)?;
    let mapping = map_columns(ImportKind::Transactions, &header, &overrides, None)
        .map_err(|e| Failure::bad_input(anyhow!("{}: {e}", path.display())))?;
    let name =
        |f: &'static str| -> &str { mapping.fields.get(f).map_or(f, |&i| header[i].as_str()) };
    let progress = crate::progress::Progress::new(std::slice::from_ref(path));
    let scan = cx_io::customers::customer_totals(
        std::slice::from_ref(path),
        [name("customer"), name("date"), name("amount")],
        as_of,
        &options,
        &|b| progress.advance(b),
    );
    progress.finish();
    let scan = scan.map_err(io_failure)?;
    if scan.rejected > 0 {
        let lines: Vec<String> = scan.examples.iter().map(|l| l.line.to_string()).collect();
        eprintln!(
            "warning: {}: {} row(s) left out (no customer, or an unreadable date or amount), e.g. line {}",
            path.display(),
            scan.rejected,
            lines.join(", ")
        );
    }
    Ok(Some(scan.totals))
}

/// Purchases grouped by slice ("" = everything when not slicing).
fn slices(purchases: &[(Purchase, String)]) -> BTreeMap<String, Vec<Purchase>> {
    let mut out: BTreeMap<String, Vec<Purchase>> = BTreeMap::new();
    for (p, s) in purchases {
        out.entry(s.clone()).or_default().push(p.clone());
    }
    out
}

/// Prints `{"groups": [...], "overall": ...}` as JSON, a table, or CSV.
fn print(
    by: Option<&str>,
    groups: Vec<(String, Value)>,
    overall: Value,
    format: OutputFormat,
) -> Result<(), Failure> {
    let key = |v: &str| match by {
        Some(b) => json!({ b: v }),
        None => json!({}),
    };
    let group_values: Vec<Value> = groups
        .iter()
        .map(|(k, v)| {
            let mut o = json!({ "key": key(k) });
            if let (Some(o), Some(v)) = (o.as_object_mut(), v.as_object()) {
                o.extend(v.clone());
            }
            o
        })
        .collect();
    let doc = if by.is_some() {
        json!({ "groups": group_values, "overall": overall })
    } else {
        overall.clone()
    };
    let mut out = std::io::stdout().lock();
    let result = match format {
        OutputFormat::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        ),
        OutputFormat::Csv | OutputFormat::Table => {
            let mut rows: Vec<(String, &Value)> =
                groups.iter().map(|(k, v)| (k.clone(), v)).collect();
            rows.push(("(all)".into(), &overall));
            let mut columns: Vec<String> = Vec::new();
            for (_, v) in &rows {
                if let Some(o) = v.as_object() {
                    for (k, x) in o {
                        if !x.is_object()
                            && !x.is_array()
                            && !columns.contains(k)
                            && Some(k.as_str()) != by
                        {
                            columns.push(k.clone());
                        }
                    }
                }
            }
            let cell = |v: &Value, c: &str| match v.get(c) {
                Some(Value::Number(n)) if format == OutputFormat::Table => n
                    .as_f64()
                    .map(|f| {
                        if f.fract() == 0.0 {
                            format!("{f:.0}")
                        } else {
                            format!("{f:.2}")
                        }
                    })
                    .unwrap_or_default(),
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            let mut header = vec![by.unwrap_or("").to_string()];
            header.extend(columns.iter().cloned());
            let body: Vec<Vec<String>> = rows
                .iter()
                .map(|(k, v)| {
                    let mut line = vec![k.clone()];
                    line.extend(columns.iter().map(|c| cell(v, c)));
                    line
                })
                .collect();
            if format == OutputFormat::Csv {
                let esc = |s: &str| {
                    if s.contains([',', '"', '\n']) {
                        format!("\"{}\"", s.replace('"', "\"\""))
                    } else {
                        s.to_string()
                    }
                };
                writeln!(
                    out,
                    "{}",
                    header.iter().map(|s| esc(s)).collect::<Vec<_>>().join(",")
                )
                .and_then(|_| {
                    body.iter().try_for_each(|r| {
                        writeln!(
                            out,
                            "{}",
                            r.iter().map(|s| esc(s)).collect::<Vec<_>>().join(",")
                        )
                    })
                })
            } else {
                use unicode_width::UnicodeWidthStr;
                let widths: Vec<usize> = (0..header.len())
                    .map(|i| {
                        std::iter::once(&header)
                            .chain(&body)
                            .map(|r| r[i].width())
                            .max()
                            .unwrap_or(0)
                    })
                    .collect();
                let fmt = |r: &Vec<String>| {
                    r.iter()
                        .enumerate()
                        .map(|(i, c)| format!("{c}{}", " ".repeat(widths[i] - c.width() + 2)))
                        .collect::<String>()
                };
                writeln!(out, "{}", fmt(&header).trim_end()).and_then(|_| {
                    body.iter()
                        .try_for_each(|r| writeln!(out, "{}", fmt(r).trim_end()))
                })
            }
        }
    };
    result.map_err(Failure::runtime)
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Runs `cxscore customers …`.
pub fn run_customers(
    cmd: &CustomersCommand,
    db: &str,
    format: OutputFormat,
) -> Result<(), Failure> {
    match cmd {
        CustomersCommand::Retention {
            source,
            from,
            to,
            window,
        } => {
            let (start, end) = (date_flag("--from", from)?, date_flag("--to", to)?);
            if start > end {
                return Err(Failure::bad_input(anyhow!(
                    "--from {from} is after --to {to}"
                )));
            }
            if *window < 1 {
                return Err(Failure::bad_input(anyhow!(
                    "--window {window}: give a number of days ≥ 1"
                )));
            }
            let data = load(source, db)?;
            // Each customer by what is known: lifecycle dates where the account has
            // them, purchases within the window otherwise.
            let mut customers: BTreeMap<String, (CustomerActivity, String)> = BTreeMap::new();
            for (code, since, until, slice) in &data.lifecycles {
                let entry = customers
                    .entry(code.clone())
                    .or_insert_with(|| (CustomerActivity::default(), slice.clone()));
                entry.0.lifecycle = since.map(|s| (s, *until));
            }
            for (p, slice) in &data.purchases {
                let entry = customers
                    .entry(p.customer.clone())
                    .or_insert_with(|| (CustomerActivity::default(), slice.clone()));
                entry.0.purchase_days.push(p.date.days());
            }
            let compute = |slice: Option<&str>| {
                let chosen: Vec<CustomerActivity> = customers
                    .values()
                    .filter(|(_, s)| slice.is_none_or(|x| x == s))
                    .map(|(c, _)| c.clone())
                    .collect();
                retention(&chosen, start, end, *window)
            };
            let keys: std::collections::BTreeSet<&String> =
                customers.values().map(|(_, s)| s).collect();
            let groups = if source.slice_name().is_some() {
                keys.iter()
                    .map(|k| (k.to_string(), to_value(&compute(Some(k)))))
                    .collect()
            } else {
                Vec::new()
            };
            print(
                source.slice_name(),
                groups,
                to_value(&compute(None)),
                format,
            )
        }
        CustomersCommand::Repeat { source, from, to } => {
            let from = from
                .as_deref()
                .map(|t| date_flag("--from", t))
                .transpose()?;
            let to = to.as_deref().map(|t| date_flag("--to", t)).transpose()?;
            let mut data = load(source, db)?;
            data.purchases.retain(|(p, _)| {
                from.is_none_or(|f| p.date >= f) && to.is_none_or(|t| p.date <= t)
            });
            let groups = if source.slice_name().is_some() {
                slices(&data.purchases)
                    .iter()
                    .map(|(k, v)| (k.clone(), to_value(&repeat_rate(v))))
                    .collect()
            } else {
                Vec::new()
            };
            let all: Vec<Purchase> = data.purchases.into_iter().map(|(p, _)| p).collect();
            print(
                source.slice_name(),
                groups,
                to_value(&repeat_rate(&all)),
                format,
            )
        }
        CustomersCommand::Growth { source, interval } => {
            let interval = Interval::parse(interval).map_err(Failure::bad_input)?;
            let data = load(source, db)?;
            let series = |p: &[Purchase]| {
                Value::Array(sales_growth(p, interval).iter().map(to_value).collect())
            };
            let groups: Vec<(String, Value)> = if source.slice_name().is_some() {
                slices(&data.purchases)
                    .iter()
                    .map(|(k, v)| (k.clone(), json!({ "periods": series(v) })))
                    .collect()
            } else {
                Vec::new()
            };
            let data_slices = data.purchases;
            let all: Vec<Purchase> = data_slices.iter().map(|(p, _)| p.clone()).collect();
            let periods = sales_growth(&all, interval);
            if format != OutputFormat::Json {
                // One row per (slice,) period reads better than a nested document.
                let mut rows: Vec<(String, Value)> = Vec::new();
                if source.slice_name().is_some() {
                    for (slice, purchases) in slices(&data_slices) {
                        for p in sales_growth(&purchases, interval) {
                            rows.push((format!("{slice} {}", p.period), to_value(&p)));
                        }
                    }
                } else {
                    rows = periods
                        .iter()
                        .map(|p| (p.period.clone(), to_value(p)))
                        .collect();
                }
                let total: f64 = periods.iter().map(|p| p.sales).sum();
                let key = if source.slice_name().is_some() {
                    "slice period"
                } else {
                    "period"
                };
                return print(Some(key), rows, json!({ "sales": total }), format);
            }
            print(
                source.slice_name(),
                groups,
                json!({ "periods": periods.iter().map(to_value).collect::<Vec<_>>() }),
                format,
            )
        }
        CustomersCommand::ClvFormula {
            source,
            margin,
            discount,
            lifespan,
        } => {
            let data = load(source, db)?;
            let compute = |p: &[Purchase]| -> Value {
                let Some(last) = p.iter().map(|x| x.date).max() else {
                    return json!({ "customers": 0 });
                };
                let first = p.iter().map(|x| x.date).min().unwrap_or(last);
                let years = (f64::from(last.days() - first.days()) / 365.25).max(1.0 / 12.0);
                let stats = repeat_rate(p);
                let average = stats.average_order_value.unwrap_or(0.0);
                let per_year = stats.orders_per_customer.unwrap_or(0.0) / years;
                let churn = retention_from_purchases(p, last.add_days(-365), last, 365).churn_pct;
                let life = lifespan
                    .or_else(|| churn.filter(|c| *c > 0.0).map(|c| 100.0 / c))
                    .unwrap_or(1.0);
                let mut v = to_value(&clv_formula(average, per_year, life, *margin, *discount));
                if let Some(o) = v.as_object_mut() {
                    o.insert("customers".into(), stats.n.into());
                    o.insert(
                        "annual_churn_pct".into(),
                        churn.map_or(Value::Null, Value::from),
                    );
                }
                v
            };
            let groups = if source.slice_name().is_some() {
                slices(&data.purchases)
                    .iter()
                    .map(|(k, v)| (k.clone(), compute(v)))
                    .collect()
            } else {
                Vec::new()
            };
            let all: Vec<Purchase> = data.purchases.into_iter().map(|(p, _)| p).collect();
            print(source.slice_name(), groups, compute(&all), format)
        }
        CustomersCommand::RevenueAtRisk {
            survey,
            question,
            horizon,
            discount,
            margin,
        } => revenue_at_risk(
            db,
            survey,
            question.as_deref(),
            *horizon,
            *discount,
            *margin,
            format,
        ),
        CustomersCommand::Rfm { source, as_of } => {
            let as_of = as_of
                .as_deref()
                .map(|t| date_flag("--as-of", t))
                .transpose()?;
            let (rows, as_of) = match fast_totals(source, as_of)? {
                Some(totals) => {
                    let as_of = match as_of {
                        Some(d) => d,
                        None => totals
                            .iter()
                            .map(|t| t.last)
                            .max()
                            .ok_or_else(|| Failure::bad_input(anyhow!("no transactions")))?,
                    };
                    let totals: Vec<CustomerTotals> =
                        totals.into_iter().filter(|t| t.last <= as_of).collect();
                    (rfm_from_totals(totals, as_of), as_of)
                }
                None => {
                    let data = load(source, db)?;
                    let all: Vec<Purchase> = data.purchases.into_iter().map(|(p, _)| p).collect();
                    let as_of = match as_of {
                        Some(d) => d,
                        None => all
                            .iter()
                            .map(|p| p.date)
                            .max()
                            .ok_or_else(|| Failure::bad_input(anyhow!("no transactions")))?,
                    };
                    (rfm(&all, as_of), as_of)
                }
            };
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let result = match format {
                OutputFormat::Json => {
                    let mut segments: BTreeMap<&str, u64> = BTreeMap::new();
                    for r in &rows {
                        *segments.entry(r.segment).or_insert(0) += 1;
                    }
                    let doc = json!({ "as_of": as_of.to_string(), "segments": segments, "customers": rows.iter().map(to_value).collect::<Vec<_>>() });
                    serde_json::to_writer_pretty(&mut out, &doc)
                        .map_err(std::io::Error::other)
                        .and_then(|_| writeln!(out))
                }
                OutputFormat::Csv => writeln!(
                    out,
                    "customer,recency_days,frequency,monetary,r,f,m,segment,segment_zh"
                )
                .and_then(|_| {
                    rows.iter().try_for_each(|r| {
                        let c: std::borrow::Cow<'_, str> = if r.customer.contains([',', '"', '\n'])
                        {
                            format!("\"{}\"", r.customer.replace('"', "\"\"")).into()
                        } else {
                            r.customer.as_str().into()
                        };
                        writeln!(
                            out,
                            "{c},{},{},{},{},{},{},{},{}",
                            r.recency_days,
                            r.frequency,
                            r.monetary,
                            r.r,
                            r.f,
                            r.m,
                            r.segment,
                            r.segment_zh
                        )
                    })
                }),
                OutputFormat::Table => {
                    drop(out);
                    let rows: Vec<(String, Value)> = rows
                        .iter()
                        .map(|r| (r.customer.clone(), to_value(r)))
                        .collect();
                    return print(
                        Some("customer"),
                        rows,
                        json!({ "as_of": as_of.to_string() }),
                        format,
                    );
                }
            };
            result.and_then(|_| out.flush()).map_err(Failure::runtime)
        }
    }
}

/// A slice's name and its customers' summaries.
type SlicedSummaries = (String, Vec<CustomerSummary>);

/// The summary file's column for one of the names, by header.
fn summary_column(
    path: &std::path::Path,
    header: &[String],
    names: &[&str],
) -> Result<usize, Failure> {
    header
        .iter()
        .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
        .ok_or_else(|| {
            Failure::bad_input(anyhow!(
                "{}: no column {:?}; the columns are: {}",
                path.display(),
                names[0],
                header.join(", ")
            ))
        })
}

/// Fits both models straight from a scannable summary file (CSV/TSV, JSON
/// Lines, Parquet) in one parallel pass that keeps only the distinct histories
/// and the repeat buyers' spend: a fit needs no customer ids.
fn fit_summary_file(path: &std::path::Path) -> Result<Models, Failure> {
    let options = ScanOptions::default();
    let header = cx_io::header(path, &options).map_err(io_failure)?;
    let mut columns = Vec::new();
    for names in [&["frequency", "x"][..], &["recency", "t_x"], &["T"]] {
        columns.push(header[summary_column(path, &header, names)?].clone());
    }
    if let Ok(m) = summary_column(path, &header, &["monetary_value", "monetary", "zbar"]) {
        columns.push(header[m].clone());
    }
    let started = std::time::Instant::now();
    let scan = cx_io::clv::summary_inputs(&[path.to_path_buf()], &columns, &options)
        .map_err(io_failure)?;
    let read = started.elapsed();
    if let Some(at) = scan.first_bad {
        return Err(Failure::bad_input(anyhow!(
            "{}:{}: frequency must be a whole number ≥ 0 and 0 ≤ recency ≤ T",
            path.display(),
            at.line
        )));
    }
    let models = fit_models(&scan.tuples, &scan.buyers)?;
    // For benchmarks: where the time went, without a profiler.
    if std::env::var_os("CXSCORE_TIMINGS").is_some() {
        eprintln!(
            "timing: read {:.1} ms, fit {:.1} ms",
            read.as_secs_f64() * 1e3,
            (started.elapsed() - read).as_secs_f64() * 1e3
        );
    }
    Ok(models)
}

/// The per-customer summaries for the models, one group per slice.
fn summaries(input: &ClvInput, db: &str) -> Result<(Vec<SlicedSummaries>, TimeUnit), Failure> {
    let unit = time_unit(&input.unit)?;
    if let Some(path) = &input.summary {
        let options = ScanOptions::default();
        let table = TableSource::open(path, &options).map_err(io_failure)?;
        let col = |names: &[&str]| summary_column(path, &table.header, names);
        let (id, f, r, t) = (
            col(&["customer_id", "id", "customer"])?,
            col(&["frequency", "x"])?,
            col(&["recency", "t_x"])?,
            col(&["T"])?,
        );
        let m = col(&["monetary_value", "monetary", "zbar"]).ok();
        let mut out = Vec::new();
        let mut bad = None;
        table
            .for_each_row(&options, &|_| {}, &mut |line, row| {
                let num = |i: usize| row.get(i).and_then(|v| v.trim().parse::<f64>().ok());
                match (num(f), num(r), num(t)) {
                    (Some(x), Some(rec), Some(tt))
                        if x >= 0.0 && x.fract() == 0.0 && rec >= 0.0 && tt >= rec =>
                    {
                        out.push(CustomerSummary {
                            customer: row.get(id).cloned().unwrap_or_default(),
                            frequency: x as u32,
                            recency: rec,
                            t: tt,
                            monetary: m.and_then(num).unwrap_or(0.0),
                        });
                        true
                    }
                    _ => {
                        bad = Some(line);
                        false
                    }
                }
            })
            .map_err(io_failure)?;
        if let Some(line) = bad {
            return Err(Failure::bad_input(anyhow!(
                "{}:{line}: frequency must be a whole number ≥ 0 and 0 ≤ recency ≤ T",
                path.display()
            )));
        }
        return Ok((vec![(String::new(), out)], unit));
    }
    let data = load(&input.source, db)?;
    let end = match &input.period_end {
        Some(t) => date_flag("--period-end", t)?,
        None => data
            .purchases
            .iter()
            .map(|(p, _)| p.date)
            .max()
            .ok_or_else(|| Failure::bad_input(anyhow!("no transactions")))?,
    };
    // Without a slice every purchase carries "", so this is one group.
    let groups = slices(&data.purchases)
        .into_iter()
        .map(|(k, ps)| {
            (
                k,
                summarize(
                    ps.iter().map(|p| (p.customer.as_str(), p.date, p.amount)),
                    end,
                    unit,
                ),
            )
        })
        .collect();
    Ok((groups, unit))
}

/// Runs `cxscore clv …`.
pub fn run_clv(cmd: &ClvCommand, db: &str, format: OutputFormat) -> Result<(), Failure> {
    let input = match cmd {
        ClvCommand::Fit { input } | ClvCommand::Predict { input, .. } => input,
    };
    let by = input.source.slice_name().map(str::to_string);
    // One model per slice (`--by`, `--survey`), or one for everybody.
    if by.is_some() && input.summary.is_some() {
        return Err(Failure::bad_input(anyhow!(
            "--summary cannot be sliced; give --transactions or use the database"
        )));
    }
    if let (ClvCommand::Fit { .. }, Some(path)) = (cmd, &input.summary)
        && cx_io::Format::of(path).is_ok()
    {
        time_unit(&input.unit)?;
        let (doc, text) = fit_report(&fit_summary_file(path)?);
        let text = match format {
            OutputFormat::Json => serde_json::to_string_pretty(&doc).unwrap_or_default(),
            _ => text,
        };
        return writeln!(std::io::stdout().lock(), "{text}").map_err(Failure::runtime);
    }
    let (groups, unit) = summaries(input, db)?;
    let mut docs: Vec<Value> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    let mut predictions: Vec<(String, Value)> = Vec::new();
    let mut total_clv = 0.0;
    for (slice, rows) in &groups {
        let label = by.as_ref().map(|b| format!("{b} = {slice}"));
        if let Some(l) = &label {
            eprintln!("== {l}");
        }
        let outcome = clv_one(cmd, rows, unit)?;
        match outcome {
            ClvOutcome::Fit { mut doc, text } => {
                if let (Some(b), Some(o)) = (&by, doc.as_object_mut()) {
                    o.insert("key".into(), json!({ b.as_str(): slice }));
                }
                texts.push(match &label {
                    Some(l) => format!("[{l}]\n{text}"),
                    None => text,
                });
                docs.push(doc);
            }
            ClvOutcome::Predict(rows) => {
                for (customer, mut v) in rows {
                    total_clv += v["clv"].as_f64().unwrap_or(0.0);
                    if let (Some(b), Some(o)) = (&by, v.as_object_mut()) {
                        o.insert(b.clone(), slice.clone().into());
                    }
                    predictions.push((customer, v));
                }
            }
        }
    }
    let mut out = std::io::stdout().lock();
    if !docs.is_empty() {
        let text = match (format, &by) {
            (OutputFormat::Json, None) => {
                serde_json::to_string_pretty(&docs[0]).unwrap_or_default()
            }
            (OutputFormat::Json, Some(_)) => {
                serde_json::to_string_pretty(&json!({ "groups": docs })).unwrap_or_default()
            }
            _ => texts.join("\n\n"),
        };
        return writeln!(out, "{text}").map_err(Failure::runtime);
    }
    if format == OutputFormat::Json {
        let doc: Vec<Value> = predictions
            .into_iter()
            .map(|(c, mut v)| {
                if let Some(o) = v.as_object_mut() {
                    o.insert("customer_id".into(), c.into());
                }
                v
            })
            .collect();
        return writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        )
        .map_err(Failure::runtime);
    }
    drop(out);
    print(
        Some("customer"),
        predictions,
        json!({ "clv": total_clv }),
        format,
    )
}

/// A fit's document and its text, or per-customer predictions.
enum ClvOutcome {
    Fit { doc: Value, text: String },
    Predict(Vec<(String, Value)>),
}

fn time_unit(text: &str) -> Result<TimeUnit, Failure> {
    match text {
        "week" | "weeks" => Ok(TimeUnit::Week),
        "day" | "days" => Ok(TimeUnit::Day),
        other => Err(Failure::bad_input(anyhow!(
            "--unit {other:?}: use day or week"
        ))),
    }
}

/// Both models fitted, with what the user should know about the fit.
struct Models {
    bg: BgNbdFit,
    gg: Option<GammaGammaFit>,
    warnings: Vec<String>,
    distinct: usize,
}

/// Fits both models on `rows` and builds the fit report or the predictions.
fn clv_one(
    cmd: &ClvCommand,
    rows: &[CustomerSummary],
    unit: TimeUnit,
) -> Result<ClvOutcome, Failure> {
    let models = fit_models(
        &distinct_tuples(rows),
        &rows
            .iter()
            .map(|r| (r.frequency, r.monetary))
            .collect::<Vec<_>>(),
    )?;
    match cmd {
        ClvCommand::Fit { .. } => {
            let (doc, text) = fit_report(&models);
            Ok(ClvOutcome::Fit { doc, text })
        }
        ClvCommand::Predict {
            horizon,
            discount,
            margin,
            ..
        } => Ok(predictions(
            &models, rows, unit, *horizon, *discount, *margin,
        )),
    }
}

/// Fits BG/NBD on the distinct histories and Gamma-Gamma on the repeat
/// buyers' `(x, m_x)`, and says when the data cannot support them.
fn fit_models(tuples: &[((u32, f64, f64), u64)], buyers: &[(u32, f64)]) -> Result<Models, Failure> {
    let bg =
        BgNbd::fit(tuples).ok_or_else(|| Failure::bad_input(anyhow!("no customers to fit")))?;
    let gg = GammaGamma::fit(buyers);
    // Say plainly when the data cannot support the models.
    let mut warnings: Vec<String> = Vec::new();
    if bg.customers < 30 {
        warnings.push(format!(
            "only {} customers: too few for stable estimates",
            bg.customers
        ));
    }
    let extreme = |v: f64| !(1e-6..=1e6).contains(&v);
    if bg.se.is_none()
        || [bg.params.r, bg.params.alpha, bg.params.a, bg.params.b]
            .into_iter()
            .any(extreme)
    {
        warnings.push("BG/NBD: the likelihood has no interior maximum (a parameter at a limit or no standard errors); treat predictions with care".into());
    }
    match &gg {
        None => warnings.push("Gamma-Gamma: no repeat buyers with spend; expected spend falls back to observed means".into()),
        Some(g) if g.se.is_none() || [g.params.p, g.params.q, g.params.v].into_iter().any(extreme) => {
            warnings.push("Gamma-Gamma: a parameter at a limit or no standard errors (spend barely varies within customers?)".into())
        }
        Some(g) if g.params.q <= 1.0 => warnings.push("Gamma-Gamma: q ≤ 1, the population mean spend is undefined".into()),
        _ => {}
    }
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    Ok(Models {
        bg,
        gg,
        warnings,
        distinct: tuples.len(),
    })
}

/// The fit report: its JSON document and its text.
fn fit_report(models: &Models) -> (Value, String) {
    let Models {
        bg,
        gg,
        warnings,
        distinct,
    } = models;
    let se4 = bg
        .se
        .map(|s| json!({"r": s[0], "alpha": s[1], "a": s[2], "b": s[3]}));
    let gg_json = gg.as_ref().map(|g| {
        json!({"p": g.params.p, "q": g.params.q, "v": g.params.v,
               "se": g.se.map(|s| json!({"p": s[0], "q": s[1], "v": s[2]})),
               "log_likelihood": g.log_likelihood, "customers": g.customers})
    });
    let doc = json!({
        "bgnbd": {"r": bg.params.r, "alpha": bg.params.alpha, "a": bg.params.a, "b": bg.params.b,
                  "se": se4, "log_likelihood": bg.log_likelihood},
        "gamma_gamma": gg_json,
        "customers": bg.customers,
        "distinct_tuples": distinct,
        "warnings": warnings,
    });
    let text = {
        let se = |i: usize| {
            bg.se
                .map_or(String::new(), |s| format!(" (se {:.4})", s[i]))
        };
        let mut t = format!(
            "BG/NBD on {} customers ({} distinct histories), log-likelihood {:.2}\n  r = {:.4}{}  alpha = {:.4}{}  a = {:.4}{}  b = {:.4}{}\n",
            bg.customers,
            distinct,
            bg.log_likelihood,
            bg.params.r,
            se(0),
            bg.params.alpha,
            se(1),
            bg.params.a,
            se(2),
            bg.params.b,
            se(3)
        );
        match &gg {
                Some(g) => t.push_str(&format!(
                    "Gamma-Gamma on {} repeat buyers, log-likelihood {:.2}\n  p = {:.4}  q = {:.4}  v = {:.4}\n",
                    g.customers, g.log_likelihood, g.params.p, g.params.q, g.params.v
                )),
                None => t.push_str("Gamma-Gamma: no repeat buyers with spend; not fitted\n"),
            }
        t.trim_end().to_string()
    };
    (doc, text)
}

/// Per-customer predictions over `horizon`.
fn predictions(
    models: &Models,
    rows: &[CustomerSummary],
    unit: TimeUnit,
    horizon: f64,
    discount: f64,
    margin: f64,
) -> ClvOutcome {
    let Models { bg, gg, .. } = models;
    let (horizon, discount, margin) = (&horizon, &discount, &margin);
    let month = match unit {
        TimeUnit::Week => 52.0 / 12.0,
        TimeUnit::Day => 365.25 / 12.0,
    };
    let steps = ((horizon / month).round() as u32).max(1);
    let predictions: Vec<(String, Value)> = rows
        .iter()
        .map(|r| {
            let history = (r.frequency, r.recency, r.t);
            let spend = gg.as_ref().map(|g| g.params.conditional_expected_value(r.frequency, r.monetary));
            let purchases = bg.params.conditional_expected_purchases(*horizon, r.frequency, r.recency, r.t);
            let clv = spend.map(|s| discounted_clv(&bg.params, history, s * margin, *horizon, steps, *discount));
            (
                r.customer.clone(),
                json!({"frequency": r.frequency, "recency": r.recency, "T": r.t, "monetary_value": r.monetary,
                       "expected_purchases": purchases,
                       "p_alive": bg.params.probability_alive(r.frequency, r.recency, r.t),
                       "expected_spend": spend, "clv": clv}),
            )
        })
        .collect();
    ClvOutcome::Predict(predictions)
}

/// Each account's category by its latest answer to the survey's NPS question
/// (else CSAT, else CES).
fn survey_categories(db: &str, survey: &str) -> Result<BTreeMap<String, &'static str>, Failure> {
    use cx_core::model::survey::QuestionKind;
    block_on(async {
        let store = cx_store::open(db).await.map_err(store_failure)?;
        let stored = store.survey(survey).await.map_err(store_failure)?;
        let q = [QuestionKind::Nps, QuestionKind::Csat, QuestionKind::Ces]
            .iter()
            .find_map(|k| stored.definition.first_of(*k).cloned())
            .ok_or_else(|| {
                Failure::bad_input(anyhow!(
                    "survey {survey:?} has no NPS, CSAT or CES question"
                ))
            })?;
        let scale = q
            .rating_scale()
            .ok_or_else(|| Failure::bad_input(anyhow!("question {:?} is not rated", q.id)))?;
        let harder = q.direction == Some(cx_core::survey::ces::CesDirection::HigherIsHarder);
        let scores = store
            .latest_scores(stored.id, &q.id)
            .await
            .map_err(store_failure)?;
        Ok(scores
            .into_iter()
            .map(|(code, s)| (code, category(q.kind, scale, s, harder)))
            .collect())
    })
}

/// A score's category: NPS promoter/passive/detractor; CSAT and CES bands.
fn category(
    kind: cx_core::model::survey::QuestionKind,
    scale: cx_core::survey::scale::Scale,
    score: i64,
    harder: bool,
) -> &'static str {
    use cx_core::model::survey::QuestionKind as K;
    let (lo, hi) = (i64::from(scale.min), i64::from(scale.max));
    match kind {
        K::Nps => match score {
            9..=10 => "promoter",
            7..=8 => "passive",
            _ => "detractor",
        },
        K::Ces => {
            let ease = if harder { lo + hi - score } else { score };
            if ease >= hi - 2 {
                "easy"
            } else if ease <= lo + 2 {
                "hard"
            } else {
                "neutral"
            }
        }
        _ => {
            if score >= hi - 1 {
                "satisfied"
            } else if score <= lo + 1 {
                "dissatisfied"
            } else {
                "neutral"
            }
        }
    }
}

/// `customers revenue-at-risk`: predicted CLV by the latest survey category.
fn revenue_at_risk(
    db: &str,
    survey: &str,
    question: Option<&str>,
    horizon: f64,
    discount: f64,
    margin: f64,
    format: OutputFormat,
) -> Result<(), Failure> {
    use cx_core::model::survey::QuestionKind;
    let (stored, scores, purchases) = block_on(async {
        let store = cx_store::open(db).await.map_err(store_failure)?;
        let stored = store.survey(survey).await.map_err(store_failure)?;
        let def = &stored.definition;
        let q = match question {
            Some(id) => def
                .question(id)
                .cloned()
                .ok_or_else(|| Failure::bad_input(anyhow!("the survey has no question {id:?}")))?,
            None => [QuestionKind::Nps, QuestionKind::Csat, QuestionKind::Ces]
                .iter()
                .find_map(|k| def.first_of(*k).cloned())
                .ok_or_else(|| {
                    Failure::bad_input(anyhow!("the survey has no NPS, CSAT or CES question"))
                })?,
        };
        let scores = store
            .latest_scores(stored.id, &q.id)
            .await
            .map_err(store_failure)?;
        let purchases = store.purchases(None).await.map_err(store_failure)?;
        Ok::<_, Failure>(((stored, q), scores, purchases))
    })?;
    let (_, q) = stored;
    let scale = q
        .rating_scale()
        .ok_or_else(|| Failure::bad_input(anyhow!("question {:?} is not rated", q.id)))?;
    let harder = q.direction == Some(cx_core::survey::ces::CesDirection::HigherIsHarder);
    let end = purchases
        .iter()
        .map(|p| p.day)
        .max()
        .map(Date::from_days)
        .ok_or_else(|| Failure::bad_input(anyhow!("no transactions in the database")))?;
    let rows = summarize(
        purchases.iter().map(|p| {
            (
                p.customer.as_str(),
                Date::from_days(p.day),
                p.amount_minor as f64 / 100.0,
            )
        }),
        end,
        TimeUnit::Week,
    );
    let bg = BgNbd::fit(&distinct_tuples(&rows))
        .ok_or_else(|| Failure::bad_input(anyhow!("no customers to fit")))?;
    let gg = GammaGamma::fit(
        &rows
            .iter()
            .map(|r| (r.frequency, r.monetary))
            .collect::<Vec<_>>(),
    );
    let steps = ((horizon / (52.0 / 12.0)).round() as u32).max(1);
    let by_customer: BTreeMap<&str, i64> = scores.iter().map(|(c, s)| (c.as_str(), *s)).collect();
    // (category, customer, p_alive, clv, frequency)
    let mut per: Vec<(&'static str, &str, f64, f64, u32)> = Vec::new();
    for r in &rows {
        let cat = by_customer
            .get(r.customer.as_str())
            .map_or("no_answer", |s| category(q.kind, scale, *s, harder));
        let spend = gg.as_ref().map_or(r.monetary, |g| {
            g.params.conditional_expected_value(r.frequency, r.monetary)
        });
        let clv = discounted_clv(
            &bg.params,
            (r.frequency, r.recency, r.t),
            spend * margin,
            horizon,
            steps,
            discount,
        );
        per.push((
            cat,
            &r.customer,
            bg.params.probability_alive(r.frequency, r.recency, r.t),
            clv,
            r.frequency,
        ));
    }
    let mut groups: BTreeMap<&str, (u64, f64, f64, u64)> = BTreeMap::new();
    for (cat, _, alive, clv, freq) in &per {
        let g = groups.entry(cat).or_default();
        g.0 += 1;
        g.1 += clv;
        g.2 += alive;
        g.3 += u64::from(*freq >= 1);
    }
    let total: f64 = per.iter().map(|p| p.3).sum();
    let group_rows: Vec<(String, Value)> = groups
        .iter()
        .map(|(cat, (n, clv, alive, repeat))| {
            (
                cat.to_string(),
                json!({"accounts": n, "clv": clv, "clv_share_pct": if total > 0.0 { 100.0 * clv / total } else { 0.0 },
                       "mean_p_alive": alive / *n as f64, "repeat_pct": 100.0 * *repeat as f64 / *n as f64}),
            )
        })
        .collect();
    let negative = ["detractor", "dissatisfied", "hard"];
    let mut at_risk: Vec<&(&str, &str, f64, f64, u32)> = per
        .iter()
        .filter(|p| negative.contains(&p.0) || p.2 < 0.5)
        .collect();
    at_risk.sort_by(|a, b| b.3.total_cmp(&a.3));
    let positive = ["promoter", "satisfied", "easy"];
    let mut loyal: Vec<&(&str, &str, f64, f64, u32)> = per
        .iter()
        .filter(|p| positive.contains(&p.0) && p.4 >= 1 && p.2 >= 0.8)
        .collect();
    loyal.sort_by(|a, b| b.3.total_cmp(&a.3));
    let list = |v: &[&(&str, &str, f64, f64, u32)]| -> Vec<Value> {
        v.iter().take(20).map(|(cat, c, alive, clv, _)| json!({"customer": c, "category": cat, "p_alive": alive, "clv": clv})).collect()
    };
    let at_risk_clv: f64 = at_risk.iter().map(|p| p.3).sum();
    if format == OutputFormat::Json {
        let doc = json!({
            "question": q.id, "horizon_weeks": horizon, "accounts": per.len(), "clv_total": total,
            "revenue_at_risk": at_risk_clv,
            "groups": group_rows.iter().map(|(k, v)| { let mut o = v.clone(); o["key"] = json!({"category": k}); o }).collect::<Vec<_>>(),
            "at_risk": list(&at_risk), "high_loyalty": list(&loyal),
        });
        return writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        )
        .map_err(Failure::runtime);
    }
    print(
        Some("category"),
        group_rows,
        json!({ "accounts": per.len(), "clv": total }),
        format,
    )?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "\nrevenue at risk (negative {} or P(alive) < 0.5): {at_risk_clv:.2} of {total:.2} expected over {horizon} weeks; {} accounts to care for",
        q.id,
        loyal.len()
    )
    .map_err(Failure::runtime)
}
