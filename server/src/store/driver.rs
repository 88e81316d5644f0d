//! What both backends share of their driver (sqlx): how its errors become `AppError`s.

use crate::error::AppError;

/// A unique violation is `conflict` (the domain says what was taken, `error::on_conflict`);
/// any other failure `internal`, its cause logged and never sent.
pub fn db_err(e: sqlx::Error) -> AppError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => AppError::Conflict(String::new()),
        _ => AppError::Internal(anyhow::Error::new(e).context("database")),
    }
}
