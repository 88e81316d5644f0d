//! Password hashing with argon2id, off the async runtime and bounded: at most `MAX_CONCURRENT`
//! hashes run at once (each takes 19 MiB and tens of milliseconds), on that many dedicated
//! threads, so a login flood cannot exhaust memory or starve the tasks that serve everyone else.
//! Dedicated threads rather than tokio's blocking pool: the allocator keeps a freed 19 MiB block
//! per thread that hashed, and the blocking pool's threads come and go by the hundred (measured:
//! 800 MB of RSS after a few hundred sign-ups on the blocking pool).

use crate::error::{AppError, Result};
use anyhow::Context;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;
use tokio::sync::{Semaphore, oneshot};

/// Hashes running at once: one per core of the machine this is sized for.
const MAX_CONCURRENT: usize = 2;
/// A request that cannot start hashing within this is refused rather than queued forever.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

/// OWASP's argon2id minimum: 19 MiB, 2 iterations, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

type Job = Box<dyn FnOnce() + Send>;

/// Hashes and verifies passwords; cheap to clone.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    jobs: mpsc::Sender<Job>,
    /// Verified against when the username does not exist, so an unknown user costs the same
    /// time as a wrong password (no account enumeration by timing).
    dummy_hash: Arc<str>,
}

impl Passwords {
    /// Prepares the hasher (computes the dummy hash once).
    pub fn new() -> anyhow::Result<Self> {
        let salt = SaltString::generate(&mut OsRng);
        let dummy = argon2()
            .hash_password(b"no such user: dummy password", &salt)
            .map_err(|e| anyhow::anyhow!("hashing the dummy password: {e}"))?
            .to_string();
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..MAX_CONCURRENT {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("password-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only to take a job, not while it runs.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .context("starting a password thread")?;
        }
        Ok(Self {
            permits: Arc::new(Semaphore::new(MAX_CONCURRENT)),
            jobs,
            dummy_hash: dummy.into(),
        })
    }

    /// Runs `work` on a password thread once a permit is free.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let _permit = tokio::time::timeout(QUEUE_TIMEOUT, self.permits.acquire())
            .await
            .map_err(|_| AppError::RateLimited("The server is busy; try again shortly.".into()))?
            .context("password semaphore closed")?;
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = done.send(work());
            }))
            .map_err(|_| anyhow::anyhow!("the password threads have stopped"))?;
        Ok(answer.await.context("password hashing job")?)
    }

    /// A PHC string for `password`.
    pub async fn hash(&self, password: &str) -> Result<String> {
        let password = password.to_owned();
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
        })
        .await?
        .map_err(AppError::from)
    }

    /// Whether `password` matches `hash`; with `None` (unknown user) it checks against the dummy
    /// hash and answers false, taking the same time.
    pub async fn verify(&self, hash: Option<String>, password: &str) -> Result<bool> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let password = password.to_owned();
        let matches = self
            .run(move || {
                PasswordHash::new(&hash)
                    .map(|parsed| {
                        argon2()
                            .verify_password(password.as_bytes(), &parsed)
                            .is_ok()
                    })
                    .unwrap_or(false)
            })
            .await?;
        Ok(known && matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_password() {
        let passwords = Passwords::new().unwrap();
        let hash = passwords.hash("correct horse").await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            passwords
                .verify(Some(hash.clone()), "correct horse")
                .await
                .unwrap()
        );
        assert!(!passwords.verify(Some(hash), "wrong horse").await.unwrap());
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        let passwords = Passwords::new().unwrap();
        assert!(
            !passwords
                .verify(None, "no such user: dummy password")
                .await
                .unwrap()
        );
    }
}
