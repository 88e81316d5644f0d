//! The database: the async pool (WAL, foreign keys, a busy timeout, created and migrated at
//! start) with `begin_write`, the one way its write transactions start; and the synchronous
//! connections of the message log's hot paths: the writer's, and `Readers`.

use crate::config::Durability;
use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// WAL pages (4 KiB) after which a commit copies the WAL back into the database file. SQLite's
/// default, 1,000, made checkpoints a tenth of the writer's time under load: a message touches
/// the same few table and index pages as the ones before it, and a rarer checkpoint copies each
/// of those pages once for many more messages. The WAL grows to about 16 MiB between them.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 4000;

/// Opens (creating if missing) and migrates the database.
pub async fn connect(url: &str, durability: Durability) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("DATABASE_URL {url:?} is not a SQLite URL"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .pragma("synchronous", durability.synchronous())
        .foreign_keys(true)
        .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string())
        // Writers queue behind each other (begin_write) rather than fail "database is locked".
        .busy_timeout(Duration::from_secs(10));
    owner_only(options.get_filename())?;
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

/// Makes the database file readable by its owner only (0600), creating it so if missing: it holds
/// the password hashes and the generated token-signing secret. SQLite gives the WAL and shared
/// memory files the database file's mode; those already there are tightened too.
#[cfg(unix)]
fn owner_only(path: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    // An in-memory database (sqlx names it `file:sqlx-in-memory-N`) has no file.
    let name = path.to_string_lossy();
    if name.is_empty() || name == ":memory:" || name.starts_with("file:") {
        return Ok(());
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating database file {}", path.display()))?;
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let file = std::path::Path::new(&name);
        if let Ok(meta) = std::fs::metadata(file)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::info!(file = %file.display(), "making the database file readable by its owner only");
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("setting the mode of {}", file.display()))?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn owner_only(_: &std::path::Path) -> anyhow::Result<()> {
    Ok(())
}

/// One round trip to the database: whether it answers (`/healthz`).
pub async fn ping(pool: &SqlitePool) -> sqlx::Result<()> {
    sqlx::query_scalar!("SELECT 1 AS \"one!: i64\"")
        .fetch_one(pool)
        .await?;
    Ok(())
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

/// A synchronous connection to the file the pool opened and migrated, with the pool's settings.
pub fn open_sync(path: &str, durability: Durability) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    // WAL is a property of the file, set by the pool; the rest is per connection.
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
    conn.pragma_update(None, "synchronous", durability.synchronous())?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// Idle read connections kept for reuse; more are opened while many reads run at once.
const IDLE_READERS: usize = 4;

/// Read-only synchronous connections for reads of many rows (a catch-up page is up to 500), run
/// on tokio's blocking threads: one thread switch per read instead of one per row. WAL lets them
/// read while the writer commits. Cheap to clone.
#[derive(Clone)]
pub struct Readers {
    path: Arc<str>,
    idle: Arc<Mutex<Vec<rusqlite::Connection>>>,
}

impl Readers {
    /// Readers of the database file at `path`; connections open on first use.
    pub fn new(path: &str) -> Self {
        Self {
            path: path.into(),
            idle: Arc::default(),
        }
    }

    /// Runs `read` on an idle connection (or a new one) on a blocking thread.
    pub async fn run<T, F>(&self, read: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            // A panic elsewhere cannot leave a `Vec` of connections half-changed.
            let idle = this
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let conn = match idle {
                Some(conn) => conn,
                None => this.open().context("opening a read connection")?,
            };
            let result = read(&conn);
            let mut idle = this.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < IDLE_READERS {
                idle.push(conn);
            }
            Ok(result?)
        })
        .await
        .context("a database read stopped")?
    }

    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        // Reads need no durability setting; `query_only` makes a write here an error.
        let conn = open_sync(&self.path, Durability::Normal)?;
        conn.pragma_update(None, "query_only", true)?;
        Ok(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `SQLITE_SYNCHRONOUS` must reach both kinds of connection: the pool and the writer's.
    #[tokio::test]
    async fn every_connection_gets_the_configured_durability() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("durability.db");
        for (durability, expected) in [(Durability::Full, 2), (Durability::Normal, 1)] {
            let url = format!("sqlite://{}", path.display());
            let pool = connect(&url, durability).await.unwrap();
            let pooled: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&pool)
                .await
                .unwrap();
            let file = file_path(&pool).await.unwrap();
            let sync = open_sync(&file, durability).unwrap();
            let direct: i64 = sync
                .query_row("PRAGMA synchronous", [], |row| row.get(0))
                .unwrap();
            assert_eq!((pooled, direct), (expected, expected), "{durability:?}");
            pool.close().await;
        }
    }
}
