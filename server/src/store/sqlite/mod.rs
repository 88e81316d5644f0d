//! The SQLite backend (the default: one file, no server). The async pool (WAL, foreign keys, a
//! busy timeout; created and migrated at start) serves every query but the message log's; the
//! log has synchronous connections (rusqlite): the writer's thread (`writer.rs`) and `Readers`
//! for catch-up and history pages. The benchmarks found the async driver's thread switches
//! (one per statement and per row) to be most of a message's cost.

mod admin;
mod messages;
mod rooms;
mod sessions;
mod users;
mod writer;

use super::driver::db_err;
use super::{Credentials, Store, StoreConn};
use crate::auth::{CurrentUser, SessionId};
use crate::config::Durability;
use crate::error::Result;
use crate::messages::writer::{Committed, Job};
use anyhow::Context;
use app::models::{
    AdminAction, AdminRoom, Message, MessageId, Role, Room, RoomActivity, RoomId, User, UserId,
};
use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;

/// WAL pages (4 KiB) after which a commit copies the WAL back into the database file. SQLite's
/// default, 1,000, made checkpoints a tenth of the writer's time under load: a message touches
/// the same few table and index pages as the ones before it, and a rarer checkpoint copies each
/// of those pages once for many more messages. The WAL grows to about 16 MiB between them.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 4000;

/// Opens (creating if missing) and migrates the database.
async fn connect_pool(url: &str, durability: Durability) -> anyhow::Result<SqlitePool> {
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
        // A connection to a local file does not go stale: no ping (a round trip to the
        // connection's worker thread) before each use.
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .with_context(|| format!("opening database {url}"))?;
    sqlx::migrate!("../migrations/sqlite")
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

/// The path of the database file the pool opened: the writer opens its own connection to it.
async fn file_path(pool: &SqlitePool) -> anyhow::Result<String> {
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
fn open_sync(path: &str, durability: Durability) -> rusqlite::Result<rusqlite::Connection> {
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
struct Readers {
    path: Arc<str>,
    idle: Arc<Mutex<Vec<rusqlite::Connection>>>,
}

impl Readers {
    /// Readers of the database file at `path`; connections open on first use.
    fn new(path: &str) -> Self {
        Self {
            path: path.into(),
            idle: Arc::default(),
        }
    }

    /// Runs `read` on an idle connection (or a new one) on a blocking thread.
    async fn run<T, F>(&self, read: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let this = self.clone();
        Ok(tokio::task::spawn_blocking(move || -> anyhow::Result<T> {
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
        .context("a database read stopped")??)
    }

    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        // Reads need no durability setting; `query_only` makes a write here an error.
        let conn = open_sync(&self.path, Durability::Normal)?;
        conn.pragma_update(None, "query_only", true)?;
        Ok(conn)
    }
}

/// The SQLite store.
pub struct SqliteStore {
    pool: SqlitePool,
    readers: Readers,
    /// The database file, which the writer opens for itself.
    path: String,
    durability: Durability,
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database at `url` (`sqlite://…`).
    pub async fn open(url: &str, durability: Durability) -> anyhow::Result<Self> {
        let pool = connect_pool(url, durability).await?;
        let path = file_path(&pool).await?;
        Ok(Self {
            pool,
            readers: Readers::new(&path),
            path,
            durability,
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn conn(&self) -> Result<Box<dyn StoreConn>> {
        let conn = self.pool.acquire().await.map_err(db_err)?;
        Ok(Box::new(Conn::Pooled(conn)))
    }

    /// `BEGIN IMMEDIATE` takes SQLite's write lock up front, so two writers wait for each other
    /// (busy timeout) instead of one failing at its first write when a deferred transaction
    /// tries to upgrade its read lock.
    async fn begin(&self) -> Result<Box<dyn StoreConn>> {
        let tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)?;
        Ok(Box::new(Conn::Tx(tx)))
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query_scalar!("SELECT 1 AS \"one!: i64\"")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn find_by_client_id(&self, user: UserId, client_id: &str) -> Result<Option<Message>> {
        let client_id = client_id.to_owned();
        self.readers
            .run(move |db| messages::find_by_client_id(db, user, &client_id))
            .await
    }

    async fn history(
        &self,
        room: RoomId,
        before: Option<MessageId>,
        limit: i64,
    ) -> Result<Vec<Message>> {
        self.readers
            .run(move |db| messages::history(db, room, before, limit))
            .await
    }

    async fn changes_since(&self, room: RoomId, since: i64, limit: i64) -> Result<Vec<Message>> {
        self.readers
            .run(move |db| messages::changes_since(db, room, since, limit))
            .await
    }

    fn start_writer(
        &self,
        jobs: mpsc::Receiver<Job>,
    ) -> anyhow::Result<mpsc::UnboundedReceiver<Vec<Committed>>> {
        writer::start(&self.path, self.durability, jobs)
    }
}

/// A pooled connection (each statement commits on its own) or a write transaction.
enum Conn {
    Pooled(PoolConnection<Sqlite>),
    Tx(Transaction<'static, Sqlite>),
}

impl Conn {
    fn c(&mut self) -> &mut SqliteConnection {
        match self {
            Conn::Pooled(conn) => conn,
            Conn::Tx(tx) => tx,
        }
    }
}

#[async_trait]
impl StoreConn for Conn {
    async fn commit(self: Box<Self>) -> Result<()> {
        match *self {
            Conn::Pooled(_) => Ok(()),
            Conn::Tx(tx) => tx.commit().await.map_err(db_err),
        }
    }

    async fn insert_user(&mut self, username: &str, password_hash: &str) -> Result<User> {
        users::insert_user(self.c(), username, password_hash)
            .await
            .map_err(db_err)
    }
    async fn find_credentials(&mut self, username: &str) -> Result<Option<Credentials>> {
        users::find_credentials(self.c(), username)
            .await
            .map_err(db_err)
    }
    async fn find_user(&mut self, user: UserId) -> Result<Option<User>> {
        users::find_user(self.c(), user).await.map_err(db_err)
    }
    async fn find_password_hash(&mut self, user: UserId) -> Result<Option<String>> {
        users::find_password_hash(self.c(), user)
            .await
            .map_err(db_err)
    }
    async fn update_password_hash(&mut self, user: UserId, password_hash: &str) -> Result<()> {
        users::update_password_hash(self.c(), user, password_hash)
            .await
            .map_err(db_err)
    }
    async fn upsert_admin(&mut self, username: &str, password_hash: &str) -> Result<()> {
        users::upsert_admin(self.c(), username, password_hash)
            .await
            .map_err(db_err)
    }
    async fn list_users(&mut self, search: Option<&str>) -> Result<Vec<User>> {
        users::list_users(self.c(), search).await.map_err(db_err)
    }
    async fn count_active_admins(&mut self) -> Result<i64> {
        users::count_active_admins(self.c()).await.map_err(db_err)
    }
    async fn update_role_and_ban(
        &mut self,
        user: UserId,
        role: Role,
        banned: bool,
    ) -> Result<Option<User>> {
        users::update_role_and_ban(self.c(), user, role, banned)
            .await
            .map_err(db_err)
    }

    async fn insert_session(&mut self, user: UserId) -> Result<SessionId> {
        sessions::insert_session(self.c(), user)
            .await
            .map_err(db_err)
    }
    async fn find_session_user(
        &mut self,
        user_id: i64,
        session: SessionId,
    ) -> Result<Option<CurrentUser>> {
        sessions::find_session_user(self.c(), user_id, session)
            .await
            .map_err(db_err)
    }
    async fn delete_session(&mut self, session: SessionId) -> Result<()> {
        sessions::delete_session(self.c(), session)
            .await
            .map_err(db_err)
    }
    async fn delete_sessions_except(
        &mut self,
        user: UserId,
        keep: Option<SessionId>,
    ) -> Result<Vec<SessionId>> {
        sessions::delete_sessions_except(self.c(), user, keep)
            .await
            .map_err(db_err)
    }
    async fn find_setting(&mut self, key: &str) -> Result<Option<String>> {
        sessions::find_setting(self.c(), key).await.map_err(db_err)
    }
    async fn insert_setting_once(&mut self, key: &str, value: &str) -> Result<String> {
        sessions::insert_setting_once(self.c(), key, value)
            .await
            .map_err(db_err)
    }

    async fn find_room(&mut self, room: RoomId) -> Result<Option<Room>> {
        rooms::find_room(self.c(), room).await.map_err(db_err)
    }
    async fn list_rooms_for(&mut self, user: UserId) -> Result<Vec<Room>> {
        rooms::list_rooms_for(self.c(), user).await.map_err(db_err)
    }
    async fn insert_room(&mut self, name: &str, topic: &str) -> Result<Room> {
        rooms::insert_room(self.c(), name, topic)
            .await
            .map_err(db_err)
    }
    async fn update_room(
        &mut self,
        room: RoomId,
        name: Option<&str>,
        topic: Option<&str>,
        archived: Option<bool>,
    ) -> Result<Option<Room>> {
        rooms::update_room(self.c(), room, name, topic, archived)
            .await
            .map_err(db_err)
    }
    async fn delete_room(&mut self, room: RoomId) -> Result<bool> {
        rooms::delete_room(self.c(), room).await.map_err(db_err)
    }
    async fn insert_membership(&mut self, user: UserId, room: RoomId) -> Result<()> {
        rooms::insert_membership(self.c(), user, room)
            .await
            .map_err(db_err)
    }
    async fn delete_membership(&mut self, user: UserId, room: RoomId) -> Result<bool> {
        rooms::delete_membership(self.c(), user, room)
            .await
            .map_err(db_err)
    }
    async fn find_read_marker(&mut self, user: UserId, room: RoomId) -> Result<Option<i64>> {
        rooms::find_read_marker(self.c(), user, room)
            .await
            .map_err(db_err)
    }
    async fn advance_read_marker(
        &mut self,
        user: UserId,
        room: RoomId,
        seq: i64,
    ) -> Result<Option<i64>> {
        rooms::advance_read_marker(self.c(), user, room, seq)
            .await
            .map_err(db_err)
    }
    async fn member_room_ids(&mut self, user: UserId) -> Result<Vec<RoomId>> {
        rooms::member_room_ids(self.c(), user).await.map_err(db_err)
    }
    async fn member_ids(&mut self, room: RoomId) -> Result<Vec<UserId>> {
        rooms::member_ids(self.c(), room).await.map_err(db_err)
    }
    async fn room_figures(&mut self) -> Result<Vec<AdminRoom>> {
        rooms::room_figures(self.c()).await.map_err(db_err)
    }
    async fn all_memberships(&mut self) -> Result<Vec<(RoomId, UserId)>> {
        rooms::all_memberships(self.c()).await.map_err(db_err)
    }
    async fn busiest_rooms_last_hour(&mut self) -> Result<Vec<RoomActivity>> {
        rooms::busiest_rooms_last_hour(self.c())
            .await
            .map_err(db_err)
    }

    async fn insert_action(
        &mut self,
        admin: UserId,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<()> {
        admin::insert_action(self.c(), admin, action, target, detail)
            .await
            .map_err(db_err)
    }
    async fn recent_actions(&mut self, limit: i64) -> Result<Vec<AdminAction>> {
        admin::recent_actions(self.c(), limit).await.map_err(db_err)
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
            let pool = connect_pool(&url, durability).await.unwrap();
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
