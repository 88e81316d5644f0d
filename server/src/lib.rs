//! Tagarela's server: the HTTP API, the Socket.IO realtime layer and the server-rendered pages on
//! one axum router and one port, over SQLite. `main.rs` only starts it; tests build
//! `startup::Application` directly.

// The room view's typed view tree is deep: the release profile's layout queries, when this
// crate renders it on the server, need more depth than the default.
#![recursion_limit = "256"]

pub mod admin;
pub mod assets;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod extract;
pub mod headers;
pub mod limits;
pub mod messages;
pub mod realtime;
pub mod rooms;
pub mod serve;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod users;
