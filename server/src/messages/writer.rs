//! The ordered write path of room logs. Every change to messages goes through one queue; the
//! store's committer (`Store::start_writer`) commits them in queue order, grouping the changes
//! queued while a transaction runs into the next one (group commit: a burst costs one commit,
//! not one per message), and one task here publishes them in commit order. socketioxide
//! broadcasts from concurrent tasks can interleave, so one path is what keeps each room's
//! events in `seq` order on every socket. Nothing is published or acked before its commit.
//!
//! The rules of a change (who may send, edit or delete) are here, once: both backends'
//! committers call `refusal` and `check_edit` inside their transaction.

use crate::auth::CurrentUser;
use crate::bus::Bus;
use crate::error::{AppError, Result};
use crate::events::{Event, LogChange};
use crate::store::Store;
use anyhow::Context;
use app::events;
use app::models::{Message, MessageId, RoomId, UserId};
use app::validate::{ClientId, MessageText};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Changes waiting beyond this make senders wait (backpressure) rather than grow memory.
const QUEUE: usize = 4096;
/// The most changes a committer puts in one transaction.
pub const MAX_BATCH: usize = 512;
/// How long a committer waits for more changes before a commit when the last batch had
/// several: the throughput benchmark measured 5 % less server CPU per acked message with
/// 0.3 ms than with none (larger batches), and a single message still commits at once.
pub const LINGER: std::time::Duration = std::time::Duration::from_micros(300);
/// Mentions notified per message: a text naming hundreds of users must not stall the writer.
pub const MAX_MENTIONS: usize = 20;

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
pub struct Outgoing {
    /// New, updated or deleted.
    pub change: LogChange,
    /// The members the message mentions.
    pub mentioned: Vec<UserId>,
}

/// Runs with a change's outcome on the broadcasting task, right after its broadcast: a socket's
/// ack then leaves in the same write as its own copy of the broadcast, with no task to wake.
pub type Done = Box<dyn FnOnce(Result<Applied>) + Send>;

/// A queued change and what runs with its outcome.
pub type Job = (Change, Done);

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
    /// Starts the store's committer and the task that publishes what it commits; both stop
    /// when every `Writer` is dropped.
    pub fn start(
        self,
        store: &dyn Store,
        bus: Arc<Bus>,
    ) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let mut committed = store.start_writer(self.jobs)?;
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
pub type Committed = (Outcome, Done);

/// A change's result: `Err` for a rule it broke (nothing written).
pub type Outcome = Result<(Applied, Option<Outgoing>)>;

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

/// Why a send inserted nothing, when it was no retry: `found` is whether the sender is a member
/// and whether the room is archived, `None` when there is no such room.
pub fn refusal(found: Option<(bool, bool)>) -> AppError {
    match found {
        None => AppError::NotFound("No such room.".into()),
        Some((false, _)) => AppError::Forbidden("Join the room before sending to it.".into()),
        Some((true, true)) => AppError::Forbidden("This room is archived.".into()),
        Some((true, false)) => {
            AppError::Internal(anyhow::anyhow!("insert refused for no known reason"))
        }
    }
}

/// Whether `me` may edit or delete `message` (`None`: no such message), in a room that is
/// archived or not (`None`: no such room): own messages, or any message for admins; not in an
/// archived room unless an admin.
pub fn check_edit(
    me: &CurrentUser,
    message: Option<&Message>,
    archived: Option<bool>,
) -> Result<()> {
    let not_found = || AppError::NotFound("No such message.".into());
    let message = message.filter(|m| !m.deleted).ok_or_else(not_found)?;
    if message.user.id != me.id && !me.is_admin() {
        return Err(AppError::Forbidden("That is not your message.".into()));
    }
    let archived = archived.ok_or_else(not_found)?;
    if archived && !me.is_admin() {
        return Err(AppError::Forbidden("This room is archived.".into()));
    }
    Ok(())
}

/// The usernames a message mentions, at most `MAX_MENTIONS`.
pub fn mentions(text: &MessageText) -> Vec<&str> {
    let mut names = app::validate::mentioned_usernames(text.as_str());
    names.truncate(MAX_MENTIONS);
    names
}

/// A committed change's outcome, as the committers build it.
pub fn applied(message: Message, change: LogChange, mentioned: Vec<UserId>) -> Outcome {
    let outgoing = Outgoing { change, mentioned };
    Ok((
        Applied {
            message,
            is_new: true,
        },
        Some(outgoing),
    ))
}

/// A retried send's outcome: the message stored before, nothing published.
pub fn retried(message: Message) -> Outcome {
    Ok((
        Applied {
            message,
            is_new: false,
        },
        None,
    ))
}
