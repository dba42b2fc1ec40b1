//! The PostgreSQL side of the store's tests: a fresh database per test at
//! `CXSCORE_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/test`),
//! dropped afterwards. `CXSCORE_TEST_PG=skip` skips it on a machine without
//! PostgreSQL — CI never does.

#![allow(dead_code)]

use cx_store::{AnyStore, StoreError};

/// Runs `story` against a new PostgreSQL database named after `name`, and drops it.
pub async fn on_postgres<F>(name: &str, story: F)
where
    F: AsyncFnOnce(&str) -> Result<(), StoreError>,
{
    let base = std::env::var("CXSCORE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    if base == "skip" {
        eprintln!("CXSCORE_TEST_PG=skip: PostgreSQL part of {name} skipped");
        return;
    }
    let db = format!("cx_{name}_{}", std::process::id());
    let admin = cx_store::PgStore::open(&base)
        .await
        .expect("PostgreSQL reachable (set CXSCORE_TEST_PG)");
    for sql in [
        format!("DROP DATABASE IF EXISTS {db}"),
        format!("CREATE DATABASE {db}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(admin.pool())
            .await
            .expect("database");
    }
    let url = match base.rfind('/') {
        Some(i) => format!("{}/{db}", &base[..i]),
        None => panic!("CXSCORE_TEST_PG has no database part"),
    };
    let result = story(&url).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db}")))
        .execute(admin.pool())
        .await
        .expect("drop");
    result.expect("the PostgreSQL story");
}

/// Closes a PostgreSQL store's connections (so its database can be dropped).
pub async fn close(store: AnyStore) {
    if let AnyStore::Postgres(pg) = store {
        pg.pool().close().await;
    }
}
