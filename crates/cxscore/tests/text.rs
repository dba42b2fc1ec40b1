//! `cxscore text analyze|problems|reanalyze` and `metrics --sentiment` as a
//! user runs them: standard input, files with Chinese headers in GBK, the
//! errors a user meets, and the sentiment shares the metrics report.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cx(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cxscore"))
        .current_dir(root())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or("").as_bytes())
        .expect("write");
    drop(input);
    child.wait_with_output().expect("output")
}

fn ok(args: &[&str], stdin: Option<&str>) -> String {
    let out = cx(args, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cxscore-text-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn analyze_from_standard_input_gives_json_lines() {
    let out = ok(
        &["text", "analyze"],
        Some(
            "产品质量不错，但是物流太慢了\nThe installer was friendly and quick, great job.\n\n不是不满意，就是觉得价格有点高\n",
        ),
    );
    let rows = lines(&out);
    assert_eq!(rows.len(), 4, "one line per input line, blank lines too");
    assert_eq!(rows[0]["lang"], "zh");
    assert_eq!(rows[0]["sentiment"], "negative");
    let topics: Vec<(&str, &str)> = rows[0]["topics"]
        .as_array()
        .expect("topics")
        .iter()
        .map(|t| {
            (
                t["topic"].as_str().expect("topic"),
                t["sentiment"].as_str().expect("sentiment"),
            )
        })
        .collect();
    assert_eq!(
        topics,
        [("product_quality", "positive"), ("delivery", "negative")]
    );
    assert_eq!(rows[1]["lang"], "en");
    assert_eq!(rows[1]["sentiment"], "positive");
    assert!(rows[1]["score"].as_f64().expect("score") > 0.3);
    assert_eq!(rows[2]["sentiment"], "neutral", "an empty line is neutral");
    assert_eq!(rows[3]["topics"][0]["topic"], "price");
    assert_eq!(rows[3]["topics"][0]["sentiment"], "negative");
}

#[test]
fn analyze_a_gbk_file_with_a_chinese_header_and_a_table() {
    let dir = tempdir("gbk");
    let path = dir.join("评论.csv");
    let (bytes, _, _) =
        encoding_rs::GBK.encode("编号,评论\n1,客服态度很好，点赞\n2,发票开错了两次，非常麻烦\n");
    std::fs::write(&path, &bytes).expect("write");
    let p = path.to_str().expect("path");
    let rows = lines(&ok(&["text", "analyze", p], None));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["sentiment"], "positive");
    assert_eq!(rows[0]["topics"][0]["topic"], "service_attitude");
    assert_eq!(rows[1]["sentiment"], "negative");
    assert_eq!(rows[1]["topics"][0]["topic"], "billing");
    assert!(
        rows[1]["phrases"]
            .as_array()
            .expect("phrases")
            .iter()
            .any(|p| p == "发票")
    );
    let table = ok(&["text", "analyze", p, "--format", "table"], None);
    assert!(
        table.contains("negative") && table.contains("billing −"),
        "{table}"
    );
    let csv = ok(&["text", "analyze", p, "--format", "csv"], None);
    assert!(
        csv.starts_with("text,lang,sentiment,score,topics,phrases\n"),
        "{csv}"
    );
    // Main problems over the file.
    let problems: Value =
        serde_json::from_str(&ok(&["text", "problems", p, "--format", "json"], None))
            .expect("JSON");
    assert_eq!(problems["overall"]["n"], 2);
    assert_eq!(problems["overall"]["negative"], 1);
    assert_eq!(problems["topics"][0]["topic"], "billing");
    assert_eq!(problems["problems"][0]["phrase"], "发票");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn plain_text_in_gbk_from_a_file_and_standard_input() {
    let dir = tempdir("plain");
    let path = dir.join("comments.txt");
    let (bytes, _, _) = encoding_rs::GBK.encode("物流太慢了\r\n服务很好\r\n");
    std::fs::write(&path, &bytes).expect("write");
    let rows = lines(&ok(
        &["text", "analyze", path.to_str().expect("path")],
        None,
    ));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["sentiment"], "negative");
    assert_eq!(rows[0]["topics"][0]["topic"], "delivery");
    assert_eq!(rows[1]["sentiment"], "positive");
    // The same bytes piped in (std::process pipes take bytes, not only UTF-8).
    let mut child = Command::new(env!("CARGO_BIN_EXE_cxscore"))
        .args(["text", "analyze"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&bytes)
        .expect("write");
    let out = child.wait_with_output().expect("output");
    assert!(out.status.success());
    assert_eq!(lines(&String::from_utf8(out.stdout).expect("utf-8")), rows);
    // Forcing UTF-8 on GBK bytes says what to do; an unknown encoding is refused.
    let out = cx(
        &[
            "text",
            "analyze",
            path.to_str().expect("path"),
            "--encoding",
            "utf-8",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--encoding gb18030"));
    let out = cx(&["text", "analyze", "--encoding", "latin1"], Some("x"));
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn wrong_column_language_and_topics_file_are_clear_errors() {
    let dir = tempdir("errors");
    let path = dir.join("c.csv");
    std::fs::write(&path, "id,note,extra\n1,good,x\n").expect("write");
    let p = path.to_str().expect("path");
    let out = cx(&["text", "analyze", p], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no text column found") && err.contains("id, note, extra"),
        "{err}"
    );
    let out = cx(&["text", "analyze", p, "--column", "nope"], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no column \"nope\""));
    assert_eq!(out.status.code(), Some(2));
    let rows = lines(&ok(&["text", "analyze", p, "--column", "note"], None));
    assert_eq!(rows[0]["sentiment"], "positive");
    let out = cx(&["text", "analyze", "--lang", "fr"], Some("bonjour"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--lang \"fr\""));
    // A topics file extends the taxonomy; a bad one says where.
    let topics = dir.join("topics.json");
    std::fs::write(
        &topics,
        r#"{"topics": [{"id": "installation", "zh": ["装机"], "en": ["rack*"]}]}"#,
    )
    .expect("write");
    let rows = lines(&ok(
        &[
            "text",
            "analyze",
            "--topics",
            topics.to_str().expect("path"),
        ],
        Some("装机很顺利\n"),
    ));
    assert_eq!(rows[0]["topics"][0]["topic"], "installation");
    std::fs::write(&topics, r#"{"topics": [{"id": "Bad Id"}]}"#).expect("write");
    let out = cx(
        &[
            "text",
            "analyze",
            "--topics",
            topics.to_str().expect("path"),
        ],
        Some("x"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("topics.json"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn metrics_report_sentiment_shares_per_group() {
    let dir = tempdir("metrics");
    let path = dir.join("r.csv");
    std::fs::write(
        &path,
        "region,nps,comment\n华东,10,服务非常好，响应很及时\n华东,9,Great product!\n华东,3,物流太慢了，很失望\n华南,2,negative\n华南,8,还行吧\n华南,9,\n",
    )
    .expect("write");
    let p = path.to_str().expect("path");
    let report: Value = serde_json::from_str(&ok(
        &[
            "metrics",
            "--input",
            p,
            "--nps",
            "nps",
            "--sentiment",
            "comment",
            "--by",
            "region",
            "--format",
            "json",
        ],
        None,
    ))
    .expect("JSON");
    let east = &report["groups"][0];
    assert_eq!(east["key"]["region"], "华东");
    let s = &east["sentiment"];
    assert_eq!(
        (
            s["n"].as_u64(),
            s["positive"].as_u64(),
            s["negative"].as_u64()
        ),
        (Some(3), Some(2), Some(1))
    );
    // A cell that holds a label counts as that label; a blank is no comment.
    let s = &report["groups"][1]["sentiment"];
    assert_eq!(
        (
            s["n"].as_u64(),
            s["neutral"].as_u64(),
            s["negative"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    let overall = &report["overall"]["sentiment"];
    assert_eq!(overall["n"], 5);
    assert_eq!(overall["positive_pct"], 40.0);
    // Wilson 95% for 2/5: [11.76, 76.93].
    let ci = overall["positive_ci95"].as_array().expect("interval");
    assert!((ci[0].as_f64().expect("lo") - 11.76).abs() < 0.01, "{ci:?}");
    assert!((ci[1].as_f64().expect("hi") - 76.93).abs() < 0.01, "{ci:?}");
    let table = ok(&["metrics", "--input", p, "--sentiment", "comment"], None);
    assert!(
        table.contains("positive %") && table.contains("negative %"),
        "{table}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn reanalyze_a_database() {
    let dir = tempdir("reanalyze");
    let db = format!("sqlite://{}", dir.join("t.db").display());
    ok(&["--db", &db, "demo", "--accounts", "20"], None);
    let out: Value = serde_json::from_str(&ok(
        &["--db", &db, "text", "reanalyze", "--format", "json"],
        None,
    ))
    .expect("JSON");
    assert!(out["answers"].as_u64().expect("answers") > 1000, "{out}");
    assert!(out["feedback"].as_u64().expect("feedback") > 10, "{out}");
    let report: Value = serde_json::from_str(&ok(
        &[
            "--db",
            &db,
            "metrics",
            "--survey",
            "relationship-2026",
            "--nps",
            "nps",
            "--sentiment",
            "comment",
            "--format",
            "json",
        ],
        None,
    ))
    .expect("JSON");
    let s = &report["overall"]["sentiment"];
    assert!(s["n"].as_u64().expect("n") > 500);
    assert!(
        s["positive"].as_u64() > Some(0) && s["negative"].as_u64() > Some(0),
        "{s}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
