//! The messages of a room: grouped by author and day, relative times (the exact one on hover),
//! pending sends with retry, edit and delete of one's own (admins: delete any), every action a
//! button reachable from the keyboard, delete confirmed first. Older messages load when scrolling
//! up without a jump; new ones scroll into view only when the user is already at the bottom,
//! otherwise a "new messages" pill appears.

use super::text::{MessageText, full_time, relative_time};
use crate::chat::{PendingState, Row, rows};
use crate::client::use_chat;
use crate::models::{MessageId, RoomId};
use leptos::html::{Button, Div, Textarea};
use leptos::prelude::*;

/// The message being edited, and where the focus goes back to when the edit ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Editing {
    /// The message.
    pub message: MessageId,
    /// Started by Up in the composer (the focus goes back there) rather than by the message's
    /// Edit button (back to that button).
    pub from_composer: bool,
}

/// Moves the focus to `element`, if it is on the page.
fn focus(element: Option<impl AsRef<leptos::web_sys::HtmlElement>>) {
    if let Some(el) = element {
        let _ = el.as_ref().focus();
    }
}

/// How close to the bottom (px) counts as "at the bottom".
const BOTTOM_SLACK: i32 = 48;

/// The message list of `room`. `editing` is shared with the composer (Up edits the last message);
/// `composer` is where the focus goes when an action started there ends or leaves nothing to focus.
#[component]
pub fn MessageList(
    room: RoomId,
    editing: RwSignal<Option<Editing>>,
    composer: NodeRef<Textarea>,
) -> impl IntoView {
    let chat = use_chat();
    let list = NodeRef::<Div>::new();
    let at_bottom = RwSignal::new(true);
    let unseen = RwSignal::new(false);
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
    // Rows are keyed by message id and follow their message through edits and deletion, so an
    // edit does not redraw the row and the focus stays where it was (on its Edit button).
    let render_row = move |row: Row| {
        let id = row.message.id;
        let author = row.message.user.clone();
        let created = row.message.created_at.clone();
        // Rows are in id order (the log is a map by id).
        let current = Memo::new(move |_| {
            rows.with(|rows| {
                rows.binary_search_by_key(&id, |r| r.message.id)
                    .ok()
                    .map(|i| rows[i].clone())
            })
        });
        let day = Memo::new(move |_| current.with(|r| r.as_ref().and_then(|r| r.day.clone())));
        let starts_group =
            Memo::new(move |_| current.with(|r| r.as_ref().is_none_or(|r| r.starts_group)));
        let deleted =
            Memo::new(move |_| current.with(|r| r.as_ref().is_none_or(|r| r.message.deleted)));
        let content = Memo::new(move |_| {
            current.with(|r| {
                r.as_ref()
                    .map(|r| (r.message.text.clone(), r.message.edited_at.is_some()))
                    .unwrap_or_default()
            })
        });
        let (my_id, my_name) = me().unzip();
        let mine = my_id == Some(author.id);
        // Own messages; admins may delete anyone's.
        let may_delete = mine || chat.is_admin();
        let confirming = RwSignal::new(false);
        let edit_button = NodeRef::<Button>::new();
        let delete_button = NodeRef::<Button>::new();
        // A memo: only the rows whose state changes redraw when an edit starts or ends.
        let is_editing = Memo::new(move |_| editing.with(|e| e.is_some_and(|e| e.message == id)));
        // Back to where the edit started: the composer (Up) or this message's Edit button.
        let end_edit = move || {
            let from_composer = editing.get_untracked().is_some_and(|e| e.from_composer);
            editing.set(None);
            // After the row has redrawn: the Edit button is hidden while editing.
            request_animation_frame(move || {
                if from_composer {
                    focus(composer.get_untracked());
                } else {
                    focus(edit_button.get_untracked());
                }
            });
        };
        let cancel_delete = move || {
            confirming.set(false);
            request_animation_frame(move || focus(delete_button.get_untracked()));
        };
        let edit_form = move || {
            let original = content.with_untracked(|(text, _)| text.clone());
            let edit_text = RwSignal::new(original.clone());
            let error = RwSignal::new(None::<String>);
            let original = StoredValue::new(original);
            let save = move || {
                let text = edit_text.get_untracked();
                if original.with_value(|o| o.trim() == text.trim()) {
                    end_edit();
                    return;
                }
                match crate::validate::MessageText::parse(&text) {
                    Ok(_) => {
                        chat.edit(id, text);
                        end_edit();
                    }
                    Err(e) => error.set(Some(e.to_string())),
                }
            };
            let on_keydown = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
                // As in the composer: Enter saves, Shift+Enter is a newline; Escape cancels.
                "Enter" if !ev.shift_key() && !ev.is_composing() => {
                    ev.prevent_default();
                    save();
                }
                "Escape" => {
                    ev.prevent_default();
                    end_edit();
                }
                _ => {}
            };
            let field = NodeRef::<Textarea>::new();
            field.on_load(move |el| {
                let _ = el.focus();
                let end = edit_text.with_untracked(|t| t.encode_utf16().count()) as u32;
                let _ = el.set_selection_range(end, end);
            });
            view! {
                <form class="edit" on:submit=move |ev| {
                    ev.prevent_default();
                    save();
                }>
                    <label class="visually-hidden" for=format!("edit-{id}")>"Edit message"</label>
                    <textarea id=format!("edit-{id}") node_ref=field prop:value=move || edit_text.get()
                        on:input=move |ev| edit_text.set(event_target_value(&ev))
                        on:keydown=on_keydown></textarea>
                    <button type="submit">"Save"</button>
                    <button type="button" class="secondary" on:click=move |_| end_edit()>"Cancel"</button>
                    <p class="form-error" role="alert">{move || error.get()}</p>
                </form>
            }
        };
        let actions = move || {
            if confirming.get() {
                // The safe choice has the focus: Enter twice does not delete by accident.
                let cancel = NodeRef::<Button>::new();
                cancel.on_load(|b| {
                    let _ = b.focus();
                });
                view! {
                    <span class="confirm-text">"Delete this message?"</span>
                    <button type="button" class="link danger" on:click=move |_| {
                        confirming.set(false);
                        chat.delete(id);
                        // The row's buttons go with the message.
                        focus(composer.get_untracked());
                    }>"Yes, delete"</button>
                    <button type="button" class="link" node_ref=cancel on:click=move |_| cancel_delete()>"Cancel"</button>
                }
                .into_any()
            } else {
                view! {
                    {mine.then(|| view! {
                        <button type="button" class="link" node_ref=edit_button
                            on:click=move |_| editing.set(Some(Editing { message: id, from_composer: false }))>
                            "Edit"<span class="visually-hidden">" message"</span>
                        </button>
                    })}
                    <button type="button" class="link danger" node_ref=delete_button
                        on:click=move |_| confirming.set(true)>
                        "Delete"<span class="visually-hidden">" message"</span>
                    </button>
                }
                .into_any()
            }
        };
        let full = full_time(&created);
        let time = move |class: Option<&'static str>| {
            let datetime = created.clone();
            let created = created.clone();
            view! {
                <time class=class datetime=datetime title=full.clone()>
                    {move || relative_time(&created, chat.now.get())}
                </time>
            }
        };
        let author_name = author.username.clone();
        view! {
            {move || day.get().map(|day| view! { <li class="day" role="separator">{day}</li> })}
            <li
                class="message"
                class:grouped=move || !starts_group.get()
                class:mine=mine
                class:editing=is_editing
                class:confirming=move || confirming.get()
            >
                {move || {
                    if starts_group.get() {
                        view! {
                            <div class="meta">
                                <span class="author">{author_name.clone()}</span>
                                {time(None)}
                            </div>
                        }
                        .into_any()
                    } else {
                        // Grouped under its author's name: the time shows when pointed at or focused.
                        time(Some("stamp")).into_any()
                    }
                }}
                {move || {
                    if deleted.get() {
                        view! { <p class="text tombstone">"Message deleted"</p> }.into_any()
                    } else if is_editing.get() {
                        edit_form().into_any()
                    } else {
                        let (text, edited) = content.get();
                        view! {
                            <p class="text">
                                <MessageText text me=my_name.clone() />
                                {edited.then(|| view! { <span class="edited">" (edited)"</span> })}
                            </p>
                        }.into_any()
                    }
                }}
                {may_delete.then(|| view! {
                    <Show when=move || !deleted.get()>
                        <div
                            class="actions"
                            role="group"
                            aria-label="Message actions"
                            on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                                if ev.key() == "Escape" && confirming.get_untracked() {
                                    cancel_delete();
                                }
                            }
                        >
                            {actions}
                        </div>
                    </Show>
                })}
            </li>
        }
    };

    view! {
        <div class="messages" node_ref=list on:scroll=on_scroll tabindex="0" aria-label="Message history">
            <ol>
                <For each=move || rows.get() key=|row| row.message.id children=render_row />
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
