//! The admin user routes `/api/admin/users`.

use super::UserChange;
use crate::auth::extract::AdminUser;
use crate::error::Result;
use crate::extract::{Json, Path, Query};
use crate::state::AppState;
use app::models::{User, UserId};
use axum::Router;
use axum::extract::State;
use axum::routing::{get, patch};
use serde::Deserialize;

/// The routes, relative to `/api`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list_users))
        .route("/admin/users/{id}", patch(update_user))
}

#[derive(Deserialize)]
struct UsersQuery {
    q: Option<String>,
}

/// `GET /api/admin/users?q`: 200 `[user]` by username; `q` searches names, ignoring case.
async fn list_users(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(query): Query<UsersQuery>,
) -> Result<Json<Vec<User>>> {
    Ok(Json(super::list_users(&state, query.q.as_deref()).await?))
}

/// `PATCH /api/admin/users/{id}`: 200 `user`.
async fn update_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(user): Path<UserId>,
    Json(input): Json<UserChange>,
) -> Result<Json<User>> {
    Ok(Json(super::update_user(&state, &admin, user, input).await?))
}
