//! Logs (tracing) and metrics (Prometheus text at `/metrics`, rendered by
//! `metrics-exporter-prometheus`).

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;
use tracing_subscriber::EnvFilter;

/// Installs the log subscriber: `RUST_LOG` filters, `info` by default.
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info,sqlx=warn"));
    // `try_init`: tests build several apps in one process.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

/// The process-wide metrics recorder; installed on first use so several apps in one test
/// process share it.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
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
