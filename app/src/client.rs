//! The browser's chat controller: reactive state (rooms, room logs, pending sends, presence,
//! typing, connection) and the actions the views call. One instance per page, provided as
//! context by the app; it starts (socket, first loads) only in the browser.

use crate::chat::{Applied, Pending, RoomLog};
use crate::models::{Message, MessageId, Room, RoomId, User, UserRef};
use leptos::prelude::*;
use std::collections::HashMap;

/// The connection state shown in the banner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// Not connected yet.
    Connecting,
    /// The socket is open.
    Connected,
    /// Lost; the client is retrying.
    Reconnecting,
    /// No valid session: the user must sign in.
    SignedOut,
}

impl Connection {
    /// The words shown in the banner.
    pub fn label(self) -> &'static str {
        match self {
            Connection::Connecting => "Connecting…",
            Connection::Connected => "Connected",
            Connection::Reconnecting => "Reconnecting…",
            Connection::SignedOut => "Signed out",
        }
    }
}

/// Someone typing in a room, until when (ms since the epoch).
#[derive(Debug, Clone, PartialEq)]
pub struct TypingUser {
    /// Who.
    pub user: UserRef,
    /// Shown until this time.
    pub until: f64,
}

/// The chat's state and actions; `Copy`, so views capture it freely.
#[derive(Clone, Copy)]
pub struct Chat {
    /// The signed-in user.
    pub me: RwSignal<Option<User>>,
    /// The banner.
    pub connection: RwSignal<Connection>,
    /// Every room with the caller's fields.
    pub rooms: RwSignal<Vec<Room>>,
    /// Loaded rooms' messages.
    pub logs: RwSignal<HashMap<RoomId, RoomLog>>,
    /// Messages typed and not yet acknowledged (also in localStorage).
    pub pending: RwSignal<Vec<Pending>>,
    /// Online members per loaded room.
    pub online: RwSignal<HashMap<RoomId, Vec<UserRef>>>,
    /// Who is typing per room.
    pub typing: RwSignal<HashMap<RoomId, Vec<TypingUser>>>,
    /// The room on screen.
    pub open_room: RwSignal<Option<RoomId>>,
    /// A line to show when something failed outside a form.
    pub notice: RwSignal<Option<String>>,
    /// The room the user just left, offered back ("Undo") until dismissed or joined again.
    pub left_room: RwSignal<Option<RoomId>>,
    /// What was typed and not sent, per room: it waits there while another room is open.
    drafts: StoredValue<HashMap<RoomId, String>>,
    /// The room whose composer takes the focus when it appears: the user just joined it, and
    /// the button they pressed is gone.
    focus_composer: StoredValue<Option<RoomId>>,
    /// Set once the app has hydrated (tests wait for it).
    pub hydrated: RwSignal<bool>,
    /// The admin dashboard as last pushed (admins only).
    pub dashboard: RwSignal<Option<crate::models::Dashboard>>,
    /// "Now", ticking every 30 s, for relative times.
    pub now: RwSignal<f64>,
    #[cfg(feature = "hydrate")]
    socket: StoredValue<Option<crate::realtime::Socket>, LocalStorage>,
    #[cfg(feature = "hydrate")]
    started: StoredValue<bool>,
    /// Rooms being caught up, and whether another pass was asked for meanwhile.
    #[cfg(feature = "hydrate")]
    catching_up: StoredValue<HashMap<RoomId, bool>>,
    /// Rooms whose read marker is due to be sent (sent at most every half second).
    #[cfg(feature = "hydrate")]
    read_due: StoredValue<std::collections::HashSet<RoomId>>,
    #[cfg(feature = "hydrate")]
    connected_before: StoredValue<bool>,
    /// Rooms being opened, with the live events that arrived before their log did. Held, not
    /// dropped: the server joins the socket to the room before reading the history, so a message
    /// sent meanwhile may reach the page before the history does, and only live.
    opening: StoredValue<HashMap<RoomId, Vec<Message>>>,
}

impl Default for Chat {
    fn default() -> Self {
        Self::new()
    }
}

/// The chat of this page.
pub fn use_chat() -> Chat {
    expect_context::<Chat>()
}

impl Chat {
    /// Empty state; nothing happens until `start`.
    pub fn new() -> Self {
        Self {
            me: RwSignal::new(None),
            connection: RwSignal::new(Connection::Connecting),
            rooms: RwSignal::new(Vec::new()),
            logs: RwSignal::new(HashMap::new()),
            pending: RwSignal::new(Vec::new()),
            online: RwSignal::new(HashMap::new()),
            typing: RwSignal::new(HashMap::new()),
            open_room: RwSignal::new(None),
            notice: RwSignal::new(None),
            left_room: RwSignal::new(None),
            drafts: StoredValue::new(HashMap::new()),
            focus_composer: StoredValue::new(None),
            hydrated: RwSignal::new(false),
            now: RwSignal::new(now_ms()),
            dashboard: RwSignal::new(None),
            #[cfg(feature = "hydrate")]
            socket: StoredValue::new_local(None),
            #[cfg(feature = "hydrate")]
            started: StoredValue::new(false),
            #[cfg(feature = "hydrate")]
            catching_up: StoredValue::new(HashMap::new()),
            #[cfg(feature = "hydrate")]
            read_due: StoredValue::new(Default::default()),
            #[cfg(feature = "hydrate")]
            connected_before: StoredValue::new(false),
            opening: StoredValue::new(HashMap::new()),
        }
    }

    /// The room with `id`, if listed.
    pub fn room(&self, id: RoomId) -> Option<Room> {
        self.rooms
            .with(|rooms| rooms.iter().find(|r| r.id == id).cloned())
    }

    /// Whether the user is a member of `room`, as far as this page knows. Untracked: the
    /// actions read it, and an effect that calls them must not rerun on every room change.
    pub fn is_member(&self, room: RoomId) -> bool {
        self.rooms
            .with_untracked(|rooms| rooms.iter().any(|r| r.id == room && r.member == Some(true)))
    }

    /// Unread messages in the user's rooms (each room's count as capped by the server).
    pub fn unread_total(&self) -> i64 {
        self.rooms.with(|rooms| {
            rooms
                .iter()
                .filter(|r| r.member == Some(true))
                .map(|r| r.unread.unwrap_or(0))
                .sum()
        })
    }

    /// The unsent text of `room`'s composer.
    pub fn draft(&self, room: RoomId) -> String {
        self.drafts
            .with_value(|d| d.get(&room).cloned().unwrap_or_default())
    }

    /// Keeps `room`'s unsent text (empty: none).
    pub fn set_draft(&self, room: RoomId, text: String) {
        self.drafts.update_value(|d| {
            if text.is_empty() {
                d.remove(&room);
            } else {
                d.insert(room, text);
            }
        });
    }

    /// Whether `room`'s composer should take the focus as it appears (asked once).
    pub fn take_composer_focus(&self, room: RoomId) -> bool {
        let mut take = false;
        self.focus_composer.update_value(|f| {
            take = *f == Some(room);
            if take {
                *f = None;
            }
        });
        take
    }

    /// Whether the signed-in user is an admin.
    pub fn is_admin(&self) -> bool {
        self.me.with(|me| {
            me.as_ref()
                .is_some_and(|u| u.role == crate::models::Role::Admin)
        })
    }

    fn update_room(&self, id: RoomId, change: impl FnOnce(&mut Room)) {
        self.rooms.update(|rooms| {
            if let Some(room) = rooms.iter_mut().find(|r| r.id == id) {
                change(room);
            }
        });
    }

    /// Applies a message event to its room's log; asks for a catch-up on a gap.
    pub fn apply_message(&self, message: Message) {
        let room = message.room_id;
        let mine = self.me.with_untracked(|me| me.as_ref().map(|u| u.id)) == Some(message.user.id);
        if let Some(client_id) = message.client_id.as_ref().filter(|_| mine) {
            self.settle_pending(client_id);
        }
        let mut held = Some(message);
        self.opening.update_value(|opening| {
            if let Some(early) = opening.get_mut(&room) {
                early.extend(held.take());
            }
        });
        let Some(message) = held else { return };
        let outcome = self
            .logs
            .try_update(|logs| logs.get_mut(&room).map(|log| log.apply(message.clone())));
        match outcome.flatten() {
            Some(Applied::Gap { since }) => self.catch_up(room, since),
            Some(Applied::Seen) => {}
            Some(Applied::Applied) | None => {
                let is_new = message.edited_at.is_none() && !message.deleted;
                if !mine && is_new && !self.is_reading(room) {
                    self.update_room(room, |r| r.unread = Some(r.unread.unwrap_or(0) + 1));
                }
                self.update_room(room, |r| r.last_seq = r.last_seq.max(message.seq));
                if self.is_reading(room) {
                    self.mark_read(room);
                }
            }
        }
    }

    /// Whether the user is looking at `room` now (open and the tab visible).
    pub fn is_reading(&self, room: RoomId) -> bool {
        self.open_room.get_untracked() == Some(room) && page_visible()
    }

    fn settle_pending(&self, client_id: &str) {
        self.pending
            .update(|p| p.retain(|m| m.client_id != client_id));
        self.save_pending();
    }

    fn save_pending(&self) {
        #[cfg(feature = "hydrate")]
        if let Some(user) = self.me.with_untracked(|me| me.as_ref().map(|u| u.id)) {
            self.pending
                .with_untracked(|p| storage::save_pending(user, p));
        }
    }
}

/// Whether the page is visible (always true outside a browser).
pub fn page_visible() -> bool {
    #[cfg(feature = "hydrate")]
    {
        use web_sys::VisibilityState;
        document().visibility_state() == VisibilityState::Visible
    }
    #[cfg(not(feature = "hydrate"))]
    true
}

/// Loads `path` as a new page: the app (and its chat controller) starts again from what the
/// server says now. Used where the session changed (sign-in, sign-up, sign-out); an in-app
/// navigation would keep the controller's state from before.
pub fn load_page(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().assign(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// A new idempotency key for a send.
pub fn new_client_id() -> String {
    #[cfg(feature = "hydrate")]
    {
        let a = (js_sys::Math::random() * 2f64.powi(52)) as u64;
        let b = (js_sys::Math::random() * 2f64.powi(52)) as u64;
        format!("{a:x}-{b:x}")
    }
    #[cfg(not(feature = "hydrate"))]
    String::new()
}

/// Milliseconds since the epoch (0 outside a browser).
pub fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    0.0
}

#[cfg(feature = "hydrate")]
mod storage {
    //! Pending sends in localStorage, so nothing typed is lost to a reload.
    use crate::chat::Pending;

    use crate::models::UserId;

    /// One key per user: whoever signs in next on this browser never sends another's messages.
    fn key(user: UserId) -> String {
        format!("tagarela.pending.{user}")
    }

    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok()?
    }

    pub fn load_pending(user: UserId) -> Vec<Pending> {
        storage()
            .and_then(|s| s.get_item(&key(user)).ok().flatten())
            .and_then(|json| js_sys::JSON::parse(&json).ok())
            .and_then(|value| crate::realtime::from_js(value).ok())
            .unwrap_or_default()
    }

    pub fn save_pending(user: UserId, pending: &[Pending]) {
        let json = js_sys::JSON::stringify(&crate::realtime::to_js(&pending));
        if let (Some(storage), Ok(json)) = (storage(), json) {
            let _ = storage.set_item(&key(user), &String::from(json));
        }
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    //! The parts that talk to the server.
    use super::*;
    use crate::api;
    use crate::chat::PendingState;
    use crate::events::*;
    use crate::realtime::{EmitError, Socket};
    use leptos::task::spawn_local;
    use std::time::Duration;

    /// How long an emit waits for its ack.
    const ACK_TIMEOUT_MS: u32 = 10_000;
    /// How long a typing indicator lasts without a new `typing` event.
    const TYPING_SHOWN_MS: f64 = 6_000.0;
    /// Messages per page of history (as many as `joinRoom` returns).
    const HISTORY_PAGE: i64 = 50;

    impl Chat {
        fn upsert_room(&self, room: Room) {
            self.rooms
                .update(|rooms| match rooms.iter_mut().find(|r| r.id == room.id) {
                    Some(shown) => {
                        // Keep the caller's fields: room events carry only the shared ones.
                        let (member, read, unread, mentions) = (
                            shown.member,
                            shown.last_read_seq,
                            shown.unread,
                            shown.unread_mentions,
                        );
                        *shown = Room {
                            member,
                            last_read_seq: read,
                            unread,
                            unread_mentions: mentions,
                            ..room
                        };
                    }
                    None => rooms.push(Room {
                        member: Some(false),
                        last_read_seq: Some(0),
                        unread: Some(0),
                        unread_mentions: Some(0),
                        ..room
                    }),
                });
            self.rooms.update(|rooms| {
                rooms.sort_by(|a, b| (a.archived, &a.name).cmp(&(b.archived, &b.name)))
            });
        }

        fn socket(&self) -> Option<Socket> {
            self.socket.get_value()
        }

        /// Starts once per page: session, rooms, socket.
        pub fn start(self) {
            if self.started.get_value() {
                return;
            }
            self.started.set_value(true);
            spawn_local(async move {
                // Refreshing also proves the session and renews the cookie.
                match api::refresh().await {
                    Ok(session) => {
                        self.pending.set(storage::load_pending(session.user.id));
                        self.me.set(Some(session.user));
                        self.schedule_refresh(&session.expires_at);
                    }
                    Err(_) => {
                        self.connection.set(Connection::SignedOut);
                        return;
                    }
                }
                self.load_rooms().await;
                self.connect();
            });
            set_interval(
                move || {
                    let now = now_ms();
                    self.typing
                        .update(|t| t.values_mut().for_each(|v| v.retain(|u| u.until > now)));
                },
                Duration::from_secs(1),
            );
            set_interval(move || self.now.set(now_ms()), Duration::from_secs(30));
        }

        /// Renews the token at half its remaining life.
        fn schedule_refresh(self, expires_at: &str) {
            let expires = js_sys::Date::parse(expires_at);
            let wait = ((expires - now_ms()) / 2.0).clamp(10_000.0, 12.0 * 3_600_000.0);
            set_timeout(
                move || {
                    spawn_local(async move {
                        if let Ok(session) = api::refresh().await {
                            self.schedule_refresh(&session.expires_at);
                        }
                    })
                },
                Duration::from_millis(wait as u64),
            );
        }

        async fn load_rooms(self) {
            match api::rooms().await {
                Ok(rooms) => {
                    let was_member: Vec<RoomId> = self.rooms.with_untracked(|rooms| {
                        rooms
                            .iter()
                            .filter(|r| r.member == Some(true))
                            .map(|r| r.id)
                            .collect()
                    });
                    let joined: Vec<RoomId> = rooms
                        .iter()
                        .filter(|r| r.member == Some(true) && !was_member.contains(&r.id))
                        .map(|r| r.id)
                        .collect();
                    self.rooms.set(rooms);
                    for room in joined {
                        self.follow(room);
                    }
                }
                Err(e) => self.notice.set(Some(e.to_string())),
            }
        }

        /// The user turned out to be a member of `room` (joined in another tab, or while this
        /// page was away): what this page shows of it was read once, so follow it from there.
        fn follow(self, room: RoomId) {
            // A join of this page's own is loading it already.
            if self.opening.with_value(|o| o.contains_key(&room)) {
                return;
            }
            match self
                .logs
                .with_untracked(|l| l.get(&room).map(|log| log.last_seq))
            {
                Some(since) => self.catch_up(room, since),
                None if self.open_room.get_untracked() == Some(room) => self.load(room),
                None => {}
            }
        }

        fn connect(self) {
            let socket = Socket::connect();
            socket.on_connect(move || {
                self.connection.set(Connection::Connected);
                self.on_connected();
            });
            socket.on_disconnect(move |reason| {
                if self.connection.get_untracked() == Connection::SignedOut {
                    return;
                }
                self.connection.set(Connection::Reconnecting);
                // The server closed us (session ended, token expired, ban): the client will
                // not retry by itself. Renew the session and reconnect, or sign out.
                if reason == "io server disconnect" {
                    self.reauthenticate();
                }
            });
            socket.on_connect_error(move |message| {
                if message == "unauthorized" {
                    self.reauthenticate();
                }
            });
            socket.on(move |NewMessage(m)| self.apply_message(m));
            socket.on(move |MessageUpdated(m)| self.apply_message(m));
            socket.on(move |MessageDeleted(m)| self.apply_message(m));
            socket.on(move |p: Presence| self.apply_presence(p));
            socket.on(move |t: UserTyping| self.apply_typing(t));
            socket.on(move |n: Notification| self.notify(n));
            socket.on(move |m: MarkRead| {
                self.update_room(m.room_id, |r| {
                    r.last_read_seq = Some(r.last_read_seq.unwrap_or(0).max(m.seq));
                    if m.seq >= r.last_seq {
                        r.unread = Some(0);
                        r.unread_mentions = Some(0);
                    }
                })
            });
            socket.on(move |RoomCreated(room)| self.upsert_room(room));
            socket.on(move |RoomUpdated(room)| self.upsert_room(room));
            socket.on(move |d: RoomDeleted| {
                self.rooms
                    .update(|rooms| rooms.retain(|r| r.id != d.room_id));
                self.logs.update(|logs| {
                    logs.remove(&d.room_id);
                });
            });
            socket.on(move |DashboardUpdate(d)| self.dashboard.set(Some(d)));
            socket.on(move |j: JoinedRoom| {
                let room = j.room_id;
                let was_member = self.is_member(room);
                self.update_room(room, |r| r.member = Some(true));
                if self.left_room.get_untracked() == Some(room) {
                    self.left_room.set(None);
                }
                if !was_member {
                    self.follow(room);
                }
            });
            self.socket.set_value(Some(socket));
        }

        fn reauthenticate(self) {
            spawn_local(async move {
                match api::refresh().await {
                    Ok(session) => {
                        self.me.set(Some(session.user));
                        if let Some(socket) = self.socket() {
                            socket.reconnect();
                        }
                    }
                    Err(_) => {
                        self.connection.set(Connection::SignedOut);
                        if let Some(socket) = self.socket() {
                            socket.disconnect();
                        }
                    }
                }
            });
        }

        /// After every (re)connection: catch up loaded rooms, refresh the room list (unread
        /// counts of rooms not loaded), resend what is pending.
        fn on_connected(self) {
            if self.connected_before.get_value() {
                spawn_local(self.load_rooms());
            }
            self.connected_before.set_value(true);
            // Rooms shown without being joined were read once, not followed: the open one is
            // read afresh below, the others when opened again.
            self.logs
                .update(|logs| logs.retain(|room, _| self.is_member(*room)));
            let loaded: Vec<(RoomId, i64)> = self
                .logs
                .with_untracked(|logs| logs.iter().map(|(id, log)| (*id, log.last_seq)).collect());
            for (room, since) in loaded {
                self.catch_up(room, since);
            }
            if let Some(room) = self.open_room.get_untracked()
                && !self.logs.with_untracked(|l| l.contains_key(&room))
            {
                self.open(room);
            }
            let waiting: Vec<Pending> = self.pending.with_untracked(|p| {
                p.iter()
                    .filter(|m| m.state == PendingState::Sending)
                    .cloned()
                    .collect()
            });
            for pending in waiting {
                self.transmit(pending);
            }
        }

        /// Opens a room. One of the user's rooms is loaded once, kept up to date and marked
        /// read; any other room is shown as it stands, read with `history`, which (unlike
        /// `joinRoom`) does not make the user a member: opening a room never joins it.
        pub fn open(self, room: RoomId) {
            self.open_room.set(Some(room));
            if !self.is_member(room) {
                self.preview(room);
            } else if self.logs.with_untracked(|l| l.contains_key(&room)) {
                self.mark_read(room);
            } else {
                self.load(room);
            }
        }

        /// Joins a room the user is not in (the Join button, Undo after leaving) and loads it.
        /// What was shown of it stays until the room's own log replaces it.
        pub fn join(self, room: RoomId) {
            self.focus_composer.set_value(Some(room));
            self.load(room);
        }

        /// Shows the newest messages of a room the user is not in.
        fn preview(self, room: RoomId) {
            let Some(socket) = self.socket() else { return };
            let known = self.rooms.with_untracked(|rooms| {
                rooms
                    .iter()
                    .find(|r| r.id == room)
                    .map_or(0, |r| r.last_seq)
            });
            spawn_local(async move {
                let request = History {
                    room_id: room,
                    before: None,
                    limit: Some(HISTORY_PAGE),
                };
                match socket.emit(&request, ACK_TIMEOUT_MS).await {
                    // Joined meanwhile: the room's own log is loading, loaded, or due.
                    Ok(_) if self.is_member(room) => {
                        if !self.logs.with_untracked(|l| l.contains_key(&room)) {
                            self.follow(room);
                        }
                    }
                    Ok(ack) => self.logs.update(|logs| {
                        logs.insert(
                            room,
                            RoomLog::from_history(ack.messages, ack.has_more, known),
                        );
                    }),
                    Err(EmitError::Server(e)) if e.error == "not_found" => {
                        self.rooms.update(|rooms| rooms.retain(|r| r.id != room));
                    }
                    // `on_connected` opens the room again.
                    Err(EmitError::Timeout) if !socket.is_connected() => {}
                    Err(e) => self.notice.set(Some(e.to_string())),
                }
            });
        }

        /// Loads a room with `joinRoom` (which makes the user a member) and marks it read.
        fn load(self, room: RoomId) {
            let Some(socket) = self.socket() else { return };
            let mut already = false;
            self.opening.update_value(|opening| {
                already = opening.contains_key(&room);
                opening.entry(room).or_default();
            });
            if already {
                return;
            }
            spawn_local(async move {
                let answer = socket
                    .emit(
                        &JoinRoom {
                            room_id: room,
                            since: None,
                        },
                        ACK_TIMEOUT_MS,
                    )
                    .await;
                let mut early = Vec::new();
                self.opening.update_value(|opening| {
                    early = opening.remove(&room).unwrap_or_default();
                });
                match answer {
                    Ok(ack) => {
                        let log =
                            RoomLog::from_history(ack.messages, ack.has_more, ack.room.last_seq);
                        self.logs.update(|logs| {
                            logs.insert(room, log);
                        });
                        self.online.update(|o| {
                            o.insert(room, ack.online);
                        });
                        self.upsert_room(ack.room);
                        self.update_room(room, |r| r.member = Some(true));
                        if self.left_room.get_untracked() == Some(room) {
                            self.left_room.set(None);
                        }
                        self.mark_read(room);
                    }
                    // The connection dropped (the client fails pending acks at once): not an
                    // error to show, `on_connected` opens the room again.
                    Err(EmitError::Timeout) if !socket.is_connected() => {}
                    Err(e) => self.notice.set(Some(e.to_string())),
                }
                // Now the log is there: what the history already holds is `Seen`, a gap catches up.
                for message in early {
                    self.apply_message(message);
                }
            });
        }

        /// Asks for every change after `since`, page by page. One catch-up per room at a time:
        /// a gap seen meanwhile makes it run once more from where the log then stands.
        pub fn catch_up(self, room: RoomId, since: i64) {
            // A catch-up is a `joinRoom`: in a room the user is not in, it would join it.
            if !self.is_member(room) {
                return;
            }
            let Some(socket) = self.socket() else { return };
            let mut running = false;
            self.catching_up.update_value(|rooms| {
                running = rooms.contains_key(&room);
                rooms.insert(room, running);
            });
            if running {
                return;
            }
            spawn_local(async move {
                let mut since = since;
                loop {
                    match socket
                        .emit(
                            &JoinRoom {
                                room_id: room,
                                since: Some(since),
                            },
                            ACK_TIMEOUT_MS,
                        )
                        .await
                    {
                        Ok(ack) => {
                            let me = self.me.with_untracked(|me| me.as_ref().map(|u| u.id));
                            for m in ack.messages.iter().filter(|m| Some(m.user.id) == me) {
                                if let Some(client_id) = &m.client_id {
                                    self.settle_pending(client_id);
                                }
                            }
                            since = ack.messages.last().map_or(since, |m| m.seq);
                            self.logs.update(|logs| {
                                logs.entry(room).or_default().apply_catch_up(ack.messages)
                            });
                            self.online.update(|o| {
                                o.insert(room, ack.online);
                            });
                            self.upsert_room(ack.room);
                            if !ack.has_more {
                                break;
                            }
                        }
                        Err(EmitError::Server(e)) if e.error == "not_found" => {
                            self.rooms.update(|rooms| rooms.retain(|r| r.id != room));
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let mut again = false;
                self.catching_up.update_value(|rooms| {
                    again = rooms.remove(&room).unwrap_or(false);
                });
                if again {
                    let since = self
                        .logs
                        .with_untracked(|l| l.get(&room).map_or(0, |log| log.last_seq));
                    self.catch_up(room, since);
                } else if self.is_reading(room) {
                    self.mark_read(room);
                }
            });
        }

        /// Loads older messages of `room`.
        pub fn load_older(self, room: RoomId) {
            let Some(socket) = self.socket() else { return };
            let before = self
                .logs
                .with_untracked(|l| l.get(&room).and_then(|log| log.oldest()));
            spawn_local(async move {
                let request = History {
                    room_id: room,
                    before,
                    limit: Some(HISTORY_PAGE),
                };
                if let Ok(ack) = socket.emit(&request, ACK_TIMEOUT_MS).await {
                    self.logs.update(|logs| {
                        logs.entry(room)
                            .or_default()
                            .add_history(ack.messages, ack.has_more)
                    });
                }
            });
        }

        /// Moves the read marker to the end of what is shown.
        pub fn mark_read(self, room: RoomId) {
            // Only members have a read marker.
            if !self.is_member(room) {
                return;
            }
            let Some(seq) = self
                .logs
                .with_untracked(|l| l.get(&room).map(|log| log.last_seq))
            else {
                return;
            };
            let shown = self.rooms.with_untracked(|rooms| {
                rooms
                    .iter()
                    .find(|r| r.id == room)
                    .map(|r| (r.last_read_seq.unwrap_or(0), r.unread.unwrap_or(0)))
            });
            let already = shown.is_some_and(|(read, unread)| read >= seq && unread == 0);
            self.update_room(room, |r| {
                r.unread = Some(0);
                r.unread_mentions = Some(0);
                r.last_read_seq = Some(r.last_read_seq.unwrap_or(0).max(seq));
            });
            if already || seq == 0 {
                return;
            }
            // A busy room moves the marker many times a second: send the latest once per half second.
            let mut scheduled = false;
            self.read_due
                .update_value(|due| scheduled = !due.insert(room));
            if scheduled {
                return;
            }
            set_timeout(
                move || {
                    self.read_due.update_value(|due| {
                        due.remove(&room);
                    });
                    let seq = self
                        .logs
                        .with_untracked(|l| l.get(&room).map_or(0, |log| log.last_seq));
                    if let Some(socket) = self.socket() {
                        spawn_local(async move {
                            let _ = socket
                                .emit(&MarkRead { room_id: room, seq }, ACK_TIMEOUT_MS)
                                .await;
                        });
                    }
                },
                Duration::from_millis(500),
            );
        }

        /// Sends `text` optimistically: shown at once as pending, confirmed by the ack.
        pub fn send(self, room: RoomId, text: String) {
            let pending = Pending {
                client_id: new_client_id(),
                room_id: room,
                text,
                state: PendingState::Sending,
                error: None,
            };
            self.pending.update(|p| p.push(pending.clone()));
            self.save_pending();
            self.transmit(pending);
        }

        /// Sends a failed message again, with the same `clientId`.
        pub fn retry(self, client_id: String) {
            let mut found = None;
            self.pending.update(|p| {
                if let Some(m) = p.iter_mut().find(|m| m.client_id == client_id) {
                    m.state = PendingState::Sending;
                    m.error = None;
                    found = Some(m.clone());
                }
            });
            self.save_pending();
            if let Some(pending) = found {
                self.transmit(pending);
            }
        }

        /// Drops a failed message.
        pub fn discard(self, client_id: String) {
            self.settle_pending(&client_id);
        }

        fn transmit(self, pending: Pending) {
            let Some(socket) = self.socket() else { return };
            if !socket.is_connected() {
                // Resent by `on_connected`.
                return;
            }
            spawn_local(async move {
                let request = SendMessage {
                    room_id: pending.room_id,
                    text: pending.text.clone(),
                    client_id: Some(pending.client_id.clone()),
                };
                match socket.emit(&request, ACK_TIMEOUT_MS).await {
                    Ok(ack) => {
                        self.settle_pending(&pending.client_id);
                        self.apply_message(ack.message);
                    }
                    // Offline: it stays pending and is resent on reconnect.
                    Err(EmitError::Timeout) if !socket.is_connected() => {}
                    // Connected but no answer: the user may retry (the same clientId is safe).
                    Err(e) => {
                        // Not a member (left in another tab, which tells no other): offer the
                        // Join button; the message waits for a retry.
                        let room = pending.room_id;
                        if matches!(&e, EmitError::Server(b) if b.error == "forbidden")
                            && self.room(room).is_some_and(|r| !r.archived)
                        {
                            self.update_room(room, |r| r.member = Some(false));
                        }
                        self.pending.update(|p| {
                            if let Some(m) = p.iter_mut().find(|m| m.client_id == pending.client_id)
                            {
                                m.state = PendingState::Failed;
                                m.error = Some(e.to_string());
                            }
                        });
                        self.save_pending();
                    }
                }
            });
        }

        /// Edits one of the user's messages (admins: any).
        pub fn edit(self, message: MessageId, text: String) {
            let Some(socket) = self.socket() else { return };
            spawn_local(async move {
                match socket
                    .emit(
                        &EditMessage {
                            message_id: message,
                            text,
                        },
                        ACK_TIMEOUT_MS,
                    )
                    .await
                {
                    Ok(ack) => self.apply_message(ack.message),
                    Err(e) => self.notice.set(Some(e.to_string())),
                }
            });
        }

        /// Deletes a message (own; admins: any).
        pub fn delete(self, message: MessageId) {
            let Some(socket) = self.socket() else { return };
            spawn_local(async move {
                match socket
                    .emit(
                        &DeleteMessage {
                            message_id: message,
                        },
                        ACK_TIMEOUT_MS,
                    )
                    .await
                {
                    Ok(ack) => self.apply_message(ack.message),
                    Err(e) => self.notice.set(Some(e.to_string())),
                }
            });
        }

        /// Tells the room the user started or stopped typing.
        pub fn set_typing(self, room: RoomId, typing: bool) {
            let Some(socket) = self.socket() else { return };
            if !socket.is_connected() {
                return;
            }
            spawn_local(async move {
                let _ = socket
                    .emit(
                        &Typing {
                            room_id: room,
                            typing,
                        },
                        ACK_TIMEOUT_MS,
                    )
                    .await;
            });
        }

        /// Leaves a room, and offers it back (`left_room`).
        pub fn leave(self, room: RoomId) {
            let Some(socket) = self.socket() else { return };
            spawn_local(async move {
                match socket
                    .emit(&LeaveRoom { room_id: room }, ACK_TIMEOUT_MS)
                    .await
                {
                    Ok(_) => {
                        self.update_room(room, |r| {
                            r.member = Some(false);
                            r.unread = Some(0);
                            r.unread_mentions = Some(0);
                        });
                        // Its messages stay on screen as they stood: the user's sockets have
                        // left the room, so nothing new arrives until they join again.
                        self.typing.update(|t| {
                            t.remove(&room);
                        });
                        self.left_room.set(Some(room));
                    }
                    Err(e) => self.notice.set(Some(e.to_string())),
                }
            });
        }

        /// Signs out of this session (or all), closes the socket.
        pub fn sign_out(self, everywhere: bool) {
            spawn_local(async move {
                let _ = if everywhere {
                    api::logout_all().await
                } else {
                    api::logout().await
                };
                if let Some(socket) = self.socket() {
                    socket.disconnect();
                }
                // A fresh page: nothing of this session stays in the running app.
                super::load_page("/login");
            });
        }

        fn apply_presence(self, presence: Presence) {
            self.online.update(|online| {
                let list = online.entry(presence.room_id).or_default();
                list.retain(|u| !presence.left.iter().any(|l| l.id == u.id));
                for user in presence.joined {
                    if !list.iter().any(|u| u.id == user.id) {
                        list.push(user);
                    }
                }
            });
        }

        fn apply_typing(self, event: UserTyping) {
            self.typing.update(|typing| {
                let list = typing.entry(event.room_id).or_default();
                list.retain(|t| t.user.id != event.user.id);
                if event.typing {
                    list.push(TypingUser {
                        user: event.user,
                        until: now_ms() + TYPING_SHOWN_MS,
                    });
                }
            });
        }

        fn notify(self, n: Notification) {
            if !self.is_reading(n.room_id) {
                self.update_room(n.room_id, |r| {
                    r.unread_mentions = Some(r.unread_mentions.unwrap_or(0) + 1)
                });
            }
            if page_visible() {
                return;
            }
            if web_sys::Notification::permission() == web_sys::NotificationPermission::Granted {
                let options = web_sys::NotificationOptions::new();
                options.set_body(&n.text);
                let _ = web_sys::Notification::new_with_options(
                    &format!("{} mentioned you", n.from.username),
                    &options,
                );
            }
        }
    }
}

/// Outside the browser the actions do nothing: handlers never run during server rendering.
#[cfg(not(feature = "hydrate"))]
#[allow(missing_docs)]
impl Chat {
    pub fn start(self) {}
    pub fn open(self, _room: RoomId) {}
    pub fn catch_up(self, _room: RoomId, _since: i64) {}
    pub fn load_older(self, _room: RoomId) {}
    pub fn mark_read(self, _room: RoomId) {}
    pub fn send(self, _room: RoomId, _text: String) {}
    pub fn retry(self, _client_id: String) {}
    pub fn discard(self, _client_id: String) {}
    pub fn edit(self, _message: MessageId, _text: String) {}
    pub fn delete(self, _message: MessageId) {}
    pub fn set_typing(self, _room: RoomId, _typing: bool) {}
    pub fn leave(self, _room: RoomId) {}
    pub fn join(self, _room: RoomId) {}
    pub fn sign_out(self, _everywhere: bool) {}
}
