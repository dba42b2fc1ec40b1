//! `cxscore customers …` and `cxscore clv …` as a user runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cx(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cxscore"))
        .current_dir(root())
        .env_remove("CXSCORE_DB")
        .args(args)
        .output()
        .expect("runs")
}

fn json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = cx(&all);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cxscore-cust-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

const CDNOW: &str = "crates/cx-core/tests/data/cdnow_summary.csv";

#[test]
fn clv_fit_on_the_cdnow_summary() {
    let fit = json(&["clv", "fit", "--summary", CDNOW]);
    let bg = &fit["bgnbd"];
    let close =
        |v: &Value, want: f64, rel: f64| (v.as_f64().expect("number") - want).abs() <= rel * want;
    assert!(
        close(&bg["r"], 0.243, 2e-3) && close(&bg["alpha"], 4.414, 2e-3),
        "{bg}"
    );
    assert!(
        close(&bg["a"], 0.793, 2e-3) && close(&bg["b"], 2.426, 2e-3),
        "{bg}"
    );
    assert!(bg["se"]["alpha"].as_f64().is_some_and(|s| s > 0.0));
    assert!(
        close(&fit["gamma_gamma"]["p"], 6.25, 5e-3) && close(&fit["gamma_gamma"]["v"], 15.44, 5e-3)
    );
    assert_eq!(fit["customers"], 2357);

    let predictions = json(&["clv", "predict", "--summary", CDNOW, "--horizon", "39"]);
    let first = predictions
        .as_array()
        .and_then(|a| a.first())
        .expect("rows");
    assert_eq!(first["customer_id"], "1");
    assert!(
        (first["expected_purchases"].as_f64().expect("e") - 1.226).abs() < 2e-3,
        "{first}"
    );
    assert!(first["clv"].as_f64().is_some_and(|c| c > 0.0));
}

#[test]
fn clv_fit_reads_a_summary_in_any_column_order_and_names_a_bad_row() {
    // The CDNOW summary with its columns reordered and as TSV: the same fit.
    let dir = tempdir("summary");
    let text = std::fs::read_to_string(root().join(CDNOW)).expect("cdnow");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let order: Vec<usize> = (0..header.len()).rev().collect();
    let mut tsv = String::new();
    for line in std::iter::once(header.join(",")).chain(lines.map(str::to_string)) {
        let cells: Vec<&str> = line.split(',').collect();
        let row: Vec<&str> = order.iter().map(|&i| cells[i]).collect();
        tsv.push_str(&row.join("\t"));
        tsv.push('\n');
    }
    let reordered = dir.join("summary.tsv");
    std::fs::write(&reordered, tsv).expect("write");
    let a = json(&["clv", "fit", "--summary", CDNOW]);
    let b = json(&["clv", "fit", "--summary", reordered.to_str().expect("path")]);
    for (model, keys) in [
        ("bgnbd", &["r", "alpha", "a", "b"][..]),
        ("gamma_gamma", &["p", "q", "v"]),
    ] {
        for k in keys {
            let (x, y) = (
                a[model][k].as_f64().expect("a"),
                b[model][k].as_f64().expect("b"),
            );
            assert!((x - y).abs() <= 1e-9 * x.abs(), "{model}.{k}: {x} vs {y}");
        }
    }
    // A frequency that is not a whole number, on line 3.
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        "customer_id,frequency,recency,T\na,1,3,10\nb,1.5,3,10\n",
    )
    .expect("write");
    let out = cx(&["clv", "fit", "--summary", bad.to_str().expect("path")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad.csv:3:") && err.contains("whole number"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn customer_metrics_from_a_transaction_file() {
    let dir = tempdir("file");
    let log = dir.join("orders.csv");
    std::fs::write(
        &log,
        "客户编号,下单日期,订单金额,区域\nA,2024-06-01,100,华东\nA,2025-11-01,50,华东\nB,2024-12-01,80,华南\nC,2025-04-01,\"¥1,000\",华南\nC,2025-04-20,200,华南\nD,2025-05-01,oops,华南\n",
    )
    .expect("write");
    let file = log.to_str().expect("path");
    let r = json(&[
        "customers",
        "retention",
        "--transactions",
        file,
        "--from",
        "2025-01-01",
        "--to",
        "2025-12-31",
    ]);
    assert_eq!(
        (
            r["start_customers"].as_u64(),
            r["end_customers"].as_u64(),
            r["new_customers"].as_u64()
        ),
        (Some(2), Some(2), Some(1))
    );
    assert_eq!(r["retention_pct"], 50.0);
    let by = json(&[
        "customers",
        "repeat",
        "--transactions",
        file,
        "--by",
        "区域",
    ]);
    let groups = by["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 2);
    assert_eq!(by["overall"]["repeat_customers"], 2);
    let growth = json(&[
        "customers",
        "growth",
        "--transactions",
        file,
        "--interval",
        "year",
    ]);
    assert_eq!(growth["periods"][1]["sales"], 1250.0);
    let rfm = json(&["customers", "rfm", "--transactions", file]);
    assert_eq!(rfm["customers"].as_array().map(Vec::len), Some(3));
    // The streaming path (CSV) and the row-by-row path (XLSX) agree.
    let xlsx = dir.join("orders.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let text = std::fs::read_to_string(&log).expect("read");
    let mut reader_rows = Vec::new();
    for line in text.lines() {
        // The amount "¥1,000" is quoted in the CSV; rebuild the cells by hand.
        let cells: Vec<String> = if line.contains('"') {
            let (head, rest) = line.split_once(",\"").expect("quoted");
            let (quoted, tail) = rest.split_once("\",").expect("closed");
            let mut c: Vec<String> = head.split(',').map(String::from).collect();
            c.push(quoted.to_string());
            c.extend(tail.split(',').map(String::from));
            c
        } else {
            line.split(',').map(String::from).collect()
        };
        reader_rows.push(cells);
    }
    for (r, cells) in reader_rows.iter().enumerate() {
        for (c, v) in cells.iter().enumerate() {
            sheet
                .write_string(r as u32, c as u16, v.as_str())
                .expect("write");
        }
    }
    book.save(&xlsx).expect("save");
    let from_xlsx = json(&[
        "customers",
        "rfm",
        "--transactions",
        xlsx.to_str().expect("path"),
    ]);
    assert_eq!(from_xlsx, rfm);
    // The bad amount is reported, not silently dropped.
    let out = cx(&["customers", "repeat", "--transactions", file]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 7"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // --as-of ignores later purchases but keeps the customer (streaming path).
    let before = json(&[
        "customers",
        "rfm",
        "--transactions",
        file,
        "--as-of",
        "2025-06-30",
    ]);
    let a = before["customers"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["customer"] == "A")
        .cloned()
        .expect("A kept");
    assert_eq!(
        (a["frequency"].as_u64(), a["monetary"].as_f64()),
        (Some(1), Some(100.0))
    );
    let fit = json(&["clv", "fit", "--transactions", file, "--unit", "day"]);
    assert!(
        fit["warnings"].as_array().is_some_and(|w| !w.is_empty()),
        "three customers are too few: {fit}"
    );
    assert_eq!(fit["customers"], 3);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn customer_metrics_from_the_database() {
    let dir = tempdir("db");
    let db = format!("sqlite://{}", dir.join("cx.db").display());
    json(&["--db", &db, "demo", "--accounts", "40", "--seed", "3"]);
    let r = json(&[
        "--db",
        &db,
        "customers",
        "retention",
        "--from",
        "2025-01-01",
        "--to",
        "2025-12-31",
        "--by",
        "region",
    ]);
    assert_eq!(r["overall"]["basis"], "lifecycle");
    assert!(
        r["overall"]["retention_pct"]
            .as_f64()
            .is_some_and(|v| v > 0.0 && v <= 100.0)
    );
    let clv = json(&[
        "--db",
        &db,
        "customers",
        "clv-formula",
        "--margin",
        "0.3",
        "--discount",
        "0.1",
        "--by",
        "tier",
    ]);
    assert!(clv["groups"].as_array().is_some_and(|g| !g.is_empty()));
    let risk = json(&[
        "--db",
        &db,
        "customers",
        "revenue-at-risk",
        "--survey",
        "relationship-2026",
    ]);
    let groups = risk["groups"].as_array().expect("groups");
    let total: f64 = groups.iter().map(|g| g["clv"].as_f64().expect("clv")).sum();
    assert!((total - risk["clv_total"].as_f64().expect("total")).abs() < 1e-6 * total);
    assert!(groups.iter().any(|g| g["key"]["category"] == "detractor"));
    assert!(
        risk["revenue_at_risk"]
            .as_f64()
            .is_some_and(|r| r > 0.0 && r < total)
    );
    let by_tier = json(&["--db", &db, "clv", "fit", "--by", "tier"]);
    let groups = by_tier["groups"].as_array().expect("one fit per tier");
    assert!(
        groups.len() >= 2
            && groups
                .iter()
                .all(|g| g["key"]["tier"].is_string() && g["bgnbd"]["r"].is_number())
    );
    let fit = json(&["--db", &db, "clv", "fit"]);
    assert!(fit["bgnbd"]["r"].as_f64().is_some_and(|r| r > 0.0));
    let bad = cx(&["--db", &db, "customers", "repeat", "--by", "colour"]);
    assert_eq!(bad.status.code(), Some(2));
    let bad = cx(&["clv", "fit", "--summary", CDNOW, "--unit", "month"]);
    assert_eq!(bad.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}
