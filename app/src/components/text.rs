//! Message text as safe DOM: plain text nodes, `http(s)` links opened without access to this
//! page, mentions highlighted. Never `inner_html`.

use crate::chat::{Segment, segments};
use leptos::prelude::*;

/// Renders `text`, highlighting mentions of `me`.
#[component]
pub fn MessageText(text: String, #[prop(into)] me: Option<String>) -> impl IntoView {
    let me = me.unwrap_or_default();
    segments(&text)
        .into_iter()
        .map(|segment| match segment {
            Segment::Text(t) => t.to_owned().into_any(),
            Segment::Link(url) => view! {
                <a href=url.to_owned() target="_blank" rel="noopener noreferrer">{url.to_owned()}</a>
            }
            .into_any(),
            Segment::Mention(m) => {
                let class = if m[1..].eq_ignore_ascii_case(&me) { "mention me" } else { "mention" };
                view! { <span class=class>{m.to_owned()}</span> }.into_any()
            }
        })
        .collect_view()
}

/// The full date and time of an RFC 3339 time, in the reader's language and time zone (e.g.
/// "Sunday, 7 December 2025 at 14:05:09"), for the tooltip of a message's time.
pub fn full_time(created_at: &str) -> String {
    #[cfg(feature = "hydrate")]
    {
        let date = js_sys::Date::new(&created_at.into());
        if date.get_time().is_nan() {
            return created_at.to_owned();
        }
        let options = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&options, &"dateStyle".into(), &"full".into());
        let _ = js_sys::Reflect::set(&options, &"timeStyle".into(), &"medium".into());
        // "default": the browser's own language.
        date.to_locale_string("default", &options).into()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        created_at.to_owned()
    }
}

/// "just now", "5 min ago", "14:05" or "2026-01-31 14:05", from an RFC 3339 time.
pub fn relative_time(created_at: &str, now_ms: f64) -> String {
    #[cfg(feature = "hydrate")]
    {
        let then = js_sys::Date::parse(created_at);
        let seconds = ((now_ms - then) / 1000.0).max(0.0);
        if then.is_nan() {
            return created_at.to_owned();
        }
        if seconds < 60.0 {
            return "just now".into();
        }
        if seconds < 3600.0 {
            return format!("{} min ago", (seconds / 60.0) as u32);
        }
        let date = js_sys::Date::new(&created_at.into());
        let time = format!("{:02}:{:02}", date.get_hours(), date.get_minutes());
        if seconds < 20.0 * 3600.0 {
            return time;
        }
        format!(
            "{}-{:02}-{:02} {time}",
            date.get_full_year(),
            date.get_month() + 1,
            date.get_date()
        )
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = now_ms;
        created_at.get(11..16).unwrap_or(created_at).to_owned()
    }
}
