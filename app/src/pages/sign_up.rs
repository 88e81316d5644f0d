//! `/register`.

use crate::components::credentials_form::{CredentialsForm, Purpose};
use leptos::prelude::*;
use leptos_router::components::A;

/// Sign up; the first account becomes the admin.
#[component]
pub fn SignUp() -> impl IntoView {
    view! {
        <main class="centered">
            <header class="intro">
                <p class="product">"Tagarela"</p>
                <p>"The chat your team hosts itself: rooms, mentions and every message kept."</p>
            </header>
            <CredentialsForm purpose=Purpose::SignUp />
            <p>"Already have an account? " <A href="/login">"Sign in"</A></p>
        </main>
    }
}
