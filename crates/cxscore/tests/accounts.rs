//! `cxscore accounts`, `cxscore tasks` and `cxscore webhook` as a user runs
//! them on the demo data: scores that add up, a company scorecard, the errors
//! a user meets, the task workflow and rescans that open nothing twice.

mod common;
use common::{json, ok, refused};

#[test]
fn scores_scorecards_tasks_and_webhooks_from_the_command_line() {
    let dir = std::env::temp_dir().join(format!("cxscore-accounts-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).expect("dir");
    let db = format!("sqlite://{}", dir.join("cx.db").display());
    ok(&db, &["demo", "--accounts", "60"]);

    // Every score is the sum of its components' points, and its grade follows the thresholds.
    let scores = json(&db, &["accounts", "score", "--as-of", "2026-10-31"]);
    let scores = scores.as_array().expect("accounts");
    assert_eq!(scores.len(), 60);
    let mut graded = 0;
    for s in scores {
        let score = &s["score"];
        let Some(total) = score["score"].as_f64() else {
            continue;
        };
        let points: f64 = score["components"]
            .as_array()
            .expect("components")
            .iter()
            .map(|c| c["points"].as_f64().expect("points"))
            .sum();
        assert!((points - total).abs() < 1e-9, "{s}");
        let grade = score["grade"].as_str().expect("grade");
        if score["coverage"].as_f64().expect("coverage") >= 0.5 {
            graded += 1;
            let expected = match total {
                t if t >= 80.0 => "A",
                t if t >= 65.0 => "B",
                t if t >= 50.0 => "C",
                _ => "D",
            };
            assert_eq!(grade, expected, "{s}");
        } else {
            assert_eq!(grade, "insufficient");
        }
    }
    assert!(graded > 40, "most demo accounts have enough data");
    let key = json(&db, &["accounts", "score", "--tier", "key"]);
    assert!(
        key.as_array()
            .expect("key")
            .iter()
            .all(|s| s["account"]["tier"] == "key")
    );

    // A company scorecard: NPS alone → every score is (NPS + 100) / 2.
    let card = dir.join("card.json");
    std::fs::write(
        &card,
        r#"{"weights": {"nps": 1}, "grades": {"A": 90, "B": 70, "C": 40}}"#,
    )
    .expect("write");
    let card = card.to_str().expect("path");
    let by_nps = json(
        &db,
        &[
            "accounts",
            "score",
            "--scorecard",
            card,
            "--as-of",
            "2026-10-31",
        ],
    );
    for s in by_nps.as_array().expect("accounts") {
        if let Some(nps) = s["facts"]["nps"].as_f64() {
            let got = s["score"]["score"].as_f64().expect("score");
            assert!((got - (nps + 100.0) / 2.0).abs() < 1e-9, "{s}");
        } else {
            assert!(s["score"]["score"].is_null(), "no NPS, no score: {s}");
        }
    }
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"weights": {"karma": 1}}"#).expect("write");
    refused(
        &db,
        &[
            "accounts",
            "score",
            "--scorecard",
            bad.to_str().expect("path"),
        ],
        "karma",
    );
    refused(&db, &["accounts", "score", "--account", "NOPE"], "NOPE");
    refused(&db, &["accounts", "score", "--as-of", "someday"], "--as-of");

    // Relationships: an account's people, and every account's dimensions.
    let code = key[0]["account"]["code"]
        .as_str()
        .expect("code")
        .to_string();
    let people = ok(&db, &["accounts", "relationship", "--account", &code]);
    assert!(people.contains("relationship score"), "{people}");
    let all = json(&db, &["accounts", "relationship"]);
    assert_eq!(
        all[0]["relationship"]["dimensions"]
            .as_array()
            .expect("dims")
            .len(),
        7
    );

    // Tasks from the demo; a rescan opens nothing twice.
    let tasks = json(&db, &["tasks", "list", "--status", "all"]);
    let n = tasks.as_array().expect("tasks").len();
    assert!(n > 10, "{n} demo tasks");
    let first = json(&db, &["tasks", "scan"]);
    let after_scan = json(&db, &["tasks", "list", "--status", "all"]);
    assert_eq!(
        first["opened"].as_u64().expect("opened") as usize,
        after_scan.as_array().expect("tasks").len() - n,
        "the count reported is the tasks that appeared: {first}"
    );
    let again = json(&db, &["tasks", "scan"]);
    assert_eq!(again["opened"], 0, "{first} then {again}");
    assert_eq!(again["responses"], 0);
    let open = json(&db, &["tasks", "list", "--status", "open"]);
    let from_response = open
        .as_array()
        .expect("open")
        .iter()
        .find(|t| t["contact"].is_string())
        .expect("an open task from a person's response");
    let id = from_response["id"].as_i64().expect("id").to_string();
    // A score-drop task has nobody to re-survey: refused before anything changes.
    if let Some(drop) = open
        .as_array()
        .expect("open")
        .iter()
        .find(|t| t["response_id"].is_null())
    {
        let drop_id = drop["id"].to_string();
        refused(
            &db,
            &[
                "tasks",
                "update",
                &drop_id,
                "--status",
                "resolved",
                "--resolution",
                "x",
                "--resurvey",
            ],
            "re-survey",
        );
        assert_eq!(json(&db, &["tasks", "show", &drop_id])["status"], "open");
    }
    refused(
        &db,
        &["tasks", "update", &id, "--status", "resolved"],
        "resolution",
    );
    refused(
        &db,
        &["tasks", "update", &id, "--status", "later"],
        "status",
    );
    refused(&db, &["tasks", "list", "--status", "later"], "--status");
    ok(
        &db,
        &[
            "tasks",
            "update",
            &id,
            "--status",
            "in_progress",
            "--note",
            "called",
            "--as",
            "li",
        ],
    );
    let view = json(
        &db,
        &[
            "tasks",
            "update",
            &id,
            "--status",
            "resolved",
            "--resolution",
            "replaced the part",
            "--resurvey",
        ],
    );
    assert_eq!(view["status"], "resolved");
    assert_eq!(view["history"].as_array().expect("history").len(), 2);
    assert!(
        view["resurvey_link"]
            .as_str()
            .expect("link")
            .contains("/s/")
    );
    let shown = json(&db, &["tasks", "show", &id]);
    assert_eq!(shown["resolution"], "replaced the part");
    let metrics = json(&db, &["tasks", "metrics"]);
    assert_eq!(
        metrics.as_array().expect("teams").last().expect("all")["team"],
        "(all)"
    );
    let rules = dir.join("rules.json");
    std::fs::write(&rules, r#"{"detractor_max": 12}"#).expect("write");
    refused(
        &db,
        &["tasks", "rules", rules.to_str().expect("path")],
        "detractor_max",
    );
    std::fs::write(&rules, r#"{"sla_hours": [["key", 8]]}"#).expect("write");
    let shown = ok(&db, &["tasks", "rules", rules.to_str().expect("path")]);
    assert!(
        shown.contains("\"key\",\n      8") || shown.contains("8"),
        "{shown}"
    );

    // Improvement actions: the metric since the start against the window before.
    let action = json(
        &db,
        &[
            "actions",
            "add",
            "--title",
            "华东加派配送车辆",
            "--survey",
            "relationship-2026",
            "--metric",
            "dim:delivery_speed",
            "--where",
            "region=华东",
            "--since",
            "2026-09-01",
        ],
    );
    assert_eq!(action["started_on"], "2026-09-01");
    refused(
        &db,
        &[
            "actions",
            "add",
            "--title",
            "x",
            "--survey",
            "relationship-2026",
            "--metric",
            "dim:karma",
        ],
        "dim:delivery_speed",
    );
    refused(
        &db,
        &[
            "actions", "add", "--title", "x", "--survey", "nope", "--metric", "nps",
        ],
        "nope",
    );
    let listed = json(&db, &["actions", "list"]);
    let effect = &listed[0]["effect"];
    assert!(effect["n"].as_u64().expect("n") > 0, "{listed}");
    let (before, after) = (
        effect["before"].as_f64().expect("before"),
        effect["since"].as_f64().expect("since"),
    );
    assert!((effect["change"].as_f64().expect("change") - (after - before)).abs() < 1e-9);
    // The same figure as `metrics --from … --to … --compare previous` on that slice.
    let today = listed[0]["effect"]["windows"][1]
        .as_str()
        .expect("window")
        .rsplit(' ')
        .next()
        .expect("today")
        .to_string();
    let m = json(
        &db,
        &[
            "metrics",
            "--survey",
            "relationship-2026",
            "--dim",
            "delivery_speed=delivery_speed",
            "--where",
            "region=华东",
            "--from",
            "2026-09-01",
            "--to",
            &today,
            "--compare",
            "previous",
        ],
    );
    assert_eq!(
        m["groups"][0]["dims"]["delivery_speed"]["mean"].as_f64(),
        Some(after)
    );
    let id = action["id"].to_string();
    ok(&db, &["actions", "done", &id]);
    assert_eq!(json(&db, &["actions", "list"])[0]["status"], "done");
    refused(&db, &["actions", "done", "999"], "no action");

    // Webhooks and mail subscriptions.
    refused(&db, &["webhook", "add", "ftp://example.com"], "http");
    refused(
        &db,
        &[
            "webhook",
            "add",
            "https://example.com/h",
            "--events",
            "task.exploded",
        ],
        "task.exploded",
    );
    refused(&db, &["webhook", "add", "mailto:nobody"], "email address");
    let hook = json(
        &db,
        &[
            "webhook",
            "add",
            "https://example.com/h",
            "--events",
            "task.created,task.overdue",
        ],
    );
    assert_eq!(hook["secret"].as_str().expect("secret").len(), 43);
    ok(&db, &["webhook", "add", "mailto:cx-team@example.com"]);
    let list = json(&db, &["webhook", "list"]);
    assert_eq!(list.as_array().expect("hooks").len(), 2);
    assert!(list[0].get("secret").is_none());
    let id = hook["id"].to_string();
    ok(&db, &["webhook", "remove", &id]);
    refused(&db, &["webhook", "remove", &id], "no webhook");
    std::fs::remove_dir_all(&dir).ok();
}
