//! The Socket.IO layer: the handshake (`connect`), socket addressing (`room_key`, `user_key`,
//! `session_key`) and every client event, registered here in one table.

pub mod connect;
pub mod fanout;
pub mod guard;
pub mod messages;
pub mod outbox;
pub mod reply;
pub mod rooms;
pub mod state;

use crate::auth::CurrentUser;
use crate::auth::token::now_secs;
use crate::events::Event;
use crate::rooms::user_ref;
use crate::state::AppState;
use app::events::{
    ClientEvent, DeleteMessage, EditMessage, History, JoinRoom, LeaveRoom, MarkRead, SendMessage,
    Typing,
};
use app::models::{RoomId, UserId};
use socketioxide::SocketIo;
use socketioxide::extract::{Extension, SocketRef, State};
use socketioxide::handler::ConnectHandler;
use socketioxide::operators::BroadcastOperators;
use std::sync::Arc;
use std::time::Duration;

/// Every server-side emit, join and count starts here: the default namespace's operators, or
/// `None` once the server has closed its sockets (shutdown). socketioxide removes the namespace
/// then, and its own `io.to`, `io.within` and `io.emit` panic; a request or timer still running
/// at that point has no socket left to tell, and what it committed is in the log.
pub fn sockets(io: &SocketIo) -> Option<BroadcastOperators> {
    io.of("/")
}

/// The Socket.IO room of a chat room: every member socket.
pub fn room_key(room: RoomId) -> String {
    format!("room:{room}")
}

/// The Socket.IO room of a user: all their sockets (tabs, devices).
pub fn user_key(user: UserId) -> String {
    format!("user:{user}")
}

/// The Socket.IO room of a session: the sockets opened with its tokens.
pub fn session_key(session_id: crate::auth::SessionId) -> String {
    format!("session:{session_id}")
}

/// The Socket.IO room of every admin socket: the dashboard goes there.
pub const ADMINS_ROOM: &str = "admins";

/// How often admins get fresh dashboard figures.
const DASHBOARD_EVERY: Duration = Duration::from_secs(2);

/// When the socket's token expires (seconds since the epoch).
#[derive(Debug, Clone, Copy)]
pub struct TokenExpiry(pub u64);

/// Registers the `/` namespace: handshake middleware, then the connect handler.
pub fn register(io: &SocketIo) {
    io.ns("/", on_connect.with(connect::authenticate));
}

/// The rooms a socket's user was a member of at the handshake (loaded by the middleware).
#[derive(Debug, Clone)]
pub struct MemberRooms(pub Arc<[RoomId]>);

/// What the cluster said of a socket at the handshake: whether it is its user's only one
/// anywhere (`None` on a single instance).
#[derive(Debug, Clone, Copy)]
pub struct OnlyAnywhere(pub Option<bool>);

/// The event table: every client event of API.md. Registered by the handshake middleware,
/// before the connect packet goes out: socketioxide spawns the connect handler only after it,
/// so a client emitting at once could otherwise beat the registrations and be dropped.
pub fn register_events(socket: &SocketRef) {
    socket.on(JoinRoom::NAME, rooms::join_room);
    socket.on(LeaveRoom::NAME, rooms::leave_room);
    socket.on(<MarkRead as ClientEvent>::NAME, rooms::mark_read);
    socket.on(<Typing as ClientEvent>::NAME, rooms::typing);
    socket.on(SendMessage::NAME, messages::SendMessageInPlace);
    socket.on(EditMessage::NAME, messages::edit_message);
    socket.on(DeleteMessage::NAME, messages::delete_message);
    socket.on(History::NAME, messages::history);
    socket.on_fallback(reply::unknown_event);
    socket.on_disconnect(on_disconnect);
}

/// Runs once per accepted socket (the middleware already authenticated it, joined its rooms and
/// registered its events): presence and metrics.
async fn on_connect(
    socket: SocketRef,
    state: AppState,
    Extension(me): Extension<CurrentUser>,
    Extension(MemberRooms(rooms)): Extension<MemberRooms>,
    Extension(OnlyAnywhere(only)): Extension<OnlyAnywhere>,
) {
    metrics::gauge!("sockets_connected").increment(1.0);
    let id = fanout::socket_id(socket.id);
    state
        .presence
        .socket_connected(&user_ref(&me), id, &rooms, only);
    // A socket that closed while this handler waited to run has had its disconnect handler
    // already: undo. Presence counts sockets by id, so undoing twice is harmless.
    if !socket.connected() {
        state.presence.socket_disconnected(&user_ref(&me), id, None);
    }
}

async fn on_disconnect(
    socket: SocketRef,
    state: AppState,
    State(outboxes): State<Arc<outbox::Outboxes>>,
    Extension(me): Extension<CurrentUser>,
) {
    metrics::gauge!("sockets_connected").decrement(1.0);
    outboxes.remove(socket.id);
    let id = fanout::socket_id(socket.id);
    let last = state.presence.release(me.id, id).await;
    state.presence.socket_disconnected(&user_ref(&me), id, last);
}

/// How often a cluster member checks its sockets' sessions against the database.
const SESSION_CHECK_EVERY: Duration = Duration::from_secs(30);

/// In a cluster: every `SESSION_CHECK_EVERY`, and at once when the link to the other instances
/// comes back after a loss, the sockets whose session ended (a sign-out or ban whose event this
/// instance may have missed) are closed, and those whose role changed follow the admins' live
/// data or stop. The session cache is cleared first, so the check reads the database.
pub fn spawn_session_checker(state: AppState, io: SocketIo) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SESSION_CHECK_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = state.bus.reconnected() => {}
            }
            state.auth.sessions.invalidate();
            for socket in io.sockets() {
                let Some(me) = socket.extensions.get::<CurrentUser>() else {
                    continue;
                };
                match crate::auth::refresh_current(&state, &me).await {
                    Ok(now) if now.role == me.role => {}
                    // Promoted or demoted: the socket follows the admins' live data or stops.
                    Ok(now) => {
                        if now.is_admin() {
                            socket.join(ADMINS_ROOM);
                        } else {
                            socket.leave(ADMINS_ROOM);
                        }
                        socket.extensions.insert(now);
                    }
                    Err(crate::error::AppError::Unauthorized(_)) => {
                        tracing::debug!(sid = %socket.id, "session ended: closing socket");
                        let _ = socket.disconnect();
                    }
                    // The database does not answer: checked again next time.
                    Err(_) => break,
                }
            }
        }
    })
}

/// Every few seconds, the admin dashboard to the admins' sockets; nothing is computed while no
/// admin is connected.
pub fn spawn_dashboard_pusher(state: AppState, io: SocketIo) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(DASHBOARD_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let admins = sockets(&io).map(|ns| ns.within(ADMINS_ROOM).sockets());
            if admins.is_none_or(|admins| admins.is_empty()) {
                continue;
            }
            match crate::admin::dashboard::snapshot(&state).await {
                Ok(dashboard) => state.bus.publish(Event::Dashboard(dashboard)).await,
                Err(e) => tracing::warn!(error = %e, "computing the dashboard"),
            }
        }
    })
}

/// Once a second, closes the sockets whose token has expired (the client refreshes its token and
/// reconnects) and the long-polling sockets that have stopped polling for `silence` (see
/// `outbox`): one task for all sockets rather than a timer per socket (memory per socket
/// matters at 10,000 sockets).
pub fn spawn_sweeper(io: SocketIo, silence: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let now = now_secs();
            for socket in io.sockets() {
                if socket
                    .extensions
                    .get::<TokenExpiry>()
                    .is_some_and(|TokenExpiry(exp)| exp <= now)
                {
                    tracing::debug!(sid = %socket.id, "token expired: closing socket");
                    let _ = socket.disconnect();
                } else if socket.transport_type() == socketioxide::TransportType::Polling
                    && let Some(outbox) = socket.extensions.get::<Arc<outbox::Outbox>>()
                    && !outbox.is_killed()
                    && outbox.polling_silent_for(silence)
                {
                    tracing::debug!(sid = %socket.id, "stopped polling: closing socket");
                    outbox.kill();
                }
            }
        }
    })
}
