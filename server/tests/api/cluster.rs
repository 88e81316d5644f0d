//! Several instances as one: three server processes (the release binary's code, started as
//! child processes) on one PostgreSQL database and one Redis the test starts on a spare port
//! (Debian's `redis-server`; the machine's shared Redis is left alone), clients on different
//! instances. Named `postgres_…`: they bring their own PostgreSQL database whatever the backend
//! under test, and run once.

use crate::helpers::*;
use futures_util::future::join_all;
use serde_json::{Value, json};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

/// How long the burst tests wait for every delivery (a debug build, two cores, 3 instances).
const DELIVERY_WAIT: Duration = Duration::from_secs(90);

/// A Redis of the test's own, on a spare port, without persistence: stopped and started again
/// by the fault tests, killed when dropped.
pub struct Redis {
    port: u16,
    child: Option<tokio::process::Child>,
}

impl Redis {
    pub async fn start() -> Self {
        let mut redis = Self {
            port: spare_port(),
            child: None,
        };
        redis.run().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn run(&mut self) {
        let child = tokio::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server runs (Debian's redis-server package; `make test` installs it)");
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    /// Kills it (its data is gone: no persistence).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    pub async fn restart(&mut self) {
        self.stop().await;
        self.run().await;
    }
}

/// One server process.
pub struct Instance {
    pub app: TestApp,
    child: Option<tokio::process::Child>,
}

impl Instance {
    /// `kill -9`.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

/// Three instances (or `n`), one database, one Redis.
pub struct Cluster {
    pub dir: Arc<TestDir>,
    pub redis: Redis,
    pub instances: Vec<Instance>,
}

impl Cluster {
    pub async fn start(n: usize, overrides: &[(&str, &str)]) -> Self {
        let dir = TestDir::postgres();
        let redis = Redis::start().await;
        let mut instances = Vec::new();
        for i in 0..n {
            instances.push(start_instance(&dir, &redis.url(), i + 1, overrides).await);
        }
        Self {
            dir,
            redis,
            instances,
        }
    }

    pub fn app(&self, i: usize) -> &TestApp {
        &self.instances[i].app
    }

    pub async fn db(&self) -> TestDb {
        TestDb::Postgres(
            sqlx::PgPool::connect(&self.dir.database_url())
                .await
                .expect("the cluster's database"),
        )
    }
}

async fn start_instance(
    dir: &Arc<TestDir>,
    redis_url: &str,
    number: usize,
    overrides: &[(&str, &str)],
) -> Instance {
    let port = spare_port();
    let mut vars = test_vars(dir);
    vars.retain(|(k, _)| k != "PORT");
    vars.push(("PORT".into(), port.to_string()));
    vars.push(("REDIS_URL".into(), redis_url.to_owned()));
    vars.push(("INSTANCE_ID".into(), format!("i{number}")));
    for (name, value) in overrides {
        vars.retain(|(k, _)| k != name);
        vars.push((name.to_string(), value.to_string()));
    }
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tagarela"))
        .current_dir(dir.path())
        .env_clear()
        .envs(vars)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the server binary");
    let app = TestApp::external(&format!("127.0.0.1:{port}"));
    assert!(
        app.wait_ok("/healthz/ready", Duration::from_secs(30)).await,
        "instance {number} did not become ready"
    );
    Instance {
        app,
        child: Some(child),
    }
}

fn seqs(socket: &TestSocket, event: &str) -> Vec<i64> {
    socket
        .received(event)
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cluster_every_event_crosses_instances() {
    let cluster = Cluster::start(2, &[]).await;
    let (one, two) = (cluster.app(0), cluster.app(1));
    let admin = one.token("admin").await;
    let ana = one.token("ana").await;
    let bob = two.token("bob").await;
    let ana_socket = one.socket(&ana).await;
    let admin_socket = two.socket(&admin).await;

    // A room created on 1: everyone hears of it, on 2 too.
    let room = one.create_room(&admin, "general").await;
    admin_socket.event("roomCreated").await;
    ana_socket.join(room).await;
    // Bob's second socket, on 1, hears that bob joined on 2 (the membership crosses) and
    // follows the room from then on.
    let bob_on_one = one.socket(&bob).await;
    let bob_socket = two.socket(&bob).await;
    bob_socket.join(room).await;
    assert_eq!(bob_on_one.event("joinedRoom").await["roomId"], room);

    // Presence: bob (on 2) is online for ana (on 1).
    assert!(
        ana_socket
            .wait_until(WAIT, |s| s.received("presence").iter().any(|p| p["joined"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u["username"] == "bob")))
            .await,
        "ana on 1 hears bob come online on 2: {:?}",
        ana_socket.received("presence")
    );
    let online = ana_socket.join(room).await;
    let names: Vec<&str> = online["online"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"bob"),
        "bob online in the ack on 1: {online}"
    );

    // A message from 2 with a mention of ana, edited and deleted.
    let sent = bob_socket
        .request("sendMessage", json!({"roomId": room, "text": "hi @ana"}))
        .await;
    assert_eq!(sent["ok"], true, "{sent}");
    let id = sent["message"]["id"].clone();
    let new = ana_socket.event("newMessage").await;
    assert_eq!(new["text"], "hi @ana");
    let mention = ana_socket.event("notification").await;
    assert_eq!(mention["messageId"], id);
    bob_on_one.event("newMessage").await;
    let edited = bob_socket
        .request("editMessage", json!({"messageId": id, "text": "hello"}))
        .await;
    assert_eq!(edited["ok"], true, "{edited}");
    assert_eq!(ana_socket.event("messageUpdated").await["text"], "hello");
    let deleted = bob_socket
        .request("deleteMessage", json!({"messageId": id}))
        .await;
    assert_eq!(deleted["ok"], true, "{deleted}");
    assert_eq!(ana_socket.event("messageDeleted").await["deleted"], true);
    assert_eq!(seqs(&ana_socket, "newMessage"), vec![1]);

    // Typing from 1 reaches bob on 2, not ana's own.
    ana_socket
        .emit("typing", json!({"roomId": room, "typing": true}))
        .await;
    assert_eq!(bob_socket.event("typing").await["user"]["username"], "ana");

    // Bob's read marker moved on 2 reaches his socket on 1.
    let marked = bob_socket
        .request("markRead", json!({"roomId": room, "seq": 3}))
        .await;
    assert_eq!(marked["ok"], true, "{marked}");
    assert_eq!(bob_on_one.event("readMarker").await["roomId"], room);

    // The dashboard on 2 counts the sockets and users of both instances.
    let counted = admin_socket
        .wait_until(WAIT, |s| {
            s.received("dashboard")
                .iter()
                .any(|d| d["sockets"] == 4 && d["users_online"] == 3)
        })
        .await;
    assert!(counted, "{:?}", admin_socket.received("dashboard").last());

    // Bob closes his socket on 2: he is still online on 1. Then on 1: he goes offline, once.
    let went = |s: &TestSocket| {
        s.received("presence")
            .iter()
            .filter(|p| {
                p["left"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|u| u["username"] == "bob")
            })
            .count()
    };
    bob_socket.disconnect().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(went(&ana_socket), 0, "bob is still online on 1");
    bob_on_one.disconnect().await;
    assert!(
        ana_socket.wait_until(WAIT, |s| went(s) == 1).await,
        "ana hears bob go offline: {:?}",
        ana_socket.received("presence")
    );

    // A room renamed on 2 is heard on 1; its deletion too.
    let renamed = two
        .patch(
            &format!("/api/admin/rooms/{room}"),
            &json!({"topic": "news"}),
            &admin,
        )
        .await;
    assert_eq!(renamed.status(), 200);
    assert_eq!(ana_socket.event("roomUpdated").await["topic"], "news");
    let gone = two
        .delete(&format!("/api/admin/rooms/{room}"), &admin)
        .await;
    assert!(gone.status().is_success(), "{}", gone.status());
    assert_eq!(ana_socket.event("roomDeleted").await["roomId"], room);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cluster_twenty_senders_on_three_instances_keep_one_order_everywhere() {
    let cluster = Cluster::start(3, &[("SOCKET_EVENT_RATE", "10000/1s")]).await;
    let admin = cluster.app(0).token("admin").await;
    let room = cluster.app(0).create_room(&admin, "busy").await;
    let mut sockets = Vec::new();
    for n in 0..20 {
        let app = cluster.app(n % 3);
        let token = app.token(&format!("user{n}")).await;
        let socket = app.socket(&token).await;
        socket.join(room).await;
        sockets.push(socket);
    }
    // The 21st client only listens, on instance 3.
    let watcher = cluster.app(2).socket(&admin).await;
    watcher.join(room).await;

    let senders = sockets.iter().enumerate().map(|(n, socket)| async move {
        let mut acks = Vec::new();
        for i in 0..50 {
            let payload = json!({"roomId": room, "text": format!("{n}-{i}"), "clientId": format!("c-{n}-{i}")});
            acks.push(socket.request("sendMessage", payload).await);
        }
        acks
    });
    let acks: Vec<Value> = join_all(senders).await.into_iter().flatten().collect();
    assert!(acks.iter().all(|a| a["ok"] == true), "every send acked");

    let everyone: Vec<&TestSocket> = sockets.iter().chain([&watcher]).collect();
    let mut orders = Vec::new();
    for socket in &everyone {
        let all = socket
            .wait_until(DELIVERY_WAIT, |s| s.received("newMessage").len() >= 1000)
            .await;
        assert!(
            all,
            "{} of 1000 delivered",
            socket.received("newMessage").len()
        );
        let seqs = seqs(socket, "newMessage");
        assert_eq!(
            seqs,
            (1..=1000).collect::<Vec<_>>(),
            "in seq order, no gap, once"
        );
        let ids: Vec<Value> = socket
            .received("newMessage")
            .iter()
            .map(|m| m["id"].clone())
            .collect();
        orders.push(ids);
    }
    assert!(
        orders.windows(2).all(|w| w[0] == w[1]),
        "the same messages in the same order on every socket"
    );
    let db = cluster.db().await;
    assert_eq!(db.number("SELECT COUNT(*) FROM messages").await, 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cluster_bans_and_sign_outs_act_on_every_instance() {
    let cluster = Cluster::start(3, &[]).await;
    let admin = cluster.app(0).token("admin").await;
    let eve = cluster.app(0).token("eve").await;
    let eve_on_two = cluster.app(1).socket(&eve).await;
    let eve_on_three = cluster.app(2).socket(&eve).await;
    let eve_id = cluster.app(0).get_json::<Value>("/api/me", &eve).await["id"].clone();

    let banned = cluster
        .app(0)
        .patch(
            &format!("/api/admin/users/{}", eve_id),
            &json!({"banned": true}),
            &admin,
        )
        .await;
    assert_eq!(banned.status(), 200);
    for socket in [&eve_on_two, &eve_on_three] {
        let closed = socket
            .wait_until(Duration::from_secs(2), |s| !s.received("close").is_empty())
            .await;
        assert!(
            closed,
            "a ban on 1 closes eve's socket within 2 s: {:?}",
            socket.names()
        );
    }

    // A sign-out on 2 refuses the token on 3 at once.
    let ana = cluster.app(1).token("ana").await;
    assert_eq!(
        cluster.app(2).get("/api/me", Some(&ana)).await.status(),
        200
    );
    let out = cluster
        .app(1)
        .post("/api/auth/logout", &json!({}), Some(&ana))
        .await;
    assert!(out.status().is_success(), "{}", out.status());
    assert_error(
        cluster.app(2).get("/api/me", Some(&ana)).await,
        reqwest::StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cluster_socket_cap_and_message_rate_hold_across_instances() {
    let cluster = Cluster::start(
        3,
        &[("MAX_SOCKETS_PER_USER", "2"), ("MESSAGE_RATE", "4/1m")],
    )
    .await;
    let admin = cluster.app(0).token("admin").await;
    let room = cluster.app(0).create_room(&admin, "general").await;
    let ana = cluster.app(0).token("ana").await;
    let first = cluster.app(0).socket(&ana).await;
    let second = cluster.app(1).socket(&ana).await;
    let third = TestSocket::builder(cluster.app(2))
        .auth(json!({"token": ana}))
        .refusal()
        .await;
    assert!(
        third.contains("rate_limited"),
        "a third socket on 3 is refused: {third}"
    );

    for socket in [&first, &second] {
        socket.join(room).await;
    }
    let mut answers = Vec::new();
    for i in 0..3 {
        for socket in [&first, &second] {
            answers.push(
                socket
                    .request(
                        "sendMessage",
                        json!({"roomId": room, "text": format!("m{i}")}),
                    )
                    .await,
            );
        }
    }
    let ok = answers.iter().filter(|a| a["ok"] == true).count();
    let limited = answers
        .iter()
        .filter(|a| a["error"]["error"] == "rate_limited")
        .count();
    assert_eq!(
        (ok, limited),
        (4, 2),
        "4 per minute across instances: {answers:?}"
    );

    // A socket closed on 1 frees a place on 3.
    first.disconnect().await;
    let mut admitted = false;
    for _ in 0..50 {
        let socket = TestSocket::builder(cluster.app(2))
            .auth(json!({"token": ana}))
            .try_connect()
            .await;
        if socket.connect_outcome().await.is_ok() {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(admitted, "a closed socket frees its place in the cluster");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cluster_redis_stopped_and_started_loses_nothing_and_heals() {
    let mut cluster = Cluster::start(
        3,
        &[
            ("MAX_SOCKETS_PER_USER", "2"),
            ("SOCKET_EVENT_RATE", "10000/1s"),
        ],
    )
    .await;
    let admin = cluster.app(0).token("admin").await;
    let room = cluster.app(0).create_room(&admin, "general").await;
    let mut sockets = Vec::new();
    for n in 0..10 {
        let app = cluster.app(n % 3);
        let token = app.token(&format!("user{n}")).await;
        let socket = app.socket(&token).await;
        socket.join(room).await;
        sockets.push(socket);
    }

    // Ten senders for about eight seconds; Redis is gone for five of them.
    let senders = sockets.iter().enumerate().map(|(n, socket)| async move {
        let mut acked = Vec::new();
        for i in 0..40 {
            let payload = json!({"roomId": room, "text": format!("{n}-{i}"), "clientId": format!("c-{n}-{i}")});
            let ack = socket.request("sendMessage", payload).await;
            if ack["ok"] == true {
                acked.push(ack["message"]["id"].as_i64().unwrap());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        acked
    });
    let outage = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        cluster.redis.stop().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Not ready while Redis is away: a proxy sends new clients elsewhere.
        let ready = cluster.app(0).get("/healthz/ready", None).await;
        assert_eq!(ready.status(), 503);
        let body: Value = ready.json().await.unwrap();
        assert_eq!(
            (body["redis"].as_str(), body["database"].as_str()),
            (Some("unavailable"), Some("ok"))
        );
        tokio::time::sleep(Duration::from_secs(4)).await;
        cluster.redis.restart().await;
    };
    let (acked, ()) = tokio::join!(join_all(senders), outage);
    let acked: Vec<i64> = acked.into_iter().flatten().collect();
    assert_eq!(acked.len(), 400, "every send acked, Redis or not");

    let db = cluster.db().await;
    assert_eq!(
        db.number("SELECT COUNT(*) FROM messages").await,
        400,
        "none lost, none doubled"
    );
    for socket in &sockets {
        let all = socket
            .wait_until(DELIVERY_WAIT, |s| s.received("newMessage").len() >= 400)
            .await;
        assert!(
            all,
            "{} of 400 delivered",
            socket.received("newMessage").len()
        );
        assert_eq!(seqs(socket, "newMessage"), (1..=400).collect::<Vec<_>>());
    }

    // Healed without a restart: the socket cap holds across instances again, and presence is
    // the cluster's (user0's sockets were re-registered by their instance).
    let token = cluster.app(1).login("user0").await;
    let mut healed = false;
    for _ in 0..30 {
        let extra = TestSocket::builder(cluster.app(1))
            .auth(json!({"token": token}))
            .try_connect()
            .await;
        if extra.connect_outcome().await.is_ok() {
            let third = TestSocket::builder(cluster.app(2))
                .auth(json!({"token": token}))
                .refusal()
                .await;
            if third.contains("rate_limited") {
                healed = true;
                break;
            }
        }
        extra.disconnect().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        healed,
        "the socket cap is the cluster's again after Redis returns"
    );
    let ack = sockets[1].join(room).await;
    let online = ack["online"].as_array().unwrap().len();
    assert_eq!(
        online, 10,
        "presence counts every instance's users again: {ack}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cluster_instance_killed_mid_burst_its_clients_catch_up_elsewhere() {
    let mut cluster = Cluster::start(3, &[("SOCKET_EVENT_RATE", "10000/1s")]).await;
    let admin = cluster.app(0).token("admin").await;
    let room = cluster.app(0).create_room(&admin, "general").await;
    // A user only on instance 2, who will not come back: offline for the others once the
    // dead instance's sockets expire.
    let ghost = cluster.app(1).token("ghost").await;
    let ghost_socket = cluster.app(1).socket(&ghost).await;
    ghost_socket.join(room).await;
    let mut users = Vec::new();
    for n in 0..6 {
        let app = cluster.app(n % 3);
        let token = app.token(&format!("user{n}")).await;
        let socket = app.socket(&token).await;
        socket.join(room).await;
        users.push((n, token, socket));
    }

    // Everyone sends with a clientId; halfway, instance 2 dies.
    let senders = users.iter().map(|(n, _, socket)| async move {
        let mut acked = Vec::new();
        let mut unanswered = Vec::new();
        for i in 0..30 {
            let client_id = format!("c-{n}-{i}");
            let payload =
                json!({"roomId": room, "text": format!("{n}-{i}"), "clientId": client_id});
            match socket.try_request("sendMessage", payload).await {
                Ok(ack) if ack["ok"] == true => acked.push(client_id),
                _ => unanswered.push((client_id, format!("{n}-{i}"))),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (acked, unanswered)
    });
    let killer = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        cluster.instances[1].kill().await;
    };
    let (outcomes, ()) = tokio::join!(join_all(senders), killer);

    // The killed instance's clients come back through another instance and retry what went
    // unanswered, with the same clientId; everyone catches up from seq 0.
    let mut acked: Vec<String> = Vec::new();
    for ((n, token, _), (ok, unanswered)) in users.iter().zip(outcomes) {
        acked.extend(ok);
        if unanswered.is_empty() {
            continue;
        }
        let elsewhere = cluster.app(if n % 3 == 1 { 2 } else { n % 3 });
        let socket = elsewhere.socket(token).await;
        for (client_id, text) in unanswered {
            let ack = socket
                .request(
                    "sendMessage",
                    json!({"roomId": room, "text": text, "clientId": client_id}),
                )
                .await;
            assert_eq!(ack["ok"], true, "a retry elsewhere is stored: {ack}");
            acked.push(client_id);
        }
    }
    assert_eq!(
        acked.len(),
        180,
        "every send acked once, first time or on retry"
    );
    let db = cluster.db().await;
    assert_eq!(
        db.number("SELECT COUNT(*) FROM messages").await,
        180,
        "nothing doubled"
    );
    assert_eq!(
        db.number("SELECT COUNT(DISTINCT client_id) FROM messages")
            .await,
        180
    );
    for (n, token, _) in users.iter().filter(|(n, _, _)| n % 3 == 1) {
        let socket = cluster.app(0).socket(token).await;
        let ack = socket
            .request("joinRoom", json!({"roomId": room, "since": 0}))
            .await;
        let mut seen: Vec<i64> = ack["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect();
        let mut since = *seen.last().unwrap_or(&0);
        while ack["hasMore"] == true && seen.len() < 180 {
            let more = socket
                .request("joinRoom", json!({"roomId": room, "since": since}))
                .await;
            let page: Vec<i64> = more["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["seq"].as_i64().unwrap())
                .collect();
            if page.is_empty() {
                break;
            }
            since = *page.last().unwrap();
            seen.extend(page);
        }
        assert_eq!(
            seen,
            (1..=180).collect::<Vec<_>>(),
            "user{n} caught up exactly"
        );
    }

    // The dead instance's sockets expire (60 s without a refresh) and the sweep announces their
    // users offline: the ghost leaves the room's presence.
    let watcher = &users[0].2;
    let gone = watcher
        .wait_until(Duration::from_secs(90), |s| {
            s.received("presence").iter().any(|p| {
                p["left"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|u| u["username"] == "ghost")
            })
        })
        .await;
    assert!(
        gone,
        "the ghost goes offline: {:?}",
        watcher.received("presence")
    );
    let ack = watcher.join(room).await;
    let online: Vec<&str> = ack["online"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(!online.contains(&"ghost"), "{online:?}");
}

/// nginx (Debian's) in front of `cluster` with the shipped configuration, on a spare port.
struct Nginx {
    _dir: tempfile::TempDir,
    port: u16,
    _child: tokio::process::Child,
}

impl Nginx {
    async fn start(cluster: &Cluster) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = spare_port();
        let upstreams: String = cluster
            .instances
            .iter()
            .map(|i| format!("server {} max_fails=1 fail_timeout=5s; ", i.app.address))
            .collect();
        let template =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/nginx.conf"))
                .expect("deploy/nginx.conf");
        let prefix = dir.path().display().to_string();
        let config = template
            .replace("{{PREFIX}}", &prefix)
            .replace("{{LISTEN}}", &format!("127.0.0.1:{port}"))
            .replace("{{UPSTREAMS}}", &upstreams);
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, config).expect("write nginx.conf");
        let nginx = ["/usr/sbin/nginx", "nginx"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("nginx");
        let child = tokio::process::Command::new(nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&path)
            // One process, no workers: killed with the test, it leaves nothing behind.
            .args(["-g", "daemon off; master_process off;"])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("nginx runs (Debian's nginx package; `make test` installs it)");
        let front = TestApp::external(&format!("127.0.0.1:{port}"));
        assert!(
            front
                .wait_ok("/healthz/ready", Duration::from_secs(10))
                .await,
            "nginx did not answer on port {port}"
        );
        Self {
            _dir: dir,
            port,
            _child: child,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cluster_behind_the_shipped_nginx_configuration_polling_and_websocket_chat() {
    let cluster = Cluster::start(3, &[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let nginx = Nginx::start(&cluster).await;
    let front = TestApp::external(&format!("127.0.0.1:{}", nginx.port));

    let admin = front.token("admin").await;
    let room = front.create_room(&admin, "general").await;
    let ana = front.token("ana").await;
    let bob = front.token("bob").await;
    // Ana on long-polling only (every request of her session must reach one instance), bob on
    // WebSocket, both through nginx; the admin straight on instance 3.
    let ana_socket = TestSocket::builder(&front)
        .auth(json!({"token": ana}))
        .polling()
        .connect()
        .await;
    let bob_socket = front.socket(&bob).await;
    let admin_socket = cluster.app(2).socket(&admin).await;
    for socket in [&ana_socket, &bob_socket, &admin_socket] {
        socket.join(room).await;
    }

    for (n, socket) in [&ana_socket, &bob_socket, &admin_socket].iter().enumerate() {
        let sent = socket
            .request(
                "sendMessage",
                json!({"roomId": room, "text": format!("hello {n}")}),
            )
            .await;
        assert_eq!(sent["ok"], true, "{sent}");
    }
    for socket in [&ana_socket, &bob_socket, &admin_socket] {
        let all = socket
            .wait_until(WAIT, |s| s.received("newMessage").len() >= 3)
            .await;
        assert!(all, "{:?}", socket.received("newMessage"));
        assert_eq!(seqs(socket, "newMessage"), vec![1, 2, 3]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cluster_a_listener_cut_off_catches_up_from_the_database() {
    let cluster = Cluster::start(2, &[("SOCKET_EVENT_RATE", "10000/1s")]).await;
    let admin = cluster.app(0).token("admin").await;
    let room = cluster.app(0).create_room(&admin, "general").await;
    let sender = cluster.app(0).socket(&admin).await;
    let ana = cluster.app(1).token("ana").await;
    let reader = cluster.app(1).socket(&ana).await;
    for socket in [&sender, &reader] {
        socket.join(room).await;
    }

    // Instance 2's connections to PostgreSQL (its listener among them) are cut, again and again,
    // while instance 1 sends: what was notified meanwhile is lost to instance 2.
    let db = cluster.db().await;
    let sends = async {
        for i in 0..60 {
            let ack = sender
                .request(
                    "sendMessage",
                    json!({"roomId": room, "text": format!("m{i}")}),
                )
                .await;
            assert_eq!(ack["ok"], true, "{ack}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let cuts = async {
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            db.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = 'tagarela-bus-i2'",
            )
            .await;
        }
    };
    tokio::join!(sends, cuts);

    let all = reader
        .wait_until(Duration::from_secs(20), |s| {
            s.received("newMessage").len() >= 60
        })
        .await;
    assert!(
        all,
        "{} of 60 reached instance 2",
        reader.received("newMessage").len()
    );
    assert_eq!(seqs(&reader, "newMessage"), (1..=60).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cluster_changes_too_large_for_a_notification_are_read_back() {
    let cluster = Cluster::start(2, &[]).await;
    let (one, two) = (cluster.app(0), cluster.app(1));
    let admin = one.token("admin").await;
    let room = one.create_room(&admin, "general").await;
    let ana = one.token("ana").await;
    let bob = two.token("bob").await;
    let ana_socket = one.socket(&ana).await;
    let bob_socket = two.socket(&bob).await;
    for socket in [&ana_socket, &bob_socket] {
        socket.join(room).await;
    }

    // 4,000 characters of 4 bytes each: 16,000 bytes, twice a notification's limit. The
    // message travels as its place and is read back; the mention as a stored row.
    let text = format!("@bob {}", "𝄞".repeat(3_994));
    let sent = ana_socket
        .request("sendMessage", json!({"roomId": room, "text": text}))
        .await;
    assert_eq!(sent["ok"], true, "{sent}");
    let small = ana_socket
        .request("sendMessage", json!({"roomId": room, "text": "after"}))
        .await;
    assert_eq!(small["ok"], true, "{small}");

    let both = bob_socket
        .wait_until(WAIT, |s| s.received("newMessage").len() >= 2)
        .await;
    assert!(both, "{:?}", bob_socket.names());
    let received = bob_socket.received("newMessage");
    assert_eq!(
        received[0]["text"],
        text.as_str(),
        "the large message, whole"
    );
    assert_eq!(received[1]["text"], "after");
    assert_eq!(seqs(&bob_socket, "newMessage"), vec![1, 2]);
    let mention = bob_socket.event("notification").await;
    assert_eq!(mention["text"], text.as_str(), "the mention, whole");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cluster_restarted_postgres_every_listener_reconnects_and_catches_up() {
    let pg = crate::store::PgCluster::start_new().await;
    let cluster = Cluster::start(2, &[("DATABASE_URL", &pg.url())]).await;
    let (one, two) = (cluster.app(0), cluster.app(1));
    let admin = one.token("admin").await;
    let room = one.create_room(&admin, "general").await;
    let ana = one.token("ana").await;
    let bob = two.token("bob").await;
    let ana_socket = one.socket(&ana).await;
    let bob_socket = two.socket(&bob).await;
    for socket in [&ana_socket, &bob_socket] {
        socket.join(room).await;
    }
    for i in 0..10 {
        let ack = ana_socket
            .request(
                "sendMessage",
                json!({"roomId": room, "text": format!("a{i}")}),
            )
            .await;
        assert_eq!(ack["ok"], true, "{ack}");
    }

    // PostgreSQL killed and started again: both instances' listeners lose their connection.
    pg.kill().await;
    let down = bob_socket
        .request(
            "sendMessage",
            json!({"roomId": room, "text": "lost", "clientId": "x"}),
        )
        .await;
    assert_eq!(down["error"]["error"], "internal", "{down}");
    let ready = one.get("/healthz/ready", None).await;
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(
        (body["database"].as_str(), body["redis"].as_str()),
        (Some("unavailable"), Some("ok"))
    );
    assert_eq!(body["error"], "unavailable");
    pg.start().await;
    for app in [one, two] {
        assert!(
            app.wait_ok("/healthz/ready", Duration::from_secs(10)).await,
            "ready again once PostgreSQL is back"
        );
    }

    // Bob sends on 2, ana sends on 1: each hears the other's, in order, with no gap.
    for i in 0..5 {
        for (socket, who) in [(&bob_socket, "b"), (&ana_socket, "a")] {
            let ack = socket
                .request(
                    "sendMessage",
                    json!({"roomId": room, "text": format!("{who}{i}")}),
                )
                .await;
            assert_eq!(ack["ok"], true, "{ack}");
        }
    }
    for socket in [&ana_socket, &bob_socket] {
        let all = socket
            .wait_until(Duration::from_secs(20), |s| {
                s.received("newMessage").len() >= 20
            })
            .await;
        assert!(all, "{} of 20", socket.received("newMessage").len());
        assert_eq!(seqs(socket, "newMessage"), (1..=20).collect::<Vec<_>>());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cluster_a_session_ended_without_its_event_still_closes_its_sockets() {
    let cluster = Cluster::start(2, &[]).await;
    let eve = cluster.app(0).token("eve").await;
    let ana = cluster.app(0).token("ana").await;
    let eve_socket = cluster.app(1).socket(&eve).await;
    let ana_socket = cluster.app(1).socket(&ana).await;

    // Eve's sessions end in the database with no event to any instance (as when the event was
    // lost): the periodic check (every 30 s) closes her socket, and only hers.
    let db = cluster.db().await;
    db.execute(
        "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = 'eve')",
    )
    .await;
    let closed = eve_socket
        .wait_until(Duration::from_secs(45), |s| !s.received("close").is_empty())
        .await;
    assert!(closed, "eve's socket is closed by the check");
    let alive = ana_socket.request("joinRoom", json!({"roomId": 999})).await;
    assert_eq!(
        alive["error"]["error"], "not_found",
        "ana's socket still answers: {alive}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cluster_sign_up_and_sign_in_limits_hold_across_instances() {
    let cluster = Cluster::start(2, &[("REGISTER_RATE", "3/1h"), ("LOGIN_RATE", "2/5m")]).await;
    let (one, two) = (cluster.app(0), cluster.app(1));
    // Every client here is 127.0.0.1: one window per address, whichever instance it reaches.
    one.register("ana").await;
    one.register("bob").await;
    two.register("cid").await;
    assert_error(
        two.register_raw("dan", PASSWORD).await,
        reqwest::StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;

    // Two wrong passwords for ana, one on each instance: the third try is limited on either,
    // even with the right password.
    for app in [one, two] {
        assert_eq!(app.login_raw("ana", "wrong password!").await.status(), 401);
    }
    assert_error(
        one.login_raw("ana", PASSWORD).await,
        reqwest::StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
}
