//! The database as a user meets it: `survey create`, `import`, `metrics
//! --survey` and `demo`, on SQLite and PostgreSQL — with the differential test
//! that a file, SQLite and PostgreSQL give identical JSON for the same data.
//!
//! PostgreSQL is reached at `CXSCORE_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/test`); `CXSCORE_TEST_PG=skip` skips it
//! on a machine without one (CI never does).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cx(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cxscore"))
        .current_dir(root())
        .env_remove("CXSCORE_DB")
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("runs")
}

fn ok(db: &str, args: &[&str]) -> String {
    let out = cx(db, args);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn json(db: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    serde_json::from_str(&ok(db, &all)).expect("JSON")
}

/// `report` with every `sentiment` figure removed.
fn without_sentiment(mut report: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.remove("sentiment");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut report);
    report
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cxscore-db-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn sqlite(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("cx.db").display())
}

/// A fresh PostgreSQL database for one test; dropped by the guard.
struct PgDb {
    url: String,
    name: String,
    base: String,
}

impl PgDb {
    fn new(tag: &str) -> Option<PgDb> {
        let base = std::env::var("CXSCORE_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        if base == "skip" {
            eprintln!("CXSCORE_TEST_PG=skip: PostgreSQL part skipped");
            return None;
        }
        let name = format!("cx_cli_{}_{tag}", std::process::id());
        admin(&base, &format!("DROP DATABASE IF EXISTS {name}"));
        admin(&base, &format!("CREATE DATABASE {name}"));
        let url = format!(
            "{}/{name}",
            &base[..base.rfind('/').expect("database in URL")]
        );
        Some(PgDb { url, name, base })
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        admin(
            &self.base,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn admin(base: &str, sql: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(base)
            .await
            .expect("PostgreSQL reachable (set CXSCORE_TEST_PG)");
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut conn)
            .await
            .expect("admin statement");
    });
}

/// The example export without the rows an import would reject (invalid cells,
/// blank required NPS), so that file and database see the same responses.
fn clean_example(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(root().join("examples/responses.csv")).expect("example");
    let rejected: Vec<u64> = {
        let db = sqlite(&tempdir("probe"));
        ok(&db, &["survey", "create", "examples/survey.json"]);
        let report = json(
            &db,
            &[
                "import",
                "responses",
                "examples/responses.csv",
                "--survey",
                "relationship-2026",
            ],
        );
        report["rejections"]
            .as_array()
            .expect("rejections")
            .iter()
            .map(|r| r["line"].as_u64().expect("line"))
            .collect()
    };
    // Drop whole records (some span several physical lines).
    let mut out = String::new();
    let mut line = 0_u64;
    let mut record = String::new();
    let mut record_line = 1;
    let mut quotes = 0;
    for physical in text.split_inclusive('\n') {
        line += 1;
        if record.is_empty() {
            record_line = line;
        }
        record.push_str(physical);
        quotes += physical.matches('"').count();
        if quotes % 2 == 0 {
            if !rejected.contains(&record_line) {
                out.push_str(&record);
            }
            record.clear();
            quotes = 0;
        }
    }
    let path = dir.join("clean.csv");
    std::fs::write(&path, out).expect("write");
    path
}

const FILE_FLAGS: [&str; 18] = [
    "--nps",
    "nps",
    "--sentiment",
    "comment",
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

#[test]
fn file_sqlite_and_postgres_give_identical_json() {
    let dir = tempdir("differential");
    let clean = clean_example(&dir);
    let clean = clean.to_str().expect("utf-8 path");
    let slices: [&[&str]; 4] = [
        &["--by", "region"],
        // One filter, no group: answered by the daily counts of that field.
        &["--where", "channel=email", "--interval", "month"],
        &[
            "--by",
            "region,channel",
            "--interval",
            "quarter",
            "--compare",
            "previous",
        ],
        &[
            "--from",
            "2026-04-01",
            "--to",
            "2026-06-30",
            "--compare",
            "previous",
            "--where",
            "region=华东",
            "--where",
            "region=西南",
        ],
    ];
    let mut dbs = vec![sqlite(&dir)];
    let pg = PgDb::new("diff");
    if let Some(pg) = &pg {
        dbs.push(pg.url.clone());
    }
    for db in &dbs {
        ok(db, &["survey", "create", "examples/survey.json"]);
        let report = json(
            db,
            &[
                "import",
                "responses",
                clean,
                "--survey",
                "relationship-2026",
            ],
        );
        assert_eq!(report["rejected"], 0, "{report}");
    }
    for slice in slices {
        let mut file_args = vec!["metrics", "--input", clean, "--time", "submitted_at"];
        file_args.extend(FILE_FLAGS);
        file_args.extend(slice);
        let from_file = json("sqlite://unused.db", &file_args);
        assert!(
            from_file["groups"]
                .as_array()
                .is_some_and(|g| !g.is_empty())
        );
        for db in &dbs {
            let mut db_args = vec!["metrics", "--survey", "relationship-2026"];
            db_args.extend(FILE_FLAGS);
            db_args.extend(slice);
            let from_db = json(db, &db_args);
            assert_eq!(from_db, from_file, "{db} {slice:?}");
        }
        // Without metric flags the database uses every rated question of the
        // survey (and no comment sentiment, which is asked for by name).
        let mut all = vec!["metrics", "--survey", "relationship-2026"];
        all.extend(slice);
        assert_eq!(json(&dbs[0], &all), without_sentiment(from_file));
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn importing_the_same_rows_again_adds_nothing() {
    let dir = tempdir("reimport");
    let db = sqlite(&dir);
    ok(&db, &["survey", "create", "examples/survey.json"]);
    let first = json(
        &db,
        &[
            "import",
            "responses",
            "examples/responses.csv",
            "--survey",
            "relationship-2026",
        ],
    );
    assert_eq!(
        (first["read"].as_u64(), first["rejected"].as_u64()),
        (Some(412), Some(18))
    );
    let imported = first["imported"].as_u64().expect("n");
    assert_eq!(imported, 394);
    // The GB18030 copy is the same rows.
    let again = json(
        &db,
        &[
            "import",
            "responses",
            "examples/responses-gbk.csv",
            "--survey",
            "relationship-2026",
        ],
    );
    assert_eq!(
        (again["imported"].as_u64(), again["duplicate"].as_u64()),
        (Some(0), Some(394))
    );
    let list = json(&db, &["survey", "list"]);
    assert_eq!(list[0]["responses"], 394);
    // A second `survey create` of the same slug is refused, nothing lost.
    let out = cx(&db, &["survey", "create", "examples/survey.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    std::fs::remove_dir_all(&dir).ok();
}

fn write_gbk(path: &Path, text: &str) {
    let (bytes, _, unmappable) = encoding_rs::GB18030.encode(text);
    assert!(!unmappable);
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn transactions_from_a_gbk_export_with_chinese_headers() {
    let dir = tempdir("gbk");
    let db = sqlite(&dir);
    let file = dir.join("orders.csv");
    write_gbk(
        &file,
        "客户编号,下单日期,订单金额,产品线\r\nC001,2026年3月1日,\"￥12,800.00\",云服务\r\nC002,2026/3/2,5000,云服务\r\nC001,46082,\"1,000\",\r\nC003,2026-02-30,100,\r\nC004,2026-03-05,abc,\r\n,2026-03-05,1,\r\n",
    );
    let report = json(
        &db,
        &["import", "transactions", file.to_str().expect("path")],
    );
    assert_eq!(
        (
            report["read"].as_u64(),
            report["imported"].as_u64(),
            report["rejected"].as_u64()
        ),
        (Some(6), Some(3), Some(3))
    );
    let reasons: Vec<(u64, String)> = report["rejections"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().expect("line"),
                r["column"].as_str().expect("column").to_string(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            (5, "下单日期".into()),
            (6, "订单金额".into()),
            (7, "客户编号".into())
        ]
    );
    let again = json(
        &db,
        &["import", "transactions", file.to_str().expect("path")],
    );
    assert_eq!(
        (again["imported"].as_u64(), again["duplicate"].as_u64()),
        (Some(0), Some(3))
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A file big enough for the import to drop the index of transactions by
/// account and build it once at the end: afterwards the index is there and
/// every row is linked to its account.
#[test]
fn a_big_import_of_linked_transactions_ends_with_the_account_index() {
    let dir = tempdir("deferred");
    let db = sqlite(&dir);
    let accounts = dir.join("accounts.csv");
    std::fs::write(&accounts, "客户编号,客户名称\nC000,甲\nC001,乙\nC002,丙\n").expect("write");
    ok(
        &db,
        &["import", "accounts", accounts.to_str().expect("path")],
    );
    // 2,000 rows of 3 KiB (a long note the import ignores): by its size the
    // file could hold 100,000 short rows, and the import plans for that.
    let note = "很长的备注".repeat(220);
    let mut text = String::from("订单编号,客户编号,下单日期,订单金额,备注\n");
    for i in 0..2000 {
        text.push_str(&format!(
            "SO{i:05},C{:03},2026-03-{:02},100,{note}\n",
            i % 3,
            1 + i % 28
        ));
    }
    let file = dir.join("orders.csv");
    std::fs::write(&file, &text).expect("write");
    assert!(text.len() > 6_400_000);
    let report = json(
        &db,
        &["import", "transactions", file.to_str().expect("path")],
    );
    assert_eq!(report["imported"].as_u64(), Some(2000), "{report}");
    let (present, linked) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let pool = sqlx::SqlitePool::connect(&db).await.expect("connects");
            let present: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'transactions_account')",
            )
            .fetch_one(&pool)
            .await
            .expect("catalogue");
            let linked: i64 =
                sqlx::query_scalar("SELECT count(*) FROM transactions WHERE account_id IS NOT NULL")
                    .fetch_one(&pool)
                    .await
                    .expect("count");
            pool.close().await;
            (present, linked)
        });
    assert!(present);
    assert_eq!(linked, 2000);
    std::fs::remove_dir_all(&dir).ok();
}

/// On PostgreSQL a batch is written while the next is read, two at a time:
/// every row is still stored once, linked, and counted once in the report —
/// a first import, the same file again, and a file half old, half new.
#[test]
fn transactions_in_several_batches_into_postgres() {
    let Some(pg) = PgDb::new("batches") else {
        return;
    };
    let dir = tempdir("pg-batches");
    let accounts = dir.join("accounts.csv");
    std::fs::write(&accounts, "客户编号,客户名称\nC000,甲\nC001,乙\n").expect("write");
    ok(
        &pg.url,
        &["import", "accounts", accounts.to_str().expect("path")],
    );
    let orders = |from: u32, to: u32| {
        let mut text = String::from("订单编号,客户编号,下单日期,订单金额\n");
        for i in from..to {
            text.push_str(&format!(
                "SO{i:06},C{:03},2026-03-{:02},100\n",
                i % 3,
                1 + i % 28
            ));
        }
        text
    };
    let file = dir.join("orders.csv");
    let path = file.to_str().expect("path");
    let import = |text: String| {
        std::fs::write(&file, text).expect("write");
        let r = json(&pg.url, &["import", "transactions", path]);
        (r["imported"].as_u64(), r["duplicate"].as_u64())
    };
    assert_eq!(import(orders(0, 50_000)), (Some(50_000), Some(0)));
    assert_eq!(import(orders(0, 50_000)), (Some(0), Some(50_000)));
    assert_eq!(import(orders(25_000, 55_000)), (Some(5_000), Some(25_000)));
    let (rows, linked): (i64, i64) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let pool = sqlx::PgPool::connect(&pg.url).await.expect("connects");
            let counts = sqlx::query_as(
                "SELECT count(DISTINCT dedupe_key), count(account_id) FROM transactions",
            )
            .fetch_one(&pool)
            .await
            .expect("count");
            pool.close().await;
            counts
        });
    // C002 has no account: a third of the rows stay unlinked.
    assert_eq!((rows, linked), (55_000, 36_667));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn accounts_from_xlsx_contacts_and_assessments_linked() {
    let dir = tempdir("xlsx");
    let db = sqlite(&dir);
    let xlsx = dir.join("accounts.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let header = ["客户编号", "客户名称", "区域", "客户等级", "成为客户日期"];
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).expect("write");
    }
    let rows = [
        ("KA01", "华星精密制造有限公司", "华东", "大客户"),
        ("KA02", "Northwind Logistics", "North America", "standard"),
    ];
    for (r, (code, name, region, tier)) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        sheet.write_string(r, 0, *code).expect("write");
        sheet.write_string(r, 1, *name).expect("write");
        sheet.write_string(r, 2, *region).expect("write");
        sheet.write_string(r, 3, *tier).expect("write");
        // An Excel date serial: 2024-01-15.
        sheet.write_number(r, 4, 45306.0).expect("write");
    }
    book.save(&xlsx).expect("save xlsx");
    let report = json(&db, &["import", "accounts", xlsx.to_str().expect("path")]);
    assert_eq!(
        (report["imported"].as_u64(), report["rejected"].as_u64()),
        (Some(2), Some(0)),
        "{report}"
    );

    // Contacts with a BOM and a Chinese role; one for an unknown account.
    let contacts = dir.join("contacts.csv");
    std::fs::write(&contacts, "\u{feff}联系人编号,客户编号,姓名,角色,影响力\nP1,KA01,王经理,决策者,0.9\nP2,KA01,李工,技术评估者,60%\nP3,KA99,赵总,决策者,1\n")
        .expect("write");
    let report = json(
        &db,
        &["import", "contacts", contacts.to_str().expect("path")],
    );
    assert_eq!(
        (report["imported"].as_u64(), report["rejected"].as_u64()),
        (Some(2), Some(1)),
        "{report}"
    );
    assert_eq!(report["rejections"][0]["value"], "KA99");

    // Assessments on 1–5, written as a semicolon-separated file (the delimiter is sniffed).
    let assessments = dir.join("assessments.csv");
    std::fs::write(
        &assessments,
        "contact;period;满意度;忠诚度;信息传递度\nP1;2026-Q1;5;4;3\nP2;2026-Q1;1;2;9\n",
    )
    .expect("write");
    let out = cx(
        &db,
        &[
            "import",
            "assessments",
            assessments.to_str().expect("path"),
            "--assessment-scale",
            "1-5",
            "--strict",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "strict: one bad row, nothing imported"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing imported"));
    let report = json(
        &db,
        &[
            "import",
            "assessments",
            assessments.to_str().expect("path"),
            "--assessment-scale",
            "1-5",
        ],
    );
    assert_eq!(
        (report["imported"].as_u64(), report["rejected"].as_u64()),
        (Some(1), Some(1)),
        "{report}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_files_are_clear_errors_and_lose_nothing() {
    let dir = tempdir("bad");
    let db = sqlite(&dir);
    let good = dir.join("good.csv");
    std::fs::write(&good, "customer_id,date,amount\nC1,2026-01-01,10\n").expect("write");
    assert_eq!(
        json(
            &db,
            &["import", "transactions", good.to_str().expect("path")]
        )["imported"],
        1
    );

    let empty = dir.join("empty.csv");
    std::fs::write(&empty, "").expect("write");
    let truncated = dir.join("truncated.csv");
    std::fs::write(&truncated, "customer_id,date,amount\nC2,2026-01-02,\"10").expect("write");
    let wrong = dir.join("wrong.csv");
    std::fs::write(&wrong, "customer_id|date|amount\nC3|2026-01-03|10\n").expect("write");
    let no_amount = dir.join("no-amount.csv");
    std::fs::write(
        &no_amount,
        "customer_id,date,total_paid\nC4,2026-01-04,10\n",
    )
    .expect("write");
    let cases: [(&Path, &str); 4] = [
        (&empty, "empty"),
        (&truncated, "not closed"),
        (&no_amount, "--map"),
        (Path::new("missing.csv"), "missing.csv"),
    ];
    for (file, message) in cases {
        let out = cx(
            &db,
            &["import", "transactions", file.to_str().expect("path")],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", file.display());
        assert!(stderr.contains(message), "{}: {stderr}", file.display());
    }
    // A pipe-separated file is sniffed correctly; --map names an odd column.
    assert_eq!(
        json(
            &db,
            &["import", "transactions", wrong.to_str().expect("path")]
        )["imported"],
        1
    );
    let mapped = json(
        &db,
        &[
            "import",
            "transactions",
            no_amount.to_str().expect("path"),
            "--map",
            "total_paid=amount",
        ],
    );
    assert_eq!(mapped["imported"], 1);
    // Nothing stored before was lost.
    let out = ok(
        &db,
        &["import", "transactions", good.to_str().expect("path")],
    );
    assert!(out.contains("duplicate 1"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn demo_fills_a_fresh_database_and_is_deterministic() {
    let dir = tempdir("demo");
    let db = sqlite(&dir);
    let counts = json(&db, &["demo", "--accounts", "60", "--seed", "7"]);
    assert_eq!(counts["surveys"], 3);
    assert!(counts["responses"].as_u64().expect("n") >= 5000);
    assert!(counts["contacts"].as_u64().expect("n") >= 240);
    assert!(counts["transactions"].as_u64().expect("n") > 1000);
    // Running it again adds nothing: the same seed gives the same rows.
    assert_eq!(
        json(&db, &["demo", "--accounts", "60", "--seed", "7"]),
        counts
    );
    let nps = json(
        &db,
        &["metrics", "--survey", "relationship-2026", "--by", "region"],
    );
    let groups = nps["groups"].as_array().expect("groups");
    assert!(groups.len() >= 5);
    // 西南 was made the unhappiest region.
    let score = |r: &str| {
        groups
            .iter()
            .find(|g| g["key"]["region"] == r)
            .and_then(|g| g["nps"]["score"].as_f64())
    };
    assert!(
        score("西南") < score("华东"),
        "{:?} vs {:?}",
        score("西南"),
        score("华东")
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn feedback_and_transactions_from_json_lines() {
    let dir = tempdir("jsonl");
    let db = sqlite(&dir);
    let orders = dir.join("orders.jsonl");
    std::fs::write(
        &orders,
        "{\"order_id\": \"SO1\", \"customer_id\": \"C1\", \"order_date\": \"2026-03-01\", \"amount\": 12800.5}\n\
         {\"order_id\": \"SO2\", \"customer_id\": \"C2\", \"order_date\": \"2026/3/2\", \"amount\": \"¥1,000\"}\n\
         {\"order_id\": \"SO3\", \"customer_id\": \"C2\", \"order_date\": null, \"amount\": 5}\n",
    )
    .expect("write");
    let report = json(
        &db,
        &["import", "transactions", orders.to_str().expect("path")],
    );
    assert_eq!(
        (report["imported"].as_u64(), report["rejected"].as_u64()),
        (Some(2), Some(1)),
        "{report}"
    );
    assert_eq!(report["rejections"][0]["line"], 3);

    let feedback = dir.join("feedback.csv");
    std::fs::write(&feedback, "客户编号,来源,日期,反馈内容\nC1,投诉,2026-03-03,发货太慢\nC1,投诉,2026-03-03,发货太慢\nC2,传真,2026-03-04,好\n").expect("write");
    let report = json(
        &db,
        &["import", "feedback", feedback.to_str().expect("path")],
    );
    // The same complaint twice in one file is two complaints (two customers may
    // write the same words); importing the file again adds nothing. An unknown
    // source is refused.
    let counts = |r: &Value| {
        (
            r["imported"].as_u64(),
            r["duplicate"].as_u64(),
            r["rejected"].as_u64(),
        )
    };
    assert_eq!(counts(&report), (Some(2), Some(0), Some(1)), "{report}");
    let again = json(
        &db,
        &["import", "feedback", feedback.to_str().expect("path")],
    );
    assert_eq!(counts(&again), (Some(0), Some(2), Some(1)), "{again}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn identical_rows_and_multi_line_orders_are_all_kept() {
    let dir = tempdir("identical");
    let db = sqlite(&dir);
    // Phone answers with only a date: three respondents gave the same answer.
    let survey = dir.join("phone.json");
    std::fs::write(
        &survey,
        r#"{"slug": "phone", "title": {"zh": "电话回访"}, "anonymous": true,
            "questions": [{"id": "nps", "kind": "nps", "text": {"zh": "推荐意愿"}, "required": true}]}"#,
    )
    .expect("write");
    ok(&db, &["survey", "create", survey.to_str().expect("path")]);
    let answers = dir.join("answers.csv");
    std::fs::write(
        &answers,
        "日期,推荐意愿\n2026-03-01,10\n2026-03-01,10\n2026-03-01,10\n2026-03-01,3\n",
    )
    .expect("write");
    let report = json(
        &db,
        &[
            "import",
            "responses",
            answers.to_str().expect("path"),
            "--survey",
            "phone",
        ],
    );
    assert_eq!(
        (report["imported"].as_u64(), report["duplicate"].as_u64()),
        (Some(4), Some(0)),
        "{report}"
    );
    let again = json(
        &db,
        &[
            "import",
            "responses",
            answers.to_str().expect("path"),
            "--survey",
            "phone",
        ],
    );
    assert_eq!(
        (again["imported"].as_u64(), again["duplicate"].as_u64()),
        (Some(0), Some(4))
    );
    let metrics = json(&db, &["metrics", "--survey", "phone"]);
    assert_eq!(metrics["overall"]["nps"]["n"], 4);

    // One order number, two lines.
    let orders = dir.join("orders.csv");
    std::fs::write(&orders, "order_id,customer_id,date,amount,product_line\nO1,C1,2026-01-05,100,A\nO1,C1,2026-01-05,50,B\n")
        .expect("write");
    let report = json(
        &db,
        &["import", "transactions", orders.to_str().expect("path")],
    );
    assert_eq!(report["imported"], 2, "{report}");
    let again = json(
        &db,
        &["import", "transactions", orders.to_str().expect("path")],
    );
    assert_eq!(again["duplicate"], 2);

    // --strict with an unknown account code writes nothing.
    let accounts = dir.join("accounts.csv");
    std::fs::write(&accounts, "customer_id,name\nA1,甲公司\n").expect("write");
    json(
        &db,
        &["import", "accounts", accounts.to_str().expect("path")],
    );
    let contacts = dir.join("contacts.csv");
    std::fs::write(&contacts, "customer_id,name\nA1,张三\nA2,李四\n").expect("write");
    let out = cx(
        &db,
        &[
            "import",
            "contacts",
            contacts.to_str().expect("path"),
            "--strict",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let report = json(
        &db,
        &["import", "contacts", contacts.to_str().expect("path")],
    );
    assert_eq!(
        (report["imported"].as_u64(), report["rejected"].as_u64()),
        (Some(1), Some(1)),
        "strict wrote nothing before"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// `kill -9` in the middle of an import: what was committed is whole batches
/// (20,000 rows each), nothing half-written, and importing again completes it.
#[test]
fn killed_import_leaves_whole_batches_and_resumes() {
    let dir = tempdir("killed");
    let db = sqlite(&dir);
    let file = dir.join("orders.csv");
    let mut text = String::from("order_id,customer_id,order_date,amount\n");
    for i in 0..100_000 {
        text.push_str(&format!(
            "SO{i:07},C{:05},2026-01-{:02},{}.50\n",
            i % 5000,
            1 + i % 28,
            10 + i % 900
        ));
    }
    std::fs::write(&file, text).expect("write");
    let count = |db: &str| -> u64 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            use cx_store::Store;
            let store = cx_store::open(db).await.expect("opens");
            let counts = store.table_counts().await.expect("counts");
            counts
                .0
                .iter()
                .find(|(t, _)| *t == "transactions")
                .map_or(0, |(_, n)| *n)
        })
    };
    // Create the schema first so the poller can read while the import writes.
    assert_eq!(count(&db), 0);
    let mut child = Command::new(env!("CARGO_BIN_EXE_cxscore"))
        .args([
            "--db",
            &db,
            "import",
            "transactions",
            file.to_str().expect("path"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    let started = std::time::Instant::now();
    while count(&db) == 0 && started.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    let stored = count(&db);
    eprintln!("rows stored when the import was killed: {stored}");
    assert!(stored > 0, "a first batch was committed before the kill");
    assert_eq!(
        stored % 20_000,
        0,
        "only whole batches are stored: {stored}"
    );
    let report = json(
        &db,
        &["import", "transactions", file.to_str().expect("path")],
    );
    assert_eq!(report["duplicate"].as_u64(), Some(stored), "{report}");
    assert_eq!(
        report["imported"].as_u64(),
        Some(100_000 - stored),
        "{report}"
    );
    assert_eq!(count(&db), 100_000);
    std::fs::remove_dir_all(&dir).ok();
}
