//! Who is online, per user (counted once however many sockets), and the `presence` deltas of each
//! room, batched: changes are collected and flushed at most once per room per second, and a user
//! who goes and comes back within one batch is not announced at all. In memory, behind this one
//! type, so several instances can later share it through Redis.

use crate::bus::Bus;
use crate::events::{Event, SocketId};
use app::events;
use app::models::{RoomId, UserId, UserRef};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Delta {
    joined: BTreeMap<UserId, UserRef>,
    left: BTreeMap<UserId, UserRef>,
}

impl Delta {
    fn join(&mut self, user: &UserRef) {
        if self.left.remove(&user.id).is_none() {
            self.joined.insert(user.id, user.clone());
        }
    }

    fn leave(&mut self, user: &UserRef) {
        if self.joined.remove(&user.id).is_none() {
            self.left.insert(user.id, user.clone());
        }
    }

    fn is_empty(&self) -> bool {
        self.joined.is_empty() && self.left.is_empty()
    }
}

/// An online user.
struct Online {
    name: String,
    /// Connected sockets, by id: a connect and a disconnect of one socket arriving in either
    /// order, or twice, count once.
    sockets: HashSet<SocketId>,
    /// The rooms the user is a member of, kept here rather than read off the last socket when
    /// it closes: by then socketioxide may already have taken it out of its rooms (a client's
    /// close packet and its transport's close race), and its `left` would go nowhere.
    rooms: HashSet<RoomId>,
}

#[derive(Default)]
struct Inner {
    /// Online users.
    online: HashMap<UserId, Online>,
    /// Changes not yet announced, per room.
    pending: HashMap<RoomId, Delta>,
}

/// Online users and pending presence changes.
#[derive(Default)]
pub struct Presence {
    inner: Mutex<Inner>,
    /// In a cluster: who is online on any instance (Redis).
    shared: std::sync::OnceLock<Arc<dyn SharedPresence>>,
    /// Set when this instance shuts down (`stopping`).
    stopping: std::sync::atomic::AtomicBool,
}

/// Presence shared by a cluster's instances. Errors mean the store cannot answer now: this
/// instance then decides from its own sockets (presence may be stale meanwhile).
#[async_trait::async_trait]
pub trait SharedPresence: Send + Sync {
    /// Adds a socket of `user` unless the user has `cap` sockets open across the cluster
    /// (`None`); else whether it is the user's only one.
    async fn socket_up(
        &self,
        user: &UserRef,
        socket: SocketId,
        cap: usize,
    ) -> anyhow::Result<Option<bool>>;
    /// Removes a socket; whether the user has none left anywhere.
    async fn socket_down(&self, user: UserId, socket: SocketId) -> anyhow::Result<bool>;
    /// Those of `users` online on any instance.
    async fn online_among(&self, users: &[UserId]) -> anyhow::Result<Vec<UserRef>>;
    /// Users online and sockets open across the cluster.
    async fn totals(&self) -> anyhow::Result<(u64, u64)>;
}

/// Whether a new socket may open, and what the cluster said of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The user has `MAX_SOCKETS_PER_USER` sockets open already.
    Refused,
    /// Open it; in a cluster, whether it is the user's only socket anywhere (`None`: decide
    /// from this instance's sockets).
    Admitted(Option<bool>),
}

impl Presence {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A socket of `user` connected; the user is a member of `rooms` (as of its handshake).
    /// Joins a cluster: online-ness, counts and the socket cap become the cluster's.
    pub fn share(&self, shared: Arc<dyn SharedPresence>) {
        let _ = self.shared.set(shared);
    }

    /// Whether `user` may open another socket (`open`: theirs on this instance); in a cluster
    /// the socket is counted there at once.
    pub async fn admit(
        &self,
        user: &UserRef,
        socket: SocketId,
        cap: usize,
        open: usize,
    ) -> Admission {
        if let Some(shared) = self.shared.get() {
            match shared.socket_up(user, socket, cap).await {
                Ok(Some(only)) => return Admission::Admitted(Some(only)),
                Ok(None) => return Admission::Refused,
                Err(_) => metrics::counter!("shared_presence_fallbacks_total").increment(1),
            }
        }
        if open >= cap {
            Admission::Refused
        } else {
            Admission::Admitted(None)
        }
    }

    /// This instance is shutting down: see `release`.
    pub fn stopping(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Removes a closed socket from the cluster's count: whether it was the user's last one
    /// anywhere (`None` on a single instance, or when the cluster cannot answer).
    pub async fn release(&self, user: UserId, socket: SocketId) -> Option<bool> {
        let shared = self.shared.get()?;
        if self.stopping.load(std::sync::atomic::Ordering::Relaxed) {
            // Shutting down: the sockets stay in the cluster's presence until they expire, and
            // the other instances' sweep announces those users offline then, unless they came
            // back elsewhere meanwhile (a rolling restart shows no one leaving and coming back).
            return Some(false);
        }
        shared.socket_down(user, socket).await.ok()
    }

    /// This instance's sockets, by user: what it refreshes in the cluster's presence.
    pub fn local_sockets(&self) -> Vec<(UserRef, SocketId)> {
        let inner = self.lock();
        inner
            .online
            .iter()
            .flat_map(|(id, online)| {
                let user = UserRef {
                    id: *id,
                    username: online.name.clone(),
                };
                online.sockets.iter().map(move |s| (user.clone(), *s))
            })
            .collect()
    }

    /// Another instance made `user` a member of `room` (`true`) or not: this instance's record of
    /// their rooms follows, so their going offline here reaches that room too. The instance
    /// where it happened announces the change itself.
    pub fn member_elsewhere(&self, user: UserId, room: RoomId, member: bool) {
        let mut inner = self.lock();
        if let Some(entry) = inner.online.get_mut(&user) {
            if member {
                entry.rooms.insert(room);
            } else {
                entry.rooms.remove(&room);
            }
        }
    }

    /// A user whose sockets were all on an instance that stopped answering went offline: the
    /// rooms they are a member of hear of it.
    pub fn went_offline(&self, user: &UserRef, rooms: &[RoomId]) {
        let mut inner = self.lock();
        if inner.online.contains_key(&user.id) {
            return;
        }
        for room in rooms {
            inner.pending.entry(*room).or_default().leave(user);
        }
    }

    /// `only_anywhere`: what the cluster said of the socket at `admit` (a socket that is not
    /// the user's only one in the cluster announces no one).
    pub fn socket_connected(
        &self,
        user: &UserRef,
        socket: SocketId,
        rooms: &[RoomId],
        only_anywhere: Option<bool>,
    ) {
        let mut inner = self.lock();
        let entry = inner.online.entry(user.id).or_insert_with(|| Online {
            name: user.username.clone(),
            sockets: HashSet::new(),
            rooms: HashSet::new(),
        });
        entry.rooms.extend(rooms.iter().copied());
        if entry.sockets.insert(socket) && entry.sockets.len() == 1 && only_anywhere != Some(false)
        {
            let rooms: Vec<RoomId> = entry.rooms.iter().copied().collect();
            for room in rooms {
                inner.pending.entry(room).or_default().join(user);
            }
        }
    }

    /// A socket of `user` disconnected; with its last, the user leaves every room they are in.
    /// `last_anywhere`: what the cluster said at `release` (a user with sockets on another
    /// instance stays online).
    pub fn socket_disconnected(
        &self,
        user: &UserRef,
        socket: SocketId,
        last_anywhere: Option<bool>,
    ) {
        let mut inner = self.lock();
        let Some(entry) = inner.online.get_mut(&user.id) else {
            return;
        };
        if entry.sockets.remove(&socket)
            && entry.sockets.is_empty()
            && let Some(gone) = inner.online.remove(&user.id)
            && last_anywhere != Some(false)
        {
            for room in gone.rooms {
                inner.pending.entry(room).or_default().leave(user);
            }
        }
    }

    /// `user` became a member of `room`: announced if online.
    pub fn member_joined(&self, user: &UserRef, room: RoomId) {
        let mut inner = self.lock();
        if let Some(entry) = inner.online.get_mut(&user.id) {
            entry.rooms.insert(room);
            inner.pending.entry(room).or_default().join(user);
        }
    }

    /// `user` left `room`: announced if online.
    pub fn member_left(&self, user: &UserRef, room: RoomId) {
        let mut inner = self.lock();
        if let Some(entry) = inner.online.get_mut(&user.id) {
            entry.rooms.remove(&room);
            inner.pending.entry(room).or_default().leave(user);
        }
    }

    /// A deleted room has nothing more to announce.
    pub fn forget_room(&self, room: RoomId) {
        let mut inner = self.lock();
        inner.pending.remove(&room);
        for entry in inner.online.values_mut() {
            entry.rooms.remove(&room);
        }
    }

    /// Whether `user` has a connected socket.
    pub fn is_online(&self, user: UserId) -> bool {
        self.lock().online.contains_key(&user)
    }

    /// Users online and sockets open: the cluster's when it answers, else this instance's.
    pub async fn totals(&self) -> (u64, u64) {
        if let Some(shared) = self.shared.get()
            && let Ok(totals) = shared.totals().await
        {
            return totals;
        }
        let inner = self.lock();
        let sockets: usize = inner.online.values().map(|o| o.sockets.len()).sum();
        (inner.online.len() as u64, sockets as u64)
    }

    /// Those of `users` who are online: on any instance when the cluster answers, else here.
    pub async fn online_among(&self, users: &[UserId]) -> Vec<UserRef> {
        if let Some(shared) = self.shared.get()
            && let Ok(online) = shared.online_among(users).await
        {
            return online;
        }
        self.online_here(users)
    }

    /// Those of `users` with a socket on this instance.
    fn online_here(&self, users: &[UserId]) -> Vec<UserRef> {
        let inner = self.lock();
        users
            .iter()
            .filter_map(|id| {
                inner.online.get(id).map(|online| UserRef {
                    id: *id,
                    username: online.name.clone(),
                })
            })
            .collect()
    }

    fn take_pending(&self) -> Vec<(RoomId, Delta)> {
        let mut inner = self.lock();
        std::mem::take(&mut inner.pending)
            .into_iter()
            .filter(|(_, d)| !d.is_empty())
            .collect()
    }

    /// Announces pending changes once a second.
    pub fn spawn_flusher(self: Arc<Self>, bus: Arc<Bus>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                for (room, delta) in self.take_pending() {
                    let event = events::Presence {
                        room_id: room,
                        joined: delta.joined.into_values().collect(),
                        left: delta.left.into_values().collect(),
                    };
                    bus.publish(Event::Presence(event)).await;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl SocketId {
        fn new() -> Self {
            Self(rand::random())
        }
    }

    fn ana() -> UserRef {
        UserRef {
            id: UserId(1),
            username: "ana".into(),
        }
    }

    #[test]
    fn a_user_counts_once_across_sockets() {
        let presence = Presence::default();
        let (one, two) = (SocketId::new(), SocketId::new());
        presence.socket_connected(&ana(), one, &[RoomId(1)], None);
        presence.socket_connected(&ana(), two, &[RoomId(1)], None);
        let pending = presence.take_pending();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].1.joined.len(), 1);

        presence.socket_disconnected(&ana(), one, None);
        presence.socket_disconnected(&ana(), one, None);
        assert!(
            presence.is_online(UserId(1)),
            "the same socket twice counts once"
        );
        assert!(presence.take_pending().is_empty());
        presence.socket_disconnected(&ana(), two, None);
        assert!(!presence.is_online(UserId(1)));
        assert_eq!(presence.take_pending()[0].1.left.len(), 1);
    }

    #[test]
    fn the_last_socket_leaves_every_room_joined_since_the_handshake() {
        let presence = Presence::default();
        let socket = SocketId::new();
        presence.socket_connected(&ana(), socket, &[RoomId(1)], None);
        presence.member_joined(&ana(), RoomId(2));
        presence.take_pending();

        presence.socket_disconnected(&ana(), socket, None);

        let mut left: Vec<RoomId> = presence
            .take_pending()
            .into_iter()
            .filter(|(_, d)| d.left.contains_key(&UserId(1)))
            .map(|(room, _)| room)
            .collect();
        left.sort();
        assert_eq!(left, [RoomId(1), RoomId(2)]);
    }

    #[test]
    fn going_and_coming_back_within_a_batch_is_not_announced() {
        let presence = Presence::default();
        let (before, after) = (SocketId::new(), SocketId::new());
        presence.socket_connected(&ana(), before, &[RoomId(1)], None);
        presence.take_pending();
        presence.socket_disconnected(&ana(), before, None);
        presence.socket_connected(&ana(), after, &[RoomId(1)], None);
        assert!(presence.is_online(UserId(1)));
        assert!(presence.take_pending().is_empty());
    }
}
