//! The admin action log: what admins did to rooms and users, recorded by the room and user
//! services in the transaction of the change, and read by the dashboard (`GET /api/admin/actions`).

pub mod dashboard;
pub mod http;
pub mod pages;

use crate::auth::CurrentUser;
use crate::error::{AppError, Result};
use crate::state::AppState;
use crate::store::StoreConn;
pub use app::models::AdminAction;

/// Entries `GET /api/admin/actions` returns without `limit`.
pub const ACTIONS_DEFAULT: i64 = 50;
/// The most entries one `GET /api/admin/actions` returns.
pub const ACTIONS_MAX: i64 = 200;

/// What an admin did; stored and sent as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A room was created; detail: its topic.
    RoomCreated,
    /// A room was renamed; detail: `old → new`.
    RoomRenamed,
    /// A room's topic changed; detail: the new topic.
    RoomTopicChanged,
    /// A room was archived.
    RoomArchived,
    /// A room was unarchived.
    RoomUnarchived,
    /// A room and its messages were deleted.
    RoomDeleted,
    /// A user's role changed; detail: `old → new`.
    UserRoleChanged,
    /// A user was banned.
    UserBanned,
    /// A user was unbanned.
    UserUnbanned,
}

impl Action {
    /// The name stored in `admin_actions.action` and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::RoomCreated => "room_created",
            Action::RoomRenamed => "room_renamed",
            Action::RoomTopicChanged => "room_topic_changed",
            Action::RoomArchived => "room_archived",
            Action::RoomUnarchived => "room_unarchived",
            Action::RoomDeleted => "room_deleted",
            Action::UserRoleChanged => "user_role_changed",
            Action::UserBanned => "user_banned",
            Action::UserUnbanned => "user_unbanned",
        }
    }
}

/// Records that `admin` did `action` to `target`. Callers pass their write transaction so the
/// entry commits, or not, with the change itself.
pub async fn record(
    db: &mut dyn StoreConn,
    admin: &CurrentUser,
    action: Action,
    target: &str,
    detail: &str,
) -> Result<()> {
    db.insert_action(admin.id, action.as_str(), target, detail)
        .await
}

/// The newest `limit` entries (default 50, 1–200), newest first.
pub async fn recent_actions(state: &AppState, limit: Option<i64>) -> Result<Vec<AdminAction>> {
    let limit = limit.unwrap_or(ACTIONS_DEFAULT);
    if !(1..=ACTIONS_MAX).contains(&limit) {
        return Err(AppError::InvalidInput("limit must be 1 to 200.".into()));
    }
    state.store.conn().await?.recent_actions(limit).await
}

/// `old → new`, the detail of a rename or a role change.
pub fn change(old: &str, new: &str) -> String {
    format!("{old} → {new}")
}
