//! The browser entry point: hydrates the server-rendered page into the WASM app.

// The room view's typed view tree is deep: the release profile's layout queries need more depth.
#![recursion_limit = "256"]

/// Called by Leptos's hydration script once the WASM module has loaded.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Lazy: a page whose code is a separate part of the bundle (the admin pages) hydrates once
    // that part has loaded.
    leptos::mount::hydrate_lazy(app::App);
}
