//! Tagarela's server: the HTTP API, the Socket.IO realtime layer and the server-rendered pages on
//! one axum router and one port, over SQLite or PostgreSQL. `main.rs` only starts it; tests build
//! `startup::Application` directly.
//!
//! # The map
//!
//! ```text
//!             HTTP (axum)            Socket.IO (socketioxide)
//!   */http.rs, admin/pages.rs      realtime/ (handshake, event table, replies)
//!                   \                     /                ^
//!                    v                   v                 | realtime/fanout.rs
//!   domain:  auth/ rooms/ messages/ users/ ephemeral/ ---> events.rs + bus/
//!            (rules: parse, validate, authorize,           (committed facts, each
//!             write, commit, publish)                       with its audience)
//!                    |
//!                    v
//!   port:    store/mod.rs (the Store and StoreConn traits)
//!                    ^
//!                    | implemented by
//!   store:   store/sqlite/ (sqlx pool; rusqlite writer thread and readers for the room log)
//!            store/postgres/ (sqlx pool; the room log's committing task)
//! ```
//!
//! - **Domain** (`auth/`, `rooms/`, `messages/`, `users/`, `ephemeral/`, `events.rs`,
//!   `bus/`, `state.rs`, `limits.rs`, `error.rs`, and the store port `store/mod.rs`):
//!   decides. It never names Socket.IO or a database driver: a change that connected users must
//!   hear of is published as an `events::Event` on the `bus::Bus` after its commit, and the
//!   database is reached through `state.store` (`store::Store`). It imports no adapter.
//!   `scripts/check-layers.sh` (run by `make lint`) keeps it so.
//! - **Adapters**: `realtime/` turns socket events into domain calls and published events into
//!   socket operations (`realtime::fanout`, with the handlers' registration the only code that
//!   holds a `SocketIo`); the `http.rs` files and `admin/` do the same for HTTP and pages;
//!   `store/sqlite/` and `store/postgres/` hold all SQL, one folder per backend, each with its
//!   migrations in `migrations/<backend>/`; `cluster/` makes an instance one of several (the
//!   bus over PostgreSQL notifications, `store/postgres/notify.rs`; shared state in Redis); `startup.rs` wires it all and picks the backend by
//!   `DATABASE_URL`. Imports point inward: adapters import the domain, never the reverse.

// The room view's typed view tree is deep: the release profile's layout queries, when this
// crate renders it on the server, need more depth than the default.
#![recursion_limit = "256"]

pub mod admin;
pub mod assets;
pub mod auth;
pub mod bus;
pub mod cluster;
pub mod config;
pub mod ephemeral;
pub mod error;
pub mod events;
pub mod extract;
pub mod headers;
pub mod limits;
pub mod messages;
pub mod proxy;
pub mod realtime;
pub mod rooms;
pub mod serve;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod users;
