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

/// The bundle's name in the page (`pkg/<name>.js`, `pkg/<name>.wasm`): in a release build
/// `tagarela.<hash>`, the hash of the bundle's content, so a browser may keep those files
/// forever and a new release is new names. Debug builds, whose site is rebuilt under a running
/// server (`cargo leptos watch`), keep the plain name.
pub fn bundle_name() -> String {
    match bundle_hash() {
        Some(hash) if !cfg!(debug_assertions) => format!("tagarela.{hash}"),
        _ => "tagarela".to_owned(),
    }
}

/// 16 hex digits of the SHA-256 of the bundle's script and WebAssembly; `None` without a site.
fn bundle_hash() -> Option<&'static str> {
    static HASH: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let js = Site::get("pkg/tagarela.js")?.metadata.sha256_hash();
        let wasm = Site::get("pkg/tagarela.wasm")?.metadata.sha256_hash();
        let mixed: Vec<u8> = js.iter().zip(wasm.iter()).map(|(a, b)| a ^ b).collect();
        Some(hex(&mixed[..8]))
    })
    .as_deref()
}

/// The site file a request path names: itself, or for `pkg/tagarela.<hash>.<ext>` with the
/// current bundle's hash, `pkg/tagarela.<ext>` (an older hash is not found: its content is gone).
fn site_file(path: &str) -> Option<(String, rust_embed::EmbeddedFile)> {
    if let Some(file) = Site::get(path) {
        return Some((path.to_owned(), file));
    }
    let plain = unhashed(path, bundle_hash()?)?;
    Site::get(&plain).map(|file| (plain, file))
}

/// `pkg/tagarela.<ext>` for `pkg/tagarela.<hash>.<ext>`, only for this `hash`.
fn unhashed(path: &str, hash: &str) -> Option<String> {
    let rest = path.strip_prefix("pkg/tagarela.")?;
    let ext = rest.strip_prefix(hash)?.strip_prefix('.')?;
    Some(format!("pkg/tagarela.{ext}"))
}

/// Answers `path` from the site, honouring `If-None-Match`; `None` when there is no such file.
pub fn serve(path: &str, request_headers: &HeaderMap) -> Option<Response> {
    let path = path.trim_start_matches('/');
    if path.is_empty() || path.split('/').any(|segment| segment == "..") {
        return None;
    }
    if let Some(loader) = split_loader(path) {
        return Some(loader);
    }
    let requested = path;
    let (path, file) = site_file(requested)?;
    let path = path.as_str();
    // A release build's site carries each file compressed at build time, at brotli's highest
    // quality (cargo-leptos `precompress`): sent as they are, instead of compressed on the fly
    // at a low level on every request.
    let precompressed = [("br", ".br"), ("gzip", ".gz")]
        .into_iter()
        .filter(|(coding, _)| accepts(request_headers, coding))
        .find_map(|(coding, suffix)| Some((coding, Site::get(&format!("{path}{suffix}"))?)));
    let cache = if is_content_hashed(requested) {
        "public, max-age=31536000, immutable"
    } else {
        // Unhashed names (the bundle is `pkg/tagarela.wasm`) must be revalidated on every load,
        // so a new release is picked up at once; the ETag makes that a cheap 304.
        "no-cache"
    };
    match precompressed {
        Some((coding, compressed)) => {
            let mime = file.metadata.mimetype().to_owned();
            let mut response = respond(compressed, cache, request_headers)?;
            let headers = response.headers_mut();
            if let Ok(mime) = HeaderValue::from_str(&mime) {
                headers.insert(header::CONTENT_TYPE, mime);
            }
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
            headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            Some(response)
        }
        None => {
            let mut response = respond(file, cache, request_headers)?;
            response
                .headers_mut()
                .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            Some(response)
        }
    }
}

/// The loader of the bundle's lazily loaded parts (`cargo leptos --split`) imports the main
/// module as `./tagarela.js`, but a release page loads it as `tagarela.<hash>.js`: two addresses
/// are two module instances, and the loader's, never initialised, fails. Served with its import
/// naming the page's module; the router's compression layer compresses it (it is small).
fn split_loader(path: &str) -> Option<Response> {
    if !(path.starts_with("pkg/__wasm_split.") && path.ends_with(".js")) {
        return None;
    }
    let name = bundle_name();
    let file = Site::get(path)?;
    let text = std::str::from_utf8(&file.data).ok()?;
    let patched = text.replace("\"./tagarela.js\"", &format!("\"./{name}.js\""));
    Response::builder()
        .header(header::CONTENT_TYPE, "text/javascript")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from(patched))
        .ok()
}

/// Whether the request's `Accept-Encoding` takes `coding` (listed, and not with `q=0`).
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            parts.next().is_some_and(|c| c.eq_ignore_ascii_case(coding))
                && !parts.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f32>().ok())
                        .is_some_and(|q| q == 0.0)
                })
        })
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
    fn a_hashed_bundle_name_maps_to_its_file_only_for_the_current_hash() {
        let hash = "0123456789abcdef";
        assert_eq!(
            unhashed("pkg/tagarela.0123456789abcdef.wasm", hash).as_deref(),
            Some("pkg/tagarela.wasm")
        );
        assert_eq!(unhashed("pkg/tagarela.fedcba9876543210.wasm", hash), None);
        assert_eq!(unhashed("pkg/other.0123456789abcdef.js", hash), None);
    }

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        let with = |value: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
            h
        };
        assert!(accepts(&with("gzip, deflate, br, zstd"), "br"));
        assert!(accepts(&with("gzip;q=1.0, br;q=0.5"), "br"));
        assert!(!accepts(&with("gzip, br;q=0"), "br"));
        assert!(accepts(&with("gzip, br;q=0"), "gzip"));
        assert!(!accepts(&with("identity"), "gzip"));
        assert!(!accepts(&HeaderMap::new(), "br"));
    }

    #[test]
    fn parent_paths_are_refused() {
        assert!(serve("/../Cargo.toml", &HeaderMap::new()).is_none());
    }
}
