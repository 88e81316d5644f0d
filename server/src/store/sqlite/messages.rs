//! SQLite: all SQL on `messages`, over synchronous connections (rusqlite): changes run on the
//! writer's thread (`writer.rs`), reads on `Readers`. The async driver hands every statement,
//! and every row of a result, across threads through a channel; the benchmarks showed those
//! thread switches to be most of a message's cost, and most of a 500-row catch-up page's.

use app::models::{Message, MessageId, RoomId, UserId, UserRef};
use rusqlite::{Connection, OptionalExtension, Row, params};

const MESSAGE_COLUMNS: &str = "m.id, m.room_id, m.seq, m.user_id, u.username, m.text, m.client_id,
     m.created_at, m.edited_at, m.deleted";

fn message(row: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: MessageId(row.get(0)?),
        room_id: RoomId(row.get(1)?),
        seq: row.get(2)?,
        user: UserRef {
            id: UserId(row.get(3)?),
            username: row.get(4)?,
        },
        text: row.get(5)?,
        client_id: row.get(6)?,
        created_at: row.get(7)?,
        edited_at: row.get(8)?,
        deleted: row.get(9)?,
    })
}

/// The room's `last_seq`, if `user` may send to it now: a member, and the room not archived.
pub fn sendable_last_seq(
    conn: &Connection,
    room: RoomId,
    user: UserId,
) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT r.last_seq FROM rooms r
         WHERE r.id = ?1 AND r.archived = 0
           AND EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = ?2 AND m.room_id = r.id)",
    )?
    .query_row(params![room.0, user.0], |row| row.get(0))
    .optional()
}

/// Inserts a new message at `seq` (the caller moves the room's `last_seq` to it in the same
/// transaction); `None` when `client_id` is already stored for `user` (nothing written).
///
/// One row with `VALUES` and no `RETURNING` on purpose: SQLite runs `INSERT … SELECT` and
/// `RETURNING` (a trigger, with a temporary table for its rows) with a statement journal, and
/// those were a tenth of the writer's time per message. `created_at` is therefore made here, in
/// SQLite's format, rather than by the column's default.
pub fn insert_message(
    conn: &Connection,
    room: RoomId,
    user: &UserRef,
    seq: i64,
    text: &str,
    client_id: Option<&str>,
) -> rusqlite::Result<Option<Message>> {
    let created_at = now_millis();
    let inserted = conn
        .prepare_cached(
            "INSERT INTO messages (room_id, user_id, seq, created_seq, text, client_id, created_at)
             VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6)
             ON CONFLICT (user_id, client_id) DO NOTHING",
        )?
        .execute(params![room.0, user.id.0, seq, text, client_id, created_at])?;
    if inserted == 0 {
        return Ok(None);
    }
    Ok(Some(Message {
        id: MessageId(conn.last_insert_rowid()),
        room_id: room,
        seq,
        user: user.clone(),
        text: text.to_owned(),
        client_id: client_id.map(str::to_owned),
        created_at,
        edited_at: None,
        deleted: false,
    }))
}

/// Moves the room's `last_seq` to `seq`, the one a new message just took.
pub fn set_last_seq(conn: &Connection, room: RoomId, seq: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE rooms SET last_seq = ?2 WHERE id = ?1")?
        .execute(params![room.0, seq])?;
    Ok(())
}

/// Now as SQLite's `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')` writes it (the format of every
/// `created_at`): UTC, milliseconds.
fn now_millis() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Takes the room's next `seq`, for an edit or a deletion.
pub fn next_seq(conn: &Connection, room: RoomId) -> rusqlite::Result<i64> {
    conn.prepare_cached("UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq")?
        .query_row([room.0], |row| row.get(0))
}

/// Records who a message mentions among the room's members; returns them.
pub fn insert_mentions(
    conn: &Connection,
    message: MessageId,
    room: RoomId,
    usernames: &[&str],
) -> rusqlite::Result<Vec<UserId>> {
    let mut statement = conn.prepare_cached(
        "INSERT INTO mentions (message_id, user_id)
         SELECT ?, u.id FROM users u JOIN memberships m ON m.user_id = u.id AND m.room_id = ?
         WHERE u.username = ?
         ON CONFLICT DO NOTHING
         RETURNING user_id",
    )?;
    let mut mentioned = Vec::new();
    for name in usernames {
        let id = statement
            .query_row(params![message.0, room.0, name], |row| row.get(0))
            .optional()?;
        mentioned.extend(id.map(UserId));
    }
    Ok(mentioned)
}

/// A message by id.
pub fn find_message(conn: &Connection, id: MessageId) -> rusqlite::Result<Option<Message>> {
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.user_id WHERE m.id = ?"
    ))?
    .query_row([id.0], message)
    .optional()
}

/// The message `user` already sent with `client_id`, if any.
pub fn find_by_client_id(
    conn: &Connection,
    user: UserId,
    client_id: &str,
) -> rusqlite::Result<Option<Message>> {
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.user_id
         WHERE m.user_id = ? AND m.client_id = ?"
    ))?
    .query_row(params![user.0, client_id], message)
    .optional()
}

/// The room's changes after `since` (new, edited, deleted), in `seq` order, at most `limit`.
pub fn changes_since(
    conn: &Connection,
    room: RoomId,
    since: i64,
    limit: i64,
) -> rusqlite::Result<Vec<Message>> {
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.user_id
         WHERE m.room_id = ? AND m.seq > ?
         ORDER BY m.seq LIMIT ?"
    ))?
    .query_map(params![room.0, since, limit], message)?
    .collect()
}

/// Up to `limit` messages (no tombstones) older than message `before` (or the newest), newest
/// first.
///
/// There is no `(room_id, id)` index: every index on `messages` costs each new message a page
/// write, so history reads the two that exist. Within a room, ids and `created_seq` rise
/// together, so "older than `before`" is "created before `before`'s `created_seq`". A message
/// never changed since its creation sits at that seq in the catch-up index `(room_id, seq)`;
/// the few edited ones are found by `created_seq` in the partial index `messages_edited`. Both
/// reads come newest first, and the newest `limit` of the two are the page.
pub fn history(
    conn: &Connection,
    room: RoomId,
    before: Option<MessageId>,
    limit: i64,
) -> rusqlite::Result<Vec<Message>> {
    let below = match before {
        None => i64::MAX,
        Some(before) => created_seq_below(conn, room, before)?,
    };
    let unchanged = conn
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.user_id
             WHERE m.room_id = ?1 AND m.seq < ?2 AND m.seq = m.created_seq AND m.deleted = 0
             ORDER BY m.seq DESC LIMIT ?3"
        ))?
        .query_map(params![room.0, below, limit], message)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let edited = conn
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.user_id
             WHERE m.room_id = ?1 AND m.created_seq < ?2
               AND m.seq != m.created_seq AND m.deleted = 0
             ORDER BY m.created_seq DESC LIMIT ?3"
        ))?
        .query_map(params![room.0, below, limit], message)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut page = unchanged;
    page.extend(edited);
    page.sort_unstable_by_key(|m| std::cmp::Reverse(m.id));
    page.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(page)
}

/// The `created_seq` that messages of `room` older than message `before` are below.
fn created_seq_below(conn: &Connection, room: RoomId, before: MessageId) -> rusqlite::Result<i64> {
    let own = conn
        .prepare_cached("SELECT created_seq FROM messages WHERE id = ?1 AND room_id = ?2")?
        .query_row(params![before.0, room.0], |row| {
            row.get::<_, Option<i64>>(0)
        })
        .optional()?
        .flatten();
    if let Some(seq) = own {
        return Ok(seq);
    }
    // Not a message of this room (a client's odd cursor): compare ids. Within a room ids rise
    // with `created_seq`, so a binary search over `created_seq` finds the boundary in about
    // twenty index seeks, where a scan of the room's messages would read all of them.
    let last_seq: i64 = conn
        .prepare_cached("SELECT last_seq FROM rooms WHERE id = ?1")?
        .query_row([room.0], |row| row.get(0))
        .optional()?
        .unwrap_or(0);
    let (mut low, mut high) = (0, last_seq);
    while low < high {
        let mid = low + (high - low + 1) / 2;
        match newest_created_at_or_below(conn, room, mid)? {
            Some(id) if id >= before.0 => high = mid - 1,
            _ => low = mid,
        }
    }
    Ok(low + 1)
}

/// The id of the newest message of `room` that history shows (not deleted) created at or below
/// `created_seq`: the unchanged ones sit at their `seq` in the catch-up index, the edited ones in
/// `messages_edited`.
fn newest_created_at_or_below(
    conn: &Connection,
    room: RoomId,
    created_seq: i64,
) -> rusqlite::Result<Option<i64>> {
    let unchanged: Option<(i64, i64)> = conn
        .prepare_cached(
            "SELECT id, seq FROM messages
             WHERE room_id = ?1 AND seq <= ?2 AND seq = created_seq AND deleted = 0
             ORDER BY seq DESC LIMIT 1",
        )?
        .query_row(params![room.0, created_seq], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    let edited: Option<(i64, i64)> = conn
        .prepare_cached(
            "SELECT id, created_seq FROM messages
             WHERE room_id = ?1 AND created_seq <= ?2 AND seq != created_seq AND deleted = 0
             ORDER BY created_seq DESC LIMIT 1",
        )?
        .query_row(params![room.0, created_seq], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    // Of the two, the one created later.
    Ok(unchanged
        .into_iter()
        .chain(edited)
        .max_by_key(|(_, seq)| *seq)
        .map(|(id, _)| id))
}

/// Whether `user` is a member of `room` and whether it is archived; `None` if there is no room.
pub fn membership_and_archived(
    conn: &Connection,
    user: UserId,
    room: RoomId,
) -> rusqlite::Result<Option<(bool, bool)>> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM memberships WHERE user_id = ? AND room_id = rooms.id),
                archived
         FROM rooms WHERE id = ?",
    )?
    .query_row(params![user.0, room.0], |row| {
        Ok((row.get(0)?, row.get(1)?))
    })
    .optional()
}

/// Whether the room is archived; `None` if there is no room.
pub fn room_archived(conn: &Connection, room: RoomId) -> rusqlite::Result<Option<bool>> {
    conn.prepare_cached("SELECT archived FROM rooms WHERE id = ?")?
        .query_row([room.0], |row| row.get(0))
        .optional()
}

/// Replaces a message's text at `seq`; returns the edit time.
pub fn update_message_text(
    conn: &Connection,
    id: MessageId,
    seq: i64,
    text: &str,
) -> rusqlite::Result<String> {
    conn.prepare_cached(
        "UPDATE messages SET text = ?, seq = ?, edited_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ? RETURNING edited_at",
    )?
    .query_row(params![text, seq, id.0], |row| row.get(0))
}

/// Turns a message into a tombstone at `seq` (empty text, no mentions).
pub fn tombstone_message(conn: &Connection, id: MessageId, seq: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE messages SET text = '', deleted = 1, seq = ? WHERE id = ?")?
        .execute(params![seq, id.0])?;
    conn.prepare_cached("DELETE FROM mentions WHERE message_id = ?")?
        .execute([id.0])?;
    Ok(())
}
