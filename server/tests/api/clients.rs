//! Official Socket.IO clients other than the suite's own (Rust): API.md promises that they connect
//! unchanged over either transport. The Python one runs as a bot would, from
//! `end2end/clients/socketio_bot.py`, with the client `make py-clients` (part of `make test` and
//! `make test-rust`) installs into `target/py-clients`.

use crate::helpers::{TestApp, TestSocket, spawn_app};
use serde_json::{Value, json};
use std::path::PathBuf;

/// Runs the Python bot against `app` and returns what it saw (its one line of JSON).
async fn python_bot(app: &TestApp, token: &str, room: i64, transports: &[&str]) -> Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join("target/py-clients/bin/python");
    assert!(
        python.exists(),
        "{} is missing: `make py-clients` (part of `make test`) installs the Python Socket.IO client there",
        python.display()
    );
    let mut command = std::process::Command::new(python);
    command
        .arg(root.join("end2end/clients/socketio_bot.py"))
        .args([app.base.as_str(), token, &room.to_string()])
        .args(transports);
    // The bot bounds every wait itself (10 s each); off the runtime, the server keeps serving.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("run the Python bot");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the Python bot failed: {}\n{stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[tokio::test]
async fn the_official_python_client_works_over_each_transport() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    let bot = app.token("py_bot").await;
    let room = app.create_room(&ana, "general").await;
    let watcher = TestSocket::builder(&app)
        .auth(json!({"token": ana}))
        .connect()
        .await;
    watcher.request("joinRoom", json!({"roomId": room})).await;

    // (what the bot asks for, the transport it ends on: polling first, then the upgrade)
    for (transports, ends_on) in [
        (&["polling"][..], "polling"),
        (&["websocket"][..], "websocket"),
        (&["polling", "websocket"][..], "websocket"),
    ] {
        let out = python_bot(&app, &bot, room, transports).await;

        assert_eq!(out["transport"], ends_on, "{out}");
        assert_eq!(out["join"]["ok"], true, "{out}");
        assert_eq!(out["send"]["ok"], true, "{out}");
        let sent = &out["send"]["message"];
        assert_eq!(sent["text"], "hello from python");
        assert_eq!(out["received"][0]["id"], sent["id"], "its own broadcast");
        let seen = watcher
            .wait_for(|name, m| name == "newMessage" && m["id"] == sent["id"])
            .await;
        assert!(seen.is_some(), "the Rust member got the bot's message");
        assert_eq!(out["not_an_object"]["ok"], false);
        assert_eq!(out["not_an_object"]["error"]["error"], "invalid_input");
        assert_eq!(out["errors"][0]["error"], "invalid_input", "no callback");
        assert_eq!(out["forged_token_connected"], false);
        assert_eq!(out["refusals"], json!([{"message": "unauthorized"}]));
    }
}
