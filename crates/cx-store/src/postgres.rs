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
        Ok(PgStore { pool })
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

    /// COPY into a per-connection staging table, then one INSERT … SELECT that
    /// skips known keys and links accounts by a join: PostgreSQL's fastest path.
    async fn bulk_insert_transactions(
        &self,
        batch: &[KeyedTransaction],
    ) -> Result<InsertCounts, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "CREATE TEMP TABLE IF NOT EXISTS staging_transactions (dedupe_key TEXT, external_id TEXT, customer TEXT,
               date TEXT, day BIGINT, amount_minor BIGINT, currency TEXT, product_line TEXT) ON COMMIT DELETE ROWS",
        )
        .execute(&mut *tx)
        .await?;
        let mut data = Vec::with_capacity(batch.len() * 96);
        for k in batch {
            let t = &k.transaction;
            csv_text(&mut data, Some(&k.key));
            data.push(b',');
            csv_text(&mut data, t.external_id.as_deref());
            data.push(b',');
            csv_text(&mut data, Some(&t.customer));
            data.extend_from_slice(
                format!(",{},{},{},", t.date, t.date.days(), t.amount_minor).as_bytes(),
            );
            csv_text(&mut data, Some(&t.currency));
            data.push(b',');
            csv_text(&mut data, t.product_line.as_deref());
            data.push(b'\n');
        }
        let mut copy = tx
            .copy_in_raw("COPY staging_transactions FROM STDIN (FORMAT csv)")
            .await?;
        copy.send(data).await?;
        copy.finish().await?;
        let done = sqlx::query(
            "INSERT INTO transactions (dedupe_key, external_id, customer, account_id, date, day, amount_minor, currency, product_line)
             SELECT s.dedupe_key, s.external_id, s.customer, a.id, s.date, s.day, s.amount_minor, s.currency, s.product_line
             FROM staging_transactions s LEFT JOIN accounts a ON a.external_id = s.customer
             ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(crate::common::counted(
            done.rows_affected(),
            batch.len() as u64,
        ))
    }
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
