//! SQLite: the embedded default. One file, WAL journal, foreign keys on.

use std::str::FromStr;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::common::impl_store;
use crate::migrate::{SQLITE, run_migrations};
use crate::server::impl_server_store;
use crate::{Backend, Dialect, InsertCounts, KeyedTransaction, StoreError, redact};

/// A store in a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

pub(crate) const DIALECT: Dialect = Dialect {
    placeholder: |_| "?".to_string(),
    json_param: |n| format!("${n}"),
    metadata_field: |key| {
        format!(
            "json_extract(r.metadata, '$.\"{}\"')",
            key.replace('\'', "''")
        )
    },
};

impl SqliteStore {
    /// Opens `sqlite://FILE` (created if missing) or `sqlite::memory:`, and migrates it.
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let open_error = |source| StoreError::Open {
            url: redact(url),
            source,
        };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(open_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Durable before acknowledged: with WAL, NORMAL can lose the last
            // transactions on power loss; FULL cannot.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10))
            // 64 MiB of page cache per connection keeps the unique-key index of
            // a big import in memory.
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory")
            // Connections share the operating system's cache of the file instead
            // of each warming its own page cache (a cold connection read 1M
            // responses three times slower).
            .pragma("mmap_size", "1073741824");
        let in_memory = url.contains(":memory:");
        let pool = SqlitePoolOptions::new()
            // An in-memory database exists once per connection: keep exactly one.
            .max_connections(if in_memory { 1 } else { 4 })
            .connect_with(options)
            .await
            .map_err(open_error)?;
        run_migrations!(&pool, SQLITE).map_err(open_error)?;
        let store = SqliteStore { pool };
        // An import that dropped it may have stopped before building it again.
        crate::Store::restore_transaction_index(&store).await?;
        Ok(store)
    }

    async fn has_transaction_index(&self) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'transactions_account')",
        )
        .fetch_one(&self.pool)
        .await
    }

    /// Drops the index of transactions by account (see [`crate::Store::defer_transaction_index`]).
    async fn drop_transaction_index(&self) -> Result<bool, StoreError> {
        sqlx::query("DROP INDEX IF EXISTS transactions_account")
            .execute(&self.pool)
            .await?;
        Ok(true)
    }
}

impl SqliteStore {
    /// Begins a transaction that takes the write lock at once (`BEGIN
    /// IMMEDIATE`). A deferred one that reads, then writes after another
    /// connection committed fails with "database is locked" at once: its
    /// snapshot is stale and the busy timeout cannot help. Taken up front, the
    /// lock is waited for (busy timeout) like any other.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// Multi-row inserts of up to 256 rows with anonymous `?` parameters, all in
    /// one transaction; the rows' strings are bound as they are (moved, not
    /// copied). The next statement is bound while SQLite runs this one (on the
    /// connection's own thread): otherwise the two take turns.
    async fn bulk_insert_transactions(
        &self,
        batch: Vec<KeyedTransaction>,
        accounts: &std::collections::HashMap<String, cx_core::model::AccountId>,
    ) -> Result<InsertCounts, StoreError> {
        let mut counts = InsertCounts::default();
        let mut tx = self.begin_write().await?;
        let mut rows = batch.into_iter().peekable();
        let mut next = insert_statement(&mut rows, accounts);
        while let Some((statement, attempted)) = next {
            let (done, following) = tokio::join!(statement.execute(&mut *tx), async {
                insert_statement(&mut rows, accounts)
            });
            counts += crate::common::counted(done?.rows_affected(), attempted);
            next = following;
        }
        tx.commit().await?;
        Ok(counts)
    }
}

impl_store!(SqliteStore, Backend::Sqlite, DIALECT);

impl SqliteStore {
    const INSERT_RESPONSE: &str = "INSERT INTO responses (survey_id, dedupe_key, submitted_at, submitted_day, channel, language, account_id, contact_id, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (survey_id, dedupe_key) DO NOTHING RETURNING id";
}

impl_server_store!(SqliteStore, DIALECT);
crate::server::verbatim_sql!(SqliteStore, DIALECT);
crate::accounts::impl_account_store!(SqliteStore);
crate::followup::impl_followup_store!(SqliteStore);
crate::programmes::impl_programme_store!(SqliteStore);
crate::cube::impl_cube!(SqliteStore, DIALECT);

/// The next up to 256 of `rows` as one bound `INSERT` (and how many rows it has).
fn insert_statement(
    rows: &mut std::iter::Peekable<std::vec::IntoIter<KeyedTransaction>>,
    accounts: &std::collections::HashMap<String, cx_core::model::AccountId>,
) -> Option<(
    sqlx::query::Query<'static, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    u64,
)> {
    rows.peek()?;
    let chunk: Vec<KeyedTransaction> = rows.by_ref().take(256).collect();
    let mut sql = String::from(
        "INSERT INTO transactions (dedupe_key, external_id, customer, account_id, date, day, amount_minor, currency, product_line) VALUES ",
    );
    for i in 0..chunk.len() {
        sql.push_str(if i == 0 {
            "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
        } else {
            ",(?, ?, ?, ?, ?, ?, ?, ?, ?)"
        });
    }
    sql.push_str(" ON CONFLICT (dedupe_key) DO NOTHING");
    let attempted = chunk.len() as u64;
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for k in chunk {
        let t = k.transaction;
        let account = accounts.get(&t.customer).map(|a| a.0);
        let mut day = String::with_capacity(10);
        t.date.push_iso(&mut day);
        q = q
            .bind(k.key)
            .bind(t.external_id)
            .bind(t.customer)
            .bind(account)
            .bind(day)
            .bind(i64::from(t.date.days()))
            .bind(t.amount_minor)
            .bind(t.currency)
            .bind(t.product_line);
    }
    Some((q, attempted))
}
