//! Differential tests: the example survey export read as CSV (UTF-8 and
//! GB18030), TSV, JSON Lines and Parquet, with one thread or several and with
//! tiny blocks that split quoted fields, gives the same report.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use cx_core::period::{Interval, TimeFilter};
use cx_core::survey::Disclosure;
use cx_core::survey::ces::CesDirection;
use cx_core::survey::group::{DimensionSpec, MetricsSpec};
use cx_core::survey::report::MetricsReport;
use cx_core::survey::scale::Scale;
use cx_io::metrics::{MetricsRequest, compute};
use cx_io::{Cell, EncodingChoice, RowLoc, RowSink, ScanOptions, scan};

const COLUMNS: [&str; 17] = [
    "response_id",
    "submitted_at",
    "account",
    "region",
    "product_line",
    "sales_team",
    "channel",
    "language",
    "nps",
    "csat",
    "ces",
    "product_quality",
    "service_attitude",
    "response_speed",
    "delivery_speed",
    "price",
    "comment",
];
const DIMS: [&str; 5] = [
    "product_quality",
    "service_attitude",
    "response_speed",
    "delivery_speed",
    "price",
];

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

fn request(by: &[&str], interval: Option<Interval>, compare: bool) -> MetricsRequest {
    let five = Scale::one_to(5).expect("valid");
    let mut slot_columns = vec!["nps".to_string(), "csat".into(), "ces".into()];
    slot_columns.extend(DIMS.iter().map(|d| d.to_string()));
    MetricsRequest {
        spec: MetricsSpec {
            nps: true,
            csat: Some(five),
            ces: Some((
                Scale::one_to(7).expect("valid"),
                CesDirection::HigherIsEasier,
            )),
            sentiment: false,
            dims: DIMS
                .iter()
                .map(|d| DimensionSpec {
                    name: d.to_string(),
                    scale: five,
                })
                .collect(),
            weights: vec![],
            disclosure: Disclosure::default(),
        },
        slot_columns,
        by: by.iter().map(|b| b.to_string()).collect(),
        time_column: Some("submitted_at".into()),
        time: TimeFilter::new(interval, None, None, compare).expect("valid"),
        filters: vec![],
        polarity: None,
    }
}

fn run(files: &[PathBuf], req: &MetricsRequest, options: &ScanOptions) -> MetricsReport {
    compute(files, req, options, &|_| {}).expect("scan succeeds")
}

/// The report without cell locations, which legitimately differ between formats.
fn without_locations(mut r: MetricsReport) -> MetricsReport {
    for e in &mut r.excluded {
        e.examples.clear();
    }
    r
}

#[derive(Default)]
struct Rows(Vec<(RowLoc, Vec<String>)>);

impl RowSink for Rows {
    fn row(&mut self, cells: &[Cell<'_>], at: RowLoc) {
        let texts = cells
            .iter()
            .map(|c| {
                let mut v = Vec::new();
                c.write_text(&mut v);
                String::from_utf8(v).expect("utf-8")
            })
            .collect();
        self.0.push((at, texts));
    }
}

fn example_rows() -> Vec<Vec<String>> {
    let columns: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    let sinks = scan(
        &[example("responses.csv")],
        &columns,
        &ScanOptions::default(),
        Rows::default,
    )
    .expect("scan succeeds");
    let mut rows: Vec<(RowLoc, Vec<String>)> = sinks.into_iter().flat_map(|s| s.0).collect();
    rows.sort_by_key(|(at, _)| *at);
    rows.into_iter().map(|(_, r)| r).collect()
}

#[test]
fn example_has_all_rows_and_multiline_comments() {
    let rows = example_rows();
    assert_eq!(rows.len(), 412);
    assert!(
        rows.iter().any(|r| r[16].contains('\n')),
        "a comment with a line break"
    );
    assert!(
        rows.iter().any(|r| r[16].contains('"')),
        "a comment with an escaped quote"
    );
}

#[test]
fn threads_and_block_sizes_do_not_change_the_report() {
    let req = request(&["region"], Some(Interval::Quarter), true);
    let files = [example("responses.csv")];
    let baseline = run(
        &files,
        &req,
        &ScanOptions {
            threads: 1,
            ..ScanOptions::default()
        },
    );
    for (threads, block_size) in [(2, 4 << 20), (3, 97), (4, 1000), (2, 16)] {
        let options = ScanOptions {
            threads,
            block_size,
            ..ScanOptions::default()
        };
        assert_eq!(
            run(&files, &req, &options),
            baseline,
            "threads {threads}, block {block_size}"
        );
    }
}

#[test]
fn gb18030_copy_gives_the_same_report() {
    let req = request(&["region", "product_line"], Some(Interval::Month), false);
    let utf8 = run(&[example("responses.csv")], &req, &ScanOptions::default());
    let gbk = run(
        &[example("responses-gbk.csv")],
        &req,
        &ScanOptions::default(),
    );
    assert_eq!(
        without_locations(gbk.clone()),
        without_locations(utf8.clone())
    );
    // Same lines, too.
    let lines = |r: &MetricsReport| {
        r.excluded
            .iter()
            .flat_map(|e| e.examples.iter().map(|l| l.line))
            .collect::<Vec<_>>()
    };
    assert_eq!(lines(&gbk), lines(&utf8));
    // Forcing the encoding works the same; forcing the wrong one is an error, not garbage.
    let forced = ScanOptions {
        encoding: EncodingChoice::Gb18030,
        ..ScanOptions::default()
    };
    assert_eq!(run(&[example("responses-gbk.csv")], &req, &forced), gbk);
    let wrong = ScanOptions {
        encoding: EncodingChoice::Utf8,
        ..ScanOptions::default()
    };
    let err =
        compute(&[example("responses-gbk.csv")], &req, &wrong, &|_| {}).expect_err("not UTF-8");
    assert!(err.to_string().contains("--encoding gb18030"), "{err}");
}

#[test]
fn tsv_jsonl_and_parquet_give_the_same_report() {
    let dir = tempdir();
    let rows = example_rows();

    // TSV with a BOM (tabs and newlines inside comments are quoted).
    let tsv = dir.join("responses.tsv");
    let mut text = String::from("\u{feff}");
    text.push_str(&COLUMNS.join("\t"));
    text.push('\n');
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .map(|c| {
                if c.contains(['\t', '\n', '"']) {
                    format!("\"{}\"", c.replace('"', "\"\""))
                } else {
                    c.clone()
                }
            })
            .collect();
        text.push_str(&cells.join("\t"));
        text.push_str("\r\n");
    }
    std::fs::write(&tsv, text).expect("write tsv");

    // JSON Lines: numbers where the cell is a number, strings otherwise, blanks as null.
    let jsonl = dir.join("responses.jsonl");
    let mut text = String::new();
    for r in &rows {
        let mut object = serde_json::Map::new();
        for (name, cell) in COLUMNS.iter().zip(r) {
            let value = if cell.is_empty() {
                serde_json::Value::Null
            } else if let Ok(i) = cell.parse::<i64>() {
                i.into()
            } else if let Ok(x) = cell.parse::<f64>() {
                x.into()
            } else {
                cell.clone().into()
            };
            object.insert(name.to_string(), value);
        }
        text.push_str(&serde_json::Value::Object(object).to_string());
        text.push('\n');
    }
    std::fs::write(&jsonl, text).expect("write jsonl");

    // Parquet: nps as text (it holds "N/A"), product_quality as float (it holds 4.5),
    // the other ratings as nullable integers, everything else as text.
    let parquet = dir.join("responses.parquet");
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (i, name) in COLUMNS.iter().enumerate() {
        let column: Vec<&str> = rows.iter().map(|r| r[i].as_str()).collect();
        let is_int = matches!(
            *name,
            "csat" | "ces" | "service_attitude" | "response_speed" | "delivery_speed" | "price"
        );
        if is_int {
            fields.push(Field::new(*name, DataType::Int64, true));
            arrays.push(Arc::new(Int64Array::from(
                column
                    .iter()
                    .map(|c| c.parse::<i64>().ok())
                    .collect::<Vec<_>>(),
            )));
        } else if *name == "product_quality" {
            fields.push(Field::new(*name, DataType::Float64, true));
            arrays.push(Arc::new(Float64Array::from(
                column
                    .iter()
                    .map(|c| c.parse::<f64>().ok())
                    .collect::<Vec<_>>(),
            )));
        } else {
            fields.push(Field::new(*name, DataType::Utf8, true));
            arrays.push(Arc::new(StringArray::from(
                column
                    .iter()
                    .map(|c| (!c.is_empty()).then_some(*c))
                    .collect::<Vec<_>>(),
            )));
        }
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("batch");
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(50))
        .build();
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        File::create(&parquet).expect("create"),
        batch.schema(),
        Some(props),
    )
    .expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");

    // With periods (rows go through the date path) and without (single
    // dictionary-encoded group column: the Parquet fast path).
    for req in [
        request(&["region"], Some(Interval::Quarter), true),
        request(&["region"], None, false),
    ] {
        let csv = without_locations(run(
            &[example("responses.csv")],
            &req,
            &ScanOptions::default(),
        ));
        for file in [&tsv, &jsonl, &parquet] {
            let got = without_locations(run(
                std::slice::from_ref(file),
                &req,
                &ScanOptions::default(),
            ));
            assert_eq!(got, csv, "{}", file.display());
        }
    }
}

#[test]
fn several_files_read_as_one() {
    let req = request(&["region"], None, false);
    let once = run(&[example("responses.csv")], &req, &ScanOptions::default());
    let twice = run(
        &[example("responses.csv"), example("responses-gbk.csv")],
        &req,
        &ScanOptions::default(),
    );
    assert_eq!(twice.overall.n, 2 * once.overall.n);
    let nps = |r: &MetricsReport| r.overall.nps.as_ref().map(|n| (n.n, n.score));
    assert_eq!(nps(&twice).map(|(n, s)| (n / 2, s)), nps(&once));
    assert_eq!(
        twice.excluded.iter().map(|e| e.count).sum::<u64>(),
        2 * once.excluded.iter().map(|e| e.count).sum::<u64>()
    );
}

#[test]
fn unknown_column_lists_the_columns() {
    let mut req = request(&["regoin"], None, false);
    req.by = vec!["regoin".into()];
    let err = compute(
        &[example("responses.csv")],
        &req,
        &ScanOptions::default(),
        &|_| {},
    )
    .expect_err("unknown");
    let text = err.to_string();
    assert!(
        text.contains("no column \"regoin\"")
            && text.contains("region")
            && text.contains("submitted_at"),
        "{text}"
    );
    assert!(err.is_bad_input());
}

#[test]
fn empty_and_header_only_files() {
    let dir = tempdir();
    let empty = dir.join("empty.csv");
    std::fs::write(&empty, "").expect("write");
    let req = request(&[], None, false);
    let err = compute(&[empty], &req, &ScanOptions::default(), &|_| {}).expect_err("empty");
    assert!(err.to_string().contains("empty"), "{err}");

    let header_only = dir.join("header.csv");
    std::fs::write(&header_only, COLUMNS.join(",")).expect("write");
    let report = run(&[header_only], &req, &ScanOptions::default());
    assert_eq!(report.overall.n, 0);
    assert!(
        report
            .overall
            .nps
            .as_ref()
            .is_some_and(|n| n.n == 0 && n.score.is_none())
    );
}

#[test]
fn unbalanced_quote_is_an_error_not_a_memory_hog() {
    let dir = tempdir();
    let bad = dir.join("unbalanced.csv");
    let mut text = String::from("region,nps\n华东,9\n\"华南,7\n");
    for _ in 0..2000 {
        text.push_str("华北,8\n");
    }
    std::fs::write(&bad, text).expect("write");
    let req = request(&[], None, false);
    let mut req = req;
    req.slot_columns.truncate(1);
    req.spec.csat = None;
    req.spec.ces = None;
    req.spec.dims.clear();
    req.time_column = None;
    let options = ScanOptions {
        block_size: 256,
        max_record_bytes: 4096,
        ..ScanOptions::default()
    };
    let err = compute(&[bad], &req, &options, &|_| {}).expect_err("unbalanced quote");
    let text = err.to_string();
    assert!(
        text.contains("unbalanced.csv:3:") && text.contains("not closed"),
        "{text}"
    );
}

#[test]
fn parquet_categoricals_and_zoned_timestamps() {
    use arrow_array::types::Int8Type;
    use arrow_array::{Array, DictionaryArray, TimestampSecondArray};
    let dir = tempdir();
    let path = dir.join("pandas.parquet");
    // pandas writes categoricals as dictionary<int8, string>; timestamps with a zone
    // are UTC instants: 2026-03-31T16:30Z is 2026-04-01 00:30 in Shanghai.
    let region: DictionaryArray<Int8Type> = vec!["华东", "华南", "华东"].into_iter().collect();
    let at = TimestampSecondArray::from(vec![1_774_974_600_i64; 3]).with_timezone("Asia/Shanghai");
    let nps = Int64Array::from(vec![Some(10), Some(3), None]);
    let schema = Schema::new(vec![
        Field::new("region", region.data_type().clone(), false),
        Field::new("submitted_at", at.data_type().clone(), false),
        Field::new("nps", DataType::Int64, true),
    ]);
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        vec![Arc::new(region), Arc::new(at), Arc::new(nps)],
    )
    .expect("batch");
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        File::create(&path).expect("create"),
        batch.schema(),
        None,
    )
    .expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");

    let mut req = nps_only();
    req.time_column = Some("submitted_at".into());
    req.time = TimeFilter::new(Some(Interval::Quarter), None, None, false).expect("valid");
    let report = run(&[path], &req, &ScanOptions::default());
    let keys: Vec<String> = report
        .groups
        .iter()
        .map(|g| serde_json::to_string(&g.key).expect("json"))
        .collect();
    assert_eq!(
        keys,
        vec![
            r#"{"region":"华东","period":"2026-Q2"}"#,
            r#"{"region":"华南","period":"2026-Q2"}"#
        ]
    );
    assert_eq!(report.groups[0].figures.nps.as_ref().map(|n| n.n), Some(1));
}

fn nps_only() -> MetricsRequest {
    let mut req = request(&["region"], None, false);
    req.slot_columns.truncate(1);
    req.spec.csat = None;
    req.spec.ces = None;
    req.spec.dims.clear();
    req.time_column = None;
    req
}

#[test]
fn stray_quote_in_an_unquoted_field_is_text_in_big_and_small_files() {
    let dir = tempdir();
    let path = dir.join("stray.csv");
    let mut text = String::from("region,nps,note\n华东,9,27\" monitor\n");
    for i in 0..3000 {
        text.push_str(&format!("华南,{},\"quoted, with\nnewline\"\n", i % 11));
    }
    std::fs::write(&path, &text).expect("write");
    let small_blocks = ScanOptions {
        block_size: 64,
        threads: 2,
        ..ScanOptions::default()
    };
    let a = run(std::slice::from_ref(&path), &nps_only(), &small_blocks);
    let b = run(
        std::slice::from_ref(&path),
        &nps_only(),
        &ScanOptions::default(),
    );
    assert_eq!(a, b);
    assert_eq!(a.overall.n, 3001);
}

#[test]
fn unclosed_quote_in_a_small_file_is_an_error() {
    let dir = tempdir();
    let path = dir.join("unclosed.csv");
    std::fs::write(&path, "region,nps\n华东,9\n华南,\"7\n华北,8\n").expect("write");
    let err =
        compute(&[path], &nps_only(), &ScanOptions::default(), &|_| {}).expect_err("unclosed");
    assert!(err.to_string().contains("unclosed.csv:3:"), "{err}");
}

#[test]
fn a_bad_block_with_one_worker_fails_instead_of_hanging() {
    let dir = tempdir();
    let path = dir.join("late-gbk.csv");
    let mut bytes = b"region,nps\n".to_vec();
    for _ in 0..2000 {
        bytes.extend_from_slice(b"east,9\n");
    }
    // GBK bytes long after the start: auto-detection chose UTF-8.
    bytes.extend_from_slice(b"\xbb\xaa\xb6\xab,9\n");
    for _ in 0..2000 {
        bytes.extend_from_slice(b"east,9\n");
    }
    std::fs::write(&path, bytes).expect("write");
    let options = ScanOptions {
        threads: 1,
        block_size: 16,
        ..ScanOptions::default()
    };
    let err = compute(&[path], &nps_only(), &options, &|_| {}).expect_err("not UTF-8");
    assert!(
        err.to_string().contains("late-gbk.csv:2002:")
            && err.to_string().contains("byte 0xBB, byte 1 of the line")
            && err.to_string().contains("gb18030"),
        "{err}"
    );
}

#[test]
fn a_file_cut_in_the_middle_of_a_character_says_so() {
    let dir = tempdir();
    let path = dir.join("cut.csv");
    let mut bytes = b"region,nps\n".to_vec();
    for _ in 0..200 {
        bytes.extend_from_slice("华东,9\n".as_bytes());
    }
    // The last line's 南 loses its third byte.
    bytes.extend_from_slice(&"华南,9".as_bytes()[..5]);
    std::fs::write(&path, bytes).expect("write");
    let err = compute(&[path], &nps_only(), &ScanOptions::default(), &|_| {}).expect_err("cut");
    let text = err.to_string();
    assert!(
        text.contains("cut.csv:202:") && text.contains("cut short") && !text.contains("gb18030"),
        "{text}"
    );
}

fn tempdir() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "cx-io-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
