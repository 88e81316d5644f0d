//! The SQLite pool: WAL, foreign keys, a busy timeout, created and migrated at start; and
//! `begin_write`, the one way a write transaction starts.

use crate::config::Durability;
use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// Opens (creating if missing) and migrates the database.
pub async fn connect(url: &str, durability: Durability) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("DATABASE_URL {url:?} is not a SQLite URL"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(match durability {
            Durability::Normal => SqliteSynchronous::Normal,
            Durability::Full => SqliteSynchronous::Full,
        })
        .foreign_keys(true)
        // Writers queue behind each other (begin_write) rather than fail "database is locked".
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .with_context(|| format!("opening database {url}"))?;
    sqlx::migrate!("../migrations")
        .run(&pool)
        .await
        .context("migrating database")?;
    Ok(pool)
}

/// Starts a write transaction with `BEGIN IMMEDIATE`: it takes SQLite's write lock up front, so
/// two writers wait for each other (busy timeout) instead of one failing at its first write when
/// a deferred transaction tries to upgrade its read lock.
pub async fn begin_write(pool: &SqlitePool) -> sqlx::Result<Transaction<'static, Sqlite>> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// The path of the database file the pool opened: the writer opens its own connection to it.
pub async fn file_path(pool: &SqlitePool) -> anyhow::Result<String> {
    let path: String =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(pool)
            .await
            .context("reading the database's file name")?;
    anyhow::ensure!(
        !path.is_empty(),
        "DATABASE_URL must name a database file, not an in-memory database"
    );
    Ok(path)
}
