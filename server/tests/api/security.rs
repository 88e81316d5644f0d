//! What an attacker from outside could do, and the limits that stop it: ids never handed out
//! twice, memory one client can make the server hold, handshake and parser floods, password
//! guessing, CSRF on the way in, the database file's mode, secrets in logs, response headers and
//! the per-socket event budget.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Every way a session ends, each followed by the owner signing in again (which on a store that
/// hands out ids again would give the new session the ended one's id).
#[tokio::test]
async fn a_token_of_an_ended_session_stays_refused_after_the_owner_signs_in_again() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let _ = app.register("ana").await;

    for how in ["logout", "logout-all", "password", "ban"] {
        // Arrange: the token to revoke is the newest session.
        let keeper = app.login("ana").await;
        let old = app.login("ana").await;
        // Act: end it, then sign in again, more than once.
        match how {
            "logout" | "logout-all" => {
                let path = format!("/api/auth/{how}");
                let r = app.post(&path, &json!({}), Some(&old)).await;
                assert_eq!(r.status(), StatusCode::NO_CONTENT, "{how}");
            }
            "password" => {
                let body = json!({"current": PASSWORD, "new": PASSWORD});
                let r = app.post("/api/auth/password", &body, Some(&keeper)).await;
                assert_eq!(r.status(), StatusCode::NO_CONTENT, "{how}");
            }
            _ => {
                let id = user_id(&app, &admin, "ana").await;
                let path = format!("/api/admin/users/{id}");
                let ban = app.patch(&path, &json!({"banned": true}), &admin).await;
                assert_eq!(ban.status(), StatusCode::OK);
                let unban = app.patch(&path, &json!({"banned": false}), &admin).await;
                assert_eq!(unban.status(), StatusCode::OK);
            }
        }
        for _ in 0..3 {
            let _ = app.login("ana").await;
        }
        // Assert: the old token stays refused, over HTTP and over the socket handshake.
        let me = app.get("/api/me", Some(&old)).await;
        assert_eq!(me.status(), StatusCode::UNAUTHORIZED, "after {how}");
        let refusal = TestSocket::builder(&app)
            .auth(json!({"token": old}))
            .refusal()
            .await;
        assert_eq!(refusal, "unauthorized", "after {how}");
    }
}

/// A deleted room's id never names another room: a client that kept it gets `not_found`.
#[tokio::test]
async fn a_deleted_rooms_id_is_never_given_to_a_new_room() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let _first = app.create_room(&admin, "first").await;
    let newest = app.create_room(&admin, "newest").await;

    let deleted = app
        .delete(&format!("/api/admin/rooms/{newest}"), &admin)
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let next = app.create_room(&admin, "next").await;
    let socket = app.socket(&admin).await;
    let rejoin = socket.request("joinRoom", json!({"roomId": newest})).await;

    assert_ne!(next, newest);
    assert_eq!(rejoin["ok"], false);
    assert_eq!(rejoin["error"]["error"], "not_found");
}

/// Makes the owner of `token` a member of `room`.
async fn join(app: &TestApp, token: &str, room: i64) {
    let socket = app.socket(token).await;
    let joined = socket.request("joinRoom", json!({"roomId": room})).await;
    assert_eq!(joined["ok"], true, "{joined}");
    socket.disconnect().await;
}

/// The id of `username`, from the admin's user list.
async fn user_id(app: &TestApp, admin: &str, username: &str) -> i64 {
    let users: Vec<Value> = app.get_json("/api/admin/users", admin).await;
    users
        .iter()
        .find(|u| u["username"] == username)
        .and_then(|u| u["id"].as_i64())
        .expect("user listed")
}

/// A WebSocket spoken by hand, so a test can do what no Socket.IO client does: stop reading, or
/// send packets no client would.
struct RawSocket {
    tcp: tokio::net::TcpStream,
}

impl RawSocket {
    /// Opens an Engine.IO WebSocket (with `Authorization: Bearer token` when given), with a
    /// small receive buffer so a test that stops reading fills it soon.
    async fn open(app: &TestApp, token: Option<&str>) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let mut tcp = socket.connect(app.address).await.expect("connect");
        let bearer = token.map_or(String::new(), |t| format!("authorization: Bearer {t}\r\n"));
        let head = format!(
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nhost: {}\r\n\
             upgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\n\
             sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n{bearer}\r\n",
            app.address
        );
        tcp.write_all(head.as_bytes()).await.expect("send upgrade");
        // The 101 head, read byte by byte so nothing after it is consumed.
        let mut seen = Vec::new();
        while !seen.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            let n = tokio::time::timeout(WAIT, tcp.read(&mut byte))
                .await
                .expect("upgrade answered")
                .expect("read");
            assert!(n > 0, "closed during the upgrade");
            seen.push(byte[0]);
        }
        assert!(
            seen.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&seen)
        );
        Self { tcp }
    }

    /// Sends one masked frame (`opcode` 1 text, 2 binary).
    async fn send_frame(&mut self, opcode: u8, payload: &[u8]) {
        use tokio::io::AsyncWriteExt;
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n < 65536 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask = [0x12, 0x34, 0x56, 0x78];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        // A write the server no longer takes (it closed) is the tests' business, not a panic.
        let _ = self.tcp.write_all(&frame).await;
    }

    async fn send_text(&mut self, text: &str) {
        self.send_frame(1, text.as_bytes()).await;
    }

    /// Reads (and drops) whatever arrives until the server closes the connection: true if it
    /// did within `limit`.
    async fn closed_within(&mut self, limit: std::time::Duration) -> bool {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        tokio::time::timeout(limit, async {
            loop {
                match self.tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await
        .is_ok()
    }
}

/// A room of `count` messages of 4,000 characters each, by `admin`; returns its id.
async fn room_of_long_messages(app: &TestApp, admin: &str, count: usize) -> i64 {
    let room = app.create_room(admin, "long").await;
    join(app, admin, room).await;
    let text = "x".repeat(4000);
    for _ in 0..count {
        let path = format!("/api/rooms/{room}/messages");
        let r = app.post(&path, &json!({"text": text}), Some(admin)).await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    room
}

/// A signed-in WebSocket that has asked for `pages` history pages of 200 messages of 4,000
/// characters (about 0.85 MB each) and reads none of them.
async fn ask_for_long_pages(app: &TestApp, pages: usize) -> RawSocket {
    let admin = app.token("admin").await;
    let room = room_of_long_messages(app, &admin, 200).await;
    let mut raw = RawSocket::open(app, Some(&admin)).await;
    raw.send_text("40").await;
    for ack in 0..pages {
        raw.send_text(&format!(
            r#"42{ack}["history",{{"roomId":{room},"limit":200}}]"#
        ))
        .await;
    }
    raw
}

/// The attack: ask for large pages and never read them. Each reply would stay queued for as
/// long as the socket lives; past `SOCKET_QUEUE_MAX_KIB` the server closes the socket instead.
#[tokio::test]
async fn a_socket_that_does_not_read_its_replies_is_closed() {
    let app = spawn_app_with(&[("SOCKET_QUEUE_MAX_KIB", "1024"), ("WRITE_TIMEOUT", "60s")]).await;

    // 40 pages of 200 messages: about 33 MB of replies, far beyond what the kernel buffers.
    let mut raw = ask_for_long_pages(&app, 40).await;
    // Reading any earlier would drain what the server holds before it is over the cap.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let closed = raw.closed_within(std::time::Duration::from_secs(20)).await;

    assert!(closed, "the server still holds the socket and its replies");
}

/// A WebSocket whose writes make no progress for `WRITE_TIMEOUT` is closed, pongs or not.
#[tokio::test]
async fn a_websocket_that_stops_reading_is_closed_after_the_write_timeout() {
    // A cap on unread replies too high to matter here: only the stalled writes close it.
    let app = spawn_app_with(&[("WRITE_TIMEOUT", "1s"), ("SOCKET_QUEUE_MAX_KIB", "1000000")]).await;

    // About 10 MB of replies: more than the kernel takes, so the writes stall.
    let mut raw = ask_for_long_pages(&app, 12).await;
    // Long enough for a slow machine to produce the replies and fill the kernel's buffers, and
    // for the stall to last the timeout: reading any earlier would end the stall.
    for _ in 0..8 {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        raw.send_text("3").await;
    }
    let closed = raw.closed_within(std::time::Duration::from_secs(20)).await;

    assert!(closed, "a socket that does not read stays open");
}

/// An HTTP response nobody reads is given up after `WRITE_TIMEOUT`, not held.
#[tokio::test]
async fn an_http_response_nobody_reads_is_given_up_after_the_write_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(&[("WRITE_TIMEOUT", "1s")]).await;
    let admin = app.token("admin").await;
    let room = room_of_long_messages(&app, &admin, 200).await;
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let mut tcp = socket.connect(app.address).await.expect("connect");

    // Ten pages of about 850 KB, pipelined on one connection: more than the kernel buffers, so
    // the server's writes stall once it has filled them.
    let head = format!(
        "GET /api/rooms/{room}/messages?limit=200 HTTP/1.1\r\nhost: {}\r\n\
         authorization: Bearer {admin}\r\naccept-encoding: identity\r\n\r\n",
        app.address
    )
    .repeat(10);
    tcp.write_all(head.as_bytes()).await.expect("send");
    // Reading any earlier would end the stall before the timeout.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let mut received = Vec::new();
    let ended = tokio::time::timeout(WAIT, tcp.read_to_end(&mut received)).await;

    // The server gave up long before writing it all, and closed.
    assert!(ended.is_ok(), "the connection is still open");
    assert!(
        received.len() < 8_000_000,
        "{} bytes arrived",
        received.len()
    );
}

/// New Engine.IO sessions are limited per client address (`HANDSHAKE_RATE`).
#[tokio::test]
async fn handshakes_beyond_the_rate_of_an_address_are_refused() {
    let app = spawn_app_with(&[("HANDSHAKE_RATE", "5/1m")]).await;

    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = app.get("/socket.io/?EIO=4&transport=polling", None).await;
        statuses.push(r.status());
    }
    let refused = app.get("/socket.io/?EIO=4&transport=polling", None).await;

    assert_eq!(&statuses[..5], &[StatusCode::OK; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

/// An Engine.IO session that never sends its Socket.IO CONNECT is closed after
/// `SOCKET_CONNECT_TIMEOUT`.
#[tokio::test]
async fn a_session_that_never_connects_is_closed_after_the_connect_timeout() {
    let app = spawn_app_with(&[("SOCKET_CONNECT_TIMEOUT", "1s")]).await;
    let sid = app.polling_session().await;

    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let poll = tokio::time::timeout(
        WAIT,
        app.get(
            &format!("/socket.io/?EIO=4&transport=polling&sid={sid}"),
            None,
        ),
    )
    .await
    .expect("answered at once, not held as a live session's poll");

    assert_eq!(poll.status(), StatusCode::BAD_REQUEST);
}

/// Tagarela uses no binary packets: one announcing attachments closes the connection at once,
/// before anything is buffered, signed in or not.
#[tokio::test]
async fn a_binary_attachment_closes_the_connection() {
    let app = spawn_app().await;
    let mut raw = RawSocket::open(&app, None).await;

    raw.send_text(r#"451-["upload",{"_placeholder":true,"num":0}]"#)
        .await;
    raw.send_frame(2, &vec![0u8; 60_000]).await;
    let closed = raw.closed_within(WAIT).await;

    assert!(closed, "the server waits for the attachment");
}

/// A wrong current password counts as a failed sign-in of the account (`LOGIN_RATE`).
#[tokio::test]
async fn wrong_current_passwords_are_limited_like_failed_sign_ins() {
    let app = spawn_app_with(&[("LOGIN_RATE", "3/5m")]).await;
    let token = app.token("ana").await;

    let mut statuses = Vec::new();
    for _ in 0..4 {
        let body = json!({"current": "not the password", "new": "a new password"});
        let r = app.post("/api/auth/password", &body, Some(&token)).await;
        statuses.push(r.status());
    }
    let right = json!({"current": PASSWORD, "new": "a new password"});
    let with_the_right_one = app.post("/api/auth/password", &right, Some(&token)).await;
    let sign_in = app.login_raw("ana", PASSWORD).await;

    assert_eq!(&statuses[..3], &[StatusCode::FORBIDDEN; 3]);
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS);
    assert_error(
        with_the_right_one,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    assert_eq!(sign_in.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// Unread counts stop at 100 (the room list shows "99+"): a room far behind costs no more.
#[tokio::test]
async fn unread_counts_stop_at_one_hundred() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let reader = app.token("reader").await;
    let room = app.create_room(&admin, "busy").await;
    let socket = app.socket(&reader).await;
    let joined = socket.request("joinRoom", json!({"roomId": room})).await;
    assert_eq!(joined["ok"], true);
    join(&app, &admin, room).await;

    for i in 0..120 {
        let path = format!("/api/rooms/{room}/messages");
        let text = format!("@reader message {i}");
        let r = app.post(&path, &json!({"text": text}), Some(&admin)).await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let rooms: Vec<Value> = app.get_json("/api/rooms", &reader).await;
    let busy = rooms.iter().find(|r| r["id"] == room).expect("listed");

    assert_eq!(busy["unread"], 100);
    assert_eq!(busy["unread_mentions"], 100);
}

/// A cross-site form can post `text/plain` that parses as JSON: such a body is refused, so
/// another site cannot sign a visitor in or up.
#[tokio::test]
async fn sign_in_and_sign_up_need_a_json_content_type() {
    let app = spawn_app().await;
    let _ = app.token("ana").await;
    let body = format!(r#"{{"username":"ana","password":"{PASSWORD}"}}"#);

    for path in ["/api/auth/login", "/api/auth/register"] {
        let r = app
            .http
            .post(app.url(path))
            .header("content-type", "text/plain")
            .body(body.clone())
            .send()
            .await
            .expect("request");
        assert!(r.headers().get("set-cookie").is_none(), "{path}");
        assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    }
}

/// A browser that says the sign-in or sign-up comes from another site is refused.
#[tokio::test]
async fn cross_site_sign_in_and_sign_up_are_refused() {
    let app = spawn_app().await;
    let _ = app.token("ana").await;
    let login = json!({"username": "ana", "password": PASSWORD});
    let register = json!({"username": "bob", "password": PASSWORD});

    for (path, body) in [
        ("/api/auth/login", &login),
        ("/api/auth/register", &register),
    ] {
        let foreign = app
            .post_with(path, body, &[("origin", "http://evil.example")])
            .await;
        assert_error(foreign, StatusCode::FORBIDDEN, "forbidden").await;
        let cross = app
            .post_with(path, body, &[("sec-fetch-site", "cross-site")])
            .await;
        assert_error(cross, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let own = app
        .post_with("/api/auth/login", &login, &[("origin", &app.base)])
        .await;
    assert_eq!(own.status(), StatusCode::OK);
}

/// The database holds password hashes and the generated secret: only its owner may read it.
#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_database_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    let _ = app.token("ana").await;

    for name in ["tagarela.db", "tagarela.db-wal"] {
        let meta = std::fs::metadata(app.dir.path().join(name)).expect(name);
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
    }
}

/// Pages and API answers say: no MIME sniffing, no referrer off the site; nothing private
/// cached; sign-out clears the browser's copy of the site.
#[tokio::test]
async fn responses_carry_the_security_headers() {
    let app = spawn_app().await;
    let token = app.token("admin").await;

    let me = app.get("/api/me", Some(&token)).await;
    let page = app.get("/login", None).await;
    let admin = app
        .get_with("/admin", &[("authorization", &format!("Bearer {token}"))])
        .await;
    let login = app.login_raw("admin", PASSWORD).await;
    let logout = app.post("/api/auth/logout", &json!({}), Some(&token)).await;

    for r in [&me, &page, &admin, &login] {
        assert_eq!(
            r.headers()["x-content-type-options"],
            "nosniff",
            "{}",
            r.url()
        );
        assert_eq!(r.headers()["referrer-policy"], "same-origin", "{}", r.url());
    }
    for r in [&me, &admin, &login] {
        assert_eq!(r.headers()["cache-control"], "no-store", "{}", r.url());
    }
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        logout.headers()["clear-site-data"],
        r#""cache", "cookies", "storage""#
    );
}

/// Over https the session cookie is a `__Host-` cookie, and only that one is read.
#[tokio::test]
async fn over_https_the_session_cookie_has_the_host_prefix() {
    let app = spawn_app_with(&[("PUBLIC_URL", "https://chat.example.org")]).await;
    let r = app.register_raw("ana", PASSWORD).await;
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let token: Value = r.json().await.unwrap();
    let token = token["token"].as_str().unwrap();

    let plain = app
        .get_with(
            "/api/me",
            &[("cookie", &format!("tagarela_session={token}"))],
        )
        .await;
    let prefixed = app
        .get_with(
            "/api/me",
            &[("cookie", &format!("__Host-tagarela_session={token}"))],
        )
        .await;

    assert!(cookie.starts_with("__Host-tagarela_session="), "{cookie}");
    assert!(
        cookie.contains("; Secure") && cookie.contains("; Path=/"),
        "{cookie}"
    );
    assert_eq!(plain.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(prefixed.status(), StatusCode::OK);
}

/// Every event counts against the socket's budget: unknown events and refused sends too.
#[tokio::test]
async fn unknown_events_and_refused_sends_count_against_the_event_budget() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let room = app.create_room(&admin, "not-joined").await;
    let unknown = app.socket(&admin).await;
    let refused = app.socket(&admin).await;

    let mut unknown_errors = Vec::new();
    let mut send_errors = Vec::new();
    for i in 0..60 {
        let a = unknown.request("noSuchEvent", json!({})).await;
        unknown_errors.push(a["error"]["error"].as_str().unwrap_or("").to_owned());
        let s = refused
            .request(
                "sendMessage",
                json!({"roomId": room, "text": format!("{i}")}),
            )
            .await;
        send_errors.push(s["error"]["error"].as_str().unwrap_or("").to_owned());
    }

    assert!(
        unknown_errors.iter().any(|e| e == "rate_limited"),
        "{unknown_errors:?}"
    );
    assert!(
        send_errors.iter().any(|e| e == "rate_limited"),
        "{send_errors:?}"
    );
}

/// At every log level the README offers, the log holds no token and no message text.
#[tokio::test]
async fn the_log_holds_no_token_and_no_message_at_trace_level() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("log.db");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tagarela"))
        .current_dir(dir.path())
        .env_clear()
        .env("PORT", "0")
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("RUST_LOG", "trace")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the server binary");
    let log = LogReader::start(&mut child);
    let address = log.wait_for_address().await;
    let app = TestApp::external(&address);

    let token = app.token("ana").await;
    let room = app.create_room(&token, "logged").await;
    let socket = app.socket(&token).await;
    let _ = socket.request("joinRoom", json!({"roomId": room})).await;
    let sent = socket
        .request(
            "sendMessage",
            json!({"roomId": room, "text": "the-secret-body-42"}),
        )
        .await;
    assert_eq!(sent["ok"], true);
    socket.disconnect().await;
    let _ = child.kill().await;
    let text = log.finish().await;

    assert!(text.contains("listening"), "the log was read");
    assert!(!text.contains(&token), "the token is in the log");
    assert!(
        !text.contains("the-secret-body-42"),
        "the message is in the log"
    );
    assert!(!text.contains(PASSWORD), "the password is in the log");
}

/// Everything a child process writes to stdout and stderr, collected as it comes.
struct LogReader {
    text: std::sync::Arc<std::sync::Mutex<String>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl LogReader {
    fn start(child: &mut tokio::process::Child) -> Self {
        use tokio::io::AsyncReadExt;
        let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut tasks = Vec::new();
        let out: Box<dyn tokio::io::AsyncRead + Unpin + Send> =
            Box::new(child.stdout.take().expect("stdout"));
        let err: Box<dyn tokio::io::AsyncRead + Unpin + Send> =
            Box::new(child.stderr.take().expect("stderr"));
        for mut pipe in [out, err] {
            let text = text.clone();
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    text.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }));
        }
        Self { text, tasks }
    }

    /// The `host:port` the server says it listens on.
    async fn wait_for_address(&self) -> String {
        tokio::time::timeout(std::time::Duration::from_secs(30), async {
            loop {
                if let Some(address) = self
                    .text
                    .lock()
                    .unwrap()
                    .split("listening on http://")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                {
                    return address.to_owned();
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("the server says where it listens")
    }

    /// Everything, once the process has ended.
    async fn finish(self) -> String {
        for task in self.tasks {
            let _ = tokio::time::timeout(WAIT, task).await;
        }
        self.text.lock().unwrap().clone()
    }
}

/// A long-polling socket that stops polling (only its pongs arrive) is closed after
/// `WRITE_TIMEOUT`: what is queued for it is not held while its pongs keep it alive.
#[tokio::test]
async fn a_polling_socket_that_stops_polling_is_closed_after_the_write_timeout() {
    let app = spawn_app_with(&[("WRITE_TIMEOUT", "1s")]).await;
    let token = app.token("ana").await;
    let sid = app.polling_session().await;
    let url = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let post = |body: String| {
        app.http
            .post(app.url(&url))
            .header("content-type", "text/plain;charset=UTF-8")
            .body(body)
            .send()
    };
    let connect = post(format!(r#"40{{"token":"{token}"}}"#))
        .await
        .expect("post");
    assert_eq!(connect.status(), StatusCode::OK);
    // Engine.IO pings as soon as a session opens: the CONNECT answer may come in a later poll.
    let mut polled = String::new();
    for _ in 0..3 {
        if polled.contains("40{") {
            break;
        }
        polled.push_str(&app.get(&url, None).await.text().await.expect("poll"));
        let _ = post("3".to_owned()).await;
    }
    assert!(polled.contains("40{"), "{polled:?}");

    // No more polls, only pongs, for three times the write timeout.
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let _ = post("3".to_owned()).await;
    }
    let after = tokio::time::timeout(WAIT, app.get(&url, None))
        .await
        .expect("answered at once");

    assert_eq!(
        after.status(),
        StatusCode::BAD_REQUEST,
        "the session is still open"
    );
}

/// A history or catch-up page stops at about `PAGE_MAX_KIB` of JSON and says there is more;
/// paging on from it reaches every message.
#[tokio::test]
async fn pages_stop_at_their_byte_limit_and_page_on() {
    let app = spawn_app_with(&[("PAGE_MAX_KIB", "64")]).await;
    let admin = app.token("admin").await;
    let room = room_of_long_messages(&app, &admin, 40).await;
    let socket = app.socket(&admin).await;

    let catch_up = socket
        .request("joinRoom", json!({"roomId": room, "since": 0}))
        .await;
    let mut seen = 0;
    let mut before: Option<i64> = None;
    let mut pages = 0;
    loop {
        let mut payload = json!({"roomId": room, "limit": 200});
        if let Some(before) = before {
            payload["before"] = json!(before);
        }
        let page = socket.request("history", payload).await;
        let messages = page["messages"].as_array().expect("messages").clone();
        seen += messages.len();
        pages += 1;
        if page["hasMore"] != true || pages > 10 {
            break;
        }
        before = messages.first().and_then(|m| m["id"].as_i64());
    }

    let first_page = catch_up["messages"].as_array().expect("messages").len();
    assert!(
        (1..40).contains(&first_page),
        "{first_page} messages in 64 KiB"
    );
    assert_eq!(catch_up["hasMore"], true);
    assert_eq!(
        seen, 40,
        "paging on from each cut page reaches every message"
    );
    assert!(pages > 1);
}

/// Pages beyond `SOCKET_PAGES_IN_FLIGHT` wait their turn: none is refused, every one answers.
#[tokio::test]
async fn pages_beyond_those_in_flight_wait_and_all_answer() {
    let app = spawn_app_with(&[("SOCKET_PAGES_IN_FLIGHT", "1")]).await;
    let admin = app.token("admin").await;
    let room = room_of_long_messages(&app, &admin, 20).await;
    let socket = app.socket(&admin).await;

    let pages = futures_util::future::join_all(
        (0..8).map(|_| socket.request("history", json!({"roomId": room, "limit": 200}))),
    )
    .await;

    for page in &pages {
        assert_eq!(page["ok"], true, "{page}");
        assert_eq!(page["messages"].as_array().map(Vec::len), Some(20));
    }
}
