//! Integration tests: the real server on 127.0.0.1:0 with a fresh SQLite file, driven over real
//! HTTP and real Socket.IO connections.

mod admin;
mod auth;
mod clients;
mod health;
mod helpers;
mod realtime;
mod security;
