//! Room events: `joinRoom`, `leaveRoom`, `markRead`, `typing`.

use super::reply::{Limit, Reply};
use super::{room_key, user_key};
use crate::auth::CurrentUser;
use crate::rooms;
use crate::state::AppState;
use app::events::{Empty, JoinRoom, LeaveRoom, MarkRead, ServerEvent, Typing, UserTyping};
use serde_json::Value;
use socketioxide::extract::{Extension, SocketRef, TryData};

/// `joinRoom`.
pub async fn join_room(
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
            async |me, input: JoinRoom| rooms::join_room(&state, &me, input).await,
        )
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
        .run(
            &state,
            &me,
            Limit::Events,
            p,
            async |me, input: LeaveRoom| {
                rooms::leave_room(&state, &me, input.room_id)
                    .await
                    .map(|()| Empty {})
            },
        )
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
        .run(
            &state,
            &me,
            Limit::Events,
            p,
            async |me, input: MarkRead| {
                rooms::mark_read(&state, &me, Some(socket.id), input)
                    .await
                    .map(|()| Empty {})
            },
        )
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
        .run(&state, &me, Limit::Events, p, async |me, input: Typing| {
            rooms::ensure_member(&state, &me, input.room_id).await?;
            let event = UserTyping {
                room_id: input.room_id,
                user: rooms::user_ref(&me),
                typing: input.typing,
            };
            if let Some(sockets) = super::sockets(&state.io) {
                let _ = sockets
                    .to(room_key(input.room_id))
                    .except(user_key(me.id))
                    .volatile()
                    .emit(UserTyping::NAME, &event)
                    .await;
            }
            Ok(Empty {})
        })
        .await;
}
