//! All SQL on `messages` and `mentions`. Every change to a room's messages takes the room's
//! next `seq` (`next_seq`), inside the writer's transaction.

use app::models::{Message, MessageId, RoomId, UserId, UserRef};
use sqlx::{SqliteConnection, SqliteExecutor};

/// A `messages` row joined with its author's name.
pub struct MessageRow {
    pub id: i64,
    pub room_id: i64,
    pub seq: i64,
    pub user_id: i64,
    pub username: String,
    pub text: String,
    pub client_id: Option<String>,
    pub created_at: String,
    pub edited_at: Option<String>,
    pub deleted: bool,
}

impl From<MessageRow> for Message {
    fn from(row: MessageRow) -> Self {
        Message {
            id: MessageId(row.id),
            room_id: RoomId(row.room_id),
            seq: row.seq,
            user: UserRef {
                id: UserId(row.user_id),
                username: row.username,
            },
            text: row.text,
            client_id: row.client_id,
            created_at: row.created_at,
            edited_at: row.edited_at,
            deleted: row.deleted,
        }
    }
}

/// Takes the room's next `seq`.
pub async fn next_seq(conn: &mut SqliteConnection, room: RoomId) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq AS "seq!: i64""#,
        room.0
    )
    .fetch_one(&mut *conn)
    .await
}

/// A message by id.
pub async fn find_message(
    db: impl SqliteExecutor<'_>,
    id: MessageId,
) -> sqlx::Result<Option<Message>> {
    let row = sqlx::query_as!(
        MessageRow,
        r#"SELECT m.id, m.room_id, m.seq, m.user_id, u.username, m.text, m.client_id,
                  m.created_at, m.edited_at, m.deleted AS "deleted: bool"
           FROM messages m JOIN users u ON u.id = m.user_id WHERE m.id = ?"#,
        id.0
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(Message::from))
}

/// The message `user` already sent with `client_id`, if any.
pub async fn find_by_client_id(
    db: impl SqliteExecutor<'_>,
    user: UserId,
    client_id: &str,
) -> sqlx::Result<Option<Message>> {
    let row = sqlx::query_as!(
        MessageRow,
        r#"SELECT m.id, m.room_id, m.seq, m.user_id, u.username, m.text, m.client_id,
                  m.created_at, m.edited_at, m.deleted AS "deleted: bool"
           FROM messages m JOIN users u ON u.id = m.user_id
           WHERE m.user_id = ? AND m.client_id = ?"#,
        user.0,
        client_id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(Message::from))
}

/// Inserts a new message at the room's next `seq` if `user` is a member of the (unarchived) room
/// and `client_id` is new for them; `None` otherwise (nothing written). The room's `last_seq`
/// is then moved by `advance_seq` in the same transaction.
pub async fn insert_message(
    conn: &mut SqliteConnection,
    room: RoomId,
    user: &UserRef,
    text: &str,
    client_id: Option<&str>,
) -> sqlx::Result<Option<Message>> {
    let row = sqlx::query!(
        r#"INSERT INTO messages (room_id, user_id, seq, created_seq, text, client_id)
           SELECT r.id, ?2, r.last_seq + 1, r.last_seq + 1, ?3, ?4 FROM rooms r
           WHERE r.id = ?1 AND r.archived = 0
             AND EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = ?2 AND m.room_id = r.id)
           ON CONFLICT (user_id, client_id) DO NOTHING
           RETURNING id AS "id!: i64", seq AS "seq!: i64", created_at"#,
        room.0,
        user.id.0,
        text,
        client_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|row| Message {
        id: MessageId(row.id),
        room_id: room,
        seq: row.seq,
        user: user.clone(),
        text: text.to_owned(),
        client_id: client_id.map(str::to_owned),
        created_at: row.created_at,
        edited_at: None,
        deleted: false,
    }))
}

/// Moves the room's `last_seq` past the message just inserted.
pub async fn advance_seq(conn: &mut SqliteConnection, room: RoomId) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ?",
        room.0
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Replaces a message's text at `seq`; returns the edit time.
pub async fn update_message_text(
    conn: &mut SqliteConnection,
    id: MessageId,
    seq: i64,
    text: &str,
) -> sqlx::Result<String> {
    sqlx::query_scalar!(
        r#"UPDATE messages SET text = ?, seq = ?, edited_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           WHERE id = ? RETURNING edited_at AS "edited_at!: String""#,
        text,
        seq,
        id.0
    )
    .fetch_one(&mut *conn)
    .await
}

/// Turns a message into a tombstone at `seq` (empty text, no mentions).
pub async fn tombstone_message(
    conn: &mut SqliteConnection,
    id: MessageId,
    seq: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE messages SET text = '', deleted = 1, seq = ? WHERE id = ?",
        seq,
        id.0
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!("DELETE FROM mentions WHERE message_id = ?", id.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records who a message mentions among the room's members; returns them.
pub async fn insert_mentions(
    conn: &mut SqliteConnection,
    message: MessageId,
    room: RoomId,
    usernames: &[&str],
) -> sqlx::Result<Vec<UserId>> {
    let mut mentioned = Vec::new();
    for name in usernames {
        let id = sqlx::query_scalar!(
            r#"INSERT INTO mentions (message_id, user_id)
               SELECT ?, u.id FROM users u JOIN memberships m ON m.user_id = u.id AND m.room_id = ?
               WHERE u.username = ?
               ON CONFLICT DO NOTHING
               RETURNING user_id AS "user_id!: i64""#,
            message.0,
            room.0,
            name
        )
        .fetch_optional(&mut *conn)
        .await?;
        mentioned.extend(id.map(UserId));
    }
    Ok(mentioned)
}

/// The room's changes after `since` (new, edited, deleted), in `seq` order, at most `limit`.
pub async fn changes_since(
    db: impl SqliteExecutor<'_>,
    room: RoomId,
    since: i64,
    limit: i64,
) -> sqlx::Result<Vec<Message>> {
    let rows = sqlx::query_as!(
        MessageRow,
        r#"SELECT m.id, m.room_id, m.seq, m.user_id, u.username, m.text, m.client_id,
                  m.created_at, m.edited_at, m.deleted AS "deleted: bool"
           FROM messages m JOIN users u ON u.id = m.user_id
           WHERE m.room_id = ? AND m.seq > ?
           ORDER BY m.seq LIMIT ?"#,
        room.0,
        since,
        limit
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Message::from).collect())
}

/// Up to `limit` messages (no tombstones) older than `before` (or the newest), newest first.
pub async fn history(
    db: impl SqliteExecutor<'_>,
    room: RoomId,
    before: Option<MessageId>,
    limit: i64,
) -> sqlx::Result<Vec<Message>> {
    let before = before.map_or(i64::MAX, |b| b.0);
    let rows = sqlx::query_as!(
        MessageRow,
        r#"SELECT m.id, m.room_id, m.seq, m.user_id, u.username, m.text, m.client_id,
                  m.created_at, m.edited_at, m.deleted AS "deleted: bool"
           FROM messages m JOIN users u ON u.id = m.user_id
           WHERE m.room_id = ? AND m.id < ? AND m.deleted = 0
           ORDER BY m.id DESC LIMIT ?"#,
        room.0,
        before,
        limit
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Message::from).collect())
}
