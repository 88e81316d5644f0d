//! Fixed-window rate limits keyed by user, username or address (API.md Limits).
//!
//! Small and specific on purpose: the contract counts only some attempts (failed logins, accepted
//! sends), so a hit is taken up front and refunded when the attempt turns out not to count, which
//! GCRA libraries such as governor do not offer.

use crate::config::Rate;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Keys kept before expired windows are swept out.
const SWEEP_ABOVE: usize = 10_000;

struct Window {
    start: Instant,
    count: u32,
}

/// At most `rate.count` hits per key in each `rate.per` window.
pub struct RateLimiter<K> {
    rate: Rate,
    /// In a cluster, the windows every instance shares, and this limiter's name among them.
    shared: std::sync::OnceLock<(Arc<dyn SharedWindows>, &'static str)>,
    windows: Mutex<HashMap<K, Window>>,
    last_sweep: Mutex<Instant>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// A limiter for `rate`.
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            shared: std::sync::OnceLock::new(),
            windows: Mutex::new(HashMap::new()),
            last_sweep: Mutex::new(Instant::now()),
        }
    }

    /// Counts one hit if the window has room; false (and nothing counted) when limited.
    pub fn try_hit(&self, key: &K) -> bool {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > SWEEP_ABOVE {
            // At most once a second, so a flood of new keys cannot make every hit a full scan.
            let mut last = self.last_sweep.lock().unwrap_or_else(|e| e.into_inner());
            if last.elapsed() >= std::time::Duration::from_secs(1) {
                windows.retain(|_, w| w.start.elapsed() < self.rate.per);
                *last = Instant::now();
            }
        }
        let window = windows.entry(key.clone()).or_insert_with(|| Window {
            start: Instant::now(),
            count: 0,
        });
        if window.start.elapsed() >= self.rate.per {
            *window = Window {
                start: Instant::now(),
                count: 0,
            };
        }
        if window.count >= self.rate.count {
            return false;
        }
        window.count += 1;
        true
    }
}

/// Rate windows shared by a cluster's instances (Redis). Errors mean the store cannot answer
/// now: the caller counts on its own instance meanwhile.
#[async_trait::async_trait]
pub trait SharedWindows: Send + Sync {
    /// Counts a hit in the window named `key` of `rate`: `false` when it is full (a refused
    /// hit does not count).
    async fn hit(&self, key: &str, rate: Rate) -> anyhow::Result<bool>;
    /// Gives back one hit of the window named `key`.
    async fn refund(&self, key: &str) -> anyhow::Result<()>;
}

impl<K: Hash + Eq + Clone + std::fmt::Debug> RateLimiter<K> {
    /// Makes the limit hold across a cluster: the windows are `shared`'s, named `name:key`.
    pub fn share(&self, shared: Arc<dyn SharedWindows>, name: &'static str) {
        let _ = self.shared.set((shared, name));
    }

    /// Counts a hit for `key`: `false` when its window is full. In a cluster the window is
    /// shared; while the shared store cannot answer, this instance counts alone.
    pub async fn hit(&self, key: &K) -> bool {
        if let Some((shared, name)) = self.shared.get() {
            match shared.hit(&format!("{name}:{key:?}"), self.rate).await {
                Ok(allowed) => return allowed,
                Err(_) => metrics::counter!("shared_limit_fallbacks_total").increment(1),
            }
        }
        self.try_hit(key)
    }

    /// Gives back a hit counted by `hit` (in the shared window, from a task of its own).
    pub fn give_back(&self, key: &K) {
        if let Some((shared, name)) = self.shared.get() {
            let (shared, key) = (shared.clone(), format!("{name}:{key:?}"));
            tokio::spawn(async move {
                let _ = shared.refund(&key).await;
            });
        }
        self.refund(key);
    }
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// Gives back one hit counted by `try_hit` for something that turned out not to count
    /// (a refused send, a successful sign-in).
    pub fn refund(&self, key: &K) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(window) = windows.get_mut(key) {
            window.count = window.count.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_window_allows_count_hits_then_limits() {
        let limiter = RateLimiter::new(Rate {
            count: 2,
            per: Duration::from_secs(60),
        });
        assert!(limiter.try_hit(&"a"));
        assert!(limiter.try_hit(&"a"));
        assert!(!limiter.try_hit(&"a"));
        assert!(limiter.try_hit(&"b"), "keys are independent");
        limiter.refund(&"a");
        assert!(limiter.try_hit(&"a"), "a refunded hit frees its place");
    }

    #[test]
    fn a_new_window_starts_after_the_period() {
        let limiter = RateLimiter::new(Rate {
            count: 1,
            per: Duration::from_millis(1),
        });
        assert!(limiter.try_hit(&1));
        std::thread::sleep(Duration::from_millis(5));
        assert!(limiter.try_hit(&1));
    }
}
