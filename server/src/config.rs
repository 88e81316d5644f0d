//! Configuration from the environment (and an optional `.env`): the variables of API.md with
//! their defaults, parsed once at start so a typo fails loudly instead of at the first request.

use anyhow::{Context, bail};
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

/// A rate limit: `count` events per `per`, written `<count>/<duration>` (`20/10s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// How many events are allowed in one window.
    pub count: u32,
    /// The window.
    pub per: Duration,
}

impl Rate {
    /// Parses `<count>/<number><s|m|h>`.
    pub fn parse(raw: &str) -> anyhow::Result<Self> {
        let (count, per) = raw
            .split_once('/')
            .with_context(|| format!("rate {raw:?} is not <count>/<duration>"))?;
        let count: u32 = count
            .trim()
            .parse()
            .with_context(|| format!("rate {raw:?}: bad count"))?;
        if count == 0 {
            bail!("rate {raw:?}: count must be at least 1");
        }
        Ok(Self {
            count,
            per: parse_duration(per)?,
        })
    }
}

/// Parses `<number><s|m|h|d>` (`10s`, `5m`, `24h`); a bare `1/s` reads as one unit.
pub fn parse_duration(raw: &str) -> anyhow::Result<Duration> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: u64 = if number.is_empty() {
        1
    } else {
        number
            .parse()
            .with_context(|| format!("duration {raw:?}: bad number"))?
    };
    let seconds = match unit {
        "s" => number,
        "m" => number * 60,
        "h" => number * 3600,
        "d" => number * 86_400,
        _ => bail!("duration {raw:?}: unit must be s, m, h or d"),
    };
    if seconds == 0 {
        bail!("duration {raw:?} must be positive");
    }
    Ok(Duration::from_secs(seconds))
}

/// A whole number of at least 1.
fn positive(raw: &str) -> anyhow::Result<u64> {
    match raw.trim().parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => bail!("{raw:?} must be a whole number of at least 1"),
    }
}

/// SQLite's `synchronous` setting: NORMAL keeps every acked message across a process crash
/// (WAL); FULL also across a power loss, at the cost of an fsync per commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=NORMAL`.
    Normal,
    /// `synchronous=FULL`.
    Full,
}

impl Durability {
    /// The value of SQLite's `synchronous` pragma, for every connection the server opens.
    pub fn synchronous(self) -> &'static str {
        match self {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        }
    }
}

/// Everything the server reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address.
    pub bind: IpAddr,
    /// Listen port; 0 picks a free one (tests).
    pub port: u16,
    /// `sqlite://path` (the default) or `postgres://…`.
    pub database_url: String,
    /// `DATABASE_POOL_SIZE`: PostgreSQL connections this instance keeps open at most.
    pub pg_pool_size: u32,
    /// `SQLITE_SYNCHRONOUS`: NORMAL (default) or FULL.
    pub durability: Durability,
    /// HS256 key; `None` means generate once and keep in the database.
    pub jwt_secret: Option<String>,
    /// Token lifetime.
    pub jwt_ttl: Duration,
    /// The app's public origin, e.g. `https://chat.example.org`.
    pub public_url: Option<String>,
    /// Extra browser origins allowed to open sockets.
    pub allowed_origins: Vec<String>,
    /// An admin that must exist at start.
    pub admin: Option<(String, String)>,
    /// `sendMessage` per user.
    pub message_rate: Rate,
    /// Failed logins per username (ten times that per address).
    pub login_rate: Rate,
    /// Registrations per address.
    pub register_rate: Rate,
    /// Sockets one user may hold.
    pub max_sockets_per_user: usize,
    /// Protects `/metrics` when set.
    pub metrics_token: Option<String>,
    /// `REDIS_URL`: with a PostgreSQL `DATABASE_URL`, makes this instance a cluster member
    /// whose shared ephemeral state (presence, limits, socket caps) lives in that Redis.
    pub redis_url: Option<String>,
    /// `TRUSTED_PROXIES`: addresses and CIDR ranges of the proxies in front, whose
    /// `X-Forwarded-For`, `X-Forwarded-Host` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `INSTANCE_ID`: this instance's name in a cluster (logs, `/metrics`, Redis keys); random
    /// when unset.
    pub instance_id: String,
    /// New Engine.IO sessions (handshakes) per client address.
    pub handshake_rate: Rate,
    /// Events per socket, every event counted (API.md: 50 per second).
    pub socket_event_rate: Rate,
    /// Bytes of its own replies one socket may have queued and unread, in KiB.
    pub socket_queue_max_kib: u64,
    /// History and catch-up pages read for one socket at once.
    pub socket_pages_in_flight: usize,
    /// A history or catch-up page stops at about this much JSON, in KiB.
    pub page_max_kib: u64,
    /// A connection whose writes make no progress this long (a client that stopped reading) is
    /// closed; also how long a long-polling socket may go without polling.
    pub write_timeout: Duration,
    /// How long a new Engine.IO session may wait for its Socket.IO CONNECT.
    pub connect_timeout: Duration,
}

impl Config {
    /// `socket_queue_max_kib` in bytes.
    pub fn socket_queue_max_bytes(&self) -> u64 {
        self.socket_queue_max_kib.saturating_mul(1024)
    }

    /// `page_max_kib` in bytes.
    pub fn page_max_bytes(&self) -> usize {
        usize::try_from(self.page_max_kib.saturating_mul(1024)).unwrap_or(usize::MAX)
    }
}

impl Config {
    /// Reads the process environment, after loading `.env` from the working directory if present.
    pub fn from_env() -> anyhow::Result<Self> {
        // A missing .env is normal; a malformed one is an error worth stopping for.
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => return Err(e).context("reading .env"),
        }
        Self::from_vars(std::env::vars())
    }

    /// Builds from name/value pairs; unset names take API.md's defaults.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<Self> {
        let vars: HashMap<String, String> = vars
            .into_iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .collect();
        let get = |name: &str| vars.get(name).map(|v| v.trim().to_owned());
        let parse_or = |name: &str, default: &str| get(name).unwrap_or_else(|| default.to_owned());

        let jwt_secret = vars.get("JWT_SECRET").cloned();
        if let Some(secret) = &jwt_secret
            && secret.len() < 32
        {
            bail!(
                "JWT_SECRET is {} bytes long; it must be at least 32 bytes (or unset, to have one generated)",
                secret.len()
            );
        }
        let admin = match (get("ADMIN_USERNAME"), vars.get("ADMIN_PASSWORD").cloned()) {
            (Some(user), Some(password)) => Some((user, password)),
            _ => None,
        };
        let durability = match parse_or("SQLITE_SYNCHRONOUS", "NORMAL")
            .to_ascii_uppercase()
            .as_str()
        {
            "NORMAL" => Durability::Normal,
            "FULL" => Durability::Full,
            other => bail!("SQLITE_SYNCHRONOUS must be NORMAL or FULL, not {other:?}"),
        };
        let list = |name: &str| -> Vec<String> {
            get(name)
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(Self {
            bind: parse_or("BIND", "127.0.0.1")
                .parse()
                .context("BIND must be an IP address")?,
            port: parse_or("PORT", "3000")
                .parse()
                .context("PORT must be a port number")?,
            database_url: parse_or("DATABASE_URL", "sqlite://tagarela.db"),
            pg_pool_size: u32::try_from(
                positive(&parse_or("DATABASE_POOL_SIZE", "10")).context("DATABASE_POOL_SIZE")?,
            )
            .context("DATABASE_POOL_SIZE is too large")?,
            durability,
            jwt_secret,
            jwt_ttl: parse_duration(&parse_or("JWT_TTL", "24h")).context("JWT_TTL")?,
            public_url: get("PUBLIC_URL").map(|u| u.trim_end_matches('/').to_owned()),
            allowed_origins: list("ALLOWED_ORIGINS"),
            admin,
            message_rate: Rate::parse(&parse_or("MESSAGE_RATE", "20/10s"))
                .context("MESSAGE_RATE")?,
            login_rate: Rate::parse(&parse_or("LOGIN_RATE", "10/5m")).context("LOGIN_RATE")?,
            register_rate: Rate::parse(&parse_or("REGISTER_RATE", "20/1h"))
                .context("REGISTER_RATE")?,
            max_sockets_per_user: parse_or("MAX_SOCKETS_PER_USER", "20")
                .parse()
                .context("MAX_SOCKETS_PER_USER must be a number")?,
            metrics_token: get("METRICS_TOKEN"),
            redis_url: get("REDIS_URL"),
            trusted_proxies: list("TRUSTED_PROXIES")
                .iter()
                .map(|p| {
                    p.parse::<ipnet::IpNet>()
                        .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                        .map_err(|_| {
                            anyhow::anyhow!(
                                "TRUSTED_PROXIES: {p:?} is not an IP address or CIDR range"
                            )
                        })
                })
                .collect::<anyhow::Result<_>>()?,
            instance_id: match get("INSTANCE_ID") {
                Some(id)
                    if (1..=40).contains(&id.len())
                        && id
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) =>
                {
                    id
                }
                Some(_) => {
                    anyhow::bail!("INSTANCE_ID must be 1-40 letters, digits, '-', '_' or '.'")
                }
                None => format!("{:08x}", rand::random::<u32>()),
            },
            handshake_rate: Rate::parse(&parse_or("HANDSHAKE_RATE", "120/1m"))
                .context("HANDSHAKE_RATE")?,
            socket_event_rate: Rate::parse(&parse_or("SOCKET_EVENT_RATE", "50/1s"))
                .context("SOCKET_EVENT_RATE")?,
            socket_queue_max_kib: positive(&parse_or("SOCKET_QUEUE_MAX_KIB", "4096"))
                .context("SOCKET_QUEUE_MAX_KIB")?,
            socket_pages_in_flight: positive(&parse_or("SOCKET_PAGES_IN_FLIGHT", "2"))
                .context("SOCKET_PAGES_IN_FLIGHT")? as usize,
            page_max_kib: positive(&parse_or("PAGE_MAX_KIB", "1024")).context("PAGE_MAX_KIB")?,
            write_timeout: parse_duration(&parse_or("WRITE_TIMEOUT", "30s"))
                .context("WRITE_TIMEOUT")?,
            connect_timeout: parse_duration(&parse_or("SOCKET_CONNECT_TIMEOUT", "10s"))
                .context("SOCKET_CONNECT_TIMEOUT")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_database_pool_size_below_one_is_refused() {
        for bad in ["0", "-1", "ten"] {
            let error = Config::from_vars(vars(&[("DATABASE_POOL_SIZE", bad)])).unwrap_err();
            assert!(
                format!("{error:#}").contains("DATABASE_POOL_SIZE"),
                "{error:#}"
            );
        }
        let config = Config::from_vars(vars(&[("DATABASE_POOL_SIZE", "3")])).unwrap();
        assert_eq!(config.pg_pool_size, 3);
    }

    #[test]
    fn defaults_follow_api_md() {
        let config = Config::from_vars(vars(&[])).unwrap();
        assert_eq!(config.port, 3000);
        assert_eq!(config.bind.to_string(), "127.0.0.1");
        assert_eq!(config.database_url, "sqlite://tagarela.db");
        assert_eq!(config.pg_pool_size, 10);
        assert_eq!(
            config.message_rate,
            Rate {
                count: 20,
                per: Duration::from_secs(10)
            }
        );
        assert_eq!(
            config.login_rate,
            Rate {
                count: 10,
                per: Duration::from_secs(300)
            }
        );
        assert_eq!(
            config.register_rate,
            Rate {
                count: 20,
                per: Duration::from_secs(3600)
            }
        );
        assert_eq!(config.jwt_ttl, Duration::from_secs(86_400));
        assert_eq!(config.max_sockets_per_user, 20);
        assert_eq!(config.durability, Durability::Normal);
        assert!(config.jwt_secret.is_none());
        assert_eq!(config.socket_event_rate, Rate::parse("50/1s").unwrap());
        assert_eq!(config.handshake_rate, Rate::parse("120/1m").unwrap());
        assert_eq!(config.socket_queue_max_bytes(), 4 * 1024 * 1024);
        assert_eq!(config.socket_pages_in_flight, 2);
        assert_eq!(config.page_max_bytes(), 1024 * 1024);
        assert_eq!(config.write_timeout, Duration::from_secs(30));
        assert_eq!(config.connect_timeout, Duration::from_secs(10));
    }

    #[test]
    fn rates_parse_every_unit() {
        assert_eq!(Rate::parse("1000000/1s").unwrap().count, 1_000_000);
        assert_eq!(Rate::parse("5/2m").unwrap().per, Duration::from_secs(120));
        assert!(Rate::parse("5").is_err());
        assert!(Rate::parse("0/1s").is_err());
        assert!(Rate::parse("5/1w").is_err());
    }

    #[test]
    fn short_jwt_secret_is_refused_with_a_clear_message() {
        let err = Config::from_vars(vars(&[("JWT_SECRET", "too-short")])).unwrap_err();
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
    }

    #[test]
    fn allowed_origins_are_split_and_trimmed() {
        let config = Config::from_vars(vars(&[(
            "ALLOWED_ORIGINS",
            "https://a.example, http://b:8080/",
        )]))
        .unwrap();
        assert_eq!(
            config.allowed_origins,
            ["https://a.example", "http://b:8080"]
        );
    }
}
