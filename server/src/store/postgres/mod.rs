//! The PostgreSQL backend: several Tagarela instances on one database. One sqlx pool serves
//! every query; the room log's changes go through one committing task per instance
//! (`writer.rs`), which takes each room's `seq` under the room's row lock in the change's own
//! transaction, so instances writing to the same room queue on that row and the log has no gap.
//! Migrations (`migrations/postgres`) run at start under the migrator's advisory lock, so
//! instances starting together apply them once.

use super::driver::db_err;
use super::{Credentials, Store, StoreConn};
use crate::auth::{CurrentUser, SessionId};
use crate::error::Result;
use crate::messages::writer::{Committed, Job};
use anyhow::Context;
use app::models::{
    AdminAction, AdminRoom, Message, MessageId, Role, Room, RoomActivity, RoomId, User, UserId,
    UserRef,
};
use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a request waits for a connection (or for a new one to open) before it fails with
/// `internal`: while the database is down, answers come at once or after this, never later.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// The advisory lock every write transaction of `Store::begin` holds until it ends: write
/// transactions run one at a time, as on SQLite, so a rule read in one (the first user is the
/// admin; the last admin stays) still holds at its commit, across instances too. The room log
/// does not take it (`writer.rs`): its writes lock the room's row.
const WRITE_LOCK: i64 = 0x7461_6761_7265_6c61; // "tagarela"

/// The PostgreSQL store.
pub struct PgStore {
    pool: PgPool,
    /// Whether commits of the room log are announced to a cluster's instances (`notify`).
    notify: bool,
}

impl PgStore {
    /// Connects to `url` (`postgres://…`) with at most `pool_size` connections, and migrates.
    pub async fn open(url: &str, pool_size: u32, notify: bool) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .context("DATABASE_URL is not a valid postgres:// URL")?
            .application_name("tagarela");
        let pool = PgPoolOptions::new()
            .max_connections(pool_size)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .context("connecting to the PostgreSQL database of DATABASE_URL")?;
        sqlx::migrate!("../migrations/postgres")
            .run(&pool)
            .await
            .context("migrating the PostgreSQL database")?;
        Ok(Self { pool, notify })
    }
}

/// The columns of a `Message`, for `MessageRow`.
macro_rules! message_columns {
    () => {
        "m.id, m.room_id, m.seq, m.user_id, u.username, m.text, m.client_id,
     rfc3339(m.created_at) AS created_at, rfc3339(m.edited_at) AS edited_at, m.deleted"
    };
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: i64,
    room_id: i64,
    seq: i64,
    user_id: i64,
    username: String,
    text: String,
    client_id: Option<String>,
    created_at: String,
    edited_at: Option<String>,
    deleted: bool,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Self {
        Message {
            id: MessageId(r.id),
            room_id: RoomId(r.room_id),
            seq: r.seq,
            user: UserRef {
                id: UserId(r.user_id),
                username: r.username,
            },
            text: r.text,
            client_id: r.client_id,
            created_at: r.created_at,
            edited_at: r.edited_at,
            deleted: r.deleted,
        }
    }
}

macro_rules! user_columns {
    () => {
        "id, username, role, banned, rfc3339(created_at) AS created_at"
    };
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    username: String,
    role: String,
    banned: bool,
    created_at: String,
}

fn role(name: &str) -> Role {
    if name == "admin" {
        Role::Admin
    } else {
        Role::User
    }
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: UserId(r.id),
            role: role(&r.role),
            username: r.username,
            banned: r.banned,
            created_at: r.created_at,
        }
    }
}

macro_rules! room_columns {
    () => {
        "id, name, topic, archived, rfc3339(created_at) AS created_at, last_seq"
    };
}

// After the column macros, which it uses too.
pub mod notify;
mod writer;

#[derive(sqlx::FromRow)]
struct RoomRow {
    id: i64,
    name: String,
    topic: String,
    archived: bool,
    created_at: String,
    last_seq: i64,
}

impl From<RoomRow> for Room {
    fn from(r: RoomRow) -> Self {
        Room {
            id: RoomId(r.id),
            name: r.name,
            topic: r.topic,
            archived: r.archived,
            created_at: r.created_at,
            last_seq: r.last_seq,
            member: None,
            last_read_seq: None,
            unread: None,
            unread_mentions: None,
        }
    }
}

/// A message by id, with the author's name.
async fn find_message(db: &mut PgConnection, id: MessageId) -> sqlx::Result<Option<Message>> {
    let row: Option<MessageRow> = sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages m JOIN users u ON u.id = m.user_id WHERE m.id = $1"
    ))
    .bind(id.0)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Message::from))
}

/// The message `user` sent with `client_id`, if any.
async fn find_by_client_id(
    db: &mut PgConnection,
    user: UserId,
    client_id: &str,
) -> sqlx::Result<Option<Message>> {
    let row: Option<MessageRow> = sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages m JOIN users u ON u.id = m.user_id
         WHERE m.user_id = $1 AND m.client_id = $2"
    ))
    .bind(user.0)
    .bind(client_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Message::from))
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn conn(&self) -> Result<Box<dyn StoreConn>> {
        let conn = self.pool.acquire().await.map_err(db_err)?;
        Ok(Box::new(Conn::Pooled(conn)))
    }

    async fn begin(&self) -> Result<Box<dyn StoreConn>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        Ok(Box::new(Conn::Tx(tx)))
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn find_by_client_id(&self, user: UserId, client_id: &str) -> Result<Option<Message>> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        find_by_client_id(&mut conn, user, client_id)
            .await
            .map_err(db_err)
    }

    async fn history(
        &self,
        room: RoomId,
        before: Option<MessageId>,
        limit: i64,
    ) -> Result<Vec<Message>> {
        let rows: Vec<MessageRow> = sqlx::query_as(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages m JOIN users u ON u.id = m.user_id
             WHERE m.room_id = $1 AND NOT m.deleted AND m.id < $2
             ORDER BY m.id DESC LIMIT $3"
        ))
        .bind(room.0)
        .bind(before.map_or(i64::MAX, |b| b.0))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(Message::from).collect())
    }

    async fn changes_since(&self, room: RoomId, since: i64, limit: i64) -> Result<Vec<Message>> {
        let rows: Vec<MessageRow> = sqlx::query_as(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages m JOIN users u ON u.id = m.user_id
             WHERE m.room_id = $1 AND m.seq > $2
             ORDER BY m.seq LIMIT $3"
        ))
        .bind(room.0)
        .bind(since)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(Message::from).collect())
    }

    fn start_writer(
        &self,
        jobs: mpsc::Receiver<Job>,
    ) -> anyhow::Result<mpsc::UnboundedReceiver<Vec<Committed>>> {
        Ok(writer::start(self.pool.clone(), jobs, self.notify))
    }
}

/// A pooled connection (each statement commits on its own) or a write transaction.
enum Conn {
    Pooled(PoolConnection<Postgres>),
    Tx(Transaction<'static, Postgres>),
}

impl Conn {
    fn c(&mut self) -> &mut PgConnection {
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
        let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users)")
            .fetch_one(self.c())
            .await
            .map_err(db_err)?;
        let role = if any { Role::User } else { Role::Admin }.as_str();
        let row: UserRow = sqlx::query_as(concat!(
            "INSERT INTO users (username, password_hash, role) VALUES ($1, $2, $3)
             RETURNING ",
            user_columns!()
        ))
        .bind(username)
        .bind(password_hash)
        .bind(role)
        .fetch_one(self.c())
        .await
        .map_err(db_err)?;
        Ok(row.into())
    }

    async fn find_credentials(&mut self, username: &str) -> Result<Option<Credentials>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: UserRow,
            password_hash: String,
        }
        let row: Option<Row> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            ", password_hash FROM users WHERE lower(username) = lower($1)"
        ))
        .bind(username)
        .fetch_optional(self.c())
        .await
        .map_err(db_err)?;
        Ok(row.map(|r| Credentials {
            user: r.user.into(),
            password_hash: r.password_hash,
        }))
    }

    async fn find_user(&mut self, user: UserId) -> Result<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = $1"
        ))
        .bind(user.0)
        .fetch_optional(self.c())
        .await
        .map_err(db_err)?;
        Ok(row.map(User::from))
    }

    async fn find_password_hash(&mut self, user: UserId) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(user.0)
            .fetch_optional(self.c())
            .await
            .map_err(db_err)
    }

    async fn update_password_hash(&mut self, user: UserId, password_hash: &str) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(user.0)
            .execute(self.c())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn upsert_admin(&mut self, username: &str, password_hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (username, password_hash, role) VALUES ($1, $2, 'admin')
             ON CONFLICT ((lower(username))) DO UPDATE
             SET role = 'admin', banned = false, password_hash = excluded.password_hash",
        )
        .bind(username)
        .bind(password_hash)
        .execute(self.c())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn list_users(&mut self, search: Option<&str>) -> Result<Vec<User>> {
        // strpos() rather than LIKE: usernames may contain `_`, a LIKE wildcard.
        let rows: Vec<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users
             WHERE $1::text IS NULL OR strpos(lower(username), lower($1)) > 0
             ORDER BY lower(username), username"
        ))
        .bind(search)
        .fetch_all(self.c())
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    async fn count_active_admins(&mut self) -> Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND NOT banned")
            .fetch_one(self.c())
            .await
            .map_err(db_err)
    }

    async fn update_role_and_ban(
        &mut self,
        user: UserId,
        role: Role,
        banned: bool,
    ) -> Result<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "UPDATE users SET role = $1, banned = $2 WHERE id = $3 RETURNING ",
            user_columns!()
        ))
        .bind(role.as_str())
        .bind(banned)
        .bind(user.0)
        .fetch_optional(self.c())
        .await
        .map_err(db_err)?;
        Ok(row.map(User::from))
    }

    async fn insert_session(&mut self, user: UserId) -> Result<SessionId> {
        let id = SessionId::random();
        sqlx::query("INSERT INTO sessions (id, user_id) VALUES ($1, $2)")
            .bind(id.to_string())
            .bind(user.0)
            .execute(self.c())
            .await
            .map_err(db_err)?;
        Ok(id)
    }

    async fn find_session_user(
        &mut self,
        user_id: i64,
        session: SessionId,
    ) -> Result<Option<CurrentUser>> {
        let row: Option<(i64, String, String)> = sqlx::query_as(
            "SELECT users.id, users.username, users.role
             FROM sessions JOIN users ON users.id = sessions.user_id
             WHERE sessions.id = $1 AND users.id = $2 AND NOT users.banned",
        )
        .bind(session.to_string())
        .bind(user_id)
        .fetch_optional(self.c())
        .await
        .map_err(db_err)?;
        Ok(row.map(|(id, username, name)| CurrentUser {
            id: UserId(id),
            username,
            role: role(&name),
            session_id: session,
        }))
    }

    async fn delete_session(&mut self, session: SessionId) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(session.to_string())
            .execute(self.c())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn delete_sessions_except(
        &mut self,
        user: UserId,
        keep: Option<SessionId>,
    ) -> Result<Vec<SessionId>> {
        let ended: Vec<String> =
            sqlx::query_scalar("DELETE FROM sessions WHERE user_id = $1 AND id != $2 RETURNING id")
                .bind(user.0)
                .bind(keep.map(|k| k.to_string()).unwrap_or_default())
                .fetch_all(self.c())
                .await
                .map_err(db_err)?;
        Ok(ended.iter().filter_map(|id| SessionId::parse(id)).collect())
    }

    async fn find_setting(&mut self, key: &str) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(self.c())
            .await
            .map_err(db_err)
    }

    async fn insert_setting_once(&mut self, key: &str, value: &str) -> Result<String> {
        // A concurrent insert of the same key (another instance starting) makes this one wait
        // for its commit and then do nothing; the read after it sees the stored value.
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(self.c())
        .await
        .map_err(db_err)?;
        Ok(self
            .find_setting(key)
            .await?
            .unwrap_or_else(|| value.to_owned()))
    }

    async fn find_room(&mut self, room: RoomId) -> Result<Option<Room>> {
        let row: Option<RoomRow> = sqlx::query_as(concat!(
            "SELECT ",
            room_columns!(),
            " FROM rooms WHERE id = $1"
        ))
        .bind(room.0)
        .fetch_optional(self.c())
        .await
        .map_err(db_err)?;
        Ok(row.map(Room::from))
    }

    async fn list_rooms_for(&mut self, user: UserId) -> Result<Vec<Room>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            room: RoomRow,
            member: bool,
            last_read_seq: i64,
            unread: i64,
            unread_mentions: i64,
        }
        // As on SQLite (`store/sqlite/rooms.rs`): each count stops at 100 (rooms::UNREAD_COUNT_MAX).
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT r.id, r.name, r.topic, r.archived, rfc3339(r.created_at) AS created_at,
                    r.last_seq,
                    m.user_id IS NOT NULL AS member,
                    COALESCE(m.last_read_seq, 0) AS last_read_seq,
                    CASE WHEN m.user_id IS NULL THEN 0 ELSE
                      (SELECT COUNT(*) FROM (SELECT 1 FROM messages x
                       WHERE x.room_id = r.id AND x.seq > m.last_read_seq
                         AND x.created_seq > m.last_read_seq
                         AND x.user_id != $1 AND NOT x.deleted LIMIT 100) AS c) END AS unread,
                    CASE WHEN m.user_id IS NULL THEN 0 ELSE
                      (SELECT COUNT(*) FROM (SELECT 1 FROM mentions n
                       JOIN messages x ON x.id = n.message_id
                       WHERE n.user_id = $1 AND x.room_id = r.id
                         AND x.created_seq > m.last_read_seq
                         AND NOT x.deleted LIMIT 100) AS c) END AS unread_mentions
             FROM rooms r
             LEFT JOIN memberships m ON m.room_id = r.id AND m.user_id = $1
             ORDER BY r.archived, lower(r.name), r.name",
        )
        .bind(user.0)
        .fetch_all(self.c())
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|r| Room {
                member: Some(r.member),
                last_read_seq: Some(r.last_read_seq),
                unread: Some(r.unread),
                unread_mentions: Some(r.unread_mentions),
                ..Room::from(r.room)
            })
            .collect())
    }

    async fn insert_room(&mut self, name: &str, topic: &str) -> Result<Room> {
        let row: RoomRow = sqlx::query_as(concat!(
            "INSERT INTO rooms (name, topic) VALUES ($1, $2) RETURNING ",
            room_columns!()
        ))
        .bind(name)
        .bind(topic)
        .fetch_one(self.c())
        .await
        .map_err(db_err)?;
        Ok(row.into())
    }

    async fn update_room(
        &mut self,
        room: RoomId,
        name: Option<&str>,
        topic: Option<&str>,
        archived: Option<bool>,
    ) -> Result<Option<Room>> {
        let row: Option<RoomRow> = sqlx::query_as(concat!(
            "UPDATE rooms SET name = COALESCE($1, name), topic = COALESCE($2, topic),
                              archived = COALESCE($3, archived)
             WHERE id = $4 RETURNING ",
            room_columns!()
        ))
        .bind(name)
        .bind(topic)
        .bind(archived)
        .bind(room.0)
        .fetch_optional(self.c())
        .await
        .map_err(db_err)?;
        Ok(row.map(Room::from))
    }

    async fn delete_room(&mut self, room: RoomId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM rooms WHERE id = $1")
            .bind(room.0)
            .execute(self.c())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_membership(&mut self, user: UserId, room: RoomId) -> Result<()> {
        sqlx::query(
            "INSERT INTO memberships (user_id, room_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(user.0)
        .bind(room.0)
        .execute(self.c())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn delete_membership(&mut self, user: UserId, room: RoomId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND room_id = $2")
            .bind(user.0)
            .bind(room.0)
            .execute(self.c())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn find_read_marker(&mut self, user: UserId, room: RoomId) -> Result<Option<i64>> {
        sqlx::query_scalar(
            "SELECT last_read_seq FROM memberships WHERE user_id = $1 AND room_id = $2",
        )
        .bind(user.0)
        .bind(room.0)
        .fetch_optional(self.c())
        .await
        .map_err(db_err)
    }

    async fn advance_read_marker(
        &mut self,
        user: UserId,
        room: RoomId,
        seq: i64,
    ) -> Result<Option<i64>> {
        sqlx::query_scalar(
            "UPDATE memberships m SET last_read_seq = LEAST($1, r.last_seq)
             FROM rooms r
             WHERE r.id = m.room_id AND m.user_id = $2 AND m.room_id = $3
               AND m.last_read_seq < LEAST($1, r.last_seq)
             RETURNING m.last_read_seq",
        )
        .bind(seq)
        .bind(user.0)
        .bind(room.0)
        .fetch_optional(self.c())
        .await
        .map_err(db_err)
    }

    async fn member_room_ids(&mut self, user: UserId) -> Result<Vec<RoomId>> {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT room_id FROM memberships WHERE user_id = $1")
                .bind(user.0)
                .fetch_all(self.c())
                .await
                .map_err(db_err)?;
        Ok(ids.into_iter().map(RoomId).collect())
    }

    async fn member_ids(&mut self, room: RoomId) -> Result<Vec<UserId>> {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT user_id FROM memberships WHERE room_id = $1")
                .bind(room.0)
                .fetch_all(self.c())
                .await
                .map_err(db_err)?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    async fn room_figures(&mut self) -> Result<Vec<AdminRoom>> {
        let rows: Vec<(i64, String, String, bool, i64, i64, Option<String>)> = sqlx::query_as(
            "SELECT r.id, r.name, r.topic, r.archived,
                    (SELECT COUNT(*) FROM memberships WHERE room_id = r.id),
                    (SELECT COUNT(*) FROM messages WHERE room_id = r.id AND NOT deleted),
                    (SELECT rfc3339(MAX(created_at)) FROM messages WHERE room_id = r.id)
             FROM rooms r ORDER BY r.archived, lower(r.name), r.name",
        )
        .fetch_all(self.c())
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(
                |(id, name, topic, archived, members, messages, last_activity)| AdminRoom {
                    id: RoomId(id),
                    name,
                    topic,
                    archived,
                    members,
                    online: 0,
                    messages,
                    last_activity,
                },
            )
            .collect())
    }

    async fn all_memberships(&mut self) -> Result<Vec<(RoomId, UserId)>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT room_id, user_id FROM memberships")
            .fetch_all(self.c())
            .await
            .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(room, user)| (RoomId(room), UserId(user)))
            .collect())
    }

    async fn busiest_rooms_last_hour(&mut self) -> Result<Vec<RoomActivity>> {
        // "The last hour" as the messages after the newest one older than an hour, as on
        // SQLite: a walk back over the hour's messages by id, with no index on `created_at`
        // for every message to pay for.
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT m.room_id, r.name, COUNT(*) AS messages
             FROM messages m JOIN rooms r ON r.id = m.room_id
             WHERE m.id > COALESCE(
                     (SELECT id FROM messages WHERE created_at < now() - interval '1 hour'
                      ORDER BY id DESC LIMIT 1), 0)
               AND NOT m.deleted
             GROUP BY m.room_id, r.name ORDER BY 3 DESC, r.name LIMIT 10",
        )
        .fetch_all(self.c())
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(id, name, messages)| RoomActivity {
                id: RoomId(id),
                name,
                messages,
            })
            .collect())
    }

    async fn insert_action(
        &mut self,
        admin: UserId,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO admin_actions (admin_id, action, target, detail) VALUES ($1, $2, $3, $4)",
        )
        .bind(admin.0)
        .bind(action)
        .bind(target)
        .bind(detail)
        .execute(self.c())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn recent_actions(&mut self, limit: i64) -> Result<Vec<AdminAction>> {
        let rows: Vec<(
            i64,
            Option<i64>,
            Option<String>,
            String,
            String,
            String,
            String,
        )> = sqlx::query_as(
            "SELECT a.id, a.admin_id, u.username, a.action, a.target, a.detail,
                        rfc3339(a.created_at)
                 FROM admin_actions a LEFT JOIN users u ON u.id = a.admin_id
                 ORDER BY a.id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.c())
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(
                |(id, admin_id, admin_username, action, target, detail, created_at)| AdminAction {
                    id,
                    admin: admin_id.zip(admin_username).map(|(id, username)| UserRef {
                        id: UserId(id),
                        username,
                    }),
                    action,
                    target,
                    detail,
                    created_at,
                },
            )
            .collect())
    }
}
