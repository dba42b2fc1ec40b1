//! PostgreSQL: for a team server.

use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::common::impl_store;
use crate::migrate::{POSTGRES, run_migrations};
use crate::server::impl_server_store;
use crate::{Backend, Dialect, InsertCounts, KeyedTransaction, StoreError, redact};

/// A store in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Whether the last batch of transactions held stored keys: the next one
    /// then looks its keys up before copying (a re-import), otherwise it is
    /// copied straight away (new rows). Only a guess of the fastest path;
    /// either path stores each key once.
    stored_keys_seen: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

pub(crate) const DIALECT: Dialect = Dialect {
    placeholder: |n| format!("${n}"),
    json_param: |n| format!("${n}::jsonb"),
    metadata_field: |key| format!("r.metadata->>'{}'", key.replace('\'', "''")),
};

impl PgStore {
    /// Connects to `postgres://…` and migrates the database.
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let open_error = |source| StoreError::Open {
            url: redact(url),
            source,
        };
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(open_error)?;
        run_migrations!(&pool, POSTGRES).map_err(open_error)?;
        let store = PgStore {
            pool,
            stored_keys_seen: Default::default(),
        };
        // An import that dropped it may have stopped before building it again.
        crate::Store::restore_transaction_index(&store).await?;
        Ok(store)
    }

    async fn has_transaction_index(&self) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar("SELECT to_regclass('transactions_account') IS NOT NULL")
            .fetch_one(&self.pool)
            .await
    }

    /// Drops the index of transactions by account (see
    /// [`crate::Store::defer_transaction_index`]), unless the table's lock
    /// cannot be had within two seconds: `DROP INDEX` waits for every query on
    /// the table, and every new query waits behind it, so on a busy server the
    /// import rather keeps the index.
    async fn drop_transaction_index(&self) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("SET LOCAL lock_timeout = '2s'")
            .execute(&mut *tx)
            .await?;
        match sqlx::query("DROP INDEX IF EXISTS transactions_account")
            .execute(&mut *tx)
            .await
        {
            Ok(_) => {
                tx.commit().await?;
                Ok(true)
            }
            // lock_not_available
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The pool, for tests that need to reset a database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl PgStore {
    /// Begins a transaction (the SQLite store's takes its write lock up front;
    /// PostgreSQL's row locks need nothing more).
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    /// The new rows are copied straight into the table, PostgreSQL's fastest
    /// path: after a batch with stored keys (a re-import), the next batch's
    /// keys are looked up first (one index probe per row) and only the others
    /// copied; otherwise the batch is copied as it is. When the copy meets a
    /// stored key — a batch not looked up, or another writer storing the same
    /// key between look-up and copy — it fails on the unique index and the
    /// batch is written again the careful way (a staging table, then `ON
    /// CONFLICT DO NOTHING`).
    async fn bulk_insert_transactions(
        &self,
        batch: Vec<KeyedTransaction>,
        accounts: &std::collections::HashMap<String, cx_core::model::AccountId>,
    ) -> Result<InsertCounts, StoreError> {
        self.insert_transactions_after(batch, accounts, None).await
    }

    /// Stores a batch of transactions as [`crate::Store::insert_linked_transactions`]
    /// does, but commits only once `previous` reports that the batch before it
    /// committed (and stores nothing if that one failed): an import writes two
    /// batches at once and its stored batches still form a prefix of the file.
    /// While it waits, its lock waits give up after a minute, so that a cycle
    /// through another importer of the same rows (which PostgreSQL cannot see,
    /// the wait for `previous` being ours) ends in an error, not a hang.
    pub async fn insert_transactions_after(
        &self,
        batch: Vec<KeyedTransaction>,
        accounts: &std::collections::HashMap<String, cx_core::model::AccountId>,
        mut previous: Option<tokio::sync::oneshot::Receiver<()>>,
    ) -> Result<InsertCounts, StoreError> {
        use std::sync::atomic::Ordering::Relaxed;
        let look_up = self.stored_keys_seen.load(Relaxed);
        match self
            .copy_new_transactions(&batch, accounts, look_up, &mut previous)
            .await
        {
            Err(StoreError::Db(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                self.stored_keys_seen.store(true, Relaxed);
                self.merge_transactions(&batch, accounts, &mut previous)
                    .await
            }
            Ok(counts) => {
                self.stored_keys_seen.store(counts.duplicate > 0, Relaxed);
                Ok(counts)
            }
            failed => failed,
        }
    }

    /// Copies the rows of `batch` (each key once) into the table; with
    /// `look_up`, only those whose keys are not stored.
    async fn copy_new_transactions(
        &self,
        batch: &[KeyedTransaction],
        accounts: &std::collections::HashMap<String, cx_core::model::AccountId>,
        look_up: bool,
        previous: &mut Option<tokio::sync::oneshot::Receiver<()>>,
    ) -> Result<InsertCounts, StoreError> {
        let mut tx = self.begin_write().await?;
        if previous.is_some() {
            sqlx::query("SET LOCAL lock_timeout = '60s'")
                .execute(&mut *tx)
                .await?;
        }
        let known: Vec<String> = if look_up {
            let keys: Vec<&str> = batch.iter().map(|k| k.key.as_str()).collect();
            sqlx::query_scalar("SELECT dedupe_key FROM transactions WHERE dedupe_key = ANY($1)")
                .bind(&keys)
                .fetch_all(&mut *tx)
                .await?
        } else {
            Vec::new()
        };
        let mut skip: std::collections::HashSet<&str> = known.iter().map(String::as_str).collect();
        let mut data = Vec::with_capacity(batch.len() * 96);
        let mut inserted = 0u64;
        for k in batch {
            // insert() is false for a key stored or already in this batch.
            if !skip.insert(k.key.as_str()) {
                continue;
            }
            inserted += 1;
            transaction_csv(&mut data, k, accounts);
        }
        if inserted > 0 {
            copy_csv(
                &mut tx,
                "COPY transactions (dedupe_key, external_id, customer, account_id, date, day, amount_minor, currency, product_line)
                 FROM STDIN (FORMAT csv)",
                data,
            )
            .await?;
        }
        wait_for(previous).await?;
        tx.commit().await?;
        Ok(crate::common::counted(inserted, batch.len() as u64))
    }

    /// COPY into a per-connection staging table, then one INSERT … SELECT that
    /// skips known keys.
    async fn merge_transactions(
        &self,
        batch: &[KeyedTransaction],
        accounts: &std::collections::HashMap<String, cx_core::model::AccountId>,
        previous: &mut Option<tokio::sync::oneshot::Receiver<()>>,
    ) -> Result<InsertCounts, StoreError> {
        let mut tx = self.begin_write().await?;
        if previous.is_some() {
            sqlx::query("SET LOCAL lock_timeout = '60s'")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "CREATE TEMP TABLE IF NOT EXISTS staging_transactions_linked (dedupe_key TEXT, external_id TEXT, customer TEXT,
               account_id BIGINT, date TEXT, day BIGINT, amount_minor BIGINT, currency TEXT, product_line TEXT) ON COMMIT DELETE ROWS",
        )
        .execute(&mut *tx)
        .await?;
        let mut data = Vec::with_capacity(batch.len() * 96);
        for k in batch {
            transaction_csv(&mut data, k, accounts);
        }
        copy_csv(
            &mut tx,
            "COPY staging_transactions_linked FROM STDIN (FORMAT csv)",
            data,
        )
        .await?;
        let done = sqlx::query(
            "INSERT INTO transactions (dedupe_key, external_id, customer, account_id, date, day, amount_minor, currency, product_line)
             SELECT dedupe_key, external_id, customer, account_id, date, day, amount_minor, currency, product_line
             FROM staging_transactions_linked
             ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .execute(&mut *tx)
        .await?;
        wait_for(previous).await?;
        tx.commit().await?;
        Ok(crate::common::counted(
            done.rows_affected(),
            batch.len() as u64,
        ))
    }
}

/// Waits until the batch before this one has committed (see
/// [`PgStore::insert_transactions_after`]).
async fn wait_for(
    previous: &mut Option<tokio::sync::oneshot::Receiver<()>>,
) -> Result<(), StoreError> {
    match previous.take() {
        Some(committed) => committed.await.map_err(|_| {
            StoreError::Invalid("an earlier batch of this import was not stored".into())
        }),
        None => Ok(()),
    }
}

/// Sends `data` (CSV) to a `COPY … FROM STDIN` statement.
async fn copy_csv(
    conn: &mut sqlx::PgConnection,
    statement: &'static str,
    data: Vec<u8>,
) -> Result<(), sqlx::Error> {
    let mut copy = conn.copy_in_raw(statement).await?;
    copy.send(data).await?;
    copy.finish().await?;
    Ok(())
}

/// One transaction as a COPY CSV line, its account looked up in `accounts`.
fn transaction_csv(
    out: &mut Vec<u8>,
    k: &KeyedTransaction,
    accounts: &std::collections::HashMap<String, cx_core::model::AccountId>,
) {
    use std::io::Write;
    let t = &k.transaction;
    csv_text(out, Some(&k.key));
    out.push(b',');
    csv_text(out, t.external_id.as_deref());
    out.push(b',');
    csv_text(out, Some(&t.customer));
    out.push(b',');
    if let Some(a) = accounts.get(&t.customer) {
        let _ = write!(out, "{}", a.0);
    }
    let _ = write!(out, ",{},{},{},", t.date, t.date.days(), t.amount_minor);
    csv_text(out, Some(&t.currency));
    out.push(b',');
    csv_text(out, t.product_line.as_deref());
    out.push(b'\n');
}

/// A CSV field for COPY: quoted text, or nothing for NULL.
fn csv_text(out: &mut Vec<u8>, value: Option<&str>) {
    if let Some(v) = value {
        out.push(b'"');
        for b in v.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    }
}

impl_store!(PgStore, Backend::Postgres, DIALECT);

impl PgStore {
    const INSERT_RESPONSE: &str = "INSERT INTO responses (survey_id, dedupe_key, submitted_at, submitted_day, channel, language, account_id, contact_id, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb) ON CONFLICT (survey_id, dedupe_key) DO NOTHING RETURNING id";
}

impl_server_store!(PgStore, DIALECT);
crate::server::verbatim_sql!(PgStore, DIALECT);
crate::accounts::impl_account_store!(PgStore);
crate::followup::impl_followup_store!(PgStore);
crate::programmes::impl_programme_store!(PgStore);
crate::cube::impl_cube!(PgStore, DIALECT);

#[cfg(test)]
mod tests {
    use super::*;
    use cx_core::model::customer::Transaction;

    fn row(i: i32, customer: &str) -> KeyedTransaction {
        KeyedTransaction {
            key: format!("id:SO{i}:0:1"),
            transaction: Transaction {
                external_id: Some(format!("SO{i}")),
                customer: customer.into(),
                date: cx_core::period::Date::from_days(20_000 + i),
                amount_minor: 100,
                currency: "CNY".into(),
                product_line: None,
            },
        }
    }

    /// The careful path, taken when another writer wins a race or a batch not
    /// looked up holds stored keys, gives the same counts and links as the
    /// fast one (the race itself cannot be staged, so it is called directly
    /// here); and the store switches between copying at once and looking up
    /// first as batches hold stored keys or not.
    #[tokio::test]
    async fn copy_and_merge_paths_skip_stored_keys_and_link_accounts() {
        let base = std::env::var("CXSCORE_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        if base == "skip" {
            return;
        }
        let db = format!("cx_merge_{}", std::process::id());
        let admin = PgStore::open(&base).await.expect("PostgreSQL reachable");
        for sql in [
            format!("DROP DATABASE IF EXISTS {db}"),
            format!("CREATE DATABASE {db}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(admin.pool())
                .await
                .expect("database");
        }
        let url = format!(
            "{}/{db}",
            &base[..base.rfind('/').expect("a database part")]
        );
        let store = PgStore::open(&url).await.expect("opens");
        let account: i64 = sqlx::query_scalar(
            "INSERT INTO accounts (external_id, name) VALUES ('C1', 'a') RETURNING id",
        )
        .fetch_one(store.pool())
        .await
        .expect("account");
        let accounts = std::collections::HashMap::from([(
            "C1".to_string(),
            cx_core::model::AccountId(account),
        )]);
        let first: Vec<_> = (0..3).map(|i| row(i, "C1")).collect();
        let fast = store
            .copy_new_transactions(&first, &accounts, true, &mut None)
            .await
            .expect("copy");
        // Two stored, two new, one of them twice.
        let second = vec![
            row(1, "C1"),
            row(2, "C1"),
            row(3, "C1"),
            row(4, "C2"),
            row(4, "C2"),
        ];
        let merged = store
            .merge_transactions(&second, &accounts, &mut None)
            .await
            .expect("merge");
        let linked: (i64, i64) =
            sqlx::query_as("SELECT COUNT(*), COUNT(account_id) FROM transactions")
                .fetch_one(store.pool())
                .await
                .expect("count");
        // Through the store's entry: new rows are copied without a look-up; a
        // batch of stored keys fails that copy, is merged, and makes the next
        // batch look its keys up; a batch without stored keys ends that.
        use std::sync::atomic::Ordering::Relaxed;
        let mut steps = Vec::new();
        for batch in [
            vec![row(10, "C1"), row(11, "C1")],
            vec![row(10, "C1"), row(11, "C1")],
            vec![row(11, "C1"), row(12, "C1")],
            vec![row(13, "C1")],
            vec![row(12, "C1"), row(14, "C1")],
        ] {
            let c = store
                .bulk_insert_transactions(batch, &accounts)
                .await
                .expect("insert");
            steps.push((
                c.inserted,
                c.duplicate,
                store.stored_keys_seen.load(Relaxed),
            ));
        }
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM transactions")
            .fetch_one(store.pool())
            .await
            .expect("count");
        // A batch written after another commits only once that one has, and
        // stores nothing when that one failed.
        let count = async || -> i64 {
            sqlx::query_scalar("SELECT COUNT(*) FROM transactions")
                .fetch_one(store.pool())
                .await
                .expect("count")
        };
        let (first_done, wait) = tokio::sync::oneshot::channel();
        let waiting = {
            let store = store.clone();
            let accounts = accounts.clone();
            tokio::spawn(async move {
                store
                    .insert_transactions_after(vec![row(20, "C1")], &accounts, Some(wait))
                    .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let before = count().await;
        first_done.send(()).expect("waiting");
        let after_ok = waiting.await.expect("task").expect("stored").inserted;
        let after = count().await;
        let (first_failed, wait) = tokio::sync::oneshot::channel::<()>();
        drop(first_failed);
        let refused = store
            .insert_transactions_after(vec![row(21, "C1")], &accounts, Some(wait))
            .await;
        let after_refused = count().await;
        store.pool().close().await;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db}")))
            .execute(admin.pool())
            .await
            .expect("drop");
        assert_eq!((fast.inserted, fast.duplicate), (3, 0));
        assert_eq!((merged.inserted, merged.duplicate), (2, 3));
        assert_eq!(linked, (5, 4));
        assert_eq!(
            steps,
            vec![
                (2, 0, false),
                (0, 2, true),
                (1, 1, true),
                (1, 0, false),
                (1, 1, true),
            ]
        );
        assert_eq!(total, 10);
        assert_eq!((before, after_ok, after), (10, 1, 11));
        assert!(refused.is_err());
        assert_eq!(after_refused, 11);
    }
}
