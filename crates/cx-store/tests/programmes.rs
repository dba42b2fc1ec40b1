//! Survey programmes in the database, on SQLite and PostgreSQL: a wave is
//! drawn once (a second attempt stores nothing), messages are claimed before
//! sending and a claim left by a stopped process is never sent again,
//! reminders only for the unanswered, unsubscribes and bounces kept, each
//! coupon code given at most once, and the funnel rows of a programme.
//!
//! PostgreSQL is reached at `CXSCORE_TEST_PG` as in `story.rs`.

use cx_core::model::customer::{Account, Contact, ContactRole};
use cx_core::model::survey::{AnswerValue, SurveyDefinition};
use cx_core::period::Date;
use cx_store::programmes::{MessageOutcome, NewSend, NewWave, ProgrammeStore};
use cx_store::server::{ServerStore, Submission};
use cx_store::{AnyStore, NewResponse, Store, StoreError};

mod common;

const SURVEY: &str = r#"{"slug": "rnps", "title": {"zh": "关系", "en": "Relationship"}, "anonymous": false,
  "languages": ["zh"], "questions": [{"id": "nps", "kind": "nps", "required": true, "text": {"zh": "推荐?", "en": "Recommend?"}}]}"#;

async fn programme_story(store: &AnyStore) -> Result<(), StoreError> {
    let def: SurveyDefinition = serde_json::from_str(SURVEY).expect("survey");
    let survey = store.create_survey(&def).await?;
    store
        .insert_accounts(&[Account {
            external_id: "K1".into(),
            name: "大客户一".into(),
            industry: Some("制造".into()),
            region: Some("华东".into()),
            tier: Some("key".into()),
            sales_team: Some("A".into()),
            owner: None,
            since: None,
            until: None,
        }])
        .await?;
    let k1 = store.account_ids(&["K1".into()]).await?["K1"];
    let people: Vec<_> = (1..=3)
        .map(|k| {
            (
                k1,
                Contact {
                    external_id: format!("P{k}"),
                    account: "K1".into(),
                    name: format!("联系人{k}"),
                    role: Some(ContactRole::DecisionMaker),
                    influence: 0.7,
                    email: Some(format!("p{k}@k1.example.com")),
                    phone: None,
                    time_zone: Some("Asia/Shanghai".into()),
                },
            )
        })
        .collect();
    store.insert_contacts(&people).await?;
    let ids = store
        .contact_ids(&["P1".into(), "P2".into(), "P3".into()])
        .await?;

    let pid = store
        .save_programme(
            "key",
            "Key",
            survey.0,
            r#"{"reward":{"coupon":"Q"}}"#,
            false,
        )
        .await?;
    assert!(matches!(
        store
            .save_programme("key", "Key", survey.0, "{}", false)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .save_programme(
                "key",
                "Key 2",
                survey.0,
                r#"{"reward":{"coupon":"Q"}}"#,
                true
            )
            .await?,
        pid
    );
    assert_eq!(
        store.programme("key").await?.expect("programme").name,
        "Key 2"
    );

    let candidates = store.candidates(None).await?;
    assert_eq!(candidates.len(), 3);
    assert_eq!(candidates[0].tier, "key");
    assert_eq!(candidates[0].time_zone.as_deref(), Some("Asia/Shanghai"));
    assert_eq!(candidates[0].last_contact_day, None);

    // A wave of three, drawn once.
    let today = Date::from_ymd(2026, 12, 1).expect("date").days();
    let wave = NewWave {
        programme_id: pid,
        label: "2026-10-01".into(),
        starts_ts: today as i64 * 86_400,
        stats: r#"{"audience": 3}"#.into(),
        today,
    };
    let sends: Vec<NewSend> = ["P1", "P2", "P3"]
        .iter()
        .map(|c| NewSend {
            contact_id: ids[*c].0,
            token_hash: format!("hash-{c}"),
            channel: "email".into(),
            due_ts: today as i64 * 86_400,
            status: "pending".into(),
        })
        .collect();
    let cursor = [("programme_cursor:1".to_string(), "9".to_string())];
    assert!(
        store
            .plan_wave(survey.0, &wave, &sends, &cursor)
            .await?
            .is_some()
    );
    assert_eq!(
        store.plan_wave(survey.0, &wave, &sends, &cursor).await?,
        None
    );
    assert!(store.wave_exists(pid, "2026-10-01").await?);
    let now = today as i64 * 86_400 + 3600;
    let due = store.due_messages(now, 10).await?;
    assert_eq!(due.len(), 3);
    // Invited today: the contact rules of the next wave see it.
    assert_eq!(
        store.candidates(None).await?[0].last_contact_day,
        Some(today)
    );

    // P1 is claimed and the process stops before recording the outcome.
    assert!(store.claim_message(due[0].id, now).await?);
    assert!(!store.claim_message(due[0].id, now).await?, "claimed once");
    // A claim younger than the limit may still be on its way: left alone.
    assert_eq!(store.recover_interrupted(now - 600).await?, 0);
    assert_eq!(store.recover_interrupted(now + 1).await?, 1);
    // P2 is sent; P3 bounces.
    assert!(store.claim_message(due[1].id, now).await?);
    store
        .finish_message(due[1].id, &MessageOutcome::Sent, now)
        .await?;
    assert!(store.claim_message(due[2].id, now).await?);
    store
        .finish_message(
            due[2].id,
            &MessageOutcome::Bounced("SMTP: 550 no such mailbox".into()),
            now,
        )
        .await?;
    assert!(
        store.due_messages(now + 86_400, 10).await?.is_empty(),
        "nothing is sent twice"
    );
    let log = store.messages(pid, 10).await?;
    let status = |c: &str| {
        log.iter()
            .find(|m| m.contact == c)
            .expect("message")
            .status
            .clone()
    };
    assert_eq!(
        (status("P1"), status("P2"), status("P3")),
        ("failed".into(), "sent".into(), "bounced".into())
    );
    assert!(
        store
            .suppression(ids["P3"].0)
            .await?
            .expect("suppressed")
            .starts_with("bounced")
    );
    // A deferral does not count as an attempt.
    assert_eq!(
        log.iter().find(|m| m.contact == "P2").expect("P2").attempts,
        1
    );

    // Reminders: only P2 (sent, unanswered, not suppressed), once the days have passed.
    assert_eq!(
        store
            .queue_reminders(pid, 3 * 86_400, 1, now + 86_400)
            .await?,
        0
    );
    assert_eq!(
        store
            .queue_reminders(pid, 3 * 86_400, 1, now + 4 * 86_400)
            .await?,
        1
    );
    assert_eq!(
        store
            .queue_reminders(pid, 3 * 86_400, 1, now + 4 * 86_400)
            .await?,
        0
    );
    let due = store.due_messages(now + 4 * 86_400, 10).await?;
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].kind.as_str(), due[0].contact.as_str()),
        ("reminder-1", "P2")
    );
    store
        .finish_message(due[0].id, &MessageOutcome::Deferred(now + 5 * 86_400), now)
        .await?;
    assert!(store.due_messages(now + 4 * 86_400, 10).await?.is_empty());
    assert!(store.claim_message(due[0].id, now).await?);
    store
        .finish_message(due[0].id, &MessageOutcome::Sent, now + 5 * 86_400)
        .await?;
    assert_eq!(
        store
            .queue_reminders(pid, 3 * 86_400, 1, now + 30 * 86_400)
            .await?,
        0,
        "at most one"
    );

    // P2 answers through the invitation; the coupon is given once.
    let invitation = store.invitation("hash-P2").await?.expect("invitation");
    assert_eq!(invitation.programme, Some(pid));
    assert_eq!(invitation.channel.as_deref(), Some("email"));
    store.mark_invitation(invitation.id, true, now).await?;
    let response = NewResponse {
        dedupe_key: "web:p2".into(),
        submitted_at: "2026-12-05T02:00:00Z".into(),
        submitted_on: Date::from_ymd(2026, 12, 5).expect("date"),
        channel: "email".into(),
        language: Some("zh".into()),
        account: Some(k1),
        contact: Some(ids["P2"]),
        metadata: Default::default(),
        answers: vec![("nps".into(), AnswerValue::Score(10))],
    };
    store
        .submit(&[Submission::new(survey, response, Some(invitation.id))])
        .await?;
    assert_eq!(store.awaiting_reward(10).await?.len(), 1);
    assert_eq!(
        store
            .grant_reward(invitation.id, Some("Q"), None, Some("email"), now)
            .await?,
        None,
        "the pool is empty"
    );
    let added = store
        .add_coupons("Q", &["Q-1".into(), "Q-2".into(), "Q-1".into()])
        .await?;
    assert_eq!((added.inserted, added.duplicate), (2, 1));
    let r = store
        .grant_reward(invitation.id, Some("Q"), None, Some("email"), now)
        .await?
        .expect("reward");
    assert_eq!(r.code.as_deref(), Some("Q-1"));
    let again = store
        .grant_reward(invitation.id, Some("Q"), None, Some("email"), now)
        .await?
        .expect("reward");
    assert_eq!((again.id, again.code.as_deref()), (r.id, Some("Q-1")));
    assert_eq!(store.coupon_stock().await?, vec![("Q".to_string(), 2, 1)]);
    assert!(store.awaiting_reward(10).await?.is_empty());
    assert_eq!(
        store
            .reward_for(invitation.id)
            .await?
            .expect("reward")
            .contact,
        "P2"
    );
    let due = store.due_messages(now, 10).await?;
    assert_eq!(due.len(), 1, "one reward mail");
    assert_eq!(due[0].kind, "reward");
    assert_eq!(due[0].reward, Some((Some("Q-1".into()), None)));

    // The funnel: three invited; P1 failed (interrupted), P3 bounced, P2 sent and answered 10.
    let rows = store.funnel_rows(pid, Some("nps")).await?;
    assert_eq!(rows.len(), 3);
    let p2 = rows.iter().find(|r| r.completed).expect("answered");
    assert_eq!(
        (p2.status.as_str(), p2.nps, p2.started, p2.tier.as_str()),
        ("sent", Some(10), true, "key")
    );
    assert_eq!(rows.iter().filter(|r| r.status == "sent").count(), 1);

    // An unsubscribe is kept.
    assert!(store.suppress(ids["P1"].0, "unsubscribed").await?);
    assert!(!store.suppress(ids["P1"].0, "unsubscribed").await?);
    let c = store.candidates(Some(&[ids["P1"].0])).await?;
    assert_eq!(c[0].suppressed.as_deref(), Some("unsubscribed"));
    assert_eq!(store.init_setting("k", "first").await?, "first");
    assert_eq!(store.init_setting("k", "second").await?, "first");
    assert!(store.set_programme_status("key", "paused").await?);
    assert_eq!(store.programmes().await?[0].status, "paused");
    Ok(())
}

#[tokio::test]
async fn programme_story_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("cx-store-programmes-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}", dir.join("p.db").display());
    let store = cx_store::open(&url).await.expect("opens");
    programme_story(&store).await.expect("story");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn programme_story_on_postgres() {
    common::on_postgres("programmes", async |url: &str| {
        let store = cx_store::open(url).await?;
        programme_story(&store).await?;
        common::close(store).await;
        Ok(())
    })
    .await;
}
