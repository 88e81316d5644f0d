//! Messages sent per minute over the last hour, counted as they are sent, for the admin
//! dashboard's chart: a ring of counts in memory, rolled forward as time passes.

use crate::auth::token::now_secs;
use std::sync::Mutex;

/// Minutes the chart covers.
const MINUTES: usize = 60;

/// Messages sent per minute over the last hour: a ring of counts, rolled forward as time passes.
pub struct MinuteCounts {
    inner: Mutex<(u64, [u64; MINUTES])>,
}

impl Default for MinuteCounts {
    fn default() -> Self {
        Self {
            inner: Mutex::new((0, [0; MINUTES])),
        }
    }
}

impl MinuteCounts {
    fn roll(state: &mut (u64, [u64; MINUTES]), minute: u64) {
        let (last, buckets) = state;
        let passed = minute.saturating_sub(*last).min(MINUTES as u64) as usize;
        if passed > 0 {
            buckets.rotate_left(passed);
            buckets[MINUTES - passed..].fill(0);
            *last = minute;
        }
    }

    /// Counts `n` messages now.
    pub fn record(&self, n: u64) {
        self.record_at(now_secs() / 60, n);
    }

    fn record_at(&self, minute: u64, n: u64) {
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Self::roll(&mut state, minute);
        state.1[MINUTES - 1] += n;
    }

    /// The last hour, oldest minute first.
    pub fn last_hour(&self) -> Vec<u64> {
        self.last_hour_at(now_secs() / 60)
    }

    fn last_hour_at(&self, minute: u64) -> Vec<u64> {
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Self::roll(&mut state, minute);
        state.1.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_roll_forward_by_the_minute() {
        let counts = MinuteCounts::default();
        counts.record_at(1000, 2);
        counts.record_at(1000, 1);
        counts.record_at(1002, 5);
        let hour = counts.last_hour_at(1002);
        assert_eq!(hour.len(), 60);
        assert_eq!(&hour[57..], &[3, 0, 5]);
        assert_eq!(
            counts.last_hour_at(1100),
            vec![0; 60],
            "an hour later all is gone"
        );
    }
}
