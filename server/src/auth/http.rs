//! `/api/auth/*` and `/api/me` (API.md HTTP).

use super::{CredentialsInput, CurrentUser, PasswordChange, origin, session_cookie};
use crate::error::{AppError, Result};
use crate::extract::Json;
use crate::state::AppState;
use app::models::{Session, User};
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
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

/// What a signed-out browser keeps of this site: nothing. The session cookie is removed, and
/// `Clear-Site-Data` has the browser drop its cache and storage too (drafts and unsent messages
/// of the account that signed out included: the next person at this computer sees none of it).
fn signed_out(state: &AppState) -> [(header::HeaderName, String); 2] {
    [
        (header::SET_COOKIE, session_cookie(&state.config, "", 0)),
        (
            header::HeaderName::from_static("clear-site-data"),
            "\"cache\", \"cookies\", \"storage\"".to_owned(),
        ),
    ]
}

/// Refuses a sign-in or sign-up that a browser says comes from another site (CSRF).
fn refuse_cross_site(state: &AppState, headers: &HeaderMap) -> Result<()> {
    if origin::not_cross_site(headers, &state.config) {
        Ok(())
    } else {
        Err(AppError::Forbidden("Cross-site request refused.".into()))
    }
}

/// `POST /api/auth/register`: 201 `{user, token, expires_at}`.
async fn register(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(input): Json<CredentialsInput>,
) -> Result<impl IntoResponse> {
    refuse_cross_site(&state, &headers)?;
    let session = super::register(&state, addr.ip(), input).await?;
    Ok((StatusCode::CREATED, with_cookie(&state, session)))
}

/// `POST /api/auth/login`: 200 `{user, token, expires_at}`.
async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(input): Json<CredentialsInput>,
) -> Result<impl IntoResponse> {
    refuse_cross_site(&state, &headers)?;
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
    Ok((StatusCode::NO_CONTENT, signed_out(&state)))
}

/// `POST /api/auth/logout-all`: 204; every session of the user ends.
async fn logout_all(State(state): State<AppState>, me: CurrentUser) -> Result<impl IntoResponse> {
    super::logout_all(&state, &me).await?;
    Ok((StatusCode::NO_CONTENT, signed_out(&state)))
}

/// `POST /api/auth/password`: 204; the other sessions end.
async fn change_password(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    me: CurrentUser,
    Json(input): Json<PasswordChange>,
) -> Result<StatusCode> {
    super::change_password(&state, &me, addr.ip(), input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/me`: the caller's `user`.
async fn me(State(state): State<AppState>, me: CurrentUser) -> Result<Json<User>> {
    Ok(Json(super::me_user(&state, &me).await?))
}
