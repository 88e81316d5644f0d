//! `spawn_app()` and typed helpers, so no test builds a request or a socket by hand.
// Shared by every test file; not every file uses every helper.
#![allow(dead_code)]

use futures_util::FutureExt;
use reqwest::{Response, StatusCode};
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload, TransportType};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use server::config::Config;
use server::startup::Application;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tempfile::TempDir;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

/// How long a test waits for something that should happen promptly.
pub const WAIT: Duration = Duration::from_secs(5);
/// The secret every test app signs with, unless a test says otherwise.
pub const TEST_SECRET: &str = "test-secret-test-secret-test-secret-0123";
/// A valid password.
pub const PASSWORD: &str = "correct horse battery";

/// A running server with its own database.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The bound address.
    pub address: SocketAddr,
    /// A client without cookies.
    pub http: reqwest::Client,
    /// The app's own folder and database.
    pub dir: Arc<TestDir>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Which store the tests run on: `TAGARELA_TEST_BACKEND=postgres` for PostgreSQL, else SQLite.
pub fn on_postgres() -> bool {
    std::env::var("TAGARELA_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// The PostgreSQL server the tests create their databases on (`TAGARELA_TEST_PG_URL`; by
/// default the machine's, 127.0.0.1:5432, user root, trust authentication).
pub fn pg_server_url() -> String {
    std::env::var("TAGARELA_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432".to_owned())
}

/// Runs one statement on the PostgreSQL server's `postgres` database, from a thread of its own
/// (so it works in `Drop` and outside a runtime).
fn pg_admin(sql: String) {
    let server = pg_server_url();
    let outcome = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            use sqlx::{Connection, Executor};
            let url = format!("{server}/postgres");
            let mut conn = sqlx::PgConnection::connect(&url).await.map_err(|e| {
                format!(
                    "PostgreSQL at {server} does not answer ({e}); the PostgreSQL test run \
                     needs it (TAGARELA_TEST_BACKEND=postgres)"
                )
            })?;
            conn.execute(sqlx::AssertSqlSafe(sql.clone()))
                .await
                .map_err(|e| format!("{sql}: {e}"))?;
            Ok::<_, String>(())
        })
    })
    .join()
    .expect("the PostgreSQL admin thread");
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

/// A test app's own folder and, on PostgreSQL, its own database (dropped with the folder).
pub struct TestDir {
    temp: TempDir,
    pg_database: Option<String>,
}

impl TestDir {
    /// A fresh folder, and a fresh database on the backend under test.
    pub fn new() -> Arc<Self> {
        Self::with_postgres(on_postgres())
    }

    /// A fresh folder with a fresh PostgreSQL database, whatever the backend under test.
    pub fn postgres() -> Arc<Self> {
        Self::with_postgres(true)
    }

    fn with_postgres(postgres: bool) -> Arc<Self> {
        let temp = tempfile::tempdir().expect("temp dir");
        let pg_database = postgres.then(|| {
            let name = format!("tagarela_test_{}", uuid_like());
            pg_admin(format!("CREATE DATABASE {name}"));
            name
        });
        Arc::new(Self { temp, pg_database })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.temp.path()
    }

    /// The app's `DATABASE_URL`.
    pub fn database_url(&self) -> String {
        match &self.pg_database {
            Some(name) => format!("{}/{name}", pg_server_url()),
            None => format!("sqlite://{}", self.path().join("tagarela.db").display()),
        }
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if let Some(name) = self.pg_database.take() {
            pg_admin(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// 64 random bits in hex: a database name no other test takes.
fn uuid_like() -> String {
    use rand::RngCore;
    format!("{:016x}", rand::rng().next_u64())
}

/// A connection pool on a test app's database, for arranging what no route does and reading
/// what no route shows. SQL given to it must mean the same on both backends.
pub enum TestDb {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl TestDb {
    /// Runs a statement; returns the rows it changed.
    pub async fn execute(&self, sql: &str) -> u64 {
        let done = match self {
            TestDb::Sqlite(pool) => sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(pool)
                .await
                .map(|d| d.rows_affected()),
            TestDb::Postgres(pool) => sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(pool)
                .await
                .map(|d| d.rows_affected()),
        };
        done.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The one number a query returns (`SELECT COUNT(*) …`).
    pub async fn number(&self, sql: &str) -> i64 {
        let found = match self {
            TestDb::Sqlite(pool) => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                    .fetch_one(pool)
                    .await
            }
            TestDb::Postgres(pool) => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                    .fetch_one(pool)
                    .await
            }
        };
        found.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Closes the pool.
    pub async fn close(self) {
        match self {
            TestDb::Sqlite(pool) => pool.close().await,
            TestDb::Postgres(pool) => pool.close().await,
        }
    }
}

/// Configuration variables for a test app (port 0, a fresh database, the test secret).
pub fn test_vars(dir: &TestDir) -> Vec<(String, String)> {
    [
        ("PORT", "0".to_owned()),
        ("BIND", "127.0.0.1".to_owned()),
        ("DATABASE_URL", dir.database_url()),
        ("JWT_SECRET", TEST_SECRET.to_owned()),
        // Generous by default: the tests that check limits set their own.
        ("LOGIN_RATE", "1000/1m".to_owned()),
        ("REGISTER_RATE", "1000/1m".to_owned()),
        ("MESSAGE_RATE", "10000/10s".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A fresh app with the test configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// A fresh app with `overrides` on top of the test configuration (`("NAME", "")` removes one).
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    spawn_app_in(TestDir::new(), overrides).await
}

/// An app on an existing folder (and so database): how a test restarts the server.
pub async fn spawn_app_in(dir: Arc<TestDir>, overrides: &[(&str, &str)]) -> TestApp {
    server::telemetry::init_tracing();
    let mut vars = test_vars(&dir);
    for (name, value) in overrides {
        vars.retain(|(k, _)| k != name);
        vars.push((name.to_string(), value.to_string()));
    }
    let config = Config::from_vars(vars).expect("test config");
    let app = Application::build(config).await.expect("build app");
    let address = app.address();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(app.serve_until(async move {
        let _ = rx.await;
    }));
    TestApp {
        base: format!("http://{address}"),
        address,
        http: reqwest::Client::new(),
        dir,
        shutdown: Some(tx),
        handle: Some(handle),
    }
}

impl TestApp {
    /// A handle on a server running elsewhere (a child process) at `address` (`host:port`).
    pub fn external(address: &str) -> TestApp {
        TestApp {
            base: format!("http://{address}"),
            address: address.parse().expect("host:port"),
            http: reqwest::Client::new(),
            dir: Arc::new(TestDir {
                temp: tempfile::tempdir().expect("temp dir"),
                pg_database: None,
            }),
            shutdown: None,
            handle: None,
        }
    }

    /// Stops the server (graceful: sockets are closed) and waits for it.
    pub async fn stop(mut self) -> Arc<TestDir> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            tokio::time::timeout(WAIT, handle)
                .await
                .expect("server stops promptly")
                .expect("server task")
                .expect("server ends cleanly");
        }
        self.dir.clone()
    }

    /// Polls `GET path` until it answers 200 (true) or `limit` passes (false); a server still
    /// starting or restarting may not answer at all meanwhile.
    pub async fn wait_ok(&self, path: &str, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if let Ok(response) = self.http.get(self.url(path)).send().await
                && response.status() == StatusCode::OK
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `GET path` with an optional bearer token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.http.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }

    /// `GET path` with a bearer token, its body read as JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str, token: &str) -> T {
        self.get(path, Some(token))
            .await
            .json()
            .await
            .expect("a JSON body")
    }

    /// `POST path` with a JSON body and an optional bearer token.
    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut request = self.http.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }

    /// `PATCH path` with a JSON body and a bearer token.
    pub async fn patch(&self, path: &str, body: &Value, token: &str) -> Response {
        self.http
            .patch(self.url(path))
            .json(body)
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    /// `DELETE path` with a bearer token.
    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    /// `method path` with an optional JSON body and an optional bearer token: for tests that run
    /// one check over many routes.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> Response {
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }

    /// `POST /api/auth/register`, raw.
    pub async fn register_raw(&self, username: &str, password: &str) -> Response {
        self.post(
            "/api/auth/register",
            &json!({"username": username, "password": password}),
            None,
        )
        .await
    }

    /// Registers `username` and returns the session body `{user, token, expires_at}`.
    pub async fn register(&self, username: &str) -> Value {
        let response = self.register_raw(username, PASSWORD).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "register {username}"
        );
        response.json().await.expect("json")
    }

    /// A `POST path` that is in its handler and waits there for its body: it returns once the
    /// server has asked for the body (`100 Continue`). `HeldRequest::finish` sends the body and
    /// reads the status; dropping it ends the request.
    pub async fn hold_request(&self, path: &str, body: &Value, token: Option<&str>) -> HeldRequest {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let body = body.to_string();
        let mut tcp = tokio::net::TcpStream::connect(self.address)
            .await
            .expect("connect");
        let bearer = token.map_or(String::new(), |t| format!("authorization: Bearer {t}\r\n"));
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n{bearer}expect: 100-continue\r\nconnection: close\r\n\r\n",
            self.address,
            body.len()
        );
        tcp.write_all(head.as_bytes()).await.expect("send head");
        let mut seen = Vec::new();
        tokio::time::timeout(WAIT, async {
            let mut buf = [0u8; 256];
            while !String::from_utf8_lossy(&seen).contains("100 Continue") {
                let n = tcp.read(&mut buf).await.expect("read");
                assert!(n > 0, "closed before 100 Continue: {seen:?}");
                seen.extend_from_slice(&buf[..n]);
            }
        })
        .await
        .expect("100 Continue");
        HeldRequest { tcp, body }
    }

    /// Registers `username` and returns its token.
    pub async fn token(&self, username: &str) -> String {
        self.register(username).await["token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// `POST /api/auth/login`, raw.
    pub async fn login_raw(&self, username: &str, password: &str) -> Response {
        self.post(
            "/api/auth/login",
            &json!({"username": username, "password": password}),
            None,
        )
        .await
    }

    /// Logs in and returns the token.
    pub async fn login(&self, username: &str) -> String {
        let response = self.login_raw(username, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "login {username}");
        let body: Value = response.json().await.expect("json");
        body["token"].as_str().expect("token").to_owned()
    }

    /// `GET path` with `headers` (a cookie, an origin) and no bearer token of its own.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self.http.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("request")
    }

    /// `POST path` with a JSON body and `headers` (a cookie, an origin), no bearer token of its own.
    pub async fn post_with(&self, path: &str, body: &Value, headers: &[(&str, &str)]) -> Response {
        let mut request = self.http.post(self.url(path)).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("request")
    }

    /// `POST path` with `body` sent as it is, labelled `application/json` (malformed bodies).
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Response {
        self.http
            .post(self.url(path))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .expect("request")
    }

    /// Opens an Engine.IO long-polling session by hand (no Socket.IO CONNECT) and returns its id.
    pub async fn polling_session(&self) -> String {
        let open = self.get("/socket.io/?EIO=4&transport=polling", None).await;
        let text = open.text().await.expect("open packet");
        serde_json::from_str::<Value>(&text[1..]).expect("open JSON")["sid"]
            .as_str()
            .expect("sid")
            .to_owned()
    }

    /// A new connection pool on the app's own database, for arranging what no route does.
    pub async fn db(&self) -> TestDb {
        let url = self.dir.database_url();
        if url.starts_with("postgres") {
            TestDb::Postgres(
                sqlx::PgPool::connect(&url)
                    .await
                    .expect("the app's database"),
            )
        } else {
            TestDb::Sqlite(
                sqlx::SqlitePool::connect(&url)
                    .await
                    .expect("the app's database"),
            )
        }
    }

    /// Creates a room as `admin` and returns its id.
    pub async fn create_room(&self, admin: &str, name: &str) -> i64 {
        let response = self
            .post("/api/admin/rooms", &json!({"name": name}), Some(admin))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "create room {name}");
        response.json::<Value>().await.expect("room")["id"]
            .as_i64()
            .expect("room id")
    }

    /// A socket authenticated with `auth.token` over WebSocket.
    pub async fn socket(&self, token: &str) -> TestSocket {
        TestSocket::builder(self)
            .auth(json!({"token": token}))
            .connect()
            .await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// What a test socket saw: every event in arrival order.
#[derive(Default)]
struct Seen {
    events: Mutex<Vec<(String, Value)>>,
    changed: Notify,
}

impl Seen {
    fn push(&self, name: String, value: Value) {
        self.events.lock().unwrap().push((name, value));
        self.changed.notify_waiters();
    }
}

fn payload_value(payload: Payload) -> Value {
    match payload {
        Payload::Text(mut values) if values.len() == 1 => values.remove(0),
        Payload::Text(values) => Value::Array(values),
        Payload::Binary(_) => Value::Null,
        #[allow(deprecated)]
        Payload::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
    }
}

/// Builds a test socket: the carrier of the token, the transport, headers.
pub struct SocketBuilder {
    builder: ClientBuilder,
}

impl SocketBuilder {
    /// Sets the handshake's `auth` object.
    pub fn auth(mut self, auth: Value) -> Self {
        self.builder = self.builder.auth(auth);
        self
    }

    /// Adds a header to the opening request.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.opening_header(name, value);
        self
    }

    /// Long-polling only.
    pub fn polling(mut self) -> Self {
        self.builder = self.builder.transport_type(TransportType::Polling);
        self
    }

    /// Connects and waits until the server accepted the socket; panics if it refused.
    pub async fn connect(self) -> TestSocket {
        let socket = self.try_connect().await;
        match socket.connect_outcome().await {
            Ok(()) => socket,
            Err(message) => panic!("socket refused: {message}"),
        }
    }

    /// Connects expecting a refusal and returns the `connect_error` message (`unauthorized`,
    /// `rate_limited`); panics if the server accepted the socket.
    pub async fn refusal(self) -> String {
        let socket = self.try_connect().await;
        match socket.connect_outcome().await {
            Ok(()) => panic!("the socket was accepted"),
            Err(raw) => connect_error_message(&raw),
        }
    }

    /// Connects without asserting the outcome: see `connect_outcome`.
    pub async fn try_connect(self) -> TestSocket {
        let seen = Arc::new(Seen::default());
        let record = |name: &'static str, seen: Arc<Seen>| {
            move |payload: Payload, _client: Client| {
                seen.push(name.to_owned(), payload_value(payload));
                async {}.boxed()
            }
        };
        let any = seen.clone();
        let client = self
            .builder
            .reconnect(false)
            .on(Event::Connect, record("connect", seen.clone()))
            .on(Event::Error, record("connect_error", seen.clone()))
            .on(Event::Close, record("close", seen.clone()))
            .on_any(move |event, payload, _client| {
                any.push(event.as_str().to_owned(), payload_value(payload));
                async {}.boxed()
            })
            .connect()
            .await;
        match client {
            Ok(client) => TestSocket {
                client: Some(client),
                seen,
            },
            Err(e) => {
                // The engine refused before Socket.IO could (e.g. HTTP 400/403): report it like a refusal.
                seen.push("connect_error".to_owned(), Value::String(e.to_string()));
                TestSocket { client: None, seen }
            }
        }
    }
}

/// A real Socket.IO client (rust_socketio) connected to a test app.
pub struct TestSocket {
    client: Option<Client>,
    seen: Arc<Seen>,
}

impl TestSocket {
    /// A builder pointed at `app`.
    pub fn builder(app: &TestApp) -> SocketBuilder {
        SocketBuilder {
            builder: ClientBuilder::new(app.base.clone()),
        }
    }

    /// A builder pointed at `url` as it is (e.g. with a query string).
    pub fn builder_at(url: &str) -> SocketBuilder {
        SocketBuilder {
            builder: ClientBuilder::new(url),
        }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("socket has a client")
    }

    /// Waits for `connect` (Ok) or `connect_error` (Err with its message).
    pub async fn connect_outcome(&self) -> Result<(), String> {
        let (name, value) = self
            .wait_any(&["connect", "connect_error"])
            .await
            .expect("the handshake finishes");
        if name == "connect" {
            Ok(())
        } else {
            Err(value
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| value.as_str().map(str::to_owned))
                .unwrap_or_else(|| value.to_string()))
        }
    }

    /// Waits for the first event named one of `names` (counting those already seen).
    pub async fn wait_any(&self, names: &[&str]) -> Option<(String, Value)> {
        self.wait_for(|name, _| names.contains(&name)).await
    }

    /// Waits, at most `limit`, until `done` holds for what this socket has received.
    pub async fn wait_until(&self, limit: Duration, done: impl Fn(&TestSocket) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let changed = self.seen.changed.notified();
            if done(self) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return done(self);
            }
        }
    }

    /// Waits, at most `WAIT`, for the first event matching `matches` seen so far or arriving.
    pub async fn wait_for(
        &self,
        matches: impl Fn(&str, &Value) -> bool,
    ) -> Option<(String, Value)> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let changed = self.seen.changed.notified();
            if let Some(found) = self
                .seen
                .events
                .lock()
                .unwrap()
                .iter()
                .find(|(n, v)| matches(n, v))
                .cloned()
            {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return None;
            }
        }
    }

    /// Waits for the `index`-th (0-based) event named `name` and returns its payload.
    pub async fn event(&self, name: &str) -> Value {
        self.wait_any(&[name])
            .await
            .unwrap_or_else(|| panic!("no {name} event within {WAIT:?}"))
            .1
    }

    /// Waits until `count` events named `name` have arrived and returns them in order.
    pub async fn events(&self, name: &str, count: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let changed = self.seen.changed.notified();
            let found = self.received(name);
            if found.len() >= count {
                return found;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!("{} of {count} {name} events within {WAIT:?}", found.len());
            }
        }
    }

    /// Every event named `name` received so far, in order.
    pub fn received(&self, name: &str) -> Vec<Value> {
        self.seen
            .events
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Every event name received so far, in order.
    pub fn names(&self) -> Vec<String> {
        self.seen
            .events
            .lock()
            .unwrap()
            .iter()
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Emits `event` with `payload` and waits for the ack body. The ack's arrival is also
    /// recorded among the events, as `ack:<event>`, so a test can see what came before it.
    pub async fn request(&self, event: &str, payload: Value) -> Value {
        self.try_request(event, payload)
            .await
            .unwrap_or_else(|e| panic!("{event}: {e}"))
    }

    /// Like `request`, for a socket whose server may be gone: `Err` when the emit fails or no
    /// ack comes within `WAIT`.
    pub async fn try_request(&self, event: &str, payload: Value) -> Result<Value, String> {
        let (tx, rx) = oneshot::channel();
        let tx = Arc::new(Mutex::new(Some(tx)));
        let (seen, ack_name) = (self.seen.clone(), format!("ack:{event}"));
        self.client()
            .emit_with_ack(event.to_owned(), payload, WAIT, move |ack: Payload, _| {
                if let Some(tx) = tx.lock().unwrap().take() {
                    // rust_socketio hands an ack over as its argument list: one argument here.
                    let body = match payload_value(ack) {
                        Value::Array(mut args) if args.len() == 1 => args.remove(0),
                        other => other,
                    };
                    seen.push(ack_name.clone(), body.clone());
                    let _ = tx.send(body);
                }
                async {}.boxed()
            })
            .await
            .map_err(|e| format!("emit: {e}"))?;
        tokio::time::timeout(WAIT, rx)
            .await
            .map_err(|_| format!("no ack for {event} within {WAIT:?}"))?
            .map_err(|_| "the ack was dropped".to_owned())
    }

    /// Joins `room` (`joinRoom` without `since`), failing the test unless it is joined; the ack.
    pub async fn join(&self, room: i64) -> Value {
        let joined = self.request("joinRoom", json!({"roomId": room})).await;
        assert_eq!(joined["ok"], true, "{joined}");
        joined
    }

    /// Emits `event` without a callback.
    pub async fn emit(&self, event: &str, payload: Value) {
        self.client()
            .emit(event.to_owned(), payload)
            .await
            .expect("emit");
    }

    /// Waits, at most `WAIT`, until the server closed this socket: either a Socket.IO
    /// `disconnect` (rust_socketio's `close` event) or a closed transport, which rust_socketio
    /// reports only as a failing emit.
    pub async fn closed(&self) -> bool {
        let deadline = tokio::time::Instant::now() + WAIT;
        while tokio::time::Instant::now() < deadline {
            if !self.received("close").is_empty() {
                return true;
            }
            if let Some(client) = &self.client
                && client.emit("probe", json!({})).await.is_err()
            {
                return true;
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), self.seen.changed.notified())
                .await;
        }
        false
    }

    /// Closes the socket from the client side.
    pub async fn disconnect(&self) {
        if let Some(client) = &self.client {
            let _ = client.disconnect().await;
        }
    }
}

/// The `message` of a `connect_error`: rust_socketio reports the frame as text
/// (`Received an ConnectError frame: {"message":"unauthorized"}`), so the JSON is read out of it.
fn connect_error_message(raw: &str) -> String {
    raw.find('{')
        .and_then(|start| serde_json::from_str::<Value>(&raw[start..]).ok())
        .and_then(|body| {
            body.get("message")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| raw.to_owned())
}

/// Asserts an error body: status and code.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body
}

/// A request held in its handler (`TestApp::hold_request`).
pub struct HeldRequest {
    tcp: tokio::net::TcpStream,
    body: String,
}

impl HeldRequest {
    /// Sends the body and returns the response's status code.
    pub async fn finish(mut self) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.tcp
            .write_all(self.body.as_bytes())
            .await
            .expect("send the body");
        let mut response = String::new();
        tokio::time::timeout(WAIT, self.tcp.read_to_string(&mut response))
            .await
            .expect("a response in time")
            .expect("read the response");
        // What follows `100 Continue` is the response's own status line.
        let status = response
            .split("\r\n")
            .filter(|line| line.starts_with("HTTP/1.1 "))
            .find(|line| !line.starts_with("HTTP/1.1 100"))
            .unwrap_or_else(|| panic!("no response: {response:?}"));
        status[9..12].parse().expect("a status code")
    }
}

/// A TCP port nothing listens on now.
pub fn spare_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a spare port")
        .port()
}
