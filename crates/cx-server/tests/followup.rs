//! Closing the loop end to end, over real HTTP: a detractor at a key account
//! submits → a task opens for the account owner with the key-account deadline
//! → a webhook arrives with a valid signature (after one failed attempt, so
//! the retry is exercised) → the task is resolved with a re-survey → the
//! re-survey's answer is reported next to the first one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use cx_core::model::customer::{Account, Contact, ContactRole};
use cx_core::model::survey::SurveyDefinition;
use cx_server::auth::{hash_password, hash_secret};
use cx_server::followup::signature;
use cx_server::{AppState, Config};
use cx_store::Store;
use cx_store::server::ServerStore;
use serde_json::{Value, json};

mod common;
use common::{smtp_sink, wait_for};

type Seen = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A webhook receiver that fails its first request and records every one.
async fn receiver() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let log = log.clone();
            async move {
                let mut log = log.lock().expect("lock");
                log.push((headers, String::from_utf8_lossy(&body).into_owned()));
                if log.len() == 1 {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detractor_task_webhook_resolution_resurvey() {
    let dir = std::env::temp_dir().join(format!("cx-server-loop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let store = cx_store::open(&format!("sqlite://{}", dir.join("t.db").display()))
        .await
        .expect("store");
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/survey.json"
    ))
    .expect("survey");
    let def: SurveyDefinition = serde_json::from_str(&text).expect("valid");
    store.create_survey(&def).await.expect("survey");
    store
        .insert_accounts(&[Account {
            external_id: "K001".into(),
            name: "华东精密".into(),
            industry: None,
            region: Some("华东".into()),
            tier: Some("key".into()),
            sales_team: Some("华东一组".into()),
            owner: Some("李娜".into()),
            since: None,
            until: None,
        }])
        .await
        .expect("account");
    let account = store.account_ids(&["K001".into()]).await.expect("ids")["K001"];
    store
        .insert_contacts(&[(
            account,
            Contact {
                external_id: "P001".into(),
                account: "K001".into(),
                name: "王总".into(),
                role: Some(ContactRole::DecisionMaker),
                influence: 0.8,
                email: None,
                phone: None,
                time_zone: None,
            },
        )])
        .await
        .expect("contact");
    let admin = store
        .create_user(
            "admin",
            &hash_password("a long password").expect("hash"),
            "admin",
        )
        .await
        .expect("user");
    store
        .create_token(admin, &hash_secret("admin-token"), "write")
        .await
        .expect("token");
    let viewer = store
        .create_user(
            "viewer",
            &hash_password("a long password").expect("hash"),
            "viewer",
        )
        .await
        .expect("user");
    store
        .create_token(viewer, &hash_secret("viewer-token"), "read")
        .await
        .expect("token");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let state = AppState::new(
        store.clone(),
        Config {
            base_url: url.clone(),
            webhook_retry_secs: 1,
            ..Config::default()
        },
    );
    tokio::spawn(cx_server::serve(listener, state));
    let http = reqwest::Client::new();
    let api = |path: &str| format!("{url}/api/v1{path}");
    let auth = "Bearer admin-token";

    // A webhook for task events; a bad one is refused with the field named.
    let (hook_url, seen) = receiver().await;
    let r = http
        .post(api("/webhooks"))
        .header("Authorization", auth)
        .json(&json!({"url": "ftp://x", "events": ["task.created"]}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.expect("json");
    assert_eq!(e["error"]["field"], "url");
    let r = http
        .post(api("/webhooks"))
        .header("Authorization", auth)
        .json(&json!({"url": hook_url, "events": ["task.created", "task.resolved"]}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 201);
    let secret = r.json::<Value>().await.expect("json")["secret"]
        .as_str()
        .expect("secret")
        .to_string();

    // A detractor from the key account's decision maker.
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let r = http
        .post(api("/surveys/relationship-2026/responses"))
        .header("Authorization", auth)
        .json(&json!({"contact": "P001", "answers": {"nps": 2, "csat": 2, "comment": "交货一再延期，非常失望"}}))
        .send()
        .await
        .expect("submit");
    assert_eq!(r.status(), 201);
    let response_id = r.json::<Value>().await.expect("json")["id"]
        .as_i64()
        .expect("id");

    // The task appears for the owner with the key-account deadline (24 h).
    let tasks = wait_for("the task", async || {
        let t: Value = http
            .get(api("/tasks?status=open"))
            .header("Authorization", auth)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (t.as_array()?.len() == 1).then_some(t)
    })
    .await;
    let task = &tasks[0];
    assert_eq!(task["owner"], "李娜");
    assert_eq!(task["team"], "华东一组");
    assert_eq!(task["account"], "K001");
    assert_eq!(task["contact"], "P001");
    assert_eq!(task["priority"], "urgent");
    assert_eq!(task["response_id"], response_id);
    let rules: Vec<&str> = task["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| r["rule"].as_str().expect("rule"))
        .collect();
    assert_eq!(rules, ["detractor", "low_csat", "negative_comment"]);
    let due = cx_core::period::parse_timestamp(task["due"].as_str().expect("due")).expect("ts");
    let created =
        cx_core::period::parse_timestamp(task["created_at"].as_str().expect("at")).expect("ts");
    // The SLA runs from the response's time; the task is opened a moment later.
    assert!(
        (24 * 3600 - 5..=24 * 3600).contains(&(due - created)),
        "{}",
        due - created
    );
    assert!(created >= before - 1);
    let id = task["id"].as_i64().expect("id");

    // The webhook: first attempt refused (500), the retry delivered and signed.
    let (headers, body) = wait_for("the webhook retry", async || {
        let log = seen.lock().expect("lock");
        (log.len() >= 2).then(|| log[1].clone())
    })
    .await;
    assert_eq!(headers["x-cxscore-event"], "task.created");
    let sig = headers["x-cxscore-signature"].to_str().expect("ascii");
    let ts: i64 = sig
        .strip_prefix("t=")
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.parse().ok())
        .expect("timestamp");
    assert_eq!(sig, signature(&secret, ts, &body), "valid HMAC-SHA256");
    assert_ne!(sig, signature("wrong secret", ts, &body));
    let event: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(event["task"]["id"], id);
    assert_eq!(event["task"]["owner"], "李娜");
    let hooks: Value = http
        .get(api("/webhooks"))
        .header("Authorization", auth)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert!(hooks[0].get("secret").is_none(), "secrets are not listed");
    let log: Value = http
        .get(api(&format!("/webhooks/{}/deliveries", hooks[0]["id"])))
        .header("Authorization", auth)
        .send()
        .await
        .expect("deliveries")
        .json()
        .await
        .expect("json");
    assert_eq!(log[0]["status"], "delivered");
    assert_eq!(log[0]["attempts"], 2);

    // A viewer may read tasks but not change them; resolving needs a resolution.
    let r = http
        .patch(api(&format!("/tasks/{id}")))
        .header("Authorization", "Bearer viewer-token")
        .json(&json!({"status": "in_progress"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 403);
    let r = http
        .patch(api(&format!("/tasks/{id}")))
        .header("Authorization", auth)
        .json(&json!({"status": "resolved"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"]["field"],
        "resolution"
    );
    let r = http
        .patch(api(&format!("/tasks/{id}")))
        .header("Authorization", auth)
        .json(&json!({"status": "someday"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 422);

    // In progress, then resolved with a re-survey.
    let r = http
        .patch(api(&format!("/tasks/{id}")))
        .header("Authorization", auth)
        .json(&json!({"status": "in_progress", "note": "已致电王总"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 200);
    // A re-survey needs the task to be resolved in the same change.
    let r = http
        .patch(api(&format!("/tasks/{id}")))
        .header("Authorization", auth)
        .json(&json!({"note": "稍后回访", "resurvey": true}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"]["field"],
        "resurvey"
    );
    // Two clicks on "resolve with re-survey" at once: one resolution, one link, one event.
    let resolve = || {
        http.patch(api(&format!("/tasks/{id}")))
            .header("Authorization", auth)
            .json(&json!({"status": "resolved", "resolution": "加急补发并调整交期", "resurvey": true}))
            .send()
    };
    let (a, b) = tokio::join!(resolve(), resolve());
    let (a, b) = (a.expect("first"), b.expect("second"));
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    let views: Vec<Value> = vec![a.json().await.expect("json"), b.json().await.expect("json")];
    let links: Vec<&str> = views
        .iter()
        .filter_map(|v| v["resurvey_link"].as_str())
        .collect();
    assert_eq!(links.len(), 1, "{views:?}");
    let view = &views[1];
    assert_eq!(view["status"], "resolved");
    assert_eq!(view["history"].as_array().expect("history").len(), 2);
    let token = links[0].split("t=").nth(1).expect("token").to_string();

    // task.resolved reaches the webhook too.
    wait_for("task.resolved", async || {
        let log = seen.lock().expect("lock");
        log.iter()
            .any(|(h, _)| h["x-cxscore-event"] == "task.resolved")
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let resolved = seen
        .lock()
        .expect("lock")
        .iter()
        .filter(|(h, _)| h["x-cxscore-event"] == "task.resolved")
        .count();
    assert_eq!(resolved, 1, "one task.resolved for two clicks");

    // A token scoped to another survey sees none of this.
    store
        .create_token(
            viewer,
            &hash_secret("scoped-token"),
            "read,survey:another-survey",
        )
        .await
        .expect("token");
    let scoped = |path: String| {
        http.get(api(&path))
            .header("Authorization", "Bearer scoped-token")
            .send()
    };
    let r = scoped("/tasks?status=all".into()).await.expect("tasks");
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.expect("json"), json!([]));
    assert_eq!(
        scoped(format!("/tasks/{id}")).await.expect("task").status(),
        404
    );
    assert_eq!(
        scoped("/accounts".into()).await.expect("accounts").status(),
        403
    );
    assert_eq!(
        scoped("/tasks/metrics".into())
            .await
            .expect("metrics")
            .status(),
        403
    );
    store
        .create_token(
            viewer,
            &hash_secret("own-survey"),
            "read,survey:relationship-2026",
        )
        .await
        .expect("token");
    let own: Value = http
        .get(api("/tasks?status=all"))
        .header("Authorization", "Bearer own-survey")
        .send()
        .await
        .expect("tasks")
        .json()
        .await
        .expect("json");
    assert_eq!(own.as_array().expect("tasks").len(), 1);

    // The person answers the re-survey; the task reports before and after.
    let r = http
        .post(api("/surveys/relationship-2026/responses"))
        .header("Authorization", auth)
        .json(&json!({"token": &token, "answers": {"nps": 9}}))
        .send()
        .await
        .expect("resurvey");
    assert_eq!(r.status(), 201);
    let view: Value = http
        .get(api(&format!("/tasks/{id}")))
        .header("Authorization", auth)
        .send()
        .await
        .expect("task")
        .json()
        .await
        .expect("json");
    assert_eq!(view["nps_before"], 2);
    assert_eq!(view["nps_after"], 9);
    assert_eq!(view["nps_change"], 7);
    // A promoter's answer opens no new task.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let all: Value = http
        .get(api("/tasks"))
        .header("Authorization", auth)
        .send()
        .await
        .expect("tasks")
        .json()
        .await
        .expect("json");
    assert_eq!(all.as_array().expect("list").len(), 1);

    // Response and resolution times by team.
    let figures: Value = http
        .get(api("/tasks/metrics"))
        .header("Authorization", auth)
        .send()
        .await
        .expect("metrics")
        .json()
        .await
        .expect("json");
    assert_eq!(figures[0]["team"], "华东一组");
    assert_eq!(figures[0]["resolved"], 1);
    assert_eq!(figures[0]["within_sla_pct"], 100.0);

    // The account's score and people.
    let detail: Value = http
        .get(api("/accounts/K001"))
        .header("Authorization", auth)
        .send()
        .await
        .expect("account")
        .json()
        .await
        .expect("json");
    assert_eq!(detail["account"]["code"], "K001");
    assert!(detail["score"]["components"].is_array());
    assert_eq!(detail["history"].as_array().expect("history").len(), 5);
    let people = detail["relationship"]["people"].as_array().expect("people");
    assert_eq!(people[0]["code"], "P001");
    // Loyalty derived from the latest NPS answer (9 → +2), satisfaction from CSAT 2 → −1.
    assert_eq!(people[0]["ratings"][1], 2);
    assert_eq!(people[0]["derived"][1], true);
    // An assessment entered by hand: the decision maker now prefers a competitor.
    let put = |body: Value| {
        http.put(api("/accounts/K001/assessments"))
            .header("Authorization", auth)
            .json(&body)
            .send()
    };
    let r = put(json!({"contact": "P001", "period": "2026-Q4", "ratings": {"competitive_preference": -2, "engagement": "+1"}}))
        .await
        .expect("put");
    assert_eq!(r.status(), 200);
    let rel: Value = r.json().await.expect("json");
    let flags = rel["relationship"]["flags"].as_array().expect("flags");
    assert!(
        flags
            .iter()
            .any(|f| f["kind"] == "competitor_preferred" && f["contact"] == "P001"),
        "{flags:?}"
    );
    assert_eq!(rel["relationship"]["people"][0]["ratings"][6], -2);
    assert_eq!(rel["relationship"]["people"][0]["derived"][6], false);
    for (body, field) in [
        (
            json!({"contact": "P001", "ratings": {"karma": 1}}),
            "ratings",
        ),
        (
            json!({"contact": "P001", "ratings": {"loyalty": 3}}),
            "ratings",
        ),
        (json!({"contact": "P001", "ratings": {}}), "ratings"),
        (
            json!({"contact": "P001", "period": "Q4", "ratings": {"loyalty": 1}}),
            "period",
        ),
    ] {
        let r = put(body).await.expect("put");
        assert_eq!(r.status(), 422);
        assert_eq!(
            r.json::<Value>().await.expect("json")["error"]["field"],
            field
        );
    }
    let r = put(json!({"contact": "NOBODY", "ratings": {"loyalty": 1}}))
        .await
        .expect("put");
    assert_eq!(r.status(), 404);
    let r = http
        .put(api("/accounts/K001/assessments"))
        .header("Authorization", "Bearer viewer-token")
        .json(&json!({"contact": "P001", "ratings": {"loyalty": 1}}))
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 403);

    let r = http
        .get(api("/accounts/NOPE"))
        .header("Authorization", auth)
        .send()
        .await
        .expect("account");
    assert_eq!(r.status(), 404);

    // Scorecards: a bad one says what is wrong; a good one changes the weights.
    let r = http
        .put(api("/scorecard"))
        .header("Authorization", auth)
        .body(r#"{"weights": {"nps": 50, "karma": 1}}"#)
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 422);
    let msg = r.json::<Value>().await.expect("json")["error"]["message"].to_string();
    assert!(msg.contains("karma"), "{msg}");
    let r = http
        .put(api("/scorecard"))
        .header("Authorization", auth)
        .body(r#"{"weights": {"nps": 1}}"#)
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 200);
    let rows: Value = http
        .get(api("/accounts"))
        .header("Authorization", auth)
        .send()
        .await
        .expect("accounts")
        .json()
        .await
        .expect("json");
    // Only NPS counts now: 2 then 9 → one detractor, one promoter → NPS 0 → 50.
    assert_eq!(rows[0]["score"], 50.0);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_mail_through_smtp() {
    use base64::Engine;
    let dir = std::env::temp_dir().join(format!("cx-server-mail-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let store = cx_store::open(&format!("sqlite://{}", dir.join("t.db").display()))
        .await
        .expect("store");
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/survey.json"
    ))
    .expect("survey");
    let def: SurveyDefinition = serde_json::from_str(&text).expect("valid");
    store.create_survey(&def).await.expect("survey");
    store
        .insert_accounts(&[Account {
            external_id: "A1".into(),
            name: "远航机械".into(),
            industry: None,
            region: None,
            tier: Some("A".into()),
            sales_team: Some("华南二组".into()),
            owner: Some("陈磊".into()),
            since: None,
            until: None,
        }])
        .await
        .expect("account");
    let account = store.account_ids(&["A1".into()]).await.expect("ids")["A1"];
    store
        .insert_contacts(&[(
            account,
            Contact {
                external_id: "C1".into(),
                account: "A1".into(),
                name: "周工".into(),
                role: Some(ContactRole::User),
                influence: 0.3,
                email: None,
                phone: None,
                time_zone: None,
            },
        )])
        .await
        .expect("contact");
    let admin = store
        .create_user(
            "admin",
            &hash_password("a long password").expect("hash"),
            "admin",
        )
        .await
        .expect("user");
    store
        .create_token(admin, &hash_secret("admin-token"), "write")
        .await
        .expect("token");
    let (port, mails) = smtp_sink().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let smtp =
        cx_server::mail::SmtpConfig::parse(&format!("smtp://127.0.0.1:{port}"), "cx@example.com")
            .expect("smtp");
    let state = AppState::new(
        store.clone(),
        Config {
            base_url: url.clone(),
            smtp: Some(smtp),
            ..Config::default()
        },
    );
    tokio::spawn(cx_server::serve(listener, state));
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{url}/api/v1/webhooks"))
        .header("Authorization", "Bearer admin-token")
        .json(&json!({"url": "mailto:chenlei@example.com", "events": ["task.created"]}))
        .send()
        .await
        .expect("subscribe");
    assert_eq!(r.status(), 201);
    let r = http
        .post(format!("{url}/api/v1/webhooks"))
        .header("Authorization", "Bearer admin-token")
        .json(&json!({"url": "mailto:not-an-address"}))
        .send()
        .await
        .expect("subscribe");
    assert_eq!(r.status(), 422);
    let r = http
        .post(format!("{url}/api/v1/surveys/relationship-2026/responses"))
        .header("Authorization", "Bearer admin-token")
        .json(&json!({"contact": "C1", "answers": {"nps": 4}}))
        .send()
        .await
        .expect("submit");
    assert_eq!(r.status(), 201);
    let (rcpt, data) = wait_for("the mail", async || {
        mails.lock().expect("lock").first().cloned()
    })
    .await;
    assert_eq!(rcpt, ["RCPT TO:<chenlei@example.com>"]);
    assert!(data.contains("From: cxscore <cx@example.com>"), "{data}");
    assert!(data.contains("Subject: =?UTF-8?B?"), "{data}");
    let body: String = data
        .split("\r\n\r\n")
        .nth(1)
        .expect("body")
        .split("\r\n")
        .collect();
    let body = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .expect("base64");
    let body = String::from_utf8(body).expect("utf-8");
    assert!(body.contains("贬损者(NPS 4)"), "{body}");
    assert!(body.contains("远航机械") && body.contains("陈磊"), "{body}");
    assert!(body.contains(&format!("{url}/app/tasks")), "{body}");
    std::fs::remove_dir_all(&dir).ok();
}
