//! The `/admin` pages on the server: every page and form is guarded here (signed-out visitors go
//! to sign in, non-admins get 403, whatever the browser shows), the forms post here as plain
//! HTML forms (so they work without WASM; the CSRF check is the cookie extractor's), and the
//! server-rendered pages read their data through `AdminData`.

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::rooms::{self, NewRoom, RoomChange};
use crate::state::AppState;
use crate::users::{self, UserChange};
use app::admin::AdminBackend;
use app::models::{AdminRoom, Dashboard, Role, RoomId, User, UserId};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Router, routing::post};
use serde::Deserialize;
use std::future::Future;
use std::pin::Pin;

/// The form routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/rooms", post(room_form))
        .route("/admin/users", post(user_form))
}

fn is_admin_path(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

/// Lets only admins reach `/admin` and below.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !is_admin_path(request.uri().path()) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    match CurrentUser::from_request_parts(&mut parts, &state).await {
        Ok(me) if me.is_admin() => next.run(Request::from_parts(parts, body)).await,
        Err(AppError::Unauthorized(_)) => Redirect::to("/login").into_response(),
        Err(AppError::Internal(e)) => AppError::Internal(e).into_response(),
        _ => forbidden_page(),
    }
}

/// A page with no admin content for signed-in non-admins.
fn forbidden_page() -> Response {
    let html = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
        <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
        <title>Forbidden · Tagarela</title><link rel=\"stylesheet\" href=\"/pkg/tagarela.css\"></head>\
        <body><main class=\"centered\"><h1>Forbidden</h1>\
        <p>Only admins may open this page.</p><p><a href=\"/\">Back to the chat</a></p></main></body></html>";
    (
        StatusCode::FORBIDDEN,
        [(header::CACHE_CONTROL, "no-store")],
        Html(html),
    )
        .into_response()
}

/// Back to `page` with a notice or an error to show inline.
fn back(page: &str, result: Result<String, AppError>) -> Response {
    let (key, text) = match result {
        Ok(notice) => ("notice", notice),
        Err(e) => ("error", e.to_body().message),
    };
    let query = serde_urlencoded::to_string([(key, text)]).unwrap_or_default();
    Redirect::to(&format!("{page}?{query}")).into_response()
}

/// The fields of every room form; `intent` says which one was submitted.
#[derive(Deserialize)]
struct RoomForm {
    intent: String,
    id: Option<i64>,
    name: Option<String>,
    topic: Option<String>,
    confirm: Option<String>,
}

/// `POST /admin/rooms`: create, edit (name and topic), archive, unarchive, delete.
async fn room_form(
    State(state): State<AppState>,
    me: CurrentUser,
    Form(form): Form<RoomForm>,
) -> Response {
    let result = async {
        let id = || {
            form.id
                .map(RoomId)
                .ok_or_else(|| AppError::InvalidInput("No room given.".into()))
        };
        let change = |archived: Option<bool>| RoomChange {
            name: None,
            topic: None,
            archived,
        };
        match form.intent.as_str() {
            "create" => {
                let input = NewRoom {
                    name: form.name.clone().unwrap_or_default(),
                    topic: form.topic.clone(),
                };
                let room = rooms::create_room(&state, &me, input).await?;
                Ok(format!("Room “{}” created.", room.name))
            }
            "edit" => {
                let input = RoomChange {
                    name: form.name.clone(),
                    topic: form.topic.clone(),
                    archived: None,
                };
                let room = rooms::update_room(&state, &me, id()?, input).await?;
                Ok(format!("Room “{}” saved.", room.name))
            }
            "archive" => {
                let room = rooms::update_room(&state, &me, id()?, change(Some(true))).await?;
                Ok(format!("Room “{}” archived.", room.name))
            }
            "unarchive" => {
                let room = rooms::update_room(&state, &me, id()?, change(Some(false))).await?;
                Ok(format!("Room “{}” unarchived.", room.name))
            }
            "delete" => {
                let room = rooms::find_room(&state, id()?).await?;
                // The confirmation names the room, so a wrong row is never deleted by a slip.
                if form.confirm.as_deref().map(str::trim) != Some(room.name.as_str()) {
                    return Err(AppError::InvalidInput(format!(
                        "Type the room name “{}” to confirm.",
                        room.name
                    )));
                }
                rooms::delete_room(&state, &me, room.id).await?;
                Ok(format!("Room “{}” deleted.", room.name))
            }
            _ => Err(AppError::InvalidInput("Unknown action.".into())),
        }
    }
    .await;
    back("/admin/rooms", result)
}

/// The fields of the user forms.
#[derive(Deserialize)]
struct UserForm {
    intent: String,
    id: i64,
}

/// `POST /admin/users`: promote, demote, ban, unban.
async fn user_form(
    State(state): State<AppState>,
    me: CurrentUser,
    Form(form): Form<UserForm>,
) -> Response {
    let change = match form.intent.as_str() {
        "promote" => Some(UserChange {
            role: Some(Role::Admin),
            banned: None,
        }),
        "demote" => Some(UserChange {
            role: Some(Role::User),
            banned: None,
        }),
        "ban" => Some(UserChange {
            role: None,
            banned: Some(true),
        }),
        "unban" => Some(UserChange {
            role: None,
            banned: Some(false),
        }),
        _ => None,
    };
    let result = match change {
        Some(change) => users::update_user(&state, &me, UserId(form.id), change)
            .await
            .map(|user| {
                format!(
                    "{} is now {}{}.",
                    user.username,
                    user.role.as_str(),
                    if user.banned { ", banned" } else { "" }
                )
            }),
        None => Err(AppError::InvalidInput("Unknown action.".into())),
    };
    back("/admin/users", result)
}

/// What the server-rendered admin pages read, through Leptos context.
pub struct AdminData(pub AppState);

type Fut<T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send>>;

fn message(e: AppError) -> String {
    e.to_body().message
}

impl AdminBackend for AdminData {
    fn rooms(&self) -> Fut<Vec<AdminRoom>> {
        let state = self.0.clone();
        Box::pin(async move { rooms::admin_overview(&state).await.map_err(message) })
    }

    fn users(&self, search: Option<String>) -> Fut<Vec<User>> {
        let state = self.0.clone();
        Box::pin(async move {
            users::list_users(&state, search.as_deref())
                .await
                .map_err(message)
        })
    }

    fn dashboard(&self) -> Fut<Dashboard> {
        let state = self.0.clone();
        Box::pin(async move { super::dashboard::snapshot(&state).await.map_err(message) })
    }
}
