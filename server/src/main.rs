//! `tagarela`: reads the configuration, starts logging, builds the application and serves it
//! until SIGINT or SIGTERM.

use server::config::Config;
use server::startup::Application;
use server::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
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
