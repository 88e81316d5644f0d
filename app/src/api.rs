//! The browser's calls to the HTTP API (`/api/...`), typed with the shared models. The session
//! cookie goes with every same-origin request; the browser adds `Origin`/`Sec-Fetch-Site`, which
//! the server's CSRF check wants.

use crate::models::{AdminRoom, Dashboard, ErrorBody, Room, Session, User};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a call failed, in words for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status (0 when the request never completed).
    pub status: u16,
    /// The API.md body.
    pub body: ErrorBody,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.body.message)
    }
}

#[cfg(feature = "hydrate")]
async fn call<T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: Option<&impl Serialize>,
) -> Result<Option<T>, ApiError> {
    use gloo_net::http::RequestBuilder;
    let offline = |e: String| ApiError {
        status: 0,
        body: ErrorBody {
            error: "network".into(),
            message: format!("Could not reach the server ({e})."),
        },
    };
    let builder =
        RequestBuilder::new(path).method(method.parse().map_err(|_| offline("method".into()))?);
    let request = match body {
        Some(body) => {
            let json = js_sys::JSON::stringify(&crate::realtime::to_js(body))
                .map_err(|_| offline("body".into()))?;
            builder
                .header("content-type", "application/json")
                .body(String::from(json))
        }
        None => builder.build(),
    }
    .map_err(|e| offline(e.to_string()))?;
    let response = request.send().await.map_err(|e| offline(e.to_string()))?;
    let status = response.status();
    if status == 204 {
        return Ok(None);
    }
    // Parsed by the browser (`JSON.parse`), read with serde-wasm-bindgen: no JSON parser
    // in the bundle.
    let json = async || -> Result<wasm_bindgen::JsValue, String> {
        let text = response.text().await.map_err(|e| e.to_string())?;
        js_sys::JSON::parse(&text).map_err(|_| "not JSON".to_owned())
    };
    if (200..300).contains(&status) {
        return json()
            .await
            .and_then(crate::realtime::from_js)
            .map(Some)
            .map_err(offline);
    }
    let body = json()
        .await
        .and_then(crate::realtime::from_js)
        .unwrap_or(ErrorBody {
            error: "internal".into(),
            message: format!("The server answered {status}."),
        });
    Err(ApiError { status, body })
}

#[cfg(not(feature = "hydrate"))]
async fn call<T: DeserializeOwned>(
    _method: &str,
    _path: &str,
    _body: Option<&impl Serialize>,
) -> Result<Option<T>, ApiError> {
    Err(ApiError {
        status: 0,
        body: ErrorBody {
            error: "internal".into(),
            message: "Only the browser calls the API.".into(),
        },
    })
}

fn required<T>(value: Option<T>) -> Result<T, ApiError> {
    value.ok_or(ApiError {
        status: 204,
        body: ErrorBody {
            error: "internal".into(),
            message: "The server sent no body.".into(),
        },
    })
}

#[derive(Serialize)]
struct Credentials<'a> {
    username: &'a str,
    password: &'a str,
}

/// `POST /api/auth/register`.
pub async fn register(username: &str, password: &str) -> Result<Session, ApiError> {
    required(
        call(
            "POST",
            "/api/auth/register",
            Some(&Credentials { username, password }),
        )
        .await?,
    )
}

/// `POST /api/auth/login`.
pub async fn login(username: &str, password: &str) -> Result<Session, ApiError> {
    required(
        call(
            "POST",
            "/api/auth/login",
            Some(&Credentials { username, password }),
        )
        .await?,
    )
}

/// `POST /api/auth/refresh`: a fresh token (and cookie) for this session.
pub async fn refresh() -> Result<Session, ApiError> {
    required(call("POST", "/api/auth/refresh", None::<&()>).await?)
}

/// `POST /api/auth/logout`.
pub async fn logout() -> Result<(), ApiError> {
    call::<()>("POST", "/api/auth/logout", None::<&()>)
        .await
        .map(|_| ())
}

/// `POST /api/auth/logout-all`.
pub async fn logout_all() -> Result<(), ApiError> {
    call::<()>("POST", "/api/auth/logout-all", None::<&()>)
        .await
        .map(|_| ())
}

#[derive(Serialize)]
struct PasswordChange<'a> {
    current: &'a str,
    new: &'a str,
}

/// `POST /api/auth/password`.
pub async fn change_password(current: &str, new: &str) -> Result<(), ApiError> {
    call::<()>(
        "POST",
        "/api/auth/password",
        Some(&PasswordChange { current, new }),
    )
    .await
    .map(|_| ())
}

/// `GET /api/me`.
pub async fn me() -> Result<User, ApiError> {
    required(call("GET", "/api/me", None::<&()>).await?)
}

/// `GET /api/rooms`.
pub async fn rooms() -> Result<Vec<Room>, ApiError> {
    required(call("GET", "/api/rooms", None::<&()>).await?)
}

/// `GET /api/admin/rooms`.
pub async fn admin_rooms() -> Result<Vec<AdminRoom>, ApiError> {
    required(call("GET", "/api/admin/rooms", None::<&()>).await?)
}

/// `GET /api/admin/users?q=`.
pub async fn admin_users(search: Option<&str>) -> Result<Vec<User>, ApiError> {
    let path = match search.filter(|q| !q.is_empty()) {
        Some(q) => format!("/api/admin/users?q={}", js_encode(q)),
        None => "/api/admin/users".to_owned(),
    };
    required(call("GET", &path, None::<&()>).await?)
}

/// `GET /api/admin/dashboard`.
pub async fn admin_dashboard() -> Result<Dashboard, ApiError> {
    required(call("GET", "/api/admin/dashboard", None::<&()>).await?)
}

fn js_encode(text: &str) -> String {
    #[cfg(feature = "hydrate")]
    {
        js_sys::encode_uri_component(text).into()
    }
    #[cfg(not(feature = "hydrate"))]
    text.to_owned()
}
