//! `TRUSTED_PROXIES`: behind a proxy every connection comes from the proxy, so the per-address
//! limits (`LOGIN_RATE`, `REGISTER_RATE`, `HANDSHAKE_RATE`) would count every client as one,
//! and the origin checks would compare the browser's `Origin` with the proxy's idea of the
//! host. From a trusted proxy (and only from one) the client's address is read from
//! `X-Forwarded-For`, and the public host and scheme from `X-Forwarded-Host` and
//! `X-Forwarded-Proto`; from anyone else those headers are removed before any code sees them.

use axum::http::{HeaderMap, HeaderValue, header};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

const FORWARDED_FOR: &str = "x-forwarded-for";
const FORWARDED_HOST: &str = "x-forwarded-host";
/// Read by `auth::origin` for the public scheme; present only when a trusted proxy sent it.
pub const FORWARDED_PROTO: &str = "x-forwarded-proto";

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    let ip = ip.to_canonical();
    proxies.iter().any(|net| net.contains(&ip))
}

/// The client behind a request that came from `peer`: the peer itself, or, when the peer is a
/// trusted proxy, the nearest address in `X-Forwarded-For` that is not a trusted proxy. Also
/// makes `Host` the forwarded host for a trusted proxy, and drops the forwarded headers of
/// anyone else.
pub fn client(headers: &mut HeaderMap, peer: SocketAddr, proxies: &[IpNet]) -> SocketAddr {
    if proxies.is_empty() || !trusted(peer.ip(), proxies) {
        for name in [FORWARDED_FOR, FORWARDED_HOST, FORWARDED_PROTO] {
            headers.remove(name);
        }
        return peer;
    }
    if let Some(host) = headers
        .get(FORWARDED_HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split(',').next())
        .and_then(|h| HeaderValue::from_str(h.trim()).ok())
    {
        headers.insert(header::HOST, host);
    }
    // Each proxy appends the address it received from: read from the right, past our proxies.
    // An entry that is no address (or `address:port`) ends the reading: what lies left of it
    // was written by the client, so the peer (the proxy) is all that is known.
    let chain: Vec<Option<IpAddr>> = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .map(|v| v.to_str().ok())
        .flat_map(|v| v.unwrap_or("?").split(','))
        .map(|a| {
            let a = a.trim();
            a.parse::<IpAddr>()
                .ok()
                .or_else(|| a.parse::<SocketAddr>().ok().map(|s| s.ip()))
        })
        .collect();
    let mut client = None;
    for entry in chain.iter().rev() {
        match entry {
            Some(ip) if trusted(*ip, proxies) => client = Some(*ip),
            Some(ip) => return SocketAddr::new(*ip, 0),
            None => return peer,
        }
    }
    // Every hop was a trusted proxy: the leftmost is the nearest to the client.
    client.map_or(peer, |ip| SocketAddr::new(ip, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 5000)
    }

    fn forwarded(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn a_trusted_proxy_names_the_client_host_and_scheme() {
        let proxies = nets(&["10.0.0.0/8"]);
        let mut headers = forwarded(&[
            ("host", "10.0.0.5:3001"),
            ("x-forwarded-for", "203.0.113.7, 10.0.0.9"),
            ("x-forwarded-host", "chat.example.org"),
            ("x-forwarded-proto", "https"),
        ]);
        let client = client(&mut headers, peer("10.0.0.1"), &proxies);
        assert_eq!(client.ip().to_string(), "203.0.113.7");
        assert_eq!(headers["host"], "chat.example.org");
        assert_eq!(headers[FORWARDED_PROTO], "https");
    }

    #[test]
    fn anyone_else_is_the_client_and_loses_the_forwarded_headers() {
        let proxies = nets(&["10.0.0.1/32"]);
        let mut headers = forwarded(&[
            ("host", "chat:3000"),
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "https"),
        ]);
        let client = client(&mut headers, peer("192.0.2.1"), &proxies);
        assert_eq!(client, peer("192.0.2.1"));
        assert_eq!(headers["host"], "chat:3000");
        assert!(headers.get(FORWARDED_PROTO).is_none());
        assert!(headers.get(FORWARDED_FOR).is_none());
    }

    #[test]
    fn an_entry_that_is_no_address_ends_the_reading() {
        let proxies = nets(&["127.0.0.1/32"]);
        let mut headers = forwarded(&[("x-forwarded-for", "6.6.6.6, unknown")]);
        assert_eq!(
            client(&mut headers, peer("127.0.0.1"), &proxies),
            peer("127.0.0.1")
        );
        let mut headers = forwarded(&[("x-forwarded-for", "6.6.6.6, 198.51.100.2:4000")]);
        let found = client(&mut headers, peer("127.0.0.1"), &proxies);
        assert_eq!(
            found.ip().to_string(),
            "198.51.100.2",
            "address:port is read"
        );
    }

    #[test]
    fn a_spoofed_leftmost_address_is_not_believed() {
        // The client sent its own X-Forwarded-For; the proxy appended the real address.
        let proxies = nets(&["127.0.0.1/32"]);
        let mut headers = forwarded(&[("x-forwarded-for", "6.6.6.6, 198.51.100.2")]);
        let client = client(&mut headers, peer("127.0.0.1"), &proxies);
        assert_eq!(client.ip().to_string(), "198.51.100.2");
    }
}
