//! The foundation: health, metrics, pages, assets, unknown routes.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn healthz_answers_ok_when_the_database_answers() {
    let app = spawn_app().await;

    let response = app.get("/healthz", None).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"status": "ok"})
    );
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let app = spawn_app().await;
    app.get("/healthz", None).await;

    let response = app.get("/metrics", None).await;

    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
}

#[tokio::test]
async fn metrics_need_the_token_when_one_is_set() {
    let app = spawn_app_with(&[("METRICS_TOKEN", "scrape-me")]).await;

    let anonymous = app.get("/metrics", None).await;
    let wrong = app.get("/metrics", Some("nope")).await;
    let right = app.get("/metrics", Some("scrape-me")).await;

    assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_error(wrong, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(right.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_api_routes_answer_json_404() {
    let app = spawn_app().await;

    let response = app.get("/api/no/such/route", None).await;

    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn the_home_page_is_server_rendered_and_loads_the_socket_client() {
    let app = spawn_app().await;

    let response = app.get("/", None).await;

    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("/vendor/socket.io.min.js"), "{html}");
    assert!(html.contains("/pkg/tagarela.js"), "{html}");
}

#[tokio::test]
async fn responses_carry_a_request_id() {
    let app = spawn_app().await;

    let response = app.get("/healthz", None).await;

    assert!(response.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn server_stops_gracefully_with_sockets_open() {
    let app = spawn_app().await;
    let token = app.token("ana").await;
    let socket = app.socket(&token).await;

    app.stop().await;

    assert!(
        socket.closed().await,
        "the server closed the socket: {:?}",
        socket.names()
    );
}

#[tokio::test]
async fn timed_emitters_do_not_panic_while_shutdown_waits_for_a_request() {
    let app = spawn_app().await;
    let token = app.token("ana").await;
    let _socket = app.socket(&token).await;
    let request = app
        .hold_request("/api/auth/login", &json!({"username": "ana"}), None)
        .await;

    let stopping = tokio::spawn(app.stop());
    // The sockets are closed at once, but the server waits for that request; meanwhile the
    // presence flusher (every 1 s) and the dashboard pusher (every 2 s) tick at least once.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    drop(request);

    // `stop` fails if a background task panicked (an emit after the sockets were closed).
    stopping.await.expect("the server stopped cleanly");
}

#[tokio::test]
async fn a_request_that_ends_after_the_sockets_closed_still_gets_its_response() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let socket = app.socket(&admin).await;
    let request = app
        .hold_request("/api/admin/rooms", &json!({"name": "late"}), Some(&admin))
        .await;

    let stopping = tokio::spawn(app.stop());
    assert!(socket.closed().await, "the server closed the socket");
    // The room is created after the sockets are gone: its `roomCreated` has no one to reach.
    let status = request.finish().await;

    assert_eq!(status, 201);
    stopping.await.expect("the server stopped cleanly");
}

#[tokio::test]
async fn an_in_memory_database_is_refused_at_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut vars = test_vars(&dir);
    vars.retain(|(name, _)| name != "DATABASE_URL");
    vars.push(("DATABASE_URL".into(), "sqlite::memory:".into()));
    let config = server::config::Config::from_vars(vars).unwrap();

    let built = server::startup::Application::build(config).await;

    let error = format!(
        "{:#}",
        built.err().expect("an in-memory database must be refused")
    );
    assert!(error.contains("database file"), "{error}");
}
