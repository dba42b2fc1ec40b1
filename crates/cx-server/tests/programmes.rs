//! A survey programme end to end, over real HTTP and SMTP: a quarterly
//! relationship-NPS programme for key accounts is created through the API;
//! its first wave goes out to an SMTP sink (quiet hours respected in each
//! person's time zone, a bounce recorded); a person answers from the email's
//! NPS button and gets a coupon code on the thank-you page and by mail; only
//! the people who did not answer get a reminder; an unsubscribe is honoured in
//! the next wave; response rates by segment come with intervals. A second
//! test stops the scheduler in the middle of a slow wave and starts it again:
//! nobody receives two invitations.

use std::time::Duration;

use cx_core::model::customer::{Account, Contact, ContactRole};
use cx_core::model::survey::SurveyDefinition;
use cx_server::auth::{hash_password, hash_secret};
use cx_server::mail::SmtpConfig;
use cx_server::programmes::{self, SendConfig};
use cx_server::{AppState, Config};
use cx_store::programmes::ProgrammeStore;
use cx_store::server::ServerStore;
use cx_store::{AnyStore, Store};
use serde_json::{Value, json};

mod common;
use common::{decoded, recipient, smtp_sink_with};

/// Tomorrow (UTC) at `hour`:00 plus `days`: the test runs in the future
/// relative to the clock, whatever day it is, so what the server does at
/// real time (a submission, a reward) comes before the scheduler's rounds.
fn at(days: i64, hour: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    (now.div_euclid(86_400) + 1 + days) * 86_400 + hour * 3600
}

/// The quarterly wave a day is in.
fn quarter_of(ts: i64) -> String {
    cx_core::programme::Cadence::Every {
        n: 1,
        unit: cx_core::programme::Unit::Quarter,
        start: cx_core::period::Date::from_ymd(2026, 1, 1).expect("date"),
    }
    .wave_on(cx_core::period::Date::from_days(
        ts.div_euclid(86_400) as i32
    ))
    .expect("wave")
    .0
}

fn person(code: &str, account: &str, role: ContactRole, email: Option<&str>, tz: &str) -> Contact {
    Contact {
        external_id: code.into(),
        account: account.into(),
        name: format!("{code} 经理"),
        role: Some(role),
        influence: 0.8,
        email: email.map(String::from),
        phone: code
            .starts_with("S1")
            .then(|| "+86 139 0000 0001".to_string()),
        time_zone: Some(tz.into()),
    }
}

/// A store with the example survey, two key accounts and a standard one.
async fn setup(name: &str) -> (AnyStore, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("cx-programme-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
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
    let account = |code: &str, tier: &str, region: &str| Account {
        external_id: code.into(),
        name: format!("{code} 公司"),
        industry: Some("制造".into()),
        region: Some(region.into()),
        tier: Some(tier.into()),
        sales_team: Some("华东一组".into()),
        owner: Some("李娜".into()),
        since: None,
        until: None,
    };
    store
        .insert_accounts(&[
            account("K1", "key", "华东"),
            account("K2", "key", "Europe"),
            account("S1", "standard", "华南"),
        ])
        .await
        .expect("accounts");
    let ids = store
        .account_ids(&["K1".into(), "K2".into(), "S1".into()])
        .await
        .expect("ids");
    let people = vec![
        (
            ids["K1"],
            person(
                "K1-P1",
                "K1",
                ContactRole::DecisionMaker,
                Some("p1@k1.example.com"),
                "Asia/Shanghai",
            ),
        ),
        (
            ids["K1"],
            person(
                "K1-P2",
                "K1",
                ContactRole::Influencer,
                Some("p2@k1.example.com"),
                "Asia/Shanghai",
            ),
        ),
        (
            ids["K1"],
            person("K1-P3", "K1", ContactRole::User, None, "Asia/Shanghai"),
        ),
        (
            ids["K2"],
            person(
                "K2-P1",
                "K2",
                ContactRole::DecisionMaker,
                Some("p1@k2.example.com"),
                "Europe/Berlin",
            ),
        ),
        (
            ids["K2"],
            person(
                "K2-P2",
                "K2",
                ContactRole::Purchaser,
                Some("gone@k2.example.com"),
                "Europe/Berlin",
            ),
        ),
        (
            ids["S1"],
            person(
                "S1-P1",
                "S1",
                ContactRole::DecisionMaker,
                Some("p1@s1.example.com"),
                "Asia/Shanghai",
            ),
        ),
    ];
    store.insert_contacts(&people).await.expect("contacts");
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
    (store, dir)
}

/// An SMTP sink (refusing `reject`, waiting `delay` per message) and the
/// scheduler's settings that send to it, links pointing at `base`.
async fn mail_sink(
    base: impl Into<String>,
    reject: Vec<String>,
    delay: Duration,
) -> (SendConfig, common::Inbox) {
    let (port, inbox) = smtp_sink_with(reject, delay).await;
    let send = SendConfig {
        base_url: base.into(),
        smtp: Some(
            SmtpConfig::parse(&format!("smtp://127.0.0.1:{port}"), "cx@example.com").expect("smtp"),
        ),
    };
    (send, inbox)
}

fn hidden(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\" value=\"")).expect(name) + name.len() + 15;
    html[at..].split('"').next().expect("value").to_string()
}

fn link_in(text: &str, marker: &str) -> String {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {text}"));
    let start = text[..at].rfind("http").expect("link start");
    text[start..]
        .split(|c: char| c.is_whitespace() || c == '"' || c == '<')
        .next()
        .expect("link")
        .replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarterly_key_account_programme() {
    let (store, dir) = setup("story").await;
    let (port, inbox) = smtp_sink_with(vec!["gone@".into()], Duration::ZERO).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    // The scheduler is driven by hand below, at chosen times of day.
    let state = AppState::new(
        store.clone(),
        Config {
            base_url: url.clone(),
            follow_up: false,
            ..Config::default()
        },
    );
    tokio::spawn(cx_server::serve(listener, state));
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let api = |path: &str| format!("{url}/api/v1{path}");
    let auth = "Bearer admin-token";
    let send = SendConfig {
        base_url: url.clone(),
        smtp: Some(
            SmtpConfig::parse(&format!("smtp://127.0.0.1:{port}"), "cx@example.com").expect("smtp"),
        ),
    };
    let client = programmes::client();

    // A coupon pool: the repeated code counts as a duplicate.
    let r = http
        .post(api("/coupons/Q4"))
        .header("Authorization", auth)
        .body("code\nQ4-AAA\nQ4-BBB\nQ4-AAA\n")
        .send()
        .await
        .expect("coupons");
    assert_eq!(r.status(), 200);
    let added: Value = r.json().await.expect("json");
    assert_eq!(
        (added["added"].as_u64(), added["duplicate"].as_u64()),
        (Some(2), Some(1))
    );

    // The programme; a wrong one is refused with the key named, a second one
    // with the same slug is a conflict.
    let programme = json!({
        "slug": "key-rnps", "name": "大客户关系 NPS", "survey": "relationship-2026",
        "audience": {"key_accounts_only": true},
        "cadence": {"every": 1, "unit": "quarter", "start": "2026-01-01"},
        "seed": 7, "channel": "email",
        "reminders": {"after_days": 3, "max": 1},
        "reward": {"coupon": "Q4"}
    });
    let mut wrong = programme.clone();
    wrong["cadence"] = json!({"every": 1, "unit": "fortnight", "start": "2026-01-01"});
    let r = http
        .post(api("/programmes"))
        .header("Authorization", auth)
        .json(&wrong)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.expect("json");
    assert!(
        e["error"]["message"]
            .as_str()
            .expect("a value")
            .contains("programme.cadence.unit"),
        "{e}"
    );
    let mut no_survey = programme.clone();
    no_survey["survey"] = json!("nope");
    let r = http
        .post(api("/programmes"))
        .header("Authorization", auth)
        .json(&no_survey)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 422);
    let r = http
        .post(api("/programmes"))
        .header("Authorization", auth)
        .json(&programme)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let r = http
        .post(api("/programmes"))
        .header("Authorization", auth)
        .json(&programme)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 409);

    // 10:00 in Shanghai, 03:00 in Berlin: the first wave is drawn; the Shanghai
    // people are mailed now, Berlin waits for the end of its quiet hours, the
    // person without an address is left out, the standard account is not in
    // the audience.
    let morning = at(0, 2);
    programmes::tick(&store, &send, &client, morning).await;
    let p = store
        .programme("key-rnps")
        .await
        .expect("db")
        .expect("programme");
    let waves = store.waves(p.id).await.expect("waves");
    assert_eq!(waves.len(), 1);
    assert_eq!(waves[0].label, quarter_of(morning));
    assert_eq!(waves[0].stats["audience"], 5);
    assert_eq!(waves[0].stats["invited"], 4);
    assert_eq!(waves[0].stats["left_out"]["unreachable"], 1);
    let mails = inbox.lock().expect("a value").clone();
    let mut to: Vec<String> = mails.iter().map(|(_, d)| recipient(d)).collect();
    to.sort();
    assert_eq!(to, vec!["p1@k1.example.com", "p2@k1.example.com"]);
    let first = mails
        .iter()
        .find(|(_, d)| recipient(d) == "p1@k1.example.com")
        .expect("mail")
        .1
        .clone();
    assert!(first.contains("List-Unsubscribe: <"), "{first}");
    let text = decoded(&first);
    assert!(text.contains("K1-P1 经理"), "{text}");
    assert!(text.contains("您有多大可能向朋友或同事推荐我们"), "{text}");
    // The same tick again, or a second scheduler, draws nothing twice.
    programmes::tick(&store, &send, &client, morning + 60).await;
    assert_eq!(store.waves(p.id).await.expect("waves").len(), 1);
    assert_eq!(inbox.lock().expect("a value").len(), 2);

    // 08:00 in Berlin: the decision maker is mailed; the purchaser's address bounces.
    programmes::tick(&store, &send, &client, at(0, 7)).await;
    assert_eq!(inbox.lock().expect("a value").len(), 3);
    let log = store.messages(p.id, 100).await.expect("log");
    let bounced = log.iter().find(|m| m.contact == "K2-P2").expect("message");
    assert_eq!(bounced.status, "bounced");
    assert!(
        bounced.reason.as_deref().expect("a value").contains("550"),
        "{bounced:?}"
    );
    let ids = store
        .contact_ids(&["K2-P2".into(), "K1-P2".into()])
        .await
        .expect("ids");
    assert!(
        store
            .suppression(ids["K2-P2"].0)
            .await
            .expect("db")
            .expect("a value")
            .starts_with("bounced")
    );

    // K1-P1 clicks 9 in the email: the survey opens with 9 filled in.
    let nine = link_in(&text, "&q_nps=9");
    let page = http
        .get(&nine)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(page.contains(r#"name="q_nps" value="9" checked"#), "{page}");
    let field = |name: &str| hidden(&page, name);
    let form = [
        ("_csrf", field("_csrf")),
        ("_k", field("_k")),
        ("t", field("t")),
        ("lang", "zh".to_string()),
        ("q_nps", "9".into()),
        ("q_comment", "服务很好".into()),
    ];
    let r = http
        .post(format!("{url}/s/relationship-2026"))
        .form(&form)
        .send()
        .await
        .expect("submit");
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    let thanks = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    // A second click on Submit stores nothing more and thanks the same way.
    let again = http
        .post(format!("{url}/s/relationship-2026"))
        .form(&form)
        .send()
        .await
        .expect("submit");
    assert_eq!(again.status(), 303);
    let page = http
        .get(format!("{url}{thanks}"))
        .send()
        .await
        .expect("thanks")
        .text()
        .await
        .expect("html");
    assert!(page.contains("您的优惠券码：Q4-AAA"), "{page}");
    let page = http
        .get(format!("{url}{thanks}"))
        .send()
        .await
        .expect("thanks")
        .text()
        .await
        .expect("html");
    assert!(page.contains("Q4-AAA"), "the same code again: {page}");
    let survey = store.survey("relationship-2026").await.expect("survey");
    let responses = store
        .responses_after(survey.id, 0, 10)
        .await
        .expect("responses");
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].channel, "email");

    // Four days later: one reminder each to the two who have not answered,
    // the reward mail to the one who did; a week later nothing more (max 1).
    let later = at(4, 8);
    programmes::tick(&store, &send, &client, later).await;
    let mails = inbox.lock().expect("a value").clone();
    let newer: Vec<(String, String)> = mails[3..]
        .iter()
        .map(|(_, d)| (recipient(d), decoded(d)))
        .collect();
    let mut to: Vec<&str> = newer.iter().map(|(t, _)| t.as_str()).collect();
    to.sort();
    assert_eq!(
        to,
        vec![
            "p1@k1.example.com",
            "p1@k2.example.com",
            "p2@k1.example.com"
        ],
        "{newer:?}"
    );
    let reward = newer
        .iter()
        .find(|(t, _)| t == "p1@k1.example.com")
        .expect("reward mail");
    assert!(reward.1.contains("Q4-AAA"), "{reward:?}");
    let reminder = newer
        .iter()
        .find(|(t, _)| t == "p2@k1.example.com")
        .expect("reminder");
    assert!(reminder.1.contains("前几天我们邀请您"), "{reminder:?}");
    programmes::tick(&store, &send, &client, at(11, 8)).await;
    assert_eq!(inbox.lock().expect("a value").len(), 6);

    // K1-P2 unsubscribes from the reminder's link (a page, then a button).
    let unsubscribe = link_in(&reminder.1, "/u/");
    let page = http
        .get(&unsubscribe)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(page.contains("确认退订"), "{page}");
    let r = http
        .post(&unsubscribe)
        .form(&[("confirm", "1")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    assert_eq!(
        store
            .suppression(ids["K1-P2"].0)
            .await
            .expect("db")
            .as_deref(),
        Some("unsubscribed")
    );

    // Response rates by tier: 4 invited, 3 sent (one bounce), 1 answered, NPS 100.
    let v: Value = http
        .get(api("/programmes/key-rnps?by=tier"))
        .header("Authorization", auth)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let key = &v["segments"][0];
    assert_eq!(key["group"], "key");
    assert_eq!(key["funnel"]["invited"], 4);
    assert_eq!(key["funnel"]["sent"], 3);
    assert_eq!(key["funnel"]["failed"], 1);
    assert_eq!(key["funnel"]["completed"], 1);
    assert!(
        (key["response_rate"]["percent"].as_f64().expect("a value") - 100.0 / 3.0).abs() < 1e-9
    );
    let lo = key["response_rate"]["interval"][0]
        .as_f64()
        .expect("a value");
    assert!(lo > 0.0 && lo < 33.3, "{key}");
    assert_eq!(key["nps"], 100.0);
    assert_eq!(v["coupons"], json!([2, 1]));
    let rewards: Value = http
        .get(api("/programmes/key-rnps/rewards"))
        .header("Authorization", auth)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(rewards.as_array().expect("a value").len(), 1);
    assert_eq!(rewards[0]["contact"], "K1-P1");
    assert_eq!(rewards[0]["code"], "Q4-AAA");
    let by_wave: Value = http
        .get(api("/programmes/key-rnps/rates?by=wave"))
        .header("Authorization", auth)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(by_wave[0]["group"], quarter_of(morning).as_str());
    let r = http
        .get(api("/programmes/key-rnps/rates?by=colour"))
        .header("Authorization", auth)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 422);

    // The next quarter's wave: the unsubscribed and the bounced are left out for good.
    let next = at(100, 3);
    programmes::tick(&store, &send, &client, next).await;
    let waves = store.waves(p.id).await.expect("waves");
    assert_eq!(waves[0].label, quarter_of(next));
    assert_eq!(
        waves[0].stats["left_out"]["suppressed"], 2,
        "{:?}",
        waves[0].stats
    );
    let invited: Vec<String> = store
        .programme_invitations(p.id, Some(waves[0].id))
        .await
        .expect("invitations")
        .into_iter()
        .map(|i| i.contact)
        .collect();
    assert!(
        !invited.contains(&"K1-P2".to_string()) && !invited.contains(&"K2-P2".to_string()),
        "{invited:?}"
    );

    // The app, signed in: the list, a form that keeps its values after an
    // error, the programme's rates, a phone programme's call list.
    let login = http
        .get(format!("{url}/app/login"))
        .send()
        .await
        .expect("login")
        .text()
        .await
        .expect("html");
    let csrf = hidden(&login, "_csrf");
    let r = http
        .post(format!("{url}/app/login"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("username", "admin"),
            ("password", "a long password"),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 303);
    let list = http
        .get(format!("{url}/app/programmes"))
        .send()
        .await
        .expect("list")
        .text()
        .await
        .expect("html");
    assert!(list.contains(r#"data-programme="key-rnps""#), "{list}");
    let csrf = hidden(&list, "_csrf");
    let form = |slug: &str| {
        vec![
            ("_csrf", csrf.clone()),
            ("name", "电话回访".to_string()),
            ("slug", slug.to_string()),
            ("survey", "relationship-2026".into()),
            ("tier", "standard".into()),
            ("cadence", "once".into()),
            ("every", "1".into()),
            ("start", "2026-01-01".into()),
            ("channel", "phone".into()),
            ("after_days", "3".into()),
            ("max", "0".into()),
            ("reward", "points".into()),
            ("reward_value", "50".into()),
            ("seed", "1".into()),
        ]
    };
    let r = http
        .post(format!("{url}/app/programmes"))
        .form(&form("Bad Slug"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 422);
    let page = r.text().await.expect("html");
    assert!(
        page.contains("programme.slug") && page.contains(r#"value="电话回访""#),
        "{page}"
    );
    let r = http
        .post(format!("{url}/app/programmes"))
        .form(&form("calls"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    assert_eq!(r.headers()["location"], "/app/programmes/calls");
    let page = http
        .get(format!("{url}/app/programmes/key-rnps?by=tier"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains(r#"<tr data-group="key">"#) && page.contains("33.3%"),
        "{page}"
    );
    programmes::tick(&store, &send, &client, at(100, 4)).await;
    let sheet = http
        .get(format!("{url}/app/programmes/calls/sheet"))
        .send()
        .await
        .expect("sheet")
        .text()
        .await
        .expect("html");
    assert!(sheet.contains("+86 139 0000 0001"), "{sheet}");
    // The interviewer opens the person's link from the call list and records the answers.
    let link = link_in(&sheet, "/s/relationship-2026?t=");
    let page = http
        .get(&link)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let field = |name: &str| hidden(&page, name);
    let answers = [
        ("_csrf", field("_csrf")),
        ("_k", field("_k")),
        ("t", field("t")),
        ("q_nps", "6".to_string()),
    ];
    let r = http
        .post(format!("{url}/s/relationship-2026"))
        .form(&answers)
        .send()
        .await
        .expect("submit");
    assert_eq!(r.status(), 303);
    let thanks = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let page = http
        .get(format!("{url}{thanks}"))
        .send()
        .await
        .expect("thanks")
        .text()
        .await
        .expect("html");
    assert!(page.contains("50"), "points on the thank-you page: {page}");
    let responses = store
        .responses_after(survey.id, 0, 10)
        .await
        .expect("responses");
    let phone = responses
        .iter()
        .find(|r| r.contact.as_deref() == Some("S1-P1"))
        .expect("the interview");
    assert_eq!(phone.channel, "phone");
    assert_eq!(phone.metadata["interviewer"], "admin");

    // Paused: nothing is drawn or sent.
    let r = http
        .patch(api("/programmes/key-rnps"))
        .header("Authorization", auth)
        .json(&json!({"status": "paused"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 200);
    let before = inbox.lock().expect("a value").len();
    programmes::tick(&store, &send, &client, at(200, 3)).await;
    assert_eq!(store.waves(p.id).await.expect("waves").len(), 2);
    assert_eq!(inbox.lock().expect("a value").len(), before);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_a_wave_sends_nobody_twice() {
    let (store, dir) = setup("restart").await;
    // Thirty more people at a key account, and a slow mail server.
    let k1 = store.account_ids(&["K1".into()]).await.expect("ids")["K1"];
    let more: Vec<_> = (0..30)
        .map(|k| {
            let code = format!("K1-X{k:02}");
            let mail = format!("x{k:02}@k1.example.com");
            (
                k1,
                person(&code, "K1", ContactRole::User, Some(&mail), "+08:00"),
            )
        })
        .collect();
    store.insert_contacts(&more).await.expect("contacts");
    store
        .init_setting(
            programmes::RULES_KEY,
            r#"{"account_cap": 0, "quiet_start": 0, "quiet_end": 0}"#,
        )
        .await
        .expect("rules");
    let def = json!({
        "slug": "all-key", "survey": "relationship-2026",
        "audience": {"tiers": ["key"]}, "cadence": {"once": "2026-01-01"}
    });
    programmes::save(&store, &def, false)
        .await
        .expect("programme");
    let (send, inbox) =
        mail_sink("http://127.0.0.1:1", Vec::new(), Duration::from_millis(60)).await;
    let scheduler = programmes::start(store.clone(), send.clone(), Duration::from_millis(200));
    common::wait_for("a few mails", async || {
        (inbox.lock().expect("a value").len() >= 8).then_some(())
    })
    .await;
    // Stopped in the middle of the wave (possibly in the middle of a message).
    scheduler.abort();
    let _ = scheduler.await;
    let sent_before = inbox.lock().expect("a value").len();
    assert!(sent_before < 34, "the wave was not finished: {sent_before}");
    let scheduler = programmes::start(store.clone(), send, Duration::from_millis(200));
    let p = store
        .programme("all-key")
        .await
        .expect("db")
        .expect("programme");
    let done = common::wait_for("the rest of the wave", async || {
        let log = store.messages(p.id, 100).await.ok()?;
        log.iter()
            .all(|m| m.status != "pending" && m.status != "sending")
            .then_some(log)
    })
    .await;
    scheduler.abort();
    let mut to: Vec<String> = inbox
        .lock()
        .expect("a value")
        .iter()
        .map(|(_, d)| recipient(d))
        .collect();
    let all = to.len();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), all, "somebody got two invitations");
    assert_eq!(done.len(), 34);
    let failed: Vec<_> = done.iter().filter(|m| m.status == "failed").collect();
    // At most the one message that was on the wire when the scheduler stopped
    // is marked failed (it may or may not have gone); everyone else got one mail.
    assert!(failed.len() <= 1, "{failed:?}");
    assert!(
        failed
            .iter()
            .all(|m| m.reason.as_deref().unwrap_or("").starts_with("interrupted"))
    );
    assert_eq!(
        all + failed.len(),
        34 + usize::from(failed.len() == 1 && all == 34)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_messages_go_to_the_companys_gateway_signed() {
    use std::sync::{Arc, Mutex};
    let (store, dir) = setup("sms").await;
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/send",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let log = log.clone();
            async move {
                let sig = headers["x-cxscore-signature"]
                    .to_str()
                    .unwrap_or("")
                    .to_string();
                log.lock().expect("lock").push((sig, body));
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let gateway = format!("http://{}/send", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let secret = "a shared secret of the gateway";
    let def = json!({
        "slug": "sms", "survey": "relationship-2026", "channel": "sms",
        "gateway": {"url": gateway, "secret": secret},
        "audience": {"tiers": ["standard"]}, "cadence": {"once": "2026-01-01"}
    });
    programmes::save(&store, &def, false)
        .await
        .expect("programme");
    let send = SendConfig {
        base_url: "https://cx.example.com".into(),
        smtp: None,
    };
    programmes::tick(&store, &send, &programmes::client(), at(0, 3)).await;
    let got = seen.lock().expect("lock").clone();
    assert_eq!(got.len(), 1, "{got:?}");
    let (sig, body) = &got[0];
    let t: i64 = sig
        .strip_prefix("t=")
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.parse().ok())
        .expect("timestamp");
    assert_eq!(sig, &cx_server::followup::signature(secret, t, body));
    let v: Value = serde_json::from_str(body).expect("json");
    assert_eq!(v["to"], "+86 139 0000 0001");
    assert!(
        v["link"]
            .as_str()
            .expect("link")
            .starts_with("https://cx.example.com/s/relationship-2026?t=")
    );
    assert!(v["text"].as_str().expect("text").contains("退订"), "{v}");
    // The gateway secret is not shown back.
    let view = programmes::view(&store, "sms", "all")
        .await
        .expect("view")
        .expect("programme");
    assert_eq!(view.definition["gateway"]["secret"], "***");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_triggers_an_invitation_after_the_delay() {
    use cx_core::model::customer::Transaction;
    use cx_store::KeyedTransaction;
    let (store, dir) = setup("trigger").await;
    let today = cx_core::period::Date::from_days(
        (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
            / 86_400) as i32,
    );
    let purchase = |key: &str, date: cx_core::period::Date| KeyedTransaction {
        key: key.into(),
        transaction: Transaction {
            external_id: Some(key.into()),
            customer: "K1".into(),
            date,
            amount_minor: 1_280_000,
            currency: "CNY".into(),
            product_line: Some("云服务".into()),
        },
    };
    // A purchase from before the programme existed asks nobody.
    store
        .insert_transactions(&[purchase("old", today.add_days(-30))])
        .await
        .expect("old purchase");
    let def = json!({
        "slug": "after-purchase", "survey": "relationship-2026",
        "audience": {"roles": ["decision_maker", "influencer"]},
        "cadence": {"trigger": "transaction", "delay_days": 7}
    });
    programmes::save(&store, &def, false)
        .await
        .expect("programme");
    let (send, inbox) = mail_sink("http://127.0.0.1:1", Vec::new(), Duration::ZERO).await;
    let client = programmes::client();
    programmes::tick(&store, &send, &client, at(0, 3)).await;
    let p = store
        .programme("after-purchase")
        .await
        .expect("db")
        .expect("programme");
    assert!(
        store.waves(p.id).await.expect("waves").is_empty(),
        "the old purchase asks nobody"
    );

    // Today's purchase: the account's decision maker and influencer, a week later.
    store
        .insert_transactions(&[purchase("new", today)])
        .await
        .expect("purchase");
    programmes::tick(&store, &send, &client, at(0, 4)).await;
    let waves = store.waves(p.id).await.expect("waves");
    assert_eq!(waves.len(), 1);
    assert!(
        waves[0].label.starts_with(&today.to_string()),
        "{}",
        waves[0].label
    );
    assert_eq!(waves[0].stats["invited"], 2, "{:?}", waves[0].stats);
    assert!(
        inbox.lock().expect("lock").is_empty(),
        "not before the delay"
    );
    programmes::tick(&store, &send, &client, at(7, 3)).await;
    let mut to: Vec<String> = inbox
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, d)| recipient(d))
        .collect();
    to.sort();
    assert_eq!(to, vec!["p1@k1.example.com", "p2@k1.example.com"]);
    // The same purchase never triggers twice.
    programmes::tick(&store, &send, &client, at(8, 3)).await;
    assert_eq!(store.waves(p.id).await.expect("waves").len(), 1);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_task_triggers_a_resurvey_of_its_person() {
    use cx_store::followup::{FollowUpStore, NewTask, TaskChange};
    let (store, dir) = setup("resolved").await;
    let def = json!({
        "slug": "after-task", "survey": "relationship-2026",
        "cadence": {"trigger": "task_resolved", "delay_days": 2}
    });
    programmes::save(&store, &def, false)
        .await
        .expect("programme");
    let ids = store.contact_ids(&["K1-P2".into()]).await.expect("ids");
    let accounts = store.account_ids(&["K1".into()]).await.expect("ids");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let task = NewTask {
        dedupe_key: "manual:1".into(),
        account_id: Some(accounts["K1"].0),
        response_id: None,
        contact_id: Some(ids["K1-P2"].0),
        title: "投诉跟进".into(),
        reasons: "[]".into(),
        priority: "high".into(),
        owner: Some("李娜".into()),
        team: None,
        created: now,
        due: now + 86_400,
        event: None,
    };
    let opened = store
        .open_tasks(&[task], &[], None, &[])
        .await
        .expect("task");
    let id = opened[0].expect("new task");
    let (send, inbox) = mail_sink("http://127.0.0.1:1", Vec::new(), Duration::ZERO).await;
    let client = programmes::client();
    // An open task asks nobody.
    programmes::tick(&store, &send, &client, at(0, 3)).await;
    let p = store
        .programme("after-task")
        .await
        .expect("db")
        .expect("programme");
    assert!(store.waves(p.id).await.expect("waves").is_empty());
    store
        .update_task(
            id,
            &TaskChange {
                status: Some("resolved".into()),
                owner: None,
                note: None,
                resolution: Some("换货并回访".into()),
                author: "李娜".into(),
                now,
                app: None,
            },
        )
        .await
        .expect("resolved");
    programmes::tick(&store, &send, &client, at(0, 4)).await;
    let waves = store.waves(p.id).await.expect("waves");
    assert_eq!(waves.len(), 1);
    assert_eq!(waves[0].stats["invited"], 1, "only the task's person");
    assert!(inbox.lock().expect("lock").is_empty(), "two days later");
    programmes::tick(&store, &send, &client, at(2, 4)).await;
    let to: Vec<String> = inbox
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, d)| recipient(d))
        .collect();
    assert_eq!(to, vec!["p2@k1.example.com"]);
    std::fs::remove_dir_all(&dir).ok();
}
