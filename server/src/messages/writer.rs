//! The ordered write path: one task commits every change to messages and broadcasts it, in
//! commit order. socketioxide broadcasts from concurrent tasks can interleave, so one path is what
//! keeps each room's events in `seq` order on every socket. It also batches: the changes queued
//! while a transaction runs are committed together in the next one (group commit), so a burst
//! costs one fsync, not one per message. Nothing is broadcast or acked before its commit.

use super::store;
use crate::auth::CurrentUser;
use crate::db;
use crate::error::{AppError, Result};
use crate::realtime::{room_key, user_key};
use crate::rooms::store as rooms_store;
use anyhow::Context;
use app::events::{self, ServerEvent};
use app::models::{Message, MessageId, RoomId, UserId, UserRef};
use app::validate::{ClientId, MessageText, mentioned_usernames};
use socketioxide::SocketIo;
use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

/// Changes waiting beyond this make senders wait (backpressure) rather than grow memory.
const QUEUE: usize = 4096;
/// The most changes committed in one transaction.
const MAX_BATCH: usize = 512;
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

/// What the writer broadcasts after the commit.
struct Outgoing {
    event: &'static str,
    mentioned: Vec<UserId>,
}

type Job = (Change, oneshot::Sender<Result<Applied>>);

/// The handle every handler submits changes through; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

/// The other end, run once the `SocketIo` exists.
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
        self.enqueue(change).await?.await
    }

    /// Queues `change` (changes are committed in queue order) and returns its answer to await.
    pub async fn enqueue(
        &self,
        change: Change,
    ) -> Result<impl Future<Output = Result<Applied>> + use<>> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send((change, tx))
            .await
            .map_err(|_| anyhow::anyhow!("the writer has stopped"))?;
        Ok(async move { rx.await.context("the writer dropped a change")? })
    }
}

impl WriterTask {
    /// Serves changes until every `Writer` is dropped.
    pub fn spawn(mut self, db: SqlitePool, io: SocketIo) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while self.jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
                commit_batch(&db, &io, std::mem::take(&mut batch)).await;
            }
        })
    }
}

async fn commit_batch(db: &SqlitePool, io: &SocketIo, batch: Vec<Job>) {
    metrics::histogram!("writer_batch_size").record(batch.len() as f64);
    let (changes, replies): (Vec<Change>, Vec<_>) = batch.into_iter().unzip();
    // The whole batch in one transaction. A change refused by a rule fails before it writes, so
    // it fails alone; only a database error can leave a change half-written (a `seq` taken, say),
    // and then the batch is rolled back and each change redone in a transaction of its own.
    let outcomes = match run_batch(db, &changes).await {
        Ok(outcomes) => outcomes,
        Err(e) => {
            tracing::warn!(error = ?e, size = changes.len(), "batch failed; committing its changes one by one");
            let mut outcomes = Vec::with_capacity(changes.len());
            for change in &changes {
                let outcome = match run_batch(db, std::slice::from_ref(change)).await {
                    Ok(mut one) => one
                        .pop()
                        .unwrap_or_else(|| Err(AppError::Internal(anyhow::anyhow!("no outcome")))),
                    Err(e) => Err(AppError::Internal(
                        anyhow::anyhow!(e).context("committing a change"),
                    )),
                };
                outcomes.push(outcome);
            }
            outcomes
        }
    };
    for (outcome, reply) in outcomes.into_iter().zip(replies) {
        let outcome = match outcome {
            Ok((applied, Some(outgoing))) => {
                broadcast(io, &applied.message, outgoing).await;
                Ok(applied)
            }
            Ok((applied, None)) => Ok(applied),
            Err(e) => Err(e),
        };
        let _ = reply.send(outcome);
    }
}

type Outcome = Result<(Applied, Option<Outgoing>)>;

/// Applies `changes` in one transaction and commits; `Err` when the transaction must be undone
/// (a database error inside a change, or the commit itself).
async fn run_batch(
    db: &SqlitePool,
    changes: &[Change],
) -> std::result::Result<Vec<Outcome>, sqlx::Error> {
    let mut tx = db::begin_write(db).await?;
    let mut outcomes = Vec::with_capacity(changes.len());
    for change in changes {
        match apply(&mut tx, change).await {
            Err(AppError::Db(e)) => return Err(e),
            Err(AppError::Internal(e)) => return Err(sqlx::Error::Protocol(e.to_string())),
            outcome => outcomes.push(outcome),
        }
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Emits the change to its room, and mention notifications to the mentioned users.
async fn broadcast(io: &SocketIo, message: &Message, outgoing: Outgoing) {
    // A socket whose buffer is full misses this event; its client sees the `seq` gap and catches
    // up with `joinRoom {since}`.
    if let Err(e) = io
        .to(room_key(message.room_id))
        .emit(outgoing.event, message)
        .await
    {
        tracing::debug!(error = %e, "broadcast did not reach every socket");
    }
    for user in outgoing.mentioned {
        let notification = events::Notification {
            kind: "mention".to_owned(),
            room_id: message.room_id,
            message_id: message.id,
            from: message.user.clone(),
            text: message.text.clone(),
        };
        let _ = io
            .to(user_key(user))
            .emit(events::Notification::NAME, &notification)
            .await;
    }
}

async fn apply(conn: &mut SqliteConnection, change: &Change) -> Outcome {
    match change {
        Change::Send {
            me,
            room,
            text,
            client_id,
        } => send(conn, me, *room, text, client_id.as_ref()).await,
        Change::Edit { me, message, text } => edit(conn, me, *message, Some(text)).await,
        Change::Delete { me, message } => edit(conn, me, *message, None).await,
    }
}

async fn send(
    conn: &mut SqliteConnection,
    me: &CurrentUser,
    room: RoomId,
    text: &MessageText,
    client_id: Option<&ClientId>,
) -> Outcome {
    let author = UserRef {
        id: me.id,
        username: me.username.clone(),
    };
    let client_id = client_id.map(ClientId::as_str);
    // The common case in two statements: the insert itself checks membership, the archive flag
    // and the `clientId` (its unique index); anything else takes the slow path below.
    let Some(message) =
        store::insert_message(conn, room, &author, text.as_str(), client_id).await?
    else {
        return refused_send(conn, me, room, client_id).await;
    };
    store::advance_seq(conn, room).await?;
    let mut names = mentioned_usernames(text.as_str());
    names.truncate(MAX_MENTIONS);
    let mentioned = if names.is_empty() {
        Vec::new()
    } else {
        store::insert_mentions(conn, message.id, room, &names).await?
    };
    let outgoing = Outgoing {
        event: events::NewMessage::NAME,
        mentioned,
    };
    Ok((
        Applied {
            message,
            is_new: true,
        },
        Some(outgoing),
    ))
}

/// Why a message was not inserted: a retried `clientId` (answered with the stored message), or a
/// rule (no such room, not a member, archived).
async fn refused_send(
    conn: &mut SqliteConnection,
    me: &CurrentUser,
    room: RoomId,
    client_id: Option<&str>,
) -> Outcome {
    if let Some(client_id) = client_id
        && let Some(message) = store::find_by_client_id(&mut *conn, me.id, client_id).await?
    {
        return Ok((
            Applied {
                message,
                is_new: false,
            },
            None,
        ));
    }
    match rooms_store::membership_and_archived(conn, me.id, room).await? {
        None => Err(AppError::NotFound("No such room.".into())),
        Some((false, _)) => Err(AppError::Forbidden(
            "Join the room before sending to it.".into(),
        )),
        Some((true, true)) => Err(AppError::Forbidden("This room is archived.".into())),
        Some((true, false)) => Err(AppError::Internal(anyhow::anyhow!(
            "insert refused for no known reason"
        ))),
    }
}

/// An edit (`Some(text)`) or a deletion (`None`): own messages, or any message for admins.
async fn edit(
    conn: &mut SqliteConnection,
    me: &CurrentUser,
    id: MessageId,
    text: Option<&MessageText>,
) -> Outcome {
    let not_found = || AppError::NotFound("No such message.".into());
    let mut message = store::find_message(&mut *conn, id)
        .await?
        .ok_or_else(not_found)?;
    if message.deleted {
        return Err(not_found());
    }
    if message.user.id != me.id && !me.is_admin() {
        return Err(AppError::Forbidden("That is not your message.".into()));
    }
    let room = rooms_store::find_room(&mut *conn, message.room_id)
        .await?
        .ok_or_else(not_found)?;
    if room.archived && !me.is_admin() {
        return Err(AppError::Forbidden("This room is archived.".into()));
    }
    let seq = store::next_seq(conn, message.room_id).await?;
    message.seq = seq;
    let event = match text {
        Some(text) => {
            message.edited_at =
                Some(store::update_message_text(conn, id, seq, text.as_str()).await?);
            message.text = text.as_str().to_owned();
            events::MessageUpdated::NAME
        }
        None => {
            store::tombstone_message(conn, id, seq).await?;
            message.text.clear();
            message.deleted = true;
            events::MessageDeleted::NAME
        }
    };
    let outgoing = Outgoing {
        event,
        mentioned: Vec::new(),
    };
    Ok((
        Applied {
            message,
            is_new: true,
        },
        Some(outgoing),
    ))
}
