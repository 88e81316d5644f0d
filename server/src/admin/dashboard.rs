//! The live dashboard: connected sockets, users online, messages per minute over the last hour
//! (from the server's own counter) and rooms by activity, pushed every few seconds to the
//! admins' sockets only (`realtime::spawn_dashboard_pusher`).

use crate::error::Result;
use crate::state::AppState;
use app::models::{Dashboard, RoomActivity, RoomId};

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
