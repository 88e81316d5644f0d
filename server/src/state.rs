//! `AppState`: what every handler, HTTP or socket, works with: the services behind an `Arc`.
//! No socket handle in here: the domain tells sockets of its changes by publishing `Event`s on
//! the bus (`crate::bus`).

use crate::config::Config;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

/// The long-lived parts of the application.
pub struct Services {
    /// The database, behind the store port.
    pub store: Arc<dyn crate::store::Store>,
    /// The configuration read at start.
    pub config: Config,
    /// Leptos's rendering options.
    pub leptos: LeptosOptions,
    /// Tokens, passwords and sign-in limits.
    pub auth: crate::auth::Auth,
    /// The ordered write path of room logs.
    pub writer: crate::messages::writer::Writer,
    /// Who is online, and pending presence changes.
    pub presence: Arc<crate::ephemeral::presence::Presence>,
    /// Where committed changes are published.
    pub bus: Arc<crate::bus::Bus>,
    /// Messages per minute over the last hour, for the dashboard.
    pub minute_counts: crate::ephemeral::minute_counts::MinuteCounts,
    /// `MESSAGE_RATE` per user.
    pub message_rate: crate::limits::RateLimiter<app::models::UserId>,
}

/// Cheap to clone: an `Arc`.
#[derive(Clone)]
pub struct AppState {
    /// The services.
    pub services: Arc<Services>,
}

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
