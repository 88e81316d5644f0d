//! PostgreSQL as a cluster's bus. Two channels:
//! - `tagarela_log`: the room log's changes, sent by the committer inside the transaction that
//!   commits them (`log_payloads`). PostgreSQL delivers a notification only at commit, in commit
//!   order, and a room's `seq` is taken under its row lock, so each room's changes arrive in
//!   `seq` order on every instance, each after its commit.
//! - `tagarela_events`: every other event (`Remote`), sent after its commit, tagged with the
//!   sending instance, which ignores its own.
//!
//! A notification carries at most 8,000 bytes. A log change too large to travel carries only its
//! room and `seq` and is read back from the messages; another event too large is stored in
//! `bus_payloads` for a minute and the notification names its row.

use crate::bus::sequencer::Note;
use crate::bus::{Bus, Remote, Sequencer};
use crate::events::{Event, LogChange};
use crate::messages::writer::Outcome;
use anyhow::Context;
use app::models::{Message, RoomId};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgConnection, PgPool};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The room log's channel.
pub const LOG_CHANNEL: &str = "tagarela_log";
/// Every other event's channel.
pub const EVENT_CHANNEL: &str = "tagarela_events";
/// Below PostgreSQL's limit of 8,000 bytes, with room for the array's brackets.
const MAX_PAYLOAD: usize = 7_900;
/// How often every instance compares the rooms' positions in the database with what it has
/// delivered: a change whose notification was lost with no later one to reveal the gap.
const RESYNC_EVERY: Duration = Duration::from_secs(5);
/// A send to the other instances waits this long for a connection before giving up on them.
const SEND_TIMEOUT: Duration = Duration::from_secs(2);

/// One log change on the wire: its place, and the change with the message after it unless
/// that was too large.
#[derive(Serialize, Deserialize)]
struct LogEntry {
    r: RoomId,
    s: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    c: Option<LogChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    m: Option<Message>,
}

/// The notifications that announce a batch's published changes, each a JSON array that fits
/// a payload, in commit order.
pub fn log_payloads(outcomes: &[Outcome]) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut current = String::new();
    for (applied, outgoing) in outcomes.iter().filter_map(|o| o.as_ref().ok()) {
        let Some(outgoing) = outgoing else { continue };
        let message = &applied.message;
        let mut entry = LogEntry {
            r: message.room_id,
            s: message.seq,
            c: Some(outgoing.change),
            m: Some(message.clone()),
        };
        let mut json = serde_json::to_string(&entry).unwrap_or_default();
        if json.len() + 2 > MAX_PAYLOAD {
            (entry.c, entry.m) = (None, None);
            json = serde_json::to_string(&entry).unwrap_or_default();
        }
        if !current.is_empty() && current.len() + json.len() + 2 > MAX_PAYLOAD {
            current.push(']');
            payloads.push(std::mem::take(&mut current));
        }
        current.push(if current.is_empty() { '[' } else { ',' });
        current.push_str(&json);
    }
    if !current.is_empty() {
        current.push(']');
        payloads.push(current);
    }
    payloads
}

/// Sends `payloads` on the log channel, inside the caller's transaction.
pub async fn notify_log(db: &mut PgConnection, payloads: Vec<String>) -> sqlx::Result<()> {
    for payload in payloads {
        sqlx::query("SELECT pg_notify('tagarela_log', $1)")
            .bind(payload)
            .execute(&mut *db)
            .await?;
    }
    Ok(())
}

/// An event on the wire: from whom, and the event or the row that holds it.
#[derive(Serialize, Deserialize)]
struct Envelope {
    from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event: Option<Event>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stored: Option<i64>,
}

/// This instance's link to the others: a small pool of its own (the store's may be busy) for
/// sending, and the listener.
pub struct Link {
    pool: PgPool,
    instance: String,
    /// Whether the last send failed: a failure is logged once, not once per event.
    failing: AtomicBool,
}

impl Link {
    /// Connects to `url` as instance `instance`.
    pub async fn connect(url: &str, instance: &str) -> anyhow::Result<Arc<Self>> {
        let options = PgConnectOptions::from_str(url)
            .context("DATABASE_URL is not a valid postgres:// URL")?
            .application_name(&format!("tagarela-bus-{instance}"));
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(SEND_TIMEOUT)
            .connect_with(options)
            .await
            .context("connecting the cluster's bus to PostgreSQL")?;
        Ok(Arc::new(Self {
            pool,
            // With a random part: two processes given the same INSTANCE_ID still hear each other.
            instance: format!("{instance}/{:08x}", rand::random::<u32>()),
            failing: AtomicBool::new(false),
        }))
    }

    async fn try_send(&self, event: &Event) -> anyhow::Result<()> {
        let mut envelope = Envelope {
            from: self.instance.clone(),
            event: Some(event.clone()),
            stored: None,
        };
        let mut payload = serde_json::to_string(&envelope)?;
        if payload.len() > MAX_PAYLOAD {
            let body = serde_json::to_string(event)?;
            // The rows of a minute ago have been read by every instance that was listening.
            let (id,): (i64,) = sqlx::query_as(
                "WITH gone AS (DELETE FROM bus_payloads WHERE created_at < now() - interval '1 minute')
                 INSERT INTO bus_payloads (body) VALUES ($1) RETURNING id",
            )
            .bind(body)
            .fetch_one(&self.pool)
            .await?;
            (envelope.event, envelope.stored) = (None, Some(id));
            payload = serde_json::to_string(&envelope)?;
        }
        sqlx::query("SELECT pg_notify('tagarela_events', $1)")
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The rooms' `last_seq` now.
    async fn positions(&self) -> sqlx::Result<Vec<(RoomId, i64)>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT id, last_seq FROM rooms")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, seq)| (RoomId(id), seq))
            .collect())
    }

    /// Starts listening; returns once the first `LISTEN` holds and the sequencer knows where
    /// every room stands, so nothing committed from then on is missed. The task then runs for
    /// the process's life, reconnecting by itself.
    pub async fn listen(
        self: &Arc<Self>,
        bus: Arc<Bus>,
        sequencer: Sequencer,
    ) -> anyhow::Result<()> {
        let listener = self.subscribe().await?;
        sequencer.start_at(self.positions().await?);
        let link = self.clone();
        tokio::spawn(link.run(listener, bus, sequencer));
        Ok(())
    }

    async fn subscribe(&self) -> sqlx::Result<PgListener> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen_all([LOG_CHANNEL, EVENT_CHANNEL]).await?;
        Ok(listener)
    }

    async fn run(self: Arc<Self>, mut listener: PgListener, bus: Arc<Bus>, sequencer: Sequencer) {
        // On a task of its own: the listener's receive is not cancelled halfway through a read.
        let link = self.clone();
        let resyncing = sequencer.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RESYNC_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                link.resync(&resyncing).await;
            }
        });
        loop {
            let lost = loop {
                match listener.try_recv().await {
                    Ok(Some(n)) => {
                        self.receive(n.channel(), n.payload(), &bus, &sequencer)
                            .await
                    }
                    // Lost and connected again: what was sent meanwhile is gone.
                    Ok(None) => break None,
                    Err(e) => break Some(e),
                }
            };
            if let Some(e) = lost {
                tracing::warn!(error = %e, "the cluster's listener lost PostgreSQL; connecting again");
            }
            // A fresh listener each time: after an error the old one's state is unknown.
            drop(listener);
            let mut wait = Duration::from_millis(100);
            listener = loop {
                match self.subscribe().await {
                    Ok(listener) => break listener,
                    Err(_) => {
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(2));
                    }
                }
            };
            tracing::info!("the cluster's listener is connected again; catching up");
            self.resync(&sequencer).await;
            bus.note_reconnect();
        }
    }

    async fn resync(&self, sequencer: &Sequencer) {
        match self.positions().await {
            Ok(rooms) => sequencer.resync(rooms),
            Err(e) => tracing::debug!(error = %e, "reading the rooms' positions"),
        }
    }

    async fn receive(&self, channel: &str, payload: &str, bus: &Bus, sequencer: &Sequencer) {
        if channel == LOG_CHANNEL {
            match serde_json::from_str::<Vec<LogEntry>>(payload) {
                Ok(entries) => {
                    for entry in entries {
                        sequencer.note(Note {
                            room: entry.r,
                            seq: entry.s,
                            change: entry.c.zip(entry.m),
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "an unreadable log notification"),
            }
            return;
        }
        let envelope = match serde_json::from_str::<Envelope>(payload) {
            Ok(envelope) if envelope.from == self.instance => return,
            Ok(envelope) => envelope,
            Err(e) => {
                tracing::warn!(error = %e, "an unreadable event notification");
                return;
            }
        };
        let event = match (envelope.event, envelope.stored) {
            (Some(event), _) => event,
            (None, Some(id)) => match self.read_stored(id).await {
                Ok(event) => event,
                Err(e) => {
                    tracing::warn!(error = ?e, id, "reading a stored event");
                    return;
                }
            },
            (None, None) => return,
        };
        bus.deliver_remote(event).await;
    }

    async fn read_stored(&self, id: i64) -> anyhow::Result<Event> {
        let (body,): (String,) = sqlx::query_as("SELECT body FROM bus_payloads WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        Ok(serde_json::from_str(&body)?)
    }
}

impl Remote for Link {
    fn send<'a>(&'a self, event: &'a Event) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            match self.try_send(event).await {
                Ok(()) => {
                    if self.failing.swap(false, Ordering::Relaxed) {
                        tracing::info!("events reach the other instances again");
                    }
                }
                Err(e) => {
                    metrics::counter!("bus_send_failures_total").increment(1);
                    if !self.failing.swap(true, Ordering::Relaxed) {
                        tracing::warn!(error = ?e, "an event did not reach the other instances");
                    }
                }
            }
        })
    }
}
