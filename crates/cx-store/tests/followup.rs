//! Account scores and closing the loop, on SQLite and PostgreSQL: the facts
//! read by push-down and the scores made of them (computed by hand below),
//! tasks with their history, webhooks and the delivery queue.
//!
//! PostgreSQL is reached at `CXSCORE_TEST_PG` as in `story.rs`.

use cx_core::account::relationship::Flag;
use cx_core::account::scorecard::{Component, Grade, Scorecard};
use cx_core::model::customer::{
    Account, Assessment, Contact, ContactRole, FeedbackItem, FeedbackSource, Interaction,
    InteractionKind, Transaction,
};
use cx_core::model::survey::{AnswerValue, SurveyDefinition};
use cx_core::period::Date;
use cx_store::accounts::{AccountStore, score_accounts};
use cx_store::followup::{Attempt, FollowUpStore, NewTask, TaskChange, TaskQuery};
mod common;

use cx_store::{AnyStore, KeyedFeedback, KeyedTransaction, NewResponse, Store, StoreError};

fn date(y: i32, m: u32, d: u32) -> Date {
    Date::from_ymd(y, m, d).expect("valid")
}

fn account(code: &str, tier: &str, owner: Option<&str>, team: &str) -> Account {
    Account {
        external_id: code.into(),
        name: format!("客户{code}"),
        industry: None,
        region: Some("华东".into()),
        tier: Some(tier.into()),
        sales_team: Some(team.into()),
        owner: owner.map(str::to_string),
        since: None,
        until: None,
    }
}

fn contact(code: &str, account: &str, role: ContactRole, influence: f64) -> Contact {
    Contact {
        external_id: code.into(),
        account: account.into(),
        name: format!("联系人{code}"),
        role: Some(role),
        influence,
        email: None,
        phone: None,
        time_zone: None,
    }
}

fn response(
    key: &str,
    on: Date,
    account: Option<cx_core::model::AccountId>,
    contact: Option<cx_core::model::ContactId>,
    answers: &[(&str, AnswerValue)],
) -> NewResponse {
    NewResponse {
        dedupe_key: key.into(),
        submitted_at: format!("{on}T08:00:00Z"),
        submitted_on: on,
        channel: "web".into(),
        language: Some("zh".into()),
        account,
        contact,
        metadata: serde_json::Map::new(),
        answers: answers
            .iter()
            .map(|(q, a)| (q.to_string(), a.clone()))
            .collect(),
    }
}

fn txn(key: &str, customer: &str, on: Date, yuan: i64) -> KeyedTransaction {
    KeyedTransaction {
        key: key.into(),
        transaction: Transaction {
            external_id: Some(key.into()),
            customer: customer.into(),
            date: on,
            amount_minor: yuan * 100,
            currency: "CNY".into(),
            product_line: None,
        },
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

async fn loop_story(store: &AnyStore) -> Result<(), StoreError> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/survey.json"
    ))
    .expect("examples/survey.json");
    let def: SurveyDefinition = serde_json::from_str(&text).expect("valid");
    let survey = store.create_survey(&def).await?;
    store
        .insert_accounts(&[
            account("K001", "key", Some("李娜"), "华东一组"),
            account("A002", "A", None, "华南二组"),
        ])
        .await?;
    let acc = store.account_ids(&["K001".into(), "A002".into()]).await?;
    store
        .insert_contacts(&[
            (
                acc["K001"],
                contact("P1", "K001", ContactRole::DecisionMaker, 0.6),
            ),
            (
                acc["K001"],
                contact("P2", "K001", ContactRole::Purchaser, 0.4),
            ),
            (acc["A002"], contact("P3", "A002", ContactRole::User, 1.0)),
        ])
        .await?;
    let people = store
        .contact_ids(&["P1".into(), "P2".into(), "P3".into()])
        .await?;
    let assess = |c: &str, period: &str, ratings| Assessment {
        contact: c.into(),
        period: period.into(),
        ratings,
    };
    store
        .insert_assessments(&[
            (
                people["P1"],
                assess(
                    "P1",
                    "2026-Q1",
                    [Some(2), Some(1), Some(0), Some(-1), None, Some(2), Some(-2)],
                ),
            ),
            // After the day scored: must not count.
            (people["P1"], assess("P1", "2026-Q3", [Some(-2); 7])),
            (people["P2"], assess("P2", "2026-Q2", [Some(1); 7])),
        ])
        .await?;
    let (k, p1) = (Some(acc["K001"]), Some(people["P1"]));
    let nps = |v| ("nps", AnswerValue::Score(v));
    let csat = |v| ("csat", AnswerValue::Score(v));
    store
        .insert_responses(
            survey,
            &[
                response(
                    "r1",
                    date(2026, 5, 1),
                    k,
                    p1,
                    &[nps(10), csat(5), ("ces", AnswerValue::Score(7))],
                ),
                response("r2", date(2026, 5, 10), k, p1, &[nps(9), csat(4)]),
                response(
                    "r3",
                    date(2026, 6, 1),
                    k,
                    p1,
                    &[
                        nps(3),
                        csat(1),
                        ("comment", AnswerValue::Text("物流太慢了，很失望".into())),
                    ],
                ),
                // More than a year before the day scored: not counted.
                response("r0", date(2025, 1, 1), k, p1, &[nps(0)]),
            ],
        )
        .await?;
    store
        .insert_transactions(&[
            txn("T1", "K001", date(2026, 1, 15), 1000),
            txn("T2", "K001", date(2026, 1, 15), 500),
            txn("T3", "K001", date(2026, 3, 1), 2000),
            txn("T4", "K001", date(2025, 3, 1), 1000),
            txn("T5", "A002", date(2026, 2, 1), 100),
        ])
        .await?;
    let feedback = |key: &str, source, on, text: &str| KeyedFeedback {
        key: key.into(),
        item: FeedbackItem {
            account: Some("K001".into()),
            source,
            date: on,
            text: text.into(),
        },
    };
    store
        .insert_feedback(&[
            feedback(
                "F1",
                FeedbackSource::Complaint,
                date(2026, 6, 10),
                "发票又开错了",
            ),
            feedback(
                "F2",
                FeedbackSource::Review,
                date(2026, 6, 11),
                "服务很好，非常满意",
            ),
        ])
        .await?;
    let visit = |on, kind| Interaction {
        customer: "K001".into(),
        kind,
        date: on,
        note: None,
    };
    store
        .insert_interactions(&[
            (
                "I1".into(),
                visit(date(2026, 6, 20), InteractionKind::Visit),
            ),
            ("I2".into(), visit(date(2026, 5, 1), InteractionKind::Call)),
        ])
        .await?;

    // Facts as of 2026-06-30.
    let day = date(2026, 6, 30).days();
    let facts = store.account_facts(day, None).await?;
    let kf = facts
        .iter()
        .find(|f| f.account.code == "K001")
        .expect("K001");
    assert_eq!(kf.answers.nps, [2, 0, 1]);
    assert!(close(kf.answers.nps_score().expect("nps"), 100.0 / 3.0));
    // CSAT 5, 4, 1 on 1–5 → indices 100, 75, 0.
    assert!(close(kf.answers.csat_index().expect("csat"), 175.0 / 3.0));
    assert_eq!(kf.answers.ces_index(), Some(100.0));
    assert_eq!(kf.orders_12m, 2, "two purchase days in the year");
    assert_eq!(kf.revenue, (350_000, 100_000));
    assert_eq!(kf.last_purchase, Some(date(2026, 3, 1).days()));
    assert_eq!(
        kf.negative_feedback, 2,
        "the complaint and the negative comment"
    );
    assert_eq!(kf.last_interaction, Some(date(2026, 6, 20).days()));
    assert_eq!(kf.recent_interactions, 2);
    assert_eq!(kf.last_response.as_deref(), Some("2026-06-01T08:00:00Z"));
    let only = store.account_facts(day, Some("A002")).await?;
    assert_eq!(only.len(), 1);
    assert!(matches!(
        store.account_facts(day, Some("NOPE")).await,
        Err(StoreError::NotFound(_))
    ));
    let persons = store.people(day, "2026-Q2", Some("K001")).await?;
    let p1f = persons.iter().find(|p| p.code == "P1").expect("P1");
    assert_eq!(
        p1f.assessment.as_ref().map(|a| a.0.as_str()),
        Some("2026-Q1")
    );
    assert_eq!(p1f.last_nps, Some(3));
    assert_eq!(p1f.last_csat, Some((1, 5)));

    // Scores with the default scorecard.
    let scores = score_accounts(store, &Scorecard::default(), day, None).await?;
    let ks = scores
        .iter()
        .find(|s| s.account.code == "K001")
        .expect("K001");
    // P1: mean of 2, 1, 0, −1, 2, −2 = 1/3 → 100·(1/3 + 2)/4 = 58.33; P2: all +1 → 75.
    // Account: 0.6·58.33 + 0.4·75 = 65.
    let rel = ks.relationship.score.expect("relationship");
    assert!(close(rel, 65.0), "{rel}");
    assert!(
        ks.relationship
            .flags
            .iter()
            .any(|f| matches!(f, Flag::CompetitorPreferred { contact, .. } if contact == "P1"))
    );
    let gaps: Vec<ContactRole> = ks
        .relationship
        .flags
        .iter()
        .filter_map(|f| match f {
            Flag::CoverageGap { role } => Some(*role),
            _ => None,
        })
        .collect();
    assert_eq!(
        gaps,
        [
            ContactRole::Influencer,
            ContactRole::TechnicalEvaluator,
            ContactRole::User
        ]
    );
    // Components (weights 20 15 5 20 10 5 10 10 5, all present):
    // NPS 33.3 → 66.67; CSAT 58.33; CES 100; relationship 65;
    // activity: 121 days since purchase on 365→30 → 100·244/335;
    // repeat: 2 of 12 → 16.67; growth 250 % → 100 (clipped);
    // CLV: the larger of the two accounts' → rank 100; complaints 2 on 4→0 → 50.
    let expected = (20.0 * (200.0 / 3.0)
        + 15.0 * (175.0 / 3.0)
        + 5.0 * 100.0
        + 20.0 * 65.0
        + 10.0 * (100.0 * 244.0 / 335.0)
        + 5.0 * (100.0 * 2.0 / 12.0)
        + 10.0 * 100.0
        + 10.0 * 100.0
        + 5.0 * 50.0)
        / 100.0;
    let got = ks.score.score.expect("score");
    assert!((got - expected).abs() < 1e-9, "{got} vs {expected}");
    assert_eq!(ks.score.grade, Grade::B);
    let a2 = scores
        .iter()
        .find(|s| s.account.code == "A002")
        .expect("A002");
    assert_eq!(a2.relationship.score, None);
    assert!(a2.relationship.flags.contains(&Flag::NotAssessed));
    // Only activity, repeat, CLV and complaints are known: 30 % of the weight.
    assert!(close(a2.score.coverage, 0.30));
    assert_eq!(a2.score.grade, Grade::Insufficient);
    let clv = a2
        .score
        .components
        .iter()
        .find(|c| c.component == Component::Clv)
        .expect("clv");
    assert_eq!(clv.normalised, Some(0.0));

    // The loop reads new responses with their answers and sentiment.
    let fresh = store.responses_for_loop(0, 10).await?;
    assert_eq!(fresh.len(), 4);
    let r3 = fresh
        .iter()
        .find(|r| r.answers.iter().any(|a| a.0 == "comment"))
        .expect("r3");
    assert_eq!(r3.account.as_ref().map(|a| a.1.as_str()), Some("K001"));
    assert_eq!(r3.account.as_ref().map(|a| a.4.as_str()), Some("李娜"));
    let comment = r3
        .answers
        .iter()
        .find(|a| a.0 == "comment")
        .expect("comment");
    assert_eq!(comment.3, Some(-1));
    assert_eq!(store.responses_for_loop(r3.id, 10).await?.len(), 1);

    // Webhooks: one for everything, one for task events only.
    let all = store
        .create_webhook("http://127.0.0.1:9/all", "s1", "*")
        .await?;
    let only_tasks = store
        .create_webhook(
            "http://127.0.0.1:9/tasks",
            "s2",
            "task.created, task.resolved",
        )
        .await?;
    let task = NewTask {
        dedupe_key: format!("response:{}", r3.id),
        account_id: Some(acc["K001"].0),
        response_id: Some(r3.id),
        contact_id: Some(people["P1"].0),
        title: "贬损者(NPS 3)".into(),
        reasons: r#"[{"rule":"detractor","score":3}]"#.into(),
        priority: "urgent".into(),
        owner: Some("李娜".into()),
        team: Some("华东一组".into()),
        created: 1_000_000,
        due: 1_000_000 + 24 * 3600,
        event: Some(serde_json::json!({"event": "task.created", "task": {"title": "x"}})),
    };
    let events = vec![("response.created".to_string(), r#"{"id":3}"#.to_string())];
    let ids = store
        .open_tasks(std::slice::from_ref(&task), &events, Some((0, r3.id)), &[])
        .await?;
    let id = ids[0].expect("opened");
    assert_eq!(store.setting("loop_cursor").await?, Some(r3.id.to_string()));
    // The same response again opens nothing and queues no task event.
    assert_eq!(
        store
            .open_tasks(std::slice::from_ref(&task), &[], None, &[])
            .await?,
        vec![None]
    );
    // A second process that read the old cursor stores nothing.
    let mut other = task;
    other.dedupe_key = "response:other".into();
    assert!(matches!(
        store
            .open_tasks(&[other.clone()], &[], Some((0, r3.id)), &[])
            .await,
        Err(StoreError::Conflict(_))
    ));
    let every = TaskQuery {
        limit: 10,
        ..TaskQuery::default()
    };
    assert_eq!(store.tasks(&every, 0).await?.len(), 1, "rolled back");
    let queued = store.due_deliveries(i64::MAX, 100).await?;
    let mut kinds: Vec<(i64, &str)> = queued
        .iter()
        .map(|d| (d.webhook_id, d.event.as_str()))
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            (all, "response.created"),
            (all, "task.created"),
            (only_tasks, "task.created")
        ]
    );
    let body: serde_json::Value = serde_json::from_str(
        &queued
            .iter()
            .find(|d| d.event == "task.created")
            .expect("event")
            .payload,
    )
    .expect("json");
    assert_eq!(body["task"]["id"], id);

    // Tasks: list, filter, change, resolve, reopen, escalate.
    let now = 1_000_000 + 3600;
    let listed = store
        .tasks(
            &TaskQuery {
                status: Some("active".into()),
                limit: 10,
                ..TaskQuery::default()
            },
            now,
        )
        .await?;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].account.as_deref(), Some("K001"));
    assert_eq!(listed[0].contact.as_deref(), Some("P1"));
    assert_eq!(listed[0].due.as_deref(), Some("1970-01-13T13:46:40Z"));
    assert!(!listed[0].overdue);
    let mine = TaskQuery {
        owner: Some("someone else".into()),
        limit: 10,
        ..TaskQuery::default()
    };
    assert!(store.tasks(&mine, now).await?.is_empty());
    let change =
        |status: Option<&str>, note: Option<&str>, resolution: Option<&str>, at| TaskChange {
            status: status.map(str::to_string),
            owner: None,
            note: note.map(str::to_string),
            resolution: resolution.map(str::to_string),
            author: "li".into(),
            now: at,
            app: Some("http://cx.example".into()),
        };
    let (t, before) = store
        .update_task(
            id,
            &change(Some("in_progress"), Some("已电话联系客户"), None, now),
        )
        .await?;
    assert_eq!(before, "open");
    assert_eq!(t.status, "in_progress");
    assert_eq!(t.first_action_ts, Some(now));
    let (t, before) = store
        .update_task(
            id,
            &change(Some("resolved"), None, Some("补发货物并致歉"), now + 7200),
        )
        .await?;
    assert_eq!(before, "in_progress");
    assert_eq!(t.status, "resolved");
    assert_eq!(t.resolved_ts, Some(now + 7200));
    assert_eq!(t.resolution.as_deref(), Some("补发货物并致歉"));
    assert_eq!(t.first_action_ts, Some(now), "the first action stays");
    let (_, history) = store.task(id, now).await?.expect("task");
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].note.as_deref(), Some("已电话联系客户"));
    assert_eq!(history[1].status.as_deref(), Some("resolved"));
    assert!(
        store
            .escalate_overdue(i64::MAX / 2, "http://cx.example")
            .await?
            .is_empty(),
        "resolved"
    );
    let (t, _) = store
        .update_task(id, &change(Some("open"), None, None, now + 9000))
        .await?;
    assert_eq!((t.resolved_ts, t.resolution), (None, None), "reopened");
    let late = 1_000_000 + 25 * 3600;
    let escalated = store.escalate_overdue(late, "http://cx.example").await?;
    assert_eq!(escalated.len(), 1);
    assert_eq!(escalated[0].priority, "urgent");
    assert!(escalated[0].overdue);
    assert!(
        store
            .escalate_overdue(late + 1, "http://cx.example")
            .await?
            .is_empty(),
        "once"
    );
    let overdue = TaskQuery {
        overdue: true,
        limit: 10,
        ..TaskQuery::default()
    };
    assert_eq!(store.tasks(&overdue, late).await?.len(), 1);
    assert!(matches!(
        store
            .update_task(999_999, &change(None, Some("x"), None, now))
            .await,
        Err(StoreError::NotFound(_))
    ));
    // The open task now counts against the account.
    let f = store.account_facts(day, Some("K001")).await?;
    assert_eq!(f[0].open_tasks, 1);

    // Deliveries: a failure is retried later, a success is recorded, giving up fails.
    let first = queued[0].id;
    store
        .record_attempt(
            first,
            &Attempt {
                code: Some(500),
                error: Some("HTTP 500".into()),
                delivered: false,
                retry_at: Some(2000),
            },
            1000,
        )
        .await?;
    assert!(
        store
            .due_deliveries(1999, 10)
            .await?
            .iter()
            .all(|d| d.id != first)
    );
    let again = store.due_deliveries(2000, 10).await?;
    let d = again.iter().find(|d| d.id == first).expect("due again");
    assert_eq!((d.attempts, d.last_code), (1, Some(500)));
    store
        .record_attempt(
            first,
            &Attempt {
                code: Some(200),
                error: None,
                delivered: true,
                retry_at: None,
            },
            2000,
        )
        .await?;
    store
        .record_attempt(
            queued[1].id,
            &Attempt {
                code: None,
                error: Some("refused".into()),
                delivered: false,
                retry_at: None,
            },
            2000,
        )
        .await?;
    let log = store.deliveries(queued[0].webhook_id, 10).await?;
    let d = log.iter().find(|d| d.id == first).expect("logged");
    assert_eq!((d.status.as_str(), d.attempts), ("delivered", 2));
    assert!(d.delivered_at.is_some());
    // Left: the third queued event, and the task.resolved (both webhooks) and
    // task.overdue (the catch-all one) queued by the store with the changes.
    let left = store.due_deliveries(i64::MAX, 10).await?;
    assert!(
        left.iter()
            .all(|d| d.status == "pending" && d.id != first && d.id != queued[1].id)
    );
    let mut events: Vec<(i64, String)> = left
        .iter()
        .map(|d| (d.webhook_id, d.event.clone()))
        .collect();
    events.sort_unstable();
    let mut expected = vec![
        (queued[2].webhook_id, queued[2].event.clone()),
        (all, "task.resolved".to_string()),
        (only_tasks, "task.resolved".to_string()),
        (all, "task.overdue".to_string()),
    ];
    expected.sort_unstable();
    assert_eq!(events, expected, "the failed one is not retried");
    let overdue = left
        .iter()
        .find(|d| d.event == "task.overdue")
        .expect("overdue");
    assert!(
        overdue.payload.contains("http://cx.example/app/tasks/"),
        "{}",
        overdue.payload
    );

    // A failed delivery can be queued again by hand.
    let failed = &queued[1];
    assert!(store.redeliver(failed.webhook_id, failed.id, 3000).await?);
    let again = store.due_deliveries(3000, 10).await?;
    let d = again
        .iter()
        .find(|d| d.id == failed.id)
        .expect("pending again");
    assert_eq!((d.status.as_str(), d.attempts), ("pending", 0));
    assert!(!store.redeliver(failed.webhook_id, 999_999, 0).await?);

    // Settings and webhook removal.
    store.set_setting("scorecard", "{}").await?;
    store
        .set_setting("scorecard", r#"{"weights":{"nps":1}}"#)
        .await?;
    assert_eq!(
        store.setting("scorecard").await?.as_deref(),
        Some(r#"{"weights":{"nps":1}}"#)
    );
    assert!(store.delete_webhook(all).await?);
    assert!(!store.delete_webhook(all).await?);
    assert_eq!(store.webhooks().await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn loop_story_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("cx-store-loop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}", dir.join("loop.db").display());
    let store = cx_store::open(&url).await.expect("opens");
    loop_story(&store).await.expect("story");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn loop_story_on_postgres() {
    common::on_postgres("loop", async |url: &str| {
        let store = cx_store::open(url).await?;
        loop_story(&store).await?;
        common::close(store).await;
        Ok(())
    })
    .await;
}
