//! The resource shapes of `docs/API.md` (`user`, `room`, `message`, the error body), as sent on
//! the wire by the server and read by the browser. Resource fields are snake_case, as API.md spells them.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A user's id.
    UserId
);
id_type!(
    /// A room's id.
    RoomId
);
id_type!(
    /// A message's id.
    MessageId
);

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A normal user.
    User,
    /// May run rooms and moderate users.
    Admin,
}

impl Role {
    /// The name stored in the database and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
}

/// API.md `user`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Unique case-insensitively.
    pub username: String,
    /// `user` or `admin`.
    pub role: Role,
    /// Banned users cannot sign in or connect.
    pub banned: bool,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// The short form of a user embedded in messages and events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    /// Id.
    pub id: UserId,
    /// Username.
    pub username: String,
}

/// The answer to register, login and refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The signed-in user.
    pub user: User,
    /// A JWT for `Authorization: Bearer` or Socket.IO's `auth.token`.
    pub token: String,
    /// When `token` expires, RFC 3339.
    pub expires_at: String,
}

/// API.md `room`; the caller's fields are present in `GET /api/rooms` only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Room {
    /// Id.
    pub id: RoomId,
    /// Unique case-insensitively.
    pub name: String,
    /// Free text, may be empty.
    pub topic: String,
    /// Archived rooms are readable, not writable.
    pub archived: bool,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// The room log's latest `seq` (0 when empty).
    pub last_seq: i64,
    /// Whether the caller is a member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<bool>,
    /// The caller's read marker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_read_seq: Option<i64>,
    /// Messages by others after the read marker, deleted ones not counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread: Option<i64>,
    /// Of those, the ones that mention the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread_mentions: Option<i64>,
}

/// API.md `message`; a deleted one is a tombstone with empty text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Id.
    pub id: MessageId,
    /// The room it belongs to.
    pub room_id: RoomId,
    /// The room-log position of this message's latest change.
    pub seq: i64,
    /// The author.
    pub user: UserRef,
    /// Empty when deleted.
    pub text: String,
    /// The sender's idempotency key, if any.
    pub client_id: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC, when last edited.
    pub edited_at: Option<String>,
    /// A tombstone.
    pub deleted: bool,
}

/// One entry of the admin action log (`GET /api/admin/actions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminAction {
    /// Id; later entries have larger ids.
    pub id: i64,
    /// Who acted; `null` once that account is gone.
    pub admin: Option<UserRef>,
    /// What was done, e.g. `room_created`, `user_banned`.
    pub action: String,
    /// The room name or username as it was when acted on.
    pub target: String,
    /// What changed, for people; may be empty.
    pub detail: String,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// A room as the admin pages list it (`GET /api/admin/rooms`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminRoom {
    /// The room.
    pub id: RoomId,
    /// Name.
    pub name: String,
    /// Topic.
    pub topic: String,
    /// Archived rooms are read-only.
    pub archived: bool,
    /// Members.
    pub members: i64,
    /// Members with a connected socket now.
    pub online: i64,
    /// Messages, tombstones not counted.
    pub messages: i64,
    /// When the last message was sent, RFC 3339.
    pub last_activity: Option<String>,
}

/// Messages in the last hour in one room, for the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomActivity {
    /// The room.
    pub id: RoomId,
    /// Its name.
    pub name: String,
    /// Messages sent in it during the last hour.
    pub messages: i64,
}

/// The live dashboard (`GET /api/admin/dashboard`, and the `dashboard` event to admins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    /// Sockets connected to this server now.
    pub sockets: u64,
    /// Users with at least one connected socket.
    pub users_online: u64,
    /// Messages sent per minute over the last hour, oldest first (60 values).
    pub messages_per_minute: Vec<u64>,
    /// Rooms by messages in the last hour, busiest first.
    pub rooms: Vec<RoomActivity>,
    /// The latest admin actions, newest first.
    pub actions: Vec<AdminAction>,
}

/// The error body of every failing HTTP request and socket event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A snake_case code from API.md's table.
    pub error: String,
    /// A human-readable sentence.
    pub message: String,
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_round_trips_api_md_json() {
        let json = serde_json::json!({
            "id": 7, "room_id": 2, "seq": 3, "user": {"id": 1, "username": "ana"},
            "text": "olá", "client_id": "c-1", "created_at": "2026-01-01T00:00:00.000Z",
            "edited_at": null, "deleted": false
        });
        let message: Message = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(message.id, MessageId(7));
        assert_eq!(serde_json::to_value(&message).unwrap(), json);
    }

    #[test]
    fn room_without_caller_fields_omits_them() {
        let json = serde_json::json!({
            "id": 1, "name": "general", "topic": "", "archived": false,
            "created_at": "2026-01-01T00:00:00.000Z", "last_seq": 0
        });
        let room: Room = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&room).unwrap(), json);
    }

    #[test]
    fn user_role_is_lowercase() {
        let json = serde_json::json!({
            "id": 1, "username": "ana", "role": "admin", "banned": false,
            "created_at": "2026-01-01T00:00:00.000Z"
        });
        let user: User = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(user.role, Role::Admin);
        assert_eq!(serde_json::to_value(&user).unwrap(), json);
    }
}
