//! The client's model of the chat, kept apart from the view so its rules are unit-tested: each
//! room's log applied in `seq` order without duplicates (gaps trigger a catch-up), and messages
//! typed but not yet acknowledged (pending), which survive reconnects and reloads.

use crate::models::{Message, MessageId, RoomId, UserId, UserRef};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What applying an event to a room's log did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The change was new and is now shown.
    Applied,
    /// Already seen (a duplicate from a catch-up overlapping live events): ignored.
    Seen,
    /// Applied, but it skipped `seq`s: the client must catch up from the previous `last_seq`.
    Gap {
        /// Catch up with `since` = this.
        since: i64,
    },
}

/// One room's messages as the client knows them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoomLog {
    /// Messages by id (ids grow with creation, so this is display order).
    pub messages: BTreeMap<MessageId, Message>,
    /// The highest `seq` applied with nothing missing before it.
    pub last_seq: i64,
    /// Whether older history may exist beyond the oldest loaded message.
    pub has_older: bool,
}

impl RoomLog {
    /// A log that starts from a page of history (the newest messages, oldest first) read when
    /// the room stood at `last_seq`; changes after that come as events or catch-ups.
    pub fn from_history(messages: Vec<Message>, has_older: bool, last_seq: i64) -> Self {
        // A room list read before the page may be behind it: the page's own changes count too.
        let newest = messages.iter().map(|m| m.seq).max().unwrap_or(0);
        let mut log = RoomLog {
            last_seq: last_seq.max(newest),
            ..Default::default()
        };
        log.add_history(messages, has_older);
        log
    }

    /// Applies a new, edited or deleted message. Changes at or below `last_seq` were applied
    /// before (or superseded); a change beyond `last_seq + 1` reveals a gap.
    pub fn apply(&mut self, message: Message) -> Applied {
        if message.seq <= self.last_seq {
            return Applied::Seen;
        }
        let since = self.last_seq;
        let contiguous = message.seq == self.last_seq + 1;
        self.upsert(message);
        if contiguous {
            self.last_seq += 1;
            Applied::Applied
        } else {
            Applied::Gap { since }
        }
    }

    /// Applies a catch-up page (changes after `since`, in `seq` order); moves `last_seq` to the
    /// page's end.
    pub fn apply_catch_up(&mut self, messages: Vec<Message>) {
        for message in messages {
            self.last_seq = self.last_seq.max(message.seq);
            self.upsert(message);
        }
    }

    /// Adds older history (not part of the change log: `last_seq` is unchanged).
    pub fn add_history(&mut self, messages: Vec<Message>, has_older: bool) {
        for message in messages {
            self.messages.entry(message.id).or_insert(message);
        }
        self.has_older = has_older;
    }

    /// The latest version wins: an edit or tombstone replaces what is shown.
    fn upsert(&mut self, message: Message) {
        match self.messages.get(&message.id) {
            Some(shown) if shown.seq >= message.seq => {}
            _ => {
                self.messages.insert(message.id, message);
            }
        }
    }

    /// The oldest loaded message, for paging history backwards.
    pub fn oldest(&self) -> Option<MessageId> {
        self.messages.keys().next().copied()
    }

    /// The newest message by `user` that is still there to edit (Up in an empty composer).
    pub fn last_editable(&self, user: UserId) -> Option<MessageId> {
        self.messages
            .values()
            .rev()
            .find(|m| m.user.id == user && !m.deleted)
            .map(|m| m.id)
    }
}

/// The state of a message the user sent that the server has not confirmed yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PendingState {
    /// On its way (or waiting for the connection).
    Sending,
    /// Refused or timed out: the user may retry.
    Failed,
}

/// A message typed and not yet acknowledged; its `client_id` makes resending it safe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The idempotency key.
    pub client_id: String,
    /// Where it goes.
    pub room_id: RoomId,
    /// What was typed.
    pub text: String,
    /// Sending or failed.
    pub state: PendingState,
    /// Why it failed, to show.
    #[serde(default)]
    pub error: Option<String>,
}

/// One row of the message list: where a new author or a new day starts a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The message.
    pub message: Message,
    /// Show the author's name (first of a run by this author).
    pub starts_group: bool,
    /// Show a day divider with this date (`YYYY-MM-DD`) above.
    pub day: Option<String>,
}

/// Groups messages for display: by author and by day; tombstones are shown as such by the view.
pub fn rows(messages: &BTreeMap<MessageId, Message>) -> Vec<Row> {
    let mut rows = Vec::with_capacity(messages.len());
    let mut previous: Option<(&UserRef, &str)> = None;
    for message in messages.values() {
        let day = message.created_at.get(..10).unwrap_or("");
        let new_day = previous.is_none_or(|(_, d)| d != day);
        let starts_group = new_day || previous.is_none_or(|(u, _)| u.id != message.user.id);
        rows.push(Row {
            message: message.clone(),
            starts_group,
            day: new_day.then(|| day.to_owned()),
        });
        previous = Some((&message.user, day));
    }
    rows
}

/// A piece of message text: plain, or a link to make clickable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment<'a> {
    /// Shown as text.
    Text(&'a str),
    /// An `http(s)://` link.
    Link(&'a str),
    /// `@username`.
    Mention(&'a str),
}

/// Splits text into plain text, links and mentions. Only `http://` and `https://` become links,
/// so a `javascript:` URL is never clickable.
pub fn segments(text: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    let is_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    while !rest.is_empty() {
        let link = ["https://", "http://"]
            .iter()
            .filter_map(|p| rest.find(p))
            .min();
        let mention = rest
            .char_indices()
            .find(|&(i, c)| c == '@' && !rest[..i].chars().next_back().is_some_and(is_name))
            .map(|(i, _)| i);
        let next = match (link, mention) {
            (Some(l), Some(m)) => Some(l.min(m)),
            (l, m) => l.or(m),
        };
        let Some(start) = next else {
            out.push(Segment::Text(rest));
            break;
        };
        if start > 0 {
            out.push(Segment::Text(&rest[..start]));
        }
        let tail = &rest[start..];
        if Some(start) == link {
            let end = tail.find(char::is_whitespace).unwrap_or(tail.len());
            // Trailing punctuation ends the sentence, not the link.
            let url = tail[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'', '"']);
            out.push(Segment::Link(url));
            rest = &tail[url.len()..];
        } else {
            let len = tail[1..]
                .find(|c: char| !is_name(c))
                .map_or(tail.len(), |n| n + 1);
            let name = tail[1..len].trim_end_matches('.');
            if name.len() >= 3 {
                out.push(Segment::Mention(&tail[..name.len() + 1]));
                rest = &tail[name.len() + 1..];
            } else {
                out.push(Segment::Text(&tail[..1]));
                rest = &tail[1..];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: i64, seq: i64, text: &str) -> Message {
        Message {
            id: MessageId(id),
            room_id: RoomId(1),
            seq,
            user: UserRef {
                id: UserId(1),
                username: "ana".into(),
            },
            text: text.into(),
            client_id: None,
            created_at: "2026-01-01T10:00:00.000Z".into(),
            edited_at: None,
            deleted: false,
        }
    }

    #[test]
    fn events_apply_in_order_and_duplicates_are_ignored() {
        let mut log = RoomLog::default();
        assert_eq!(log.apply(message(1, 1, "a")), Applied::Applied);
        assert_eq!(log.apply(message(2, 2, "b")), Applied::Applied);
        assert_eq!(log.apply(message(2, 2, "b")), Applied::Seen);
        assert_eq!(log.messages.len(), 2);
        assert_eq!(log.last_seq, 2);
    }

    #[test]
    fn a_skipped_seq_asks_for_a_catch_up_from_the_last_applied() {
        let mut log = RoomLog::default();
        log.apply(message(1, 1, "a"));
        assert_eq!(log.apply(message(4, 4, "d")), Applied::Gap { since: 1 });
        log.apply_catch_up(vec![
            message(2, 2, "b"),
            message(3, 3, "c"),
            message(4, 4, "d"),
        ]);
        assert_eq!(log.last_seq, 4);
        assert_eq!(log.messages.len(), 4);
    }

    #[test]
    fn an_edit_replaces_and_an_older_version_does_not() {
        let mut log = RoomLog::default();
        log.apply(message(1, 1, "a"));
        log.apply(message(1, 2, "a, edited"));
        assert_eq!(log.messages[&MessageId(1)].text, "a, edited");
        log.apply_catch_up(vec![message(1, 1, "a")]);
        assert_eq!(log.messages[&MessageId(1)].text, "a, edited");
    }

    #[test]
    fn a_log_from_history_starts_at_the_newest_change_it_knows() {
        let page = vec![message(1, 1, "a"), message(2, 5, "b, edited")];
        assert_eq!(RoomLog::from_history(page.clone(), true, 3).last_seq, 5);
        let log = RoomLog::from_history(page, true, 7);
        assert_eq!(log.last_seq, 7);
        assert!(log.has_older);
        assert_eq!(log.messages.len(), 2);
    }

    #[test]
    fn the_last_editable_message_is_the_newest_of_mine_not_deleted() {
        let mut log = RoomLog::default();
        log.apply(message(1, 1, "mine"));
        let mut theirs = message(2, 2, "theirs");
        theirs.user.id = UserId(2);
        log.apply(theirs);
        let mut gone = message(3, 3, "");
        gone.deleted = true;
        log.apply(gone);
        assert_eq!(log.last_editable(UserId(1)), Some(MessageId(1)));
        assert_eq!(log.last_editable(UserId(3)), None);
    }

    #[test]
    fn rows_group_by_author_and_day() {
        let mut messages = BTreeMap::new();
        for (id, user, day) in [(1, 1, "01"), (2, 1, "01"), (3, 2, "01"), (4, 2, "02")] {
            let mut m = message(id, id, "x");
            m.user.id = UserId(user);
            m.created_at = format!("2026-01-{day}T10:00:00.000Z");
            messages.insert(m.id, m);
        }
        let rows = rows(&messages);
        let starts: Vec<bool> = rows.iter().map(|r| r.starts_group).collect();
        assert_eq!(starts, [true, false, true, true]);
        assert_eq!(rows[0].day.as_deref(), Some("2026-01-01"));
        assert_eq!(rows[1].day, None);
        assert_eq!(rows[3].day.as_deref(), Some("2026-01-02"));
    }

    #[test]
    fn links_and_mentions_are_split_out() {
        assert_eq!(
            segments("see https://example.org/a?b=1. thanks @ana!"),
            [
                Segment::Text("see "),
                Segment::Link("https://example.org/a?b=1"),
                Segment::Text(". thanks "),
                Segment::Mention("@ana"),
                Segment::Text("!"),
            ]
        );
        assert_eq!(
            segments("javascript:alert(1)"),
            [Segment::Text("javascript:alert(1)")]
        );
        assert_eq!(segments("mail a@b.org"), [Segment::Text("mail a@b.org")]);
    }
}
