//! Admin reads for the admin pages, additions to the contract: `GET /api/admin/actions` (the
//! action log), `GET /api/admin/rooms` (rooms with their figures), `GET /api/admin/dashboard`.

use super::AdminAction;
use crate::auth::extract::AdminUser;
use crate::error::Result;
use crate::extract::{Json, Query};
use crate::state::AppState;
use app::models::{AdminRoom, Dashboard};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Deserialize;

/// The routes, relative to `/api`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/actions", get(list_actions))
        .route("/admin/rooms", get(list_rooms))
        .route("/admin/dashboard", get(dashboard))
}

#[derive(Deserialize)]
struct ActionsQuery {
    limit: Option<i64>,
}

/// `GET /api/admin/actions?limit`: 200 `[action]`, newest first.
async fn list_actions(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(query): Query<ActionsQuery>,
) -> Result<Json<Vec<AdminAction>>> {
    Ok(Json(super::recent_actions(&state, query.limit).await?))
}

/// `GET /api/admin/rooms`: every room with members, online members, messages, last activity.
async fn list_rooms(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<Json<Vec<AdminRoom>>> {
    Ok(Json(crate::rooms::admin_overview(&state).await?))
}

/// `GET /api/admin/dashboard`: the dashboard's figures now (then live over the socket).
async fn dashboard(State(state): State<AppState>, _admin: AdminUser) -> Result<Json<Dashboard>> {
    Ok(Json(super::dashboard::snapshot(&state).await?))
}
