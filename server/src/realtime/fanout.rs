//! Published events into socket operations: emits, joins, leaves and disconnects. With the
//! handlers' registration, the only code that addresses sockets. Sockets are named only through
//! `room_key`, `user_key`, `session_key` and `ADMINS_ROOM`.

use super::{ADMINS_ROOM, room_key, session_key, sockets, user_key};
use crate::bus::Subscriber;
use crate::events::{Audience, Event, LogChange, SocketId};
use app::events::{
    DashboardUpdate, JoinedRoom, MarkRead, MessageDeleted, MessageUpdated, NewMessage,
    Notification, Presence, RoomCreated, RoomDeleted, RoomUpdated, ServerEvent, UserTyping,
};
use futures_util::future::BoxFuture;
use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::operators::BroadcastOperators;
use socketioxide::socket::Sid;

/// This instance's sockets, as the bus's subscriber.
pub struct Fanout {
    io: SocketIo,
}

impl Fanout {
    /// The fan-out over `io`'s default namespace.
    pub fn new(io: SocketIo) -> Self {
        Self { io }
    }

    /// The sockets of an audience; `None` once the namespace is gone (shut-down).
    fn to(&self, audience: Audience) -> Option<BroadcastOperators> {
        let ns = sockets(&self.io)?;
        Some(match audience {
            Audience::Everyone => ns,
            Audience::Room(room) => ns.to(room_key(room)),
            Audience::RoomExceptUser(room, user) => ns.to(room_key(room)).except(user_key(user)),
            Audience::User(user) => ns.to(user_key(user)),
            // Narrowed per socket in `emit`: a socket is in no Socket.IO room named after its id.
            Audience::UserExceptSocket(user, _) => ns.to(user_key(user)),
            Audience::Session(session) => ns.to(session_key(session)),
            Audience::Admins => ns.to(ADMINS_ROOM),
        })
    }

    async fn emit<T: Serialize>(&self, audience: Audience, name: &str, data: &T) {
        let Some(to) = self.to(audience) else { return };
        if let Audience::UserExceptSocket(_, SocketId(except)) = audience {
            let except = std::str::from_utf8(&except)
                .ok()
                .and_then(|id| id.parse::<Sid>().ok());
            for socket in to.sockets() {
                if Some(socket.id) != except {
                    let _ = socket.emit(name, data);
                }
            }
            return;
        }
        // A socket whose queue is full misses the event; a room event's `seq` gap makes its
        // client catch up with `joinRoom {since}`.
        if let Err(e) = to.emit(name, data).await {
            tracing::debug!(error = %e, event = name, "an emit did not reach every socket");
        }
    }

    async fn apply(&self, event: Event) {
        let audience = event.audience();
        match event {
            Event::Log { change, message } => {
                let name = match change {
                    LogChange::New => NewMessage::NAME,
                    LogChange::Updated => MessageUpdated::NAME,
                    LogChange::Deleted => MessageDeleted::NAME,
                };
                self.emit(audience, name, &message).await;
            }
            Event::Mention { notification, .. } => {
                self.emit(audience, Notification::NAME, &notification).await;
            }
            Event::RoomCreated(room) => self.emit(audience, RoomCreated::NAME, &room).await,
            Event::RoomUpdated(room) => self.emit(audience, RoomUpdated::NAME, &room).await,
            Event::RoomDeleted(room_id) => {
                if let Some(members) = self.to(Audience::Room(room_id)) {
                    let _ = members.leave(room_key(room_id)).await;
                }
                self.emit(audience, RoomDeleted::NAME, &RoomDeleted { room_id })
                    .await;
            }
            Event::Joined { room, .. } => {
                if let Some(sockets) = self.to(audience) {
                    let _ = sockets.join(room_key(room)).await;
                }
                self.emit(audience, JoinedRoom::NAME, &JoinedRoom { room_id: room })
                    .await;
            }
            Event::Left { room, .. } => {
                if let Some(sockets) = self.to(audience) {
                    let _ = sockets.leave(room_key(room)).await;
                }
            }
            Event::ReadMarker { marker, .. } => {
                self.emit(audience, <MarkRead as ServerEvent>::NAME, &marker)
                    .await;
            }
            Event::Typing(typing) => {
                if let Some(to) = self.to(audience) {
                    let _ = to.volatile().emit(UserTyping::NAME, &typing).await;
                }
            }
            Event::Presence(presence) => {
                self.emit(audience, <Presence as ServerEvent>::NAME, &presence)
                    .await;
            }
            Event::AdminRole { admin, .. } => {
                if let Some(sockets) = self.to(audience) {
                    let _ = if admin {
                        sockets.join(ADMINS_ROOM).await
                    } else {
                        sockets.leave(ADMINS_ROOM).await
                    };
                }
            }
            Event::Disconnect(audience) => {
                if let Some(sockets) = self.to(audience)
                    && let Err(e) = sockets.disconnect().await
                {
                    tracing::warn!(error = %e, ?audience, "closing sockets");
                }
            }
            Event::Dashboard(dashboard) => {
                self.emit(audience, DashboardUpdate::NAME, &DashboardUpdate(dashboard))
                    .await;
            }
        }
    }
}

impl Subscriber for Fanout {
    fn deliver(&self, event: Event) -> BoxFuture<'_, ()> {
        Box::pin(self.apply(event))
    }
}

/// The domain's name for a socket.
pub fn socket_id(sid: Sid) -> SocketId {
    let mut id = [0; 16];
    id.copy_from_slice(sid.as_str().as_bytes());
    SocketId(id)
}
