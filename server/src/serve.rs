//! The accept loop: every connection is served as HTTP/1.1 (with upgrades, for WebSockets) until
//! shutdown, then the server waits for the requests in flight.
//!
//! This does what `axum::serve` does, with one difference that matters for memory. `axum::serve`
//! uses hyper-util's auto builder. That builder first reads 24 bytes to tell HTTP/1 from HTTP/2
//! and hands them back to hyper, so hyper's 8 KiB read buffer starts with those bytes. It then
//! doubles to 16 KiB to make room for the rest of the request head. The parsed head keeps that
//! buffer alive, and Socket.IO keeps each WebSocket's handshake request (hence the buffer) for the
//! socket's whole life. The server speaks only HTTP/1.1 anyway, so the connections here go
//! straight to hyper's HTTP/1 server and the buffer stays at 8 KiB; `realtime::own_handshake_request`
//! then lets a socket keep none of it (BENCHMARKS.md, memory per socket).
//!
//! Every connection's writes have a deadline (`WRITE_TIMEOUT`): a client that stops reading its
//! response or its WebSocket would otherwise hold what was written for it for as long as the
//! connection lives. The connection's writes are also counted for the socket its WebSocket
//! belongs to (`realtime::outbox`).

use crate::realtime::outbox::ConnectionLink;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Sleep;
use tower::{Service, ServiceExt};

/// A client that sends its request head this slowly is disconnected (slowloris).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `app` on `listener` until `shutdown` completes. Then it stops accepting, asks every
/// connection to finish its current request and close, and returns once they all have.
/// Upgraded connections (WebSockets) are no longer HTTP connections: the caller closes those.
/// Every request carries the client's address as `ConnectInfo<SocketAddr>`: the peer's, or
/// behind one of `trusted_proxies` the forwarded one (`crate::proxy`).
pub async fn serve_until<S, B>(
    listener: TcpListener,
    app: S,
    write_timeout: Duration,
    trusted_proxies: std::sync::Arc<[ipnet::IpNet]>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // `stop_tx` tells the connections to wind down; each holds a `done_rx`, so
    // `done_tx.closed()` completes when the last one has gone.
    let (stop_tx, stop_rx) = watch::channel(());
    let (done_tx, done_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    pause_after_accept_error(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Without TCP_NODELAY, small Socket.IO frames (acks) wait for Nagle / delayed ACK.
        let _ = tcp.set_nodelay(true);
        let link = ConnectionLink::default();
        let io = GuardedIo::new(tcp, write_timeout, link.clone());
        let proxies = trusted_proxies.clone();
        let service = app.clone().map_request(move |request: Request<Incoming>| {
            let mut request = request.map(Body::new);
            let client = crate::proxy::client(request.headers_mut(), remote, &proxies);
            request.extensions_mut().insert(ConnectInfo(client));
            request.extensions_mut().insert(link.clone());
            request
        });
        let connection = http
            .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
            .with_upgrades();
        let mut stop = stop_rx.clone();
        let done = done_rx.clone();
        tokio::spawn(async move {
            let mut connection = pin!(connection);
            tokio::select! {
                result = connection.as_mut() => log_connection_end(result),
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    log_connection_end(connection.await);
                }
            }
            drop(done);
        });
    }
    drop(listener);
    // Every connection sees `changed()` complete (with an error) once the sender is gone.
    drop(stop_tx);
    drop(done_rx);
    done_tx.closed().await;
    Ok(())
}

fn log_connection_end(result: hyper::Result<()>) {
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// A failed `accept` that concerns one connection (reset before it was accepted) is skipped.
/// Anything else, e.g. out of file descriptors, would fail again at once, so wait a moment first.
async fn pause_after_accept_error(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// A connection whose writes fail with `TimedOut` once one has made no progress for `timeout`,
/// and whose written bytes are reported to its `ConnectionLink`. (tokio-io-timeout does the
/// first half, but keeps two timers in every connection; here the timer exists only while a
/// write is waiting, which matters at 10,000 idle sockets.)
pub struct GuardedIo {
    tcp: TcpStream,
    timeout: Duration,
    /// Started when a write first had to wait; cleared by any progress.
    stalled: Option<Pin<Box<Sleep>>>,
    /// Set once a write timed out: the connection is over, reads fail too. (engineioxide's
    /// WebSocket writer ignores write errors and goes on; its reader ending is what closes the
    /// session.)
    dead: bool,
    /// The task waiting to read, woken when the connection dies.
    reader: Option<std::task::Waker>,
    link: ConnectionLink,
}

impl GuardedIo {
    fn new(tcp: TcpStream, timeout: Duration, link: ConnectionLink) -> Self {
        Self {
            tcp,
            timeout,
            stalled: None,
            dead: false,
            reader: None,
            link,
        }
    }

    /// What a write's poll means for the deadline: progress clears it, waiting starts it (once)
    /// and fails once it has passed.
    fn deadline<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let timeout = self.timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        ready!(stalled.as_mut().poll(cx));
        self.dead = true;
        if let Some(reader) = self.reader.take() {
            reader.wake();
        }
        Poll::Ready(Err(stopped_reading()))
    }
}

/// The error of a connection whose client stopped reading (`WRITE_TIMEOUT`).
fn stopped_reading() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading")
}

/// The error of a connection whose socket was closed by the server (`Outbox::kill`).
fn killed() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "socket closed by the server",
    )
}

impl AsyncRead for GuardedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.dead {
            return Poll::Ready(Err(stopped_reading()));
        }
        if self.link.poll_killed(cx) {
            return Poll::Ready(Err(killed()));
        }
        let poll = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if poll.is_pending()
            && !self
                .reader
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
        {
            self.reader = Some(cx.waker().clone());
        }
        poll
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.dead {
            return Poll::Ready(Err(stopped_reading()));
        }
        if self.link.poll_killed(cx) {
            return Poll::Ready(Err(killed()));
        }
        let poll = Pin::new(&mut self.tcp).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            self.link.written(n);
        }
        self.deadline(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.dead {
            return Poll::Ready(Err(stopped_reading()));
        }
        let poll = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = poll {
            self.link.written(n);
        }
        self.deadline(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.tcp).poll_flush(cx);
        self.deadline(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.tcp).poll_shutdown(cx);
        self.deadline(cx, poll)
    }
}
