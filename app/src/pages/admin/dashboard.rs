//! `/admin`: live figures pushed over the socket to admins, with the action log.

use super::AdminShell;
use crate::client::use_chat;
use crate::components::text::relative_time;
use crate::models::Dashboard;
use leptos::prelude::*;
use leptos_router::{LazyRoute, lazy_route};

/// The messages-per-minute chart: an SVG line over the last hour, drawn in the page. In whole
/// tenths of a unit: integer arithmetic keeps float formatting out of the WASM bundle.
#[component]
fn MinuteChart(values: Vec<u64>) -> impl IntoView {
    const W: u64 = 600;
    const H: u64 = 120;
    let peak = values.iter().copied().max().unwrap_or(0);
    // Scale to the peak; an empty hour draws a flat line at zero.
    let max = peak.max(1);
    let last = (values.len().max(2) - 1) as u64;
    let tenths = |t: u64| format!("{}.{}", t / 10, t % 10);
    let points: String = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = i as u64 * W * 10 / last;
            let y = H * 10 - v.min(&max) * (H - 10) * 10 / max;
            format!("{},{}", tenths(x), tenths(y))
        })
        .collect::<Vec<_>>()
        .join(" ");
    let total: u64 = values.iter().sum();
    let label = format!(
        "Messages per minute over the last hour: {total} in all, at most {peak} in a minute."
    );
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {W} {H}") role="img" aria-label=label preserveAspectRatio="none">
                <line x1="0" y1=H x2=W y2=H class="axis" />
                <polyline points=points class="series" />
            </svg>
            <figcaption>
                <span>"60 min ago"</span>
                <span>{format!("peak {peak}/min · {total} in the last hour")}</span>
                <span>"now"</span>
            </figcaption>
        </figure>
    }
}

fn dashboard_view(d: Dashboard, now: f64) -> impl IntoView {
    view! {
        <section class="cards">
            <div class="card stat">
                <span class="stat-label">"Connected sockets"</span>
                <span class="stat-value" data-testid="sockets">{d.sockets}</span>
            </div>
            <div class="card stat">
                <span class="stat-label">"Users online"</span>
                <span class="stat-value" data-testid="users-online">{d.users_online}</span>
            </div>
        </section>
        <section class="card">
            <h2>"Messages per minute"</h2>
            <MinuteChart values=d.messages_per_minute />
        </section>
        <section class="card">
            <h2>"Rooms by activity (last hour)"</h2>
            <table>
                <thead><tr><th scope="col">"Room"</th><th scope="col">"Messages"</th></tr></thead>
                <tbody>
                    {d.rooms.into_iter().map(|r| view! { <tr><td>{r.name}</td><td>{r.messages}</td></tr> }).collect_view()}
                </tbody>
            </table>
        </section>
        <section class="card">
            <h2>"Admin actions"</h2>
            <ol class="actions-log">
                {d.actions.into_iter().map(|a| {
                    let who = a.admin.map(|u| u.username).unwrap_or_else(|| "(deleted)".into());
                    let when = relative_time(&a.created_at, now);
                    view! {
                        <li>
                            <time datetime=a.created_at.clone()>{when}</time>" "
                            <strong>{who}</strong>" "{a.action.replace('_', " ")}" "
                            <em>{a.target}</em>
                            {(!a.detail.is_empty()).then(|| format!(" ({})", a.detail))}
                        </li>
                    }
                }).collect_view()}
            </ol>
        </section>
    }
}

/// The dashboard: a lazy route (see `pages::admin`); the socket keeps its figures live.
pub struct AdminDashboard;

#[lazy_route]
impl LazyRoute for AdminDashboard {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        dashboard_page()
    }
}

fn dashboard_page() -> AnyView {
    // Created here, in the lazily loaded part, rather than in `data()`: the code that reads
    // it then stays out of every other page's download.
    let first = Resource::new_serde_wb(|| (), |_| crate::admin::dashboard());
    let chat = use_chat();
    Effect::new(move |_| chat.start());
    view! {
        <AdminShell title="Dashboard">
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    let first = first.get();
                    let live = chat.dashboard.get();
                    let now = chat.now.get();
                    match (live, first) {
                        (Some(d), _) | (None, Some(Ok(d))) => dashboard_view(d, now).into_any(),
                        (None, Some(Err(e))) => view! { <p class="form-error" role="alert">{e}</p> }.into_any(),
                        (None, None) => ().into_any(),
                    }
                }}
            </Suspense>
        </AdminShell>
    }
    .into_any()
}
