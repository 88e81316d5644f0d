//! `Json`, `Query` and `Path` that answer malformed requests with `invalid_input` in API.md's
//! shape, and bodies over 64 KiB with `payload_too_large`.

use crate::error::AppError;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The largest HTTP JSON body (API.md Limits).
pub const JSON_MAX_BYTES: usize = 64 * 1024;

/// Reads a payload that must be a JSON object into `T`. serde would happily read an array into a
/// struct (fields by position), so the shape is checked first; socket payloads use this too.
pub fn from_json_object<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, AppError> {
    if !value.is_object() {
        return Err(AppError::InvalidInput(
            "The payload must be a JSON object.".into(),
        ));
    }
    serde_json::from_value(value).map_err(AppError::malformed)
}

/// Whether `Content-Type` says JSON (`application/json`, any parameters).
fn is_json(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// A JSON object body, labelled `Content-Type: application/json`. The label is required: a
/// cross-site HTML form can post `text/plain` that happens to be JSON, and browsers send such a
/// form without asking the server first (CSRF); a JSON-labelled request from another site needs a
/// CORS preflight, which this server never grants.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, _: &S) -> Result<Self, AppError> {
        if !is_json(&request) {
            return Err(AppError::InvalidInput(
                "The body must be JSON, sent as Content-Type: application/json.".into(),
            ));
        }
        let bytes = axum::body::to_bytes(request.into_body(), JSON_MAX_BYTES)
            .await
            .map_err(|_| AppError::PayloadTooLarge("The request body is over 64 KiB.".into()))?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|_| AppError::InvalidInput("The body must be a JSON object.".into()))?;
        from_json_object(value).map(Json)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Query parameters.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| AppError::InvalidInput(format!("Bad query parameter: {}.", e.body_text())))
    }
}

/// Path parameters.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| AppError::InvalidInput(format!("Bad path: {}.", e.body_text())))
    }
}
