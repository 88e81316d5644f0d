//! `/login`.

use crate::components::credentials_form::{CredentialsForm, Purpose};
use leptos::prelude::*;
use leptos_router::components::A;

/// Sign in.
#[component]
pub fn SignIn() -> impl IntoView {
    view! {
        <main class="centered">
            <CredentialsForm purpose=Purpose::SignIn />
            <p>"New here? " <A href="/register">"Create an account"</A></p>
        </main>
    }
}
