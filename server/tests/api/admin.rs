//! Administration (API.md `/api/admin/*`): who may use it, user roles and bans, and the admin
//! action log (`GET /api/admin/actions`).

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The `user` of `username`, as `GET /api/admin/users?q=` lists it.
async fn find_user(app: &TestApp, admin: &str, username: &str) -> Value {
    let users: Vec<Value> = app
        .get_json(&format!("/api/admin/users?q={username}"), admin)
        .await;
    users
        .into_iter()
        .find(|u| u["username"] == username)
        .unwrap_or_else(|| panic!("no user {username}"))
}

/// `PATCH /api/admin/users/{id}` of `username` with `change`, as `admin`.
async fn patch_user(
    app: &TestApp,
    admin: &str,
    username: &str,
    change: Value,
) -> reqwest::Response {
    let id = find_user(app, admin, username).await["id"]
        .as_i64()
        .unwrap();
    app.patch(&format!("/api/admin/users/{id}"), &change, admin)
        .await
}

/// The action log, newest first.
async fn actions(app: &TestApp, admin: &str) -> Vec<Value> {
    let response = app.get("/api/admin/actions", Some(admin)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Usernames of a `[user]` body.
fn usernames(users: &[Value]) -> Vec<&str> {
    users
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn every_admin_route_refuses_a_normal_user_and_an_anonymous_one() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    let bob = app.token("bob").await;
    let room = app.create_room(&ana, "general").await;
    let body = json!({"name": "mine", "topic": "x", "role": "admin", "banned": true});
    let routes = [
        (Method::GET, "/api/admin/users".to_owned()),
        (Method::PATCH, "/api/admin/users/1".to_owned()),
        (Method::GET, "/api/admin/actions".to_owned()),
        (Method::GET, "/api/admin/rooms".to_owned()),
        (Method::GET, "/api/admin/dashboard".to_owned()),
        (Method::POST, "/api/admin/rooms".to_owned()),
        (Method::PATCH, format!("/api/admin/rooms/{room}")),
        (Method::DELETE, format!("/api/admin/rooms/{room}")),
    ];

    let mut answers = Vec::new();
    for (method, path) in &routes {
        let as_user = app
            .call(method.clone(), path, Some(&body), Some(&bob))
            .await;
        let anonymous = app.call(method.clone(), path, Some(&body), None).await;
        answers.push((method, path, as_user, anonymous));
    }

    for (method, path, as_user, anonymous) in answers {
        assert_eq!(as_user.status(), StatusCode::FORBIDDEN, "{method} {path}");
        assert_error(as_user, StatusCode::FORBIDDEN, "forbidden").await;
        assert_eq!(
            anonymous.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let me: Value = app.get_json("/api/me", &ana).await;
    assert_eq!(me["role"], "admin");
    assert_eq!(me["banned"], false);
}

#[tokio::test]
async fn users_are_listed_by_username_and_searched_ignoring_case() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    for name in ["carl", "Bobby", "bob", "x_y", "xay"] {
        app.token(name).await;
    }

    let all: Vec<Value> = app.get_json("/api/admin/users", &ana).await;
    let bobs: Vec<Value> = app.get_json("/api/admin/users?q=BOB", &ana).await;
    let underscore: Vec<Value> = app.get_json("/api/admin/users?q=_", &ana).await;
    let none: Vec<Value> = app.get_json("/api/admin/users?q=zed", &ana).await;

    assert_eq!(
        usernames(&all),
        ["ana", "bob", "Bobby", "carl", "x_y", "xay"]
    );
    assert_eq!(
        all[0],
        json!({"id": 1, "username": "ana", "role": "admin", "banned": false,
               "created_at": all[0]["created_at"]})
    );
    assert_eq!(usernames(&bobs), ["bob", "Bobby"]);
    assert_eq!(usernames(&underscore), ["x_y"], "`_` is not a wildcard");
    assert!(none.is_empty());
}

#[tokio::test]
async fn the_last_admin_can_be_neither_demoted_nor_banned() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    app.token("bob").await;

    let demote = patch_user(&app, &ana, "ana", json!({"role": "user"})).await;
    let ban = patch_user(&app, &ana, "ana", json!({"banned": true})).await;

    assert_error(demote, StatusCode::CONFLICT, "conflict").await;
    assert_error(ban, StatusCode::CONFLICT, "conflict").await;
    let me: Value = app.get_json("/api/me", &ana).await;
    assert_eq!(me["role"], "admin");
    assert_eq!(me["banned"], false);
}

#[tokio::test]
async fn promoting_a_user_makes_them_admin_at_once() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    let bob = app.token("bob").await;

    let promoted = patch_user(&app, &ana, "bob", json!({"role": "admin"})).await;
    let bob_lists = app.get("/api/admin/users", Some(&bob)).await;

    assert_eq!(promoted.status(), StatusCode::OK);
    let user: Value = promoted.json().await.unwrap();
    assert_eq!(user["username"], "bob");
    assert_eq!(user["role"], "admin");
    assert_eq!(user["banned"], false);
    assert_eq!(
        bob_lists.status(),
        StatusCode::OK,
        "the same token, now admin"
    );
}

#[tokio::test]
async fn with_two_admins_one_can_be_demoted_and_then_the_other_is_the_last() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    let bob = app.token("bob").await;
    patch_user(&app, &ana, "bob", json!({"role": "admin"})).await;

    let demoted = patch_user(&app, &bob, "ana", json!({"role": "user"})).await;
    let ana_lists = app.get("/api/admin/users", Some(&ana)).await;
    let last = patch_user(&app, &bob, "bob", json!({"role": "user"})).await;

    assert_eq!(demoted.status(), StatusCode::OK);
    assert_eq!(demoted.json::<Value>().await.unwrap()["role"], "user");
    assert_error(ana_lists, StatusCode::FORBIDDEN, "forbidden").await;
    assert_error(last, StatusCode::CONFLICT, "conflict").await;
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    let bob = app.token("bob").await;
    patch_user(&app, &ana, "bob", json!({"role": "admin"})).await;
    let ana_id = find_user(&app, &ana, "ana").await["id"].clone();
    let bob_id = find_user(&app, &ana, "bob").await["id"].clone();

    let demote = json!({"role": "user"});
    let (ana_path, bob_path) = (
        format!("/api/admin/users/{ana_id}"),
        format!("/api/admin/users/{bob_id}"),
    );
    let (a, b) = tokio::join!(
        app.patch(&bob_path, &demote, &ana),
        app.patch(&ana_path, &demote, &bob),
    );

    let ok = [a.status(), b.status()]
        .iter()
        .filter(|s| **s == StatusCode::OK)
        .count();
    assert_eq!(ok, 1, "{} and {}", a.status(), b.status());
    let db = app.db().await;
    let admins = db
        .number("SELECT COUNT(*) FROM users WHERE role = 'admin' AND NOT banned")
        .await;
    assert_eq!(admins, 1);
}

#[tokio::test]
async fn a_ban_closes_the_socket_and_refuses_the_token_and_the_login_and_keeps_the_messages() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    let bob = app.token("bob").await;
    let room = app.create_room(&ana, "general").await;
    let socket = app.socket(&bob).await;
    socket.request("joinRoom", json!({"roomId": room})).await;
    let sent = socket
        .request("sendMessage", json!({"roomId": room, "text": "still here"}))
        .await;
    assert_eq!(sent["ok"], true, "{sent}");

    let banned = patch_user(&app, &ana, "bob", json!({"banned": true})).await;

    assert_eq!(banned.status(), StatusCode::OK);
    let user: Value = banned.json().await.unwrap();
    assert_eq!(user["banned"], true);
    assert_eq!(user["role"], "user");
    assert!(socket.closed().await, "the banned user's socket closes");
    let me = app.get("/api/me", Some(&bob)).await;
    assert_error(me, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let login = app.login_raw("bob", PASSWORD).await;
    assert_error(login, StatusCode::FORBIDDEN, "forbidden").await;
    let refusal = TestSocket::builder(&app)
        .auth(json!({"token": bob}))
        .refusal()
        .await;
    assert_eq!(refusal, "unauthorized");
    let messages: Vec<Value> = app
        .get_json(&format!("/api/rooms/{room}/messages"), &ana)
        .await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["id"], sent["message"]["id"]);
    assert_eq!(messages[0]["text"], "still here");
    assert_eq!(messages[0]["user"]["username"], "bob");
}

#[tokio::test]
async fn an_unban_lets_the_user_log_in_again() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    app.token("bob").await;
    patch_user(&app, &ana, "bob", json!({"banned": true})).await;

    let unbanned = patch_user(&app, &ana, "bob", json!({"banned": false})).await;
    let login = app.login_raw("bob", PASSWORD).await;

    assert_eq!(unbanned.status(), StatusCode::OK);
    assert_eq!(unbanned.json::<Value>().await.unwrap()["banned"], false);
    assert_eq!(login.status(), StatusCode::OK);
    let token = login.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.get("/api/me", Some(&token)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_bad_role_or_body_is_invalid_input_and_an_unknown_user_not_found() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    app.token("bob").await;
    let bob_id = find_user(&app, &ana, "bob").await["id"].clone();
    let path = format!("/api/admin/users/{bob_id}");

    let bad_role = app.patch(&path, &json!({"role": "root"}), &ana).await;
    let bad_banned = app.patch(&path, &json!({"banned": "yes"}), &ana).await;
    let array = app.patch(&path, &json!([{"role": "admin"}]), &ana).await;
    let bad_id = app
        .patch("/api/admin/users/bob", &json!({"role": "admin"}), &ana)
        .await;
    let missing = app
        .patch("/api/admin/users/999", &json!({"role": "admin"}), &ana)
        .await;

    assert_error(bad_role, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_error(
        bad_banned,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    )
    .await;
    assert_error(array, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_error(bad_id, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_error(missing, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(find_user(&app, &ana, "bob").await["role"], "user");
}

#[tokio::test]
async fn creating_a_room_and_banning_a_user_are_logged_newest_first() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    app.token("bob").await;

    app.post(
        "/api/admin/rooms",
        &json!({"name": "general", "topic": "all things"}),
        Some(&ana),
    )
    .await;
    patch_user(&app, &ana, "bob", json!({"banned": true})).await;
    let log = actions(&app, &ana).await;

    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0]["action"], "user_banned");
    assert_eq!(log[0]["target"], "bob");
    assert_eq!(log[0]["admin"], json!({"id": 1, "username": "ana"}));
    assert_eq!(log[1]["action"], "room_created");
    assert_eq!(log[1]["target"], "general");
    assert_eq!(log[1]["detail"], "all things");
    assert_eq!(log[1]["admin"]["username"], "ana");
    assert!(log[0]["id"].as_i64() > log[1]["id"].as_i64());
    assert!(
        log[0]["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
}

#[tokio::test]
async fn room_changes_roles_and_unbans_are_logged_once_each() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    app.token("bob").await;
    let room = app.create_room(&ana, "general").await;

    app.patch(
        &format!("/api/admin/rooms/{room}"),
        &json!({"name": "news", "topic": "daily", "archived": true}),
        &ana,
    )
    .await;
    app.patch(
        &format!("/api/admin/rooms/{room}"),
        &json!({"name": "news", "archived": false}),
        &ana,
    )
    .await;
    app.delete(&format!("/api/admin/rooms/{room}"), &ana).await;
    patch_user(&app, &ana, "bob", json!({"role": "admin", "banned": true})).await;
    patch_user(&app, &ana, "bob", json!({"role": "admin", "banned": false})).await;
    let log = actions(&app, &ana).await;

    let entries: Vec<(&str, &str, &str)> = log
        .iter()
        .rev()
        .map(|a| {
            (
                a["action"].as_str().unwrap(),
                a["target"].as_str().unwrap(),
                a["detail"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("room_created", "general", ""),
            ("room_renamed", "general", "general → news"),
            ("room_topic_changed", "general", "daily"),
            ("room_archived", "general", ""),
            ("room_unarchived", "news", ""),
            ("room_deleted", "news", ""),
            ("user_role_changed", "bob", "user → admin"),
            ("user_banned", "bob", ""),
            ("user_unbanned", "bob", ""),
        ]
    );
}

#[tokio::test]
async fn the_action_log_takes_a_limit_of_1_to_200() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    for name in ["one", "two", "three"] {
        app.create_room(&ana, name).await;
    }

    let one: Vec<Value> = app.get_json("/api/admin/actions?limit=1", &ana).await;
    let zero = app.get("/api/admin/actions?limit=0", Some(&ana)).await;
    let too_many = app.get("/api/admin/actions?limit=201", Some(&ana)).await;
    let not_a_number = app.get("/api/admin/actions?limit=ten", Some(&ana)).await;

    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["target"], "three");
    assert_error(zero, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_error(too_many, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_error(
        not_a_number,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    )
    .await;
}

/// A client that keeps cookies but follows no redirects, like a browser posting a form.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `Cookie: tagarela_session=<token>`.
fn cookie(token: &str) -> String {
    format!("tagarela_session={token}")
}

#[tokio::test]
async fn admin_pages_send_anonymous_visitors_to_sign_in_and_refuse_users() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    let bob = app.token("bob").await;
    let client = browser();

    let mut answers = Vec::new();
    for path in ["/admin", "/admin/rooms", "/admin/users"] {
        let anonymous = client.get(app.url(path)).send().await.unwrap();
        let user = client
            .get(app.url(path))
            .header("cookie", cookie(&bob))
            .send()
            .await
            .unwrap();
        let admin = client
            .get(app.url(path))
            .header("cookie", cookie(&ana))
            .send()
            .await
            .unwrap();
        answers.push((path, anonymous, user, admin));
    }

    for (path, anonymous, user, admin) in answers {
        assert!(
            anonymous.status().is_redirection(),
            "{path}: {}",
            anonymous.status()
        );
        assert_eq!(anonymous.headers()["location"], "/login");
        assert_eq!(user.status(), StatusCode::FORBIDDEN, "{path}");
        let page = user.text().await.unwrap();
        assert!(
            page.contains("Forbidden") && !page.contains("Create room"),
            "{path}: {page}"
        );
        assert_eq!(admin.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn an_admin_form_over_64_kib_is_refused_unread() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    let padding = "x".repeat(70 * 1024);

    let r = browser()
        .post(app.url("/admin/rooms"))
        .header("cookie", cookie(&ana))
        .header("origin", app.base.clone())
        .form(&[("intent", "create"), ("name", "big"), ("padding", &padding)])
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let rooms = app
        .get("/api/rooms", Some(&ana))
        .await
        .text()
        .await
        .unwrap();
    assert!(!rooms.contains("\"big\""), "{rooms}");
}

#[tokio::test]
async fn admin_forms_work_without_scripts_and_are_csrf_protected() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    let bob = app.token("bob").await;
    let client = browser();
    let origin = app.base.clone();
    let form = |token: &str, fields: &[(&str, &str)], origin: Option<&str>| {
        let mut request = client
            .post(app.url("/admin/rooms"))
            .header("cookie", cookie(token))
            .form(fields);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };

    let created = form(
        &ana,
        &[("intent", "create"), ("name", "lobby"), ("topic", "hi")],
        Some(&origin),
    )
    .await
    .unwrap();
    let cross_site = form(
        &ana,
        &[("intent", "create"), ("name", "evil")],
        Some("http://evil.example"),
    )
    .await
    .unwrap();
    let no_origin = form(&ana, &[("intent", "create"), ("name", "evil2")], None)
        .await
        .unwrap();
    let as_user = form(
        &bob,
        &[("intent", "create"), ("name", "mine")],
        Some(&origin),
    )
    .await
    .unwrap();
    let duplicate = form(
        &ana,
        &[("intent", "create"), ("name", "LOBBY")],
        Some(&origin),
    )
    .await
    .unwrap();
    let rooms: Vec<Value> = app.get_json("/api/rooms", &ana).await;
    let id = rooms[0]["id"].as_i64().unwrap().to_string();
    let wrong_confirm = form(
        &ana,
        &[("intent", "delete"), ("id", &id), ("confirm", "lobb")],
        Some(&origin),
    )
    .await
    .unwrap();
    let still_there: Vec<Value> = app.get_json("/api/rooms", &ana).await;
    let deleted = form(
        &ana,
        &[("intent", "delete"), ("id", &id), ("confirm", "lobby")],
        Some(&origin),
    )
    .await
    .unwrap();
    let after: Vec<Value> = app.get_json("/api/rooms", &ana).await;

    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    assert!(
        created.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/admin/rooms?notice=")
    );
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert_eq!(no_origin.status(), StatusCode::FORBIDDEN);
    assert_eq!(as_user.status(), StatusCode::FORBIDDEN);
    assert!(
        duplicate.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/admin/rooms?error=")
    );
    assert!(
        wrong_confirm.headers()["location"]
            .to_str()
            .unwrap()
            .contains("error=")
    );
    assert_eq!(still_there.len(), 1, "a wrong confirmation deletes nothing");
    assert!(
        deleted.headers()["location"]
            .to_str()
            .unwrap()
            .contains("notice=")
    );
    assert!(after.is_empty());
    assert_eq!(
        rooms.len(),
        1,
        "only the admin's same-origin form created a room: {rooms:?}"
    );
}

#[tokio::test]
async fn user_forms_ban_and_protect_the_last_admin() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    let bob = app.token("bob").await;
    let bob_socket = app.socket(&bob).await;
    let client = browser();
    let post = |fields: Vec<(&'static str, String)>| {
        client
            .post(app.url("/admin/users"))
            .header("cookie", cookie(&ana))
            .header("origin", app.base.clone())
            .form(&fields)
            .send()
    };

    let demote_self = post(vec![("intent", "demote".into()), ("id", "1".into())])
        .await
        .unwrap();
    let ban = post(vec![("intent", "ban".into()), ("id", "2".into())])
        .await
        .unwrap();

    assert!(
        demote_self.headers()["location"]
            .to_str()
            .unwrap()
            .contains("error=")
    );
    assert!(
        ban.headers()["location"]
            .to_str()
            .unwrap()
            .contains("notice=")
    );
    assert!(bob_socket.closed().await, "a ban closes the user's sockets");
    assert_eq!(
        app.get("/api/me", Some(&bob)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_dashboard_counts_connected_sockets_and_reaches_admins_only() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    let bob = app.token("bob").await;
    let admin_socket = app.socket(&ana).await;
    let user_socket = app.socket(&bob).await;
    let extra = [app.socket(&bob).await, app.socket(&bob).await];

    let dashboard: Value = app.get_json("/api/admin/dashboard", &ana).await;
    // Pushed every two seconds: a push computed before the last socket connected may come first.
    let pushed = admin_socket
        .wait_for(|n, v| n == "dashboard" && v["sockets"] == 4)
        .await
        .map(|(_, v)| v);

    assert_eq!(dashboard["sockets"], 4);
    assert_eq!(dashboard["users_online"], 2);
    assert_eq!(
        dashboard["messages_per_minute"].as_array().unwrap().len(),
        60
    );
    assert!(pushed.is_some(), "the pushed dashboard counts 4 sockets");
    assert!(
        user_socket.received("dashboard").is_empty(),
        "users never get the dashboard"
    );
    drop(extra);
}

#[tokio::test]
async fn the_dashboard_ranks_rooms_by_their_messages_of_the_last_hour() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    let alpha = app.create_room(&ana, "alpha").await;
    let beta = app.create_room(&ana, "beta").await;
    let socket = app.socket(&ana).await;
    for room in [alpha, beta] {
        socket.request("joinRoom", json!({"roomId": room})).await;
    }
    let mut ids = Vec::new();
    for (room, text) in [
        (alpha, "old"),
        (alpha, "a1"),
        (beta, "b1"),
        (beta, "b2"),
        (alpha, "a2"),
        (beta, "deleted"),
    ] {
        let sent = socket
            .request("sendMessage", json!({"roomId": room, "text": text}))
            .await;
        ids.push(sent["message"]["id"].as_i64().unwrap());
    }
    socket
        .request("deleteMessage", json!({"messageId": ids[5]}))
        .await;
    // The first message is from long ago.
    app.db()
        .await
        .execute(&format!(
            "UPDATE messages SET created_at = '2000-01-01T00:00:00.000Z' WHERE id = {}",
            ids[0]
        ))
        .await;

    let dashboard: Value = app.get_json("/api/admin/dashboard", &ana).await;

    let rooms: Vec<(&str, i64)> = dashboard["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["messages"].as_i64().unwrap()))
        .collect();
    assert_eq!(rooms, [("alpha", 2), ("beta", 2)]);
}

#[tokio::test]
async fn admin_room_figures_count_members_online_and_messages() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    let room = app.create_room(&ana, "general").await;
    let socket = app.socket(&ana).await;
    socket.request("joinRoom", json!({"roomId": room})).await;
    socket
        .request("sendMessage", json!({"roomId": room, "text": "one"}))
        .await;
    socket
        .request("sendMessage", json!({"roomId": room, "text": "two"}))
        .await;

    let rooms: Vec<Value> = app.get_json("/api/admin/rooms", &ana).await;

    assert_eq!(rooms[0]["name"], "general");
    assert_eq!(rooms[0]["members"], 1);
    assert_eq!(rooms[0]["online"], 1);
    assert_eq!(rooms[0]["messages"], 2);
    assert!(rooms[0]["last_activity"].is_string());
}

#[tokio::test]
async fn a_role_change_applies_to_open_sockets_at_their_next_event() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    let room = app.create_room(&ana, "general").await;
    let (b, c) = (app.socket(&bob).await, app.socket(&carol).await);
    for socket in [&b, &c] {
        let joined = socket.request("joinRoom", json!({"roomId": room})).await;
        assert_eq!(joined["ok"], true, "{joined}");
    }
    let mut ids = Vec::new();
    for text in ["one", "two"] {
        let sent = c
            .request("sendMessage", json!({"roomId": room, "text": text}))
            .await;
        ids.push(sent["message"]["id"].clone());
    }
    let delete = |id: &Value| json!({"messageId": id});

    let as_user = b.request("deleteMessage", delete(&ids[0])).await;
    patch_user(&app, &ana, "bob", json!({"role": "admin"})).await;
    let as_admin = b.request("deleteMessage", delete(&ids[0])).await;
    patch_user(&app, &ana, "bob", json!({"role": "user"})).await;
    let demoted = b.request("deleteMessage", delete(&ids[1])).await;

    assert_eq!(as_user["error"]["error"], "forbidden", "{as_user}");
    assert_eq!(as_admin["ok"], true, "{as_admin}");
    assert_eq!(demoted["error"]["error"], "forbidden", "{demoted}");
}
