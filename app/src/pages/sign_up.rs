//! `/register`.

use crate::components::credentials_form::{CredentialsForm, Purpose};
use leptos::prelude::*;
use leptos_router::components::A;

/// Sign up; the first account becomes the admin.
#[component]
pub fn SignUp() -> impl IntoView {
    view! {
        <main class="centered">
            <CredentialsForm purpose=Purpose::SignUp />
            <p>"Already have an account? " <A href="/login">"Sign in"</A></p>
        </main>
    }
}
