//! The session check, served from memory. Every socket event re-checks its caller (API.md: a
//! logout, ban or role change acts at once), and reading the session and user from SQLite on each
//! event was the largest cost of a message after the write itself. Every change that can end a
//! session or alter a caller (logout, logout-all, password change, ban, role change) goes through
//! this server and calls `invalidate` after its commit, which drops every cached answer: such
//! changes are rare, so the simplest correct invalidation wins.

use super::{CurrentUser, SessionId};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Beyond this many live sessions cached, the cache starts over (bounded memory).
const MAX_ENTRIES: usize = 65_536;

/// Answers of `find_session_user`, by session id, valid for one generation.
#[derive(Default)]
pub struct SessionCache {
    /// Bumped by every invalidation; an answer read before a bump is never served after it.
    generation: AtomicU64,
    entries: Mutex<HashMap<SessionId, (u64, CurrentUser)>>,
}

impl SessionCache {
    /// The generation to pass to `put` with an answer read from the database after this call.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The cached caller of `session_id`, if it belongs to `user_id` and nothing changed since.
    pub fn get(&self, user_id: i64, session_id: SessionId) -> Option<CurrentUser> {
        let now = self.generation();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(&session_id) {
            Some((generation, me)) if *generation == now && me.id.0 == user_id => Some(me.clone()),
            _ => None,
        }
    }

    /// Keeps `me`, read from the database after `generation()` returned `generation`. An answer
    /// read before an invalidation carries the old generation and is never served.
    pub fn put(&self, generation: u64, me: CurrentUser) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(me.session_id, (generation, me));
    }

    /// Forgets every answer; called after committing any change to sessions, roles or bans.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::models::{Role, UserId};

    fn session(n: u128) -> SessionId {
        SessionId::parse(&format!("{n:032x}")).unwrap()
    }

    fn caller(n: u128) -> CurrentUser {
        CurrentUser {
            id: UserId(7),
            username: "ana".into(),
            role: Role::User,
            session_id: session(n),
        }
    }

    #[test]
    fn serves_what_was_put_for_the_same_user_only() {
        let cache = SessionCache::default();
        cache.put(cache.generation(), caller(1));
        assert_eq!(cache.get(7, session(1)), Some(caller(1)));
        assert_eq!(cache.get(8, session(1)), None);
        assert_eq!(cache.get(7, session(2)), None);
    }

    #[test]
    fn an_answer_read_before_an_invalidation_is_never_served() {
        let cache = SessionCache::default();
        let before = cache.generation();
        cache.put(before, caller(1));
        cache.invalidate();
        assert_eq!(cache.get(7, session(1)), None);
        // A read that began before the invalidation and finishes after it.
        cache.put(before, caller(1));
        assert_eq!(cache.get(7, session(1)), None);
    }
}
