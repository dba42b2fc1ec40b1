//! The conformance story: the same script against SQLite and PostgreSQL.
//!
//! PostgreSQL is reached at `CXSCORE_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/test`); each run creates its own
//! database there and drops it afterwards. Set `CXSCORE_TEST_PG=skip` to skip
//! it on a machine without PostgreSQL — CI never does.

use std::collections::HashMap;

use cx_core::model::customer::{
    Account, Assessment, Contact, ContactRole, FeedbackItem, FeedbackSource, Transaction,
};
use cx_core::model::survey::{AnswerValue, SurveyDefinition};
use cx_core::period::{Date, Interval, TimeFilter};
use cx_core::survey::Disclosure;
use cx_core::survey::ces::CesDirection;
use cx_core::survey::group::{DimensionSpec, GroupAccumulator, MetricsSpec};
use cx_core::survey::report::{BucketStats, build_report};
use cx_core::survey::scale::Scale;
use cx_store::metrics::{SurveyMetricsRequest, survey_metrics};
use cx_store::server::{Invited, ServerStore, Submission, Submitted, VerbatimQuery};
mod common;

use cx_store::{
    AnyStore, KeyedFeedback, KeyedTransaction, NewResponse, ResponseSlice, Store, StoreError,
};

fn survey() -> SurveyDefinition {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/survey.json"
    ))
    .expect("examples/survey.json");
    serde_json::from_str(&text).expect("valid JSON")
}

fn date(y: i32, m: u32, d: u32) -> Date {
    Date::from_ymd(y, m, d).expect("valid")
}

/// Deterministic responses: 240 over two quarters and three regions.
fn responses() -> Vec<NewResponse> {
    let regions = ["华东", "华南", "North America"];
    (0..240_i64)
        .map(|i| {
            let on = date(2026, 1, 1).add_days((i * 3 % 180) as i32);
            let mut metadata = serde_json::Map::new();
            metadata.insert("region".into(), regions[(i % 3) as usize].into());
            metadata.insert(
                "product_line".into(),
                if i % 2 == 0 { "云服务" } else { "Hardware" }.into(),
            );
            let mut answers = vec![("nps".to_string(), AnswerValue::Score((i * 7) % 11))];
            if i % 5 != 0 {
                answers.push(("csat".into(), AnswerValue::Score(1 + (i * 3) % 5)));
            }
            answers.push(("ces".into(), AnswerValue::Score(1 + (i * 5) % 7)));
            answers.push((
                "product_quality".into(),
                AnswerValue::Score(1 + (i * 2) % 5),
            ));
            if i % 4 != 1 {
                answers.push(("price".into(), AnswerValue::Score(1 + (i * 11) % 5)));
            }
            // A third praise, a third complaints, a third no opinion.
            let comment = ["服务很好，非常满意", "物流太慢了，很失望", "无"][(i % 3) as usize];
            answers.push(("comment".into(), AnswerValue::Text(comment.into())));
            NewResponse {
                dedupe_key: format!("R{i:04}"),
                submitted_at: format!("{on}T08:00:00Z"),
                submitted_on: on,
                channel: if i % 3 == 0 { "email" } else { "web" }.into(),
                language: Some(if i % 2 == 0 { "zh" } else { "en" }.into()),
                account: None,
                contact: None,
                metadata,
                answers,
            }
        })
        .collect()
}

fn spec() -> MetricsSpec {
    let five = Scale::one_to(5).expect("valid");
    MetricsSpec {
        nps: true,
        csat: Some(five),
        ces: Some((
            Scale::one_to(7).expect("valid"),
            CesDirection::HigherIsEasier,
        )),
        sentiment: false,
        dims: vec![
            DimensionSpec {
                name: "product_quality".into(),
                scale: five,
            },
            DimensionSpec {
                name: "price".into(),
                scale: five,
            },
        ],
        weights: vec![],
        disclosure: Disclosure::default(),
    }
}

/// The report computed in memory from the same responses: what push-down must equal.
fn expected_report(
    rows: &[NewResponse],
    time: &TimeFilter,
) -> cx_core::survey::report::MetricsReport {
    let spec = spec();
    let questions = ["nps", "csat", "ces", "product_quality", "price"];
    let mut buckets = Vec::new();
    for r in rows {
        let Some(bucket) = time.bucket(r.submitted_on) else {
            continue;
        };
        let mut acc = GroupAccumulator::new(&spec);
        let values: Vec<Option<i64>> = questions
            .iter()
            .map(|q| {
                r.answers
                    .iter()
                    .find(|(id, _)| id == q)
                    .and_then(|(_, v)| match v {
                        AnswerValue::Score(s) => Some(*s),
                        _ => None,
                    })
            })
            .collect();
        acc.record(&values);
        let region = r.metadata["region"].as_str().expect("region").to_string();
        buckets.push(BucketStats {
            key: vec![region],
            bucket,
            stats: acc,
        });
    }
    build_report(&spec, &["region".to_string()], time, buckets, Vec::new())
}

async fn story(store: &AnyStore) -> Result<(), StoreError> {
    // Surveys: create, refuse a second with the same slug, find by id and slug.
    let def = survey();
    let id = store.create_survey(&def).await?;
    assert!(matches!(
        store.create_survey(&def).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.survey(&id.to_string()).await?.definition, def);
    assert_eq!(store.survey("relationship-2026").await?.id, id);
    assert!(matches!(
        store.survey("nope").await,
        Err(StoreError::NotFound(_))
    ));
    let mut bad = def.clone();
    bad.slug = "Not A Slug".into();
    assert!(matches!(
        store.create_survey(&bad).await,
        Err(StoreError::Invalid(_))
    ));

    // Accounts and contacts: a second import adds nothing.
    let accounts: Vec<Account> = (0..3)
        .map(|i| Account {
            external_id: format!("C{i:03}"),
            name: format!("客户{i}"),
            industry: Some("制造".into()),
            region: Some("华东".into()),
            tier: (i == 0).then(|| "key".to_string()),
            sales_team: None,
            owner: None,
            since: Some(date(2024, 1, 1)),
            until: None,
        })
        .collect();
    let c = store.insert_accounts(&accounts).await?;
    assert_eq!((c.inserted, c.duplicate), (3, 0));
    let c = store.insert_accounts(&accounts).await?;
    assert_eq!((c.inserted, c.duplicate), (0, 3));
    let ids = store
        .account_ids(&["C000".into(), "C002".into(), "C999".into()])
        .await?;
    assert_eq!(ids.len(), 2);
    let contact = Contact {
        external_id: "P001".into(),
        account: "C000".into(),
        name: "王经理".into(),
        role: Some(ContactRole::DecisionMaker),
        influence: 0.9,
        email: None,
        phone: None,
        time_zone: None,
    };
    let c = store
        .insert_contacts(&[(ids["C000"], contact.clone())])
        .await?;
    assert_eq!(c.inserted, 1);
    let contacts = store.contact_ids(&["P001".into()]).await?;
    let assessment = Assessment {
        contact: "P001".into(),
        period: "2026-Q1".into(),
        ratings: [Some(2), Some(1), Some(0), Some(-1), None, Some(2), Some(-2)],
    };
    let c = store
        .insert_assessments(&[(contacts["P001"], assessment.clone())])
        .await?;
    assert_eq!(c.inserted, 1);
    let c = store
        .insert_assessments(&[(contacts["P001"], assessment)])
        .await?;
    assert_eq!(c.duplicate, 1);

    // Transactions in multi-row chunks, with and without a known account.
    let transactions: Vec<KeyedTransaction> = (0..1234)
        .map(|i| KeyedTransaction {
            key: format!("T{i}"),
            transaction: Transaction {
                external_id: Some(format!("SO-{i}")),
                customer: format!("C{:03}", i % 5),
                date: date(2025, 1, 1).add_days(i % 600),
                amount_minor: 1_280_000 + i64::from(i),
                currency: "CNY".into(),
                product_line: Some("云服务".into()),
            },
        })
        .collect();
    let c = store.insert_transactions(&transactions).await?;
    assert_eq!((c.inserted, c.duplicate), (1234, 0));
    let c = store.insert_transactions(&transactions[..600]).await?;
    assert_eq!((c.inserted, c.duplicate), (0, 600));
    // Stored rows, a new one and the new one again in one batch: stored once.
    let mut mixed = transactions[1200..].to_vec();
    let mut fresh = transactions[0].clone();
    fresh.key = "T-new".into();
    mixed.push(fresh.clone());
    mixed.push(fresh);
    let c = store.insert_transactions(&mixed).await?;
    assert_eq!((c.inserted, c.duplicate), (1, 35));
    // Accounts looked up by the caller (as an import does, once per customer):
    // a customer in the map is linked, one not in it is not.
    let linked: Vec<KeyedTransaction> = ["C000", "C001"]
        .iter()
        .enumerate()
        .map(|(i, customer)| {
            let mut t = transactions[i].clone();
            t.key = format!("L{i}");
            t.transaction.customer = (*customer).into();
            t
        })
        .collect();
    let known = HashMap::from([("C000".to_string(), ids["C000"])]);
    let before = store.account_detail("C000", 0).await?.expect("C000");
    let c = store.insert_linked_transactions(linked, &known).await?;
    assert_eq!(c.inserted, 2);
    let after = store.account_detail("C000", 0).await?.expect("C000");
    assert_eq!(after.transaction_totals.0, before.transaction_totals.0 + 1);
    let feedback = KeyedFeedback {
        key: "F1".into(),
        item: FeedbackItem {
            account: Some("C001".into()),
            source: FeedbackSource::Complaint,
            date: date(2026, 2, 3),
            text: "发货太慢".into(),
        },
    };
    assert_eq!(
        store
            .insert_feedback(&[feedback.clone(), feedback])
            .await?
            .inserted,
        1
    );

    // An account stored after its transactions links them; a changed account is updated.
    let before = store.purchases(Some("region")).await?;
    assert!(
        before
            .iter()
            .filter(|p| p.customer == "C003")
            .all(|p| p.slice.is_empty())
    );
    let mut late = accounts[0].clone();
    late.external_id = "C003".into();
    let mut lost = accounts[0].clone();
    lost.until = Some(date(2026, 5, 1));
    let c = store
        .insert_accounts(&[late, lost.clone(), accounts[1].clone()])
        .await?;
    assert_eq!((c.inserted, c.updated, c.duplicate), (1, 1, 1));
    let after = store.purchases(Some("region")).await?;
    assert!(
        after
            .iter()
            .filter(|p| p.customer == "C003")
            .all(|p| p.slice == "华东")
    );
    let lifecycles = store.account_lifecycles(None).await?;
    assert!(
        lifecycles
            .iter()
            .any(|(code, _, until, _)| code == "C000" && *until == lost.until)
    );

    // Responses with answers; a re-import adds nothing.
    let rows = responses();
    let c = store.insert_responses(id, &rows).await?;
    assert_eq!((c.inserted, c.duplicate), (240, 0));
    let c = store.insert_responses(id, &rows[..50]).await?;
    assert_eq!((c.inserted, c.duplicate), (0, 50));
    assert_eq!(store.survey(&id.to_string()).await?.responses, 240);

    let counts: HashMap<&str, u64> = store.table_counts().await?.0.into_iter().collect();
    assert_eq!(counts["responses"], 240);
    // 1,234 in chunks, one new in the mixed batch, two with their accounts looked up.
    assert_eq!(counts["transactions"], 1237);
    assert_eq!(counts["accounts"], 4);

    // Push-down metrics equal the in-memory computation, by region and quarter.
    for time in [
        TimeFilter::new(None, None, None, false).expect("valid"),
        TimeFilter::new(Some(Interval::Quarter), None, None, true).expect("valid"),
        TimeFilter::new(None, Some(date(2026, 4, 1)), Some(date(2026, 5, 31)), true)
            .expect("valid"),
    ] {
        let request = SurveyMetricsRequest {
            spec: spec(),
            slot_questions: ["nps", "csat", "ces", "product_quality", "price"]
                .map(String::from)
                .to_vec(),
            slice: ResponseSlice {
                survey: id,
                by: vec!["region".into()],
                filters: vec![],
                collapse: None,
            },
            time,
        };
        let got = survey_metrics(store, &request).await?;
        assert_eq!(got, expected_report(&rows, &time));
    }
    // Filters and grouping by a response column.
    let request = SurveyMetricsRequest {
        spec: spec(),
        slot_questions: ["nps", "csat", "ces", "product_quality", "price"]
            .map(String::from)
            .to_vec(),
        slice: ResponseSlice {
            survey: id,
            by: vec!["channel".into()],
            filters: vec![("region".into(), vec!["华东".into(), "华南".into()])],
            collapse: None,
        },
        time: TimeFilter::new(None, None, None, false).expect("valid"),
    };
    let got = survey_metrics(store, &request).await?;
    assert_eq!(got.overall.n, 160);
    assert_eq!(got.groups.len(), 2);
    let bad = ResponseSlice {
        survey: id,
        by: vec!["re'gion".into()],
        filters: vec![],
        collapse: None,
    };
    assert!(matches!(
        store.day_rows(&bad).await,
        Err(StoreError::Invalid(_))
    ));
    text_story(store, id).await?;
    server_story(store).await
}

/// Open-text answers and feedback are analysed when stored; push-down counts
/// their polarity; `reanalyze` goes over all of them again.
async fn text_story(store: &AnyStore, id: cx_core::model::SurveyId) -> Result<(), StoreError> {
    use cx_store::ScoreColumn;
    let slice = ResponseSlice {
        survey: id,
        by: vec!["region".into()],
        filters: vec![],
        collapse: None,
    };
    let mut counts: HashMap<i64, u64> = HashMap::new();
    for s in store
        .day_scores(&slice, "comment", ScoreColumn::Sentiment)
        .await?
    {
        *counts.entry(s.value).or_default() += s.count;
    }
    assert_eq!(counts, HashMap::from([(1, 80), (-1, 80), (0, 80)]));
    // The same through the metrics: shares with their intervals.
    let mut spec = spec();
    spec.sentiment = true;
    let request = SurveyMetricsRequest {
        spec,
        slot_questions: ["nps", "csat", "ces", "comment", "product_quality", "price"]
            .map(String::from)
            .to_vec(),
        slice: slice.clone(),
        time: TimeFilter::new(None, None, None, false).expect("valid"),
    };
    let report = survey_metrics(store, &request).await?;
    let s = report.overall.sentiment.expect("sentiment requested");
    assert_eq!((s.n, s.positive, s.neutral, s.negative), (240, 80, 80, 80));
    assert!((s.positive_pct.expect("shown") - 100.0 / 3.0).abs() < 1e-9);
    // Every text again: 240 answers and the one feedback item.
    let report = cx_store::text::reanalyze(store, &|_| {}).await?;
    assert_eq!((report.answers, report.feedback), (240, 1));
    let feedback = store.feedback_texts(0, 10).await?;
    assert_eq!(feedback.len(), 1);
    assert_eq!(feedback[0].1, "发货太慢");
    assert_eq!(cx_store::analyze_text(&feedback[0].1).sentiment, -1);
    // Listed with its analysis, by polarity, topic and text.
    use cx_store::server::FeedbackQuery;
    let q = FeedbackQuery {
        sentiment: Some(-1),
        topic: Some("delivery".into()),
        ..FeedbackQuery::default()
    };
    let items = store.feedback_items(&q, 10).await?;
    assert_eq!(items.len(), 1);
    assert_eq!(
        (items[0].lang.as_deref(), items[0].sentiment),
        (Some("zh"), Some(-1))
    );
    assert!(items[0].score.is_some_and(|s| s < 0.0));
    let q = FeedbackQuery {
        sentiment: Some(1),
        ..FeedbackQuery::default()
    };
    assert!(store.feedback_items(&q, 10).await?.is_empty());
    let q = FeedbackQuery {
        search: Some("发货".into()),
        source: Some("complaint".into()),
        ..FeedbackQuery::default()
    };
    assert_eq!(store.feedback_items(&q, 10).await?.len(), 1);
    Ok(())
}

/// What the server keeps: group submissions, idempotency, invitations, users,
/// sessions, tokens, survey changes.
async fn server_story(store: &AnyStore) -> Result<(), StoreError> {
    let mut def = survey();
    def.slug = "server-story".into();
    let id = store.create_survey(&def).await?;
    let contact = store.contact_ids(&["P001".into()]).await?["P001"];
    let account = store.account_ids(&["C000".into()]).await?["C000"];
    let response = |key: &str, nps: i64| NewResponse {
        dedupe_key: key.into(),
        submitted_at: "2026-11-23T08:00:00Z".into(),
        submitted_on: date(2026, 11, 23),
        channel: "web".into(),
        language: Some("zh".into()),
        account: None,
        contact: None,
        metadata: serde_json::Map::new(),
        answers: vec![
            ("nps".into(), AnswerValue::Score(nps)),
            ("comment".into(), AnswerValue::Text("很好, \"fast\"".into())),
        ],
    };
    // A group: two new, one repeating the first key.
    let out = store
        .submit(&[
            Submission {
                survey: id,
                response: response("k1", 9),
                invitation: None,
                texts: Vec::new(),
            },
            Submission {
                survey: id,
                response: response("k2", 3),
                invitation: None,
                texts: Vec::new(),
            },
            Submission {
                survey: id,
                response: response("k1", 9),
                invitation: None,
                texts: Vec::new(),
            },
        ])
        .await?;
    let (Submitted::Stored(a), Submitted::Stored(b)) = (out[0], out[1]) else {
        panic!("expected two stored, got {out:?}");
    };
    assert_ne!(a, b);
    assert_eq!(out[2], Submitted::Duplicate(a));
    assert_eq!(
        store
            .submit(&[Submission {
                survey: id,
                response: response("k2", 3),
                invitation: None,
                texts: Vec::new(),
            }])
            .await?,
        vec![Submitted::Duplicate(b)]
    );

    // Invitations: one per contact, one response per invitation; the quiet period.
    let today = date(2026, 11, 23).days();
    let made = store
        .create_invitations(id, &[(contact, "hash-1".into())], 30, today)
        .await?;
    let Invited::Created(inv) = made[0] else {
        panic!("{made:?}")
    };
    let again = store
        .create_invitations(id, &[(contact, "hash-2".into())], 30, today + 10)
        .await?;
    assert_eq!(again, vec![Invited::Skipped { last_day: today }]);
    let later = store
        .create_invitations(id, &[(contact, "hash-3".into())], 30, today + 31)
        .await?;
    assert!(matches!(later[0], Invited::Created(_)));
    let found = store.invitation("hash-1").await?.expect("found");
    assert_eq!(
        (
            found.id,
            found.survey,
            found.contact,
            found.account,
            found.used
        ),
        (inv, id, contact, Some(account), false)
    );
    assert_eq!(store.invitation("hash-2").await?, None);
    assert_eq!(
        found.account_fields,
        vec![("region", "华东".to_string()), ("tier", "key".to_string())]
    );
    let mut invited = response("k3", 10);
    invited.contact = Some(contact);
    invited.account = Some(account);
    let out = store
        .submit(&[
            Submission {
                survey: id,
                response: invited.clone(),
                invitation: Some(inv),
                texts: Vec::new(),
            },
            Submission {
                survey: id,
                response: response("k4", 10),
                invitation: Some(inv),
                texts: Vec::new(),
            },
        ])
        .await?;
    let Submitted::Stored(c) = out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(out[1], Submitted::AlreadyAnswered);
    // The same submission retried is found, not refused.
    assert_eq!(
        store
            .submit(&[Submission {
                survey: id,
                response: invited,
                invitation: Some(inv),
                texts: Vec::new(),
            }])
            .await?,
        vec![Submitted::Duplicate(c)]
    );
    assert!(store.invitation("hash-1").await?.expect("found").used);
    assert_eq!(store.invitation_counts(id).await?, (2, 1));

    // The definition alone, by id or slug, without counting.
    let d = store.survey_definition("server-story").await?;
    assert_eq!((d.id, d.responses), (id, 0));
    assert_eq!(
        store.survey_definition(&id.to_string()).await?.definition,
        def
    );
    assert!(matches!(
        store.survey_definition("nope").await,
        Err(StoreError::NotFound(_))
    ));

    // Listing, paged, with answers and codes.
    let all = store.responses_after(id, 0, 10).await?;
    assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), vec![a, b, c]);
    assert_eq!(all[2].contact.as_deref(), Some("P001"));
    assert_eq!(all[2].account.as_deref(), Some("C000"));
    assert_eq!(all[0].answers.len(), 2);
    assert!(all[0].answers.contains(&("nps".into(), Some(9), None)));
    assert_eq!(store.responses_after(id, a, 1).await?.len(), 1);
    assert_eq!(store.responses_after(id, c, 10).await?.len(), 0);

    // Verbatims with their ratings: search (any case, Chinese too, wildcards literal),
    // score ranges, counts per score; the score matrix for driver analysis.
    let vq = |search: Option<&str>, scores: Option<(i64, i64)>| VerbatimQuery {
        slice: ResponseSlice {
            survey: id,
            by: vec![],
            filters: vec![],
            collapse: None,
        },
        days: (None, None),
        text_question: "comment".into(),
        score_question: Some("nps".into()),
        search: search.map(String::from),
        scores,
    };
    let (list, total) = store.verbatims(&vq(None, None), 2, 0).await?;
    assert_eq!(total, 3);
    assert_eq!(
        list.iter().map(|v| (v.id, v.score)).collect::<Vec<_>>(),
        vec![(c, Some(10)), (b, Some(3))]
    );
    assert_eq!(list[0].account.as_deref(), Some("客户0"));
    assert_eq!(list[0].text, "很好, \"fast\"");
    assert_eq!(store.verbatims(&vq(None, None), 2, 2).await?.0.len(), 1);
    for (search, n) in [("FAST", 3), ("很好", 3), ("slow", 0), ("%", 0), ("_", 0)] {
        assert_eq!(
            store.verbatims(&vq(Some(search), None), 10, 0).await?.1,
            n,
            "{search}"
        );
    }
    assert_eq!(store.verbatims(&vq(None, Some((0, 6))), 10, 0).await?.1, 1);
    let mut scores = store.verbatim_scores(&vq(None, None)).await?;
    scores.sort();
    assert_eq!(scores, vec![(Some(3), 1), (Some(9), 1), (Some(10), 1)]);
    let mut filtered = vq(None, None);
    filtered.slice.filters = vec![("region".into(), vec!["华东".into()])];
    assert_eq!(store.verbatims(&filtered, 10, 0).await?.1, 0);
    let all_days = (None, None);
    let matrix = store
        .answer_matrix(&filtered.slice, all_days, &["nps".into()], 100)
        .await?;
    assert!(matrix.is_empty());
    let matrix = store
        .answer_matrix(
            &vq(None, None).slice,
            all_days,
            &["nps".into(), "comment".into()],
            100,
        )
        .await?;
    assert_eq!(
        matrix,
        vec![
            vec![Some(10), None],
            vec![Some(3), None],
            vec![Some(9), None]
        ]
    );
    let recent = store
        .answer_matrix(&vq(None, None).slice, all_days, &["nps".into()], 1)
        .await?;
    assert_eq!(recent, vec![vec![Some(10)]]);
    let window = (Some(date(2026, 11, 24).days()), None);
    assert!(
        store
            .answer_matrix(&vq(None, None).slice, window, &["nps".into()], 100)
            .await?
            .is_empty()
    );

    // Accounts with their survey figures and revenue, by revenue; search and tier.
    let all = store.account_summaries(id, "nps", None, None, 100).await?;
    assert!(all.len() >= 3);
    assert!(all.windows(2).all(|w| w[0].revenue >= w[1].revenue));
    let c0 = all.iter().find(|a| a.code == "C000").expect("C000");
    assert_eq!((c0.responses, c0.nps), (1, (1, 0, 1)));
    assert_eq!(c0.last_response.as_deref(), Some("2026-11-23T08:00:00Z"));
    assert_eq!((c0.tier.as_str(), c0.region.as_str()), ("key", "华东"));
    let found = store
        .account_summaries(id, "nps", Some("c000"), None, 100)
        .await?;
    assert_eq!(
        found.iter().map(|a| a.code.as_str()).collect::<Vec<_>>(),
        vec!["C000"]
    );
    let by_name = store
        .account_summaries(id, "nps", Some("客户1"), None, 100)
        .await?;
    assert_eq!(
        by_name.iter().map(|a| a.code.as_str()).collect::<Vec<_>>(),
        vec!["C001"]
    );
    let key = store
        .account_summaries(id, "nps", None, Some("key"), 100)
        .await?;
    assert!(key.iter().all(|a| a.tier == "key") && !key.is_empty());
    assert!(
        store
            .account_summaries(id, "nps", Some("%"), None, 100)
            .await?
            .is_empty()
    );

    // One account with its people and history.
    let detail = store.account_detail("C000", 10).await?.expect("C000");
    assert_eq!(
        &detail.fields[..3],
        &["C000".to_string(), "客户0".into(), "制造".into()]
    );
    assert_eq!(detail.contacts[0].0, "P001");
    assert!((detail.contacts[0].3 - 0.9).abs() < 1e-12);
    let (at, slug, _, answers) = &detail.responses[0];
    assert_eq!(
        (at.as_str(), slug.as_str()),
        ("2026-11-23T08:00:00Z", "server-story")
    );
    assert!(answers.contains(&("nps".into(), Some(10), None)));
    assert!(detail.transaction_totals.0 as usize >= detail.transactions.len());
    assert_eq!(store.account_detail("NOPE", 10).await?, None);

    // Survey changes: update, slug conflicts, no deleting a survey with responses.
    let mut changed = def.clone();
    changed.title.en = Some("Changed".into());
    store.update_survey(id, &changed).await?;
    assert_eq!(
        store
            .survey("server-story")
            .await?
            .definition
            .title
            .en
            .as_deref(),
        Some("Changed")
    );
    changed.slug = "relationship-2026".into();
    assert!(matches!(
        store.update_survey(id, &changed).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.delete_survey(id).await,
        Err(StoreError::Conflict(_))
    ));
    let mut empty = def.clone();
    empty.slug = "to-delete".into();
    let gone = store.create_survey(&empty).await?;
    store
        .create_invitations(gone, &[(contact, "hash-9".into())], 0, today)
        .await?;
    store.delete_survey(gone).await?;
    assert!(matches!(
        store.survey("to-delete").await,
        Err(StoreError::NotFound(_))
    ));

    // Users, sessions, tokens.
    let uid = store.create_user("li", "$argon2id$x", "analyst").await?;
    assert!(matches!(
        store.create_user("li", "y", "viewer").await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.user_by_name("li").await?.expect("user").role,
        "analyst"
    );
    assert_eq!(store.user_by_name("nobody").await?, None);
    assert_eq!(store.user_count().await?, 1);
    store.create_session("s1", uid, "csrf1", 1000).await?;
    assert_eq!(store.session("s1", 999).await?.expect("live").1, "csrf1");
    assert_eq!(store.session("s1", 1000).await?, None);
    store.create_session("s2", uid, "csrf2", 5000).await?;
    store.delete_session("s2", 0).await?;
    assert_eq!(store.session("s2", 1).await?, None);
    let tid = store.create_token(uid, "t-hash", "read").await?;
    assert_eq!(store.token_user("t-hash").await?.expect("token").1, "read");
    assert!(store.revoke_token(tid).await?);
    assert!(!store.revoke_token(tid).await?);
    assert_eq!(store.token_user("t-hash").await?, None);
    assert!(store.tokens().await?[0].revoked_at.is_some());
    Ok(())
}

#[tokio::test]
async fn story_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("cx-store-story-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}", dir.join("story.db").display());
    let store = cx_store::open(&url).await.expect("opens");
    story(&store).await.expect("story");
    // Opening again finds the schema in place.
    let again = cx_store::open(&url).await.expect("reopens");
    assert_eq!(again.surveys().await.expect("lists").len(), 2);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn story_on_postgres() {
    common::on_postgres("story", async |url: &str| {
        let store = cx_store::open(url).await?;
        story(&store).await?;
        let again = cx_store::open(url).await?;
        assert_eq!(again.surveys().await?.len(), 2);
        common::close(again).await;
        common::close(store).await;
        Ok(())
    })
    .await;
}

/// The account page's query finds an account's transactions through the
/// partial index that leaves unlinked transactions out.
#[tokio::test]
async fn account_transactions_use_the_linked_index_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("cx-store-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}", dir.join("plan.db").display());
    cx_store::open(&url).await.expect("opens");
    let pool = sqlx::SqlitePool::connect(&url).await.expect("connects");
    // EXPLAIN QUERY PLAN rows: (id, parent, notused, detail).
    let plan: Vec<String> = sqlx::query(
        "EXPLAIN QUERY PLAN SELECT date, external_id FROM transactions
         WHERE account_id = 7 ORDER BY day DESC, id DESC LIMIT 20",
    )
    .fetch_all(&pool)
    .await
    .expect("plan")
    .iter()
    .map(|r| sqlx::Row::get::<String, _>(r, 3))
    .collect();
    pool.close().await;
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        plan.iter()
            .any(|d| d.contains("INDEX transactions_account")),
        "{plan:?}"
    );
}
