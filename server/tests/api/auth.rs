//! Accounts and sessions (API.md: HTTP auth routes, the realtime handshake, Limits, Configuration):
//! register, login, tokens and their revocation, the session cookie and CSRF, every token carrier
//! of the handshake and every reason to refuse it, the JWT secret and the configured admin.

use crate::helpers::*;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::config::Config;
use std::time::{SystemTime, UNIX_EPOCH};

/// A valid password other than `PASSWORD`.
const NEW_PASSWORD: &str = "a brand new password";
/// A valid secret that is not the app's.
const OTHER_SECRET: &str = "another-secret-another-secret-0123456789";
/// A browser origin that is not the app's.
const EVIL_ORIGIN: &str = "http://evil.example";

/// Seconds since the epoch, now.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// The claims of `token` (`{sub, sid, iat, nbf, exp}`), read without checking the signature.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let bytes = URL_SAFE_NO_PAD.decode(payload).expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// `claims` signed with HS256 and `secret`: a token forged exactly like the server issues them.
fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign a token")
}

/// The live claims of `token` moved into the past: expired well beyond any leeway.
fn expired(token: &str) -> String {
    let mut claims = claims(token);
    let now = now();
    claims["iat"] = json!(now - 3600);
    claims["nbf"] = json!(now - 3600);
    claims["exp"] = json!(now - 600);
    sign(&claims, TEST_SECRET)
}

/// `token` with its payload changed (a longer life) but its original signature.
fn tampered(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = claims(token);
    claims["exp"] = json!(claims["exp"].as_u64().expect("exp") + 3600);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{}.{}.{}", parts[0], payload, parts[2])
}

/// `token`'s claims in an unsigned token (`alg: none`).
fn unsigned(token: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims(token).to_string());
    format!("{header}.{payload}.")
}

/// `secs` since the epoch in RFC 3339, UTC.
fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .expect("a valid time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("RFC 3339")
}

/// The session cookie header carrying `token`.
fn cookie(token: &str) -> String {
    format!("tagarela_session={token}")
}

/// The `Set-Cookie` header of `response`.
fn set_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .expect("a Set-Cookie header")
        .to_str()
        .expect("ASCII cookie")
        .to_owned()
}

/// The handshake's refusal message for a socket sending `token` as `auth.token`.
async fn refusal_of(app: &TestApp, token: &str) -> String {
    TestSocket::builder(app)
        .auth(json!({"token": token}))
        .refusal()
        .await
}

/// Bans `username` directly in the database (no admin route exists yet); sessions are kept, so
/// only the ban can be what refuses them.
async fn ban(app: &TestApp, username: &str) {
    let db = app.db().await;
    let banned = db
        .execute(&format!(
            "UPDATE users SET banned = true WHERE username = '{username}'"
        ))
        .await;
    assert_eq!(banned, 1, "ban {username}");
    db.close().await;
}

// ---- register, login, me ----------------------------------------------------------------------

#[tokio::test]
async fn a_registered_user_can_log_in_and_read_their_own_user() {
    let app = spawn_app().await;

    let registered = app.register_raw("ana", PASSWORD).await;
    let registered_status = registered.status();
    let registered: Value = registered.json().await.unwrap();
    let login = app.login_raw("ana", PASSWORD).await;
    let login_status = login.status();
    let login: Value = login.json().await.unwrap();
    let me = app.get("/api/me", login["token"].as_str()).await;

    assert_eq!(registered_status, StatusCode::CREATED);
    assert_eq!(login_status, StatusCode::OK);
    let user = &registered["user"];
    assert!(user["id"].is_i64(), "{user}");
    assert_eq!(user["username"], "ana");
    assert_eq!(user["banned"], false);
    assert!(
        user["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{user}"
    );
    for body in [&registered, &login] {
        assert!(
            body["token"].as_str().is_some_and(|t| !t.is_empty()),
            "{body}"
        );
        let token = body["token"].as_str().expect("token");
        assert_eq!(
            body["expires_at"],
            rfc3339(claims(token)["exp"].as_i64().expect("exp"))
        );
    }
    assert_eq!(&login["user"], user);
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(&me.json::<Value>().await.unwrap(), user);
}

#[tokio::test]
async fn the_first_account_is_admin_and_the_second_is_user() {
    let app = spawn_app().await;

    let first = app.register("ana").await;
    let second = app.register("bob").await;

    assert_eq!(first["user"]["role"], "admin");
    assert_eq!(second["user"]["role"], "user");
}

#[tokio::test]
async fn a_username_taken_in_any_case_is_a_conflict() {
    let app = spawn_app().await;
    app.register("Ana").await;

    let lower = app.register_raw("ana", PASSWORD).await;
    let upper = app.register_raw("ANA", PASSWORD).await;

    assert_error(lower, StatusCode::CONFLICT, "conflict").await;
    assert_error(upper, StatusCode::CONFLICT, "conflict").await;
}

#[tokio::test]
async fn usernames_outside_3_to_32_allowed_characters_are_invalid_input() {
    let app = spawn_app().await;
    let refused = [
        "ab".to_owned(),
        "a".repeat(33),
        "ana!".to_owned(),
        "a b".to_owned(),
        "ána".to_owned(),
        "ana/bob".to_owned(),
        String::new(),
    ];

    let mut responses = Vec::new();
    for name in &refused {
        responses.push((name, app.register_raw(name, PASSWORD).await));
    }
    let shortest = app.register_raw("a.b", PASSWORD).await;
    let longest = app
        .register_raw(&format!("Z9_-.{}", "x".repeat(27)), PASSWORD)
        .await;

    for (name, response) in responses {
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name:?}"
        );
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    }
    assert_eq!(shortest.status(), StatusCode::CREATED);
    assert_eq!(longest.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn passwords_outside_8_to_128_characters_are_invalid_input() {
    let app = spawn_app().await;

    let too_short = app.register_raw("ana", "1234567").await;
    let too_long = app.register_raw("bob", &"p".repeat(129)).await;
    // Characters, not bytes: 7 two-byte characters are too few, 128 of them are not too many.
    let short_in_characters = app.register_raw("cid", &"é".repeat(7)).await;
    let shortest = app.register_raw("dan", "12345678").await;
    let longest_in_characters = app.register_raw("eva", &"é".repeat(128)).await;

    assert_error(too_short, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_error(too_long, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_error(
        short_in_characters,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    )
    .await;
    assert_eq!(shortest.status(), StatusCode::CREATED);
    assert_eq!(longest_in_characters.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn bodies_that_are_not_json_objects_are_invalid_input() {
    let app = spawn_app().await;
    // An array is the dangerous one: serde reads it into a struct, field by position.
    let bodies = [
        json!(["ana", PASSWORD]),
        json!("ana"),
        json!(42),
        json!(null),
    ];

    let mut responses = Vec::new();
    for body in &bodies {
        for path in ["/api/auth/register", "/api/auth/login"] {
            responses.push((path, body, app.post(path, body, None).await));
        }
    }
    let not_json = app.post_raw("/api/auth/register", "{username: ana").await;

    for (path, body, response) in responses {
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {body}"
        );
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    }
    assert_error(not_json, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
}

#[tokio::test]
async fn missing_fields_and_wrong_types_are_invalid_input() {
    let app = spawn_app().await;
    let bodies = [
        json!({"username": "ana"}),
        json!({"password": PASSWORD}),
        json!({}),
        json!({"username": 5, "password": PASSWORD}),
        json!({"username": "ana", "password": 12345678}),
        json!({"username": ["ana"], "password": PASSWORD}),
        json!({"username": "ana", "password": null}),
    ];

    let mut responses = Vec::new();
    for body in &bodies {
        for path in ["/api/auth/register", "/api/auth/login"] {
            responses.push((path, body, app.post(path, body, None).await));
        }
    }

    for (path, body, response) in responses {
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {body}"
        );
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    }
}

#[tokio::test]
async fn unknown_fields_in_a_body_are_ignored() {
    let app = spawn_app().await;

    let response = app
        .post(
            "/api/auth/register",
            &json!({"username": "ana", "password": PASSWORD, "role": "admin", "extra": [1]}),
            None,
        )
        .await;

    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_wrong_password_gets_the_same_401_body_as_an_unknown_user() {
    let app = spawn_app().await;
    app.register("ana").await;

    let wrong_password = app.login_raw("ana", "not the password").await;
    let unknown_user = app.login_raw("nobody", "not the password").await;

    let wrong_password =
        assert_error(wrong_password, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let unknown_user = assert_error(unknown_user, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(wrong_password, unknown_user);
}

#[tokio::test]
async fn me_without_a_valid_token_is_unauthorized() {
    let app = spawn_app().await;

    let anonymous = app.get("/api/me", None).await;
    let garbage = app.get("/api/me", Some("garbage")).await;
    let empty_cookie = app
        .get_with("/api/me", &[("Cookie", "tagarela_session=")])
        .await;

    assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_error(garbage, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_error(empty_cookie, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn an_http_body_over_64_kib_is_payload_too_large() {
    let app = spawn_app().await;
    let over = json!({"username": "a".repeat(64 * 1024 + 1), "password": PASSWORD});
    let under = json!({"username": "a".repeat(60 * 1024), "password": PASSWORD});

    let too_large = app.post("/api/auth/register", &over, None).await;
    let large = app.post("/api/auth/register", &under, None).await;

    assert_error(
        too_large,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    // Just under the limit the body is read, and refused for what it says.
    assert_error(large, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
}

// ---- throttling ---------------------------------------------------------------------------------

#[tokio::test]
async fn failed_logins_beyond_login_rate_are_rate_limited_per_username() {
    let app = spawn_app_with(&[("LOGIN_RATE", "3/1m")]).await;
    app.register("ana").await;
    app.register("bob").await;
    for _ in 0..3 {
        let failed = app.login_raw("ana", "not the password").await;
        assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    }

    let wrong = app.login_raw("ana", "not the password").await;
    let right = app.login_raw("ANA", PASSWORD).await;
    let other_user = app.login_raw("bob", PASSWORD).await;

    assert_error(wrong, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_error(right, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(other_user.status(), StatusCode::OK);
}

#[tokio::test]
async fn failed_logins_for_an_unknown_username_are_rate_limited_too() {
    let app = spawn_app_with(&[("LOGIN_RATE", "3/1m")]).await;
    for _ in 0..3 {
        let failed = app.login_raw("nobody", "not the password").await;
        assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    }

    let response = app.login_raw("nobody", "not the password").await;

    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn successful_logins_do_not_count_toward_login_rate() {
    let app = spawn_app_with(&[("LOGIN_RATE", "2/1m")]).await;
    app.register("ana").await;

    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(app.login_raw("ana", PASSWORD).await.status());
    }

    assert_eq!(statuses, [StatusCode::OK; 4]);
}

#[tokio::test]
async fn failed_logins_from_one_address_are_limited_at_ten_times_login_rate() {
    let app = spawn_app_with(&[("LOGIN_RATE", "1/1m")]).await;
    for i in 0..10 {
        let failed = app
            .login_raw(&format!("nobody{i}"), "not the password")
            .await;
        assert_eq!(failed.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }

    let response = app.login_raw("somebody", "not the password").await;

    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn registrations_beyond_register_rate_are_rate_limited() {
    let app = spawn_app_with(&[("REGISTER_RATE", "3/1m")]).await;
    for name in ["ana", "bob", "cid"] {
        app.register(name).await;
    }

    let response = app.register_raw("dan", PASSWORD).await;

    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

// ---- sessions: refresh, logout, logout-all, password --------------------------------------------

#[tokio::test]
async fn refresh_gives_a_working_token_for_the_same_session() {
    let app = spawn_app().await;
    let old = app.token("ana").await;

    let response = app.post("/api/auth/refresh", &json!({}), Some(&old)).await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["username"], "ana");
    assert!(body["expires_at"].is_string(), "{body}");
    let fresh = body["token"].as_str().expect("token").to_owned();
    assert_eq!(claims(&fresh)["sid"], claims(&old)["sid"]);
    assert_eq!(
        app.get("/api/me", Some(&fresh)).await.status(),
        StatusCode::OK
    );
    app.socket(&fresh).await;
}

#[tokio::test]
async fn logging_out_with_a_refreshed_token_ends_the_original_token_too() {
    let app = spawn_app().await;
    let old = app.token("ana").await;
    let body: Value = app
        .post("/api/auth/refresh", &json!({}), Some(&old))
        .await
        .json()
        .await
        .unwrap();
    let fresh = body["token"].as_str().expect("token").to_owned();

    let response = app.post("/api/auth/logout", &json!({}), Some(&fresh)).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get("/api/me", Some(&old)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn refresh_without_a_session_is_unauthorized() {
    let app = spawn_app().await;

    let response = app.post("/api/auth/refresh", &json!({}), None).await;

    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn logout_refuses_the_token_and_closes_its_sockets() {
    let app = spawn_app().await;
    let token = app.token("ana").await;
    let socket = app.socket(&token).await;

    let response = app.post("/api/auth/logout", &json!({}), Some(&token)).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(socket.closed().await, "socket closed: {:?}", socket.names());
    assert_error(
        app.get("/api/me", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(refusal_of(&app, &token).await, "unauthorized");
}

#[tokio::test]
async fn a_second_session_survives_a_logout_of_the_first() {
    let app = spawn_app().await;
    let first = app.token("ana").await;
    let second = app.login("ana").await;
    let first_socket = app.socket(&first).await;
    let second_socket = app.socket(&second).await;

    let response = app.post("/api/auth/logout", &json!({}), Some(&first)).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (first_closed, second_closed) = tokio::join!(first_socket.closed(), second_socket.closed());
    assert!(first_closed, "the first session's socket closed");
    assert!(
        !second_closed,
        "the second session's socket stayed open: {:?}",
        second_socket.names()
    );
    assert_eq!(
        app.get("/api/me", Some(&second)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_all_ends_every_session_and_closes_every_socket() {
    let app = spawn_app().await;
    let first = app.token("ana").await;
    let second = app.login("ana").await;
    let first_socket = app.socket(&first).await;
    let second_socket = app.socket(&second).await;
    let other_user = app.token("bob").await;

    let response = app
        .post("/api/auth/logout-all", &json!({}), Some(&first))
        .await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (first_closed, second_closed) = tokio::join!(first_socket.closed(), second_socket.closed());
    assert!(first_closed, "first socket: {:?}", first_socket.names());
    assert!(second_closed, "second socket: {:?}", second_socket.names());
    for token in [&first, &second] {
        assert_error(
            app.get("/api/me", Some(token)).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
    }
    assert_eq!(
        app.get("/api/me", Some(&other_user)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_and_keeps_this_one() {
    let app = spawn_app().await;
    let current = app.token("ana").await;
    let other = app.login("ana").await;
    let current_socket = app.socket(&current).await;
    let other_socket = app.socket(&other).await;

    let response = app
        .post(
            "/api/auth/password",
            &json!({"current": PASSWORD, "new": NEW_PASSWORD}),
            Some(&current),
        )
        .await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (other_closed, current_closed) =
        tokio::join!(other_socket.closed(), current_socket.closed());
    assert!(other_closed, "the other session's socket closed");
    assert!(
        !current_closed,
        "this session's socket stayed open: {:?}",
        current_socket.names()
    );
    assert_error(
        app.get("/api/me", Some(&other)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(
        app.get("/api/me", Some(&current)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn after_a_password_change_the_new_password_logs_in_and_the_old_does_not() {
    let app = spawn_app().await;
    let token = app.token("ana").await;

    let response = app
        .post(
            "/api/auth/password",
            &json!({"current": PASSWORD, "new": NEW_PASSWORD}),
            Some(&token),
        )
        .await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.login_raw("ana", NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_error(
        app.login_raw("ana", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn a_password_change_with_a_wrong_current_password_changes_nothing() {
    let app = spawn_app().await;
    let token = app.token("ana").await;
    let other = app.login("ana").await;

    let response = app
        .post(
            "/api/auth/password",
            &json!({"current": "not the password", "new": NEW_PASSWORD}),
            Some(&token),
        )
        .await;

    assert!(response.status().is_client_error(), "{}", response.status());
    assert_eq!(
        app.login_raw("ana", PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/me", Some(&other)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_new_password_outside_the_limits_is_invalid_input() {
    let app = spawn_app().await;
    let token = app.token("ana").await;

    let too_short = app
        .post(
            "/api/auth/password",
            &json!({"current": PASSWORD, "new": "short"}),
            Some(&token),
        )
        .await;
    let missing = app
        .post(
            "/api/auth/password",
            &json!({"current": PASSWORD}),
            Some(&token),
        )
        .await;
    // serde would read an array into `{current, new}` by position and change the password.
    let array = app
        .post(
            "/api/auth/password",
            &json!([PASSWORD, NEW_PASSWORD]),
            Some(&token),
        )
        .await;

    assert_error(too_short, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_error(missing, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_error(array, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_eq!(
        app.login_raw("ana", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_password_change_closes_the_other_sessions_sockets() {
    let app = spawn_app().await;
    let current = app.token("ana").await;
    let other = app.login("ana").await;
    let other_socket = app.socket(&other).await;

    app.post(
        "/api/auth/password",
        &json!({"current": PASSWORD, "new": NEW_PASSWORD}),
        Some(&current),
    )
    .await;

    assert!(other_socket.closed().await, "{:?}", other_socket.names());
    assert_eq!(refusal_of(&app, &other).await, "unauthorized");
}

// ---- cookies and CSRF ---------------------------------------------------------------------------

#[tokio::test]
async fn login_and_register_set_an_http_only_strict_session_cookie() {
    let app = spawn_app().await;
    let registered = app.register_raw("ana", PASSWORD).await;

    let login = app.login_raw("ana", PASSWORD).await;

    for response in [registered, login] {
        let header = set_cookie(&response);
        let body: Value = response.json().await.unwrap();
        let mut parts = header.split(';').map(str::trim);
        let pair = parts.next().expect("name=value");
        let attributes: Vec<&str> = parts.collect();
        assert_eq!(pair, cookie(body["token"].as_str().expect("token")));
        assert!(
            attributes
                .iter()
                .any(|a| a.eq_ignore_ascii_case("HttpOnly")),
            "{header}"
        );
        assert!(
            attributes
                .iter()
                .any(|a| a.eq_ignore_ascii_case("SameSite=Strict")),
            "{header}"
        );
        assert!(attributes.contains(&"Path=/"), "{header}");
    }
}

#[tokio::test]
async fn me_works_with_only_the_session_cookie() {
    let app = spawn_app().await;
    let token = app.token("ana").await;

    let response = app
        .get_with("/api/me", &[("Cookie", &cookie(&token))])
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["username"], "ana");
}

#[tokio::test]
async fn a_cookie_authenticated_write_without_origin_or_sec_fetch_site_is_forbidden() {
    let app = spawn_app().await;
    let token = app.token("ana").await;
    let cookie = cookie(&token);

    let mut responses = Vec::new();
    for path in [
        "/api/auth/logout",
        "/api/auth/logout-all",
        "/api/auth/refresh",
        "/api/auth/password",
    ] {
        let body = json!({"current": PASSWORD, "new": NEW_PASSWORD});
        responses.push((
            path,
            app.post_with(path, &body, &[("Cookie", &cookie)]).await,
        ));
    }

    for (path, response) in responses {
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    assert_eq!(
        app.get("/api/me", Some(&token)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.login_raw("ana", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_cookie_authenticated_write_from_a_foreign_site_is_forbidden() {
    let app = spawn_app().await;
    let token = app.token("ana").await;
    let cookie = cookie(&token);

    let foreign_origin = app
        .post_with(
            "/api/auth/logout",
            &json!({}),
            &[("Cookie", &cookie), ("Origin", EVIL_ORIGIN)],
        )
        .await;
    let cross_site = app
        .post_with(
            "/api/auth/logout",
            &json!({}),
            &[("Cookie", &cookie), ("Sec-Fetch-Site", "cross-site")],
        )
        .await;

    assert_error(foreign_origin, StatusCode::FORBIDDEN, "forbidden").await;
    assert_error(cross_site, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(
        app.get("/api/me", Some(&token)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_cookie_authenticated_logout_from_the_apps_own_origin_works() {
    let app = spawn_app().await;
    let token = app.token("ana").await;
    let cookie = cookie(&token);

    let response = app
        .post_with(
            "/api/auth/logout",
            &json!({}),
            &[("Cookie", &cookie), ("Origin", &app.base)],
        )
        .await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get_with("/api/me", &[("Cookie", &cookie)]).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn a_cookie_authenticated_logout_marked_same_origin_by_sec_fetch_site_works() {
    let app = spawn_app().await;
    let token = app.token("ana").await;

    let response = app
        .post_with(
            "/api/auth/logout",
            &json!({}),
            &[
                ("Cookie", &cookie(&token)),
                ("Sec-Fetch-Site", "same-origin"),
            ],
        )
        .await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn bearer_writes_need_no_origin() {
    let app = spawn_app().await;
    let token = app.token("ana").await;

    let refresh = app
        .post("/api/auth/refresh", &json!({}), Some(&token))
        .await;
    let logout = app.post("/api/auth/logout", &json!({}), Some(&token)).await;

    assert_eq!(refresh.status(), StatusCode::OK);
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
}

// ---- the socket handshake: carriers -------------------------------------------------------------

#[tokio::test]
async fn a_socket_connects_with_the_token_in_auth() {
    let app = spawn_app().await;
    let token = app.token("ana").await;

    let socket = TestSocket::builder(&app)
        .auth(json!({"token": token}))
        .try_connect()
        .await;

    assert_eq!(socket.connect_outcome().await, Ok(()));
}

#[tokio::test]
async fn a_socket_connects_with_an_authorization_bearer_header() {
    let app = spawn_app().await;
    let token = app.token("ana").await;

    let socket = TestSocket::builder(&app)
        .header("Authorization", &format!("Bearer {token}"))
        .try_connect()
        .await;

    assert_eq!(socket.connect_outcome().await, Ok(()));
}

#[tokio::test]
async fn a_socket_connects_with_the_session_cookie() {
    let app = spawn_app().await;
    let token = app.token("ana").await;

    let socket = TestSocket::builder(&app)
        .header("Cookie", &cookie(&token))
        .try_connect()
        .await;

    assert_eq!(socket.connect_outcome().await, Ok(()));
}

#[tokio::test]
async fn a_socket_connects_over_long_polling_with_each_carrier() {
    let app = spawn_app().await;
    let token = app.token("ana").await;

    let by_auth = TestSocket::builder(&app)
        .polling()
        .auth(json!({"token": token}))
        .try_connect()
        .await;
    let by_header = TestSocket::builder(&app)
        .polling()
        .header("Authorization", &format!("Bearer {token}"))
        .try_connect()
        .await;
    let by_cookie = TestSocket::builder(&app)
        .polling()
        .header("Cookie", &cookie(&token))
        .try_connect()
        .await;

    assert_eq!(by_auth.connect_outcome().await, Ok(()));
    assert_eq!(by_header.connect_outcome().await, Ok(()));
    assert_eq!(by_cookie.connect_outcome().await, Ok(()));
}

#[tokio::test]
async fn the_auth_token_is_taken_before_the_header() {
    let app = spawn_app().await;
    let token = app.token("ana").await;

    let garbage_auth = TestSocket::builder(&app)
        .auth(json!({"token": "garbage"}))
        .header("Authorization", &format!("Bearer {token}"))
        .refusal()
        .await;
    let garbage_header = TestSocket::builder(&app)
        .auth(json!({"token": token}))
        .header("Authorization", "Bearer garbage")
        .try_connect()
        .await;

    assert_eq!(garbage_auth, "unauthorized");
    assert_eq!(garbage_header.connect_outcome().await, Ok(()));
}

#[tokio::test]
async fn a_token_in_the_socket_url_is_ignored() {
    let app = spawn_app().await;
    let token = app.token("ana").await;

    let message = TestSocket::builder_at(&format!("{}/?token={token}", app.base))
        .refusal()
        .await;

    assert_eq!(message, "unauthorized");
}

// ---- the socket handshake: refusals -------------------------------------------------------------

#[tokio::test]
async fn a_socket_without_a_token_is_unauthorized() {
    let app = spawn_app().await;
    app.register("ana").await;

    let message = TestSocket::builder(&app).refusal().await;

    assert_eq!(message, "unauthorized");
}

#[tokio::test]
async fn a_socket_with_a_garbage_token_is_unauthorized() {
    let app = spawn_app().await;
    app.register("ana").await;

    let garbage = refusal_of(&app, "garbage").await;
    let three_parts = refusal_of(&app, "a.b.c").await;
    let not_a_string = TestSocket::builder(&app)
        .auth(json!({"token": 42}))
        .refusal()
        .await;

    assert_eq!(garbage, "unauthorized");
    assert_eq!(three_parts, "unauthorized");
    assert_eq!(not_a_string, "unauthorized");
}

#[tokio::test]
async fn a_token_forged_with_the_apps_secret_and_live_claims_is_accepted() {
    // The control for the forgeries below: the forging itself is right, so each refusal is
    // caused by the one thing each forgery changes.
    let app = spawn_app().await;
    let token = app.token("ana").await;
    let mut live = claims(&token);
    live["iat"] = json!(now() - 10);
    let forged = sign(&live, TEST_SECRET);

    let me = app.get("/api/me", Some(&forged)).await;
    let socket = TestSocket::builder(&app)
        .auth(json!({"token": forged}))
        .try_connect()
        .await;

    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(socket.connect_outcome().await, Ok(()));
}

#[tokio::test]
async fn a_socket_with_a_tampered_payload_is_unauthorized() {
    let app = spawn_app().await;
    let token = app.token("ana").await;

    let message = refusal_of(&app, &tampered(&token)).await;

    assert_eq!(message, "unauthorized");
}

#[tokio::test]
async fn a_socket_with_an_alg_none_token_is_unauthorized() {
    let app = spawn_app().await;
    let token = app.token("ana").await;

    let message = refusal_of(&app, &unsigned(&token)).await;

    assert_eq!(message, "unauthorized");
}

#[tokio::test]
async fn a_socket_with_an_expired_token_is_unauthorized() {
    let app = spawn_app().await;
    let token = app.token("ana").await;

    let message = refusal_of(&app, &expired(&token)).await;

    assert_eq!(message, "unauthorized");
}

#[tokio::test]
async fn a_socket_with_a_token_signed_with_another_secret_is_unauthorized() {
    let app = spawn_app().await;
    let token = app.token("ana").await;

    let message = refusal_of(&app, &sign(&claims(&token), OTHER_SECRET)).await;

    assert_eq!(message, "unauthorized");
}

#[tokio::test]
async fn a_socket_with_a_token_after_logout_is_unauthorized() {
    let app = spawn_app().await;
    let token = app.token("ana").await;
    app.post("/api/auth/logout", &json!({}), Some(&token)).await;

    let by_auth = refusal_of(&app, &token).await;
    let by_cookie = TestSocket::builder(&app)
        .header("Cookie", &cookie(&token))
        .refusal()
        .await;

    assert_eq!(by_auth, "unauthorized");
    assert_eq!(by_cookie, "unauthorized");
}

#[tokio::test]
async fn a_banned_users_socket_and_requests_are_unauthorized() {
    let app = spawn_app().await;
    app.register("admin").await;
    let token = app.token("ana").await;
    ban(&app, "ana").await;

    let message = refusal_of(&app, &token).await;
    let me = app.get("/api/me", Some(&token)).await;

    assert_eq!(message, "unauthorized");
    assert_error(me, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn forged_tokens_are_unauthorized_over_http_too() {
    let app = spawn_app().await;
    let token = app.token("ana").await;
    let forged = [
        ("tampered", tampered(&token)),
        ("alg none", unsigned(&token)),
        ("expired", expired(&token)),
        ("another secret", sign(&claims(&token), OTHER_SECRET)),
    ];

    let mut responses = Vec::new();
    for (what, token) in &forged {
        responses.push((what, app.get("/api/me", Some(token)).await));
    }

    for (what, response) in responses {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
}

#[tokio::test]
async fn a_socket_from_a_foreign_origin_is_unauthorized() {
    let app = spawn_app().await;
    let token = app.token("ana").await;

    let message = TestSocket::builder(&app)
        .auth(json!({"token": token}))
        .header("Origin", EVIL_ORIGIN)
        .refusal()
        .await;

    assert_eq!(message, "unauthorized");
}

#[tokio::test]
async fn a_socket_from_the_apps_host_under_another_scheme_is_unauthorized() {
    let app = spawn_app().await;
    let token = app.token("ana").await;
    let https_origin = app.base.replacen("http://", "https://", 1);

    for polling in [false, true] {
        let mut builder = TestSocket::builder(&app)
            .auth(json!({"token": token}))
            .header("Origin", &https_origin);
        if polling {
            builder = builder.polling();
        }
        let message = builder.refusal().await;
        assert_eq!(message, "unauthorized", "polling: {polling}");
    }
}

#[tokio::test]
async fn a_socket_from_the_apps_own_origin_connects() {
    let app = spawn_app().await;
    let token = app.token("ana").await;

    let socket = TestSocket::builder(&app)
        .auth(json!({"token": token}))
        .header("Origin", &app.base)
        .try_connect()
        .await;

    assert_eq!(socket.connect_outcome().await, Ok(()));
}

#[tokio::test]
async fn sockets_from_public_url_and_allowed_origins_connect() {
    let app = spawn_app_with(&[
        ("PUBLIC_URL", "https://chat.example.org"),
        (
            "ALLOWED_ORIGINS",
            "https://app.example.org, https://other.example.org",
        ),
    ])
    .await;
    let token = app.token("ana").await;

    let mut outcomes = Vec::new();
    for origin in [
        "https://chat.example.org",
        "https://app.example.org",
        "https://other.example.org",
    ] {
        let socket = TestSocket::builder(&app)
            .auth(json!({"token": token}))
            .header("Origin", origin)
            .try_connect()
            .await;
        outcomes.push((origin, socket.connect_outcome().await));
    }

    for (origin, outcome) in outcomes {
        assert_eq!(outcome, Ok(()), "{origin}");
    }
}

#[tokio::test]
async fn sockets_beyond_max_sockets_per_user_are_rate_limited() {
    let app = spawn_app_with(&[("MAX_SOCKETS_PER_USER", "2")]).await;
    let token = app.token("ana").await;
    let other = app.token("bob").await;
    let _first = app.socket(&token).await;
    let _second = app.socket(&token).await;

    let third = refusal_of(&app, &token).await;
    let other_user = TestSocket::builder(&app)
        .auth(json!({"token": other}))
        .try_connect()
        .await;

    assert_eq!(third, "rate_limited");
    assert_eq!(other_user.connect_outcome().await, Ok(()));
}

#[tokio::test]
async fn a_socket_is_closed_when_its_token_expires() {
    let app = spawn_app_with(&[("JWT_TTL", "1s")]).await;
    let token = app.token("ana").await;
    let socket = app.socket(&token).await;

    let closed = socket.closed().await;

    assert!(
        closed,
        "the expired token's socket closed: {:?}",
        socket.names()
    );
}

// ---- secrets and the configured admin -----------------------------------------------------------

#[test]
fn a_jwt_secret_shorter_than_32_bytes_is_refused_at_start() {
    let dir = TestDir::new();
    let with_secret = |secret: &str| {
        let mut vars = test_vars(&dir);
        vars.retain(|(name, _)| name != "JWT_SECRET");
        vars.push(("JWT_SECRET".to_owned(), secret.to_owned()));
        Config::from_vars(vars)
    };

    let short = with_secret(&"s".repeat(31));
    let enough = with_secret(&"s".repeat(32));
    // Bytes, not characters: 16 two-byte characters are 32 bytes.
    let enough_in_bytes = with_secret(&"é".repeat(16));

    let error = short.expect_err("a 31-byte secret is refused");
    assert!(error.to_string().contains("JWT_SECRET"), "{error}");
    assert!(enough.is_ok());
    assert!(enough_in_bytes.is_ok());
}

#[tokio::test]
async fn the_jwt_secret_is_used_byte_for_byte() {
    let secret = "  padded-secret-padded-secret-0123456789  ";
    let app = spawn_app_with(&[("JWT_SECRET", secret)]).await;
    let token = app.token("ana").await;

    let exact = app
        .get("/api/me", Some(&sign(&claims(&token), secret)))
        .await;
    let trimmed = app
        .get("/api/me", Some(&sign(&claims(&token), secret.trim())))
        .await;

    assert_eq!(exact.status(), StatusCode::OK);
    assert_error(trimmed, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn without_jwt_secret_a_token_survives_a_restart() {
    let app = spawn_app_with(&[("JWT_SECRET", "")]).await;
    let token = app.token("ana").await;
    let dir = app.stop().await;

    let app = spawn_app_in(dir, &[("JWT_SECRET", "")]).await;
    let me = app.get("/api/me", Some(&token)).await;

    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.json::<Value>().await.unwrap()["username"], "ana");
    app.socket(&token).await;
}

#[tokio::test]
async fn without_jwt_secret_each_database_generates_its_own_secret() {
    let first = spawn_app_with(&[("JWT_SECRET", "")]).await;
    let second = spawn_app_with(&[("JWT_SECRET", "")]).await;
    let first_token = first.token("ana").await;
    let second_token = second.token("ana").await;
    // Both apps' first user has id 1; give the second a session of the first's id too, so only
    // the secret tells the two tokens apart.
    let sid = claims(&first_token)["sid"]
        .as_str()
        .expect("sid")
        .to_owned();
    second
        .db()
        .await
        .execute(&format!(
            "INSERT INTO sessions (id, user_id) VALUES ('{sid}', 1)"
        ))
        .await;

    let foreign = second.get("/api/me", Some(&first_token)).await;
    let test_secret = second
        .get("/api/me", Some(&sign(&claims(&second_token), TEST_SECRET)))
        .await;

    assert_eq!(claims(&first_token)["sub"], claims(&second_token)["sub"]);
    assert_error(foreign, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_error(test_secret, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn the_configured_admin_exists_at_start_and_is_admin() {
    let app = spawn_app_with(&[
        ("ADMIN_USERNAME", "root"),
        ("ADMIN_PASSWORD", "root password 123"),
    ])
    .await;

    let login = app.login_raw("root", "root password 123").await;
    let first_registered = app.register("ana").await;

    assert_eq!(login.status(), StatusCode::OK);
    let body: Value = login.json().await.unwrap();
    assert_eq!(body["user"]["role"], "admin");
    assert_eq!(body["user"]["username"], "root");
    assert_eq!(first_registered["user"]["role"], "user");
}

#[tokio::test]
async fn the_configured_admin_survives_a_restart() {
    let admin = [
        ("ADMIN_USERNAME", "root"),
        ("ADMIN_PASSWORD", "root password 123"),
    ];
    let app = spawn_app_with(&admin).await;
    let dir = app.stop().await;

    let app = spawn_app_in(dir, &admin).await;
    let login = app.login_raw("root", "root password 123").await;

    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(
        login.json::<Value>().await.unwrap()["user"]["role"],
        "admin"
    );
}

#[tokio::test]
async fn an_admin_username_without_a_password_creates_no_one() {
    let app = spawn_app_with(&[("ADMIN_USERNAME", "root")]).await;

    let login = app.login_raw("root", "root password 123").await;
    let first_registered = app.register("ana").await;

    assert_error(login, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(first_registered["user"]["role"], "admin");
}

#[tokio::test]
async fn parallel_wrong_logins_cannot_slip_under_the_login_rate() {
    let app = spawn_app_with(&[("LOGIN_RATE", "3/1m")]).await;
    app.register("ana").await;

    let attempts = (0..10).map(|_| app.login_raw("ana", "wrong password!"));
    let answers = futures_util::future::join_all(attempts).await;

    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        7,
        "{statuses:?}"
    );
}

/// `POST path` with a form-encoded body, redirects not followed.
async fn post_form(
    app: &TestApp,
    path: &str,
    fields: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut request = client.post(app.url(path)).form(fields);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("request")
}

#[tokio::test]
async fn the_sign_in_form_posted_without_javascript_signs_in_and_opens_the_chat() {
    let app = spawn_app().await;
    let _ = app.token("ana").await;

    let r = post_form(
        &app,
        "/login",
        &[("username", "ana"), ("password", PASSWORD)],
        &[],
    )
    .await;

    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let token = cookie
        .strip_prefix("tagarela_session=")
        .and_then(|rest| rest.split(';').next())
        .expect("the session cookie");
    assert_eq!(
        app.get("/api/me", Some(token)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_sign_up_form_posted_without_javascript_creates_the_account() {
    let app = spawn_app().await;

    let r = post_form(
        &app,
        "/register",
        &[("username", "newcomer"), ("password", PASSWORD)],
        &[],
    )
    .await;

    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/");
    assert!(r.headers().contains_key("set-cookie"));
    assert_eq!(
        app.login_raw("newcomer", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_sign_in_form_over_64_kib_is_refused_unread() {
    let app = spawn_app().await;
    let _ = app.token("ana").await;
    let padding = "x".repeat(70 * 1024);

    let r = post_form(
        &app,
        "/login",
        &[
            ("username", "ana"),
            ("password", PASSWORD),
            ("padding", &padding),
        ],
        &[],
    )
    .await;

    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"],
        "/login?error=The+form+is+too+large.&username="
    );
    assert!(!r.headers().contains_key("set-cookie"));
}

#[tokio::test]
async fn a_failed_form_sign_in_goes_back_with_the_error_and_never_the_password() {
    let app = spawn_app().await;
    let _ = app.token("ana").await;

    let wrong = post_form(
        &app,
        "/login",
        &[("username", "ana"), ("password", "wrong password")],
        &[],
    )
    .await;
    let cross = post_form(
        &app,
        "/login",
        &[("username", "ana"), ("password", PASSWORD)],
        &[("origin", EVIL_ORIGIN)],
    )
    .await;

    for r in [&wrong, &cross] {
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(!r.headers().contains_key("set-cookie"));
        let location = r.headers()["location"].to_str().unwrap();
        assert!(location.starts_with("/login?error="), "{location}");
        assert!(
            !location.contains("password=") && !location.contains("wrong+password"),
            "{location}"
        );
        assert!(location.contains("username=ana"), "{location}");
    }
}

#[tokio::test]
async fn a_chat_page_without_a_session_redirects_to_sign_in() {
    let app = spawn_app().await;
    let token = app.token("ana").await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");

    for path in ["/", "/rooms/1", "/settings"] {
        let anonymous = client.get(app.url(path)).send().await.expect("request");
        assert_eq!(anonymous.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(anonymous.headers()["location"], "/login", "{path}");
        let signed_in = client
            .get(app.url(path))
            .header("cookie", format!("tagarela_session={token}"))
            .send()
            .await
            .expect("request");
        assert_eq!(signed_in.status(), StatusCode::OK, "{path}");
    }
}

// ---- behind a proxy: TRUSTED_PROXIES -------------------------------------------------------------

async fn register_from(app: &TestApp, name: &str, forwarded_for: &str) -> StatusCode {
    app.post_with(
        "/api/auth/register",
        &json!({"username": name, "password": PASSWORD}),
        &[("x-forwarded-for", forwarded_for)],
    )
    .await
    .status()
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_per_address_limits_count_each_forwarded_client() {
    let app = spawn_app_with(&[
        ("REGISTER_RATE", "1/1h"),
        ("TRUSTED_PROXIES", "127.0.0.0/8"),
    ])
    .await;

    assert_eq!(
        register_from(&app, "ana", "203.0.113.1").await,
        StatusCode::CREATED
    );
    assert_eq!(
        register_from(&app, "bob", "203.0.113.2").await,
        StatusCode::CREATED
    );
    assert_eq!(
        register_from(&app, "cid", "203.0.113.1").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the first client's window is spent"
    );
}

#[tokio::test]
async fn without_trusted_proxies_a_forwarded_address_is_not_believed() {
    let app = spawn_app_with(&[("REGISTER_RATE", "1/1h")]).await;

    assert_eq!(
        register_from(&app, "ana", "203.0.113.1").await,
        StatusCode::CREATED
    );
    assert_eq!(
        register_from(&app, "bob", "203.0.113.2").await,
        StatusCode::TOO_MANY_REQUESTS,
        "one peer, one window, whatever it claims"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_origin_check_reads_the_forwarded_host_and_scheme() {
    let app = spawn_app_with(&[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let token = app.token("ana").await;
    let public = [
        ("x-forwarded-host", "chat.example.org"),
        ("x-forwarded-proto", "https"),
        ("origin", "https://chat.example.org"),
    ];
    let socket = TestSocket::builder(&app)
        .auth(json!({"token": token}))
        .header(public[0].0, public[0].1)
        .header(public[1].0, public[1].1)
        .header(public[2].0, public[2].1)
        .connect()
        .await;
    assert!(socket.connect_outcome().await.is_ok());

    // The same headers from a peer that is not a trusted proxy are dropped: the origin is
    // foreign to the request's own host.
    let untrusted = spawn_app().await;
    let token = untrusted.token("ana").await;
    let refusal = TestSocket::builder(&untrusted)
        .auth(json!({"token": token}))
        .header(public[0].0, public[0].1)
        .header(public[1].0, public[1].1)
        .header(public[2].0, public[2].1)
        .refusal()
        .await;
    assert!(refusal.contains("unauthorized"), "{refusal}");
}
