//! Message events: `sendMessage`, `editMessage`, `deleteMessage`, `history`.

use super::outbox::Outbox;
use super::reply::{Reply, Ticket, queue_page, run_in_place};
use crate::auth::CurrentUser;
use crate::messages;
use crate::state::AppState;
use app::events::{DeleteMessage, EditMessage, History, HistoryAck, MessageAck, SendMessage};
use serde_json::Value;
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::{Extension, SocketRef, TryData};
use socketioxide::handler::{FromMessageParts, MessageHandler, Value as RawValue};
use socketioxide::socket::Socket;
use std::sync::Arc;

/// `sendMessage`, run where socketioxide reads its packet rather than in a task of its own (the
/// hot path: socketioxide spawns a task for every event it hands to an async handler). A send
/// that need not wait (its socket's turn, a cached session, room in the writer's queue) is
/// queued before this returns; only one that must wait becomes a task (see `run_in_place`).
#[derive(Debug, Clone, Copy)]
pub struct SendMessageInPlace;

/// socketioxide's type parameter for `SendMessageInPlace`'s handler impl.
pub enum InPlace {}

impl MessageHandler<LocalAdapter, InPlace> for SendMessageInPlace {
    fn call(&self, s: Arc<Socket>, mut v: RawValue, ack_id: Option<i64>) {
        let state = match AppState::from_message_parts(&s, &mut v, &ack_id) {
            Ok(state) => state,
            Err(e) => return tracing::error!(error = %e, "sendMessage not handled"),
        };
        let me = match Extension::<CurrentUser>::from_message_parts(&s, &mut v, &ack_id) {
            Ok(me) => me,
            Err(e) => return tracing::error!(error = %e, "sendMessage not handled"),
        };
        let Ok(ticket) = Ticket::from_message_parts(&s, &mut v, &ack_id);
        let Ok(reply) = Reply::from_message_parts(&s, &mut v, &ack_id);
        let Ok(payload) = TryData::<Value>::from_message_parts(&s, &mut v, &ack_id);
        run_in_place(send_message(state, me, ticket, reply, payload));
    }
}

/// `sendMessage`: acked after the commit; a repeated `clientId` is not broadcast again.
async fn send_message(
    state: AppState,
    Extension(me): Extension<CurrentUser>,
    ticket: Ticket,
    reply: Reply,
    TryData(p): TryData<Value>,
) {
    // The turn is taken first and held until the change is queued: sends keep arrival order.
    let turn = ticket.turn().await;
    reply
        .run_then(
            &state,
            &me,
            p,
            async |me, input: SendMessage, reply: Reply| {
                messages::send_message_then(&state, &me, input, turn, move |outcome| {
                    reply.finish(outcome.map(|applied| MessageAck {
                        message: applied.message,
                    }))
                })
                .await
            },
        )
        .await;
}

/// `editMessage`.
pub async fn edit_message(
    state: AppState,
    Extension(me): Extension<CurrentUser>,
    reply: Reply,
    TryData(p): TryData<Value>,
) {
    reply
        .run(&state, &me, p, async |me, input: EditMessage| {
            Ok(MessageAck {
                message: messages::edit_message(&state, &me, input).await?,
            })
        })
        .await;
}

/// `deleteMessage`: acks the tombstone.
pub async fn delete_message(
    state: AppState,
    Extension(me): Extension<CurrentUser>,
    reply: Reply,
    TryData(p): TryData<Value>,
) {
    reply
        .run(&state, &me, p, async |me, input: DeleteMessage| {
            Ok(MessageAck {
                message: messages::delete_message(&state, &me, input).await?,
            })
        })
        .await;
}

/// `history`: older messages, oldest first; one of the socket's pages in flight, and counted
/// against what it may have queued (`outbox`).
pub async fn history(
    socket: SocketRef,
    state: AppState,
    Extension(me): Extension<CurrentUser>,
    Extension(outbox): Extension<Arc<Outbox>>,
    reply: Reply,
    TryData(p): TryData<Value>,
) {
    reply
        .run(&state, &me, p, async |_me, input: History| {
            let _page = outbox.pages.acquire().await;
            let (messages, has_more) =
                messages::history(&state, input.room_id, input.before, input.limit).await?;
            queue_page(&socket, &outbox, &messages)?;
            Ok(HistoryAck { messages, has_more })
        })
        .await;
}
