//! `Reply`: how every client event ends. `Ok(t)` acks `{ok: true, ..t}`; `Err(e)` acks
//! `{ok: false, error}`, or, when the client passed no callback, emits `error` to the socket, so
//! nothing is ever silently dropped (API.md Replies).

use super::outbox::Outbox;
use crate::auth::{self, CurrentUser};
use crate::config::Rate;
use crate::error::{AppError, Result};
use crate::extract::from_json_object;
use crate::state::AppState;
use app::models::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use socketioxide::extract::{AckSender, SocketRef};
use socketioxide::handler::{FromMessageParts, Value as RawValue};
use socketioxide::socket::Socket;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A socket's budget of events (`SOCKET_EVENT_RATE`, API.md Limits) for the current window;
/// kept in its extensions. Every event counts, whatever becomes of it: a `sendMessage` (which
/// `MESSAGE_RATE` limits as well), an unknown event, one refused for any reason.
#[derive(Debug)]
pub struct EventBudget {
    rate: Rate,
    window: Mutex<(Instant, u32)>,
}

impl EventBudget {
    /// A fresh budget of `rate`.
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            window: Mutex::new((Instant::now(), 0)),
        }
    }

    fn try_take(&self) -> bool {
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        if window.0.elapsed() >= self.rate.per {
            *window = (Instant::now(), 0);
        }
        window.1 = window.1.saturating_add(1);
        window.1 <= self.rate.count
    }
}

/// The reply channel of one client event.
pub struct Reply {
    socket: SocketRef,
    ack: Option<AckSender>,
}

impl FromMessageParts<socketioxide::adapter::LocalAdapter> for Reply {
    type Error = Infallible;

    fn from_message_parts(
        s: &Arc<Socket>,
        v: &mut RawValue,
        ack_id: &Option<i64>,
    ) -> std::result::Result<Self, Infallible> {
        let socket = SocketRef::from_message_parts(s, v, ack_id)?;
        let ack = match ack_id {
            Some(_) => Some(AckSender::from_message_parts(s, v, ack_id)?),
            None => None,
        };
        Ok(Self { socket, ack })
    }
}

#[derive(Serialize)]
struct Acked<'a, T> {
    ok: bool,
    #[serde(flatten)]
    body: &'a T,
}

impl Reply {
    /// Runs one event: budget, parse (the payload must be a JSON object), re-read the caller
    /// from the database (a ban or logout acts at once), then `handle`; and replies.
    pub async fn run<I, O>(
        self,
        state: &AppState,
        me: &CurrentUser,
        payload: std::result::Result<Value, impl std::fmt::Display>,
        handle: impl AsyncFnOnce(CurrentUser, I) -> Result<O>,
    ) where
        I: DeserializeOwned,
        O: Serialize,
    {
        let result = match self.admit(state, me, payload).await {
            Ok((me, input)) => handle(me, input).await,
            Err(e) => Err(e),
        };
        self.finish(result);
    }

    /// `run`, for a handler that replies itself (later, from another task): it gets the reply.
    pub async fn run_then<I>(
        self,
        state: &AppState,
        me: &CurrentUser,
        payload: std::result::Result<Value, impl std::fmt::Display>,
        handle: impl AsyncFnOnce(CurrentUser, I, Reply),
    ) where
        I: DeserializeOwned,
    {
        match self.admit(state, me, payload).await {
            Ok((me, input)) => handle(me, input, self).await,
            Err(e) => self.finish::<()>(Err(e)),
        }
    }

    /// The checks every event passes before its handler: the caller as of now, and the input.
    async fn admit<I: DeserializeOwned>(
        &self,
        state: &AppState,
        me: &CurrentUser,
        payload: std::result::Result<Value, impl std::fmt::Display>,
    ) -> Result<(CurrentUser, I)> {
        self.take_budget()?;
        let input: I = from_json_object(payload.map_err(AppError::malformed)?)?;
        let me = auth::refresh_current(state, me).await?;
        Ok((me, input))
    }

    /// Counts this event against its socket's budget; `rate_limited` once that is spent.
    fn take_budget(&self) -> Result<()> {
        let budget = self.socket.extensions.get::<Arc<EventBudget>>();
        if budget.is_some_and(|b| b.try_take()) {
            Ok(())
        } else {
            Err(AppError::RateLimited("Too many events; slow down.".into()))
        }
    }

    /// Sends the ack, or the `error` event.
    pub fn finish<T: Serialize>(self, result: Result<T>) {
        let sent = match (result, self.ack) {
            (Ok(body), Some(ack)) => ack
                .send(&Acked {
                    ok: true,
                    body: &body,
                })
                .err()
                .map(|e| e.to_string()),
            (Ok(_), None) => None,
            (Err(e), Some(ack)) => {
                let body = serde_json::json!({"ok": false, "error": e.to_body()});
                ack.send(&body).err().map(|e| e.to_string())
            }
            (Err(e), None) => self
                .socket
                .emit("error", &e.to_body())
                .err()
                .map(|e| e.to_string()),
        };
        if let Some(e) = sent {
            tracing::debug!(error = %e, sid = %self.socket.id, "reply not delivered");
        }
    }
}

/// Counts a page of `messages` as queued for `socket`; a socket that would go over what it may
/// hold unread is closed instead (its client reconnects and catches up by `seq`).
pub fn queue_page(socket: &SocketRef, outbox: &Outbox, messages: &[Message]) -> Result<()> {
    let bytes: usize = messages
        .iter()
        .map(crate::messages::approx_json_bytes)
        .sum();
    if outbox.try_queue(bytes as u64) {
        return Ok(());
    }
    tracing::info!(sid = %socket.id, pending = outbox.pending(), "socket not reading its replies: closing it");
    outbox.kill();
    Err(AppError::RateLimited(
        "Too much unread; this connection is closed.".into(),
    ))
}

/// Any event the server does not know: answered `not_found`, never dropped in silence.
pub async fn unknown_event(reply: Reply) {
    let result = reply
        .take_budget()
        .and(Err(AppError::NotFound("No such event.".into())));
    reply.finish::<()>(result);
}

/// Keeps one socket's `sendMessage`s in the order they arrived. A send that has to wait (for
/// the database, say) goes on in a task of its own (`run_in_place`), so a later send of the same
/// socket could otherwise reach the writer first; each send takes a ticket while its extractors
/// run (in arrival order, before any task is spawned) and enters the writer's queue only on its
/// turn.
#[derive(Debug, Default)]
pub struct SendOrder {
    issued: std::sync::atomic::AtomicU64,
    next: std::sync::atomic::AtomicU64,
    turn: tokio::sync::Notify,
}

/// A place in a socket's send order.
pub struct Ticket {
    order: Arc<SendOrder>,
    number: u64,
}

impl FromMessageParts<socketioxide::adapter::LocalAdapter> for Ticket {
    type Error = Infallible;

    fn from_message_parts(
        s: &Arc<Socket>,
        v: &mut RawValue,
        ack_id: &Option<i64>,
    ) -> std::result::Result<Self, Infallible> {
        let socket = SocketRef::from_message_parts(s, v, ack_id)?;
        let order = socket
            .extensions
            .get::<Arc<SendOrder>>()
            .unwrap_or_default();
        let number = order
            .issued
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Self { order, number })
    }
}

impl Ticket {
    /// Waits for this ticket's turn; the turn passes on when the returned guard is dropped.
    pub async fn turn(self) -> Turn {
        use std::sync::atomic::Ordering;
        let order = self.order.clone();
        loop {
            let notified = order.turn.notified();
            if order.next.load(Ordering::SeqCst) >= self.number {
                return Turn(self);
            }
            notified.await;
        }
    }
}

/// Holding the turn; dropping it lets the next send in.
pub struct Turn(Ticket);

impl Drop for Turn {
    fn drop(&mut self) {
        let order = &self.0.order;
        order
            .next
            .fetch_max(self.0.number + 1, std::sync::atomic::Ordering::SeqCst);
        order.turn.notify_waiters();
    }
}

/// Polls `work` once, here and now; if it has to wait, it goes on in a task of its own. For an
/// event handler called where its packet is read: work that need not wait is done before the
/// packet's dispatch returns, with no task spawned.
pub fn run_in_place(work: impl Future<Output = ()> + Send + 'static) {
    let mut work = Box::pin(work);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    if work.as_mut().poll(&mut cx).is_pending() {
        // Whatever it waits on holds the no-op waker of that poll until the task's first poll,
        // which tokio makes at once and which registers the task's own: no wake-up is lost.
        tokio::spawn(work);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    /// One socket's next `n` tickets, in arrival order.
    fn tickets(n: u64) -> Vec<Ticket> {
        let order = Arc::new(SendOrder::default());
        (0..n)
            .map(|_| Ticket {
                order: order.clone(),
                number: order.issued.fetch_add(1, Ordering::SeqCst),
            })
            .collect()
    }

    /// Records what ran, in order.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<&'static str>>>);

    impl Log {
        fn push(&self, what: &'static str) {
            self.0.lock().unwrap().push(what);
        }
        fn entries(&self) -> Vec<&'static str> {
            self.0.lock().unwrap().clone()
        }
    }

    // A current-thread runtime: a spawned task runs only once the test awaits, so whatever ran
    // before that ran in place.
    #[tokio::test]
    async fn work_that_need_not_wait_is_done_before_run_in_place_returns() {
        let log = Log::default();
        let [only] = <[Ticket; 1]>::try_from(tickets(1)).ok().unwrap();

        let l = log.clone();
        run_in_place(async move {
            let _turn = only.turn().await;
            l.push("sent");
        });

        assert_eq!(log.entries(), ["sent"]);
    }

    #[tokio::test]
    async fn a_send_waits_for_an_earlier_one_of_its_socket_that_had_to_wait() {
        let log = Log::default();
        let [first, second] = <[Ticket; 2]>::try_from(tickets(2)).ok().unwrap();
        let (release, database) = tokio::sync::oneshot::channel::<()>();

        let l = log.clone();
        run_in_place(async move {
            let _turn = first.turn().await;
            let _ = database.await;
            l.push("first");
        });
        let l = log.clone();
        run_in_place(async move {
            let _turn = second.turn().await;
            l.push("second");
        });
        let before = log.entries();
        release.send(()).unwrap();
        let finished = tokio::time::timeout(Duration::from_secs(5), async {
            while log.entries().len() < 2 {
                tokio::task::yield_now().await;
            }
        })
        .await;

        assert!(before.is_empty(), "ran out of turn: {before:?}");
        assert!(finished.is_ok(), "both sends finish: {:?}", log.entries());
        assert_eq!(log.entries(), ["first", "second"]);
    }
}
