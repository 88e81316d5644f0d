//! The open room: header (name, topic, who is online), messages, who is typing, and the composer,
//! or, in a room the user is not in, a Join button in its place.

use super::composer::Composer;
use super::message_list::{Editing, MessageList};
use crate::client::use_chat;
use crate::models::RoomId;
use leptos::html::{Button, Textarea};
use leptos::prelude::*;

/// What takes the composer's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Membership {
    /// The room list has not loaded yet: nothing, rather than a composer that then vanishes.
    Unknown,
    /// The user may write here (read-only when archived).
    Member,
    /// Not the user's room: shown as it stands, with a Join button.
    Visitor,
}

/// One room on screen.
#[component]
pub fn RoomView(room: RoomId) -> impl IntoView {
    let chat = use_chat();
    let info = move || chat.room(room);
    let name = move || info().map(|r| r.name).unwrap_or_default();
    let topic = move || info().map(|r| r.topic).unwrap_or_default();
    let archived = Signal::derive(move || info().is_some_and(|r| r.archived));
    // A memo: the room list changes with every unread count, the composer must not.
    let membership = Memo::new(move |_| match info() {
        None => Membership::Unknown,
        Some(r) if r.member == Some(true) => Membership::Member,
        Some(_) => Membership::Visitor,
    });
    let editing = RwSignal::new(None::<Editing>);
    let composer = NodeRef::<Textarea>::new();
    let online = move || {
        chat.online.with(|o| {
            o.get(&room)
                .map(|users| users.iter().map(|u| u.username.clone()).collect::<Vec<_>>())
                .unwrap_or_default()
        })
    };
    let typing = move || {
        let names: Vec<String> = chat.typing.with(|t| {
            t.get(&room)
                .map(|v| v.iter().map(|u| u.user.username.clone()).collect())
                .unwrap_or_default()
        });
        match names.as_slice() {
            [] => String::new(),
            [one] => format!("{one} is typing…"),
            [a, b] => format!("{a} and {b} are typing…"),
            _ => "Several people are typing…".to_owned(),
        }
    };
    let join_bar = move || {
        if archived.get() {
            return view! {
                <p class="join-bar">"This room is archived: it is read-only."</p>
            }
            .into_any();
        }
        // Just left with the Leave button, which is gone: the focus moves here, not to the page.
        let join = NodeRef::<Button>::new();
        join.on_load(move |b| {
            if chat.left_room.get_untracked() == Some(room) {
                let _ = b.focus();
            }
        });
        view! {
            <div class="join-bar">
                <p>"You are not in this room. Join it to write here and to get its new messages."</p>
                <button node_ref=join on:click=move |_| chat.join(room)>"Join room"</button>
            </div>
        }
        .into_any()
    };
    view! {
        <section class="room" aria-labelledby="room-title">
            <header class="room-header">
                <div>
                    <h1 id="room-title">"# " {name}</h1>
                    <p class="topic">{topic}</p>
                </div>
                <Show when=move || membership.get() == Membership::Member>
                    <div class="room-tools">
                        <details class="online">
                            <summary>{move || format!("{} online", online().len())}</summary>
                            <ul aria-label="Online">
                                {move || online().into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}
                            </ul>
                        </details>
                        <button class="secondary" on:click=move |_| chat.leave(room)>"Leave"</button>
                    </div>
                </Show>
            </header>
            <MessageList room editing composer />
            <p class="typing" aria-live="polite">{typing}</p>
            {move || match membership.get() {
                Membership::Member => view! { <Composer room archived editing field=composer /> }.into_any(),
                Membership::Visitor => join_bar().into_any(),
                Membership::Unknown => view! { <div class="join-bar" aria-hidden="true"></div> }.into_any(),
            }}
        </section>
    }
}
