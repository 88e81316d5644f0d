//! `GET`/`POST /api/rooms/{id}/messages`: history and sending, for bots and scripts.

use crate::auth::CurrentUser;
use crate::error::Result;
use crate::extract::{Json, Path, Query};
use crate::state::AppState;
use app::events::SendMessage;
use app::models::{Message, MessageId, RoomId};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;

/// The routes, relative to `/api`.
pub fn router() -> Router<AppState> {
    Router::new().route("/rooms/{id}/messages", get(history).post(send_message))
}

#[derive(Deserialize)]
struct HistoryQuery {
    before: Option<MessageId>,
    limit: Option<i64>,
}

/// `GET /api/rooms/{id}/messages?before&limit`: oldest first, no tombstones.
async fn history(
    State(state): State<AppState>,
    _me: CurrentUser,
    Path(room): Path<RoomId>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<Vec<Message>>> {
    let (messages, _) = super::history(&state, room, query.before, query.limit).await?;
    Ok(Json(messages))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendBody {
    text: String,
    client_id: Option<String>,
}

/// `POST /api/rooms/{id}/messages`: 201, or 200 when the `clientId` repeats.
async fn send_message(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(room): Path<RoomId>,
    Json(body): Json<SendBody>,
) -> Result<(StatusCode, Json<Message>)> {
    let input = SendMessage {
        room_id: room,
        text: body.text,
        client_id: body.client_id,
    };
    let applied = super::send_message(&state, &me, input).await?;
    let status = if applied.is_new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(applied.message)))
}
