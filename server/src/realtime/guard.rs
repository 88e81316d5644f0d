//! In front of the Socket.IO layer, for what engineioxide leaves unbounded: how many new
//! sessions one client address may open (`HANDSHAKE_RATE`: each costs memory before any
//! authentication), the official client at Node's paths (`/socket.io/socket.io.js`), and the
//! long-polling side of a socket's `Outbox` (the bytes its polling
//! responses carry away, and whether it still polls). It also gives every Socket.IO request
//! its own copy of its head (`own_handshake_request`).

use super::outbox::{ConnectionLink, Outbox, Outboxes};
use crate::error::AppError;
use crate::limits::RateLimiter;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, Response};
use axum::response::IntoResponse;
use futures_util::future::BoxFuture;
use http_body_util::BodyExt;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// What the guard keeps between requests.
pub struct Guard {
    /// New Engine.IO sessions per client address.
    pub handshakes: RateLimiter<IpAddr>,
    /// Every live socket's outbox.
    pub outboxes: Arc<Outboxes>,
}

/// The layer; wraps the Socket.IO service.
#[derive(Clone)]
pub struct GuardLayer(pub Arc<Guard>);

impl<S> Layer<S> for GuardLayer {
    type Service = GuardService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GuardService {
            inner,
            guard: self.0.clone(),
        }
    }
}

/// The guarded Socket.IO service.
#[derive(Clone)]
pub struct GuardService<S> {
    inner: S,
    guard: Arc<Guard>,
}

/// The value of `name` in a query string.
fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl<S, B> Service<Request<Body>> for GuardService<S>
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The service that was polled ready serves this request (tower's clone-and-swap idiom).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if !request.uri().path().starts_with("/socket.io/") {
            return Box::pin(async move { Ok(inner.call(request).await?.map(Body::new)) });
        }
        if matches!(*request.method(), Method::GET | Method::HEAD)
            && let Some(client) =
                crate::assets::serve_socket_io_client(request.uri().path(), request.headers())
        {
            return Box::pin(async move { Ok(client) });
        }
        let request = own_handshake_request(request);
        let query = request.uri().query().unwrap_or("");
        let websocket = query_param(query, "transport") == Some("websocket");
        let outbox = match query_param(query, "sid") {
            // A new session: counted against its address.
            None => {
                let addr = request
                    .extensions()
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ConnectInfo(a)| a.ip());
                if let Some(addr) = addr
                    && !self.guard.handshakes.try_hit(&addr)
                {
                    let refused = AppError::RateLimited(
                        "Too many new connections from this address; try again shortly.".into(),
                    );
                    return Box::pin(async move { Ok(refused.into_response()) });
                }
                None
            }
            Some(sid) => self.guard.outboxes.find(sid),
        };
        match outbox {
            // A socket the server closed (`Outbox::kill`): whatever its client asks, the request
            // becomes Engine.IO's close packet, which ends the session and frees its queue.
            Some(outbox) if outbox.is_killed() => {
                let request = close_packet(request);
                Box::pin(async move { Ok(inner.call(request).await?.map(Body::new)) })
            }
            // The upgrade of a polling socket: this connection now carries its WebSocket.
            Some(outbox) if websocket => {
                if let Some(link) = request.extensions().get::<ConnectionLink>() {
                    link.link(outbox);
                }
                Box::pin(async move { Ok(inner.call(request).await?.map(Body::new)) })
            }
            Some(outbox) if request.method() == Method::GET => {
                Box::pin(async move { Ok(counted_poll(inner.call(request).await?, outbox)) })
            }
            _ => Box::pin(async move { Ok(inner.call(request).await?.map(Body::new)) }),
        }
    }
}

/// `request` turned into a long-polling POST of Engine.IO's close packet (`1`) for its session.
fn close_packet(request: Request<Body>) -> Request<Body> {
    let (mut parts, _) = request.into_parts();
    parts.method = Method::POST;
    if let Ok(uri) = parts
        .uri
        .to_string()
        .replace("transport=websocket", "transport=polling")
        .parse()
    {
        parts.uri = uri;
    }
    parts.headers.remove(axum::http::header::UPGRADE);
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain;charset=UTF-8"),
    );
    parts.headers.insert(
        axum::http::header::CONTENT_LENGTH,
        axum::http::HeaderValue::from_static("1"),
    );
    Request::from_parts(parts, Body::from("1"))
}

/// A long-polling response whose bytes count as leaving its socket's outbox, and which counts
/// as the socket polling for as long as it is open.
fn counted_poll<B>(response: Response<B>, outbox: Arc<Outbox>) -> Response<Body>
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let open = PollOpen::new(outbox);
    response.map(move |body| {
        Body::new(body.map_frame(move |frame| {
            if let Some(data) = frame.data_ref() {
                open.0.sent(data.len());
            }
            frame
        }))
    })
}

/// Counts a long-polling request as open until dropped (with its response body).
struct PollOpen(Arc<Outbox>);

impl PollOpen {
    fn new(outbox: Arc<Outbox>) -> Self {
        outbox.poll_started();
        Self(outbox)
    }
}

impl Drop for PollOpen {
    fn drop(&mut self) {
        self.0.poll_ended();
    }
}

/// Gives a Socket.IO request its own copies of its URI and header values. hyper parses a request
/// into an 8 KiB read buffer and hands out slices of it, and engineioxide keeps the handshake
/// request for the socket's whole life, so without this every open socket pins that buffer.
pub fn own_handshake_request(mut request: Request<Body>) -> Request<Body> {
    let headers = request.headers();
    let mut owned = axum::http::HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        // Names are already owned (hyper copies them); values are slices of the buffer. A value
        // hyper accepted is always valid; if one were not, keeping it is still correct.
        let copy = match axum::http::HeaderValue::from_bytes(value.as_bytes()) {
            Ok(mut copy) => {
                copy.set_sensitive(value.is_sensitive());
                copy
            }
            Err(_) => value.clone(),
        };
        owned.append(name.clone(), copy);
    }
    *request.headers_mut() = owned;
    if let Ok(uri) = request.uri().to_string().parse() {
        *request.uri_mut() = uri;
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Bytes;
    use axum::http::{HeaderValue, Uri};

    /// A request whose URI and header values are slices of one buffer, the way hyper parses one.
    fn parsed_from_one_buffer(path: &str) -> (Bytes, Request<Body>) {
        let buffer = Bytes::from(format!("{path}websocketBearer x"));
        let (p, w) = (path.len(), path.len() + "websocket".len());
        let mut request = Request::new(Body::empty());
        *request.uri_mut() = Uri::from_maybe_shared(buffer.slice(..p)).unwrap();
        let upgrade = HeaderValue::from_maybe_shared(buffer.slice(p..w)).unwrap();
        let mut secret = HeaderValue::from_maybe_shared(buffer.slice(w..)).unwrap();
        secret.set_sensitive(true);
        request.headers_mut().insert("upgrade", upgrade);
        request.headers_mut().insert("authorization", secret);
        (buffer, request)
    }

    /// Whether any part of the request still points into `buffer`.
    fn points_into(buffer: &Bytes, request: &Request<Body>) -> bool {
        let range = buffer.as_ptr_range();
        std::iter::once(request.uri().path().as_bytes())
            .chain(request.headers().values().map(HeaderValue::as_bytes))
            .any(|bytes| range.contains(&bytes.as_ptr()))
    }

    #[test]
    fn a_socket_io_request_keeps_nothing_of_the_parse_buffer() {
        let path = "/socket.io/?EIO=4&transport=websocket";
        let (buffer, request) = parsed_from_one_buffer(path);
        assert!(
            points_into(&buffer, &request),
            "the fixture shares the buffer"
        );

        let owned = own_handshake_request(request);

        assert!(!points_into(&buffer, &owned));
        assert_eq!(owned.uri(), path);
        assert_eq!(owned.headers()["upgrade"], "websocket");
        assert_eq!(owned.headers()["authorization"], "Bearer x");
        assert!(owned.headers()["authorization"].is_sensitive());
    }

    #[test]
    fn query_params_are_found_by_name() {
        let q = "EIO=4&transport=polling&sid=abc";
        assert_eq!(query_param(q, "sid"), Some("abc"));
        assert_eq!(query_param(q, "transport"), Some("polling"));
        assert_eq!(query_param(q, "t"), None);
    }
}
