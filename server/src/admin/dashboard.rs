//! The live dashboard: connected sockets, users online, messages per minute over the last hour
//! (from the server's own counter) and rooms by activity, pushed every few seconds to the
//! admins' sockets only (`realtime::spawn_dashboard_pusher`).

use crate::auth::token::now_secs;
use crate::error::Result;
use crate::state::AppState;
use app::models::{Dashboard, RoomActivity, RoomId};
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

/// The dashboard's figures now.
pub async fn snapshot(state: &AppState) -> Result<Dashboard> {
    // "The last hour" as the messages after the newest one older than an hour: the writer
    // stamps messages in id order, so that is a walk back over the hour's messages by id, with
    // no index on `created_at` for every message to pay for. NOT INDEXED keeps the count on
    // that id range (the planner would rather walk a whole room index for the GROUP BY).
    let rows = sqlx::query!(
        r#"SELECT m.room_id AS "room_id!: i64", r.name, COUNT(*) AS "messages!: i64"
           FROM messages m NOT INDEXED JOIN rooms r ON r.id = m.room_id
           WHERE m.id > COALESCE(
                   (SELECT id FROM messages
                    WHERE created_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 hour')
                    ORDER BY id DESC LIMIT 1), 0)
             AND m.deleted = 0
           GROUP BY m.room_id ORDER BY 3 DESC, r.name LIMIT 10"#
    )
    .fetch_all(&state.db)
    .await?;
    let rooms = rows
        .into_iter()
        .map(|r| RoomActivity {
            id: RoomId(r.room_id),
            name: r.name,
            messages: r.messages,
        })
        .collect();
    Ok(Dashboard {
        sockets: state.presence.socket_count() as u64,
        users_online: state.presence.online_count() as u64,
        messages_per_minute: state.minute_counts.last_hour(),
        rooms,
        actions: super::recent_actions(state, Some(10)).await?,
    })
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
