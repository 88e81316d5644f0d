//! The room list: my rooms (with unread and mention counts), other rooms to join, archived ones.

use crate::client::use_chat;
use crate::models::{Room, RoomId};
use leptos::prelude::*;
use leptos_router::components::A;

/// A count for a badge: the server counts unread messages only up to 100, so beyond 99 the
/// badge says "99+".
pub fn badge_count(count: i64) -> String {
    if count > 99 {
        "99+".to_owned()
    } else {
        count.to_string()
    }
}

fn room_link(room: Room, current: Memo<Option<RoomId>>) -> impl IntoView {
    let id = room.id;
    let unread = room.unread.unwrap_or(0);
    let mentions = room.unread_mentions.unwrap_or(0);
    let current_page = move || (current.get() == Some(id)).then_some("page");
    view! {
        <li>
            <A href=format!("/rooms/{id}") attr:aria-current=current_page attr:class="room-link">
                <span class="room-name">"# " {room.name.clone()}</span>
                {(mentions > 0).then(|| view! {
                    <span class="badge mention-badge" title="Mentions">"@" {badge_count(mentions)}</span>
                })}
                {(unread > 0).then(|| view! {
                    <span class="badge" aria-label=format!("{} unread", badge_count(unread))>{badge_count(unread)}</span>
                })}
            </A>
        </li>
    }
}

/// The sidebar list of rooms.
#[component]
pub fn RoomList(current: Memo<Option<RoomId>>) -> impl IntoView {
    let chat = use_chat();
    let section = move |pick: fn(&Room) -> bool| {
        move || {
            chat.rooms
                .get()
                .into_iter()
                .filter(&pick)
                .map(|r| room_link(r, current))
                .collect_view()
        }
    };
    let has =
        move |pick: fn(&Room) -> bool| move || chat.rooms.with(|rooms| rooms.iter().any(pick));
    view! {
        <nav class="room-list" aria-label="Rooms">
            <h2 id="your-rooms">"Your rooms"</h2>
            <ul aria-labelledby="your-rooms">{section(|r| r.member == Some(true) && !r.archived)}</ul>
            <Show when=has(|r| r.member != Some(true) && !r.archived)>
                <h2 id="other-rooms">"Other rooms"</h2>
                <ul class="other-rooms" aria-labelledby="other-rooms">
                    {section(|r| r.member != Some(true) && !r.archived)}
                </ul>
            </Show>
            <Show when=has(|r| r.archived)>
                <h2 id="archived-rooms">"Archived"</h2>
                <ul class="archived-rooms" aria-labelledby="archived-rooms">{section(|r| r.archived)}</ul>
            </Show>
        </nav>
    }
}
