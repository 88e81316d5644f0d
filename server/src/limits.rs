//! Fixed-window rate limits keyed by user, username or address (API.md Limits).
//!
//! Small and specific on purpose: the contract counts only some attempts (failed logins, accepted
//! sends), so a hit is taken up front and refunded when the attempt turns out not to count, which
//! GCRA libraries such as governor do not offer.

use crate::config::Rate;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
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
    windows: Mutex<HashMap<K, Window>>,
    last_sweep: Mutex<Instant>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// A limiter for `rate`.
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
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
