//! The way in without JavaScript: the sign-in and sign-up forms post here (`POST /login`,
//! `POST /register`, form-encoded) and get a redirect, so a form submitted before the WASM has
//! loaded signs in like the app does, and the password never lands in a URL. Also the guard
//! that sends a visitor without a session from a chat page straight to sign in.

use super::{CredentialsInput, CurrentUser, origin, session_cookie};
use crate::error::AppError;
use crate::state::AppState;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use serde::Deserialize;
use std::net::SocketAddr;

/// The form routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", post(login_form))
        .route("/register", post(register_form))
}

/// The fields of both forms.
#[derive(Deserialize)]
struct CredentialsFields {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// `POST /login`: signed in, to the chat; else back to the form with the error.
async fn login_form(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    fields: Result<axum::Form<CredentialsFields>, axum::extract::rejection::FormRejection>,
) -> Response {
    signed_in_or_back("/login", &state, &headers, fields, async |input| {
        super::login(&state, addr.ip(), input).await
    })
    .await
}

/// `POST /register`: signed up and in, to the chat; else back to the form with the error.
async fn register_form(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    fields: Result<axum::Form<CredentialsFields>, axum::extract::rejection::FormRejection>,
) -> Response {
    signed_in_or_back("/register", &state, &headers, fields, async |input| {
        super::register(&state, addr.ip(), input).await
    })
    .await
}

/// Runs `start` on the form's fields; a session means its cookie and the chat, anything else
/// the form again with the error and the username (never the password) in its query.
async fn signed_in_or_back(
    form: &str,
    state: &AppState,
    headers: &HeaderMap,
    fields: Result<axum::Form<CredentialsFields>, axum::extract::rejection::FormRejection>,
    start: impl AsyncFnOnce(CredentialsInput) -> crate::error::Result<app::models::Session>,
) -> Response {
    let fields = match fields {
        Ok(axum::Form(fields)) => fields,
        // Over the body limit: refused before it was read whole.
        Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            return back(form, "", "The form is too large.");
        }
        Err(_) => return back(form, "", "Fill in your username and password."),
    };
    if !origin::not_cross_site(headers, &state.config) {
        return back(form, &fields.username, "Cross-site request refused.");
    }
    let username = fields.username.clone();
    let input = CredentialsInput {
        username: fields.username,
        password: fields.password,
    };
    match start(input).await {
        Ok(session) => {
            let cookie = session_cookie(
                &state.config,
                &session.token,
                state.config.jwt_ttl.as_secs(),
            );
            ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        Err(e) => back(form, &username, &e.to_body().message),
    }
}

/// A redirect to `form` showing `error`, with `username` filled in again.
fn back(form: &str, username: &str, error: &str) -> Response {
    let query =
        serde_urlencoded::to_string([("error", error), ("username", username)]).unwrap_or_default();
    Redirect::to(&format!("{form}?{query}")).into_response()
}

/// The chat's pages: only for someone signed in.
fn is_chat_path(path: &str) -> bool {
    path == "/" || path == "/settings" || path.starts_with("/rooms/")
}

/// Sends a visitor without a live session from a chat page to sign in at once, rather than
/// rendering the signed-in chat for the browser's script to send away.
pub async fn require_session(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != axum::http::Method::GET || !is_chat_path(request.uri().path()) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    match CurrentUser::from_request_parts(&mut parts, &state).await {
        Ok(_) => next.run(Request::from_parts(parts, body)).await,
        Err(AppError::Unauthorized(_)) => Redirect::to("/login").into_response(),
        Err(e) => e.into_response(),
    }
}
