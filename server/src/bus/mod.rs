//! Where published events go. In-process: each event is delivered to this instance's subscriber
//! (the Socket.IO fan-out) before `publish` returns, so events leave in the order they were
//! published, and a domain service that publishes `Joined` may read the log right after,
//! knowing the user's sockets already follow the room.
//!
//! In a cluster (`REDIS_URL` set, on PostgreSQL) two more parts join, both set once at start:
//! - a `Remote`, which hands every event but the room log's to the other instances (which
//!   deliver it to their own sockets with `deliver_remote`);
//! - the `Sequencer`, through which every room-log event reaches this instance's sockets, in
//!   `seq` order, whichever instance committed it: the store sends the log's changes to every
//!   instance inside the transaction that commits them, and this instance's own commits are
//!   offered here too, first, so its senders are answered without waiting for the round trip.

pub mod sequencer;

use crate::events::Event;
use futures_util::future::BoxFuture;
pub use sequencer::Sequencer;
use std::sync::{Arc, OnceLock};

/// What receives the events of this instance.
pub trait Subscriber: Send + Sync {
    /// Carries out one event; returns once it has been handed to the sockets.
    fn deliver(&self, event: Event) -> BoxFuture<'_, ()>;
}

/// The other instances of a cluster, as seen from this one.
pub trait Remote: Send + Sync {
    /// Hands `event` to every other instance. Never fails its caller: what this instance's
    /// sockets receive does not depend on it, and a failure is logged by the transport.
    fn send<'a>(&'a self, event: &'a Event) -> BoxFuture<'a, ()>;
}

/// What runs on each event from another instance.
type RemoteHook = Box<dyn Fn(&Event) + Send + Sync>;

/// The bus the domain publishes to.
#[derive(Default)]
pub struct Bus {
    /// Set once at start, when the fan-out exists (it needs the Socket.IO layer, which needs
    /// the services that hold this bus).
    subscriber: OnceLock<Arc<dyn Subscriber>>,
    /// The other instances; unset on a single instance.
    remote: OnceLock<Arc<dyn Remote>>,
    /// Orders the room log across instances; unset on a single instance.
    sequencer: OnceLock<Sequencer>,
    /// Runs on each event from another instance before its delivery (the session cache's
    /// invalidation).
    on_remote: OnceLock<RemoteHook>,
    /// Runs once per new message this instance's sockets are handed, whichever instance stored
    /// it (the dashboard's messages per minute).
    on_new_message: OnceLock<Box<dyn Fn() + Send + Sync>>,
    /// Signalled when the link to the other instances was lost and is back: events sent
    /// meanwhile are gone, and what they changed is checked again (`reconnected`).
    reconnected: tokio::sync::Notify,
}

impl Bus {
    /// Connects the subscriber; a second call is ignored.
    pub fn subscribe(&self, subscriber: Arc<dyn Subscriber>) {
        let _ = self.subscriber.set(subscriber);
    }

    /// Makes this instance a cluster member: other events go to `remote` too, and room-log
    /// events reach the sockets through `sequencer`. A second call is ignored.
    pub fn join_cluster(&self, remote: Arc<dyn Remote>, sequencer: Sequencer) {
        let _ = self.remote.set(remote);
        let _ = self.sequencer.set(sequencer);
    }

    /// Runs `hook` on each event from another instance, before it is delivered.
    pub fn on_remote(&self, hook: impl Fn(&Event) + Send + Sync + 'static) {
        let _ = self.on_remote.set(Box::new(hook));
    }

    /// The link to the other instances was lost and is back (called by the transport).
    pub fn note_reconnect(&self) {
        self.reconnected.notify_one();
    }

    /// Completes after the link to the other instances came back (see `note_reconnect`).
    pub async fn reconnected(&self) {
        self.reconnected.notified().await
    }

    /// Runs `hook` once per new message delivered to this instance's sockets.
    pub fn on_new_message(&self, hook: impl Fn() + Send + Sync + 'static) {
        let _ = self.on_new_message.set(Box::new(hook));
    }

    /// The sequencer, in a cluster.
    pub fn sequencer(&self) -> Option<&Sequencer> {
        self.sequencer.get()
    }

    /// Whether this instance is one of several.
    pub fn is_clustered(&self) -> bool {
        self.remote.get().is_some()
    }

    /// Delivers `event` to this instance's sockets and, in a cluster, to the other instances'.
    /// Before a subscriber is connected (start-up) and after it is gone (shut-down) there are
    /// no sockets to tell: the event is dropped, what it reports is committed.
    pub async fn publish(&self, event: Event) {
        if let (Event::Log { change, message }, Some(sequencer)) = (&event, self.sequencer.get()) {
            // Returns once this instance's sockets have it, in its place in the room's order.
            sequencer.offer(*change, message.clone()).await;
            return;
        }
        self.deliver_local(event.clone()).await;
        // Each instance pushes the dashboard (the cluster's figures) to its own admins.
        if let Some(remote) = self.remote.get()
            && !matches!(event, Event::Dashboard(_))
        {
            remote.send(&event).await;
        }
    }

    /// Delivers an event another instance published, to this instance's sockets only.
    pub async fn deliver_remote(&self, event: Event) {
        if let Some(hook) = self.on_remote.get() {
            hook(&event);
        }
        self.deliver_local(event).await;
    }

    /// Hands `event` to this instance's sockets: every path ends here (on a single instance
    /// `publish`, in a cluster the sequencer for the room log and `deliver_remote`).
    async fn deliver_local(&self, event: Event) {
        if let Event::Log {
            change: crate::events::LogChange::New,
            ..
        } = event
            && let Some(hook) = self.on_new_message.get()
        {
            hook();
        }
        if let Some(subscriber) = self.subscriber.get() {
            subscriber.deliver(event).await;
        }
    }
}
