//! One page per file.

pub mod admin;
pub mod chat;
pub mod not_found;
pub mod settings;
pub mod sign_in;
pub mod sign_up;
