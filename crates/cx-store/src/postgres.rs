//! PostgreSQL: for a team server.

use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::common::impl_store;
use crate::migrate::{POSTGRES, run_migrations};
use crate::{Backend, Dialect, StoreError, redact};

/// A store in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

pub(crate) const DIALECT: Dialect = Dialect {
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
        Ok(PgStore { pool })
    }

    /// The pool, for tests that need to reset a database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl_store!(PgStore, Backend::Postgres, DIALECT);
