//! SQLite: the committer of room-log changes (`Store::start_writer`). One thread with its own
//! connection commits every change, in queue order, grouping those queued meanwhile into one
//! transaction; its outcomes go, batch by batch, to `messages::writer`'s publishing task, so
//! while that task broadcasts one batch the thread already commits the next.

use super::messages as store;
use crate::auth::CurrentUser;
use crate::config::Durability;
use crate::error::AppError;
use crate::events::LogChange;
use crate::messages::writer::{
    Change, Committed, Job, LINGER, MAX_BATCH, Outcome, applied, check_edit, mentions, refusal,
    retried,
};
use anyhow::Context;
use app::models::{MessageId, RoomId, UserRef};
use app::validate::{ClientId, MessageText};
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::mpsc;

/// The writer's page cache, in KiB (SQLite's default is 2 MiB). Every room takes new messages at
/// the end of its own range of the catch-up index, and every sender at the end of theirs in the
/// `clientId` index: with many active rooms and senders those index pages no longer fit in 2 MiB,
/// and each commit read them back from the file.
const CACHE_KIB: i64 = 16 * 1024;

/// Opens the writer's own connection to `path` (the file the pool migrated) and starts the
/// committing thread; it stops when `jobs` closes.
pub fn start(
    path: &str,
    durability: Durability,
    mut jobs: mpsc::Receiver<Job>,
) -> anyhow::Result<mpsc::UnboundedReceiver<Vec<Committed>>> {
    let mut conn = super::open_sync(path, durability)
        .with_context(|| format!("opening the writer's connection to {path}"))?;
    // A negative `cache_size` is in KiB.
    conn.pragma_update(None, "cache_size", -CACHE_KIB)
        .context("sizing the writer's page cache")?;
    let (committed_tx, committed) = mpsc::unbounded_channel::<Vec<Committed>>();
    std::thread::Builder::new()
        .name("writer".into())
        .spawn(move || {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            // The size of the last batch: more than one means senders are concurrent.
            let mut last_batch = 0;
            while let Some(job) = jobs.blocking_recv() {
                batch.push(job);
                if last_batch > 1 {
                    // Under concurrent sends, wait a little for more (group commit, as
                    // PostgreSQL's `commit_delay` does): larger batches need fewer commits,
                    // thread switches and socket writes per message (a socket gets one
                    // write a batch).
                    std::thread::sleep(LINGER);
                } else {
                    // A send wakes this thread at once. When it shares a core with the async
                    // workers, they are then stopped mid-burst; yielding first lets them
                    // queue the rest of the burst. With a free core, it returns at once.
                    std::thread::yield_now();
                }
                while batch.len() < MAX_BATCH {
                    match jobs.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                last_batch = batch.len();
                let done = commit_batch(&mut conn, std::mem::take(&mut batch));
                if committed_tx.send(done).is_err() {
                    break;
                }
            }
        })
        .context("starting the writer thread")?;
    Ok(committed)
}

fn commit_batch(conn: &mut Connection, batch: Vec<Job>) -> Vec<Committed> {
    metrics::histogram!("writer_batch_size").record(batch.len() as f64);
    let (changes, replies): (Vec<Change>, Vec<_>) = batch.into_iter().unzip();
    // The whole batch in one transaction. A change refused by a rule fails before it writes, so
    // it fails alone; only a database error can leave a change half-written (a `seq` taken, say),
    // and then the batch is rolled back and each change redone in a transaction of its own.
    let outcomes = match run_batch(conn, &changes) {
        Ok(outcomes) => outcomes,
        Err(e) => {
            tracing::warn!(error = ?e, size = changes.len(), "batch failed; committing its changes one by one");
            changes
                .iter()
                .map(
                    |change| match run_batch(conn, std::slice::from_ref(change)) {
                        Ok(mut one) => one.pop().unwrap_or_else(|| {
                            Err(AppError::Internal(anyhow::anyhow!("no outcome")))
                        }),
                        Err(e) => Err(AppError::Internal(
                            anyhow::anyhow!(e).context("committing a change"),
                        )),
                    },
                )
                .collect()
        }
    };
    outcomes.into_iter().zip(replies).collect()
}

/// Applies `changes` in one transaction and commits; `Err` when the transaction must be undone
/// (a database error inside a change, or the commit itself). Dropping the transaction rolls back.
fn run_batch(conn: &mut Connection, changes: &[Change]) -> rusqlite::Result<Vec<Outcome>> {
    // IMMEDIATE takes the write lock up front, as `Store::begin` does for the pool.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let outcomes = changes
        .iter()
        .map(|change| apply(&tx, change))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    tx.commit()?;
    Ok(outcomes)
}

fn apply(conn: &Connection, change: &Change) -> rusqlite::Result<Outcome> {
    match change {
        Change::Send {
            me,
            room,
            text,
            client_id,
        } => send(conn, me, *room, text, client_id.as_ref()),
        Change::Edit { me, message, text } => edit(conn, me, *message, Some(text)),
        Change::Delete { me, message } => edit(conn, me, *message, None),
    }
}

fn send(
    conn: &Connection,
    me: &CurrentUser,
    room: RoomId,
    text: &MessageText,
    client_id: Option<&ClientId>,
) -> rusqlite::Result<Outcome> {
    let author = UserRef {
        id: me.id,
        username: me.username.clone(),
    };
    let client_id = client_id.map(ClientId::as_str);
    // The common case in three one-row statements; a refused send or a retried `clientId` (the
    // insert's unique index) takes the slow path below.
    let Some(last_seq) = store::sendable_last_seq(conn, room, me.id)? else {
        return refused_send(conn, me, room, client_id);
    };
    let seq = last_seq + 1;
    let Some(message) = store::insert_message(conn, room, &author, seq, text.as_str(), client_id)?
    else {
        return refused_send(conn, me, room, client_id);
    };
    store::set_last_seq(conn, room, seq)?;
    let names = mentions(text);
    let mentioned = if names.is_empty() {
        Vec::new()
    } else {
        store::insert_mentions(conn, message.id, room, &names)?
    };
    Ok(applied(message, LogChange::New, mentioned))
}

/// Why a message was not inserted: a retried `clientId` (answered with the stored message), or a
/// rule (no such room, not a member, archived).
fn refused_send(
    conn: &Connection,
    me: &CurrentUser,
    room: RoomId,
    client_id: Option<&str>,
) -> rusqlite::Result<Outcome> {
    if let Some(client_id) = client_id
        && let Some(message) = store::find_by_client_id(conn, me.id, client_id)?
    {
        return Ok(retried(message));
    }
    let found = store::membership_and_archived(conn, me.id, room)?;
    Ok(Err(refusal(found)))
}

/// An edit (`Some(text)`) or a deletion (`None`).
fn edit(
    conn: &Connection,
    me: &CurrentUser,
    id: MessageId,
    text: Option<&MessageText>,
) -> rusqlite::Result<Outcome> {
    let found = store::find_message(conn, id)?;
    let archived = match &found {
        Some(message) => store::room_archived(conn, message.room_id)?,
        None => None,
    };
    if let Err(e) = check_edit(me, found.as_ref(), archived) {
        return Ok(Err(e));
    }
    let Some(mut message) = found else {
        return Ok(Err(AppError::NotFound("No such message.".into())));
    };
    let seq = store::next_seq(conn, message.room_id)?;
    message.seq = seq;
    let change = match text {
        Some(text) => {
            message.edited_at = Some(store::update_message_text(conn, id, seq, text.as_str())?);
            message.text = text.as_str().to_owned();
            LogChange::Updated
        }
        None => {
            store::tombstone_message(conn, id, seq)?;
            message.text.clear();
            message.deleted = true;
            LogChange::Deleted
        }
    };
    Ok(applied(message, change, Vec::new()))
}
