//! `GET /api/rooms` and the admin room routes `/api/admin/rooms`.

use super::{NewRoom, RoomChange};
use crate::auth::CurrentUser;
use crate::auth::extract::AdminUser;
use crate::error::Result;
use crate::extract::{Json, Path};
use crate::state::AppState;
use app::models::{Room, RoomId};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, post};

/// The routes, relative to `/api`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/rooms", get(list_rooms))
        .route("/admin/rooms", post(create_room))
        .route("/admin/rooms/{id}", patch(update_room).delete(delete_room))
}

/// `GET /api/rooms`: every room with the caller's fields; archived last.
async fn list_rooms(State(state): State<AppState>, me: CurrentUser) -> Result<Json<Vec<Room>>> {
    Ok(Json(super::list_rooms(&state, &me).await?))
}

/// `POST /api/admin/rooms`: 201 `room`.
async fn create_room(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Json(input): Json<NewRoom>,
) -> Result<(StatusCode, Json<Room>)> {
    Ok((
        StatusCode::CREATED,
        Json(super::create_room(&state, &admin, input).await?),
    ))
}

/// `PATCH /api/admin/rooms/{id}`: 200 `room`.
async fn update_room(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(room): Path<RoomId>,
    Json(input): Json<RoomChange>,
) -> Result<Json<Room>> {
    Ok(Json(super::update_room(&state, &admin, room, input).await?))
}

/// `DELETE /api/admin/rooms/{id}`: 204.
async fn delete_room(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(room): Path<RoomId>,
) -> Result<StatusCode> {
    super::delete_room(&state, &admin, room).await?;
    Ok(StatusCode::NO_CONTENT)
}
