//! SQL reading `messages`. Every change to them is in `writes.rs`, run by the writer.

use app::models::{Message, MessageId, RoomId, UserId, UserRef};
use sqlx::SqliteExecutor;

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
