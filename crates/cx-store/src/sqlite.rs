//! SQLite: the embedded default. One file, WAL journal, foreign keys on.

use std::str::FromStr;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::common::impl_store;
use crate::migrate::{SQLITE, run_migrations};
use crate::{Backend, Dialect, StoreError, redact};

/// A store in a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

pub(crate) const DIALECT: Dialect = Dialect {
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
            .busy_timeout(std::time::Duration::from_secs(10));
        let in_memory = url.contains(":memory:");
        let pool = SqlitePoolOptions::new()
            // An in-memory database exists once per connection: keep exactly one.
            .max_connections(if in_memory { 1 } else { 4 })
            .connect_with(options)
            .await
            .map_err(open_error)?;
        run_migrations!(&pool, SQLITE).map_err(open_error)?;
        Ok(SqliteStore { pool })
    }
}

impl_store!(SqliteStore, Backend::Sqlite, DIALECT);
