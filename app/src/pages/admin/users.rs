//! `/admin/users`: search, promote/demote, ban (asked twice) and unban; the server protects the
//! last admin.

use super::AdminShell;
use crate::models::{Role, User};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use leptos_router::{LazyRoute, lazy_route};

fn user_row(user: User) -> impl IntoView {
    let id = user.id.0.to_string();
    let (role_intent, role_label) = match user.role {
        Role::Admin => ("demote", "Demote"),
        Role::User => ("promote", "Promote"),
    };
    let name = user.username.clone();
    // A ban signs the user out everywhere at once: it is confirmed first, in a disclosure, so
    // that it still works without JavaScript. An unban undoes nothing and needs no second step.
    let ban_form = move |intent: &'static str, label: &'static str, id: String| {
        view! {
            <form method="post" action="/admin/users" class="inline">
                <input type="hidden" name="intent" value=intent />
                <input type="hidden" name="id" value=id />
                <button type="submit" class="danger">{format!("{label} {name}")}</button>
            </form>
        }
    };
    let ban = if user.banned {
        ban_form("unban", "Unban", id.clone()).into_any()
    } else {
        view! {
            <details>
                <summary>{format!("Ban {}…", user.username)}</summary>
                <p>"Signs them out everywhere and refuses their sign-ins until unbanned."</p>
                {ban_form("ban", "Ban", id.clone())}
            </details>
        }
        .into_any()
    };
    view! {
        <tr data-user=user.username.clone()>
            <td>{user.username.clone()}</td>
            <td>{user.role.as_str()}</td>
            <td>{if user.banned { "banned" } else { "" }}</td>
            <td class="row-actions">
                <form method="post" action="/admin/users" class="inline">
                    <input type="hidden" name="intent" value=role_intent />
                    <input type="hidden" name="id" value=id />
                    <button type="submit" class="secondary">{format!("{role_label} {}", user.username)}</button>
                </form>
                {ban}
            </td>
        </tr>
    }
}

/// Users: a lazy route (see `pages::admin`).
pub struct AdminUsers;

#[lazy_route]
impl LazyRoute for AdminUsers {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        users_page()
    }
}

/// The search in the address (`?q=`), if any.
fn search() -> impl Fn() -> Option<String> + Clone + Send + Sync + 'static {
    let query = use_query_map();
    move || query.read().get("q").filter(|q| !q.is_empty())
}

fn users_page() -> AnyView {
    let search = search();
    // In the lazily loaded part, like the page: see `dashboard::dashboard_page`.
    let users = Resource::new_serde_wb(search.clone(), crate::admin::users);
    view! {
        <AdminShell title="Users">
            <form method="get" action="/admin/users" class="search" role="search">
                <label for="q">"Search users"</label>
                <input id="q" name="q" type="search" value=search />
                <button type="submit">"Search"</button>
            </form>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || users.get().map(|result| match result {
                    Ok(users) => view! {
                        <table class="admin-table">
                            <thead>
                                <tr>
                                    <th scope="col">"Username"</th>
                                    <th scope="col">"Role"</th>
                                    <th scope="col">"Status"</th>
                                    <th scope="col">"Actions"</th>
                                </tr>
                            </thead>
                            <tbody>{users.into_iter().map(user_row).collect_view()}</tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <p class="form-error" role="alert">{e}</p> }.into_any(),
                })}
            </Suspense>
        </AdminShell>
    }
    .into_any()
}
