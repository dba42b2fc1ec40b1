//! Writers side by side, as in the server: requests and the programme scheduler
//! write through the same pool at once. A transaction that reads and then
//! writes must wait for the others, never fail with "database is locked".

use cx_core::model::customer::{Account, Contact, Transaction};
use cx_core::model::survey::SurveyDefinition;
use cx_core::period::Date;
use cx_store::server::{Invited, ServerStore};
use cx_store::{AnyStore, InsertCounts, KeyedTransaction, Store, StoreError};
mod common;

const WRITERS: usize = 48;

async fn writers_side_by_side(store: &AnyStore) -> Result<(), StoreError> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/survey.json"
    ))
    .expect("examples/survey.json");
    let def: SurveyDefinition = serde_json::from_str(&text).expect("valid JSON");
    let survey = store.create_survey(&def).await?;
    let account = Account {
        external_id: "C000".into(),
        name: "客户0".into(),
        industry: None,
        region: None,
        tier: None,
        sales_team: None,
        owner: None,
        since: None,
        until: None,
    };
    store.insert_accounts(&[account]).await?;
    let account = store.account_ids(&["C000".into()]).await?["C000"];
    let contacts: Vec<_> = (0..WRITERS)
        .map(|i| {
            (
                account,
                Contact {
                    external_id: format!("P{i:03}"),
                    account: "C000".into(),
                    name: format!("联系人{i}"),
                    role: None,
                    influence: 0.5,
                    email: None,
                    phone: None,
                    time_zone: None,
                },
            )
        })
        .collect();
    store.insert_contacts(&contacts).await?;
    let codes: Vec<String> = contacts
        .iter()
        .map(|(_, c)| c.external_id.clone())
        .collect();
    let ids = store.contact_ids(&codes).await?;
    let today = Date::from_ymd(2026, 12, 1).expect("valid").days();

    // Each invitation first reads the contact's last invitation and answer (the
    // quiet period), then writes: the pattern that a stale read snapshot breaks.
    let tasks: Vec<_> = codes
        .iter()
        .enumerate()
        .map(|(i, code)| {
            let store = store.clone();
            let contact = ids[code];
            tokio::spawn(async move {
                store
                    .create_invitations(survey, &[(contact, format!("hash-{i}"))], 30, today)
                    .await
            })
        })
        .collect();
    for task in tasks {
        let made = task.await.expect("task")?;
        assert!(matches!(made[..], [Invited::Created(_)]), "{made:?}");
    }
    assert_eq!(store.invitation_counts(survey).await?, (WRITERS as u64, 0));

    // The same rows from several importers at once (on PostgreSQL the copy of
    // one of them may meet keys another stored after its look-up, and redo its
    // batch): each row stored once, every other copy counted a duplicate.
    let rows: Vec<KeyedTransaction> = (0..2_000)
        .map(|i| KeyedTransaction {
            key: format!("id:SO{i:05}:0:1"),
            transaction: Transaction {
                external_id: Some(format!("SO{i:05}")),
                customer: "C000".into(),
                date: Date::from_days(20_000 + i % 365),
                amount_minor: 100 * i64::from(i),
                currency: "CNY".into(),
                product_line: None,
            },
        })
        .collect();
    let rows = std::sync::Arc::new(rows);
    let tasks: Vec<_> = (0..6)
        .map(|w| {
            let (store, rows) = (store.clone(), rows.clone());
            tokio::spawn(async move {
                let mut total = InsertCounts::default();
                // Each importer goes through the rows in its own order of chunks.
                for c in 0..4 {
                    let chunk = &rows[((c + w) % 4) * 500..][..500];
                    total += store.insert_transactions(chunk).await?;
                }
                Ok::<_, StoreError>(total)
            })
        })
        .collect();
    let (mut inserted, mut duplicate) = (0, 0);
    for task in tasks {
        let c = task.await.expect("task")?;
        inserted += c.inserted;
        duplicate += c.duplicate;
    }
    assert_eq!((inserted, duplicate), (2_000, 5 * 2_000));
    let counts = store.table_counts().await?.0;
    assert!(counts.contains(&("transactions", 2_000)), "{counts:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_side_by_side_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("cx-store-concurrency-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}", dir.join("c.db").display());
    let store = cx_store::open(&url).await.expect("opens");
    writers_side_by_side(&store).await.expect("all writers");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_side_by_side_on_postgres() {
    common::on_postgres("concurrency", async |url: &str| {
        let store = cx_store::open(url).await?;
        writers_side_by_side(&store).await?;
        common::close(store).await;
        Ok(())
    })
    .await;
}
