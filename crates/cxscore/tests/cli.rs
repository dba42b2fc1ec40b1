//! The `cxscore metrics` command as a user runs it: every flag on the example
//! export and its GB18030 copy, the golden JSON, and the errors a user meets.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cxscore"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("runs")
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    serde_json::from_str(&ok(&all)).expect("JSON")
}

const BASE: [&str; 12] = [
    "metrics",
    "--input",
    "examples/responses.csv",
    "--nps",
    "nps",
    "--csat",
    "csat",
    "--ces",
    "ces",
    "--dim",
    "product_quality",
    "--dim=service_attitude",
];

fn with(extra: &[&'static str]) -> Vec<&'static str> {
    let mut v = BASE.to_vec();
    v.extend(extra);
    v
}

/// `tests/golden/metrics-by-region.json` is exactly what the binary prints.
/// Regenerate with `UPDATE_GOLDEN=1 cargo test -p cxscore --test cli`.
#[test]
fn golden_json_by_region() {
    let args = with(&[
        "--dim",
        "response_speed",
        "--dim",
        "delivery_speed",
        "--dim",
        "price",
        "--by",
        "region",
        "--format",
        "json",
    ]);
    let got = ok(&args);
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/metrics-by-region.json");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &got).expect("write golden");
    }
    let want = std::fs::read_to_string(&golden).expect("golden file (UPDATE_GOLDEN=1 to create)");
    assert_eq!(got, want, "output differs from {}", golden.display());
}

#[test]
fn gbk_copy_matches_utf8() {
    for extra in [
        &["--by", "region"][..],
        &[
            "--time",
            "submitted_at",
            "--interval",
            "quarter",
            "--compare",
            "previous",
        ],
    ] {
        let mut utf8 = with(extra);
        let mut gbk = utf8.clone();
        gbk[2] = "examples/responses-gbk.csv";
        let (mut a, mut b) = (json(&utf8), json(&gbk));
        // Only the file name in the excluded-cell locations may differ.
        a["excluded"] = Value::Null;
        b["excluded"] = Value::Null;
        assert_eq!(a, b);
        utf8.extend(["--encoding", "gb18030"]);
        utf8[2] = "examples/responses-gbk.csv";
        assert!(run(&utf8).status.success());
    }
}

#[test]
fn every_interval_and_window_compare() {
    for interval in ["day", "week", "month", "quarter", "year"] {
        let v = json(&with(&["--time", "submitted_at", "--interval", interval]));
        let groups = v["groups"].as_array().expect("groups");
        assert!(!groups.is_empty());
        let total: u64 = groups.iter().map(|g| g["n"].as_u64().expect("n")).sum();
        assert_eq!(total, 412, "{interval}: every row lands in one period");
    }
    // 91 days from April 1st; the comparison is the 91 days before.
    let v = json(&with(&[
        "--time",
        "submitted_at",
        "--from",
        "2026-04-01",
        "--to",
        "2026-06-30",
        "--compare",
        "previous",
    ]));
    assert_eq!(
        v["comparison_window"],
        serde_json::json!(["2025-12-31", "2026-03-31"])
    );
    assert!(v["overall"]["nps"]["change"]["score"]["p_value"].is_number());
    let in_window = v["overall"]["n"].as_u64().expect("n");
    let q2 = json(&with(&[
        "--time",
        "submitted_at",
        "--interval",
        "quarter",
        "--from",
        "2026年4月1日",
        "--to",
        "2026/6/30",
    ]));
    assert_eq!(q2["groups"][0]["key"]["period"], "2026-Q2");
    assert_eq!(q2["groups"][0]["n"].as_u64(), Some(in_window));
}

#[test]
fn where_filters_and_several_by_columns() {
    let all = json(&with(&["--by", "region"]));
    let east = json(&with(&["--where", "region=华东"]));
    let from_groups = all["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["key"]["region"] == "华东")
        .cloned();
    assert_eq!(
        Some(east["overall"]["nps"].clone()),
        from_groups.map(|g| g["nps"].clone())
    );
    let two = json(&with(&["--where", "region=华东", "--where", "region=华南"]));
    let sum: u64 = all["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter(|g| g["key"]["region"] == "华东" || g["key"]["region"] == "华南")
        .map(|g| g["n"].as_u64().expect("n"))
        .sum();
    assert_eq!(two["overall"]["n"].as_u64(), Some(sum));
    let cross = json(&with(&["--by", "region,channel"]));
    assert!(cross["groups"][0]["key"]["channel"].is_string());
    assert!(
        cross["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .any(|g| g["warnings"].as_array().is_some_and(|w| !w.is_empty()))
    );
}

#[test]
fn anonymous_suppresses_small_groups() {
    let v = json(&with(&["--by", "account,channel", "--anonymous"]));
    let groups = v["groups"].as_array().expect("groups");
    let small: Vec<&Value> = groups
        .iter()
        .filter(|g| g["n"].as_u64().expect("n") < 5)
        .collect();
    assert!(!small.is_empty(), "some account has fewer than 5 answers");
    for g in small {
        assert_eq!(g["nps"]["suppressed"], true);
        assert!(g["nps"].get("score").is_none() && g.get("csi").is_none());
        assert!(
            g["warnings"]
                .as_array()
                .expect("warnings")
                .contains(&Value::from("suppressed"))
        );
    }
}

#[test]
fn ces_direction_weights_and_scales() {
    let easier = json(&with(&[]));
    let harder = json(&with(&["--ces-direction", "higher-is-harder"]));
    let e = easier["overall"]["ces"]["mean"].as_f64().expect("mean");
    let h = harder["overall"]["ces"]["mean"].as_f64().expect("mean");
    assert!(
        (e + h - 8.0).abs() < 1e-12,
        "reverse-coded on 1–7: {e} + {h} = 8"
    );
    let weighted = json(&with(&[
        "--weights",
        "product_quality=3,service_attitude=1",
    ]));
    let pq = weighted["overall"]["dims"]["product_quality"]["index"]
        .as_f64()
        .expect("index");
    let sa = weighted["overall"]["dims"]["service_attitude"]["index"]
        .as_f64()
        .expect("index");
    let csi = weighted["overall"]["csi"].as_f64().expect("csi");
    assert!((csi - (3.0 * pq + sa) / 4.0).abs() < 1e-9);
    let ten = json(&with(&["--dim", "price10=price:0-10"]));
    assert!(
        (ten["overall"]["dims"]["price10"]["index"]
            .as_f64()
            .expect("index")
            - 32.3)
            .abs()
            < 1.0
    );
}

#[test]
fn table_and_csv_formats() {
    let table = ok(&with(&[
        "--by",
        "region",
        "--time",
        "submitted_at",
        "--interval",
        "year",
        "--compare",
        "previous",
    ]));
    assert!(table.lines().next().expect("header").starts_with("region"));
    assert!(
        table.contains("华东") && table.contains("(all)") && table.contains("significant change")
    );
    // CJK cells are two columns wide: every metric column lines up.
    let col = |line: &str| unicode_col(line, "NPS");
    let cols: Vec<usize> = table
        .lines()
        .filter(|l| l.contains("  NPS  "))
        .map(col)
        .collect();
    assert!(
        cols.len() > 3 && cols.iter().all(|c| *c == cols[0]),
        "{cols:?}"
    );

    let csv = ok(&with(&["--by", "region", "--format", "csv"]));
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    assert!(
        header.contains(&"key.region")
            && header.contains(&"nps.ci95.lo")
            && header.contains(&"csat.top2_pct")
    );
    assert_eq!(
        csv.lines().count(),
        1 + 6 + 1,
        "header, six regions, overall"
    );
}

/// Display column where `needle` starts, counting CJK as two.
fn unicode_col(line: &str, needle: &str) -> usize {
    let byte = line.find(needle).expect("needle");
    line[..byte]
        .chars()
        .map(|c| if (c as u32) >= 0x2E80 { 2 } else { 1 })
        .sum()
}

#[test]
fn user_errors_exit_2_with_a_clear_message() {
    let cases: [(&[&str], &str); 9] = [
        (
            &[
                "metrics",
                "--input",
                "examples/responses.csv",
                "--nps",
                "NPS_score",
            ],
            "the columns are: response_id",
        ),
        (
            &["metrics", "--input", "missing.csv", "--nps", "nps"],
            "missing.csv",
        ),
        (
            &["metrics", "--input", "examples/README.md", "--nps", "nps"],
            "cannot tell the format",
        ),
        (
            &["metrics", "--input", "examples/responses.csv"],
            "nothing to compute",
        ),
        (
            &[
                "metrics",
                "--input",
                "examples/responses.csv",
                "--nps",
                "nps",
                "--interval",
                "month",
            ],
            "need --time",
        ),
        (
            &[
                "metrics",
                "--input",
                "examples/responses.csv",
                "--nps",
                "nps",
                "--time",
                "submitted_at",
                "--from",
                "March",
            ],
            "is not a date",
        ),
        (
            &[
                "metrics",
                "--input",
                "examples/responses.csv",
                "--nps",
                "nps",
                "--compare",
                "previous",
            ],
            "--compare previous needs",
        ),
        (
            &[
                "metrics",
                "--input",
                "examples/responses.csv",
                "--nps",
                "nps",
                "--where",
                "region",
            ],
            "COL=VALUE",
        ),
        (
            &[
                "metrics",
                "--input",
                "examples/responses.csv",
                "--nps",
                "nps",
                "--encoding",
                "latin1",
            ],
            "--encoding",
        ),
    ];
    for (args, message) in cases {
        let out = run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(message),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn exclusions_are_warned_on_stderr() {
    let out = run(&BASE);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: column \"nps\" (nps): 2 cells excluded, not a number"),
        "{stderr}"
    );
    assert!(stderr.contains("line 49, 126"), "{stderr}");
}

#[test]
fn drivers_by_relative_weights() {
    // The 12-respondent vector, as a file.
    let dir = std::env::temp_dir().join(format!("cxscore-drivers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("drivers.csv");
    let x1 = [7, 8, 5, 9, 6, 7, 4, 8, 9, 5, 6, 3];
    let x2 = [6, 7, 5, 8, 4, 7, 5, 6, 9, 3, 6, 4];
    let x3 = [8, 6, 7, 9, 5, 7, 3, 7, 8, 6, 4, 5];
    let y = [6, 8, 6, 9, 4, 8, 3, 7, 9, 5, 5, 4];
    let mut text = String::from("y,x1,x2,x3\n");
    for i in 0..12 {
        text.push_str(&format!("{},{},{},{}\n", y[i], x1[i], x2[i], x3[i]));
    }
    text.push_str("5,,3,4\n"); // a row without every value is left out
    std::fs::write(&file, text).expect("write");
    let path = file.to_str().expect("path");
    let v = json(&[
        "drivers", "--input", path, "--target", "y", "--dims", "x1,x2,x3",
    ]);
    assert_eq!(v["n"], 12);
    assert_eq!(v["excluded_rows"], 1);
    assert!((v["r_squared"].as_f64().expect("r2") - 0.9039003).abs() < 5e-8);
    let weight = |name: &str| {
        v["drivers"]
            .as_array()
            .expect("drivers")
            .iter()
            .find(|d| d["name"] == name)
            .and_then(|d| d["weight"].as_f64())
            .expect("weight")
    };
    for (name, want) in [("x1", 0.2933823), ("x2", 0.3061627), ("x3", 0.3043553)] {
        assert!((weight(name) - want).abs() < 5e-8, "{name}");
    }
    // Sorted by weight, most important first; a quadrant for each.
    assert_eq!(v["drivers"][0]["name"], "x2");
    assert!(v["drivers"][0]["quadrant"].is_string());
    let table = ok(&[
        "drivers", "--input", path, "--target", "y", "--dims", "x1", "--dims", "x2,x3",
    ]);
    assert!(table.contains("R² 0.904") && table.contains("1 rows without every value"));
    // On the example export.
    let v = json(&[
        "drivers",
        "--input",
        "examples/responses.csv",
        "--target",
        "nps",
        "--dims",
        "product_quality,service_attitude,response_speed,delivery_speed,price",
    ]);
    let sum: f64 = v["drivers"]
        .as_array()
        .expect("drivers")
        .iter()
        .map(|d| d["weight"].as_f64().expect("w"))
        .sum();
    assert!((sum - v["r_squared"].as_f64().expect("r2")).abs() < 1e-12);
    // Mistakes: a missing column, one dimension only.
    let out = run(&[
        "drivers", "--input", path, "--target", "y", "--dims", "x1,nope",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no column \"nope\""));
    let out = run(&["drivers", "--input", path, "--target", "y", "--dims", "x1"]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}
