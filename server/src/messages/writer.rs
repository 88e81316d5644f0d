//! The ordered write path: one thread commits every change to messages, one task publishes
//! them in commit order. socketioxide broadcasts from concurrent tasks can interleave, so one path
//! is what keeps each room's events in `seq` order on every socket. It also batches: the changes
//! queued while a transaction runs are committed together in the next one (group commit), so a
//! burst costs one commit, not one per message; and while the task broadcasts one batch, the
//! thread already commits the next. Nothing is broadcast or acked before its commit.

use super::store;
use crate::auth::CurrentUser;
use crate::bus::Bus;
use crate::config::Durability;
use crate::error::{AppError, Result};
use crate::events::{Event, LogChange};
use anyhow::Context;
use app::events;
use app::models::{Message, MessageId, RoomId, UserId, UserRef};
use app::validate::{ClientId, MessageText, mentioned_usernames};
use rusqlite::{Connection, TransactionBehavior};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Changes waiting beyond this make senders wait (backpressure) rather than grow memory.
const QUEUE: usize = 4096;
/// The most changes committed in one transaction.
const MAX_BATCH: usize = 512;
/// How long the writer waits for more changes before a commit when the last batch had several:
/// the throughput benchmark measured 5 % less server CPU per acked message with 0.3 ms than with
/// none (larger batches), and a single message still commits at once.
const LINGER: std::time::Duration = std::time::Duration::from_micros(300);
/// The writer's page cache, in KiB (SQLite's default is 2 MiB). Every room takes new messages at
/// the end of its own range of the catch-up index, and every sender at the end of theirs in the
/// `clientId` index: with many active rooms and senders those index pages no longer fit in 2 MiB,
/// and each commit read them back from the file.
const CACHE_KIB: i64 = 16 * 1024;
/// Mentions notified per message: a text naming hundreds of users must not stall the writer.
const MAX_MENTIONS: usize = 20;

/// One change to a room's messages.
pub enum Change {
    /// A new message (or a retry of one, by `client_id`).
    Send {
        me: CurrentUser,
        room: RoomId,
        text: MessageText,
        client_id: Option<ClientId>,
    },
    /// New text for a message.
    Edit {
        me: CurrentUser,
        message: MessageId,
        text: MessageText,
    },
    /// A message becomes a tombstone.
    Delete { me: CurrentUser, message: MessageId },
}

/// What a change did.
pub struct Applied {
    /// The stored message after the change.
    pub message: Message,
    /// False when a retried `clientId` found the message already stored: nothing is broadcast.
    pub is_new: bool,
}

/// What the writer publishes after the commit.
struct Outgoing {
    change: LogChange,
    mentioned: Vec<UserId>,
}

/// Runs with a change's outcome on the broadcasting task, right after its broadcast: a socket's
/// ack then leaves in the same write as its own copy of the broadcast, with no task to wake.
pub type Done = Box<dyn FnOnce(Result<Applied>) + Send>;

type Job = (Change, Done);

/// A `Done` that hands the outcome to the returned future, for a caller that waits for it.
pub fn answer() -> (Done, impl Future<Output = Result<Applied>>) {
    let (tx, rx) = oneshot::channel();
    let done: Done = Box::new(move |outcome| {
        let _ = tx.send(outcome);
    });
    (done, async move {
        rx.await.context("the writer dropped a change")?
    })
}

/// The handle every handler submits changes through; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

/// The other end, started once the Socket.IO fan-out is subscribed to the bus.
pub struct WriterTask {
    jobs: mpsc::Receiver<Job>,
}

impl Writer {
    /// A writer and the task that serves it.
    pub fn new() -> (Self, WriterTask) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Self { jobs: tx }, WriterTask { jobs: rx })
    }

    /// Commits `change`, broadcasts it to the room, then answers.
    pub async fn submit(&self, change: Change) -> Result<Applied> {
        let (done, outcome) = answer();
        self.enqueue(change, done).await;
        outcome.await
    }

    /// Queues `change` (changes are committed in queue order); `done` runs with its outcome
    /// after the commit and the broadcast, or at once if the writer has stopped.
    pub async fn enqueue(&self, change: Change, done: Done) {
        if let Err(mpsc::error::SendError((_, done))) = self.jobs.send((change, done)).await {
            done(Err(anyhow::anyhow!("the writer has stopped").into()));
        }
    }
}

impl WriterTask {
    /// Opens the writer's own connection to `path` (the file the pool migrated), starts the
    /// committing thread and the broadcasting task; both stop when every `Writer` is dropped.
    pub fn start(
        self,
        path: &str,
        durability: Durability,
        bus: Arc<Bus>,
    ) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let mut conn = crate::db::open_sync(path, durability)
            .with_context(|| format!("opening the writer's connection to {path}"))?;
        // A negative `cache_size` is in KiB.
        conn.pragma_update(None, "cache_size", -CACHE_KIB)
            .context("sizing the writer's page cache")?;
        let (committed_tx, mut committed) = mpsc::unbounded_channel::<Vec<Committed>>();
        let mut jobs = self.jobs;
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
        Ok(tokio::spawn(async move {
            while let Some(batch) = committed.recv().await {
                for (outcome, done) in batch {
                    let outcome = match outcome {
                        Ok((applied, Some(outgoing))) => {
                            publish(&bus, applied.message.clone(), outgoing).await;
                            Ok(applied)
                        }
                        Ok((applied, None)) => Ok(applied),
                        Err(e) => Err(e),
                    };
                    done(outcome);
                }
            }
        }))
    }
}

/// A committed change's outcome and what runs with it.
type Committed = (Outcome, Done);

/// A change's result: `Err` for a rule it broke (nothing written).
type Outcome = Result<(Applied, Option<Outgoing>)>;

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
    // IMMEDIATE takes the write lock up front, as `db::begin_write` does for the pool.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let outcomes = changes
        .iter()
        .map(|change| apply(&tx, change))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    tx.commit()?;
    Ok(outcomes)
}

/// Publishes the change to its room, and a mention to each mentioned user.
async fn publish(bus: &Bus, message: Message, outgoing: Outgoing) {
    let notification = (!outgoing.mentioned.is_empty()).then(|| events::Notification {
        kind: "mention".to_owned(),
        room_id: message.room_id,
        message_id: message.id,
        from: message.user.clone(),
        text: message.text.clone(),
    });
    let change = outgoing.change;
    bus.publish(Event::Log { change, message }).await;
    if let Some(notification) = notification {
        for user in outgoing.mentioned {
            let notification = notification.clone();
            bus.publish(Event::Mention { user, notification }).await;
        }
    }
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
    let mut names = mentioned_usernames(text.as_str());
    names.truncate(MAX_MENTIONS);
    let mentioned = if names.is_empty() {
        Vec::new()
    } else {
        store::insert_mentions(conn, message.id, room, &names)?
    };
    let outgoing = Outgoing {
        change: LogChange::New,
        mentioned,
    };
    Ok(Ok((
        Applied {
            message,
            is_new: true,
        },
        Some(outgoing),
    )))
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
        let applied = Applied {
            message,
            is_new: false,
        };
        return Ok(Ok((applied, None)));
    }
    Ok(match store::membership_and_archived(conn, me.id, room)? {
        None => Err(AppError::NotFound("No such room.".into())),
        Some((false, _)) => Err(AppError::Forbidden(
            "Join the room before sending to it.".into(),
        )),
        Some((true, true)) => Err(AppError::Forbidden("This room is archived.".into())),
        Some((true, false)) => Err(AppError::Internal(anyhow::anyhow!(
            "insert refused for no known reason"
        ))),
    })
}

/// An edit (`Some(text)`) or a deletion (`None`): own messages, or any message for admins.
fn edit(
    conn: &Connection,
    me: &CurrentUser,
    id: MessageId,
    text: Option<&MessageText>,
) -> rusqlite::Result<Outcome> {
    let not_found = || Err(AppError::NotFound("No such message.".into()));
    let Some(mut message) = store::find_message(conn, id)? else {
        return Ok(not_found());
    };
    if message.deleted {
        return Ok(not_found());
    }
    if message.user.id != me.id && !me.is_admin() {
        return Ok(Err(AppError::Forbidden("That is not your message.".into())));
    }
    let Some(archived) = store::room_archived(conn, message.room_id)? else {
        return Ok(not_found());
    };
    if archived && !me.is_admin() {
        return Ok(Err(AppError::Forbidden("This room is archived.".into())));
    }
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
    let outgoing = Outgoing {
        change,
        mentioned: Vec::new(),
    };
    Ok(Ok((
        Applied {
            message,
            is_new: true,
        },
        Some(outgoing),
    )))
}
