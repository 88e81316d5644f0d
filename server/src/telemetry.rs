//! Logs (tracing) and metrics (Prometheus text at `/metrics`, rendered by
//! `metrics-exporter-prometheus`).

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;
use tracing::Level;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _, filter, fmt};

/// Libraries whose debug and trace logs carry what must never be logged: socketioxide and
/// engineioxide log every packet (tokens in handshakes, message bodies), tungstenite every frame,
/// hyper and sqlx requests and statements. They log at `info` at most, whatever `RUST_LOG` says.
const QUIET_LIBRARIES: [&str; 7] = [
    "socketioxide",
    "engineioxide",
    "tungstenite",
    "tokio_tungstenite",
    "hyper",
    "hyper_util",
    "sqlx",
];

/// Whether an event of `target` at `level` may be logged (see `QUIET_LIBRARIES`).
fn loggable(target: &str, level: &Level) -> bool {
    let crate_name = target.split("::").next().unwrap_or(target);
    let cap = if crate_name == "sqlx" {
        Level::WARN
    } else {
        Level::INFO
    };
    *level <= cap || !QUIET_LIBRARIES.contains(&crate_name)
}

/// Installs the log subscriber: `RUST_LOG` filters, `info` by default; `QUIET_LIBRARIES` are
/// capped after it, so no directive, however specific, lets their packet logs through.
pub fn init_tracing() {
    let env = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info,sqlx=warn"));
    let quiet = filter::filter_fn(|meta| loggable(meta.target(), meta.level()));
    // `try_init`: tests build several apps in one process.
    let _ = tracing_subscriber::registry()
        .with(fmt::layer().with_filter(env).with_filter(quiet))
        .try_init();
}

/// The process-wide metrics recorder; installed on first use so several apps in one test
/// process share it.
pub fn metrics_handle(instance: &str) -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            // Every series names the instance (`INSTANCE_ID`): a cluster's are told apart when
            // one Prometheus scrapes them all. One recorder per process: the first app's name.
            let recorder = PrometheusBuilder::new()
                .add_global_label("instance", instance)
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first, which this crate never does.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// The state `/metrics` needs.
#[derive(Clone)]
pub struct MetricsState {
    /// Renders the text.
    pub handle: PrometheusHandle,
    /// `METRICS_TOKEN`.
    pub token: Option<String>,
}

/// `GET /metrics`: Prometheus text; with `METRICS_TOKEN` set, only for `Authorization: Bearer` it.
pub async fn metrics(State(state): State<MetricsState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given.map(str::as_bytes) != Some(token.as_bytes()) {
            return crate::error::AppError::Unauthorized("A metrics token is required.".into())
                .into_response();
        }
    }
    state.handle.run_upkeep();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.handle.render(),
    )
        .into_response()
}

/// Counts HTTP requests and their latency by route template (never by raw path: unbounded labels).
pub async fn track_http(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "other".to_owned());
    // Only the methods the app serves become labels: arbitrary ones would grow without bound.
    let method = match request.method().as_str() {
        m @ ("GET" | "POST" | "PATCH" | "DELETE" | "PUT" | "HEAD" | "OPTIONS") => m,
        _ => "other",
    }
    .to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels[..2])
        .record(start.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_logging_libraries_log_info_at_most() {
        assert!(!loggable("socketioxide::socket", &Level::DEBUG));
        assert!(!loggable("engineioxide", &Level::TRACE));
        assert!(loggable("socketioxide", &Level::INFO));
        assert!(!loggable("sqlx::query", &Level::INFO));
        assert!(loggable("server::auth", &Level::TRACE));
    }
}
