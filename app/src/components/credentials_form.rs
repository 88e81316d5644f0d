//! The username + password form shared by sign-in and sign-up; errors shown inline.

use crate::api::ApiError;
use crate::models::Session;
use crate::validate::{Password, Username};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

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
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let navigate = use_navigate();
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
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            let result: Result<Session, ApiError> = match purpose {
                Purpose::SignIn => crate::api::login(&name, &pass).await,
                Purpose::SignUp => crate::api::register(&name, &pass).await,
            };
            busy.set(false);
            match result {
                // A full load: the chat starts fresh with the new session cookie.
                Ok(_) => navigate("/", Default::default()),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let (title, action, autocomplete) = match purpose {
        Purpose::SignIn => ("Sign in", "Sign in", "current-password"),
        Purpose::SignUp => ("Create an account", "Sign up", "new-password"),
    };
    view! {
        <form class="card auth" on:submit=submit>
            <h1>{title}</h1>
            <label for="username">"Username"</label>
            <input id="username" name="username" autocomplete="username" required
                prop:value=move || username.get() on:input=move |ev| username.set(event_target_value(&ev)) />
            <label for="password">"Password"</label>
            <input id="password" name="password" type="password" autocomplete=autocomplete required
                prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) />
            <p class="form-error" role="alert">{move || error.get()}</p>
            <button type="submit" disabled=move || busy.get()>{action}</button>
        </form>
    }
}
