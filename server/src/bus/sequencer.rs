//! The per-room sequencer of a cluster member: every change to a room's log reaches this
//! instance's sockets through it, strictly in `seq` order, each once.
//!
//! Changes arrive from two places: this instance's committer (at once, so a sender's ack still
//! follows its own `newMessage`) and the store's notifications of every instance's commits, in
//! commit order, which under the room's row lock is `seq` order. So the next change of a room
//! is normally at hand; one that comes early (another instance's commit whose notification is
//! still on its way) is parked. A gap still open after `GAP_WAIT` (a notification lost while
//! the listener reconnected), or a room the database says is further on (the periodic resync,
//! which catches a loss with no later change to reveal it), is filled from the store, the
//! source of truth. The log keeps each message's latest change only, so a fill skips changes a
//! later one superseded: the later one arrives in its place, and a client that sees the hole
//! catches up with `joinRoom {since}` as it does after any gap.

use super::Bus;
use crate::events::{Event, LogChange};
use crate::store::Store;
use app::models::{Message, RoomId};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How long an early change waits for the ones before it before they are read from the store.
pub const GAP_WAIT: Duration = Duration::from_millis(200);
/// Rows read per query when filling a gap.
const FILL_PAGE: i64 = 500;

/// A change as it arrives: the message after it, or only its place when it was too large to
/// travel (it is read back from the store).
pub struct Note {
    /// The room.
    pub room: RoomId,
    /// The change's `seq`.
    pub seq: i64,
    /// The change and the message after it, when it came with them.
    pub change: Option<(LogChange, Message)>,
}

enum Input {
    /// A change; `done` fires once it has been delivered or found already delivered.
    Offer(Note, Option<oneshot::Sender<()>>),
    /// The store's `last_seq` of rooms: each cursor starts there (`start`), or, later, a room
    /// found further on than delivered is filled if it stays behind for `GAP_WAIT`.
    Positions {
        rooms: Vec<(RoomId, i64)>,
        start: bool,
    },
}

/// The handle: cheap to clone.
#[derive(Clone)]
pub struct Sequencer {
    inputs: mpsc::UnboundedSender<Input>,
}

impl Sequencer {
    /// Starts the sequencer's task. It delivers through `bus`'s subscriber and reads gaps from
    /// `store`; it stops when every handle is gone (the bus holds one).
    pub fn start(bus: Weak<Bus>, store: Arc<dyn Store>) -> Self {
        let (inputs, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(rx, bus, store));
        Self { inputs }
    }

    /// Offers a change this instance committed; returns once this instance's sockets have it
    /// (or would have, had it not been delivered already).
    pub async fn offer(&self, change: LogChange, message: Message) {
        let (done, delivered) = oneshot::channel();
        let note = Note {
            room: message.room_id,
            seq: message.seq,
            change: Some((change, message)),
        };
        if self.inputs.send(Input::Offer(note, Some(done))).is_ok() {
            let _ = delivered.await;
        }
    }

    /// A change notified by the store (from any instance).
    pub fn note(&self, note: Note) {
        let _ = self.inputs.send(Input::Offer(note, None));
    }

    /// The rooms' positions when this instance starts following the log: changes up to them
    /// are not delivered (no socket of this instance was there to receive them).
    pub fn start_at(&self, rooms: Vec<(RoomId, i64)>) {
        let _ = self.inputs.send(Input::Positions { rooms, start: true });
    }

    /// The rooms' positions in the store now: a room this instance has not delivered that far
    /// is filled unless its changes arrive within `GAP_WAIT`.
    pub fn resync(&self, rooms: Vec<(RoomId, i64)>) {
        let _ = self.inputs.send(Input::Positions {
            rooms,
            start: false,
        });
    }
}

/// One room's position on this instance.
#[derive(Default)]
struct Cursor {
    /// The last `seq` delivered.
    delivered: i64,
    /// Changes that came early, by `seq`.
    pending: BTreeMap<i64, Parked>,
    /// Where the room is known to be, and since when, while it is further on than delivered.
    behind: Option<(i64, Instant)>,
}

struct Parked {
    change: Option<(LogChange, Message)>,
    done: Vec<oneshot::Sender<()>>,
}

struct State {
    bus: Weak<Bus>,
    store: Arc<dyn Store>,
    rooms: HashMap<RoomId, Cursor>,
}

async fn run(mut inputs: mpsc::UnboundedReceiver<Input>, bus: Weak<Bus>, store: Arc<dyn Store>) {
    let mut state = State {
        bus,
        store,
        rooms: HashMap::new(),
    };
    let mut tick = tokio::time::interval(GAP_WAIT / 4);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            input = inputs.recv() => match input {
                Some(Input::Offer(note, done)) => state.offer(note, done).await,
                Some(Input::Positions { rooms, start }) => state.positions(rooms, start),
                None => return,
            },
            _ = tick.tick() => state.fill_overdue().await,
        }
    }
}

impl State {
    async fn offer(&mut self, note: Note, done: Option<oneshot::Sender<()>>) {
        // A room this instance has no cursor for was created after it started following the
        // log (`start_at` gave every older one its place), so its log starts at 1.
        let cursor = self.rooms.entry(note.room).or_default();
        if note.seq <= cursor.delivered {
            if let Some(done) = done {
                let _ = done.send(());
            }
            return;
        }
        let parked = cursor.pending.entry(note.seq).or_insert(Parked {
            change: None,
            done: Vec::new(),
        });
        if parked.change.is_none() {
            parked.change = note.change;
        }
        parked.done.extend(done);
        if note.seq > cursor.delivered + 1 {
            let known = note.seq - 1;
            match &mut cursor.behind {
                Some((target, _)) => *target = (*target).max(known),
                None => cursor.behind = Some((known, Instant::now())),
            }
            return;
        }
        self.drain(note.room).await;
    }

    fn positions(&mut self, rooms: Vec<(RoomId, i64)>, start: bool) {
        for (room, last_seq) in rooms {
            let cursor = self.rooms.entry(room).or_default();
            if start {
                cursor.delivered = cursor.delivered.max(last_seq);
                cursor.pending.retain(|seq, _| *seq > last_seq);
            } else if last_seq > cursor.delivered {
                match &mut cursor.behind {
                    Some((target, _)) => *target = (*target).max(last_seq),
                    None => cursor.behind = Some((last_seq, Instant::now())),
                }
            }
        }
    }

    /// Delivers the room's consecutive parked changes; those that came without their message
    /// are read from the store.
    async fn drain(&mut self, room: RoomId) {
        loop {
            let Some(cursor) = self.rooms.get_mut(&room) else {
                return;
            };
            let next = cursor.delivered + 1;
            let Some(parked) = cursor.pending.remove(&next) else {
                if cursor
                    .behind
                    .is_some_and(|(target, _)| target <= cursor.delivered)
                {
                    cursor.behind = None;
                }
                return;
            };
            let change = match parked.change {
                Some(change) => Some(change),
                None => match self.read_back(room, next).await {
                    Ok(change) => change,
                    Err(()) => {
                        // Parked again and read once more after `GAP_WAIT` (`fill` drains).
                        if let Some(cursor) = self.rooms.get_mut(&room) {
                            cursor.pending.insert(next, parked);
                            cursor.behind = Some((next, Instant::now()));
                        }
                        return;
                    }
                },
            };
            if let Some(cursor) = self.rooms.get_mut(&room) {
                cursor.delivered = next;
            }
            if let Some((change, message)) = change {
                self.deliver(change, message).await;
            }
            for done in parked.done {
                let _ = done.send(());
            }
        }
    }

    /// The change at `seq`, read from the store; `None` when a later change superseded it
    /// (that one is delivered in its own place), `Err` when the store cannot answer now.
    async fn read_back(&self, room: RoomId, seq: i64) -> Result<Option<(LogChange, Message)>, ()> {
        match self.store.changes_since(room, seq - 1, 1).await {
            Ok(rows) => Ok(rows
                .into_iter()
                .find(|m| m.seq == seq)
                .map(|m| (LogChange::of(&m), m))),
            Err(e) => {
                tracing::warn!(error = ?e, room = room.0, seq, "reading back a notified change");
                Err(())
            }
        }
    }

    /// Fills, from the store, every room whose gap has waited `GAP_WAIT`.
    async fn fill_overdue(&mut self) {
        let overdue: Vec<RoomId> = self
            .rooms
            .iter()
            .filter(|(_, c)| {
                c.behind
                    .is_some_and(|(_, since)| since.elapsed() >= GAP_WAIT)
            })
            .map(|(room, _)| *room)
            .collect();
        for room in overdue {
            self.fill(room).await;
        }
    }

    async fn fill(&mut self, room: RoomId) {
        let Some(cursor) = self.rooms.get(&room) else {
            return;
        };
        // Up to the first parked change, or the known position when none is parked.
        let upto = match (cursor.pending.keys().next(), cursor.behind) {
            (Some(first), _) => first - 1,
            (None, Some((target, _))) => target,
            (None, None) => return,
        };
        let mut from = cursor.delivered;
        metrics::counter!("sequencer_fills_total").increment(1);
        while from < upto {
            let rows = match self.store.changes_since(room, from, FILL_PAGE).await {
                Ok(rows) => rows,
                Err(e) => {
                    // Tried again at the next tick.
                    tracing::warn!(error = ?e, room = room.0, "filling a gap in a room's log");
                    if let Some(cursor) = self.rooms.get_mut(&room) {
                        cursor.behind = cursor.behind.map(|(t, _)| (t, Instant::now()));
                    }
                    return;
                }
            };
            // A page that reaches past `upto` ends the fill: the changes between the last row
            // delivered and `upto` were superseded (their messages carry later `seq`s).
            let more = rows.len() as i64 == FILL_PAGE && rows.iter().all(|m| m.seq <= upto);
            for message in rows.into_iter().take_while(|m| m.seq <= upto) {
                from = message.seq;
                if let Some(cursor) = self.rooms.get_mut(&room) {
                    cursor.delivered = message.seq;
                }
                self.deliver(LogChange::of(&message), message).await;
            }
            if !more {
                break;
            }
        }
        if let Some(cursor) = self.rooms.get_mut(&room) {
            cursor.delivered = cursor.delivered.max(upto);
            cursor.behind = match cursor.behind {
                Some((target, _)) if target > cursor.delivered => Some((target, Instant::now())),
                _ => None,
            };
        }
        self.drain(room).await;
        // A gap further on (a parked change beyond another missing one) is filled at once: its
        // wait is over too. Not when the next change is parked only because reading it back
        // failed: that waits for the next tick.
        if self.rooms.get(&room).is_some_and(|c| {
            c.pending
                .keys()
                .next()
                .is_some_and(|first| *first > c.delivered + 1)
        }) {
            Box::pin(self.fill(room)).await;
        }
    }

    async fn deliver(&self, change: LogChange, message: Message) {
        if let Some(bus) = self.bus.upgrade() {
            bus.deliver_local(Event::Log { change, message }).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::models::UserRef;

    fn message(room: i64, seq: i64) -> Message {
        Message {
            id: app::models::MessageId(seq),
            room_id: RoomId(room),
            seq,
            user: UserRef {
                id: app::models::UserId(1),
                username: "ana".into(),
            },
            text: format!("m{seq}"),
            client_id: None,
            created_at: String::new(),
            edited_at: None,
            deleted: false,
        }
    }

    #[test]
    fn a_message_tells_its_latest_change() {
        let mut m = message(1, 1);
        assert_eq!(LogChange::of(&m), LogChange::New);
        m.edited_at = Some("x".into());
        assert_eq!(LogChange::of(&m), LogChange::Updated);
        m.deleted = true;
        assert_eq!(LogChange::of(&m), LogChange::Deleted);
    }
}
