//! Rooms and memberships: the rules of listing, creating, changing, deleting, joining, leaving and
//! reading rooms. Changes that concern connected users are published as `Event`s.

pub mod http;

use crate::admin::{self, Action};
use crate::auth::CurrentUser;
use crate::error::{AppError, Result, on_conflict};
use crate::events::{Event, SocketId};
use crate::messages;
use crate::state::AppState;
use app::events::{JoinRoom, JoinRoomAck, MarkRead, Typing, UserTyping};
use app::models::{Room, RoomId, UserRef};
use app::validate::RoomName;
use serde::Deserialize;

/// Unread and mention counts stop here: the room list says "99+" beyond.
pub const UNREAD_COUNT_MAX: i64 = 100;

/// The longest topic, in characters.
pub const TOPIC_MAX_CHARS: usize = 500;

/// A room by id, or `not_found`.
pub async fn find_room(state: &AppState, room: RoomId) -> Result<Room> {
    state
        .store
        .conn()
        .await?
        .find_room(room)
        .await?
        .ok_or_else(|| AppError::NotFound("No such room.".into()))
}

/// Every room, with the caller's membership and unread counts.
pub async fn list_rooms(state: &AppState, me: &CurrentUser) -> Result<Vec<Room>> {
    state.store.conn().await?.list_rooms_for(me.id).await
}

fn parse_topic(topic: &str) -> Result<String> {
    let topic = topic.trim();
    if topic.chars().count() > TOPIC_MAX_CHARS || topic.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(AppError::InvalidInput(
            "Topic must be at most 500 characters.".into(),
        ));
    }
    Ok(topic.to_owned())
}

/// The body of `POST /api/admin/rooms`.
#[derive(Debug, Deserialize)]
pub struct NewRoom {
    /// 1–64 characters.
    pub name: String,
    /// Optional.
    #[serde(default)]
    pub topic: Option<String>,
}

/// Creates a room, logs it, and tells every connected socket (`roomCreated`).
pub async fn create_room(state: &AppState, admin: &CurrentUser, input: NewRoom) -> Result<Room> {
    let name = RoomName::parse(&input.name)?;
    let topic = parse_topic(input.topic.as_deref().unwrap_or(""))?;
    let mut tx = state.store.begin().await?;
    let room = tx
        .insert_room(name.as_str(), &topic)
        .await
        .map_err(on_conflict("A room with that name exists."))?;
    admin::record(
        &mut *tx,
        admin,
        Action::RoomCreated,
        &room.name,
        &room.topic,
    )
    .await?;
    tx.commit().await?;
    state.bus.publish(Event::RoomCreated(room.clone())).await;
    Ok(room)
}

/// The body of `PATCH /api/admin/rooms/{id}`.
#[derive(Debug, Deserialize)]
pub struct RoomChange {
    /// A new name.
    pub name: Option<String>,
    /// A new topic.
    pub topic: Option<String>,
    /// Archive or unarchive.
    pub archived: Option<bool>,
}

/// Renames, re-topics, archives or unarchives a room, logs each change, and tells every socket
/// (`roomUpdated`). Archiving takes effect at once: the writer reads the flag in the same
/// transaction as each send.
pub async fn update_room(
    state: &AppState,
    admin: &CurrentUser,
    room: RoomId,
    input: RoomChange,
) -> Result<Room> {
    let not_found = || AppError::NotFound("No such room.".into());
    let name = input.name.as_deref().map(RoomName::parse).transpose()?;
    let topic = input.topic.as_deref().map(parse_topic).transpose()?;
    let mut tx = state.store.begin().await?;
    let before = tx.find_room(room).await?.ok_or_else(not_found)?;
    let after = tx
        .update_room(
            room,
            name.as_ref().map(RoomName::as_str),
            topic.as_deref(),
            input.archived,
        )
        .await
        .map_err(on_conflict("A room with that name exists."))?
        .ok_or_else(not_found)?;
    // One entry per real change, each named after the room as it was.
    if after.name != before.name {
        let detail = admin::change(&before.name, &after.name);
        admin::record(&mut *tx, admin, Action::RoomRenamed, &before.name, &detail).await?;
    }
    if after.topic != before.topic {
        admin::record(
            &mut *tx,
            admin,
            Action::RoomTopicChanged,
            &before.name,
            &after.topic,
        )
        .await?;
    }
    if after.archived != before.archived {
        let action = if after.archived {
            Action::RoomArchived
        } else {
            Action::RoomUnarchived
        };
        admin::record(&mut *tx, admin, action, &before.name, "").await?;
    }
    tx.commit().await?;
    state.bus.publish(Event::RoomUpdated(after.clone())).await;
    Ok(after)
}

/// Deletes a room with its messages and logs it; its sockets leave it and every socket hears
/// `roomDeleted`.
pub async fn delete_room(state: &AppState, admin: &CurrentUser, room: RoomId) -> Result<()> {
    let mut tx = state.store.begin().await?;
    let found = tx
        .find_room(room)
        .await?
        .ok_or_else(|| AppError::NotFound("No such room.".into()))?;
    tx.delete_room(room).await?;
    admin::record(&mut *tx, admin, Action::RoomDeleted, &found.name, "").await?;
    tx.commit().await?;
    state.bus.publish(Event::RoomDeleted(room)).await;
    state.presence.forget_room(room);
    Ok(())
}

/// `joinRoom`: makes the caller a member (all their sockets follow the room and hear
/// `joinedRoom`) and returns the changes after `since`, or the newest messages. `Joined` is
/// delivered before the log is read, so a change committed meanwhile arrives live, in the page,
/// or both (the client skips seen `seq`s): never neither.
pub async fn join_room(state: &AppState, me: &CurrentUser, input: JoinRoom) -> Result<JoinRoomAck> {
    find_room(state, input.room_id).await?;
    let room_id = input.room_id;
    // Joining again is how a client catches up: only a new membership is a write. The
    // connection goes back to the pool before the next one is taken: a request holding one
    // while it waits for another starves the pool when many join at once.
    let marker = {
        let mut db = state.store.conn().await?;
        let marker = db.find_read_marker(me.id, room_id).await?;
        if marker.is_none() {
            db.insert_membership(me.id, room_id).await?;
        }
        marker
    };
    if marker.is_none() {
        state.presence.member_joined(&user_ref(me), room_id);
    }
    state
        .bus
        .publish(Event::Joined {
            user: me.id,
            room: room_id,
        })
        .await;
    // Read after the sockets joined: anything newer arrives live.
    let room = find_room(state, room_id).await?;
    let last_read_seq = marker.unwrap_or(0);
    let (messages, has_more) = match input.since {
        Some(since) => messages::changes_since(state, room.id, since.max(0)).await?,
        None => messages::history(state, room.id, None, None).await?,
    };
    let members = state.store.conn().await?.member_ids(room.id).await?;
    let online = state.presence.online_among(&members).await;
    Ok(JoinRoomAck {
        room,
        messages,
        has_more,
        online,
        last_read_seq,
    })
}

/// `leaveRoom`: ends the membership; all the caller's sockets leave the room.
pub async fn leave_room(state: &AppState, me: &CurrentUser, room: RoomId) -> Result<()> {
    find_room(state, room).await?;
    let was_member = state
        .store
        .conn()
        .await?
        .delete_membership(me.id, room)
        .await?;
    state.bus.publish(Event::Left { user: me.id, room }).await;
    if was_member {
        state.presence.member_left(&user_ref(me), room);
    }
    Ok(())
}

/// `markRead`: moves the read marker forward; the caller's other sockets get `readMarker`.
pub async fn mark_read(
    state: &AppState,
    me: &CurrentUser,
    socket: Option<SocketId>,
    input: MarkRead,
) -> Result<()> {
    let mut db = state.store.conn().await?;
    let Some(seq) = db
        .advance_read_marker(me.id, input.room_id, input.seq)
        .await?
    else {
        // Not moved: already there, or not a member of it (or no such room): `not_found`.
        return match db.find_read_marker(me.id, input.room_id).await? {
            Some(_) => Ok(()),
            None => Err(AppError::NotFound(
                "You are not a member of that room.".into(),
            )),
        };
    };
    drop(db);
    let marker = MarkRead {
        room_id: input.room_id,
        seq,
    };
    // To each of the user's sockets but the one that asked.
    state
        .bus
        .publish(Event::ReadMarker {
            user: me.id,
            marker,
            except: socket,
        })
        .await;
    Ok(())
}

/// Fails with `forbidden` unless the caller is a member of the (existing) room.
pub async fn ensure_member(state: &AppState, me: &CurrentUser, room: RoomId) -> Result<()> {
    // One query on the common path (a member typing); the room is looked up only to tell
    // `not_found` from `forbidden`.
    if state
        .store
        .conn()
        .await?
        .find_read_marker(me.id, room)
        .await?
        .is_some()
    {
        return Ok(());
    }
    find_room(state, room).await?;
    Err(AppError::Forbidden("Join the room first.".into()))
}

/// `typing`: members only; to the room, except the typist's own sockets (other tabs).
pub async fn typing(state: &AppState, me: &CurrentUser, input: Typing) -> Result<()> {
    ensure_member(state, me, input.room_id).await?;
    let typing = UserTyping {
        room_id: input.room_id,
        user: user_ref(me),
        typing: input.typing,
    };
    state.bus.publish(Event::Typing(typing)).await;
    Ok(())
}

/// The rooms `user` is a member of (a new socket follows them).
pub async fn member_room_ids(state: &AppState, user: app::models::UserId) -> Result<Vec<RoomId>> {
    state.store.conn().await?.member_room_ids(user).await
}

/// The short form of the caller.
pub fn user_ref(me: &CurrentUser) -> UserRef {
    UserRef {
        id: me.id,
        username: me.username.clone(),
    }
}

/// Every room with its figures, for the admin pages.
pub async fn admin_overview(state: &AppState) -> Result<Vec<app::models::AdminRoom>> {
    let mut db = state.store.conn().await?;
    let mut rooms = db.room_figures().await?;
    let memberships = db.all_memberships().await?;
    for room in &mut rooms {
        let members: Vec<_> = memberships
            .iter()
            .filter(|(r, _)| *r == room.id)
            .map(|(_, u)| *u)
            .collect();
        room.online = state.presence.online_among(&members).await.len() as i64;
    }
    Ok(rooms)
}
