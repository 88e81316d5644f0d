//! The store port: everything the domain may ask of a database, as two traits. `Store` is the
//! database (connections, transactions, the message log's reads and its ordered writer);
//! `StoreConn` is one connection, or one write transaction, and holds every other query.
//! The backends live beside this file, all their SQL with them: `sqlite/` (the default, one
//! file, no server) and `postgres/` (several instances on one database). Start-up picks one by
//! the scheme of `DATABASE_URL`; the domain never knows which.
//!
//! Errors come back as `AppError`: a unique violation is `Conflict` (with an empty message: the
//! domain, which knows what was taken, says it with `error::on_conflict`), anything else
//! `Internal`.

pub mod driver;
pub mod postgres;
pub mod sqlite;

use crate::auth::{CurrentUser, SessionId};
use crate::error::Result;
use crate::messages::writer::{Committed, Job};
use app::models::{
    AdminAction, AdminRoom, Message, MessageId, Role, Room, RoomActivity, RoomId, User, UserId,
};
use async_trait::async_trait;
use tokio::sync::mpsc;

/// A user with their password hash, for sign-in.
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

/// The database.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`: for logs and `/healthz`.
    fn backend(&self) -> &'static str;

    /// A connection on which each statement commits on its own.
    async fn conn(&self) -> Result<Box<dyn StoreConn>>;

    /// A write transaction: committed by `StoreConn::commit`, rolled back when dropped. Write
    /// transactions run one at a time (SQLite's `BEGIN IMMEDIATE`; on PostgreSQL an advisory
    /// lock), so a rule read inside one (the first user is admin, the last admin stays) holds
    /// at its commit.
    async fn begin(&self) -> Result<Box<dyn StoreConn>>;

    /// One round trip: whether the database answers.
    async fn ping(&self) -> Result<()>;

    /// Closes every connection (at shut-down).
    async fn close(&self);

    /// The message `user` already sent with `client_id`, if any.
    async fn find_by_client_id(&self, user: UserId, client_id: &str) -> Result<Option<Message>>;

    /// Up to `limit` messages (no tombstones) older than message `before` (or the newest),
    /// newest first.
    async fn history(
        &self,
        room: RoomId,
        before: Option<MessageId>,
        limit: i64,
    ) -> Result<Vec<Message>>;

    /// The room's changes after `since` (new, edited, deleted), in `seq` order, at most `limit`.
    async fn changes_since(&self, room: RoomId, since: i64, limit: i64) -> Result<Vec<Message>>;

    /// Starts the committer of room-log changes: it takes jobs in queue order, commits them
    /// (grouped in transactions under load) and hands each batch's outcomes on, in commit
    /// order, to the returned channel, where `messages::writer` publishes them. It applies the
    /// rules of `messages::writer` (`refusal`, `check_edit`) inside its transaction.
    fn start_writer(
        &self,
        jobs: mpsc::Receiver<Job>,
    ) -> anyhow::Result<mpsc::UnboundedReceiver<Vec<Committed>>>;
}

/// One connection or write transaction.
#[async_trait]
pub trait StoreConn: Send {
    /// Commits a write transaction (a plain connection has nothing to commit).
    async fn commit(self: Box<Self>) -> Result<()>;

    // Users.

    /// Inserts a user; the first user ever becomes admin (run it in a write transaction).
    async fn insert_user(&mut self, username: &str, password_hash: &str) -> Result<User>;
    /// A user and their hash by name, case-insensitively.
    async fn find_credentials(&mut self, username: &str) -> Result<Option<Credentials>>;
    /// A user by id.
    async fn find_user(&mut self, user: UserId) -> Result<Option<User>>;
    /// A user's password hash by id.
    async fn find_password_hash(&mut self, user: UserId) -> Result<Option<String>>;
    /// Replaces a user's password hash.
    async fn update_password_hash(&mut self, user: UserId, password_hash: &str) -> Result<()>;
    /// Makes `username` an unbanned admin with `password_hash`, creating it if needed.
    async fn upsert_admin(&mut self, username: &str, password_hash: &str) -> Result<()>;
    /// Every user, by username; with `search`, only names containing it, ignoring case.
    async fn list_users(&mut self, search: Option<&str>) -> Result<Vec<User>>;
    /// Admins who are not banned.
    async fn count_active_admins(&mut self) -> Result<i64>;
    /// Sets a user's role and ban flag; `None` if there is no such user.
    async fn update_role_and_ban(
        &mut self,
        user: UserId,
        role: Role,
        banned: bool,
    ) -> Result<Option<User>>;

    // Sessions and settings.

    /// Starts a session for `user` under a new random id.
    async fn insert_session(&mut self, user: UserId) -> Result<SessionId>;
    /// The signed-in user of a live session, if it exists and the user is not banned.
    async fn find_session_user(
        &mut self,
        user_id: i64,
        session: SessionId,
    ) -> Result<Option<CurrentUser>>;
    /// Ends one session.
    async fn delete_session(&mut self, session: SessionId) -> Result<()>;
    /// Ends every session of `user` except `keep`; returns the ended ones.
    async fn delete_sessions_except(
        &mut self,
        user: UserId,
        keep: Option<SessionId>,
    ) -> Result<Vec<SessionId>>;
    /// A stored setting.
    async fn find_setting(&mut self, key: &str) -> Result<Option<String>>;
    /// Stores a setting unless one exists; returns the value now stored (first writer wins).
    async fn insert_setting_once(&mut self, key: &str, value: &str) -> Result<String>;

    // Rooms and memberships.

    /// A room by id.
    async fn find_room(&mut self, room: RoomId) -> Result<Option<Room>>;
    /// Every room with `user`'s membership, read marker and unread counts (each at most
    /// `rooms::UNREAD_COUNT_MAX`); archived last, then by name ignoring case.
    async fn list_rooms_for(&mut self, user: UserId) -> Result<Vec<Room>>;
    /// Creates a room (names are unique ignoring case).
    async fn insert_room(&mut self, name: &str, topic: &str) -> Result<Room>;
    /// Changes what is given; `None` if there is no such room.
    async fn update_room(
        &mut self,
        room: RoomId,
        name: Option<&str>,
        topic: Option<&str>,
        archived: Option<bool>,
    ) -> Result<Option<Room>>;
    /// Deletes a room with its messages and memberships; false if there was none.
    async fn delete_room(&mut self, room: RoomId) -> Result<bool>;
    /// Makes `user` a member (nothing if already).
    async fn insert_membership(&mut self, user: UserId, room: RoomId) -> Result<()>;
    /// Ends a membership; false if there was none.
    async fn delete_membership(&mut self, user: UserId, room: RoomId) -> Result<bool>;
    /// The read marker, if `user` is a member.
    async fn find_read_marker(&mut self, user: UserId, room: RoomId) -> Result<Option<i64>>;
    /// Moves the read marker forward (never back, never past the room's log); `None` if it
    /// did not move.
    async fn advance_read_marker(
        &mut self,
        user: UserId,
        room: RoomId,
        seq: i64,
    ) -> Result<Option<i64>>;
    /// The rooms `user` is a member of.
    async fn member_room_ids(&mut self, user: UserId) -> Result<Vec<RoomId>>;
    /// The members of `room`.
    async fn member_ids(&mut self, room: RoomId) -> Result<Vec<UserId>>;
    /// Every room with its member and message counts and last activity (`online` left at 0).
    async fn room_figures(&mut self) -> Result<Vec<AdminRoom>>;
    /// Every (room, member) pair.
    async fn all_memberships(&mut self) -> Result<Vec<(RoomId, UserId)>>;
    /// The ten rooms with the most messages (not deleted) in the last hour, busiest first.
    async fn busiest_rooms_last_hour(&mut self) -> Result<Vec<RoomActivity>>;

    // The admin action log.

    /// Appends an entry.
    async fn insert_action(
        &mut self,
        admin: UserId,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<()>;
    /// The newest `limit` entries, newest first.
    async fn recent_actions(&mut self, limit: i64) -> Result<Vec<AdminAction>>;
}
