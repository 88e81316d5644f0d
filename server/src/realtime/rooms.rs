//! Room events: `joinRoom`, `leaveRoom`, `markRead`, `typing`.

use super::outbox::Outbox;
use super::reply::{Reply, queue_page};
use crate::auth::CurrentUser;
use crate::rooms;
use crate::state::AppState;
use app::events::{Empty, JoinRoom, LeaveRoom, MarkRead, Typing};
use serde_json::Value;
use socketioxide::extract::{Extension, SocketRef, TryData};
use std::sync::Arc;

/// `joinRoom`: its page (catch-up or the newest messages) is one of the socket's pages in
/// flight, and counted against what it may have queued (`outbox`).
pub async fn join_room(
    socket: SocketRef,
    state: AppState,
    Extension(me): Extension<CurrentUser>,
    Extension(outbox): Extension<Arc<Outbox>>,
    reply: Reply,
    TryData(p): TryData<Value>,
) {
    reply
        .run(&state, &me, p, async |me, input: JoinRoom| {
            let _page = outbox.pages.acquire().await;
            let ack = rooms::join_room(&state, &me, input).await?;
            queue_page(&socket, &outbox, &ack.messages)?;
            Ok(ack)
        })
        .await;
}

/// `leaveRoom`.
pub async fn leave_room(
    state: AppState,
    Extension(me): Extension<CurrentUser>,
    reply: Reply,
    TryData(p): TryData<Value>,
) {
    reply
        .run(&state, &me, p, async |me, input: LeaveRoom| {
            rooms::leave_room(&state, &me, input.room_id)
                .await
                .map(|()| Empty {})
        })
        .await;
}

/// `markRead`.
pub async fn mark_read(
    socket: SocketRef,
    state: AppState,
    Extension(me): Extension<CurrentUser>,
    reply: Reply,
    TryData(p): TryData<Value>,
) {
    reply
        .run(&state, &me, p, async |me, input: MarkRead| {
            rooms::mark_read(
                &state,
                &me,
                Some(super::fanout::socket_id(socket.id)),
                input,
            )
            .await
            .map(|()| Empty {})
        })
        .await;
}

/// `typing`: to the room except every socket of the typist; volatile (dropped, not queued).
pub async fn typing(
    state: AppState,
    Extension(me): Extension<CurrentUser>,
    reply: Reply,
    TryData(p): TryData<Value>,
) {
    reply
        .run(&state, &me, p, async |me, input: Typing| {
            rooms::typing(&state, &me, input).await.map(|()| Empty {})
        })
        .await;
}
