//! A big import of linked transactions drops the index of transactions by
//! account and builds it once at the end; a store opened after an import that
//! dropped it and never finished (killed, Ctrl-C) builds it again.

use cx_core::model::customer::{Account, Transaction};
use cx_core::period::Date;
use cx_store::server::ServerStore;
use cx_store::{AnyStore, KeyedTransaction, Store, StoreError};
mod common;

async fn index_present(store: &AnyStore, url: &str) -> bool {
    match store {
        AnyStore::Postgres(pg) => {
            sqlx::query_scalar("SELECT to_regclass('transactions_account') IS NOT NULL")
                .fetch_one(pg.pool())
                .await
                .expect("catalogue")
        }
        AnyStore::Sqlite(_) => {
            let pool = sqlx::SqlitePool::connect(url).await.expect("connects");
            let present = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'transactions_account')",
            )
            .fetch_one(&pool)
            .await
            .expect("catalogue");
            pool.close().await;
            present
        }
    }
}

fn account(code: &str) -> Account {
    Account {
        external_id: code.into(),
        name: format!("客户{code}"),
        industry: None,
        region: None,
        tier: None,
        sales_team: None,
        owner: None,
        since: None,
        until: None,
    }
}

async fn deferred_index_story(url: &str) -> Result<(), StoreError> {
    let store = cx_store::open(url).await?;
    // No accounts: no row would enter the index, nothing to defer.
    assert!(!store.defer_transaction_index(1_000_000).await?);
    store
        .insert_accounts(&[account("C000"), account("C001")])
        .await?;
    // A small import keeps the index.
    assert!(!store.defer_transaction_index(50_000).await?);
    assert!(index_present(&store, url).await);

    assert!(store.defer_transaction_index(1_000_000).await?);
    assert!(!index_present(&store, url).await);
    let accounts = store
        .account_ids(&["C000".to_string(), "C001".to_string()])
        .await?;
    let rows: Vec<KeyedTransaction> = (0..300u16)
        .map(|i| KeyedTransaction {
            key: format!("id:SO{i:05}:0:1"),
            transaction: Transaction {
                external_id: Some(format!("SO{i:05}")),
                customer: format!("C{:03}", i % 3),
                date: Date::from_days(20_000 + i32::from(i)),
                amount_minor: 100,
                currency: "CNY".into(),
                product_line: None,
            },
        })
        .collect();
    let c = store.insert_linked_transactions(rows, &accounts).await?;
    assert_eq!(c.inserted, 300);
    store.restore_transaction_index().await?;
    assert!(index_present(&store, url).await);
    // Built over the rows stored meanwhile: C002 has no account.
    let c0 = store.account_detail("C000", 0).await?.expect("C000");
    let c1 = store.account_detail("C001", 0).await?.expect("C001");
    assert_eq!(
        (c0.transaction_totals, c1.transaction_totals),
        ((100, 10_000), (100, 10_000))
    );
    // Restoring twice is harmless.
    store.restore_transaction_index().await?;

    // Dropped by an import that never finished: the next open builds it.
    assert!(store.defer_transaction_index(1_000_000).await?);
    common::close(store).await;
    let again = cx_store::open(url).await?;
    assert!(index_present(&again, url).await);
    let c0 = again.account_detail("C000", 0).await?.expect("C000");
    assert_eq!(c0.transaction_totals, (100, 10_000));
    common::close(again).await;
    Ok(())
}

#[tokio::test]
async fn deferred_index_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("cx-store-deferred-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}", dir.join("deferred.db").display());
    deferred_index_story(&url).await.expect("story");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn deferred_index_on_postgres() {
    common::on_postgres("deferred", async |url: &str| {
        deferred_index_story(url).await
    })
    .await;
}
