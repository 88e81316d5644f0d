//! Which browser origins may act as this app: the handshake's Cross-Site WebSocket Hijacking
//! check and the CSRF check of cookie-authenticated HTTP requests share this one rule.

use crate::config::Config;
use axum::http::{HeaderMap, header};

/// Whether `origin` is the app's own (`PUBLIC_URL`, or the scheme and `Host` of the request) or
/// listed in `ALLOWED_ORIGINS`.
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
    // The request's own scheme: this server speaks plain http; TLS, where used, ends at a proxy
    // in front, which says so in `X-Forwarded-Proto` (kept only from `TRUSTED_PROXIES`,
    // `crate::proxy`), or `PUBLIC_URL` names the public https origin, checked above.
    let scheme = match headers
        .get(crate::proxy::FORWARDED_PROTO)
        .and_then(|p| p.to_str().ok())
    {
        Some(proto) if proto.eq_ignore_ascii_case("https") => "https://",
        _ => "http://",
    };
    origin
        .strip_prefix(scheme)
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

/// The CSRF rule for requests that need no session (sign-in, sign-up): a browser that says the
/// request comes from another site (`Sec-Fetch-Site`, or an `Origin` that is not allowed) is
/// refused, so another site cannot sign a visitor into an account of its choosing. A request
/// with neither header is not a browser's and passes (bots, scripts).
pub fn not_cross_site(headers: &HeaderMap, config: &Config) -> bool {
    let origin = headers.get(header::ORIGIN).map(|o| o.to_str());
    let allowed_origin = match origin {
        None => None,
        Some(Ok(origin)) => Some(is_allowed(origin, headers, config)),
        Some(Err(_)) => Some(false),
    };
    if allowed_origin == Some(false) {
        return false;
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        // Typed into the address bar, or the app's own page.
        Some("none") | Some("same-origin") | None => true,
        // Another site (or a sibling subdomain): only from an origin the configuration allows.
        Some(_) => allowed_origin == Some(true),
    }
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
    fn another_scheme_on_the_same_host_is_another_origin() {
        let h = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://127.0.0.1:3000"),
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
    fn sign_in_is_refused_only_when_a_browser_says_cross_site() {
        let c = config(&[]);
        assert!(not_cross_site(&headers(&[("host", "a:1")]), &c));
        let own = headers(&[("host", "a:1"), ("origin", "http://a:1")]);
        assert!(not_cross_site(&own, &c));
        let foreign = headers(&[("host", "a:1"), ("origin", "http://evil.example")]);
        assert!(!not_cross_site(&foreign, &c));
        let cross = headers(&[("host", "a:1"), ("sec-fetch-site", "cross-site")]);
        assert!(!not_cross_site(&cross, &c));
        let typed = headers(&[("host", "a:1"), ("sec-fetch-site", "none")]);
        assert!(not_cross_site(&typed, &c));
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
