//! `/admin/rooms`: list, create, rename, edit topic, archive/unarchive, delete (confirmed by name).

use super::AdminShell;
use crate::components::text::relative_time;
use crate::models::AdminRoom;
use leptos::prelude::*;
use leptos_router::{LazyRoute, lazy_route};

fn room_row(room: AdminRoom) -> impl IntoView {
    let id = room.id.0.to_string();
    let name_id = format!("name-{id}");
    let topic_id = format!("topic-{id}");
    let confirm_id = format!("confirm-{id}");
    let last = room
        .last_activity
        .clone()
        .map(|t| relative_time(&t, crate::client::now_ms()))
        .unwrap_or_else(|| "never".into());
    let (intent, label) = if room.archived {
        ("unarchive", "Unarchive")
    } else {
        ("archive", "Archive")
    };
    view! {
        <tr data-room=room.name.clone()>
            <td>
                <form method="post" action="/admin/rooms" class="inline">
                    <input type="hidden" name="intent" value="edit" />
                    <input type="hidden" name="id" value=id.clone() />
                    <label for=name_id.clone() class="visually-hidden">{format!("Name of {}", room.name)}</label>
                    <input id=name_id name="name" value=room.name.clone() required maxlength="64" />
                    <label for=topic_id.clone() class="visually-hidden">{format!("Topic of {}", room.name)}</label>
                    <input id=topic_id name="topic" value=room.topic.clone() maxlength="500" placeholder="Topic" />
                    <button type="submit">"Save"</button>
                </form>
            </td>
            <td>{room.members}</td>
            <td>{room.online}</td>
            <td>{room.messages}</td>
            <td>{last}</td>
            <td>{if room.archived { "archived" } else { "open" }}</td>
            <td class="row-actions">
                <form method="post" action="/admin/rooms" class="inline">
                    <input type="hidden" name="intent" value=intent />
                    <input type="hidden" name="id" value=id.clone() />
                    <button type="submit" class="secondary">{format!("{label} {}", room.name)}</button>
                </form>
                <details>
                    <summary>"Delete…"</summary>
                    <form method="post" action="/admin/rooms" class="inline">
                        <input type="hidden" name="intent" value="delete" />
                        <input type="hidden" name="id" value=id />
                        <label for=confirm_id.clone()>{format!("Type “{}” to delete it and all its messages", room.name)}</label>
                        <input id=confirm_id name="confirm" autocomplete="off" required />
                        <button type="submit" class="danger">{format!("Delete {}", room.name)}</button>
                    </form>
                </details>
            </td>
        </tr>
    }
}

/// Rooms: a lazy route (see `pages::admin`).
pub struct AdminRooms;

#[lazy_route]
impl LazyRoute for AdminRooms {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        rooms_page()
    }
}

fn rooms_page() -> AnyView {
    // In the lazily loaded part, like the page: see `dashboard_page`.
    let rooms = Resource::new_serde_wb(|| (), |_| crate::admin::rooms());
    view! {
        <AdminShell title="Rooms">
            <form method="post" action="/admin/rooms" class="card create-room">
                <h2>"New room"</h2>
                <input type="hidden" name="intent" value="create" />
                <label for="new-name">"Name"</label>
                <input id="new-name" name="name" required maxlength="64" />
                <label for="new-topic">"Topic"</label>
                <input id="new-topic" name="topic" maxlength="500" />
                <button type="submit">"Create room"</button>
            </form>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || rooms.get().map(|result| match result {
                    Ok(rooms) => view! {
                        <table class="admin-table">
                            <thead>
                                <tr>
                                    <th scope="col">"Name and topic"</th>
                                    <th scope="col">"Members"</th>
                                    <th scope="col">"Online"</th>
                                    <th scope="col">"Messages"</th>
                                    <th scope="col">"Last activity"</th>
                                    <th scope="col">"State"</th>
                                    <th scope="col">"Actions"</th>
                                </tr>
                            </thead>
                            <tbody>{rooms.into_iter().map(room_row).collect_view()}</tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <p class="form-error" role="alert">{e}</p> }.into_any(),
                })}
            </Suspense>
        </AdminShell>
    }
    .into_any()
}
