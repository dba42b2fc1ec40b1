//! A small migration runner: numbered SQL files per backend, each applied once
//! inside a transaction and recorded in `schema_migrations`.

/// `(version, sql)` for SQLite.
pub(crate) const SQLITE: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../migrations/sqlite/0002_server.sql")),
    (
        3,
        include_str!("../migrations/sqlite/0003_dashboard_indexes.sql"),
    ),
    (
        4,
        include_str!("../migrations/sqlite/0004_account_indexes.sql"),
    ),
    (
        5,
        include_str!("../migrations/sqlite/0005_text_analysis.sql"),
    ),
    (
        6,
        include_str!("../migrations/sqlite/0006_close_the_loop.sql"),
    ),
    (7, include_str!("../migrations/sqlite/0007_actions.sql")),
    (8, include_str!("../migrations/sqlite/0008_programmes.sql")),
    (9, include_str!("../migrations/sqlite/0009_day_counts.sql")),
    (
        10,
        include_str!("../migrations/sqlite/0010_linked_transactions_index.sql"),
    ),
];

/// `(version, sql)` for PostgreSQL.
pub(crate) const POSTGRES: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (2, include_str!("../migrations/postgres/0002_server.sql")),
    (
        3,
        include_str!("../migrations/postgres/0003_dashboard_indexes.sql"),
    ),
    (
        4,
        include_str!("../migrations/postgres/0004_account_indexes.sql"),
    ),
    (
        5,
        include_str!("../migrations/postgres/0005_text_analysis.sql"),
    ),
    (
        6,
        include_str!("../migrations/postgres/0006_close_the_loop.sql"),
    ),
    (7, include_str!("../migrations/postgres/0007_actions.sql")),
    (
        8,
        include_str!("../migrations/postgres/0008_programmes.sql"),
    ),
    (
        9,
        include_str!("../migrations/postgres/0009_day_counts.sql"),
    ),
    (
        10,
        include_str!("../migrations/postgres/0010_linked_transactions_index.sql"),
    ),
];

/// Applies the migrations in `$list` that `$pool` has not seen.
macro_rules! run_migrations {
    ($pool:expr, $list:expr) => {{
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)",
        )
        .execute($pool)
        .await?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
            .fetch_all($pool)
            .await?;
        for (version, sql) in $list {
            if applied.contains(version) {
                continue;
            }
            let mut tx = $pool.begin().await?;
            sqlx::raw_sql(*sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(*version)
                .bind(crate::now_rfc3339())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok::<(), sqlx::Error>(())
    }};
}
pub(crate) use run_migrations;
