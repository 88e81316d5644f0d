//! `AppState`: what every handler, HTTP or socket, works with. The services behind an `Arc`, plus
//! the `SocketIo` handle so HTTP handlers can broadcast too.

use crate::config::Config;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use socketioxide::SocketIo;
use socketioxide::extract::State;
use socketioxide::handler::{FromConnectParts, FromDisconnectParts, FromMessageParts, Value};
use socketioxide::socket::{DisconnectReason, Socket};
use sqlx::SqlitePool;
use std::sync::Arc;

/// The long-lived parts of the application.
pub struct Services {
    /// The database.
    pub db: SqlitePool,
    /// Synchronous reads of the message log.
    pub readers: crate::db::Readers,
    /// The configuration read at start.
    pub config: Config,
    /// Leptos's rendering options.
    pub leptos: LeptosOptions,
    /// Tokens, passwords and sign-in limits.
    pub auth: crate::auth::Auth,
    /// The ordered write path of room logs.
    pub writer: crate::messages::writer::Writer,
    /// Who is online, and pending presence changes.
    pub presence: Arc<crate::realtime::presence::Presence>,
    /// Messages per minute over the last hour, for the dashboard.
    pub minute_counts: crate::admin::dashboard::MinuteCounts,
    /// `MESSAGE_RATE` per user.
    pub message_rate: crate::limits::RateLimiter<app::models::UserId>,
    /// What each socket has queued and unread (`realtime::outbox`).
    pub outboxes: Arc<crate::realtime::outbox::Outboxes>,
}

/// Cheap to clone: an `Arc` and a `SocketIo` (itself an `Arc`).
#[derive(Clone)]
pub struct AppState {
    /// The services.
    pub services: Arc<Services>,
    /// Broadcasts to rooms and sockets.
    pub io: SocketIo,
}

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// Socket handlers take `AppState` like HTTP handlers do: socketioxide keeps `Arc<Services>` as
/// its state (set before the `SocketIo` exists) and the socket knows its `SocketIo`.
fn from_socket(s: &Arc<Socket>) -> Result<AppState, MissingState> {
    let io = SocketIo::from_disconnect_parts(s, DisconnectReason::ServerNSDisconnect)
        .map_err(|never| match never {})?;
    let State(services) =
        State::<Arc<Services>>::from_disconnect_parts(s, DisconnectReason::ServerNSDisconnect)
            .map_err(|_| MissingState)?;
    Ok(AppState { services, io })
}

/// Raised only if the `SocketIo` was built without the services as state: a startup bug.
#[derive(Debug, thiserror::Error)]
#[error("the Socket.IO layer was built without the application state")]
pub struct MissingState;

impl FromConnectParts<socketioxide::adapter::LocalAdapter> for AppState {
    type Error = MissingState;
    fn from_connect_parts(s: &Arc<Socket>, _: &Option<Value>) -> Result<Self, MissingState> {
        from_socket(s)
    }
}

impl FromMessageParts<socketioxide::adapter::LocalAdapter> for AppState {
    type Error = MissingState;
    fn from_message_parts(
        s: &Arc<Socket>,
        _: &mut Value,
        _: &Option<i64>,
    ) -> Result<Self, MissingState> {
        from_socket(s)
    }
}

impl FromDisconnectParts<socketioxide::adapter::LocalAdapter> for AppState {
    type Error = MissingState;
    fn from_disconnect_parts(s: &Arc<Socket>, _: DisconnectReason) -> Result<Self, MissingState> {
        from_socket(s)
    }
}
