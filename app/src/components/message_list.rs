//! The messages of a room: grouped by author and day, relative times, pending sends with retry,
//! edit and delete of one's own (admins: delete any). Older messages load when scrolling up
//! without a jump; new ones scroll into view only when the user is already at the bottom,
//! otherwise a "new messages" pill appears.

use super::text::{MessageText, relative_time};
use crate::chat::{PendingState, Row, rows};
use crate::client::use_chat;
use crate::models::{MessageId, RoomId};
use leptos::html::Div;
use leptos::prelude::*;

/// How close to the bottom (px) counts as "at the bottom".
const BOTTOM_SLACK: i32 = 48;

/// The message list of `room`.
#[component]
pub fn MessageList(room: RoomId) -> impl IntoView {
    let chat = use_chat();
    let list = NodeRef::<Div>::new();
    let at_bottom = RwSignal::new(true);
    let unseen = RwSignal::new(false);
    let editing = RwSignal::new(None::<MessageId>);
    // Distance from the bottom to keep while older messages are prepended.
    let anchor = StoredValue::new(None::<i32>);
    let rows = Memo::new(move |_| {
        chat.logs.with(|logs| {
            logs.get(&room)
                .map(|log| rows(&log.messages))
                .unwrap_or_default()
        })
    });
    let pending = Memo::new(move |_| {
        chat.pending.with(|p| {
            p.iter()
                .filter(|m| m.room_id == room)
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    let has_older = move || {
        chat.logs
            .with_untracked(|l| l.get(&room).is_some_and(|log| log.has_older))
    };

    let scroll_to_bottom = move || {
        if let Some(el) = list.get_untracked() {
            el.set_scroll_top(el.scroll_height());
        }
        unseen.set(false);
        at_bottom.set(true);
    };

    Effect::new(move |previous: Option<usize>| {
        let count = rows.with(Vec::len) + pending.with(Vec::len);
        request_animation_frame(move || {
            let Some(el) = list.get_untracked() else {
                return;
            };
            if let Some(from_bottom) = anchor.get_value() {
                anchor.set_value(None);
                el.set_scroll_top(el.scroll_height() - from_bottom);
            } else if at_bottom.get_untracked() {
                el.set_scroll_top(el.scroll_height());
            } else if previous.is_some_and(|p| count > p) {
                unseen.set(true);
            }
        });
        count
    });

    let on_scroll = move |_| {
        let Some(el) = list.get_untracked() else {
            return;
        };
        let bottom = el.scroll_height() - el.scroll_top() - el.client_height() <= BOTTOM_SLACK;
        at_bottom.set(bottom);
        if bottom {
            unseen.set(false);
            chat.mark_read(room);
        }
        if el.scroll_top() < BOTTOM_SLACK && has_older() && anchor.get_value().is_none() {
            anchor.set_value(Some(el.scroll_height() - el.scroll_top()));
            chat.load_older(room);
        }
    };

    let me = move || {
        chat.me
            .with(|m| m.as_ref().map(|u| (u.id, u.username.clone())))
    };
    let render_row = move |row: Row| {
        let message = row.message;
        let id = message.id;
        let (my_id, my_name) = me().unzip();
        let mine = my_id == Some(message.user.id);
        let may_delete = (mine || chat.is_admin()) && !message.deleted;
        let may_edit = mine && !message.deleted;
        let created = message.created_at.clone();
        let text = message.text.clone();
        let edit_text = RwSignal::new(message.text.clone());
        view! {
            {row.day.map(|day| view! { <li class="day" role="separator">{day}</li> })}
            <li class="message" class:grouped=!row.starts_group class:mine=mine data-seq=message.seq>
                {row.starts_group.then(|| {
                    let datetime = created.clone();
                    view! {
                        <div class="meta">
                            <span class="author">{message.user.username.clone()}</span>
                            <time datetime=datetime>{move || relative_time(&created, chat.now.get())}</time>
                        </div>
                    }
                })}
                {move || {
                    if message.deleted {
                        view! { <p class="text tombstone">"Message deleted"</p> }.into_any()
                    } else if editing.get() == Some(id) {
                        view! {
                            <form class="edit" on:submit=move |ev| {
                                ev.prevent_default();
                                chat.edit(id, edit_text.get_untracked());
                                editing.set(None);
                            }>
                                <label class="visually-hidden" for=format!("edit-{id}")>"Edit message"</label>
                                <textarea id=format!("edit-{id}") prop:value=move || edit_text.get()
                                    on:input=move |ev| edit_text.set(event_target_value(&ev))></textarea>
                                <button type="submit">"Save"</button>
                                <button type="button" class="secondary" on:click=move |_| editing.set(None)>"Cancel"</button>
                            </form>
                        }.into_any()
                    } else {
                        view! {
                            <p class="text">
                                <MessageText text=text.clone() me=my_name.clone() />
                                {message.edited_at.is_some().then(|| view! { <span class="edited">" (edited)"</span> })}
                            </p>
                        }.into_any()
                    }
                }}
                <div class="actions">
                    {may_edit.then(|| view! {
                        <button class="link" on:click=move |_| editing.set(Some(id))>"Edit"</button>
                    })}
                    {may_delete.then(|| view! {
                        <button class="link danger" on:click=move |_| chat.delete(id)>"Delete"</button>
                    })}
                </div>
            </li>
        }
    };

    view! {
        <div class="messages" node_ref=list on:scroll=on_scroll tabindex="0" aria-label="Message history">
            <ol>
                <For each=move || rows.get() key=|row| (row.message.id, row.message.seq) children=render_row />
                <For
                    each=move || pending.get()
                    key=|p| (p.client_id.clone(), p.state)
                    children=move |p| {
                        let client_id = p.client_id.clone();
                        let retry_id = p.client_id.clone();
                        view! {
                            <li class="message mine pending" class:failed=p.state == PendingState::Failed>
                                <p class="text">{p.text.clone()}</p>
                                {match p.state {
                                    PendingState::Sending => view! { <span class="status">"Sending…"</span> }.into_any(),
                                    PendingState::Failed => view! {
                                        <span class="status" role="alert">"Not sent: " {p.error.clone().unwrap_or_default()}</span>
                                        <button class="link" on:click=move |_| chat.retry(retry_id.clone())>"Retry"</button>
                                        <button class="link" on:click=move |_| chat.discard(client_id.clone())>"Discard"</button>
                                    }.into_any(),
                                }}
                            </li>
                        }
                    }
                />
            </ol>
        </div>
        <Show when=move || unseen.get()>
            <button class="pill" on:click=move |_| scroll_to_bottom()>"New messages ↓"</button>
        </Show>
    }
}
