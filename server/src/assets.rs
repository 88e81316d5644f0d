//! The built site (WASM bundle, JS, CSS, public files, the Socket.IO client), embedded in release
//! builds so the binary needs no files beside it; debug builds read `target/site` from disk.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

// `allow_missing`: the server must compile (clippy, tests) on a clean checkout before the site
// has been built; `make release` always builds the site first, and `warn_if_unbuilt` says so
// loudly at start if a binary was built without it.
#[derive(rust_embed::Embed)]
#[folder = "../target/site"]
#[allow_missing = true]
struct Site;

/// The official Socket.IO browser client, from the npm package `make setup` installs, served
/// where Node's Socket.IO serves it (`/socket.io/socket.io.js`), for pages written for Socket.IO.
#[derive(rust_embed::Embed)]
#[folder = "../node_modules/socket.io-client/dist"]
#[allow_missing = true]
struct SocketIoClient;

/// The files of `SocketIoClient` served, as Node's server names them.
const SOCKET_IO_CLIENT_FILES: [&str; 6] = [
    "socket.io.js",
    "socket.io.js.map",
    "socket.io.min.js",
    "socket.io.min.js.map",
    "socket.io.esm.min.js",
    "socket.io.esm.min.js.map",
];

/// Warns when the site (WASM bundle) is absent: a server built before `cargo leptos build`.
pub fn warn_if_unbuilt() {
    if Site::get("pkg/tagarela.js").is_none() {
        tracing::warn!(
            "the site is not built (no pkg/tagarela.js): run `make run` or `make release`"
        );
    }
}

/// Answers `path` from the site, honouring `If-None-Match`; `None` when there is no such file.
pub fn serve(path: &str, request_headers: &HeaderMap) -> Option<Response> {
    let path = path.trim_start_matches('/');
    if path.is_empty() || path.split('/').any(|segment| segment == "..") {
        return None;
    }
    let file = Site::get(path)?;
    let cache = if is_content_hashed(path) {
        "public, max-age=31536000, immutable"
    } else {
        // Unhashed names (the bundle is `pkg/tagarela.wasm`) must be revalidated on every load,
        // so a new release is picked up at once; the ETag makes that a cheap 304.
        "no-cache"
    };
    respond(file, cache, request_headers)
}

/// Answers `/socket.io/<file>` with the Socket.IO client, if `path` names one of its files.
pub fn serve_socket_io_client(path: &str, request_headers: &HeaderMap) -> Option<Response> {
    let name = path.strip_prefix("/socket.io/")?;
    if !SOCKET_IO_CLIENT_FILES.contains(&name) {
        return None;
    }
    // A day, then a cheap revalidation by ETag: the names carry no version.
    let mut response = respond(
        SocketIoClient::get(name)?,
        "public, max-age=86400",
        request_headers,
    )?;
    if name.ends_with(".map") {
        // Source maps are JSON; mime_guess does not know the extension.
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    Some(response)
}

/// `file` with its ETag, `cache` policy and type; 304 when the client has it.
fn respond(
    file: rust_embed::EmbeddedFile,
    cache: &'static str,
    request_headers: &HeaderMap,
) -> Option<Response> {
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    let mut response = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, cache)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    let not_modified = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    if not_modified {
        response = response.status(StatusCode::NOT_MODIFIED);
        return response.body(Body::empty()).ok();
    }
    let mime = HeaderValue::from_str(file.metadata.mimetype())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    response
        .header(header::CONTENT_TYPE, mime)
        .body(Body::from(file.data.into_owned()))
        .ok()
}

/// Whether the file name carries a content hash (`name.<hex>.ext`), so it can be cached forever.
fn is_content_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.split('.')
        .any(|part| part.len() >= 8 && part.chars().all(|c| c.is_ascii_hexdigit()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hashed_names_are_immutable() {
        assert!(is_content_hashed("pkg/tagarela.3f9a1c2b7d.wasm"));
        assert!(!is_content_hashed("pkg/tagarela.wasm"));
        assert!(!is_content_hashed("favicon.ico"));
    }

    #[test]
    fn only_the_socket_io_client_is_served_under_its_path() {
        assert!(serve_socket_io_client("/socket.io/../Cargo.toml", &HeaderMap::new()).is_none());
        assert!(
            serve_socket_io_client("/socket.io/socket.io.msgpack.min.js", &HeaderMap::new())
                .is_none()
        );
        assert!(serve_socket_io_client("/vendor/socket.io.js", &HeaderMap::new()).is_none());
    }

    #[test]
    fn parent_paths_are_refused() {
        assert!(serve("/../Cargo.toml", &HeaderMap::new()).is_none());
    }
}
