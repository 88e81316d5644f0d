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
    assert!(
        text.contains("instance=\""),
        "every series names its instance: {text}"
    );
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
async fn an_in_memory_sqlite_database_is_refused_at_start_with_a_clear_message() {
    let dir = TestDir::new();
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

/// Runs the server binary with `args` in an empty folder; its output and whether it created a
/// database there.
async fn run_binary(args: &[&str]) -> (std::process::Output, bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new(env!("CARGO_BIN_EXE_tagarela"))
            .args(args)
            .current_dir(dir.path())
            .env_clear()
            .env("PORT", "0")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the binary answers at once instead of serving")
    .expect("run the binary");
    let created = std::fs::read_dir(dir.path())
        .expect("list")
        .next()
        .is_some();
    (output, created)
}

#[tokio::test]
async fn the_binary_answers_version_and_help_without_starting() {
    let (version, created_by_version) = run_binary(&["--version"]).await;
    let (help, created_by_help) = run_binary(&["--help"]).await;

    assert!(version.status.success());
    let version_text = String::from_utf8_lossy(&version.stdout);
    assert_eq!(
        version_text.trim(),
        format!("tagarela {}", env!("CARGO_PKG_VERSION"))
    );
    assert!(help.status.success());
    let help_text = String::from_utf8_lossy(&help.stdout);
    for words in ["realtime team chat", "DATABASE_URL", "PORT", "README"] {
        assert!(
            help_text.contains(words),
            "--help lacks {words:?}: {help_text}"
        );
    }
    assert!(
        !created_by_version && !created_by_help,
        "a database was created"
    );
}

#[tokio::test]
async fn the_binary_refuses_an_unknown_argument() {
    let (output, created) = run_binary(&["--port", "4000"]).await;

    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("--port"), "{error}");
    assert!(!created, "a database was created");
}

#[tokio::test]
async fn the_socket_io_client_is_served_where_node_serves_it() {
    let app = spawn_app().await;

    for (name, kind) in [
        ("socket.io.js", "javascript"),
        ("socket.io.min.js", "javascript"),
        ("socket.io.esm.min.js", "javascript"),
        ("socket.io.js.map", "json"),
    ] {
        let r = app.get(&format!("/socket.io/{name}"), None).await;
        assert_eq!(r.status(), StatusCode::OK, "{name}");
        let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.contains(kind), "{name}: {content_type}");
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        assert!(
            r.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("max-age")
        );
        let body = r.text().await.unwrap();
        assert!(body.len() > 10_000, "{name}: {} bytes", body.len());
        let again = app
            .get_with(&format!("/socket.io/{name}"), &[("if-none-match", &etag)])
            .await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{name}");
    }
}

#[tokio::test]
async fn live_and_ready_are_told_apart() {
    let app = spawn_app_with(&[("INSTANCE_ID", "one")]).await;

    let live = app.get("/healthz/live", None).await;
    assert_eq!(live.status(), StatusCode::OK);
    let ready = app.get("/healthz/ready", None).await;
    assert_eq!(ready.status(), StatusCode::OK);
    let body = ready.json::<Value>().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["instance"], "one");
    assert!(
        body.get("redis").is_none(),
        "no Redis on a single instance: {body}"
    );
}

#[tokio::test]
async fn an_instance_id_that_is_not_a_plain_name_stops_the_start() {
    let dir = TestDir::new();
    let mut vars = test_vars(&dir);
    vars.push(("INSTANCE_ID".into(), "a b".into()));
    let error = server::config::Config::from_vars(vars).unwrap_err();
    assert!(format!("{error:#}").contains("INSTANCE_ID"), "{error:#}");
}
