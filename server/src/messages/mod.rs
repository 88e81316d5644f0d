//! Messages: the rules of sending, editing, deleting and reading a room's log. The socket
//! handlers and the HTTP routes both call these.

pub mod http;
pub mod writer;

use crate::auth::CurrentUser;
use crate::error::{AppError, Result};
use crate::rooms;
use crate::state::AppState;
use app::events::{DeleteMessage, EditMessage, SendMessage};
use app::models::{Message, MessageId, RoomId};
use app::validate::{ClientId, MessageText};
use writer::{Applied, Change};

/// Changes returned by one catch-up call (API.md `joinRoom`).
pub const CATCH_UP_PAGE: i64 = 500;
/// History page size when none is asked for.
pub const HISTORY_DEFAULT: i64 = 50;
/// The largest history page.
pub const HISTORY_MAX: i64 = 200;

/// About how many bytes `message` takes as JSON: its text and names plus the fixed fields. For
/// page sizes and what a socket has queued, where an estimate serves.
pub fn approx_json_bytes(message: &Message) -> usize {
    const FIXED_FIELDS: usize = 200;
    FIXED_FIELDS
        + message.text.len()
        + message.user.username.len()
        + message.client_id.as_ref().map_or(0, String::len)
}

/// Cuts `messages` after the first ones that fit in `max_bytes` of JSON (always keeping one);
/// true if it cut any. A history or catch-up page then says `hasMore: true`: 500 messages of
/// 4,000 characters would otherwise be 8 MB in one reply (`PAGE_MAX_KIB`).
fn cut_to_page_bytes(messages: &mut Vec<Message>, max_bytes: usize) -> bool {
    let mut total = 0;
    let keep = messages
        .iter()
        .position(|m| {
            total += approx_json_bytes(m);
            total > max_bytes
        })
        .map_or(messages.len(), |over| over.max(1));
    let cut = keep < messages.len();
    messages.truncate(keep);
    cut
}

/// `sendMessage`: validated, authorized, committed, broadcast; a repeated `clientId` returns the
/// stored message and broadcasts nothing.
pub async fn send_message(
    state: &AppState,
    me: &CurrentUser,
    input: SendMessage,
) -> Result<Applied> {
    let (done, outcome) = writer::answer();
    send_message_then(state, me, input, (), done).await;
    outcome.await
}

/// `send_message`, for a socket: `done` runs with the outcome right after the broadcast, on the
/// writer's broadcasting task (see `writer::Done`). `in_order` (the socket's turn in its send
/// order) is held until the change is queued, so one client's sends keep their order.
pub async fn send_message_then<T>(
    state: &AppState,
    me: &CurrentUser,
    input: SendMessage,
    in_order: T,
    done: impl FnOnce(Result<Applied>) + Send + 'static,
) {
    let change = match prepare_send(state, me, input).await {
        Ok(Ok(change)) => change,
        Ok(Err(stored)) => return done(Ok(stored)),
        Err(e) => return done(Err(e)),
    };
    let (counts, user) = (state.clone(), me.id);
    let counted = move |outcome: Result<Applied>| {
        match &outcome {
            Ok(applied) if applied.is_new => {
                metrics::counter!("messages_sent_total").increment(1);
            }
            // Refused, or a retry of a stored message: it does not count against the rate.
            _ => counts.message_rate.give_back(&user),
        }
        done(outcome)
    };
    state.writer.enqueue(change, Box::new(counted)).await;
    drop(in_order);
}

/// Validates a send and counts it against `MESSAGE_RATE`: the change to queue, or the stored
/// message when a rate-limited send is a retry of one.
async fn prepare_send(
    state: &AppState,
    me: &CurrentUser,
    input: SendMessage,
) -> Result<std::result::Result<Change, Applied>> {
    let text = MessageText::parse(&input.text)?;
    let client_id = input
        .client_id
        .as_deref()
        .map(ClientId::parse)
        .transpose()?;
    // Counted before the send, so concurrent sends cannot all slip under the limit; refunded
    // when it turns out not to count (refused, or a retry of a stored message).
    if !state.message_rate.hit(&me.id).await {
        // A retry of a message already stored is answered even when limited.
        if let Some(retried) = &client_id
            && let Some(message) = state
                .store
                .find_by_client_id(me.id, retried.as_str())
                .await?
        {
            return Ok(Err(Applied {
                message,
                is_new: false,
            }));
        }
        return Err(AppError::RateLimited(
            "You are sending too fast; wait a moment.".into(),
        ));
    }
    Ok(Ok(Change::Send {
        me: me.clone(),
        room: input.room_id,
        text,
        client_id,
    }))
}

/// `editMessage`.
pub async fn edit_message(
    state: &AppState,
    me: &CurrentUser,
    input: EditMessage,
) -> Result<Message> {
    let text = MessageText::parse(&input.text)?;
    let change = Change::Edit {
        me: me.clone(),
        message: input.message_id,
        text,
    };
    Ok(state.writer.submit(change).await?.message)
}

/// `deleteMessage`: the tombstone.
pub async fn delete_message(
    state: &AppState,
    me: &CurrentUser,
    input: DeleteMessage,
) -> Result<Message> {
    let change = Change::Delete {
        me: me.clone(),
        message: input.message_id,
    };
    Ok(state.writer.submit(change).await?.message)
}

/// History without tombstones, oldest first, and whether older messages exist. Any signed-in
/// user may read any room (API.md: every room is public in v1).
pub async fn history(
    state: &AppState,
    room: RoomId,
    before: Option<MessageId>,
    limit: Option<i64>,
) -> Result<(Vec<Message>, bool)> {
    let limit = limit.unwrap_or(HISTORY_DEFAULT);
    if !(1..=HISTORY_MAX).contains(&limit) {
        return Err(AppError::InvalidInput("limit must be 1 to 200.".into()));
    }
    rooms::find_room(state, room).await?;
    let mut messages = state.store.history(room, before, limit + 1).await?;
    let mut has_more = messages.len() as i64 > limit;
    messages.truncate(limit as usize);
    // Newest first here: a cut keeps the newest, and the client pages on from the oldest kept.
    has_more |= cut_to_page_bytes(&mut messages, state.config.page_max_bytes());
    messages.reverse();
    Ok((messages, has_more))
}

/// The room's changes after `since`, one page, and whether more follow.
pub async fn changes_since(
    state: &AppState,
    room: RoomId,
    since: i64,
) -> Result<(Vec<Message>, bool)> {
    let mut messages = state
        .store
        .changes_since(room, since, CATCH_UP_PAGE + 1)
        .await?;
    let mut has_more = messages.len() as i64 > CATCH_UP_PAGE;
    messages.truncate(CATCH_UP_PAGE as usize);
    has_more |= cut_to_page_bytes(&mut messages, state.config.page_max_bytes());
    Ok((messages, has_more))
}
