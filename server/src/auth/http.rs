//! `/api/auth/*` and `/api/me` (API.md HTTP).

use super::{CredentialsInput, CurrentUser, PasswordChange, session_cookie};
use crate::error::Result;
use crate::extract::Json;
use crate::state::AppState;
use app::models::{Session, User};
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use std::net::SocketAddr;

/// The routes, relative to `/api`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/auth/logout-all", post(logout_all))
        .route("/auth/password", post(change_password))
        .route("/me", get(me))
}

/// The session body with its cookie.
fn with_cookie(state: &AppState, session: Session) -> impl IntoResponse + use<> {
    let cookie = session_cookie(
        &state.config,
        &session.token,
        state.config.jwt_ttl.as_secs(),
    );
    ([(header::SET_COOKIE, cookie)], Json(session))
}

/// A `Set-Cookie` that removes the session cookie.
fn cleared_cookie(state: &AppState) -> [(header::HeaderName, String); 1] {
    [(header::SET_COOKIE, session_cookie(&state.config, "", 0))]
}

/// `POST /api/auth/register`: 201 `{user, token, expires_at}`.
async fn register(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Json(input): Json<CredentialsInput>,
) -> Result<impl IntoResponse> {
    let session = super::register(&state, addr.ip(), input).await?;
    Ok((StatusCode::CREATED, with_cookie(&state, session)))
}

/// `POST /api/auth/login`: 200 `{user, token, expires_at}`.
async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Json(input): Json<CredentialsInput>,
) -> Result<impl IntoResponse> {
    let session = super::login(&state, addr.ip(), input).await?;
    Ok(with_cookie(&state, session))
}

/// `POST /api/auth/refresh`: a fresh token for the same session.
async fn refresh(State(state): State<AppState>, me: CurrentUser) -> Result<impl IntoResponse> {
    let session = super::refresh(&state, &me).await?;
    Ok(with_cookie(&state, session))
}

/// `POST /api/auth/logout`: 204; this session's tokens and sockets end.
async fn logout(State(state): State<AppState>, me: CurrentUser) -> Result<impl IntoResponse> {
    super::logout(&state, &me).await?;
    Ok((StatusCode::NO_CONTENT, cleared_cookie(&state)))
}

/// `POST /api/auth/logout-all`: 204; every session of the user ends.
async fn logout_all(State(state): State<AppState>, me: CurrentUser) -> Result<impl IntoResponse> {
    super::logout_all(&state, &me).await?;
    Ok((StatusCode::NO_CONTENT, cleared_cookie(&state)))
}

/// `POST /api/auth/password`: 204; the other sessions end.
async fn change_password(
    State(state): State<AppState>,
    me: CurrentUser,
    Json(input): Json<PasswordChange>,
) -> Result<StatusCode> {
    super::change_password(&state, &me, input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/me`: the caller's `user`.
async fn me(State(state): State<AppState>, me: CurrentUser) -> Result<Json<User>> {
    Ok(Json(super::me_user(&state, &me).await?))
}
