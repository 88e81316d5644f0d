//! The open room: header (name, topic, who is online), messages, who is typing, the composer.

use super::composer::Composer;
use super::message_list::MessageList;
use crate::client::use_chat;
use crate::models::RoomId;
use leptos::prelude::*;

/// One room on screen.
#[component]
pub fn RoomView(room: RoomId) -> impl IntoView {
    let chat = use_chat();
    let info = move || chat.room(room);
    let name = move || info().map(|r| r.name).unwrap_or_default();
    let topic = move || info().map(|r| r.topic).unwrap_or_default();
    let archived = Signal::derive(move || info().is_some_and(|r| r.archived));
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
    view! {
        <section class="room" aria-labelledby="room-title">
            <header class="room-header">
                <div>
                    <h1 id="room-title">"# " {name}</h1>
                    <p class="topic">{topic}</p>
                </div>
                <div class="room-tools">
                    <details class="online">
                        <summary>{move || format!("{} online", online().len())}</summary>
                        <ul aria-label="Online">
                            {move || online().into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}
                        </ul>
                    </details>
                    <button class="secondary" on:click=move |_| chat.leave(room)>"Leave"</button>
                </div>
            </header>
            <MessageList room />
            <p class="typing" aria-live="polite">{typing}</p>
            <Composer room archived />
        </section>
    }
}
