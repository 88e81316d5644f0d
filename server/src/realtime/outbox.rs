//! What one socket may make the server hold, and a socket that stops reading.
//!
//! engineioxide queues a socket's outgoing packets in a channel bounded in packets (1,024), not
//! bytes, and a client's pongs keep a socket alive whether or not it reads. A socket that asks
//! for history and never reads would pin every reply in that queue. So each socket has an
//! `Outbox`: the bytes of its own replies (history and catch-up pages, the large ones) that have
//! not yet been seen leaving, either written to its WebSocket's connection (`serve.rs` counts
//! writes) or handed to one of its long-polling responses (`guard.rs` counts those). A reply that
//! would take a socket over `SOCKET_QUEUE_MAX_KIB` closes the socket instead (`kill`); its client
//! reconnects and catches up by `seq`, so nothing is lost. A socket that stops reading altogether
//! is closed after `WRITE_TIMEOUT`: a WebSocket whose writes make no progress (`serve.rs`), a
//! long-polling socket with no request open (`Outbox::polling_silent_for`).
//!
//! Broadcasts are not counted: socketioxide serializes a broadcast once and every socket's queue
//! holds a reference to the same bytes, so they are bounded by the packet count. Their writes do
//! count as bytes leaving, which can only make the estimate smaller, never let it grow unbounded:
//! a socket that does not read writes nothing.

use futures_util::task::AtomicWaker;
use socketioxide::socket::Sid;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// The outgoing state of one socket; kept in its extensions and in `Outboxes`.
#[derive(Debug)]
pub struct Outbox {
    /// Bytes of this socket's replies queued and not yet seen leaving.
    pending: AtomicU64,
    /// The cap on `pending`.
    max: u64,
    /// Long-polling requests open now.
    polls_open: AtomicU32,
    /// When the last long-polling request ended (ms since `epoch`).
    last_poll_end_ms: AtomicU64,
    epoch: Instant,
    /// History and catch-up pages being read for this socket at once.
    pub pages: Semaphore,
    /// Set by `kill`: the socket's transport is to be closed.
    killed: AtomicBool,
    /// Wakes the read of the socket's WebSocket connection, so a kill takes effect at once.
    reader: AtomicWaker,
}

impl Outbox {
    /// An empty outbox holding at most `max_bytes` of replies, reading `pages_in_flight` pages at
    /// once.
    pub fn new(max_bytes: u64, pages_in_flight: usize) -> Self {
        Self {
            pending: AtomicU64::new(0),
            max: max_bytes,
            polls_open: AtomicU32::new(0),
            last_poll_end_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            pages: Semaphore::new(pages_in_flight.max(1)),
            killed: AtomicBool::new(false),
            reader: AtomicWaker::new(),
        }
    }

    /// Closes the socket's transport, not only its namespace: socketioxide's `disconnect` leaves
    /// the Engine.IO session (and what is queued in it) alive, and cannot even send its packet
    /// to a socket whose queue is full. A WebSocket's connection fails its next read at once
    /// (`serve.rs`); a long-polling session's next request becomes a close packet (`guard`),
    /// and without requests its pongs stop, so Engine.IO's heartbeat ends it.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.reader.wake();
    }

    /// Whether `kill` was called.
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Counts a reply of about `bytes` as queued, unless that would take the socket over its cap:
    /// then false, and nothing is counted (the caller closes the socket instead of replying).
    pub fn try_queue(&self, bytes: u64) -> bool {
        self.pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                let next = now.saturating_add(bytes);
                (next <= self.max).then_some(next)
            })
            .is_ok()
    }

    /// `bytes` left for the client (any of its traffic: the estimate never goes below zero).
    pub fn sent(&self, bytes: usize) {
        let bytes = bytes as u64;
        let _ = self
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                Some(now.saturating_sub(bytes))
            });
    }

    /// Bytes of replies queued and not yet seen leaving.
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Acquire)
    }

    /// A long-polling request for this socket started.
    pub fn poll_started(&self) {
        self.polls_open.fetch_add(1, Ordering::AcqRel);
    }

    /// A long-polling request for this socket ended (its response sent or dropped).
    pub fn poll_ended(&self) {
        self.last_poll_end_ms
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Release);
        self.polls_open.fetch_sub(1, Ordering::AcqRel);
    }

    /// Whether this long-polling socket has had no request open for `silence`: a client that
    /// reads always has one open (the server answers it at least every ping interval, and the
    /// client sends the next at once).
    pub fn polling_silent_for(&self, silence: Duration) -> bool {
        if self.polls_open.load(Ordering::Acquire) > 0 {
            return false;
        }
        let last = Duration::from_millis(self.last_poll_end_ms.load(Ordering::Acquire));
        self.epoch.elapsed().saturating_sub(last) >= silence
    }
}

/// Every live socket's outbox by id, for the requests that carry only the id (long-polling, and
/// the upgrade to WebSocket).
#[derive(Debug, Default)]
pub struct Outboxes(Mutex<HashMap<Sid, Arc<Outbox>>>);

impl Outboxes {
    /// Registers a new socket's outbox.
    pub fn insert(&self, sid: Sid, outbox: Arc<Outbox>) {
        self.map().insert(sid, outbox);
    }

    /// Forgets a closed socket's outbox.
    pub fn remove(&self, sid: Sid) {
        self.map().remove(&sid);
    }

    /// The outbox of socket `sid`, if it is live.
    pub fn find(&self, sid: &str) -> Option<Arc<Outbox>> {
        let sid: Sid = sid.parse().ok()?;
        self.map().get(&sid).cloned()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Sid, Arc<Outbox>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One TCP connection's link to the socket whose WebSocket it carries, once it carries one: the
/// connection's writes then count as that socket's bytes leaving. Put in every request's
/// extensions by `serve.rs`.
#[derive(Debug, Clone, Default)]
pub struct ConnectionLink(Arc<OnceLock<Arc<Outbox>>>);

impl ConnectionLink {
    /// From now on, this connection's writes are `outbox`'s (the first link wins: a connection
    /// carries one WebSocket).
    pub fn link(&self, outbox: Arc<Outbox>) {
        let _ = self.0.set(outbox);
    }

    /// `bytes` were written to the connection.
    pub fn written(&self, bytes: usize) {
        if let Some(outbox) = self.0.get() {
            outbox.sent(bytes);
        }
    }

    /// Whether the linked socket was killed; otherwise `cx` is woken when it is.
    pub fn poll_killed(&self, cx: &mut std::task::Context<'_>) -> bool {
        match self.0.get() {
            Some(outbox) => {
                outbox.reader.register(cx.waker());
                outbox.is_killed()
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_over_the_cap_is_refused_and_counts_nothing() {
        let outbox = Outbox::new(100, 1);
        assert!(outbox.try_queue(60));
        assert!(!outbox.try_queue(60));
        assert_eq!(outbox.pending(), 60);
        outbox.sent(30);
        assert!(outbox.try_queue(60));
        assert_eq!(outbox.pending(), 90);
    }

    #[test]
    fn bytes_leaving_never_take_the_estimate_below_zero() {
        let outbox = Outbox::new(100, 1);
        outbox.sent(1_000_000);
        assert_eq!(outbox.pending(), 0);
        assert!(outbox.try_queue(100));
    }

    #[test]
    fn a_socket_with_a_poll_open_is_never_silent() {
        let outbox = Outbox::new(100, 1);
        outbox.poll_started();
        assert!(!outbox.polling_silent_for(Duration::ZERO));
        outbox.poll_ended();
        assert!(outbox.polling_silent_for(Duration::ZERO));
        assert!(!outbox.polling_silent_for(Duration::from_secs(60)));
    }

    #[test]
    fn a_connection_counts_only_once_linked() {
        let outbox = Arc::new(Outbox::new(100, 1));
        assert!(outbox.try_queue(50));
        let link = ConnectionLink::default();
        link.written(10);
        assert_eq!(outbox.pending(), 50);
        link.link(outbox.clone());
        link.written(10);
        assert_eq!(outbox.pending(), 40);
    }
}
