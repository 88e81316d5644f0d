//! Response headers every page and API response gets: no MIME sniffing, no referrer beyond this
//! site, and nothing private kept in a cache (API responses carry tokens and people's messages;
//! admin pages carry the user list).

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// Adds the headers; a handler's own `Cache-Control` (static assets) is kept.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let private = path.starts_with("/api/") || path == "/admin" || path.starts_with("/admin/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if private {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
