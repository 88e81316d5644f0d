//! Builds the application: database, Socket.IO layer, HTTP router (API, pages, assets, metrics)
//! and the bound listener, so tests can start it on port 0 and read the address.

use crate::config::Config;
use crate::error::AppError;
use crate::extract::JSON_MAX_BYTES;
use crate::limits::RateLimiter;
use crate::messages::writer::Writer;
use crate::realtime::guard::{Guard, GuardLayer};
use crate::realtime::outbox::Outboxes;
use crate::state::{AppState, Services};
use crate::store::Store;
use crate::{assets, realtime, telemetry};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use leptos::config::LeptosOptions;
use leptos_axum::{LeptosRoutes, generate_route_list};
use socketioxide::layer::SocketIoLayer;
use socketioxide::{ParserConfig, SocketIo};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// One WebSocket message from a client (API.md Limits).
pub const WS_MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// One long-polling request body from a client (API.md Limits).
pub const POLLING_MAX_BODY_BYTES: u64 = 1024 * 1024;
/// Packets queued per socket before events to it are dropped (it then catches up by `seq`).
const SOCKET_BUFFER_PACKETS: usize = 1024;
/// Plain HTTP requests that take longer are answered 408; sockets are not affected.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A built, bound application, ready to serve.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    /// Socket.IO, in front of the router (see `serve_until`).
    socket_layer: SocketIoLayer,
    /// In front of Socket.IO: handshakes per address, long-polling accounting.
    guard: Arc<Guard>,
    state: AppState,
    /// The Socket.IO handle, closed at shut-down.
    io: SocketIo,
    /// Background tasks that emit on a timer (token expiry, presence, the admin dashboard),
    /// stopped before the sockets are closed.
    emitters: Vec<tokio::task::JoinHandle<()>>,
    /// The message writer's broadcasting task, stopped with the server.
    writer: tokio::task::JoinHandle<()>,
}

impl Application {
    /// Opens and migrates the database, builds the router and binds `config.bind:config.port`.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let clustered = config.redis_url.is_some();
        let store = open_store(&config, clustered).await?;
        crate::assets::warn_if_unbuilt();
        let listener = TcpListener::bind((config.bind, config.port)).await?;
        let address = listener.local_addr()?;
        let leptos = LeptosOptions::builder()
            .output_name(assets::bundle_name())
            .site_pkg_dir("pkg")
            .site_addr(address)
            .build();
        let auth = crate::auth::Auth::start(&*store, &config).await?;
        let (writer, writer_task) = Writer::new();
        let message_rate = RateLimiter::new(config.message_rate);
        let outboxes = Arc::new(Outboxes::default());
        let guard = Arc::new(Guard {
            handshakes: RateLimiter::new(config.handshake_rate),
            outboxes: outboxes.clone(),
        });
        let services = Arc::new(Services {
            store,
            config,
            leptos,
            auth,
            writer,
            presence: Arc::default(),
            bus: Arc::default(),
            minute_counts: Default::default(),
            message_rate,
        });

        let (socket_layer, io) = SocketIo::builder()
            .with_state(services.clone())
            // The socket layer's own: what each socket has queued and unread (`outbox`).
            .with_state(outboxes)
            .max_payload(POLLING_MAX_BODY_BYTES)
            .ws_max_message_size(WS_MAX_MESSAGE_BYTES)
            .ws_max_frame_size(WS_MAX_MESSAGE_BYTES)
            // Room for a burst (the writer commits up to 512 changes at once); a socket that
            // still overflows misses events and its client catches up by `seq`.
            .max_buffer_size(SOCKET_BUFFER_PACKETS)
            // Grows for larger frames; a small start saves memory on every idle socket.
            .ws_read_buffer_size(1024)
            // Every new session costs memory before anyone has signed in; one that sends no
            // CONNECT soon is a client that never will.
            .connect_timeout(services.config.connect_timeout)
            // Tagarela uses no binary packets: a binary attachment closes the connection at
            // once instead of being buffered (by default up to 10,000 parts and 10 MB each,
            // before any authentication).
            .with_parser(
                ParserConfig::common()
                    .max_incoming_binaries(0)
                    .max_incoming_binary_buf_size(0)
                    .packet_completion_timeout(Duration::from_secs(1)),
            )
            .build_layer();
        realtime::register(&io);
        // The dashboard's messages per minute: every new message this instance delivers, which
        // in a cluster is every instance's.
        let counts = Arc::downgrade(&services);
        services.bus.on_new_message(move || {
            if let Some(services) = counts.upgrade() {
                services.minute_counts.record(1);
            }
        });
        services
            .bus
            .subscribe(Arc::new(realtime::fanout::Fanout::new(io.clone())));
        let state = AppState { services };
        // Before the writer starts: from its first commit on, the log goes through the cluster.
        let member = match &state.config.redis_url {
            Some(url) => Some(crate::cluster::join(&state, url).await?),
            None => None,
        };
        let writer = writer_task.start(&*state.store, state.bus.clone())?;
        let mut emitters = vec![
            realtime::spawn_sweeper(io.clone(), state.config.write_timeout),
            spawn_memory_trimmer(),
            state.presence.clone().spawn_flusher(state.bus.clone()),
            realtime::spawn_dashboard_pusher(state.clone(), io.clone()),
        ];
        if state.bus.is_clustered() {
            emitters.push(realtime::spawn_session_checker(state.clone(), io.clone()));
        }

        let redis = member.map(|m| m.shared);
        let router = router(state.clone(), redis).layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http())
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(axum::middleware::from_fn(crate::headers::security_headers))
                .layer(CompressionLayer::new())
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    REQUEST_TIMEOUT,
                )),
        );
        Ok(Self {
            listener,
            address,
            router,
            socket_layer,
            guard,
            state,
            io,
            emitters,
            writer,
        })
    }

    /// The bound address (the real port when built with port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The application state, for tests that need the database or the socket layer.
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves until `shutdown` completes, then closes every socket and drains connections.
    pub async fn serve_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let io = self.io;
        // Socket.IO owns /socket.io/ and comes first, in front of the router and its layers.
        // - Outside the timeout: a long-polling GET legitimately waits, and a WebSocket lives
        //   for hours.
        // - Outside the request ID, tracing and compression layers, and before routing: Socket.IO
        //   keeps each socket's handshake request for the socket's whole life, and each of those
        //   adds to it (the request ID header alone 1.2 KB; routing a copy of the URI that pins
        //   hyper's read buffer). `own_handshake_request` copies what is kept out of that
        //   buffer. Together, about a third of a socket's memory (BENCHMARKS.md).
        let app = ServiceBuilder::new()
            .layer(GuardLayer(self.guard))
            .layer(self.socket_layer)
            .service(self.router);
        let write_timeout = self.state.config.write_timeout;
        let emitters: Vec<_> = self.emitters.iter().map(|t| t.abort_handle()).collect();
        let presence = self.state.presence.clone();
        let proxies = self.state.config.trusted_proxies.clone().into();
        crate::serve::serve_until(self.listener, app, write_timeout, proxies, async move {
            shutdown.await;
            tracing::info!("shutting down: closing sockets");
            // The timed emitters stop first: `io.close()` removes the namespace, and socketioxide
            // panics on an emit after that (the presence flusher's next tick would announce the
            // very disconnects this close causes).
            for task in emitters {
                task.abort();
            }
            presence.stopping();
            // Open WebSockets would otherwise keep their clients waiting for a close.
            io.close().await;
        })
        .await?;
        self.writer.abort();
        let mut panicked = 0;
        for task in self.emitters.into_iter().chain([self.writer]) {
            if let Err(e) = task.await
                && e.is_panic()
            {
                tracing::error!(error = %e, "a background task panicked");
                panicked += 1;
            }
        }
        self.state.store.close().await;
        anyhow::ensure!(panicked == 0, "{panicked} background task(s) panicked");
        Ok(())
    }
}

/// The store `DATABASE_URL` names, opened and migrated: `sqlite:` (the default) or
/// `postgres://` (also `postgresql://`); any other scheme stops the start.
async fn open_store(config: &Config, clustered: bool) -> anyhow::Result<Arc<dyn Store>> {
    let url = config.database_url.as_str();
    let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
    anyhow::ensure!(
        !clustered || postgres,
        "REDIS_URL needs a postgres:// DATABASE_URL: a cluster's instances share one PostgreSQL database"
    );
    if url.starts_with("sqlite:") {
        let store = crate::store::sqlite::SqliteStore::open(url, config.durability).await?;
        Ok(Arc::new(store))
    } else if postgres {
        let store =
            crate::store::postgres::PgStore::open(url, config.pg_pool_size, clustered).await?;
        Ok(Arc::new(store))
    } else {
        // Only the scheme: the rest may hold a password.
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        anyhow::bail!("DATABASE_URL must start with sqlite:// or postgres://, not {scheme:?}")
    }
}

/// The whole HTTP surface on one router.
fn router(state: AppState, redis: Option<Arc<crate::cluster::redis::Shared>>) -> Router {
    let metrics = Router::new()
        .route("/metrics", get(telemetry::metrics))
        .with_state(telemetry::MetricsState {
            handle: telemetry::metrics_handle(&state.config.instance_id),
            token: state.config.metrics_token.clone(),
        });
    let pages = generate_route_list(app::App);
    let leptos = state.leptos.clone();
    // The admin pages read their data through this context while rendering.
    let admin_data: app::admin::SharedAdminBackend =
        Arc::new(crate::admin::pages::AdminData(state.clone()));
    let context = move || leptos::prelude::provide_context(admin_data.clone());
    Router::new()
        .route("/healthz", get(healthz))
        .route("/healthz/live", get(live))
        .route(
            "/healthz/ready",
            get(move |state: State<AppState>| ready(state, redis.clone())),
        )
        .nest(
            "/api",
            crate::auth::http::router()
                .merge(crate::rooms::http::router())
                .merge(crate::messages::http::router())
                .merge(crate::users::http::router())
                .merge(crate::admin::http::router())
                .method_not_allowed_fallback(api_not_found)
                .fallback(api_not_found),
        )
        // Forms carry a few short fields: the JSON bodies' limit holds for them too, rather
        // than axum's default of 2 MB read into memory before any check.
        .merge(crate::admin::pages::router().layer(DefaultBodyLimit::max(JSON_MAX_BYTES)))
        .merge(crate::auth::forms::router().layer(DefaultBodyLimit::max(JSON_MAX_BYTES)))
        .leptos_routes_with_context(&state, pages, context, move || app::shell(leptos.clone()))
        .fallback(site_fallback)
        .route_layer(axum::middleware::from_fn(telemetry::track_http))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::admin::pages::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::forms::require_session,
        ))
        .with_state(state)
        .merge(metrics)
}

/// `GET /healthz`: ok when the database answers.
async fn healthz(State(state): State<AppState>) -> Result<impl IntoResponse, AppError> {
    state.store.ping().await?;
    Ok(axum::Json(serde_json::json!({"status": "ok"})))
}

/// `GET /healthz/live`: the process serves (a proxy or supervisor restarts it when not).
async fn live() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ok"}))
}

/// `GET /healthz/ready`: the database answers and, in a cluster, Redis too; a proxy sends no
/// new clients to an instance that is not ready. 503 `unavailable` naming what does not answer.
async fn ready(
    State(state): State<AppState>,
    redis: Option<Arc<crate::cluster::redis::Shared>>,
) -> Response {
    let database = state.store.ping().await.is_ok();
    let redis_ok = match &redis {
        Some(shared) => Some(shared.ping().await.is_ok()),
        None => None,
    };
    let status = if database && redis_ok != Some(false) {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = serde_json::json!({
        "status": if status == StatusCode::OK { "ok" } else { "unavailable" },
        "database": if database { "ok" } else { "unavailable" },
        "instance": state.config.instance_id,
    });
    if let Some(ok) = redis_ok {
        body["redis"] = serde_json::json!(if ok { "ok" } else { "unavailable" });
    }
    if status != StatusCode::OK {
        body["error"] = serde_json::json!("unavailable");
        body["message"] =
            serde_json::json!("This instance is not ready: see which part does not answer.");
    }
    (status, axum::Json(body)).into_response()
}

/// Unknown `/api` routes (or methods) answer JSON, never a page.
async fn api_not_found() -> AppError {
    AppError::NotFound("No such API route.".into())
}

/// Static files of the site, else the app's own "not found" page (status 404).
async fn site_fallback(State(state): State<AppState>, request: Request) -> Response {
    if let Some(response) = assets::serve(request.uri().path(), request.headers()) {
        return response;
    }
    let leptos = state.leptos.clone();
    let render = leptos_axum::render_app_to_stream(move || app::shell(leptos.clone()));
    render(request).await.into_response()
}

/// Gives memory freed after a burst (a flood of handshakes, thousands of sockets closing) back
/// to the system once a minute. glibc keeps what its heaps free for reuse, so without this the
/// process stays at its peak after every burst (measured: BENCHMARKS.md, under attack).
fn spawn_memory_trimmer() -> tokio::task::JoinHandle<()> {
    tokio::spawn(async {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        tick.tick().await;
        loop {
            tick.tick().await;
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            // SAFETY: malloc_trim only releases free memory; glibc makes it thread-safe.
            let _ = tokio::task::spawn_blocking(|| unsafe { libc::malloc_trim(0) }).await;
        }
    })
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
