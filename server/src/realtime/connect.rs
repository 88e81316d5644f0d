//! The handshake, as a connect middleware: allowed origin, a token (from `auth.token`, then
//! `Authorization: Bearer`, then the session cookie; never the URL), a live session, a user not
//! banned, fewer than `MAX_SOCKETS_PER_USER` sockets. A refused socket never reaches a handler
//! or a room; the client gets `connect_error` with the error's `Display` as its message.

use super::outbox::{ConnectionLink, Outbox, Outboxes};
use super::reply::EventBudget;
use super::{ADMINS_ROOM, MemberRooms, TokenExpiry, room_key, session_key, user_key};
use crate::auth::extract::{bearer_token, cookie_token};
use crate::auth::{self, CurrentUser, origin};
use crate::ephemeral::presence::Admission;
use crate::rooms::user_ref;
use crate::state::AppState;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{SocketRef, State, TryData};
use std::sync::Arc;

/// Why a handshake was refused; the `Display` is what the client reads.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// Bad or missing token, ended session, banned user, foreign origin.
    #[error("unauthorized")]
    Unauthorized,
    /// Too many sockets for this user.
    #[error("rate_limited")]
    RateLimited,
}

/// Authenticates a new socket and stores its `CurrentUser` and token expiry in its extensions.
pub async fn authenticate(
    socket: SocketRef,
    io: SocketIo,
    state: AppState,
    State(outboxes): State<Arc<Outboxes>>,
    TryData(auth): TryData<Value>,
) -> Result<(), Refused> {
    let headers = &socket.req_parts().headers;
    if !origin::handshake_allowed(headers, &state.config) {
        return Err(Refused::Unauthorized);
    }
    let from_auth = auth
        .ok()
        .and_then(|a| a.get("token")?.as_str().map(str::to_owned));
    let token = from_auth
        .or_else(|| bearer_token(headers).map(str::to_owned))
        .or_else(|| cookie_token(headers, &state.config).map(str::to_owned))
        .ok_or(Refused::Unauthorized)?;
    let (me, exp): (CurrentUser, u64) = auth::authenticate(&state, &token)
        .await
        .map_err(|_| Refused::Unauthorized)?;
    let rooms = crate::rooms::member_room_ids(&state, me.id)
        .await
        .map_err(|e| {
            tracing::error!(error = ?e, "loading a user's rooms at the handshake");
            Refused::Unauthorized
        })?;
    // The cap: the cluster's (`admit` counts the socket in Redis), else this instance's, counted
    // again right before the joins, with no `.await` in between, so parallel handshakes see
    // each other.
    let open_here =
        || super::sockets(&io).map_or(0, |ns| ns.within(user_key(me.id)).sockets().len());
    let cap = state.config.max_sockets_per_user;
    let id = super::fanout::socket_id(socket.id);
    let only = match state
        .presence
        .admit(&user_ref(&me), id, cap, open_here())
        .await
    {
        Admission::Refused => return Err(Refused::RateLimited),
        Admission::Admitted(only) => only,
    };
    if only.is_none() && open_here() >= cap {
        return Err(Refused::RateLimited);
    }
    socket.extensions.insert(super::OnlyAnywhere(only));
    socket.join([user_key(me.id), session_key(me.session_id)]);
    socket.join(rooms.iter().map(|r| room_key(*r)).collect::<Vec<_>>());
    if me.is_admin() {
        socket.join(ADMINS_ROOM);
    }
    socket.extensions.insert(me);
    socket.extensions.insert(TokenExpiry(exp));
    socket
        .extensions
        .insert(Arc::new(EventBudget::new(state.config.socket_event_rate)));
    socket
        .extensions
        .insert(Arc::new(super::reply::SendOrder::default()));
    socket.extensions.insert(MemberRooms(rooms.into()));
    let outbox = Arc::new(Outbox::new(
        state.config.socket_queue_max_bytes(),
        state.config.socket_pages_in_flight,
    ));
    // A socket that opened as a WebSocket owns its connection from here on; one that opened with
    // long-polling gets its link when it upgrades (`guard`).
    if socket.transport_type() == socketioxide::TransportType::Websocket
        && let Some(link) = socket.req_parts().extensions.get::<ConnectionLink>()
    {
        link.link(outbox.clone());
    }
    outboxes.insert(socket.id, outbox.clone());
    socket.extensions.insert(outbox);
    super::register_events(&socket);
    Ok(())
}
