//! Socket handlers take `AppState` like HTTP handlers do: socketioxide keeps `Arc<Services>` as
//! its state (set when the Socket.IO layer is built).

use crate::state::{AppState, Services};
use socketioxide::extract::State;
use socketioxide::handler::{FromConnectParts, FromDisconnectParts, FromMessageParts, Value};
use socketioxide::socket::{DisconnectReason, Socket};
use std::sync::Arc;

fn from_socket(s: &Arc<Socket>) -> Result<AppState, MissingState> {
    let State(services) =
        State::<Arc<Services>>::from_disconnect_parts(s, DisconnectReason::ServerNSDisconnect)
            .map_err(|_| MissingState)?;
    Ok(AppState { services })
}

/// Raised only if the Socket.IO layer was built without the application state: a startup bug.
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
