//! The one error type: each variant is an API.md error code. It becomes the HTTP response or the
//! socket reply; no other code builds error JSON. Internal causes are logged here, once, and
//! never reach a client (no SQL text, paths or panics).

use app::models::ErrorBody;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Every failure a request or event can end in.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// `invalid_input`, 422.
    #[error("{0}")]
    InvalidInput(String),
    /// `unauthorized`, 401.
    #[error("{0}")]
    Unauthorized(String),
    /// `forbidden`, 403.
    #[error("{0}")]
    Forbidden(String),
    /// `not_found`, 404.
    #[error("{0}")]
    NotFound(String),
    /// `conflict`, 409.
    #[error("{0}")]
    Conflict(String),
    /// `rate_limited`, 429.
    #[error("{0}")]
    RateLimited(String),
    /// `payload_too_large`, 413.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// `internal`, 500: a bug or an outage; the cause is logged, not sent.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The crate's result type.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl AppError {
    /// The API.md code.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::InvalidInput(_) => "invalid_input",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::RateLimited(_) => "rate_limited",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::Internal(_) => "internal",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::InvalidInput(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A malformed request or payload (wrong type, missing field, not an object).
    pub fn malformed(cause: impl std::fmt::Display) -> Self {
        AppError::InvalidInput(format!("Malformed input: {cause}."))
    }

    /// The body sent to the client; internal errors are logged here and answered with a fixed sentence.
    pub fn to_body(&self) -> ErrorBody {
        let message = match self {
            AppError::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                "Something went wrong on our side.".to_owned()
            }
            other => other.to_string(),
        };
        ErrorBody {
            error: self.code().to_owned(),
            message,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.to_body())).into_response()
    }
}

/// Gives a `conflict` from the store (a unique violation) the domain's `message`; any other
/// error passes through.
pub fn on_conflict(message: &'static str) -> impl FnOnce(AppError) -> AppError {
    move |e| match e {
        AppError::Conflict(_) => AppError::Conflict(message.to_owned()),
        e => e,
    }
}

impl From<app::validate::InvalidInput> for AppError {
    fn from(e: app::validate::InvalidInput) -> Self {
        AppError::InvalidInput(e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_never_leak_their_cause() {
        let err = AppError::Internal(anyhow::anyhow!("SELECT secret FROM users"));
        let body = err.to_body();
        assert_eq!(body.error, "internal");
        assert!(!body.message.contains("SELECT"));
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn codes_match_statuses() {
        assert_eq!(
            AppError::Conflict("x".into()).status(),
            StatusCode::CONFLICT
        );
        assert_eq!(AppError::RateLimited("x".into()).code(), "rate_limited");
        assert_eq!(AppError::malformed("bad").code(), "invalid_input");
    }
}
