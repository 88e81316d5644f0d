//! Integration tests: the real server on 127.0.0.1:0 with a fresh database, driven over real
//! HTTP and real Socket.IO connections. The database is a SQLite file, or with
//! `TAGARELA_TEST_BACKEND=postgres` a PostgreSQL database of its own (`helpers::TestDir`);
//! tests with `sqlite` in their name are about that backend alone, and those named `postgres_…`
//! bring a PostgreSQL of their own: both are left out of the Makefile's PostgreSQL run.

mod admin;
mod auth;
mod clients;
mod cluster;
mod health;
mod helpers;
mod realtime;
mod security;
mod store;
