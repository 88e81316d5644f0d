//! The composer: Enter sends, Shift+Enter is a newline, Up in an empty box edits the user's last
//! message; read-only in archived rooms. What is typed and not sent stays with the room.

use super::message_list::Editing;
use crate::client::use_chat;
use crate::models::RoomId;
use crate::validate::MessageText;
use leptos::html::Textarea;
use leptos::prelude::*;
use std::time::Duration;

/// Typing is announced at most this often while the user keeps typing.
const TYPING_EVERY: Duration = Duration::from_secs(3);

/// The message box of `room`; `field` is its text box, `editing` the message list's edit.
#[component]
pub fn Composer(
    room: RoomId,
    archived: Signal<bool>,
    editing: RwSignal<Option<Editing>>,
    field: NodeRef<Textarea>,
) -> impl IntoView {
    let chat = use_chat();
    let text = RwSignal::new(chat.draft(room));
    field.on_load(move |el| {
        if chat.take_composer_focus(room) {
            let _ = el.focus();
        }
    });
    let error = RwSignal::new(None::<String>);
    let typing_since = StoredValue::new(None::<f64>);
    let stop_typing = move || {
        if typing_since.get_value().is_some() {
            typing_since.set_value(None);
            chat.set_typing(room, false);
        }
    };
    let send = move || {
        let raw = text.get_untracked();
        match MessageText::parse(&raw) {
            Ok(_) => {
                chat.send(room, raw);
                text.set(String::new());
                chat.set_draft(room, String::new());
                error.set(None);
                stop_typing();
            }
            Err(e) if raw.trim().is_empty() => {
                let _ = e;
            }
            Err(e) => error.set(Some(e.to_string())),
        }
    };
    let on_input = move |ev| {
        let value = event_target_value(&ev);
        chat.set_draft(room, value.clone());
        text.set(value);
        let now = crate::client::now_ms();
        let due = typing_since
            .get_value()
            .is_none_or(|since| now - since > TYPING_EVERY.as_millis() as f64);
        if due {
            typing_since.set_value(Some(now));
            chat.set_typing(room, true);
        }
        set_timeout(
            move || {
                let idle = typing_since.get_value().is_some_and(|since| {
                    crate::client::now_ms() - since >= TYPING_EVERY.as_millis() as f64
                });
                if idle {
                    stop_typing();
                }
            },
            TYPING_EVERY + Duration::from_millis(500),
        );
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let plain = !(ev.shift_key() || ev.alt_key() || ev.ctrl_key() || ev.meta_key());
        match ev.key().as_str() {
            "Enter" if !ev.shift_key() && !ev.is_composing() => {
                ev.prevent_default();
                send();
            }
            "ArrowUp"
                if plain
                    && !ev.is_composing()
                    && !archived.get_untracked()
                    && text.with_untracked(String::is_empty) =>
            {
                let me = chat.me.with_untracked(|m| m.as_ref().map(|u| u.id));
                let last = me.and_then(|me| {
                    chat.logs
                        .with_untracked(|l| l.get(&room).and_then(|log| log.last_editable(me)))
                });
                if let Some(message) = last {
                    ev.prevent_default();
                    stop_typing();
                    editing.set(Some(Editing {
                        message,
                        from_composer: true,
                    }));
                }
            }
            _ => {}
        }
    };
    view! {
        <form
            class="composer"
            on:submit=move |ev| {
                ev.prevent_default();
                send();
            }
        >
            <label for="composer-text" class="visually-hidden">"Message"</label>
            <textarea
                id="composer-text"
                node_ref=field
                rows="2"
                placeholder=move || if archived.get() { "This room is archived: it is read-only." } else { "Write a message…" }
                readonly=move || archived.get()
                aria-readonly=move || archived.get().to_string()
                prop:value=move || text.get()
                on:input=on_input
                on:keydown=on_keydown
                on:blur=move |_| stop_typing()
            ></textarea>
            <button type="submit" disabled=move || archived.get()>"Send"</button>
            <p class="form-error" role="alert">{move || error.get()}</p>
        </form>
    }
}
