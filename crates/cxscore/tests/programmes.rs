//! `cxscore programme` as a user runs it on the demo data: the example
//! quarterly relationship-NPS programme for key accounts, a coupon pool, one
//! round of the scheduler against a local SMTP sink, the wave's figures, the
//! links and printable QR sheet of an in-person programme, the contact rules,
//! and the errors a user meets.

use serde_json::Value;

mod common;
use common::{json, ok, refused};

#[test]
fn a_programme_from_the_command_line() {
    let dir = std::env::temp_dir().join(format!("cxscore-programme-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).expect("dir");
    let db = format!("sqlite://{}", dir.join("cx.db").display());
    ok(&db, &["demo", "--accounts", "80"]);

    // Errors name what is wrong.
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"slug": "x", "survey": "relationship-2026", "cadence": {"every": 0, "unit": "quarter", "start": "2026-01-01"}}"#).expect("write");
    refused(
        &db,
        &["programme", "create", bad.to_str().expect("path")],
        "programme.cadence.every",
    );
    std::fs::write(
        &bad,
        r#"{"slug": "x", "survey": "nope", "cadence": {"once": "2026-01-01"}}"#,
    )
    .expect("write");
    refused(
        &db,
        &["programme", "create", bad.to_str().expect("path")],
        "no such survey",
    );
    refused(&db, &["programme", "show", "nope"], "no programme \"nope\"");
    refused(&db, &["programme", "rules", "--quiet", "9pm-8"], "--quiet");
    refused(
        &db,
        &["programme", "rules", "--time-zone", "Mars/Olympus"],
        "unknown",
    );

    // The example programme and its coupons; the second upload adds nothing.
    let out = ok(&db, &["programme", "create", "examples/programme.json"]);
    assert!(out.contains("key-rnps"), "{out}");
    refused(
        &db,
        &["programme", "create", "examples/programme.json"],
        "already exists",
    );
    let out = ok(
        &db,
        &["programme", "coupons", "Q4-2026", "examples/coupons.txt"],
    );
    assert!(out.contains("200 new code(s), 0 already there"), "{out}");
    let out = ok(
        &db,
        &["programme", "coupons", "Q4-2026", "examples/coupons.txt"],
    );
    assert!(out.contains("0 new code(s), 200 already there"), "{out}");
    // A list saved by Excel on Chinese Windows (GBK, Chinese header); a binary file is refused.
    let gbk = dir.join("券码.csv");
    let (bytes, _, _) =
        encoding_rs::GB18030.encode("券码,备注\r\nVIP-001,春节\r\nVIP-002,春节\r\n");
    std::fs::write(&gbk, &bytes).expect("write");
    let out = ok(
        &db,
        &["programme", "coupons", "VIP", gbk.to_str().expect("path")],
    );
    assert!(
        out.contains("pool VIP: 2 new code(s), 0 already there"),
        "{out}"
    );
    let binary = dir.join("codes.bin");
    std::fs::write(&binary, [0xff_u8, 0xfe, 0x00, 0x81, 0x30]).expect("write");
    refused(
        &db,
        &[
            "programme",
            "coupons",
            "VIP",
            binary.to_str().expect("path"),
        ],
        "neither UTF-8 nor GB18030",
    );

    // No quiet hours for the test, whatever the time of day.
    let rules = json(
        &db,
        &["programme", "rules", "--quiet", "0-0", "--min-days", "30"],
    );
    assert_eq!(
        (
            rules["quiet_start"].as_u64(),
            rules["min_days_between"].as_u64()
        ),
        (Some(0), Some(30))
    );

    // One round of the scheduler: the current quarter's wave, one mail per person invited.
    let (port, inbox) = common::smtp_sink();
    let smtp = format!("smtp://127.0.0.1:{port}");
    let run = json(
        &db,
        &[
            "programme",
            "run",
            "--smtp",
            &smtp,
            "--mail-from",
            "cx@example.com",
        ],
    );
    let invited = run["waves"][0]["invited"].as_u64().expect("invited");
    assert!(invited > 10, "{run}");
    assert_eq!(run["sent"]["sent"].as_u64(), Some(invited), "{run}");
    assert_eq!(inbox.lock().expect("lock").len() as u64, invited);
    let mut to: Vec<String> = inbox
        .lock()
        .expect("lock")
        .iter()
        .map(|(r, _)| r.clone())
        .collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len() as u64, invited, "one mail per person");
    // A second round draws and sends nothing more.
    let again = json(
        &db,
        &[
            "programme",
            "run",
            "--smtp",
            &smtp,
            "--mail-from",
            "cx@example.com",
        ],
    );
    assert_eq!(again["waves"].as_array().map(Vec::len), Some(0), "{again}");
    assert_eq!(again["sent"]["sent"], 0);

    // The wave's draw adds up and the rates count what was sent.
    let v = json(&db, &["programme", "show", "key-rnps", "--by", "role"]);
    let draw = &v["waves"][0]["draw"];
    let left: u64 = draw["left_out"]
        .as_object()
        .expect("left out")
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(
        draw["audience"].as_u64().expect("audience"),
        invited + left,
        "{draw}"
    );
    assert_eq!(v["totals"]["funnel"]["sent"].as_u64(), Some(invited));
    let roles: Vec<&str> = v["segments"]
        .as_array()
        .expect("segments")
        .iter()
        .filter_map(|s| s["group"].as_str())
        .collect();
    assert!(
        roles.iter().all(|r| [
            "decision_maker",
            "influencer",
            "technical_evaluator",
            "purchaser"
        ]
        .contains(r)),
        "{roles:?}"
    );
    let table = ok(&db, &["programme", "show", "key-rnps"]);
    assert!(
        table.contains("response rates by tier") && table.contains("key"),
        "{table}"
    );
    let messages = json(&db, &["programme", "messages", "key-rnps"]);
    assert_eq!(messages.as_array().map(Vec::len), Some(invited as usize));

    // An in-person programme: no mail, a printable sheet with a QR code per person.
    let visits = dir.join("visits.json");
    std::fs::write(&visits, r#"{"slug": "visits", "survey": "delivery-csat", "channel": "print",
        "audience": {"tiers": ["大客户"], "roles": ["user"]}, "cadence": {"once": "2026-01-01"}, "sample": {"size": 5}, "seed": 3}"#).expect("write");
    ok(
        &db,
        &["programme", "create", visits.to_str().expect("path")],
    );
    let run = json(&db, &["programme", "run"]);
    assert_eq!(run["waves"][0]["invited"], 5, "{run}");
    assert_eq!(run["sent"]["sent"], 0);
    let links = json(
        &db,
        &[
            "programme",
            "links",
            "visits",
            "--base-url",
            "https://cx.example.com",
        ],
    );
    let links = links.as_array().expect("links");
    assert_eq!(links.len(), 5);
    assert!(
        links[0]["link"]
            .as_str()
            .expect("link")
            .starts_with("https://cx.example.com/s/delivery-csat?t=")
    );
    let sheet = dir.join("sheet.html");
    ok(
        &db,
        &[
            "programme",
            "links",
            "visits",
            "--out",
            sheet.to_str().expect("path"),
        ],
    );
    let html = std::fs::read_to_string(&sheet).expect("sheet");
    assert_eq!(html.matches("<svg").count(), 5);
    // Print invitations count as handed out.
    let v = json(&db, &["programme", "show", "visits", "--by", "channel"]);
    assert_eq!(v["segments"][0]["group"], "print");
    assert_eq!(v["segments"][0]["funnel"]["sent"], 5);

    ok(&db, &["programme", "pause", "visits"]);
    let list = json(&db, &["programme", "list"]);
    let visits = list
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["slug"] == "visits")
        .expect("visits");
    assert_eq!(visits["status"], "paused");
    std::fs::remove_dir_all(&dir).ok();
}
