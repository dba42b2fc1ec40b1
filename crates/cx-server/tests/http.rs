//! The server over real HTTP on port 0: survey pages, invitations, the API,
//! users and limits. Each test starts its own server on its own SQLite file.

use std::sync::atomic::{AtomicUsize, Ordering};

use cx_core::model::customer::{Account, Contact};
use cx_core::model::survey::SurveyDefinition;
use cx_server::auth::{hash_password, hash_secret};
use cx_server::{AppState, Config, Shared};
use cx_store::metrics::{MetricsQuery, survey_metrics};
use cx_store::server::ServerStore;
use cx_store::{AnyStore, Store};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::{Value, json};

static SEQ: AtomicUsize = AtomicUsize::new(0);

struct Server {
    url: String,
    state: Shared,
    store: AnyStore,
    dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn survey_json() -> SurveyDefinition {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/survey.json"
    ))
    .expect("examples/survey.json");
    serde_json::from_str(&text).expect("valid")
}

async fn start(rate: u32) -> Server {
    let dir = std::env::temp_dir().join(format!(
        "cx-server-http-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let store = cx_store::open(&format!("sqlite://{}", dir.join("t.db").display()))
        .await
        .expect("store");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let config = Config {
        public_rate_per_minute: rate,
        base_url: url.clone(),
        ..Config::default()
    };
    let state = AppState::new(store.clone(), config);
    tokio::spawn(cx_server::serve(listener, state.clone()));
    // One survey, one account with a contact.
    store.create_survey(&survey_json()).await.expect("survey");
    store
        .insert_accounts(&[Account {
            external_id: "C001".into(),
            name: "华东精密".into(),
            industry: None,
            region: Some("华东".into()),
            tier: Some("key".into()),
            sales_team: None,
            owner: None,
            since: None,
            until: None,
        }])
        .await
        .expect("account");
    let account = store.account_ids(&["C001".into()]).await.expect("ids")["C001"];
    let contacts: Vec<_> = ["P001", "P002", "P003"]
        .iter()
        .map(|code| {
            (
                account,
                Contact {
                    external_id: code.to_string(),
                    account: "C001".into(),
                    name: "王经理".into(),
                    role: None,
                    influence: 0.5,
                    email: None,
                    phone: None,
                    time_zone: None,
                },
            )
        })
        .collect();
    store.insert_contacts(&contacts).await.expect("contacts");
    Server {
        url,
        state,
        store,
        dir,
    }
}

impl Server {
    /// A user with a token of `scope`; returns the token.
    async fn token(&self, user: &str, role: &str, scope: &str) -> String {
        let id = match self.store.user_by_name(user).await.expect("lookup") {
            Some(u) => u.id,
            None => self
                .store
                .create_user(user, &hash_password("a long password").expect("hash"), role)
                .await
                .expect("user"),
        };
        let token = format!("test-token-{user}-{scope}");
        self.store
            .create_token(id, &hash_secret(&token), scope)
            .await
            .expect("token");
        token
    }

    async fn responses(&self, slug: &str) -> u64 {
        self.store.survey(slug).await.expect("survey").responses
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .build()
        .expect("client")
}

/// The value of hidden input `name` in a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page"))
        + marker.len();
    html[start..][..html[start..].find('"').expect("closing quote")].to_string()
}

#[tokio::test]
async fn survey_page_in_both_languages_round_trip() {
    let s = start(0).await;
    let c = client();
    // Chinese by Accept-Language, English by ?lang=.
    let zh = c
        .get(format!("{}/s/relationship-2026", s.url))
        .header("accept-language", "zh-CN,zh;q=0.9,en;q=0.5")
        .send()
        .await
        .expect("get");
    assert_eq!(zh.status(), StatusCode::OK);
    let csp = zh.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let page = zh.text().await.expect("body");
    assert!(page.contains("lang=\"zh-CN\""));
    assert!(page.contains("不可能") && page.contains("极有可能"));
    assert!(page.contains("<fieldset") && page.contains("<legend>"));
    assert_eq!(page.matches("name=\"q_nps\"").count(), 11, "0–10 row");
    assert!(!page.contains("<script"), "no JavaScript");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no third-party requests"
    );
    let en = c
        .get(format!("{}/s/relationship-2026?lang=en", s.url))
        .header("accept-language", "zh-CN")
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(en.contains("Extremely likely") && en.contains("lang=\"en\""));

    // Missing required answer: 422, message in the respondent's language, other answers kept.
    let (csrf, key) = (hidden(&page, "_csrf"), hidden(&page, "_k"));
    let form = |nps: Option<&str>| {
        let mut f = vec![
            ("_csrf", csrf.clone()),
            ("_k", key.clone()),
            ("lang", "zh".to_string()),
            ("q_csat", "4".to_string()),
            ("q_comment", "交付很快 <b>".to_string()),
        ];
        if let Some(n) = nps {
            f.push(("q_nps", n.to_string()));
        }
        f
    };
    let r = c
        .post(format!("{}/s/relationship-2026", s.url))
        .form(&form(None))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let again = r.text().await.expect("body");
    assert!(again.contains("请回答此问题。"));
    assert!(again.contains("name=\"q_csat\" value=\"4\" checked"));
    assert!(
        again.contains("交付很快 &") && !again.contains("交付很快 <b>"),
        "text kept and escaped"
    );
    assert_eq!(s.responses("relationship-2026").await, 0);

    // Out of range is refused too.
    let r = c
        .post(format!("{}/s/relationship-2026", s.url))
        .form(&form(Some("11")))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Valid: 303 to the thank-you page; a second click stores nothing more.
    for _ in 0..2 {
        let r = c
            .post(format!("{}/s/relationship-2026", s.url))
            .form(&form(Some("9")))
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers()["location"],
            "/s/relationship-2026/thanks?lang=zh"
        );
    }
    assert_eq!(s.responses("relationship-2026").await, 1);
    let thanks = c
        .get(format!("{}/s/relationship-2026/thanks?lang=zh", s.url))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(thanks.contains("感谢您的反馈"));
    let stored = s
        .store
        .responses_after(
            s.store.survey("relationship-2026").await.expect("s").id,
            0,
            10,
        )
        .await
        .expect("list");
    assert_eq!(stored[0].channel, "web");
    assert_eq!(stored[0].language.as_deref(), Some("zh"));
    assert!(stored[0].answers.contains(&("nps".into(), Some(9), None)));
    assert!(
        stored[0]
            .answers
            .contains(&("comment".into(), None, Some("交付很快 <b>".into())))
    );

    // Without the form cookie (a forged cross-site post): 403, nothing stored, answers kept.
    let bare = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client");
    let r = bare
        .post(format!("{}/s/relationship-2026", s.url))
        .form(&[("_csrf", csrf.as_str()), ("q_nps", "3"), ("lang", "en")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body = r.text().await.expect("body");
    assert!(body.contains("Please submit again") && body.contains("value=\"3\" checked"));
    assert_eq!(s.responses("relationship-2026").await, 1);

    // Unknown survey; ids are not accepted on public pages.
    let r = c
        .get(format!("{}/s/nope", s.url))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = c.get(format!("{}/s/1", s.url)).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn invitations_accept_one_response_and_anonymous_keeps_no_identity() {
    let s = start(0).await;
    let admin = s.token("admin", "admin", "write").await;
    let c = client();
    let invite = |slug: &'static str, contacts: Value| {
        let c = c.clone();
        let url = format!("{}/api/v1/surveys/{slug}/invitations", s.url);
        let admin = admin.clone();
        async move {
            let r = c
                .post(url)
                .bearer_auth(admin)
                .json(&contacts)
                .send()
                .await
                .expect("post");
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<Vec<Value>>().await.expect("json")
        }
    };
    let made = invite(
        "relationship-2026",
        json!({"contacts": ["P001", "P002", "NOPE"]}),
    )
    .await;
    assert_eq!(made.len(), 3);
    assert_eq!(made[2]["skipped"], "unknown contact");
    let link = made[0]["link"].as_str().expect("link").to_string();
    let other = made[1]["link"].as_str().expect("link").to_string();
    assert!(link.starts_with(&format!("{}/s/relationship-2026?t=", s.url)));
    assert_ne!(link, other);
    // Invited again within 30 days: skipped.
    let again = invite("relationship-2026", json!({"contacts": ["P001"]})).await;
    assert!(again[0]["link"].is_null());
    assert!(
        again[0]["skipped"]
            .as_str()
            .expect("why")
            .contains("within 30 days")
    );

    // Answer through the link.
    let page = c
        .get(&link)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    let token = link.split("t=").nth(1).expect("token");
    assert_eq!(hidden(&page, "t"), token);
    let form = |key: String| {
        vec![
            ("_csrf", hidden(&page, "_csrf")),
            ("_k", key),
            ("t", token.to_string()),
            ("q_nps", "10".to_string()),
        ]
    };
    let r = c
        .post(format!("{}/s/relationship-2026", s.url))
        .form(&form(hidden(&page, "_k")))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // The same form sent again (a second click): thanked again, nothing more stored.
    let r = c
        .post(format!("{}/s/relationship-2026", s.url))
        .form(&form(hidden(&page, "_k")))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // A second response on the same token (another tab, another key): already answered.
    let r = c
        .post(format!("{}/s/relationship-2026", s.url))
        .form(&form("A".repeat(43)))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.expect("body").contains("已经回答过"));
    let shown = c
        .get(&link)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(shown.contains("已经回答过") && !shown.contains("<form"));
    assert_eq!(s.responses("relationship-2026").await, 1);
    let id = s.store.survey("relationship-2026").await.expect("s").id;
    let stored = s.store.responses_after(id, 0, 10).await.expect("list");
    assert_eq!(stored[0].contact.as_deref(), Some("P001"));
    assert_eq!(stored[0].account.as_deref(), Some("C001"));
    assert_eq!(stored[0].channel, "email");
    assert_eq!(
        stored[0].metadata["region"], "华东",
        "the account's region, for slicing"
    );
    // A made-up token.
    let r = c
        .get(format!("{}/s/relationship-2026?t=forged", s.url))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Anonymous survey: the invitation is used up, but no contact or account is stored.
    let mut anon = survey_json();
    anon.slug = "anon-pulse".into();
    anon.anonymous = true;
    let r = c
        .post(format!("{}/api/v1/surveys", s.url))
        .bearer_auth(&admin)
        .json(&anon)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::CREATED);
    let made = invite("anon-pulse", json!({"contacts": ["P003"], "quiet_days": 0})).await;
    let link = made[0]["link"].as_str().expect("link").to_string();
    let page = c
        .get(&link)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    let token = link.split("t=").nth(1).expect("token").to_string();
    let r = c
        .post(format!("{}/s/anon-pulse", s.url))
        .form(&[
            ("_csrf", hidden(&page, "_csrf")),
            ("_k", hidden(&page, "_k")),
            ("t", token),
            ("q_nps", "2".into()),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id = s.store.survey("anon-pulse").await.expect("s").id;
    let stored = s.store.responses_after(id, 0, 10).await.expect("list");
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (stored[0].contact.as_ref(), stored[0].account.as_ref()),
        (None, None)
    );
    let r = c
        .get(&link)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(r.contains("已经回答过"));
}

#[tokio::test]
async fn api_surveys_submissions_metrics_and_export() {
    let s = start(0).await;
    let admin = s.token("admin", "admin", "write").await;
    let c = client();
    let api = |path: &str| format!("{}/api/v1{path}", s.url);

    // No token: 401 in the SPEC's error shape.
    let r = c.get(api("/surveys")).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unauthorized");
    let r = c
        .get(api("/surveys"))
        .bearer_auth("wrong")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // CRUD.
    let list: Vec<Value> = c
        .get(api("/surveys"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(list[0]["slug"], "relationship-2026");
    let mut d = survey_json();
    d.slug = "pulse".into();
    let r = c
        .post(api("/surveys"))
        .bearer_auth(&admin)
        .json(&d)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.expect("json");
    let pulse = created["id"].as_i64().expect("id");
    let r = c
        .post(api("/surveys"))
        .bearer_auth(&admin)
        .json(&d)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = c
        .post(api("/surveys"))
        .bearer_auth(&admin)
        .body("{\"slug\": 3}")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e: Value = r.json().await.expect("json");
    assert!(
        e["error"]["message"]
            .as_str()
            .expect("msg")
            .contains("line 1"),
        "{e}"
    );
    let mut bad = d.clone();
    bad.slug = "Bad Slug".into();
    let r = c
        .post(api("/surveys"))
        .bearer_auth(&admin)
        .json(&bad)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let got: Value = c
        .get(api(&format!("/surveys/{pulse}")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(got["definition"]["slug"], "pulse");
    assert_eq!(got["url"], format!("{}/s/pulse", s.url));
    d.title.en = Some("Pulse, renamed".into());
    let r = c
        .put(api("/surveys/pulse"))
        .bearer_auth(&admin)
        .json(&d)
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .delete(api("/surveys/pulse"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = c
        .get(api("/surveys/pulse"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Submissions with Idempotency-Key: a retry returns the first response.
    let submit = |key: Option<&str>, body: Value| {
        let mut rq = c
            .post(api("/surveys/relationship-2026/responses"))
            .bearer_auth(&admin)
            .json(&body);
        if let Some(k) = key {
            rq = rq.header("Idempotency-Key", k);
        }
        rq.send()
    };
    let body = json!({"answers": {"nps": 9, "csat": "4", "comment": "好"}, "language": "zh",
        "metadata": {"region": "华东", "product_line": "云服务"}});
    let r = submit(Some("order-1"), body.clone()).await.expect("post");
    assert_eq!(r.status(), StatusCode::CREATED);
    let first: Value = r.json().await.expect("json");
    let r = submit(Some("order-1"), body.clone()).await.expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    let retry: Value = r.json().await.expect("json");
    assert_eq!(retry["id"], first["id"]);
    assert_eq!(retry["duplicate"], true);
    for (i, nps) in [0, 3, 7, 8, 10, 10].iter().enumerate() {
        let region = if i % 2 == 0 { "华东" } else { "华南" };
        let r = submit(None, json!({"answers": {"nps": nps, "ces": 5, "product_quality": 4}, "metadata": {"region": region}, "channel": "phone"}))
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    assert_eq!(s.responses("relationship-2026").await, 7);
    // Caller mistakes are 4xx naming the field.
    for (body, field) in [
        (json!({"answers": {"nps": 11}}), "answers.nps"),
        (json!({"answers": {"csat": 3}}), "answers.nps"),
        (json!({"answers": {"nope": 3}}), "answers.nope"),
        (json!({"answers": {"nps": 3}, "channel": "fax"}), "channel"),
        (json!({"answers": {"nps": 3}, "language": "fr"}), "language"),
        (json!({"answers": {"nps": 3}, "contact": "NOPE"}), "contact"),
        (json!({"answers": {"nps": 3}, "token": "forged"}), "token"),
    ] {
        let r = submit(None, body).await.expect("post");
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        let e: Value = r.json().await.expect("json");
        assert_eq!(e["error"]["field"], field);
    }
    let r = submit(None, json!({"answers": {"nps": 3}, "extra": 1}))
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(s.responses("relationship-2026").await, 7);

    // Metrics: the CLI's parameters, the same JSON as the library computes.
    let r = c
        .get(api("/metrics?survey=relationship-2026&nps=nps&dim=product_quality&by=region&where=region%3D%E5%8D%8E%E4%B8%9C&where=region%3D%E5%8D%8E%E5%8D%97"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    let got: Value = r.json().await.expect("json");
    let query = MetricsQuery {
        nps: Some("nps".into()),
        dim: vec!["product_quality".into()],
        by: vec!["region".into()],
        filters: vec!["region=华东".into(), "region=华南".into()],
        ..MetricsQuery::default()
    };
    let stored = s.store.survey("relationship-2026").await.expect("s");
    let report = survey_metrics(&s.store, &query.resolve(&stored).expect("valid"))
        .await
        .expect("report");
    assert_eq!(got, serde_json::to_value(&report).expect("json"));
    assert_eq!(got["overall"]["nps"]["n"], 7);
    assert_eq!(got["groups"].as_array().expect("groups").len(), 2);
    let r = c
        .get(api("/metrics?survey=relationship-2026&bogus=1"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = c
        .get(api("/metrics?survey=relationship-2026&nps=csat"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = c
        .get(api("/metrics?survey=nope"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Listing in pages, exporting as CSV and JSON Lines.
    let page: Value = c
        .get(api("/surveys/relationship-2026/responses?limit=5"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(page["responses"].as_array().expect("list").len(), 5);
    assert_eq!(page["responses"][0]["answers"]["comment"], "好");
    let after = page["next_after"].as_i64().expect("more");
    let rest: Value = c
        .get(api(&format!(
            "/surveys/relationship-2026/responses?after={after}"
        )))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(rest["responses"].as_array().expect("list").len(), 2);
    assert!(rest["next_after"].is_null());
    let r = c
        .get(api("/surveys/relationship-2026/responses?format=csv"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/csv")
    );
    let csv = r.text().await.expect("csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 8);
    assert!(
        lines[0]
            .starts_with("response_id,submitted_at,channel,language,account,contact,nps,csat,ces")
    );
    assert!(lines[1].contains(",9,4,"));
    let jsonl = c
        .get(api("/surveys/relationship-2026/responses?format=jsonl"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("jsonl");
    assert_eq!(jsonl.lines().count(), 7);
    let row: Value = serde_json::from_str(jsonl.lines().next().expect("line")).expect("json");
    assert_eq!(row["metadata"]["region"], "华东");

    // Changing a survey with responses keeps its questions.
    let mut changed = survey_json();
    changed.questions.retain(|q| q.id != "csat");
    let r = c
        .put(api("/surveys/relationship-2026"))
        .bearer_auth(&admin)
        .json(&changed)
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = c
        .delete(api("/surveys/relationship-2026"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // The OpenAPI document describes these endpoints.
    let doc: Value = c
        .get(api("/openapi.json"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3."));
    for path in [
        "/api/v1/surveys",
        "/api/v1/surveys/{id}/responses",
        "/api/v1/metrics",
        "/api/v1/surveys/{id}/invitations",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    let r = c
        .get(api("/nothing-here"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn roles_scopes_and_revoked_tokens() {
    let s = start(0).await;
    let admin = s.token("admin", "admin", "write").await;
    let viewer = s.token("vera", "viewer", "write").await;
    let analyst = s.token("ann", "analyst", "write").await;
    let reader = s
        .token("ann", "analyst", "read,survey:relationship-2026")
        .await;
    let submitter = s.token("sam", "analyst", "submit").await;
    let c = client();
    let api = |path: &str| format!("{}/api/v1{path}", s.url);
    let mut d = survey_json();
    d.slug = "other".into();
    let status = |r: reqwest::Response| r.status();
    // Viewers read but neither export nor change.
    assert_eq!(
        status(
            c.get(api("/surveys"))
                .bearer_auth(&viewer)
                .send()
                .await
                .expect("get")
        ),
        StatusCode::OK
    );
    assert_eq!(
        status(
            c.get(api("/surveys/relationship-2026/responses"))
                .bearer_auth(&viewer)
                .send()
                .await
                .expect("get")
        ),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(
            c.post(api("/surveys"))
                .bearer_auth(&viewer)
                .json(&d)
                .send()
                .await
                .expect("post")
        ),
        StatusCode::FORBIDDEN
    );
    // Analysts export but do not manage surveys.
    assert_eq!(
        status(
            c.get(api("/surveys/relationship-2026/responses"))
                .bearer_auth(&analyst)
                .send()
                .await
                .expect("get")
        ),
        StatusCode::OK
    );
    assert_eq!(
        status(
            c.post(api("/surveys"))
                .bearer_auth(&analyst)
                .json(&d)
                .send()
                .await
                .expect("post")
        ),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(
            c.post(api("/surveys"))
                .bearer_auth(&admin)
                .json(&d)
                .send()
                .await
                .expect("post")
        ),
        StatusCode::CREATED
    );
    // A read token scoped to one survey sees only it, and cannot submit.
    let list: Vec<Value> = c
        .get(api("/surveys"))
        .bearer_auth(&reader)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(list.len(), 1);
    assert_eq!(
        status(
            c.get(api("/surveys/other"))
                .bearer_auth(&reader)
                .send()
                .await
                .expect("get")
        ),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(
            c.get(api("/metrics?survey=other"))
                .bearer_auth(&reader)
                .send()
                .await
                .expect("get")
        ),
        StatusCode::FORBIDDEN
    );
    let answer = json!({"answers": {"nps": 5}});
    assert_eq!(
        status(
            c.post(api("/surveys/relationship-2026/responses"))
                .bearer_auth(&reader)
                .json(&answer)
                .send()
                .await
                .expect("post")
        ),
        StatusCode::FORBIDDEN
    );
    // A submit token submits and does nothing else.
    assert_eq!(
        status(
            c.post(api("/surveys/relationship-2026/responses"))
                .bearer_auth(&submitter)
                .json(&answer)
                .send()
                .await
                .expect("post")
        ),
        StatusCode::CREATED
    );
    assert_eq!(
        status(
            c.get(api("/surveys"))
                .bearer_auth(&submitter)
                .send()
                .await
                .expect("get")
        ),
        StatusCode::FORBIDDEN
    );
    // Tokens made through the API; revoked tokens stop working.
    let r = c
        .post(api("/tokens"))
        .bearer_auth(&admin)
        .json(&json!({"username": "vera", "scope": "read"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::CREATED);
    let made: Value = r.json().await.expect("json");
    let secret = made["token"].as_str().expect("token").to_string();
    assert_eq!(
        status(
            c.get(api("/surveys"))
                .bearer_auth(&secret)
                .send()
                .await
                .expect("get")
        ),
        StatusCode::OK
    );
    let r = c
        .post(api("/tokens"))
        .bearer_auth(&admin)
        .json(&json!({"scope": "everything"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let list: Vec<Value> = c
        .get(api("/tokens"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert!(
        list.iter().all(|t| t.get("token").is_none()),
        "secrets never listed"
    );
    let r = c
        .delete(api(&format!("/tokens/{}", made["id"])))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        status(
            c.get(api("/surveys"))
                .bearer_auth(&secret)
                .send()
                .await
                .expect("get")
        ),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(
            c.get(api("/tokens"))
                .bearer_auth(&analyst)
                .send()
                .await
                .expect("get")
        ),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn sign_in_sessions_csrf_and_throttling() {
    let s = start(0).await;
    s.store
        .create_user(
            "li",
            &hash_password("correct horse battery").expect("hash"),
            "analyst",
        )
        .await
        .expect("user");
    let c = client();
    let r = c.get(format!("{}/app", s.url)).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/app/login");
    let login_page = c
        .get(format!("{}/app/login", s.url))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    let csrf = hidden(&login_page, "_csrf");
    let login = |password: &str| {
        c.post(format!("{}/app/login", s.url))
            .form(&[
                ("_csrf", csrf.as_str()),
                ("username", "li"),
                ("password", password),
            ])
            .send()
    };
    let r = login("wrong").await.expect("post");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = login("correct horse battery").await.expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_string())
        .find(|v| v.starts_with("cx_session="))
        .expect("session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    let home = c
        .get(format!("{}/app", s.url))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(
        home.contains("<span class=\"who\">li</span>"),
        "the overview, signed in"
    );
    let list = c
        .get(format!("{}/app/surveys", s.url))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(list.contains("relationship-2026"));
    let session_csrf = hidden(&home, "_csrf");
    // The session reads the API; unsafe methods need its CSRF token.
    let r = c
        .get(format!("{}/api/v1/surveys", s.url))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    let body = json!({"answers": {"nps": 5}});
    let r = c
        .post(format!(
            "{}/api/v1/surveys/relationship-2026/responses",
            s.url
        ))
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .post(format!(
            "{}/api/v1/surveys/relationship-2026/responses",
            s.url
        ))
        .header("X-CSRF-Token", &session_csrf)
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::CREATED);
    // Sign out needs the token too, then the session is gone.
    let r = c
        .post(format!("{}/app/logout", s.url))
        .form(&[("_csrf", "nope")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .post(format!("{}/app/logout", s.url))
        .form(&[("_csrf", session_csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = c
        .get(format!("{}/api/v1/surveys", s.url))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Five wrong passwords lock the name for this address, even for the right one.
    let login_page = c
        .get(format!("{}/app/login", s.url))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    let csrf = hidden(&login_page, "_csrf");
    let attempt = |password: &'static str| {
        c.post(format!("{}/app/login", s.url))
            .form(&[
                ("_csrf", csrf.as_str()),
                ("username", "li"),
                ("password", password),
            ])
            .send()
    };
    for _ in 0..5 {
        assert_eq!(
            attempt("wrong").await.expect("post").status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        attempt("correct horse battery")
            .await
            .expect("post")
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let metrics = c
        .get(format!("{}/metrics", s.url))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(
        metrics.contains("cxscore_login_failures_total 6"),
        "{metrics}"
    );
}

#[tokio::test]
async fn public_rate_limit_body_limit_health() {
    let s = start(5).await;
    let c = client();
    for _ in 0..5 {
        let r = c
            .get(format!("{}/s/relationship-2026", s.url))
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = c
        .get(format!("{}/s/relationship-2026", s.url))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    let admin = s.token("admin", "admin", "write").await;
    let big = "x".repeat(1 << 20);
    let r = c
        .post(format!("{}/api/v1/surveys", s.url))
        .bearer_auth(&admin)
        .body(big)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let r = c
        .get(format!("{}/healthz", s.url))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    let m = c
        .get(format!("{}/metrics", s.url))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(m.contains("# TYPE cxscore_http_requests_total counter"));
    assert!(m.contains("cxscore_rate_limited_total 1"));
}

#[tokio::test]
async fn concurrent_submissions_are_each_committed_once() {
    let s = start(0).await;
    let token = s.token("bench", "analyst", "submit").await;
    let c = client();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let c = c.clone();
        let url = format!("{}/api/v1/surveys/relationship-2026/responses", s.url);
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"answers": {"nps": i % 11}});
            // Every request sent twice with one key, as a client retrying would.
            let key = format!("k-{i}");
            let a = c
                .post(&url)
                .bearer_auth(&token)
                .header("Idempotency-Key", &key)
                .json(&body)
                .send()
                .await
                .expect("post");
            let b = c
                .post(&url)
                .bearer_auth(&token)
                .header("Idempotency-Key", &key)
                .json(&body)
                .send()
                .await
                .expect("post");
            (a.status(), b.status())
        }));
    }
    for t in tasks {
        let (a, b) = t.await.expect("task");
        assert_eq!(a, StatusCode::CREATED);
        assert_eq!(b, StatusCode::OK);
    }
    assert_eq!(s.responses("relationship-2026").await, 200);
    let stats = s.state.stats.render();
    assert!(stats.contains("cxscore_responses_stored_total 200"));
    assert!(stats.contains("cxscore_responses_duplicate_total 200"));
}

#[tokio::test]
async fn imports_through_the_api_like_the_command_line() {
    let s = start(0).await;
    let admin = s.token("admin", "admin", "write").await;
    let analyst = s.token("ann", "analyst", "write").await;
    let c = client();
    let csv = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/responses.csv"
    ))
    .expect("examples/responses.csv");
    let url = format!(
        "{}/api/v1/imports/responses?survey=relationship-2026&format=csv",
        s.url
    );
    let r = c
        .post(&url)
        .bearer_auth(&analyst)
        .body(csv.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .post(&url)
        .bearer_auth(&admin)
        .body(csv.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    let first: Value = r.json().await.expect("json");
    assert_eq!(first["read"], 412);
    let imported = first["imported"].as_u64().expect("imported");
    assert_eq!(
        (imported, first["rejected"].as_u64()),
        (394, Some(18)),
        "{first}"
    );
    assert_eq!(first["rejections"][0]["line"], 49);
    // The same file again adds nothing.
    let again: Value = c
        .post(&url)
        .bearer_auth(&admin)
        .body(csv)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(again["imported"], 0);
    assert_eq!(again["duplicate"], first["imported"]);
    assert_eq!(s.responses("relationship-2026").await, imported);
    // Accounts with Chinese headers, GBK-encoded; then a strict file with one bad row.
    let (gbk, _, _) =
        encoding_rs::GBK.encode("客户编号,客户名称,区域\nK1,华东精密,华东\nK2,南方电子,华南\n");
    let r = c
        .post(format!("{}/api/v1/imports/accounts?format=csv", s.url))
        .bearer_auth(&admin)
        .body(gbk.into_owned())
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    let accounts: Value = r.json().await.expect("json");
    assert_eq!(accounts["imported"], 2, "{accounts}");
    let bad = "account_id,date,amount\nK1,2026-03-01,100\nK2,not a date,50\n";
    let r = c
        .post(format!(
            "{}/api/v1/imports/transactions?format=csv&strict=true",
            s.url
        ))
        .bearer_auth(&admin)
        .body(bad)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: Value = r.json().await.expect("json");
    let message = e["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("nothing imported") && message.contains("line 3"),
        "{message}"
    );
    // An empty upload is refused and says so.
    let r = c
        .post(format!("{}/api/v1/imports/accounts?format=csv", s.url))
        .bearer_auth(&admin)
        .body("")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: Value = r.json().await.expect("json");
    assert!(
        !e["error"]["message"]
            .as_str()
            .expect("message")
            .contains("cxscore-upload-"),
        "no temp path leaks: {e}"
    );
    for bad_url in [
        "/api/v1/imports/things?format=csv",
        "/api/v1/imports/accounts",
        "/api/v1/imports/responses?format=csv",
        "/api/v1/imports/accounts?format=csv&map=nocolon",
    ] {
        let r = c
            .post(format!("{}{bad_url}", s.url))
            .bearer_auth(&admin)
            .body("a,b\n1,2\n")
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad_url}");
    }
}

/// Signs in `user` (an analyst) with a cookie-keeping client.
async fn signed_in(s: &Server, user: &str) -> reqwest::Client {
    if s.store.user_by_name(user).await.expect("lookup").is_none() {
        s.store
            .create_user(
                user,
                &hash_password("a long password").expect("hash"),
                "analyst",
            )
            .await
            .expect("user");
    }
    let c = client();
    let page = c
        .get(format!("{}/app/login", s.url))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    let r = c
        .post(format!("{}/app/login", s.url))
        .form(&[
            ("_csrf", hidden(&page, "_csrf").as_str()),
            ("username", user),
            ("password", "a long password"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    c
}

#[tokio::test]
async fn the_overview_shows_the_apis_figures_and_escapes_what_respondents_wrote() {
    let s = start(0).await;
    let token = s.token("admin", "admin", "write").await;
    let c = client();
    // Two quarters of API submissions; one region name is hostile.
    let regions = ["华东", "华南", "<script>alert(1)</script>"];
    for i in 0..60 {
        let body = json!({"answers": {"nps": (i * 7) % 11, "csat": 1 + i % 5, "product_quality": 1 + (i * 3) % 5},
            "metadata": {"region": regions[i % 3]}});
        let r = c
            .post(format!(
                "{}/api/v1/surveys/relationship-2026/responses",
                s.url
            ))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    // Not signed in: to the login page.
    let r = c.get(format!("{}/app", s.url)).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let browser = signed_in(&s, "ann").await;
    let page = browser
        .get(format!(
            "{}/app?survey=relationship-2026&interval=quarter&by=region&sort=nps&lang=en",
            s.url
        ))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    let api: Value = c
        .get(format!(
            "{}/api/v1/metrics?survey=relationship-2026&interval=quarter&compare=previous",
            s.url
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let last = api["groups"]
        .as_array()
        .expect("groups")
        .last()
        .expect("a period")
        .clone();
    let nps = format!("{:.1}", last["nps"]["score"].as_f64().expect("nps"));
    assert!(
        page.contains(&format!("<p class=\"big\">{nps}</p>")),
        "NPS tile {nps}"
    );
    assert!(page.contains(&format!("n {}", last["nps"]["n"])), "n shown");
    assert!(page.contains("<svg") && page.contains("Breakdown: region"));
    // Trends for NPS and CSAT (the answers have no CES), and the breakdown bars.
    assert_eq!(page.matches("class=\"chart\"").count(), 3);
    assert!(page.contains("CSAT top-2 % · Trend"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        !page.contains("<script>alert(1)"),
        "respondent text is never markup"
    );
    // Same-origin scripts only, no inline code: the live feed and the
    // interactive charts (vendored ECharts and the script that draws them).
    assert_eq!(page.matches("<script").count(), 3);
    assert_eq!(page.matches("<script src=\"/app/").count(), 3);
    assert!(page.contains("<script src=\"/app/live.js\" defer></script>"));
    assert!(page.contains("<script src=\"/app/static/echarts.min.js\" defer></script>"));
    assert!(page.contains("<noscript><meta http-equiv=\"refresh\" content=\"60\"></noscript>"));
    // The breakdown follows the API's groups, sorted by NPS.
    let by: Value = c
        .get(format!(
            "{}/api/v1/metrics?survey=relationship-2026&by=region",
            s.url
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let mut groups: Vec<(String, f64)> = by["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            (
                g["key"]["region"].as_str().expect("key").to_string(),
                g["nps"]["score"].as_f64().expect("nps"),
            )
        })
        .collect();
    groups.sort_by(|a, b| b.1.total_cmp(&a.1));
    let top = html_escape(&groups[0].0);
    let bottom = html_escape(&groups[2].0);
    let table = &page[page.find("<table class=\"data\">").expect("table")..];
    assert!(table.find(&top).expect("top row") < table.find(&bottom).expect("bottom row"));
    // Filters in the URL narrow every figure.
    let narrowed = browser
        .get(format!(
            "{}/app?survey=relationship-2026&region=%E5%8D%8E%E4%B8%9C&lang=zh",
            s.url
        ))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(narrowed.contains("value=\"华东\"") && narrowed.contains("总览"));
    assert!(!narrowed.contains("华南</th>"));
    // The report: a self-contained download of the same view.
    let r = browser
        .get(format!(
            "{}/app/report.html?survey=relationship-2026&lang=en",
            s.url
        ))
        .send()
        .await
        .expect("get");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .expect("ascii")
            .contains("attachment")
    );
    let report = r.text().await.expect("body");
    assert!(report.contains(&format!("<p class=\"big\">{nps}</p>")));
    assert!(
        !report.contains("<form") && !report.contains("href=\"http") && !report.contains("src=")
    );
    // And as a PDF, linked from the page (CI has a CJK font; without one, a clear 503).
    assert!(page.contains("/app/report.pdf?"));
    let r = browser
        .get(format!(
            "{}/app/report.pdf?survey=relationship-2026&lang=en",
            s.url
        ))
        .send()
        .await
        .expect("get");
    if r.status() == 503 && std::env::var_os("CI").is_none() {
        let e: Value = r.json().await.expect("json");
        assert!(
            e["error"]["message"]
                .as_str()
                .expect("message")
                .contains("font")
        );
    } else {
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/pdf");
        let pdf = r.bytes().await.expect("body");
        assert!(pdf.starts_with(b"%PDF-"));
    }
}

/// Text as askama writes it into HTML.
fn html_escape(s: &str) -> String {
    s.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
}

#[tokio::test]
async fn drivers_and_feedback_pages() {
    let s = start(0).await;
    let token = s.token("admin", "admin", "write").await;
    let c = client();
    let comments = [
        "交付很快，服务好",
        "price is too high",
        "<script>alert('x')</script> slow support",
        "一般",
    ];
    for i in 0..80i64 {
        // Pseudo-random ratings (a different mix per aspect), NPS driven mostly by quality.
        let r = |salt: i64| 1 + ((i * 7919 + salt * 104_729) % 1009) % 5;
        let (q, price, speed, attitude, delivery) = (r(1), r(2), r(3), r(4), r(5));
        let nps = ((3 * q + price + speed) * 10 / 25).min(10);
        let body = json!({"answers": {"nps": nps, "product_quality": q, "price": price, "response_speed": speed,
            "service_attitude": attitude, "delivery_speed": delivery, "comment": comments[(i % 4) as usize]},
            "metadata": {"region": if i % 2 == 0 { "华东" } else { "华南" }}});
        let r = c
            .post(format!(
                "{}/api/v1/surveys/relationship-2026/responses",
                s.url
            ))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let b = signed_in(&s, "ann").await;
    let page = b
        .get(format!("{}/app/drivers?lang=en", s.url))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(
        page.contains("Outcome: <strong>nps</strong> · n 80"),
        "drivers header: {page}"
    );
    assert!(page.contains("Variance explained R²"));
    for dim in [
        "product_quality",
        "price",
        "response_speed",
        "service_attitude",
        "delivery_speed",
    ] {
        assert!(
            page.contains(&format!("<th scope=\"row\">{dim}</th>")),
            "{dim}"
        );
    }
    assert!(page.contains("fix first") && page.contains("<svg"));
    let zh = b
        .get(format!(
            "{}/app/drivers?lang=zh&region=%E5%8D%8E%E4%B8%9C",
            s.url
        ))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(zh.contains("n 40") && zh.contains("驱动因素"), "{zh}");
    // Feedback: shares by polarity, search in Chinese, a polarity filter, escaping.
    let page = b
        .get(format!("{}/app/feedback?lang=en", s.url))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(page.contains("80 matching"));
    assert!(
        !page.contains("<script>alert"),
        "comments are text, not markup"
    );
    assert!(page.contains("&#60;script&#62;alert"));
    // Text analysis of the same comments: 20 positive (交付很快，服务好), 20 neutral
    // (一般), 40 negative (price is too high; slow support), and their topics.
    let text_tiles = &page[page.find("Text sentiment").expect("text section")..];
    for (key, n) in [("positive", 20), ("neutral", 20), ("negative", 40)] {
        let at = text_tiles
            .find(&format!("<section class=\"tile {key}\"><h3>"))
            .expect("tile");
        let big = &text_tiles[at..];
        let start = big.find("<p class=\"big\">").expect("big") + 15;
        assert_eq!(
            &big[start..start + big[start..].find('<').expect("end")],
            n.to_string(),
            "{key}"
        );
    }
    for topic in ["Price", "Delivery", "Response speed", "Service attitude"] {
        assert!(
            text_tiles.contains(&format!("<td>{topic}</td>")),
            "topic {topic}"
        );
    }
    let page = b
        .get(format!(
            "{}/app/feedback?lang=zh&q=%E4%BA%A4%E4%BB%98",
            s.url
        ))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(page.contains("20 条符合条件"), "search 交付");
    let negative = b
        .get(format!("{}/app/feedback?lang=en&polarity=negative", s.url))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    let shares = |p: &str, key: &str| -> u64 {
        let at = p
            .find(&format!("<section class=\"tile {key}\">"))
            .expect("tile");
        let big = &p[at..];
        let start = big.find("<p class=\"big\">").expect("big") + 15;
        big[start..start + big[start..].find('<').expect("end")]
            .parse()
            .expect("count")
    };
    let n_neg = shares(&negative, "negative");
    assert!(
        negative.contains(&format!("{n_neg} matching")),
        "the filter lists the negative ones"
    );
    assert_eq!(
        shares(&negative, "positive") + shares(&negative, "neutral") + n_neg,
        80
    );
    assert!(!negative.contains("pill positive\" data-from=\"rating\""));
    assert!(negative.contains("pill negative\" data-from=\"rating\""));
    // Text analysis: the comments' own sentiment and topics are on the page too.
    assert!(
        negative.contains("data-from=\"text\""),
        "text sentiment shown"
    );
    assert!(negative.contains("Text sentiment"));
    // Not signed in.
    let r = c
        .get(format!("{}/app/feedback", s.url))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn accounts_list_with_survey_figures() {
    let s = start(0).await;
    let token = s.token("admin", "admin", "write").await;
    let c = client();
    for (i, nps) in [10, 9, 3].iter().enumerate() {
        let contact = ["P001", "P002", "P003"][i];
        let body = json!({"answers": {"nps": nps}, "contact": contact});
        let r = c
            .post(format!(
                "{}/api/v1/surveys/relationship-2026/responses",
                s.url
            ))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    // A response naming its contact counts for the contact's account.
    let b = signed_in(&s, "ann").await;
    let page = b
        .get(format!("{}/app/accounts?lang=en", s.url))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(page.contains("华东精密") && page.contains("C001"));
    assert!(page.contains("Revenue, last 12 months"));
    assert!(page.contains("<td class=\"n\">3</td>"), "three responses");
    assert!(page.contains("33 (3)"), "NPS of the account: (2 − 1) / 3");
    let none = b
        .get(format!(
            "{}/app/accounts?lang=zh&q=nothing-like-this",
            s.url
        ))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(!none.contains("C001") && none.contains("近 12 个月收入"));
}

#[tokio::test]
async fn text_analysis_endpoint_and_sentiment_metrics() {
    let s = start(0).await;
    let token = s.token("ann", "analyst", "read").await;
    let c = client();
    let url = format!("{}/api/v1/text/analyze", s.url);
    let r = c
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({"texts": ["产品质量不错，但是物流太慢了", "Great support, quick replies!", "无"]}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("json");
    let results = body["results"].as_array().expect("results");
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["lang"], "zh");
    assert_eq!(results[0]["sentiment"], "negative");
    assert_eq!(results[0]["topics"][0]["topic"], "product_quality");
    assert_eq!(results[0]["topics"][0]["sentiment"], "positive");
    assert_eq!(results[0]["topics"][1]["topic"], "delivery");
    assert_eq!(results[0]["topics"][1]["sentiment"], "negative");
    assert_eq!(results[1]["lang"], "en");
    assert_eq!(results[1]["sentiment"], "positive");
    assert_eq!(results[2]["sentiment"], "neutral");
    // Wrong bodies say what is wrong.
    let r = c
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({"texts": []}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: Value = r.json().await.expect("json");
    assert_eq!(e["error"]["field"], "texts");
    let r = c
        .post(&url)
        .bearer_auth(&token)
        .body("not json")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = c
        .post(&url)
        .json(&json!({"text": "hi"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Submitted comments are analysed when stored; metrics count their polarity.
    let writer = s.token("admin", "admin", "write").await;
    for (nps, comment) in [
        (10, "服务非常好，响应很及时"),
        (9, "Great product, fast delivery"),
        (3, "物流太慢了，很失望"),
        (8, "还行吧"),
    ] {
        let r = c
            .post(format!(
                "{}/api/v1/surveys/relationship-2026/responses",
                s.url
            ))
            .bearer_auth(&writer)
            .json(&json!({"answers": {"nps": nps, "comment": comment}}))
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let m: Value = c
        .get(format!(
            "{}/api/v1/metrics?survey=relationship-2026&nps=nps&sentiment=comment",
            s.url
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let sentiment = &m["overall"]["sentiment"];
    assert_eq!(sentiment["n"], 4, "{m}");
    assert_eq!(
        (
            sentiment["positive"].as_u64(),
            sentiment["neutral"].as_u64(),
            sentiment["negative"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(sentiment["positive_pct"], 50.0);
    assert!(sentiment["positive_ci95"].is_array());
    let r = c
        .get(format!(
            "{}/api/v1/metrics?survey=relationship-2026&sentiment=nps",
            s.url
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "nps is not a text question"
    );

    // Imported feedback items are analysed and listed with their analysis.
    let csv = "客户编号,来源,日期,反馈内容\nC1,投诉,2026-03-03,发货太慢了，等了两周\nC2,评价,2026-03-04,客服态度很好，点赞\nC3,投诉,2026-03-05,The invoice was wrong again\n";
    let r = c
        .post(format!("{}/api/v1/imports/feedback?format=csv", s.url))
        .bearer_auth(&writer)
        .body(csv)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    let list = |query: &str| {
        c.get(format!("{}/api/v1/feedback?{query}", s.url))
            .bearer_auth(&token)
            .send()
    };
    let all: Value = list("").await.expect("get").json().await.expect("json");
    let items = all["items"].as_array().expect("items");
    assert_eq!(items.len(), 3, "{all}");
    assert_eq!(items[0]["sentiment"], "negative");
    assert_eq!(items[0]["lang"], "zh");
    assert_eq!(items[0]["topics"][0]["topic"], "delivery");
    assert_eq!(items[1]["sentiment"], "positive");
    assert_eq!(items[2]["lang"], "en");
    let count = |v: &Value| v["items"].as_array().map(Vec::len);
    let negative: Value = list("sentiment=negative")
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(count(&negative), Some(2), "{negative}");
    let billing: Value = list("topic=billing")
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(count(&billing), Some(1), "{billing}");
    assert_eq!(billing["items"][0]["customer"], "C3");
    let found: Value = list("q=INVOICE")
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(count(&found), Some(1));
    let paged: Value = list("limit=2")
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let after = paged["next_after"].as_i64().expect("a next page");
    let rest: Value = list(&format!("after={after}"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(count(&rest), Some(1));
    let r = list("sentiment=angry").await.expect("get");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = list("topic=a%25").await.expect("get");
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a topic is an id, not a pattern"
    );
}
