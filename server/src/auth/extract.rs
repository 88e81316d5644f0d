//! `CurrentUser` and `AdminUser` as axum extractors: the token from `Authorization: Bearer` or
//! the session cookie, checked against the database on every request; cookie-authenticated
//! writes must also pass the CSRF check.

use super::{CurrentUser, authenticate, origin, session_cookie_name};
use crate::config::Config;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};

/// The token of `Authorization: Bearer <token>`.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The token of the session cookie (by its name for this configuration).
pub fn cookie_token<'h>(headers: &'h HeaderMap, config: &Config) -> Option<&'h str> {
    let wanted = session_cookie_name(config);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value)
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let (token, by_cookie) = match bearer_token(&parts.headers) {
            Some(token) => (token, false),
            None => (
                cookie_token(&parts.headers, &state.config)
                    .ok_or_else(|| AppError::Unauthorized("Sign in to continue.".into()))?,
                true,
            ),
        };
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if by_cookie && !safe && !origin::same_origin_request(&parts.headers, &state.config) {
            return Err(AppError::Forbidden("Cross-site request refused.".into()));
        }
        let (me, _) = authenticate(state, token).await?;
        Ok(me)
    }
}

/// A signed-in admin; anyone else is refused (401 anonymous, 403 not an admin).
pub struct AdminUser(pub CurrentUser);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let me = CurrentUser::from_request_parts(parts, state).await?;
        if !me.is_admin() {
            return Err(AppError::Forbidden("Only admins may do that.".into()));
        }
        Ok(AdminUser(me))
    }
}
