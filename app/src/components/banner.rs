//! The connection banner: always visible, so the user knows whether messages flow.

use crate::client::{Connection, use_chat};
use leptos::prelude::*;

/// "Connecting / Connected / Reconnecting / Signed out".
#[component]
pub fn Banner() -> impl IntoView {
    let chat = use_chat();
    let class = move || match chat.connection.get() {
        Connection::Connected => "banner ok",
        Connection::Connecting | Connection::Reconnecting => "banner warn",
        Connection::SignedOut => "banner bad",
    };
    view! {
        <p class=class role="status" aria-live="polite" data-testid="connection">
            {move || chat.connection.get().label()}
        </p>
    }
}
