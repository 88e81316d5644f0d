//! `tagarela`: reads the configuration, starts logging, builds the application and serves it
//! until SIGINT or SIGTERM.

use server::config::Config;
use server::startup::Application;
use server::telemetry;

/// What `--help` says after the usage: the configuration and where the rest is.
const HELP_AFTER: &str = "\
Configuration comes from the environment, or a .env file in the working directory; every
variable is optional:
  PORT, BIND               listen address (3000, 127.0.0.1)
  DATABASE_URL             sqlite://tagarela.db (default) or postgres://user@host/db;
                           created (SQLite) and migrated at start
  DATABASE_POOL_SIZE       PostgreSQL connections kept open at most (10)
  SQLITE_SYNCHRONOUS       NORMAL (default) or FULL
  JWT_SECRET, JWT_TTL      token key (generated once, kept in the database) and lifetime (24h)
  PUBLIC_URL               the public origin, e.g. https://chat.example.org
  ALLOWED_ORIGINS          extra browser origins, comma-separated
  ADMIN_USERNAME, ADMIN_PASSWORD   an admin that must exist at start
  MESSAGE_RATE, LOGIN_RATE, REGISTER_RATE, HANDSHAKE_RATE, SOCKET_EVENT_RATE   rate limits
  MAX_SOCKETS_PER_USER, SOCKET_QUEUE_MAX_KIB, SOCKET_PAGES_IN_FLIGHT, PAGE_MAX_KIB   size limits
  WRITE_TIMEOUT, SOCKET_CONNECT_TIMEOUT   how long a stalled or unauthenticated connection may stay
  METRICS_TOKEN            protects /metrics
  RUST_LOG                 log filter (info)
Defaults and details: the README's Configuration section (README.md in the source).
The first account that signs up becomes the admin.";

/// Reads the command line: `--help`, `--version`, and nothing else (an unknown argument is
/// an error, before anything starts or any file is created).
fn command_line() {
    clap::Command::new("tagarela")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Tagarela: a realtime team chat you host yourself. Serves the web app, its HTTP API and Socket.IO on one port.")
        .after_help(HELP_AFTER)
        .get_matches();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    command_line();
    return_large_blocks_to_the_system();
    telemetry::init_tracing();
    let config = Config::from_env()?;
    let app = Application::build(config).await?;
    tracing::info!(address = %app.address(), "Tagarela is listening on http://{}", app.address());
    app.serve_until(server::startup::shutdown_signal()).await
}

/// Each password hash allocates a 19 MiB block. glibc serves the first with `mmap` but then raises
/// its mmap threshold past that size, so later blocks stay in its heaps after use: measured,
/// hundreds of MB of RSS after a few hundred sign-ups. A fixed 1 MiB threshold keeps large
/// blocks mapped and returns them to the system when freed.
fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter, and glibc makes it thread-safe.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}
