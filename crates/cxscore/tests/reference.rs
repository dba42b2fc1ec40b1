//! The example export through the real binary, checked against an
//! independent Python/SciPy implementation of the SPEC's definitions
//! (`tests/reference/reference.py` → `tests/reference/expected.json`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cxscore(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_cxscore"))
        .current_dir(root())
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

const METRICS: [&str; 16] = [
    "--nps",
    "nps",
    "--csat",
    "csat",
    "--ces",
    "ces",
    "--dim",
    "product_quality",
    "--dim",
    "service_attitude",
    "--dim",
    "response_speed",
    "--dim",
    "delivery_speed",
    "--dim",
    "price",
];

fn expected() -> Value {
    let text =
        std::fs::read_to_string(root().join("tests/reference/expected.json")).expect("reference");
    serde_json::from_str(&text).expect("reference JSON")
}

/// Every field of `want` must be in `got` with the same value (numbers to 1e-9
/// relative); `got` may have more fields. A `null` in `want` means "absent".
fn assert_matches(path: &str, want: &Value, got: Option<&Value>) {
    match (want, got) {
        (Value::Null, None | Some(Value::Null)) => {}
        (Value::Object(w), Some(Value::Object(g))) => {
            for (k, v) in w {
                assert_matches(&format!("{path}.{k}"), v, g.get(k));
            }
        }
        (Value::Array(w), Some(Value::Array(g))) => {
            assert_eq!(w.len(), g.len(), "{path}: length");
            for (i, (a, b)) in w.iter().zip(g).enumerate() {
                assert_matches(&format!("{path}[{i}]"), a, Some(b));
            }
        }
        (Value::Number(w), Some(Value::Number(g))) => {
            let (w, g) = (w.as_f64().expect("number"), g.as_f64().expect("number"));
            assert!(
                (w - g).abs() <= 1e-9 * w.abs().max(1.0),
                "{path}: want {w}, got {g}"
            );
        }
        (w, g) => assert_eq!(Some(w), g, "{path}"),
    }
}

fn check_groups(want: &Value, got: &Value) {
    let want_groups = want["groups"].as_array().expect("groups");
    let got_groups = got["groups"].as_array().expect("groups");
    assert_eq!(want_groups.len(), got_groups.len(), "number of groups");
    for w in want_groups {
        let g = got_groups
            .iter()
            .find(|g| g["key"] == w["key"])
            .unwrap_or_else(|| panic!("group {}", w["key"]));
        assert_matches(&w["key"].to_string(), w, Some(g));
    }
}

#[test]
fn by_region_matches_reference() {
    let want = expected();
    let mut args = vec![
        "metrics",
        "--input",
        "examples/responses.csv",
        "--by",
        "region",
    ];
    args.extend(METRICS);
    let got = cxscore(&args);
    check_groups(&want["by_region"], &got);
    let mut overall = want["by_region"]["overall"].clone();
    overall.as_object_mut().expect("object").remove("key");
    assert_matches("overall", &overall, Some(&got["overall"]));
}

#[test]
fn quarters_with_comparison_match_reference() {
    let want = expected();
    let mut args = vec![
        "metrics",
        "--input",
        "examples/responses.csv",
        "--time",
        "submitted_at",
        "--interval",
        "quarter",
        "--compare",
        "previous",
    ];
    args.extend(METRICS);
    let got = cxscore(&args);
    check_groups(&want["by_quarter"], &got);
    // The comparison tests really ran: some quarter has a significant change.
    let significant = got["groups"].as_array().expect("groups").iter().any(|g| {
        g["dims"]["product_quality"]["change"]["mean"]["significant"] == Value::Bool(true)
    });
    assert!(significant);
}

#[test]
fn excluded_cells_are_reported_with_their_lines() {
    let want = expected();
    let mut args = vec!["metrics", "--input", "examples/responses.csv"];
    args.extend(METRICS);
    let got = cxscore(&args);
    let mut want_cells: Vec<(String, u64)> = want["invalid_cells"]
        .as_array()
        .expect("cells")
        .iter()
        .map(|c| {
            (
                c["column"].as_str().expect("column").to_string(),
                c["line"].as_u64().expect("line"),
            )
        })
        .collect();
    let mut got_cells: Vec<(String, u64)> = got["excluded"]
        .as_array()
        .expect("excluded")
        .iter()
        .flat_map(|e| {
            let column = e["column"].as_str().expect("column").to_string();
            e["examples"]
                .as_array()
                .expect("examples")
                .iter()
                .map(move |x| (column.clone(), x["line"].as_u64().expect("line")))
        })
        .collect();
    want_cells.sort();
    got_cells.sort();
    assert_eq!(got_cells, want_cells);
}
