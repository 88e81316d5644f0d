//! Where published events go. In-process: each event is delivered to this instance's subscriber
//! (the Socket.IO fan-out) before `publish` returns, so events leave in the order they were
//! published, and a domain service that publishes `Joined` may read the log right after,
//! knowing the user's sockets already follow the room.

use crate::events::Event;
use futures_util::future::BoxFuture;
use std::sync::{Arc, OnceLock};

/// What receives the events of this instance.
pub trait Subscriber: Send + Sync {
    /// Carries out one event; returns once it has been handed to the sockets.
    fn deliver(&self, event: Event) -> BoxFuture<'_, ()>;
}

/// The bus the domain publishes to.
#[derive(Default)]
pub struct Bus {
    /// Set once at start, when the fan-out exists (it needs the Socket.IO layer, which needs
    /// the services that hold this bus).
    subscriber: OnceLock<Arc<dyn Subscriber>>,
}

impl Bus {
    /// Connects the subscriber; a second call is ignored.
    pub fn subscribe(&self, subscriber: Arc<dyn Subscriber>) {
        let _ = self.subscriber.set(subscriber);
    }

    /// Delivers `event`. Before a subscriber is connected (start-up) and after it is gone
    /// (shut-down) there are no sockets to tell: the event is dropped, what it reports is
    /// committed.
    pub async fn publish(&self, event: Event) {
        if let Some(subscriber) = self.subscriber.get() {
            subscriber.deliver(event).await;
        }
    }
}
