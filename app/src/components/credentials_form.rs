//! The username + password form shared by sign-in and sign-up; errors shown inline.
//!
//! A real form that posts to the server (`POST /login`, `POST /register`): submitted before the
//! WASM has loaded, it still signs in, and the password goes in the body, never the URL. Once
//! the app runs it takes the submit over and calls the API instead; either way a session ends in
//! a full page load of the chat, so the chat starts with the new session, never with the
//! signed-out state of the page it replaced.

use crate::api::ApiError;
use crate::models::Session;
use crate::validate::{Password, Username};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Which call the form makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `POST /api/auth/login`.
    SignIn,
    /// `POST /api/auth/register`.
    SignUp,
}

/// A labelled, keyboard-friendly credentials form; on success it opens the chat.
#[component]
pub fn CredentialsForm(purpose: Purpose) -> impl IntoView {
    // After a form post that failed, the server sends the form back with the error and the
    // username in the query.
    let query = use_query_map();
    let initial_username = query
        .with_untracked(|q| q.get("username"))
        .unwrap_or_default();
    let username = RwSignal::new(initial_username.clone());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(query.with_untracked(|q| q.get("error")));
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (name, pass) = (username.get_untracked(), password.get_untracked());
        if purpose == Purpose::SignUp
            && let Err(e) = Username::parse(&name).and_then(|_| Password::parse(&pass))
        {
            error.set(Some(e.to_string()));
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            let result: Result<Session, ApiError> = match purpose {
                Purpose::SignIn => crate::api::login(&name, &pass).await,
                Purpose::SignUp => crate::api::register(&name, &pass).await,
            };
            busy.set(false);
            match result {
                Ok(_) => crate::client::load_page("/"),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let (title, action, autocomplete, path) = match purpose {
        Purpose::SignIn => ("Sign in", "Sign in", "current-password", "/login"),
        Purpose::SignUp => ("Create an account", "Sign up", "new-password", "/register"),
    };
    view! {
        <form class="card auth" method="post" action=path on:submit=submit>
            <h1>{title}</h1>
            <label for="username">"Username"</label>
            // `value` for the server's render (a form sent back after a failed post), `prop:value`
            // once the app runs.
            <input id="username" name="username" autocomplete="username" required
                value=initial_username
                prop:value=move || username.get() on:input=move |ev| username.set(event_target_value(&ev)) />
            <label for="password">"Password"</label>
            <input id="password" name="password" type="password" autocomplete=autocomplete required
                prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) />
            <p class="form-error" role="alert">{move || error.get()}</p>
            <button type="submit" disabled=move || busy.get()>{action}</button>
        </form>
    }
}
