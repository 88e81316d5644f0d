//! `/` and `/rooms/:id`: the app shell (rooms, the open room, the connection banner); the tab's
//! title counts unread messages.

use crate::client::{Connection, use_chat};
use crate::components::banner::Banner;
use crate::components::room_list::{RoomList, badge_count};
use crate::components::room_view::RoomView;
use crate::models::RoomId;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};

/// The tab's title: "(3) Tagarela" with three unread messages, so they show from other tabs.
pub fn tab_title(unread: i64) -> String {
    if unread > 0 {
        format!("({}) Tagarela", badge_count(unread))
    } else {
        "Tagarela".to_owned()
    }
}

/// The chat.
#[component]
pub fn ChatPage() -> impl IntoView {
    let chat = use_chat();
    let params = use_params_map();
    let room = Memo::new(move |_| {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse().ok())
            .map(RoomId)
    });
    Effect::new(move |_| chat.start());
    Effect::new(move |_| match room.get() {
        Some(id) => chat.open(id),
        None => chat.open_room.set(None),
    });
    let navigate = use_navigate();
    Effect::new(move |_| {
        if chat.connection.get() == Connection::SignedOut {
            navigate("/login", Default::default());
        }
    });
    // A room deleted while open: back to the list.
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(id) = room.get()
            && chat.connection.get() == Connection::Connected
            && !chat.rooms.with(|r| r.is_empty())
            && chat.room(id).is_none()
        {
            navigate("/", Default::default());
        }
    });
    let username = move || {
        chat.me
            .with(|m| m.as_ref().map(|u| u.username.clone()).unwrap_or_default())
    };
    let enable_notifications = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let _ = web_sys::Notification::request_permission();
        }
    };
    let left_name = move || {
        chat.left_room
            .get()
            .and_then(|id| chat.room(id))
            .map(|r| r.name)
    };
    let undo_leave = move |_| {
        if let Some(id) = chat.left_room.get_untracked() {
            chat.join(id);
        }
    };
    view! {
        <Title text=move || tab_title(chat.unread_total()) />
        <div class="app">
            <header class="topbar">
                <A href="/" attr:class="brand">"Tagarela"</A>
                <Banner />
                <nav class="account" aria-label="Account">
                    <span class="me">{username}</span>
                    <button class="link" on:click=enable_notifications>"Notifications"</button>
                    <Show when=move || chat.is_admin()>
                        <a href="/admin" rel="external">"Admin"</a>
                    </Show>
                    <A href="/settings">"Settings"</A>
                    <button class="link" on:click=move |_| chat.sign_out(false)>"Sign out"</button>
                </nav>
            </header>
            // Always there, so that what appears in it is announced.
            <div role="status" class="toasts">
                {move || left_name().map(|name| view! {
                    <p class="notice info">
                        {format!("You left # {name}.")}
                        <button class="link" on:click=undo_leave>"Undo"</button>
                        <button class="link" on:click=move |_| chat.left_room.set(None)>"Dismiss"</button>
                    </p>
                })}
            </div>
            <Show when=move || chat.notice.get().is_some()>
                <p class="notice" role="alert">
                    {move || chat.notice.get()}
                    <button class="link" on:click=move |_| chat.notice.set(None)>"Dismiss"</button>
                </p>
            </Show>
            <div class="layout" class:room-open=move || room.get().is_some()>
                <RoomList current=room />
                <div class="main">
                    {move || match room.get() {
                        Some(id) => view! { <RoomView room=id /> }.into_any(),
                        None => view! { <p class="empty">"Pick a room to start talking."</p> }.into_any(),
                    }}
                </div>
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tab_title_counts_unread_messages_as_the_badges_do() {
        assert_eq!(tab_title(0), "Tagarela");
        assert_eq!(tab_title(3), "(3) Tagarela");
        assert_eq!(tab_title(250), "(99+) Tagarela");
    }
}
