//! Message events: `sendMessage`, `editMessage`, `deleteMessage`, `history`.

use super::reply::{Limit, Reply, Ticket};
use crate::auth::CurrentUser;
use crate::messages;
use crate::state::AppState;
use app::events::{DeleteMessage, EditMessage, History, HistoryAck, MessageAck, SendMessage};
use serde_json::Value;
use socketioxide::extract::{Extension, TryData};

/// `sendMessage`: acked after the commit; a repeated `clientId` is not broadcast again.
pub async fn send_message(
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
            Limit::Messages,
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
        .run(
            &state,
            &me,
            Limit::Events,
            p,
            async |me, input: EditMessage| {
                Ok(MessageAck {
                    message: messages::edit_message(&state, &me, input).await?,
                })
            },
        )
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
        .run(
            &state,
            &me,
            Limit::Events,
            p,
            async |me, input: DeleteMessage| {
                Ok(MessageAck {
                    message: messages::delete_message(&state, &me, input).await?,
                })
            },
        )
        .await;
}

/// `history`: older messages, oldest first.
pub async fn history(
    state: AppState,
    Extension(me): Extension<CurrentUser>,
    reply: Reply,
    TryData(p): TryData<Value>,
) {
    reply
        .run(
            &state,
            &me,
            Limit::Events,
            p,
            async |_me, input: History| {
                let (messages, has_more) =
                    messages::history(&state, input.room_id, input.before, input.limit).await?;
                Ok(HistoryAck { messages, has_more })
            },
        )
        .await;
}
