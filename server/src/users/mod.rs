//! Users: the `user` shape, lookups, roles and bans. Admins list users and change their role
//! and ban flag here; a ban ends the user's sessions and closes their sockets at once.

pub mod http;

use crate::admin::{self, Action};
use crate::auth::{self, CurrentUser};
use crate::error::{AppError, Result};
use crate::events::Event;
use crate::state::AppState;
use app::models::{Role, User, UserId};
use serde::Deserialize;

/// Every user by username; `search` keeps those whose name contains it, ignoring case.
pub async fn list_users(state: &AppState, search: Option<&str>) -> Result<Vec<User>> {
    let search = search.map(str::trim).filter(|s| !s.is_empty());
    state.store.conn().await?.list_users(search).await
}

/// The body of `PATCH /api/admin/users/{id}`.
#[derive(Debug, Deserialize)]
pub struct UserChange {
    /// A new role.
    pub role: Option<Role>,
    /// Ban or unban.
    pub banned: Option<bool>,
}

/// Changes a user's role and ban flag and logs each change. The last unbanned admin can be
/// neither demoted nor banned (`conflict`): the count and the update share one write
/// transaction, so two admins demoting each other at once cannot both succeed. A ban ends all
/// the user's sessions and closes their sockets; their messages stay.
pub async fn update_user(
    state: &AppState,
    admin: &CurrentUser,
    user: UserId,
    input: UserChange,
) -> Result<User> {
    let mut tx = state.store.begin().await?;
    let before = tx
        .find_user(user)
        .await?
        .ok_or_else(|| AppError::NotFound("No such user.".into()))?;
    let role = input.role.unwrap_or(before.role);
    let banned = input.banned.unwrap_or(before.banned);
    let was_active_admin = before.role == Role::Admin && !before.banned;
    let stays_active_admin = role == Role::Admin && !banned;
    if was_active_admin && !stays_active_admin && tx.count_active_admins().await? <= 1 {
        return Err(AppError::Conflict(
            "The last admin cannot be demoted or banned.".into(),
        ));
    }
    let after = tx
        .update_role_and_ban(user, role, banned)
        .await?
        .ok_or_else(|| AppError::NotFound("No such user.".into()))?;
    if after.role != before.role {
        let detail = admin::change(before.role.as_str(), after.role.as_str());
        admin::record(
            &mut *tx,
            admin,
            Action::UserRoleChanged,
            &after.username,
            &detail,
        )
        .await?;
    }
    if after.banned != before.banned {
        let action = if after.banned {
            Action::UserBanned
        } else {
            Action::UserUnbanned
        };
        admin::record(&mut *tx, admin, action, &after.username, "").await?;
    }
    tx.commit().await?;
    // Open sockets re-check their caller on each event: make them see the new role or ban.
    state.auth.sessions.invalidate();
    // The dashboard goes to admins' sockets only: follow role changes at once.
    if after.role != before.role {
        let admin = after.role == Role::Admin;
        state.bus.publish(Event::AdminRole { user, admin }).await;
    }
    if after.banned && !before.banned {
        tracing::info!(user_id = %user, admin_id = %admin.id, "user banned");
        auth::end_all_sessions(state, user).await?;
    }
    Ok(after)
}
