//! All SQL on `sessions` and `settings`.

use super::CurrentUser;
use app::models::{Role, UserId};
use sqlx::SqliteExecutor;

/// Starts a session for `user_id`; its id goes into the token.
pub async fn insert_session(db: impl SqliteExecutor<'_>, user_id: UserId) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"INSERT INTO sessions (user_id) VALUES (?) RETURNING id AS "id!: i64""#,
        user_id.0
    )
    .fetch_one(db)
    .await
}

/// The signed-in user of a live session, if the session exists and the user is not banned.
pub async fn find_session_user(
    db: impl SqliteExecutor<'_>,
    user_id: i64,
    session_id: i64,
) -> sqlx::Result<Option<CurrentUser>> {
    let row = sqlx::query!(
        r#"SELECT users.id, users.username, users.role
           FROM sessions JOIN users ON users.id = sessions.user_id
           WHERE sessions.id = ? AND users.id = ? AND users.banned = 0"#,
        session_id,
        user_id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| CurrentUser {
        id: UserId(r.id),
        username: r.username,
        role: if r.role == "admin" {
            Role::Admin
        } else {
            Role::User
        },
        session_id,
    }))
}

/// Ends one session.
pub async fn delete_session(db: impl SqliteExecutor<'_>, session_id: i64) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM sessions WHERE id = ?", session_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Ends every session of `user_id` except `keep`, returning the ended ids.
pub async fn delete_sessions_except(
    db: impl SqliteExecutor<'_>,
    user_id: UserId,
    keep: Option<i64>,
) -> sqlx::Result<Vec<i64>> {
    let keep = keep.unwrap_or(0);
    sqlx::query_scalar!(
        r#"DELETE FROM sessions WHERE user_id = ? AND id != ? RETURNING id AS "id!: i64""#,
        user_id.0,
        keep
    )
    .fetch_all(db)
    .await
}

/// A stored setting.
pub async fn find_setting(db: impl SqliteExecutor<'_>, key: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!("SELECT value FROM settings WHERE key = ?", key)
        .fetch_optional(db)
        .await
}

/// Stores a setting unless one exists; returns the value now stored (first writer wins).
pub async fn insert_setting_once(
    db: impl SqliteExecutor<'_> + Copy,
    key: &str,
    value: &str,
) -> sqlx::Result<String> {
    sqlx::query!(
        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
        key,
        value
    )
    .execute(db)
    .await?;
    Ok(find_setting(db, key)
        .await?
        .unwrap_or_else(|| value.to_owned()))
}
