//! The admin area (`/admin`): the server lets only admins reach it; these pages are its views.
//! Every form is a plain server-rendered form posting to `/admin/...`, so it works without WASM.
//! Each page is a lazy route: in a release build (`cargo leptos build --split`) its code is a
//! separate part of the WASM bundle, loaded only by those who open it, so no other page (the
//! sign-in form, the chat) downloads it.

pub mod dashboard;
pub mod rooms;
pub mod users;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The admin pages' frame: title, tabs, and the notice or error of the last form.
#[component]
pub fn AdminShell(title: &'static str, children: Children) -> impl IntoView {
    let query = use_query_map();
    let notice = move || query.read().get("notice");
    let error = move || query.read().get("error");
    view! {
        <div class="admin">
            <header class="topbar">
                <a href="/" class="brand" rel="external">"Tagarela"</a>
                <nav class="tabs" aria-label="Admin">
                    <a href="/admin" rel="external">"Dashboard"</a>
                    <a href="/admin/rooms" rel="external">"Rooms"</a>
                    <a href="/admin/users" rel="external">"Users"</a>
                </nav>
                <a class="account" href="/" rel="external">"Back to the chat"</a>
            </header>
            <main class="admin-main">
                <h1>{title}</h1>
                {move || notice().map(|n| view! { <p class="form-ok" role="status">{n}</p> })}
                {move || error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                {children()}
            </main>
        </div>
    }
}
