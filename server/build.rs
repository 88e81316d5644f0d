//! Rebuilds the server when what it embeds changes: the migrations always, and in release builds
//! the built site (debug builds read the site from disk at run time, so they need no rebuild).
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        println!("cargo:rerun-if-changed=../target/site");
    }
}
