//! The realtime core (API.md Realtime): rooms, messages that are never lost and never duplicated,
//! catch-up by `seq`, the event error table, limits, presence, typing, read markers.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A socket of `token` that has joined `room`.
async fn member_socket(app: &TestApp, token: &str, room: i64) -> TestSocket {
    let socket = app.socket(token).await;
    let ack = socket.request("joinRoom", json!({"roomId": room})).await;
    assert_eq!(ack["ok"], true, "{ack}");
    socket
}

/// Sends `text` to `room` and returns the ack.
async fn send(socket: &TestSocket, room: i64, text: &str) -> Value {
    socket
        .request("sendMessage", json!({"roomId": room, "text": text}))
        .await
}

/// Waits (up to 30 s: a thousand deliveries in a debug build) for the `newMessage` with `seq`.
async fn wait_seq(socket: &TestSocket, seq: i64) {
    for _ in 0..6 {
        if socket
            .wait_for(|n, v| n == "newMessage" && v["seq"] == seq)
            .await
            .is_some()
        {
            return;
        }
    }
    panic!("no newMessage with seq {seq}");
}

/// Rows in `messages`.
async fn message_rows(app: &TestApp) -> i64 {
    app.db().await.number("SELECT COUNT(*) FROM messages").await
}

/// An admin token, a user token and a room both joined.
async fn two_members(app: &TestApp) -> (String, String, i64, TestSocket, TestSocket) {
    let ana = app.token("ana").await;
    let bob = app.token("bob").await;
    let room = app.create_room(&ana, "general").await;
    let a = member_socket(app, &ana, room).await;
    let b = member_socket(app, &bob, room).await;
    (ana, bob, room, a, b)
}

#[tokio::test]
async fn a_message_reaches_every_member_once_and_no_other_room() {
    let app = spawn_app().await;
    let (ana, _, room, a, b) = two_members(&app).await;
    let other = app.create_room(&ana, "other").await;
    a.request("joinRoom", json!({"roomId": other})).await;
    let carl_token = app.token("carl").await;
    let carl = member_socket(&app, &carl_token, other).await;

    let ack = send(&a, room, "olá").await;
    let later = send(&a, other, "elsewhere").await;

    assert_eq!(ack["ok"], true, "{ack}");
    let id = ack["message"]["id"].as_i64().unwrap();
    assert_eq!(ack["message"]["text"], "olá");
    assert_eq!(ack["message"]["seq"], 1);
    for socket in [&a, &b] {
        let got = socket.event("newMessage").await;
        assert_eq!(got["id"], id);
        assert_eq!(got["user"]["username"], "ana");
    }
    // Events leave in commit order: once carl has the later message he would have had the first.
    carl.wait_for(|n, v| n == "newMessage" && v["id"] == later["message"]["id"])
        .await
        .unwrap();
    assert_eq!(carl.received("newMessage").len(), 1);
    a.events("newMessage", 2).await;
    assert_eq!(a.received("newMessage").len(), 2, "one per room she is in");
    assert_eq!(b.received("newMessage").len(), 1);
}

#[tokio::test]
async fn long_polling_is_a_first_class_transport() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    let bob = app.token("bob").await;
    let room = app.create_room(&ana, "general").await;
    let a = member_socket(&app, &ana, room).await;
    let b = TestSocket::builder(&app)
        .auth(json!({"token": bob}))
        .polling()
        .connect()
        .await;
    b.request("joinRoom", json!({"roomId": room})).await;

    let from_ws = send(&a, room, "from websocket").await;
    let from_polling = send(&b, room, "from polling").await;

    assert_eq!(from_polling["ok"], true, "{from_polling}");
    for socket in [&a, &b] {
        let got = socket.events("newMessage", 2).await;
        assert_eq!(got[0]["id"], from_ws["message"]["id"]);
        assert_eq!(got[1]["id"], from_polling["message"]["id"]);
    }
}

#[tokio::test]
async fn a_retried_client_id_is_stored_once_and_not_broadcast_again() {
    let app = spawn_app().await;
    let (_, _, room, a, b) = two_members(&app).await;
    let payload = json!({"roomId": room, "text": "only once", "clientId": "c-1"});

    let first = a.request("sendMessage", payload.clone()).await;
    let retry = a.request("sendMessage", payload).await;
    let marker = send(&a, room, "marker").await;

    assert_eq!(first["message"]["id"], retry["message"]["id"]);
    assert_eq!(retry["message"]["client_id"], "c-1");
    b.wait_for(|n, v| n == "newMessage" && v["id"] == marker["message"]["id"])
        .await
        .unwrap();
    assert_eq!(
        b.received("newMessage").len(),
        2,
        "the retry was not broadcast"
    );
    assert_eq!(message_rows(&app).await, 2);
}

#[tokio::test]
async fn the_sender_has_its_own_new_message_before_the_ack() {
    let app = spawn_app().await;
    let (_, _, room, a, _b) = two_members(&app).await;

    let ack = send(&a, room, "broadcast first").await;

    assert_eq!(ack["ok"], true, "{ack}");
    let order: Vec<String> = a
        .names()
        .into_iter()
        .filter(|n| n == "newMessage" || n == "ack:sendMessage")
        .collect();
    assert_eq!(order, ["newMessage", "ack:sendMessage"]);
}

#[tokio::test]
async fn a_retry_is_answered_with_the_stored_message_even_when_rate_limited() {
    let app = spawn_app_with(&[("MESSAGE_RATE", "1/1m")]).await;
    let (_, _, room, a, _b) = two_members(&app).await;
    let payload = json!({"roomId": room, "text": "once", "clientId": "c-9"});

    let first = a.request("sendMessage", payload.clone()).await;
    let retry = a.request("sendMessage", payload).await;
    let another = send(&a, room, "over the limit").await;

    assert_eq!(first["ok"], true, "{first}");
    assert_eq!(retry["ok"], true, "{retry}");
    assert_eq!(retry["message"]["id"], first["message"]["id"]);
    assert_eq!(another["error"]["error"], "rate_limited", "{another}");
    assert_eq!(message_rows(&app).await, 1);
}

#[tokio::test]
async fn http_send_is_idempotent_too() {
    let app = spawn_app().await;
    let (ana, _, room, _a, _b) = two_members(&app).await;
    let path = format!("/api/rooms/{room}/messages");
    let body = json!({"text": "from a bot", "clientId": "bot-1"});

    let first = app.post(&path, &body, Some(&ana)).await;
    let again = app.post(&path, &body, Some(&ana)).await;

    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(again.status(), StatusCode::OK);
    let (first, again): (Value, Value) = (first.json().await.unwrap(), again.json().await.unwrap());
    assert_eq!(first["id"], again["id"]);
    assert_eq!(message_rows(&app).await, 1);
}

#[tokio::test]
async fn a_client_that_was_away_catches_up_on_exactly_what_it_missed() {
    let app = spawn_app().await;
    let (_, bob, room, a, b) = two_members(&app).await;
    let older = send(&a, room, "to be edited").await["message"].clone();
    let doomed = send(&a, room, "to be deleted").await["message"].clone();
    b.events("newMessage", 2).await;
    let last_seen = doomed["seq"].as_i64().unwrap();
    b.disconnect().await;

    for i in 0..30 {
        send(&a, room, &format!("missed {i}")).await;
    }
    let edited = a
        .request(
            "editMessage",
            json!({"messageId": older["id"], "text": "edited"}),
        )
        .await;
    let deleted = a
        .request("deleteMessage", json!({"messageId": doomed["id"]}))
        .await;
    let back = app.socket(&bob).await;
    let ack = back
        .request("joinRoom", json!({"roomId": room, "since": last_seen}))
        .await;

    let messages = ack["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 32, "{ack}");
    let seqs: Vec<i64> = messages
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (last_seen + 1..=last_seen + 32).collect::<Vec<_>>());
    assert_eq!(messages[30]["id"], edited["message"]["id"]);
    assert_eq!(messages[30]["text"], "edited");
    assert!(messages[30]["edited_at"].is_string());
    assert_eq!(messages[31]["id"], deleted["message"]["id"]);
    assert_eq!(messages[31]["deleted"], true);
    assert_eq!(messages[31]["text"], "");
    assert_eq!(ack["hasMore"], false);
}

#[tokio::test]
async fn more_than_500_changes_page_with_has_more() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    let room = app.create_room(&ana, "busy").await;
    let a = member_socket(&app, &ana, room).await;
    for i in 0..520 {
        let ack = app
            .post(
                &format!("/api/rooms/{room}/messages"),
                &json!({"text": format!("m{i}")}),
                Some(&ana),
            )
            .await;
        assert_eq!(ack.status(), StatusCode::CREATED);
    }

    let first = a
        .request("joinRoom", json!({"roomId": room, "since": 0}))
        .await;
    let last = first["messages"].as_array().unwrap().last().unwrap()["seq"].clone();
    let second = a
        .request("joinRoom", json!({"roomId": room, "since": last}))
        .await;

    assert_eq!(first["messages"].as_array().unwrap().len(), 500);
    assert_eq!(first["hasMore"], true);
    assert_eq!(second["messages"].as_array().unwrap().len(), 20);
    assert_eq!(second["hasMore"], false);
    assert_eq!(second["messages"][19]["seq"], 520);
}

#[tokio::test]
async fn a_reconnected_socket_receives_its_rooms_without_joining_again() {
    let app = spawn_app().await;
    let (_, bob, room, a, b) = two_members(&app).await;
    b.disconnect().await;

    let back = app.socket(&bob).await;
    let ack = send(&a, room, "are you there?").await;

    let got = back.event("newMessage").await;
    assert_eq!(got["id"], ack["message"]["id"]);
}

#[tokio::test]
async fn nothing_is_missed_across_a_server_restart() {
    let app = spawn_app().await;
    let (_, bob, room, a, b) = two_members(&app).await;
    let seen = send(&a, room, "before").await["message"]["seq"]
        .as_i64()
        .unwrap();
    b.events("newMessage", 1).await;
    b.disconnect().await;
    let sent = send(&a, room, "while bob is away").await;
    let dir = app.stop().await;

    let app = spawn_app_in(dir, &[]).await;
    let back = app.socket(&bob).await;
    let ack = back
        .request("joinRoom", json!({"roomId": room, "since": seen}))
        .await;

    assert_eq!(ack["messages"].as_array().unwrap().len(), 1, "{ack}");
    assert_eq!(ack["messages"][0]["id"], sent["message"]["id"]);
    assert_eq!(ack["messages"][0]["text"], "while bob is away");
}

/// The next `error` event. rust_socketio delivers an `error` event through its `Event::Error`
/// callback, which the helpers record as `connect_error`; the body tells the two apart.
async fn error_event(socket: &TestSocket) -> Value {
    socket
        .wait_for(|n, v| (n == "error" || n == "connect_error") && v["error"].is_string())
        .await
        .expect("an error event")
        .1
}

/// Asserts a failed ack with `code`.
fn assert_refused(ack: &Value, code: &str) {
    assert_eq!(ack["ok"], false, "{ack}");
    assert_eq!(ack["error"]["error"], code, "{ack}");
    assert!(
        ack["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{ack}"
    );
}

#[tokio::test]
async fn every_row_of_the_event_error_table_is_answered() {
    let app = spawn_app_with(&[("MESSAGE_RATE", "3/1m")]).await;
    let (ana, bob, room, a, b) = two_members(&app).await;
    let outsider_token = app.token("carl").await;
    let outsider = app.socket(&outsider_token).await;
    let archived = app.create_room(&ana, "old").await;
    member_socket(&app, &bob, archived).await;
    app.patch(
        &format!("/api/admin/rooms/{archived}"),
        &json!({"archived": true}),
        &ana,
    )
    .await;
    let anas = send(&a, room, "ana's").await["message"].clone();

    let not_member = send(&outsider, room, "hi").await;
    let in_archive = send(&b, archived, "hi").await;
    let too_long = send(&b, room, &"x".repeat(4001)).await;
    let empty = send(&b, room, " \n ").await;
    let malformed = b
        .request("sendMessage", json!({"roomId": "general", "text": 1}))
        .await;
    let not_object = b.request("sendMessage", json!(["general", "hi"])).await;
    let not_yours = b
        .request(
            "editMessage",
            json!({"messageId": anas["id"], "text": "mine now"}),
        )
        .await;
    let not_yours_delete = b
        .request("deleteMessage", json!({"messageId": anas["id"]}))
        .await;
    let unknown_room = send(&b, 999, "hi").await;
    let unknown_message = b
        .request("editMessage", json!({"messageId": 999, "text": "x"}))
        .await;
    let unknown_join = b.request("joinRoom", json!({"roomId": 999})).await;
    let typing_outsider = outsider
        .request("typing", json!({"roomId": room, "typing": true}))
        .await;
    let bad_limit = b
        .request("history", json!({"roomId": room, "limit": 0}))
        .await;
    let _ = (send(&b, room, "1").await, send(&b, room, "2").await);
    let third = send(&b, room, "3").await;
    let limited = send(&b, room, "4").await;

    assert_refused(&not_member, "forbidden");
    assert_refused(&in_archive, "forbidden");
    assert_refused(&too_long, "invalid_input");
    assert_refused(&empty, "invalid_input");
    assert_refused(&malformed, "invalid_input");
    assert_refused(&not_object, "invalid_input");
    assert_refused(&not_yours, "forbidden");
    assert_refused(&not_yours_delete, "forbidden");
    assert_refused(&unknown_room, "not_found");
    assert_refused(&unknown_message, "not_found");
    assert_refused(&unknown_join, "not_found");
    assert_refused(&typing_outsider, "forbidden");
    assert_refused(&bad_limit, "invalid_input");
    assert_eq!(
        third["ok"], true,
        "refused sends do not count against the rate: {third}"
    );
    assert_refused(&limited, "rate_limited");
}

#[tokio::test]
async fn a_failing_event_without_a_callback_gets_an_error_event() {
    let app = spawn_app().await;
    let (_, _, _, a, _) = two_members(&app).await;

    a.emit("sendMessage", json!({"roomId": 999, "text": "nowhere"}))
        .await;

    let error = error_event(&a).await;
    assert_eq!(error["error"], "not_found", "{error}");
}

#[tokio::test]
async fn admins_may_delete_any_message_and_edits_reach_the_room() {
    let app = spawn_app().await;
    let (_, _, room, a, b) = two_members(&app).await;
    let bobs = send(&b, room, "bob's").await["message"].clone();

    let edited = b
        .request(
            "editMessage",
            json!({"messageId": bobs["id"], "text": "bob's, edited"}),
        )
        .await;
    let deleted = a
        .request("deleteMessage", json!({"messageId": bobs["id"]}))
        .await;

    assert_eq!(edited["ok"], true, "{edited}");
    assert_eq!(deleted["ok"], true, "{deleted}");
    assert_eq!(deleted["message"]["deleted"], true);
    let update = a.event("messageUpdated").await;
    assert_eq!(update["text"], "bob's, edited");
    let tombstone = b.event("messageDeleted").await;
    assert_eq!(tombstone["text"], "");
    assert!(update["seq"].as_i64() < tombstone["seq"].as_i64());
}

#[tokio::test]
async fn oversized_frames_close_only_their_own_socket() {
    let app = spawn_app().await;
    let (_, bob, room, a, b) = two_members(&app).await;
    let polling = TestSocket::builder(&app)
        .auth(json!({"token": bob}))
        .polling()
        .connect()
        .await;

    let near_limit = send(&a, room, &"é".repeat(30 * 1024)).await;
    a.emit(
        "sendMessage",
        json!({"roomId": room, "text": "x".repeat(100 * 1024)}),
    )
    .await;

    assert_refused(&near_limit, "invalid_input");
    assert!(
        a.closed().await,
        "a 100 KiB WebSocket message closes the socket"
    );
    let still = send(&b, room, "still here").await;
    assert_eq!(still["ok"], true, "{still}");
    assert_eq!(
        polling.request("history", json!({"roomId": room})).await["ok"],
        true
    );
}

#[tokio::test]
async fn a_two_mib_polling_body_closes_that_session() {
    let app = spawn_app().await;
    let sid = app.polling_session().await;
    let url = app.url(&format!("/socket.io/?EIO=4&transport=polling&sid={sid}"));

    let big = app
        .http
        .post(&url)
        .body(vec![b'a'; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    let after = app.http.get(&url).send().await.unwrap();

    assert!(big.status().is_client_error(), "{}", big.status());
    // The session is gone: its id is unknown from now on.
    assert_eq!(after.status(), StatusCode::BAD_REQUEST);
    assert!(after.text().await.unwrap().contains("Session ID unknown"));
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn concurrent_senders_are_all_stored_and_delivered_in_seq_order() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let room = app.create_room(&admin, "crowd").await;
    let mut sockets = Vec::new();
    for i in 0..20 {
        let token = app.token(&format!("user{i}")).await;
        sockets.push(member_socket(&app, &token, room).await);
    }

    let sends = sockets.iter().enumerate().map(|(u, socket)| async move {
        let mut acks = Vec::new();
        for m in 0..50 {
            acks.push(send(socket, room, &format!("u{u} m{m}")).await);
        }
        acks
    });
    let acks: Vec<Value> = futures_util::future::join_all(sends)
        .await
        .into_iter()
        .flatten()
        .collect();

    assert_eq!(acks.len(), 1000);
    assert!(acks.iter().all(|a| a["ok"] == true));
    assert_eq!(message_rows(&app).await, 1000);
    for socket in &sockets {
        wait_seq(socket, 1000).await;
        let got = socket.received("newMessage");
        let seqs: Vec<i64> = got.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (1..=1000).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn text_round_trips_byte_exact() {
    let app = spawn_app().await;
    let (_, _, room, a, b) = two_members(&app).await;
    let texts = [
        "emoji 👩🏽‍💻🎉 and flags 🇧🇷",
        "RTL: مرحبا بالعالم שלום",
        "combining: e\u{301} a\u{308} (not normalised)",
        "<script>alert('x')</script> & \"quotes\"",
        "'; DROP TABLE messages; --",
        "line one\n\tline two",
    ];

    for text in texts {
        send(&a, room, text).await;
    }

    let got = b.events("newMessage", texts.len()).await;
    for (message, text) in got.iter().zip(texts) {
        assert_eq!(message["text"], text);
    }
    let stored: Vec<Value> = app
        .get(
            &format!("/api/rooms/{room}/messages"),
            Some(&b_token(&app).await),
        )
        .await
        .json()
        .await
        .unwrap();
    for (message, text) in stored.iter().zip(texts) {
        assert_eq!(message["text"], text);
    }
}

async fn b_token(app: &TestApp) -> String {
    app.login("bob").await
}

#[tokio::test]
async fn text_is_trimmed_and_otherwise_kept() {
    let app = spawn_app().await;
    let (_, _, room, a, _) = two_members(&app).await;

    let ack = send(&a, room, "  \n hello  world \t ").await;

    assert_eq!(ack["message"]["text"], "hello  world");
}

#[tokio::test]
async fn typing_reaches_the_room_except_the_typists_own_sockets() {
    let app = spawn_app().await;
    let (ana, _, room, a, b) = two_members(&app).await;
    let a2 = app.socket(&ana).await;

    let ack = a
        .request("typing", json!({"roomId": room, "typing": true}))
        .await;
    let marker = send(&a, room, "marker").await;

    assert_eq!(ack["ok"], true);
    let typing = b.event("typing").await;
    assert_eq!(
        typing,
        json!({"roomId": room, "user": {"id": 1, "username": "ana"}, "typing": true})
    );
    a2.wait_for(|n, v| n == "newMessage" && v["id"] == marker["message"]["id"])
        .await
        .unwrap();
    assert!(a2.received("typing").is_empty());
    assert!(a.received("typing").is_empty());
}

#[tokio::test]
async fn presence_announces_members_coming_online_and_going_offline_once() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    let bob = app.token("bob").await;
    let room = app.create_room(&ana, "general").await;
    let a = member_socket(&app, &ana, room).await;
    let b = member_socket(&app, &bob, room).await;
    let b2 = app.socket(&bob).await;

    let joined = a
        .wait_for(|n, v| {
            n == "presence"
                && v["joined"]
                    .as_array()
                    .is_some_and(|j| j.iter().any(|u| u["username"] == "bob"))
        })
        .await;
    b.disconnect().await;
    b2.disconnect().await;
    let left = a
        .wait_for(|n, v| {
            n == "presence"
                && v["left"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|u| u["username"] == "bob"))
        })
        .await;

    assert!(joined.is_some(), "bob came online: {:?}", a.names());
    assert!(left.is_some(), "bob went offline: {:?}", a.names());
    let bob_joins = a
        .received("presence")
        .iter()
        .flat_map(|p| p["joined"].as_array().cloned().unwrap_or_default())
        .filter(|u| u["username"] == "bob")
        .count();
    assert_eq!(bob_joins, 1, "two sockets, one user");
}

#[tokio::test]
async fn join_room_lists_who_is_online() {
    let app = spawn_app().await;
    let (_, carl_token, room, _a, _b) = two_members(&app).await;

    let carl = app.socket(&carl_token).await;
    let ack = carl.request("joinRoom", json!({"roomId": room})).await;

    let mut online: Vec<&str> = ack["online"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    online.sort();
    assert_eq!(online, ["ana", "bob"]);
    assert_eq!(ack["lastReadSeq"], 0);
    assert!(carl.event("joinedRoom").await["roomId"] == room);
}

#[tokio::test]
async fn read_markers_move_forward_and_reach_the_users_other_sockets() {
    let app = spawn_app().await;
    let (ana, bob, room, a, b) = two_members(&app).await;
    let b2 = app.socket(&bob).await;
    send(&a, room, "one").await;
    send(&a, room, "two").await;
    send(&a, room, "@bob three").await;

    let ack = b
        .request("markRead", json!({"roomId": room, "seq": 2}))
        .await;
    let back = b
        .request("markRead", json!({"roomId": room, "seq": 1}))
        .await;
    let rooms: Vec<Value> = app.get_json("/api/rooms", &bob).await;

    assert_eq!(ack["ok"], true);
    assert_eq!(back["ok"], true);
    assert_eq!(
        b2.event("readMarker").await,
        json!({"roomId": room, "seq": 2})
    );
    let general = rooms.iter().find(|r| r["id"] == room).unwrap();
    assert_eq!(general["member"], true);
    assert_eq!(general["last_read_seq"], 2, "never moves back");
    assert_eq!(general["unread"], 1);
    assert_eq!(general["unread_mentions"], 1);
    let _ = ana;
}

#[tokio::test]
async fn the_socket_that_marks_read_gets_no_read_marker_of_its_own() {
    let app = spawn_app().await;
    let (_, bob, room, a, b) = two_members(&app).await;
    let b2 = app.socket(&bob).await;
    send(&a, room, "one").await;

    let ack = b
        .request("markRead", json!({"roomId": room, "seq": 1}))
        .await;
    let other = b2.event("readMarker").await;
    // Events to one socket arrive in order: had `b` been sent a readMarker, it would come
    // before the answer to a request made after it.
    let barrier = b
        .request("markRead", json!({"roomId": room, "seq": 1}))
        .await;

    assert_eq!(ack["ok"], true);
    assert_eq!(barrier["ok"], true);
    assert_eq!(other, json!({"roomId": room, "seq": 1}));
    assert!(b.received("readMarker").is_empty(), "{:?}", b.names());
}

#[tokio::test]
async fn every_user_whose_last_socket_closes_at_once_is_announced_as_left() {
    const USERS: usize = 30;
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let room = app.create_room(&admin, "crowd").await;
    let watcher = member_socket(&app, &admin, room).await;
    let mut sockets = Vec::new();
    for i in 0..USERS {
        let token = app.token(&format!("user{i}")).await;
        sockets.push(member_socket(&app, &token, room).await);
    }
    let everyone_online = watcher
        .wait_until(WAIT, |w| watcher_joined(w).len() == USERS)
        .await;
    assert!(everyone_online, "{:?}", watcher_joined(&watcher));

    // All close at the same moment: each client's close packet races its transport's close.
    futures_util::future::join_all(sockets.iter().map(|s| s.disconnect())).await;
    let everyone_left = watcher
        .wait_until(WAIT, |w| watcher_left(w).len() == USERS)
        .await;

    assert!(
        everyone_left,
        "{} of {USERS} announced as left",
        watcher_left(&watcher).len()
    );
}

/// The usernames a socket was told came online (`presence.joined`), other than the admin.
fn watcher_joined(socket: &TestSocket) -> std::collections::HashSet<String> {
    presence_names(socket, "joined")
}

/// The usernames a socket was told went offline (`presence.left`).
fn watcher_left(socket: &TestSocket) -> std::collections::HashSet<String> {
    presence_names(socket, "left")
}

fn presence_names(socket: &TestSocket, field: &str) -> std::collections::HashSet<String> {
    socket
        .received("presence")
        .iter()
        .flat_map(|p| p[field].as_array().cloned().unwrap_or_default())
        .filter_map(|u| u["username"].as_str().map(str::to_owned))
        .filter(|name| name != "admin")
        .collect()
}

#[tokio::test]
async fn unread_counts_new_messages_by_others_not_edits_of_read_ones() {
    let app = spawn_app().await;
    let (_, bob, room, a, b) = two_members(&app).await;
    let first = send(&a, room, "one").await["message"]["id"].clone();
    send(&a, room, "two").await;
    b.request("markRead", json!({"roomId": room, "seq": 2}))
        .await;

    let edited = a
        .request(
            "editMessage",
            json!({"messageId": first, "text": "one, edited"}),
        )
        .await;
    send(&b, room, "bob's own").await;
    send(&a, room, "three").await;
    let rooms: Vec<Value> = app.get_json("/api/rooms", &bob).await;

    assert_eq!(edited["message"]["seq"], 3, "{edited}");
    let general = rooms.iter().find(|r| r["id"] == room).unwrap();
    assert_eq!(general["last_read_seq"], 2);
    assert_eq!(general["unread"], 1, "only ana's new message: {general}");
}

#[tokio::test]
async fn a_mention_notifies_the_mentioned_member() {
    let app = spawn_app().await;
    let (_, _, room, a, b) = two_members(&app).await;

    let ack = send(&a, room, "hey @bob, look").await;

    let notification = b.event("notification").await;
    assert_eq!(notification["kind"], "mention");
    assert_eq!(notification["messageId"], ack["message"]["id"]);
    assert_eq!(notification["from"]["username"], "ana");
    assert!(a.received("notification").is_empty());
}

#[tokio::test]
async fn history_pages_backwards_without_tombstones() {
    let app = spawn_app().await;
    let (ana, _, room, a, _) = two_members(&app).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            send(&a, room, &format!("m{i}")).await["message"]["id"]
                .as_i64()
                .unwrap(),
        );
    }
    a.request("deleteMessage", json!({"messageId": ids[3]}))
        .await;

    let newest = a
        .request("history", json!({"roomId": room, "limit": 2}))
        .await;
    let older = a
        .request(
            "history",
            json!({"roomId": room, "before": ids[2], "limit": 2}),
        )
        .await;
    let http: Vec<Value> = app
        .get(
            &format!("/api/rooms/{room}/messages?limit=2&before={}", ids[2]),
            Some(&ana),
        )
        .await
        .json()
        .await
        .unwrap();
    let bad = app
        .get(&format!("/api/rooms/{room}/messages?limit=500"), Some(&ana))
        .await;

    let texts = |v: &Value| {
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(texts(&newest), ["m2", "m4"]);
    assert_eq!(newest["hasMore"], true);
    assert_eq!(texts(&older), ["m0", "m1"]);
    assert_eq!(older["hasMore"], false);
    assert_eq!(
        http.iter()
            .map(|m| m["text"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["m0", "m1"]
    );
    assert_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
}

#[tokio::test]
async fn history_keeps_id_order_after_edits_and_takes_any_message_as_cursor() {
    let app = spawn_app().await;
    let (ana, _, room, a, _) = two_members(&app).await;
    let other = app.create_room(&ana, "other").await;
    a.request("joinRoom", json!({"roomId": other})).await;
    let id = |ack: Value| ack["message"]["id"].as_i64().unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(id(send(&a, room, &format!("m{i}")).await));
    }
    // An id from another room, between m2 and m3.
    let foreign = id(send(&a, other, "elsewhere").await);
    for i in 3..6 {
        ids.push(id(send(&a, room, &format!("m{i}")).await));
    }
    // Edits move a message's seq past newer messages; a deletion makes a tombstone.
    for (i, text) in [(4, "m4 edited"), (1, "m1 edited"), (4, "m4 again")] {
        let ack = a
            .request("editMessage", json!({"messageId": ids[i], "text": text}))
            .await;
        assert_eq!(ack["ok"], true, "{ack}");
    }
    a.request("deleteMessage", json!({"messageId": ids[3]}))
        .await;

    let page = |before: Option<i64>, limit: i64| {
        let a = &a;
        async move {
            let mut payload = json!({"roomId": room, "limit": limit});
            if let Some(before) = before {
                payload["before"] = json!(before);
            }
            let ack = a.request("history", payload).await;
            let texts: Vec<String> = ack["messages"]
                .as_array()
                .unwrap_or_else(|| panic!("{ack}"))
                .iter()
                .map(|m| m["text"].as_str().unwrap().to_owned())
                .collect();
            (texts, ack["hasMore"].as_bool().unwrap())
        }
    };
    let newest = page(None, 3).await;
    let before_m5 = page(Some(ids[5]), 3).await;
    let before_foreign = page(Some(foreign), 10).await;
    let before_first = page(Some(ids[0]), 10).await;
    let everything = page(None, 200).await;

    assert_eq!(newest, (strings(&["m2", "m4 again", "m5"]), true));
    assert_eq!(before_m5, (strings(&["m1 edited", "m2", "m4 again"]), true));
    assert_eq!(before_foreign, (strings(&["m0", "m1 edited", "m2"]), false));
    assert_eq!(before_first, (Vec::new(), false));
    assert_eq!(
        everything,
        (strings(&["m0", "m1 edited", "m2", "m4 again", "m5"]), false)
    );
}

fn strings(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| (*t).to_owned()).collect()
}

#[tokio::test]
async fn leaving_a_room_stops_its_messages() {
    let app = spawn_app().await;
    let (ana, _, room, a, b) = two_members(&app).await;
    let other = app.create_room(&ana, "other").await;
    a.request("joinRoom", json!({"roomId": other})).await;
    b.request("joinRoom", json!({"roomId": other})).await;

    let ack = b.request("leaveRoom", json!({"roomId": room})).await;
    send(&a, room, "gone").await;
    let marker = a
        .request("sendMessage", json!({"roomId": other, "text": "marker"}))
        .await;

    assert_eq!(ack["ok"], true);
    b.wait_for(|n, v| n == "newMessage" && v["id"] == marker["message"]["id"])
        .await
        .unwrap();
    assert_eq!(b.received("newMessage").len(), 1);
    assert_refused(&send(&b, room, "may I?").await, "forbidden");
}

#[tokio::test]
async fn room_changes_are_broadcast_to_every_socket() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    let bob = app.token("bob").await;
    let watcher = app.socket(&bob).await;

    let created = app
        .post(
            "/api/admin/rooms",
            &json!({"name": "news", "topic": "daily"}),
            Some(&ana),
        )
        .await;
    let room: Value = created.json().await.unwrap();
    let id = room["id"].as_i64().unwrap();
    let renamed = app
        .patch(
            &format!("/api/admin/rooms/{id}"),
            &json!({"name": "headlines"}),
            &ana,
        )
        .await;
    let deleted = app.delete(&format!("/api/admin/rooms/{id}"), &ana).await;

    assert_eq!(renamed.status(), StatusCode::OK);
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(watcher.event("roomCreated").await["name"], "news");
    assert_eq!(watcher.event("roomUpdated").await["name"], "headlines");
    assert_eq!(watcher.event("roomDeleted").await, json!({"roomId": id}));
}

#[tokio::test]
async fn room_admin_routes_refuse_users_and_anonymous_and_name_conflicts() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    let bob = app.token("bob").await;
    let room = app.create_room(&ana, "general").await;
    app.create_room(&ana, "random").await;

    let as_user = app
        .post("/api/admin/rooms", &json!({"name": "mine"}), Some(&bob))
        .await;
    let anonymous = app
        .post("/api/admin/rooms", &json!({"name": "mine"}), None)
        .await;
    let patch_user = app
        .patch(
            &format!("/api/admin/rooms/{room}"),
            &json!({"topic": "x"}),
            &bob,
        )
        .await;
    let delete_user = app.delete(&format!("/api/admin/rooms/{room}"), &bob).await;
    let taken = app
        .post("/api/admin/rooms", &json!({"name": "GENERAL"}), Some(&ana))
        .await;
    let rename_taken = app
        .patch(
            &format!("/api/admin/rooms/{room}"),
            &json!({"name": "Random"}),
            &ana,
        )
        .await;
    let empty = app
        .post("/api/admin/rooms", &json!({"name": "  "}), Some(&ana))
        .await;
    let missing = app.delete("/api/admin/rooms/999", &ana).await;

    assert_error(as_user, StatusCode::FORBIDDEN, "forbidden").await;
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_error(patch_user, StatusCode::FORBIDDEN, "forbidden").await;
    assert_error(delete_user, StatusCode::FORBIDDEN, "forbidden").await;
    assert_error(taken, StatusCode::CONFLICT, "conflict").await;
    assert_error(rename_taken, StatusCode::CONFLICT, "conflict").await;
    assert_error(empty, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_error(missing, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn rooms_are_listed_with_archived_last() {
    let app = spawn_app().await;
    let ana = app.token("ana").await;
    let old = app.create_room(&ana, "aaa-old").await;
    app.create_room(&ana, "zzz-new").await;
    app.patch(
        &format!("/api/admin/rooms/{old}"),
        &json!({"archived": true}),
        &ana,
    )
    .await;

    let rooms: Vec<Value> = app.get_json("/api/rooms", &ana).await;

    let names: Vec<&str> = rooms.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["zzz-new", "aaa-old"]);
    assert_eq!(rooms[0]["member"], false);
    assert_eq!(rooms[1]["archived"], true);
}

#[tokio::test]
async fn archiving_stops_sends_at_once() {
    let app = spawn_app().await;
    let (ana, _, room, _a, b) = two_members(&app).await;
    assert_eq!(send(&b, room, "before").await["ok"], true);

    app.patch(
        &format!("/api/admin/rooms/{room}"),
        &json!({"archived": true}),
        &ana,
    )
    .await;
    let after = send(&b, room, "after").await;

    assert_refused(&after, "forbidden");
    let update = b.event("roomUpdated").await;
    assert_eq!(update["archived"], true);
}

#[tokio::test]
async fn other_events_are_limited_per_socket() {
    let app = spawn_app().await;
    let (_, _, room, a, _) = two_members(&app).await;

    for _ in 0..60 {
        a.emit("typing", json!({"roomId": room, "typing": true}))
            .await;
    }

    let error = error_event(&a).await;
    assert_eq!(error["error"], "rate_limited", "{error}");
}

// Emitted without callbacks: rust_socketio picks ack ids at random below 1,000, so many acks in
// flight at once could collide in the test client itself.
#[tokio::test]
async fn one_clients_sends_keep_their_order_without_waiting_for_acks() {
    let app = spawn_app().await;
    let (_, _, room, a, b) = two_members(&app).await;

    for i in 0..40 {
        a.emit(
            "sendMessage",
            json!({"roomId": room, "text": format!("n{i}")}),
        )
        .await;
    }

    let got = b.events("newMessage", 40).await;
    let texts: Vec<&str> = got.iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, (0..40).map(|i| format!("n{i}")).collect::<Vec<_>>());
    let seqs: Vec<i64> = got.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=40).collect::<Vec<_>>(),
        "stored in the order sent"
    );
}

#[tokio::test]
async fn concurrent_sends_cannot_slip_under_the_message_rate() {
    let app = spawn_app_with(&[("MESSAGE_RATE", "5/1m")]).await;
    let (_, _, room, a, b) = two_members(&app).await;

    for i in 0..20 {
        a.emit(
            "sendMessage",
            json!({"roomId": room, "text": format!("burst {i}")}),
        )
        .await;
    }

    // rust_socketio hands the `error` event to its error callback: recorded as `connect_error`.
    let refusals = a.events("connect_error", 15).await;
    assert!(
        refusals.iter().all(|e| e["error"] == "rate_limited"),
        "{refusals:?}"
    );
    assert_eq!(b.events("newMessage", 5).await.len(), 5);
    assert_eq!(message_rows(&app).await, 5);
}

#[tokio::test]
async fn an_unknown_event_is_answered_not_found() {
    let app = spawn_app().await;
    let (_, _, _, a, _) = two_members(&app).await;

    let ack = a.request("noSuchEvent", json!({})).await;

    assert_refused(&ack, "not_found");
}

#[tokio::test]
async fn a_known_api_route_with_another_method_answers_json() {
    let app = spawn_app().await;
    let token = app.token("ana").await;

    let response = app.delete("/api/me", &token).await;

    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}
