//! `/settings`: change password, sign out everywhere.

use crate::client::{Connection, use_chat};
use crate::validate::Password;
use leptos::prelude::*;
use leptos_router::components::A;

/// Account settings.
#[component]
pub fn Settings() -> impl IntoView {
    let chat = use_chat();
    Effect::new(move |_| chat.start());
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let message = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (current_pw, new_pw) = (current.get_untracked(), new.get_untracked());
        if let Err(e) = Password::parse(&new_pw) {
            error.set(Some(e.to_string()));
            return;
        }
        leptos::task::spawn_local(async move {
            match crate::api::change_password(&current_pw, &new_pw).await {
                Ok(()) => {
                    error.set(None);
                    message.set(Some(
                        "Password changed. Your other sessions were signed out.".into(),
                    ));
                    current.set(String::new());
                    new.set(String::new());
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let signed_out = move || chat.connection.get() == Connection::SignedOut;
    view! {
        <main class="centered">
            <Show when=signed_out>
                <p role="alert">"You are signed out. " <A href="/login">"Sign in"</A></p>
            </Show>
            <form class="card" on:submit=submit>
                <h1>"Change password"</h1>
                <label for="current">"Current password"</label>
                <input id="current" type="password" autocomplete="current-password" required
                    prop:value=move || current.get() on:input=move |ev| current.set(event_target_value(&ev)) />
                <label for="new">"New password"</label>
                <input id="new" type="password" autocomplete="new-password" required
                    prop:value=move || new.get() on:input=move |ev| new.set(event_target_value(&ev)) />
                <p class="form-error" role="alert">{move || error.get()}</p>
                <p class="form-ok" role="status">{move || message.get()}</p>
                <button type="submit">"Change password"</button>
            </form>
            <section class="card">
                <h2>"Sessions"</h2>
                <button class="danger" on:click=move |_| chat.sign_out(true)>"Sign out everywhere"</button>
            </section>
            <p><A href="/">"Back to the chat"</A></p>
        </main>
    }
}
