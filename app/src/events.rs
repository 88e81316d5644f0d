//! The Socket.IO events of `docs/API.md`: names (once, here) and payload types, shared by the
//! server's handlers and the browser's socket. Event payloads are camelCase, as API.md spells them.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::models::{Message, MessageId, Room, RoomId, UserRef};

/// A client → server event: its name, payload (`Self`) and successful ack body.
pub trait ClientEvent: Serialize {
    /// The Socket.IO event name.
    const NAME: &'static str;
    /// The fields of `{ok: true, ...}`.
    type Ack: DeserializeOwned;
}

/// A server → client event: its name; the payload is `Self`.
pub trait ServerEvent: DeserializeOwned {
    /// The Socket.IO event name.
    const NAME: &'static str;
}

macro_rules! client_event {
    ($ty:ty, $name:literal, $ack:ty) => {
        impl ClientEvent for $ty {
            const NAME: &'static str = $name;
            type Ack = $ack;
        }
    };
}

macro_rules! server_event {
    ($ty:ty, $name:literal) => {
        impl ServerEvent for $ty {
            const NAME: &'static str = $name;
        }
    };
}

/// `joinRoom`: become a member and catch up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinRoom {
    /// The room.
    pub room_id: RoomId,
    /// The last `seq` the client applied; changes after it are returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
}

/// The ack of `joinRoom`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinRoomAck {
    /// The room.
    pub room: Room,
    /// The changes after `since`, or the newest messages.
    pub messages: Vec<Message>,
    /// Whether more changes (or older history) exist.
    pub has_more: bool,
    /// Members with a connected socket.
    pub online: Vec<UserRef>,
    /// The caller's read marker.
    pub last_read_seq: i64,
}
client_event!(JoinRoom, "joinRoom", JoinRoomAck);

/// `leaveRoom`: end the membership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaveRoom {
    /// The room.
    pub room_id: RoomId,
}
client_event!(LeaveRoom, "leaveRoom", Empty);

/// An ack with nothing beyond `ok`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// `sendMessage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMessage {
    /// The room.
    pub room_id: RoomId,
    /// 1–4000 Unicode scalar values after trimming.
    pub text: String,
    /// The idempotency key: a retry with the same one is stored once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// The ack of `sendMessage`, `editMessage`, `deleteMessage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAck {
    /// The stored message.
    pub message: Message,
}
client_event!(SendMessage, "sendMessage", MessageAck);

/// `editMessage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditMessage {
    /// The message.
    pub message_id: MessageId,
    /// The new text, same rules as `sendMessage`.
    pub text: String,
}
client_event!(EditMessage, "editMessage", MessageAck);

/// `deleteMessage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteMessage {
    /// The message.
    pub message_id: MessageId,
}
client_event!(DeleteMessage, "deleteMessage", MessageAck);

/// `markRead`; also the `readMarker` server event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarkRead {
    /// The room.
    pub room_id: RoomId,
    /// The read marker; it only moves forward.
    pub seq: i64,
}
client_event!(MarkRead, "markRead", Empty);
server_event!(MarkRead, "readMarker");

/// `typing` from a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Typing {
    /// The room.
    pub room_id: RoomId,
    /// Started (true) or stopped (false).
    pub typing: bool,
}
client_event!(Typing, "typing", Empty);

/// `history`: older messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct History {
    /// The room.
    pub room_id: RoomId,
    /// Messages older than this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<MessageId>,
    /// 1–200, default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// The ack of `history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryAck {
    /// Oldest first.
    pub messages: Vec<Message>,
    /// Whether older messages exist.
    pub has_more: bool,
}
client_event!(History, "history", HistoryAck);

/// `newMessage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NewMessage(pub Message);
server_event!(NewMessage, "newMessage");

/// `messageUpdated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageUpdated(pub Message);
server_event!(MessageUpdated, "messageUpdated");

/// `messageDeleted`: the tombstone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageDeleted(pub Message);
server_event!(MessageDeleted, "messageDeleted");

/// `joinedRoom`, to the user's sockets after a `joinRoom`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinedRoom {
    /// The room.
    pub room_id: RoomId,
}
server_event!(JoinedRoom, "joinedRoom");

/// `presence`: who came online or went offline in a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Presence {
    /// The room.
    pub room_id: RoomId,
    /// Came online or joined.
    pub joined: Vec<UserRef>,
    /// Went offline or left.
    pub left: Vec<UserRef>,
}
server_event!(Presence, "presence");

/// `typing` to the other members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserTyping {
    /// The room.
    pub room_id: RoomId,
    /// Who is typing.
    pub user: UserRef,
    /// Started or stopped.
    pub typing: bool,
}
server_event!(UserTyping, "typing");

/// `notification`: a mention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Always `mention` in v1.
    pub kind: String,
    /// The room.
    pub room_id: RoomId,
    /// The mentioning message.
    pub message_id: MessageId,
    /// Its author.
    pub from: UserRef,
    /// Its text.
    pub text: String,
}
server_event!(Notification, "notification");

/// `roomCreated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoomCreated(pub Room);
server_event!(RoomCreated, "roomCreated");

/// `roomUpdated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoomUpdated(pub Room);
server_event!(RoomUpdated, "roomUpdated");

/// `roomDeleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomDeleted {
    /// The room.
    pub room_id: RoomId,
}
server_event!(RoomDeleted, "roomDeleted");

/// `dashboard`: the admin dashboard's figures, pushed to admins' sockets every few seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DashboardUpdate(pub crate::models::Dashboard);
server_event!(DashboardUpdate, "dashboard");

/// `error`: a callback-less event failed.
pub use crate::models::ErrorBody as ErrorEvent;
server_event!(ErrorEvent, "error");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn send_message_uses_camel_case_and_omits_absent_client_id() {
        let input: SendMessage =
            serde_json::from_value(json!({"roomId": 1, "text": "hi", "clientId": "c"})).unwrap();
        assert_eq!(input.client_id.as_deref(), Some("c"));
        let without = SendMessage {
            client_id: None,
            ..input
        };
        assert_eq!(
            serde_json::to_value(&without).unwrap(),
            json!({"roomId": 1, "text": "hi"})
        );
    }

    #[test]
    fn join_room_since_is_optional() {
        let input: JoinRoom = serde_json::from_value(json!({"roomId": 3})).unwrap();
        assert_eq!(
            input,
            JoinRoom {
                room_id: RoomId(3),
                since: None
            }
        );
        let input: JoinRoom = serde_json::from_value(json!({"roomId": 3, "since": 9})).unwrap();
        assert_eq!(input.since, Some(9));
    }

    #[test]
    fn presence_round_trips_api_md_json() {
        let json = json!({"roomId": 1, "joined": [{"id": 2, "username": "ana"}], "left": []});
        let presence: Presence = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&presence).unwrap(), json);
    }

    #[test]
    fn room_deleted_and_typing_round_trip() {
        let json = json!({"roomId": 4});
        let deleted: RoomDeleted = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&deleted).unwrap(), json);
        let json = json!({"roomId": 4, "user": {"id": 1, "username": "ana"}, "typing": true});
        let typing: UserTyping = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&typing).unwrap(), json);
    }
}
