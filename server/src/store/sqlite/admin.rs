//! SQLite: all SQL on `admin_actions`.

use app::models::{UserId, UserRef};
use sqlx::SqliteExecutor;

/// An `admin_actions` entry with its admin's name, as the dashboard reads it.
pub struct ActionRow {
    pub id: i64,
    pub admin_id: Option<i64>,
    pub admin_username: Option<String>,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub created_at: String,
}

impl From<ActionRow> for app::models::AdminAction {
    fn from(row: ActionRow) -> Self {
        app::models::AdminAction {
            id: row.id,
            admin: row
                .admin_id
                .zip(row.admin_username)
                .map(|(id, username)| UserRef {
                    id: UserId(id),
                    username,
                }),
            action: row.action,
            target: row.target,
            detail: row.detail,
            created_at: row.created_at,
        }
    }
}

/// Appends an entry to the log.
pub async fn insert_action(
    db: impl SqliteExecutor<'_>,
    admin: UserId,
    action: &str,
    target: &str,
    detail: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO admin_actions (admin_id, action, target, detail) VALUES (?, ?, ?, ?)",
        admin.0,
        action,
        target,
        detail
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The newest `limit` entries, newest first.
pub async fn recent_actions(
    db: impl SqliteExecutor<'_>,
    limit: i64,
) -> sqlx::Result<Vec<app::models::AdminAction>> {
    let rows = sqlx::query_as!(
        ActionRow,
        r#"SELECT a.id, a.admin_id, u.username AS "admin_username?", a.action, a.target, a.detail,
                  a.created_at
           FROM admin_actions a LEFT JOIN users u ON u.id = a.admin_id
           ORDER BY a.id DESC
           LIMIT ?"#,
        limit
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(app::models::AdminAction::from)
        .collect())
}
