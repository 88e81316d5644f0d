//! Tagarela's user interface and the types the browser and the server share: the API.md shapes
//! (`models`), the Socket.IO events (`events`), the input rules (`validate`), the browser's
//! socket (`realtime`) and HTTP calls (`api`), the chat's client model (`chat`) and controller
//! (`client`). Built with `ssr` for the server and with `hydrate` for the browser, never both.

pub mod admin;
pub mod api;
pub mod chat;
pub mod client;
pub mod components;
pub mod events;
pub mod models;
pub mod pages;
pub mod realtime;
pub mod validate;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{Lazy, path};

/// Where the build copies the official Socket.IO client (from npm) inside the site.
pub const SOCKET_IO_CLIENT_PATH: &str = "/vendor/socket.io.min.js";

/// The Content-Security-Policy of every page: only this site's scripts, the inline hydration
/// script by its per-response nonce, and WebAssembly compilation.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
}

/// The HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) && let Ok(value) =
        http::HeaderValue::from_str(&content_security_policy(&nonce.to_string()))
    {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                // A classic script runs before the (module) hydration script, so `io` exists
                // by the time the app starts.
                <script src=SOCKET_IO_CLIENT_PATH></script>
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The app: routes to pages, and the chat controller every page shares.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let chat = client::Chat::new();
    provide_context(chat);
    // Effects run only in the browser, once hydrated: tests wait for this marker.
    Effect::new(move |_| chat.hydrated.set(true));
    view! {
        <Stylesheet id="leptos" href="/pkg/tagarela.css" />
        <Title text="Tagarela" />
        <Router>
            <div class="root" data-hydrated=move || chat.hydrated.get().to_string()>
                <Routes fallback=pages::not_found::NotFound>
                    <Route path=path!("/") view=pages::chat::ChatPage />
                    <Route path=path!("/rooms/:id") view=pages::chat::ChatPage />
                    <Route path=path!("/login") view=pages::sign_in::SignIn />
                    <Route path=path!("/register") view=pages::sign_up::SignUp />
                    <Route path=path!("/settings") view=pages::settings::Settings />
                    <Route path=path!("/admin") view={Lazy::<pages::admin::dashboard::AdminDashboard>::new()} />
                    <Route path=path!("/admin/rooms") view={Lazy::<pages::admin::rooms::AdminRooms>::new()} />
                    <Route path=path!("/admin/users") view={Lazy::<pages::admin::users::AdminUsers>::new()} />
                </Routes>
            </div>
        </Router>
    }
}
