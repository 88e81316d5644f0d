//! Several instances as one (`REDIS_URL` with a PostgreSQL `DATABASE_URL`): wires this instance
//! into the cluster at start. The parts:
//! - the bus: PostgreSQL notifications (`store::postgres::notify`) carry every event to every
//!   instance, the room log's inside the transaction that commits it; the domain's
//!   `bus::Sequencer` delivers each room's log to this instance's sockets in `seq` order;
//! - shared ephemeral state: Redis (`redis`), behind the domain's `limits::SharedWindows` and
//!   `ephemeral::presence::SharedPresence`; while it does not answer, each instance counts on
//!   its own.

pub mod redis;

use crate::bus::Sequencer;
use crate::events::Event;
use crate::state::AppState;
use crate::store::postgres::notify::Link;
use std::sync::Arc;

/// What this instance keeps of the cluster: the readiness check asks Redis through it.
pub struct Member {
    /// The shared state.
    pub shared: Arc<redis::Shared>,
}

/// Makes this instance a member: from here on its events reach the other instances and theirs
/// reach its sockets. Returns once the listener holds, so nothing committed after is missed.
pub async fn join(state: &AppState, redis_url: &str) -> anyhow::Result<Member> {
    let config = &state.config;
    let link = Link::connect(&config.database_url, &config.instance_id).await?;
    let sequencer = Sequencer::start(Arc::downgrade(&state.bus), state.store.clone());
    state.bus.join_cluster(link.clone(), sequencer.clone());
    // A sign-out, ban or role change on another instance: the sessions this one cached may be
    // out of date. A membership changed elsewhere: presence here must know the user's rooms.
    let services = Arc::downgrade(&state.services);
    state.bus.on_remote(move |event| {
        let Some(services) = services.upgrade() else {
            return;
        };
        match event {
            Event::Disconnect(_) | Event::AdminRole { .. } => services.auth.sessions.invalidate(),
            Event::Joined { user, room } => services.presence.member_elsewhere(*user, *room, true),
            Event::Left { user, room } => services.presence.member_elsewhere(*user, *room, false),
            Event::RoomDeleted(room) => services.presence.forget_room(*room),
            _ => {}
        }
    });
    link.listen(state.bus.clone(), sequencer).await?;

    let shared = redis::Shared::connect(redis_url, &config.instance_id)?;
    state.message_rate.share(shared.clone(), "send");
    state.auth.share_limits(shared.clone());
    state.presence.share(shared.clone());
    if shared.ping().await.is_err() {
        tracing::warn!(
            "Redis does not answer at start; this instance counts on its own until it does"
        );
    }
    tokio::spawn(heartbeat(state.clone(), shared.clone()));
    tracing::info!(instance = %config.instance_id, "joined the cluster");
    Ok(Member { shared })
}

/// Every `HEARTBEAT` (and at once when Redis answers again): refreshes this instance's sockets
/// in the shared presence, and announces offline the users whose instance died.
async fn heartbeat(state: AppState, shared: Arc<redis::Shared>) {
    let mut tick = tokio::time::interval(redis::HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shared.answered_again() => {}
        }
        let sockets = state.presence.local_sockets();
        let _ = shared.refresh(&sockets).await;
        // A socket that closed while the refresh was on its way may have been put back by it:
        // removed again (its user's going offline, if it was, is announced already).
        let now: std::collections::HashSet<_> = state
            .presence
            .local_sockets()
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        for (user, socket) in sockets.iter().filter(|(_, s)| !now.contains(s)) {
            let _ =
                crate::ephemeral::presence::SharedPresence::socket_down(&*shared, user.id, *socket)
                    .await;
        }
        // Each sweep looks at a bounded number of users: go on while there may be more.
        for _ in 0..50 {
            let Ok((gone, more)) = shared.sweep().await else {
                break;
            };
            for user in gone {
                match crate::rooms::member_room_ids(&state, user.id).await {
                    Ok(rooms) => state.presence.went_offline(&user, &rooms),
                    Err(e) => {
                        tracing::warn!(error = ?e, "reading the rooms of a user gone offline")
                    }
                }
            }
            if !more {
                break;
            }
        }
    }
}
