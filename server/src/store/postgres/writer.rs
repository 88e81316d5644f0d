//! PostgreSQL: the committer of room-log changes (`Store::start_writer`). One task per instance
//! takes the changes in queue order and commits those queued meanwhile in one transaction (group
//! commit: while one commit waits for the disk, the next batch gathers). A new message is one
//! statement: it takes the room's next `seq` under the room's row lock and inserts the message
//! in the same transaction, so a rolled-back change gives its `seq` back and the log has no gap,
//! and instances sending to one room queue on that row.

use super::{MessageRow, find_by_client_id, find_message};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::events::LogChange;
use crate::messages::writer::{
    Change, Committed, Job, MAX_BATCH, Outcome, applied, check_edit, mentions, refusal, retried,
};
use app::models::{Message, MessageId, RoomId, UserId, UserRef};
use app::validate::{ClientId, MessageText};
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;
use tokio::sync::mpsc;

/// Starts the committing task; it stops when `jobs` closes.
pub fn start(
    pool: PgPool,
    mut jobs: mpsc::Receiver<Job>,
    notify: bool,
) -> mpsc::UnboundedReceiver<Vec<Committed>> {
    let (committed_tx, committed) = mpsc::unbounded_channel::<Vec<Committed>>();
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(job) = jobs.recv().await {
            batch.push(job);
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let done = commit_batch(&pool, std::mem::take(&mut batch), notify).await;
            if committed_tx.send(done).is_err() {
                break;
            }
        }
    });
    committed
}

async fn commit_batch(pool: &PgPool, batch: Vec<Job>, notify: bool) -> Vec<Committed> {
    metrics::histogram!("writer_batch_size").record(batch.len() as f64);
    let (changes, replies): (Vec<Change>, Vec<_>) = batch.into_iter().unzip();
    // The whole batch in one transaction. A change refused by a rule fails before it writes, so
    // it fails alone. A database error inside a change (a constraint, a serialization failure)
    // undoes the batch, whose changes are then redone one transaction each; a lost connection
    // or an unreachable database fails the whole batch at once (`internal`), rather than
    // waiting for it once per change.
    let outcomes = match run_batch(pool, &changes, notify).await {
        Ok(outcomes) => outcomes,
        Err(e @ sqlx::Error::Database(_)) if changes.len() > 1 => {
            tracing::warn!(error = ?e, size = changes.len(), "batch failed; committing its changes one by one");
            let mut outcomes = Vec::with_capacity(changes.len());
            for change in &changes {
                outcomes.push(
                    match run_batch(pool, std::slice::from_ref(change), notify).await {
                        Ok(mut one) => one
                            .pop()
                            .unwrap_or_else(|| Err(internal(anyhow::anyhow!("no outcome")))),
                        Err(e) => Err(internal(anyhow::Error::new(e))),
                    },
                );
            }
            outcomes
        }
        Err(e) => {
            let e = anyhow::Error::new(e);
            tracing::error!(error = ?e, size = changes.len(), "committing a batch of room-log changes");
            changes
                .iter()
                .map(|_| Err(internal(anyhow::anyhow!("the batch was not committed"))))
                .collect()
        }
    };
    outcomes.into_iter().zip(replies).collect()
}

fn internal(e: anyhow::Error) -> AppError {
    AppError::Internal(e.context("committing a room-log change"))
}

/// Consecutive sends from this many on are written together (`send_many`): a handful of
/// statements for the whole run instead of one round trip per message.
const SET_MIN: usize = 4;

/// Applies `changes` in one transaction and commits; dropping the transaction rolls back. In a
/// cluster (`notify`) the same transaction announces the published changes to every instance.
async fn run_batch(pool: &PgPool, changes: &[Change], notify: bool) -> sqlx::Result<Vec<Outcome>> {
    let mut tx = pool.begin().await?;
    let mut outcomes = Vec::with_capacity(changes.len());
    let mut next = 0;
    while next < changes.len() {
        let sends: Vec<Send<'_>> = changes[next..].iter().map_while(Send::of).collect();
        if sends.len() >= SET_MIN {
            next += sends.len();
            outcomes.extend(send_many(&mut tx, &sends).await?);
        } else {
            outcomes.push(apply(&mut tx, &changes[next]).await?);
            next += 1;
        }
    }
    if notify {
        super::notify::notify_log(&mut tx, super::notify::log_payloads(&outcomes)).await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// One send of a run, borrowed from its `Change`.
struct Send<'a> {
    me: &'a CurrentUser,
    room: RoomId,
    text: &'a MessageText,
    client_id: Option<&'a str>,
}

impl<'a> Send<'a> {
    /// The send a change is, if it is one.
    fn of(change: &'a Change) -> Option<Self> {
        match change {
            Change::Send {
                me,
                room,
                text,
                client_id,
            } => Some(Send {
                me,
                room: *room,
                text,
                client_id: client_id.as_ref().map(ClientId::as_str),
            }),
            _ => None,
        }
    }
}

/// What becomes of one send of a run.
enum Plan {
    Refused(AppError),
    Retried(i64),
    New(i64),
}

/// A run of sends in a few statements: lock their rooms (in id order, so instances locking the
/// same rooms cannot deadlock), read memberships and stored `clientId`s, decide each send as
/// `send` would, move each room's `last_seq` once, and insert every new message in one
/// statement. Each send's outcome is the one it would have had alone, in the same order.
async fn send_many(db: &mut PgConnection, sends: &[Send<'_>]) -> sqlx::Result<Vec<Outcome>> {
    // The same `clientId` twice in one run (a retry sent before its first ack): one at a time,
    // so the second finds the first.
    let mut seen = std::collections::HashSet::new();
    if sends
        .iter()
        .any(|s| s.client_id.is_some_and(|c| !seen.insert((s.me.id, c))))
    {
        let mut outcomes = Vec::with_capacity(sends.len());
        for s in sends {
            outcomes.push(send(db, s.me, s.room, s.text, s.client_id).await?);
        }
        return Ok(outcomes);
    }
    let mut room_ids: Vec<i64> = sends.iter().map(|s| s.room.0).collect();
    room_ids.sort_unstable();
    room_ids.dedup();
    let locked: Vec<(i64, bool, i64)> = sqlx::query_as(
        "SELECT id, archived, last_seq FROM rooms WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(&room_ids)
    .fetch_all(&mut *db)
    .await?;
    let mut rooms: HashMap<i64, (bool, i64)> = locked
        .into_iter()
        .map(|(id, archived, last_seq)| (id, (archived, last_seq)))
        .collect();
    let checks: Vec<(bool, Option<i64>)> = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = i.u AND m.room_id = i.r),
                (SELECT x.id FROM messages x WHERE x.user_id = i.u AND x.client_id = i.c)
         FROM unnest($1::bigint[], $2::bigint[], $3::text[]) WITH ORDINALITY AS i(r, u, c, n)
         ORDER BY i.n",
    )
    .bind(sends.iter().map(|s| s.room.0).collect::<Vec<_>>())
    .bind(sends.iter().map(|s| s.me.id.0).collect::<Vec<_>>())
    .bind(sends.iter().map(|s| s.client_id).collect::<Vec<_>>())
    .fetch_all(&mut *db)
    .await?;
    let plans: Vec<Plan> = sends
        .iter()
        .zip(checks)
        .map(
            |(send, (member, stored))| match (stored, rooms.get_mut(&send.room.0)) {
                (Some(id), _) => Plan::Retried(id),
                (None, None) => Plan::Refused(refusal(None)),
                (None, Some((archived, last_seq))) => {
                    if member && !*archived {
                        *last_seq += 1;
                        Plan::New(*last_seq)
                    } else {
                        Plan::Refused(refusal(Some((member, *archived))))
                    }
                }
            },
        )
        .collect();
    let new: Vec<(&Send<'_>, i64)> = sends
        .iter()
        .zip(&plans)
        .filter_map(|(send, plan)| match plan {
            Plan::New(seq) => Some((send, *seq)),
            _ => None,
        })
        .collect();
    let mut stored: HashMap<(i64, i64), (i64, String)> = HashMap::new();
    if !new.is_empty() {
        let moved: Vec<(i64, i64)> = rooms.iter().map(|(id, (_, seq))| (*id, *seq)).collect();
        sqlx::query(
            "UPDATE rooms SET last_seq = v.s FROM unnest($1::bigint[], $2::bigint[]) AS v(r, s)
             WHERE rooms.id = v.r AND rooms.last_seq < v.s",
        )
        .bind(moved.iter().map(|m| m.0).collect::<Vec<_>>())
        .bind(moved.iter().map(|m| m.1).collect::<Vec<_>>())
        .execute(&mut *db)
        .await?;
        let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(
            "INSERT INTO messages (room_id, user_id, seq, created_seq, text, client_id)
             SELECT r, u, s, s, t, c
             FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[])
                  AS v(r, u, s, t, c)
             RETURNING room_id, seq, id, rfc3339(created_at)",
        )
        .bind(new.iter().map(|(s, _)| s.room.0).collect::<Vec<_>>())
        .bind(new.iter().map(|(s, _)| s.me.id.0).collect::<Vec<_>>())
        .bind(new.iter().map(|(_, seq)| *seq).collect::<Vec<_>>())
        .bind(new.iter().map(|(s, _)| s.text.as_str()).collect::<Vec<_>>())
        .bind(new.iter().map(|(s, _)| s.client_id).collect::<Vec<_>>())
        .fetch_all(&mut *db)
        .await?;
        stored = rows
            .into_iter()
            .map(|(room, seq, id, created_at)| ((room, seq), (id, created_at)))
            .collect();
    }
    let retried_ids: Vec<i64> = plans
        .iter()
        .filter_map(|plan| match plan {
            Plan::Retried(id) => Some(*id),
            _ => None,
        })
        .collect();
    let mut earlier: HashMap<i64, Message> = HashMap::new();
    if !retried_ids.is_empty() {
        let rows: Vec<MessageRow> = sqlx::query_as(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages m JOIN users u ON u.id = m.user_id WHERE m.id = ANY($1)"
        ))
        .bind(&retried_ids)
        .fetch_all(&mut *db)
        .await?;
        earlier = rows.into_iter().map(|r| (r.id, Message::from(r))).collect();
    }
    let mut outcomes = Vec::with_capacity(sends.len());
    for (send, plan) in sends.iter().zip(plans) {
        outcomes.push(match plan {
            Plan::Refused(e) => Err(e),
            Plan::Retried(id) => match earlier.remove(&id) {
                Some(message) => retried(message),
                None => Err(AppError::Internal(anyhow::anyhow!(
                    "a stored message vanished"
                ))),
            },
            Plan::New(seq) => {
                let Some((id, created_at)) = stored.remove(&(send.room.0, seq)) else {
                    return Err(sqlx::Error::Protocol(
                        "an inserted message is missing".into(),
                    ));
                };
                let message = new_message(
                    send.me,
                    send.room,
                    seq,
                    id,
                    created_at,
                    send.text,
                    send.client_id,
                );
                let mentioned = insert_mentions(db, id, send.room, send.text).await?;
                applied(message, LogChange::New, mentioned)
            }
        });
    }
    Ok(outcomes)
}

/// A message just inserted.
fn new_message(
    me: &CurrentUser,
    room: RoomId,
    seq: i64,
    id: i64,
    created_at: String,
    text: &MessageText,
    client_id: Option<&str>,
) -> Message {
    Message {
        id: MessageId(id),
        room_id: room,
        seq,
        user: UserRef {
            id: me.id,
            username: me.username.clone(),
        },
        text: text.as_str().to_owned(),
        client_id: client_id.map(str::to_owned),
        created_at,
        edited_at: None,
        deleted: false,
    }
}

/// Records who a new message mentions among the room's members; returns them.
async fn insert_mentions(
    db: &mut PgConnection,
    message: i64,
    room: RoomId,
    text: &MessageText,
) -> sqlx::Result<Vec<UserId>> {
    let names: Vec<String> = mentions(text).iter().map(|n| n.to_lowercase()).collect();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO mentions (message_id, user_id)
         SELECT $1, u.id FROM users u
         JOIN memberships m ON m.user_id = u.id AND m.room_id = $2
         WHERE lower(u.username) = ANY($3)
         ON CONFLICT DO NOTHING
         RETURNING user_id",
    )
    .bind(message)
    .bind(room.0)
    .bind(&names)
    .fetch_all(db)
    .await?;
    Ok(ids.into_iter().map(UserId).collect())
}

async fn apply(db: &mut PgConnection, change: &Change) -> sqlx::Result<Outcome> {
    match change {
        Change::Send {
            me,
            room,
            text,
            client_id,
        } => {
            let client_id = client_id.as_ref().map(ClientId::as_str);
            send(db, me, *room, text, client_id).await
        }
        Change::Edit { me, message, text } => edit(db, me, *message, Some(text)).await,
        Change::Delete { me, message } => edit(db, me, *message, None).await,
    }
}

async fn send(
    db: &mut PgConnection,
    me: &CurrentUser,
    room: RoomId,
    text: &MessageText,
    client_id: Option<&str>,
) -> sqlx::Result<Outcome> {
    // One round trip in the common case: the room's next `seq` (only for a member of a room not
    // archived, and only if this `clientId` is not stored yet), and the message at it. `taken`
    // is the `seq` taken, `id` the message inserted; either is NULL when that step did nothing.
    let (taken, id, created_at): (Option<i64>, Option<i64>, Option<String>) = sqlx::query_as(
        "WITH r AS (
           UPDATE rooms SET last_seq = last_seq + 1
           WHERE id = $1 AND NOT archived
             AND EXISTS (SELECT 1 FROM memberships WHERE user_id = $2 AND room_id = $1)
             AND NOT EXISTS (SELECT 1 FROM messages WHERE user_id = $2 AND client_id = $4)
           RETURNING last_seq
         ), i AS (
           INSERT INTO messages (room_id, user_id, seq, created_seq, text, client_id)
           SELECT $1, $2, last_seq, last_seq, $3, $4 FROM r
           ON CONFLICT (user_id, client_id) DO NOTHING
           RETURNING id, rfc3339(created_at) AS created_at
         )
         SELECT (SELECT last_seq FROM r), i.id, i.created_at FROM (SELECT 1) AS one
         LEFT JOIN i ON true",
    )
    .bind(room.0)
    .bind(me.id.0)
    .bind(text.as_str())
    .bind(client_id)
    .fetch_one(&mut *db)
    .await?;
    let (Some(seq), Some(id), Some(created_at)) = (taken, id, created_at) else {
        if let Some(seq) = taken {
            // The same `clientId` was stored meanwhile by another instance: give the `seq` back
            // (this transaction still holds the room's row).
            sqlx::query("UPDATE rooms SET last_seq = last_seq - 1 WHERE id = $1 AND last_seq = $2")
                .bind(room.0)
                .bind(seq)
                .execute(&mut *db)
                .await?;
        }
        return refused_send(db, me, room, client_id).await;
    };
    let message = new_message(me, room, seq, id, created_at, text, client_id);
    let mentioned = insert_mentions(db, id, room, text).await?;
    Ok(applied(message, LogChange::New, mentioned))
}

/// Why a message was not inserted: a retried `clientId` (answered with the stored message), or a
/// rule (no such room, not a member, archived).
async fn refused_send(
    db: &mut PgConnection,
    me: &CurrentUser,
    room: RoomId,
    client_id: Option<&str>,
) -> sqlx::Result<Outcome> {
    if let Some(client_id) = client_id
        && let Some(message) = find_by_client_id(db, me.id, client_id).await?
    {
        return Ok(retried(message));
    }
    let found: Option<(bool, bool)> = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1 AND room_id = rooms.id),
                archived
         FROM rooms WHERE id = $2",
    )
    .bind(me.id.0)
    .bind(room.0)
    .fetch_optional(&mut *db)
    .await?;
    Ok(Err(refusal(found)))
}

/// An edit (`Some(text)`) or a deletion (`None`).
async fn edit(
    db: &mut PgConnection,
    me: &CurrentUser,
    id: MessageId,
    text: Option<&MessageText>,
) -> sqlx::Result<Outcome> {
    let mut found = find_message(db, id).await?;
    // The room's row lock orders this change after any other of the room's, from any
    // instance; the message is read again under it, as another instance may have changed it
    // between the first read and the lock.
    let archived: Option<bool> = match &found {
        Some(message) => {
            let archived =
                sqlx::query_scalar("SELECT archived FROM rooms WHERE id = $1 FOR UPDATE")
                    .bind(message.room_id.0)
                    .fetch_optional(&mut *db)
                    .await?;
            found = find_message(db, id).await?;
            archived
        }
        None => None,
    };
    if let Err(e) = check_edit(me, found.as_ref(), archived) {
        return Ok(Err(e));
    }
    let Some(mut message) = found else {
        return Ok(Err(AppError::NotFound("No such message.".into())));
    };
    let seq: i64 = sqlx::query_scalar(
        "UPDATE rooms SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq",
    )
    .bind(message.room_id.0)
    .fetch_one(&mut *db)
    .await?;
    message.seq = seq;
    let change = match text {
        Some(text) => {
            let edited_at: String = sqlx::query_scalar(
                "UPDATE messages SET text = $1, seq = $2, edited_at = clock_timestamp()
                 WHERE id = $3 RETURNING rfc3339(edited_at)",
            )
            .bind(text.as_str())
            .bind(seq)
            .bind(id.0)
            .fetch_one(&mut *db)
            .await?;
            message.edited_at = Some(edited_at);
            message.text = text.as_str().to_owned();
            LogChange::Updated
        }
        None => {
            sqlx::query("UPDATE messages SET text = '', deleted = true, seq = $1 WHERE id = $2")
                .bind(seq)
                .bind(id.0)
                .execute(&mut *db)
                .await?;
            sqlx::query("DELETE FROM mentions WHERE message_id = $1")
                .bind(id.0)
                .execute(&mut *db)
                .await?;
            message.text.clear();
            message.deleted = true;
            LogChange::Deleted
        }
    };
    Ok(applied(message, change, Vec::new()))
}
