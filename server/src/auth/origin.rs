//! Which browser origins may act as this app: the handshake's Cross-Site WebSocket Hijacking
//! check and the CSRF check of cookie-authenticated HTTP requests share this one rule.

use crate::config::Config;
use axum::http::{HeaderMap, header};

/// Whether `origin` is the app's own (`PUBLIC_URL`, or the request's `Host` under http or https)
/// or listed in `ALLOWED_ORIGINS`.
pub fn is_allowed(origin: &str, headers: &HeaderMap, config: &Config) -> bool {
    let origin = origin.trim_end_matches('/');
    if config.public_url.as_deref() == Some(origin)
        || config
            .allowed_origins
            .iter()
            .any(|allowed| allowed == origin)
    {
        return true;
    }
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
}

/// The handshake rule: a client sending no `Origin` is not a browser and may connect;
/// a browser must come from an allowed origin.
pub fn handshake_allowed(headers: &HeaderMap, config: &Config) -> bool {
    match headers.get(header::ORIGIN).map(|o| o.to_str()) {
        None => true,
        Some(Ok(origin)) => is_allowed(origin, headers, config),
        Some(Err(_)) => false,
    }
}

/// The CSRF rule for a state-changing request authenticated by cookie: the browser must say the
/// request is same-origin (`Sec-Fetch-Site`) or send an allowed `Origin`. A request with neither
/// is refused: every browser that sends cookies sends one of them.
pub fn same_origin_request(headers: &HeaderMap, config: &Config) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin";
    }
    headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .is_some_and(|origin| is_allowed(origin, headers, config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
    }

    #[test]
    fn the_request_host_is_the_own_origin() {
        let h = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
        ]);
        assert!(handshake_allowed(&h, &config(&[])));
        let h = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://evil.example"),
        ]);
        assert!(!handshake_allowed(&h, &config(&[])));
    }

    #[test]
    fn public_url_and_allowed_origins_are_accepted() {
        let c = config(&[
            ("PUBLIC_URL", "https://chat.example.org"),
            ("ALLOWED_ORIGINS", "https://app.example.org"),
        ]);
        let h = headers(&[
            ("host", "internal:3000"),
            ("origin", "https://chat.example.org"),
        ]);
        assert!(handshake_allowed(&h, &c));
        let h = headers(&[
            ("host", "internal:3000"),
            ("origin", "https://app.example.org"),
        ]);
        assert!(handshake_allowed(&h, &c));
    }

    #[test]
    fn no_origin_is_not_a_browser_for_sockets_but_refused_for_cookie_writes() {
        let h = headers(&[("host", "127.0.0.1:3000")]);
        assert!(handshake_allowed(&h, &config(&[])));
        assert!(!same_origin_request(&h, &config(&[])));
    }

    #[test]
    fn sec_fetch_site_decides_when_present() {
        let h = headers(&[
            ("host", "a:1"),
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://a:1"),
        ]);
        assert!(!same_origin_request(&h, &config(&[])));
        let h = headers(&[("host", "a:1"), ("sec-fetch-site", "same-origin")]);
        assert!(same_origin_request(&h, &config(&[])));
    }
}
