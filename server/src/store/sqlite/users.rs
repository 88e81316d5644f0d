//! SQLite: all SQL on `users`.

use crate::store::Credentials;
use app::models::{Role, User, UserId};
use sqlx::{SqliteConnection, SqliteExecutor};

/// A `users` row without the password hash.
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub banned: bool,
    pub created_at: String,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: UserId(row.id),
            username: row.username,
            role: if row.role == "admin" {
                Role::Admin
            } else {
                Role::User
            },
            banned: row.banned,
            created_at: row.created_at,
        }
    }
}

/// Inserts a user; the first user ever becomes admin. Runs inside the caller's write transaction
/// so two first registrations cannot both become admin.
pub async fn insert_user(
    conn: &mut SqliteConnection,
    username: &str,
    password_hash: &str,
) -> sqlx::Result<User> {
    let any = sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM users) AS "any!: bool""#)
        .fetch_one(&mut *conn)
        .await?;
    let role = if any { Role::User } else { Role::Admin }.as_str();
    let row = sqlx::query_as!(
        UserRow,
        r#"INSERT INTO users (username, password_hash, role) VALUES (?, ?, ?)
           RETURNING id, username, role, banned AS "banned: bool", created_at"#,
        username,
        password_hash,
        role
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.into())
}

/// A user and their hash by name, case-insensitively.
pub async fn find_credentials(
    db: impl SqliteExecutor<'_>,
    username: &str,
) -> sqlx::Result<Option<Credentials>> {
    let row = sqlx::query!(
        r#"SELECT id, username, role, banned AS "banned: bool", created_at, password_hash
           FROM users WHERE username = ?"#,
        username
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| Credentials {
        user: UserRow {
            id: r.id,
            username: r.username,
            role: r.role,
            banned: r.banned,
            created_at: r.created_at,
        }
        .into(),
        password_hash: r.password_hash,
    }))
}

/// A user by id.
pub async fn find_user(db: impl SqliteExecutor<'_>, user_id: UserId) -> sqlx::Result<Option<User>> {
    let row = sqlx::query_as!(
        UserRow,
        r#"SELECT id, username, role, banned AS "banned: bool", created_at FROM users WHERE id = ?"#,
        user_id.0
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(User::from))
}

/// A user's password hash by id.
pub async fn find_password_hash(
    db: impl SqliteExecutor<'_>,
    user_id: UserId,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!("SELECT password_hash FROM users WHERE id = ?", user_id.0)
        .fetch_optional(db)
        .await
}

/// Replaces a user's password hash.
pub async fn update_password_hash(
    db: impl SqliteExecutor<'_>,
    user_id: UserId,
    password_hash: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE users SET password_hash = ? WHERE id = ?",
        password_hash,
        user_id.0
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Makes `username` an unbanned admin with `password_hash`, creating it if needed.
pub async fn upsert_admin(
    db: impl SqliteExecutor<'_>,
    username: &str,
    password_hash: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO users (username, password_hash, role) VALUES (?, ?, 'admin')
         ON CONFLICT (username) DO UPDATE
         SET role = 'admin', banned = 0, password_hash = excluded.password_hash",
        username,
        password_hash
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Every user, by username; with `search`, only those whose name contains it, ignoring case.
pub async fn list_users(
    db: impl SqliteExecutor<'_>,
    search: Option<&str>,
) -> sqlx::Result<Vec<User>> {
    // instr() rather than LIKE: usernames may contain `_`, a LIKE wildcard.
    let rows = sqlx::query_as!(
        UserRow,
        r#"SELECT id, username, role, banned AS "banned: bool", created_at FROM users
           WHERE ?1 IS NULL OR instr(lower(username), lower(?1)) > 0
           ORDER BY username"#,
        search
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(User::from).collect())
}

/// Admins who are not banned: the ones who can still administer.
pub async fn count_active_admins(db: impl SqliteExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT COUNT(*) AS "count!: i64" FROM users WHERE role = 'admin' AND banned = 0"#
    )
    .fetch_one(db)
    .await
}

/// Sets a user's role and ban flag; returns the user, or `None` if there is no such user.
pub async fn update_role_and_ban(
    db: impl SqliteExecutor<'_>,
    user_id: UserId,
    role: Role,
    banned: bool,
) -> sqlx::Result<Option<User>> {
    let role = role.as_str();
    let row = sqlx::query_as!(
        UserRow,
        r#"UPDATE users SET role = ?, banned = ? WHERE id = ?
           RETURNING id, username, role, banned AS "banned: bool", created_at"#,
        role,
        banned,
        user_id.0
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(User::from))
}
