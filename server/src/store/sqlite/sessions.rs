//! SQLite: all SQL on `sessions` and `settings`.

use crate::auth::{CurrentUser, SessionId};
use app::models::{Role, UserId};
use sqlx::{SqliteConnection, SqliteExecutor};

/// Starts a session for `user_id` under a new random id, which goes into the token.
pub async fn insert_session(
    db: impl SqliteExecutor<'_>,
    user_id: UserId,
) -> sqlx::Result<SessionId> {
    let id = SessionId::random();
    let text = id.to_string();
    sqlx::query!(
        "INSERT INTO sessions (id, user_id) VALUES (?, ?)",
        text,
        user_id.0
    )
    .execute(db)
    .await?;
    Ok(id)
}

/// The signed-in user of a live session, if the session exists and the user is not banned.
pub async fn find_session_user(
    db: impl SqliteExecutor<'_>,
    user_id: i64,
    session_id: SessionId,
) -> sqlx::Result<Option<CurrentUser>> {
    let text = session_id.to_string();
    let row = sqlx::query!(
        r#"SELECT users.id, users.username, users.role
           FROM sessions JOIN users ON users.id = sessions.user_id
           WHERE sessions.id = ? AND users.id = ? AND users.banned = 0"#,
        text,
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
pub async fn delete_session(
    db: impl SqliteExecutor<'_>,
    session_id: SessionId,
) -> sqlx::Result<()> {
    let text = session_id.to_string();
    sqlx::query!("DELETE FROM sessions WHERE id = ?", text)
        .execute(db)
        .await?;
    Ok(())
}

/// Ends every session of `user_id` except `keep`, returning the ended ids.
pub async fn delete_sessions_except(
    db: impl SqliteExecutor<'_>,
    user_id: UserId,
    keep: Option<SessionId>,
) -> sqlx::Result<Vec<SessionId>> {
    let keep = keep.map(|k| k.to_string()).unwrap_or_default();
    let ended = sqlx::query_scalar!(
        r#"DELETE FROM sessions WHERE user_id = ? AND id != ? RETURNING id AS "id!: String""#,
        user_id.0,
        keep
    )
    .fetch_all(db)
    .await?;
    Ok(ended.iter().filter_map(|id| SessionId::parse(id)).collect())
}

/// A stored setting.
pub async fn find_setting(db: impl SqliteExecutor<'_>, key: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!("SELECT value FROM settings WHERE key = ?", key)
        .fetch_optional(db)
        .await
}

/// Stores a setting unless one exists; returns the value now stored (first writer wins).
pub async fn insert_setting_once(
    db: &mut SqliteConnection,
    key: &str,
    value: &str,
) -> sqlx::Result<String> {
    sqlx::query!(
        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
        key,
        value
    )
    .execute(&mut *db)
    .await?;
    Ok(find_setting(db, key)
        .await?
        .unwrap_or_else(|| value.to_owned()))
}
