//! Committed facts: what the domain publishes once a change is committed (or, for typing and
//! presence, once it is decided), each with its audience. The domain never addresses sockets;
//! `realtime::fanout` turns each event into socket operations. Events go out through the `Bus`
//! (`crate::bus`), in the order they are published: the writer publishes a room's log changes
//! in `seq` order, so every socket receives them in that order.

use crate::auth::SessionId;
use app::events::{MarkRead, Notification, Presence, UserTyping};
use app::models::{Dashboard, Message, Room, RoomId, UserId};
use serde::{Deserialize, Serialize};

/// Who receives an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Audience {
    /// Every connected socket.
    Everyone,
    /// The sockets that follow a room (its members' sockets).
    Room(RoomId),
    /// The sockets that follow a room, except every socket of one user.
    RoomExceptUser(RoomId, UserId),
    /// Every socket of a user (tabs, devices).
    User(UserId),
    /// Every socket of a user except one.
    UserExceptSocket(UserId, SocketId),
    /// The sockets opened with a session's tokens.
    Session(SessionId),
    /// Every socket of an admin.
    Admins,
}

/// A socket, named without the transport's types: the 16 characters of its Socket.IO id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SocketId(pub [u8; 16]);

/// How a room's log changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogChange {
    /// `newMessage`.
    New,
    /// `messageUpdated`.
    Updated,
    /// `messageDeleted` (the message is a tombstone).
    Deleted,
}

/// A committed fact and, by its kind, who hears of it. Serializable: in a cluster the other
/// instances receive it (`crate::bus::Remote`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Event {
    /// A change to a room's log, published in `seq` order; to the room.
    Log {
        /// New, edited or deleted.
        change: LogChange,
        /// The message after the change.
        message: Message,
    },
    /// A user was mentioned in a new message; to that user.
    Mention {
        /// The mentioned user.
        user: UserId,
        /// What their sockets receive.
        notification: Notification,
    },
    /// A room was created; to everyone.
    RoomCreated(Room),
    /// A room was renamed, re-topiced, archived or unarchived; to everyone.
    RoomUpdated(Room),
    /// A room was deleted: its sockets stop following it, and everyone hears of it.
    RoomDeleted(RoomId),
    /// A user is a member of a room: all their sockets follow it from now on and hear
    /// `joinedRoom`.
    Joined {
        /// The member.
        user: UserId,
        /// The room.
        room: RoomId,
    },
    /// A user left a room: none of their sockets follows it any more.
    Left {
        /// The former member.
        user: UserId,
        /// The room.
        room: RoomId,
    },
    /// A user's read marker moved; to their sockets except the one that moved it.
    ReadMarker {
        /// Whose marker.
        user: UserId,
        /// The room and the new `seq`.
        marker: MarkRead,
        /// The socket that asked, if a socket did.
        except: Option<SocketId>,
    },
    /// Someone is typing, or stopped; to the room except the typist's own sockets. Volatile: a
    /// socket that cannot take it now misses it.
    Typing(UserTyping),
    /// Who came online in a room and who left; to the room.
    Presence(Presence),
    /// A user became an admin (`true`) or stopped being one: their sockets follow the admins'
    /// live data or stop.
    AdminRole {
        /// The user.
        user: UserId,
        /// Whether they are an admin now.
        admin: bool,
    },
    /// Sockets to close: a session's (sign-out, expiry) or a user's (ban, password change).
    Disconnect(Audience),
    /// The admins' live dashboard; to admins.
    Dashboard(Dashboard),
}

impl LogChange {
    /// The change that left `message` as it is: a room's log keeps each message's latest change
    /// only, so a message read back from the store tells which change it carries.
    pub fn of(message: &Message) -> Self {
        if message.deleted {
            LogChange::Deleted
        } else if message.edited_at.is_some() {
            LogChange::Updated
        } else {
            LogChange::New
        }
    }
}

impl Event {
    /// Who receives the event.
    pub fn audience(&self) -> Audience {
        match self {
            Event::Log { message, .. } => Audience::Room(message.room_id),
            Event::Mention { user, .. } | Event::Joined { user, .. } | Event::Left { user, .. } => {
                Audience::User(*user)
            }
            Event::AdminRole { user, .. } => Audience::User(*user),
            Event::RoomCreated(_) | Event::RoomUpdated(_) | Event::RoomDeleted(_) => {
                Audience::Everyone
            }
            Event::ReadMarker {
                user,
                except: Some(socket),
                ..
            } => Audience::UserExceptSocket(*user, *socket),
            Event::ReadMarker { user, .. } => Audience::User(*user),
            Event::Typing(typing) => Audience::RoomExceptUser(typing.room_id, typing.user.id),
            Event::Presence(presence) => Audience::Room(presence.room_id),
            Event::Disconnect(audience) => *audience,
            Event::Dashboard(_) => Audience::Admins,
        }
    }
}
