//! `/login`.

use crate::components::credentials_form::{CredentialsForm, Purpose};
use leptos::prelude::*;
use leptos_router::components::A;

/// Sign in.
#[component]
pub fn SignIn() -> impl IntoView {
    view! {
        <main class="centered">
            <header class="intro">
                <p class="product">"Tagarela"</p>
                <p>"The chat your team hosts itself: rooms, mentions and every message kept."</p>
            </header>
            <CredentialsForm purpose=Purpose::SignIn />
            <p>"New here? " <A href="/register">"Create an account"</A></p>
        </main>
    }
}
