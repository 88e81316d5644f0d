//! The live dashboard: connected sockets, users online, messages per minute over the last hour
//! (from the server's own counter) and rooms by activity, pushed every few seconds to the
//! admins' sockets only (`realtime::spawn_dashboard_pusher`).

use crate::error::Result;
use crate::state::AppState;
use app::models::Dashboard;

/// The dashboard's figures now.
pub async fn snapshot(state: &AppState) -> Result<Dashboard> {
    let rooms = state.store.conn().await?.busiest_rooms_last_hour().await?;
    let (users_online, sockets) = state.presence.totals().await;
    Ok(Dashboard {
        sockets,
        users_online,
        messages_per_minute: state.minute_counts.last_hour(),
        rooms,
        actions: super::recent_actions(state, Some(10)).await?,
    })
}
