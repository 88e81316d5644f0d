//! SQLite: all SQL on `rooms` and `memberships`.

use app::models::{Room, RoomActivity, RoomId, UserId};
use sqlx::SqliteExecutor;

/// A `rooms` row.
pub struct RoomRow {
    pub id: i64,
    pub name: String,
    pub topic: String,
    pub archived: bool,
    pub created_at: String,
    pub last_seq: i64,
}

impl From<RoomRow> for Room {
    fn from(row: RoomRow) -> Self {
        Room {
            id: RoomId(row.id),
            name: row.name,
            topic: row.topic,
            archived: row.archived,
            created_at: row.created_at,
            last_seq: row.last_seq,
            member: None,
            last_read_seq: None,
            unread: None,
            unread_mentions: None,
        }
    }
}

/// A room by id.
pub async fn find_room(db: impl SqliteExecutor<'_>, room: RoomId) -> sqlx::Result<Option<Room>> {
    let row = sqlx::query_as!(
        RoomRow,
        r#"SELECT id, name, topic, archived AS "archived: bool", created_at, last_seq
           FROM rooms WHERE id = ?"#,
        room.0
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(Room::from))
}

/// Every room with the caller's membership, read marker and unread counts (each at most
/// `rooms::UNREAD_COUNT_MAX`); archived last.
pub async fn list_rooms_for(db: impl SqliteExecutor<'_>, user: UserId) -> sqlx::Result<Vec<Room>> {
    let rows = sqlx::query!(
        r#"SELECT r.id, r.name, r.topic, r.archived AS "archived: bool", r.created_at, r.last_seq,
                  m.user_id IS NOT NULL AS "member!: bool",
                  COALESCE(m.last_read_seq, 0) AS "last_read_seq!: i64",
                  CASE WHEN m.user_id IS NULL THEN 0 ELSE
                    -- `seq` is never below `created_seq`, so `seq > last_read_seq` changes
                    -- nothing but lets the catch-up index read only the unread part of the room.
                    -- Counted up to 100 (UNREAD_COUNT_MAX; a client shows "99+"): a room
                    -- a million messages behind costs no more than one 100 behind.
                    (SELECT COUNT(*) FROM (SELECT 1 FROM messages x
                     WHERE x.room_id = r.id AND x.seq > m.last_read_seq
                       AND COALESCE(x.created_seq, x.seq) > m.last_read_seq
                       AND x.user_id != ?1 AND x.deleted = 0 LIMIT 100)) END AS "unread!: i64",
                  CASE WHEN m.user_id IS NULL THEN 0 ELSE
                    -- CROSS JOIN keeps this order: the user's mentions first (few), each
                    -- message looked up by id; the other way reads every message of the room.
                    (SELECT COUNT(*) FROM (SELECT 1 FROM mentions n
                     CROSS JOIN messages x ON x.id = n.message_id
                     WHERE n.user_id = ?1 AND x.room_id = r.id
                       AND COALESCE(x.created_seq, x.seq) > m.last_read_seq
                       AND x.deleted = 0 LIMIT 100)) END AS "unread_mentions!: i64"
           FROM rooms r
           LEFT JOIN memberships m ON m.room_id = r.id AND m.user_id = ?1
           ORDER BY r.archived, r.name"#,
        user.0
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Room {
            id: RoomId(r.id),
            name: r.name,
            topic: r.topic,
            archived: r.archived,
            created_at: r.created_at,
            last_seq: r.last_seq,
            member: Some(r.member),
            last_read_seq: Some(r.last_read_seq),
            unread: Some(r.unread),
            unread_mentions: Some(r.unread_mentions),
        })
        .collect())
}

/// Creates a room (the name is unique case-insensitively).
pub async fn insert_room(
    db: impl SqliteExecutor<'_>,
    name: &str,
    topic: &str,
) -> sqlx::Result<Room> {
    let row = sqlx::query_as!(
        RoomRow,
        r#"INSERT INTO rooms (name, topic) VALUES (?, ?)
           RETURNING id, name, topic, archived AS "archived: bool", created_at, last_seq"#,
        name,
        topic
    )
    .fetch_one(db)
    .await?;
    Ok(row.into())
}

/// Changes what is given; returns the room, or `None` if there is no such room.
pub async fn update_room(
    db: impl SqliteExecutor<'_>,
    room: RoomId,
    name: Option<&str>,
    topic: Option<&str>,
    archived: Option<bool>,
) -> sqlx::Result<Option<Room>> {
    let row = sqlx::query_as!(
        RoomRow,
        r#"UPDATE rooms SET name = COALESCE(?, name), topic = COALESCE(?, topic),
                            archived = COALESCE(?, archived)
           WHERE id = ?
           RETURNING id, name, topic, archived AS "archived: bool", created_at, last_seq"#,
        name,
        topic,
        archived,
        room.0
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(Room::from))
}

/// Deletes a room with its messages and memberships; false if there was none.
pub async fn delete_room(db: impl SqliteExecutor<'_>, room: RoomId) -> sqlx::Result<bool> {
    let done = sqlx::query!("DELETE FROM rooms WHERE id = ?", room.0)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Makes `user` a member (no-op if already).
pub async fn insert_membership(
    db: impl SqliteExecutor<'_>,
    user: UserId,
    room: RoomId,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO memberships (user_id, room_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        user.0,
        room.0
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Ends a membership; false if there was none.
pub async fn delete_membership(
    db: impl SqliteExecutor<'_>,
    user: UserId,
    room: RoomId,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "DELETE FROM memberships WHERE user_id = ? AND room_id = ?",
        user.0,
        room.0
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The read marker, if `user` is a member.
pub async fn find_read_marker(
    db: impl SqliteExecutor<'_>,
    user: UserId,
    room: RoomId,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        "SELECT last_read_seq FROM memberships WHERE user_id = ? AND room_id = ?",
        user.0,
        room.0
    )
    .fetch_optional(db)
    .await
}

/// Moves the read marker forward (never back, never past the room's log); returns it, or
/// `None` if it did not move (already there, or `user` is not a member).
pub async fn advance_read_marker(
    db: impl SqliteExecutor<'_>,
    user: UserId,
    room: RoomId,
    seq: i64,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        r#"UPDATE memberships
           SET last_read_seq = MIN(?1, (SELECT last_seq FROM rooms WHERE id = memberships.room_id))
           WHERE user_id = ?2 AND room_id = ?3
             AND last_read_seq < MIN(?1, (SELECT last_seq FROM rooms WHERE id = memberships.room_id))
           RETURNING last_read_seq"#,
        seq,
        user.0,
        room.0
    )
    .fetch_optional(db)
    .await
}

/// The rooms `user` is a member of.
pub async fn member_room_ids(
    db: impl SqliteExecutor<'_>,
    user: UserId,
) -> sqlx::Result<Vec<RoomId>> {
    let ids = sqlx::query_scalar!("SELECT room_id FROM memberships WHERE user_id = ?", user.0)
        .fetch_all(db)
        .await?;
    Ok(ids.into_iter().map(RoomId).collect())
}

/// The members of `room`.
pub async fn member_ids(db: impl SqliteExecutor<'_>, room: RoomId) -> sqlx::Result<Vec<UserId>> {
    let ids = sqlx::query_scalar!("SELECT user_id FROM memberships WHERE room_id = ?", room.0)
        .fetch_all(db)
        .await?;
    Ok(ids.into_iter().map(UserId).collect())
}

/// Every room with its member and message counts and last activity (`online` left at 0).
pub async fn room_figures(
    db: impl SqliteExecutor<'_>,
) -> sqlx::Result<Vec<app::models::AdminRoom>> {
    let rows = sqlx::query!(
        r#"SELECT r.id, r.name, r.topic, r.archived AS "archived: bool",
                  (SELECT COUNT(*) FROM memberships WHERE room_id = r.id) AS "members!: i64",
                  (SELECT COUNT(*) FROM messages WHERE room_id = r.id AND deleted = 0) AS "messages!: i64",
                  (SELECT MAX(created_at) FROM messages WHERE room_id = r.id) AS "last_activity?: String"
           FROM rooms r ORDER BY r.archived, r.name"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| app::models::AdminRoom {
            id: RoomId(r.id),
            name: r.name,
            topic: r.topic,
            archived: r.archived,
            members: r.members,
            online: 0,
            messages: r.messages,
            last_activity: r.last_activity,
        })
        .collect())
}

/// Every (room, member) pair.
pub async fn all_memberships(db: impl SqliteExecutor<'_>) -> sqlx::Result<Vec<(RoomId, UserId)>> {
    let rows = sqlx::query!("SELECT room_id, user_id FROM memberships")
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (RoomId(r.room_id), UserId(r.user_id)))
        .collect())
}

/// The ten rooms with the most messages (not deleted) in the last hour, busiest first.
pub async fn busiest_rooms_last_hour(
    db: impl SqliteExecutor<'_>,
) -> sqlx::Result<Vec<RoomActivity>> {
    // "The last hour" as the messages after the newest one older than an hour: the writer
    // stamps messages in id order, so that is a walk back over the hour's messages by id, with
    // no index on `created_at` for every message to pay for. NOT INDEXED keeps the count on
    // that id range (the planner would rather walk a whole room index for the GROUP BY).
    let rows = sqlx::query!(
        r#"SELECT m.room_id AS "room_id!: i64", r.name, COUNT(*) AS "messages!: i64"
           FROM messages m NOT INDEXED JOIN rooms r ON r.id = m.room_id
           WHERE m.id > COALESCE(
                   (SELECT id FROM messages
                    WHERE created_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 hour')
                    ORDER BY id DESC LIMIT 1), 0)
             AND m.deleted = 0
           GROUP BY m.room_id ORDER BY 3 DESC, r.name LIMIT 10"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| RoomActivity {
            id: RoomId(r.room_id),
            name: r.name,
            messages: r.messages,
        })
        .collect())
}
