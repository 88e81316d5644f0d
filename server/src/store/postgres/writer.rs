//! PostgreSQL: the committer of room-log changes (`Store::start_writer`). One task per instance
//! takes the changes in queue order and commits those queued meanwhile in one transaction (group
//! commit: while one commit waits for the disk, the next batch gathers). A new message is one
//! statement: it takes the room's next `seq` under the room's row lock and inserts the message
//! in the same transaction, so a rolled-back change gives its `seq` back and the log has no gap,
//! and instances sending to one room queue on that row.

use super::{find_by_client_id, find_message};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::events::LogChange;
use crate::messages::writer::{
    Change, Committed, Job, MAX_BATCH, Outcome, applied, check_edit, mentions, refusal, retried,
};
use app::models::{Message, MessageId, RoomId, UserId, UserRef};
use app::validate::{ClientId, MessageText};
use sqlx::{PgConnection, PgPool};
use tokio::sync::mpsc;

/// Starts the committing task; it stops when `jobs` closes.
pub fn start(
    pool: PgPool,
    mut jobs: mpsc::Receiver<Job>,
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
            let done = commit_batch(&pool, std::mem::take(&mut batch)).await;
            if committed_tx.send(done).is_err() {
                break;
            }
        }
    });
    committed
}

async fn commit_batch(pool: &PgPool, batch: Vec<Job>) -> Vec<Committed> {
    metrics::histogram!("writer_batch_size").record(batch.len() as f64);
    let (changes, replies): (Vec<Change>, Vec<_>) = batch.into_iter().unzip();
    // The whole batch in one transaction. A change refused by a rule fails before it writes, so
    // it fails alone. A database error inside a change (a constraint, a serialization failure)
    // undoes the batch, whose changes are then redone one transaction each; a lost connection
    // or an unreachable database fails the whole batch at once (`internal`), rather than
    // waiting for it once per change.
    let outcomes = match run_batch(pool, &changes).await {
        Ok(outcomes) => outcomes,
        Err(e @ sqlx::Error::Database(_)) if changes.len() > 1 => {
            tracing::warn!(error = ?e, size = changes.len(), "batch failed; committing its changes one by one");
            let mut outcomes = Vec::with_capacity(changes.len());
            for change in &changes {
                outcomes.push(match run_batch(pool, std::slice::from_ref(change)).await {
                    Ok(mut one) => one
                        .pop()
                        .unwrap_or_else(|| Err(internal(anyhow::anyhow!("no outcome")))),
                    Err(e) => Err(internal(anyhow::Error::new(e))),
                });
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

/// Applies `changes` in one transaction and commits; dropping the transaction rolls back.
async fn run_batch(pool: &PgPool, changes: &[Change]) -> sqlx::Result<Vec<Outcome>> {
    let mut tx = pool.begin().await?;
    let mut outcomes = Vec::with_capacity(changes.len());
    for change in changes {
        outcomes.push(apply(&mut tx, change).await?);
    }
    tx.commit().await?;
    Ok(outcomes)
}

async fn apply(db: &mut PgConnection, change: &Change) -> sqlx::Result<Outcome> {
    match change {
        Change::Send {
            me,
            room,
            text,
            client_id,
        } => send(db, me, *room, text, client_id.as_ref()).await,
        Change::Edit { me, message, text } => edit(db, me, *message, Some(text)).await,
        Change::Delete { me, message } => edit(db, me, *message, None).await,
    }
}

async fn send(
    db: &mut PgConnection,
    me: &CurrentUser,
    room: RoomId,
    text: &MessageText,
    client_id: Option<&ClientId>,
) -> sqlx::Result<Outcome> {
    let client_id = client_id.map(ClientId::as_str);
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
    let message = Message {
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
    };
    let names: Vec<String> = mentions(text).iter().map(|n| n.to_lowercase()).collect();
    let mentioned = if names.is_empty() {
        Vec::new()
    } else {
        let ids: Vec<i64> = sqlx::query_scalar(
            "INSERT INTO mentions (message_id, user_id)
             SELECT $1, u.id FROM users u
             JOIN memberships m ON m.user_id = u.id AND m.room_id = $2
             WHERE lower(u.username) = ANY($3)
             ON CONFLICT DO NOTHING
             RETURNING user_id",
        )
        .bind(id)
        .bind(room.0)
        .bind(&names)
        .fetch_all(&mut *db)
        .await?;
        ids.into_iter().map(UserId).collect()
    };
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
    let found = find_message(db, id).await?;
    // The room's row lock, taken here, orders this change after any other of the room's.
    let archived: Option<bool> = match &found {
        Some(message) => {
            sqlx::query_scalar("SELECT archived FROM rooms WHERE id = $1 FOR UPDATE")
                .bind(message.room_id.0)
                .fetch_optional(&mut *db)
                .await?
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
