//! The store: choosing a backend, many senders at once, and PostgreSQL failing under a running
//! server (a PostgreSQL cluster of the test's own, on a spare port, killed and started again).

use crate::helpers::*;
use futures_util::future::join_all;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// How long the many-senders test waits for every delivery (a debug build, two cores).
const DELIVERY_WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_users_sending_fifty_messages_each_at_once_store_one_gapless_log() {
    // Every socket sends 50 events and more within a second.
    let app = spawn_app_with(&[("SOCKET_EVENT_RATE", "10000/1s")]).await;
    let admin = app.token("admin").await;
    let room = app.create_room(&admin, "busy").await;
    let mut sockets = Vec::new();
    for n in 0..20 {
        let token = app.token(&format!("user{n}")).await;
        let socket = app.socket(&token).await;
        socket.join(room).await;
        sockets.push(socket);
    }

    // Twenty senders at once, each sending its fifty one after another.
    let senders = sockets.iter().enumerate().map(|(n, socket)| async move {
        let mut acks = Vec::new();
        for i in 0..50 {
            let payload = json!({"roomId": room, "text": format!("{n}-{i}"), "clientId": format!("c-{n}-{i}")});
            acks.push(socket.request("sendMessage", payload).await);
        }
        acks
    });
    let acks: Vec<Value> = join_all(senders).await.into_iter().flatten().collect();
    for socket in &sockets {
        let all = socket
            .wait_until(DELIVERY_WAIT, |s| s.received("newMessage").len() >= 1000)
            .await;
        assert!(
            all,
            "{} of 1000 delivered",
            socket.received("newMessage").len()
        );
    }
    let retries = join_all((0..5).map(|i| {
        let payload =
            json!({"roomId": room, "text": format!("0-{i}"), "clientId": format!("c-0-{i}")});
        sockets[0].request("sendMessage", payload)
    }))
    .await;
    let last = sockets[1]
        .request("sendMessage", json!({"roomId": room, "text": "after"}))
        .await;
    sockets[0]
        .wait_until(DELIVERY_WAIT, |s| s.received("newMessage").len() > 1000)
        .await;

    assert!(acks.iter().all(|a| a["ok"] == true), "every send acked");
    let mut acked: Vec<i64> = acks
        .iter()
        .map(|a| a["message"]["seq"].as_i64().unwrap())
        .collect();
    acked.sort_unstable();
    assert_eq!(
        acked,
        (1..=1000).collect::<Vec<_>>(),
        "acks carry seqs 1..=1000"
    );
    for socket in &sockets {
        let seqs: Vec<i64> = socket.received("newMessage")[..1000]
            .iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect();
        assert_eq!(seqs, (1..=1000).collect::<Vec<_>>(), "in seq order, no gap");
    }
    for (i, retry) in retries.iter().enumerate() {
        let first = &acks[i]; // user 0's sends come first in `acks`
        assert_eq!(
            retry["message"]["id"], first["message"]["id"],
            "retry {i} answers the stored message"
        );
    }
    assert_eq!(last["message"]["seq"], 1001, "retries took no seq");
    let received = sockets[0].received("newMessage");
    assert_eq!(received.len(), 1001, "retries were not broadcast");
    assert_eq!(
        app.db().await.number("SELECT COUNT(*) FROM messages").await,
        1001
    );
}

/// Each join takes a pooled connection twice, one after the other: a join holding one while it
/// waited for the next would starve the pool (8 connections on SQLite, 10 on PostgreSQL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_sockets_joining_at_once_all_get_their_answer() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let room = app.create_room(&admin, "crowded").await;
    let ana = app.token("ana").await;
    let mut sockets = Vec::new();
    for token in [&admin, &ana] {
        for _ in 0..20 {
            sockets.push(app.socket(token).await);
        }
    }

    let joins = join_all(
        sockets
            .iter()
            .map(|socket| socket.request("joinRoom", json!({"roomId": room}))),
    )
    .await;

    for join in &joins {
        assert_eq!(join["ok"], true, "{join}");
    }
}

/// Instances starting together on one empty PostgreSQL database: the migrations run once (the
/// migrator's advisory lock), and they share one generated secret, so a token one issues is
/// good at the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_instances_starting_together_migrate_once_and_share_one_secret() {
    let dir = TestDir::postgres();
    let no_secret = [("JWT_SECRET", "")];

    let (first, second) = tokio::join!(
        spawn_app_in(dir.clone(), &no_secret),
        spawn_app_in(dir.clone(), &no_secret)
    );
    let token = first.token("ana").await;
    let at_second = second.get("/api/me", Some(&token)).await;
    let secrets = second
        .db()
        .await
        .number("SELECT COUNT(*) FROM settings")
        .await;

    assert_eq!(at_second.status(), 200);
    assert_eq!(secrets, 1);
}

#[tokio::test]
async fn an_unknown_database_scheme_stops_the_start_with_a_clear_message() {
    let dir = TestDir::new();
    let mut vars = test_vars(&dir);
    vars.retain(|(name, _)| name != "DATABASE_URL");
    vars.push((
        "DATABASE_URL".into(),
        "mysql://admin:hunter2@db/chat".into(),
    ));
    let config = server::config::Config::from_vars(vars).unwrap();

    let built = server::startup::Application::build(config).await;

    let error = format!(
        "{:#}",
        built.err().expect("an unknown scheme must be refused")
    );
    assert!(
        error.contains("DATABASE_URL must start with sqlite:// or postgres://"),
        "{error}"
    );
    assert!(
        !error.contains("hunter2"),
        "the password stays out: {error}"
    );
}

#[tokio::test]
async fn an_unreachable_postgres_stops_the_binary_with_a_clear_message() {
    let port = spare_port();
    let dir = tempfile::tempdir().expect("temp dir");

    let output = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_tagarela"))
            .current_dir(dir.path())
            .env_clear()
            .env("PORT", "0")
            .env(
                "DATABASE_URL",
                format!("postgres://root@127.0.0.1:{port}/tagarela"),
            )
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the binary gives up within seconds")
    .expect("run the binary");

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "exit status {:?}", output.status);
    assert!(
        stderr.contains("connecting to the PostgreSQL database of DATABASE_URL"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_while_sending_loses_nothing_doubles_nothing_and_recovers() {
    let cluster = PgCluster::start_new().await;
    let app = spawn_app_with(&[("DATABASE_URL", &cluster.url())]).await;
    let ana = app.token("ana").await;
    let room = app.create_room(&ana, "outage").await;
    let socket = app.socket(&ana).await;
    socket.request("joinRoom", json!({"roomId": room})).await;
    let send = |i: usize| {
        let payload = json!({"roomId": room, "text": format!("m{i}"), "clientId": format!("c{i}")});
        socket.request("sendMessage", payload)
    };

    // Before: stored and acked.
    let mut outcomes: Vec<Value> = Vec::new();
    for i in 0..20 {
        outcomes.push(send(i).await);
    }
    // During: PostgreSQL is killed (no clean shutdown); every answer comes, and says `internal`
    // (`request` fails the test when an ack takes longer than its wait, five seconds).
    cluster.kill().await;
    for i in 20..25 {
        outcomes.push(send(i).await);
    }
    let health_down = app.get("/healthz", None).await;
    let health_down = (
        health_down.status(),
        health_down.json::<Value>().await.unwrap(),
    );
    let rooms_down = app.get("/api/rooms", Some(&ana)).await.status();
    // After: the same server serves again, and the failed sends, retried, are stored once.
    cluster.start().await;
    let health_up = app.wait_ok("/healthz", Duration::from_secs(30)).await;
    for i in 25..40 {
        outcomes.push(send(i).await);
    }
    let mut retried = Vec::new();
    for i in 20..25 {
        retried.push(send(i).await);
    }
    let db = sqlx::PgPool::connect(&cluster.url())
        .await
        .expect("the cluster");
    let (rows, distinct, max_seq): (i64, i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT client_id), MAX(seq) FROM messages")
            .fetch_one(&db)
            .await
            .unwrap();

    assert!(
        outcomes[..20].iter().all(|a| a["ok"] == true),
        "before the outage all acked"
    );
    for down in &outcomes[20..25] {
        assert_eq!(down["ok"], false, "{down}");
        assert_eq!(down["error"]["error"], "internal", "{down}");
    }
    assert_eq!(health_down.0, 500, "{:?}", health_down.1);
    assert_eq!(health_down.1["error"], "internal");
    assert_eq!(rooms_down, 500);
    assert!(health_up, "/healthz is ok again once PostgreSQL is back");
    assert!(
        outcomes[25..].iter().all(|a| a["ok"] == true),
        "after the outage all acked"
    );
    assert!(retried.iter().all(|a| a["ok"] == true), "retries acked");
    assert_eq!((rows, distinct), (40, 40), "each acked message stored once");
    assert_eq!(max_seq, 40, "the log has no gap");
    db.close().await;
    app.stop().await;
}

/// A PostgreSQL cluster of the test's own (Debian's server binaries), in a temporary folder,
/// listening on 127.0.0.1 on a spare port; killed when dropped.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl PgCluster {
    /// Creates the cluster (`initdb`, trust authentication, superuser `root`) and starts it.
    pub async fn start_new() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|version| version.path().join("bin"))
            .filter(|bin| bin.join("pg_ctl").exists())
            .max()
            .expect("PostgreSQL's server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql");
        let dir = tempfile::tempdir().expect("temp dir");
        // The server refuses to run as root: the cluster belongs to the `postgres` user.
        if is_root() {
            run(tokio::process::Command::new("chown")
                .arg("postgres")
                .arg(dir.path()))
            .await;
        }
        let cluster = Self {
            port: spare_port(),
            dir,
            bin,
        };
        let data = cluster.data();
        run(cluster
            .as_postgres("initdb")
            .args(["-A", "trust", "-U", "root", "-E", "UTF8", "--no-sync", "-D"])
            .arg(&data))
        .await;
        cluster.start().await;
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn as_postgres(&self, program: &str) -> tokio::process::Command {
        let program = self.bin.join(program);
        if is_root() {
            let mut command = tokio::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            tokio::process::Command::new(program)
        }
    }

    /// Starts the server and waits until it accepts connections.
    pub async fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        run(self
            .as_postgres("pg_ctl")
            .args(["-w", "-t", "60", "-o", &options, "-l"])
            .arg(self.dir.path().join("log"))
            .arg("-D")
            .arg(self.data())
            .arg("start"))
        .await;
    }

    /// Kills the server: no checkpoint, no goodbye to its clients (`-m immediate`).
    pub async fn kill(&self) {
        run(self
            .as_postgres("pg_ctl")
            .args(["-w", "-m", "immediate", "-D"])
            .arg(self.data())
            .arg("stop"))
        .await;
    }

    pub fn url(&self) -> String {
        format!("postgres://root@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let mut stop = std::process::Command::new(if is_root() {
            "runuser".into()
        } else {
            self.bin.join("pg_ctl")
        });
        if is_root() {
            stop.args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"));
        }
        let _ = stop
            .args(["-w", "-m", "immediate", "-D"])
            .arg(self.data())
            .arg("stop")
            .output();
    }
}

fn is_root() -> bool {
    std::env::var("USER").is_ok_and(|u| u == "root")
        || std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Runs `command`, failing the test with its output when it fails.
async fn run(command: &mut tokio::process::Command) {
    let output = command.output().await.expect("run a PostgreSQL program");
    assert!(
        output.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
