//! A cluster's shared ephemeral state in Redis: rate windows, and who is online with how many
//! sockets. Nothing here is durable or needed for a message to be stored and delivered: while
//! Redis does not answer, each instance counts on its own (the domain falls back), and what was
//! lost comes back by itself (every instance re-registers its sockets when Redis answers again,
//! and every `HEARTBEAT` anyway).
//!
//! Keys, all under `tagarela:`:
//! - `rate:<limiter>:<key>`: a fixed window's count, expiring with the window;
//! - `socks:<user>`: the user's sockets (`<instance>:<socket>`) scored by when they expire;
//! - `sockets`: every socket, the same way (the dashboard's total);
//! - `online`: users scored by when their latest socket expires; `names`: their usernames.
//!
//! A socket expires `TTL` after its instance last refreshed it: an instance killed without
//! closing its sockets loses them within a minute, and the sweep announces their users offline.

use crate::config::Rate;
use crate::ephemeral::presence::SharedPresence;
use crate::events::SocketId;
use crate::limits::SharedWindows;
use app::models::{UserId, UserRef};
use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// A socket not refreshed for this long is gone (its instance died).
pub const TTL: Duration = Duration::from_secs(60);
/// How often an instance refreshes its sockets.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// A command waits this long for Redis: a hung Redis costs a send at most this much (a
/// stopped one refuses at once).
const TIMEOUT: Duration = Duration::from_millis(500);

const HIT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return 0
end
return 1";

const REFUND: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return 0";

// KEYS: socks:<user>, online, names, sockets. ARGV: member, expires, now, cap, user, name.
// Returns -1 when the user has `cap` live sockets already, else how many they have now.
const UP: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return -1
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[5])
redis.call('HSET', KEYS[3], ARGV[5], ARGV[6])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
return redis.call('ZCARD', KEYS[1])";

// KEYS: socks:<user>, online, sockets. ARGV: member, now, user.
// Returns 1 when that was the user's last live socket (reported once: the sweep and this
// both remove the user from `online` and only the one that did reports).
const DOWN: &str = r"
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) == 0 then
  return redis.call('ZREM', KEYS[2], ARGV[3])
end
return 0";

// KEYS: online, sockets, names. ARGV: now, key prefix of socks.
// Returns how many users it looked at (at most 200), then user, name, user, name… of those
// whose every socket expired.
const SWEEP: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
local gone = {}
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 200)
for _, user in ipairs(stale) do
  local socks = ARGV[2] .. user
  redis.call('ZREMRANGEBYSCORE', socks, '-inf', ARGV[1])
  local top = redis.call('ZRANGE', socks, 0, 0, 'REV', 'WITHSCORES')
  if #top == 0 then
    redis.call('ZREM', KEYS[1], user)
    table.insert(gone, user)
    table.insert(gone, redis.call('HGET', KEYS[3], user) or '')
  else
    redis.call('ZADD', KEYS[1], top[2], user)
  end
end
table.insert(gone, 1, tostring(#stale))
return gone";

/// Users a sweep looks at, at most.
const SWEEP_BATCH: usize = 200;

const ONLINE: &str = "tagarela:online";
const NAMES: &str = "tagarela:names";
const SOCKETS: &str = "tagarela:sockets";
const SOCKS: &str = "tagarela:socks:";

/// This instance's connection to the cluster's Redis.
pub struct Shared {
    redis: ConnectionManager,
    instance: String,
    scripts: Scripts,
    /// Whether Redis last failed to answer: the outage is logged once, and its end.
    failing: AtomicBool,
    /// Wakes the heartbeat when Redis answers again, so what it lost comes back at once.
    answered_again: Notify,
}

struct Scripts {
    hit: Script,
    refund: Script,
    up: Script,
    down: Script,
    sweep: Script,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Shared {
    /// A client for `url` that connects on first use and reconnects by itself.
    pub fn connect(url: &str, instance: &str) -> anyhow::Result<Arc<Self>> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("REDIS_URL is not a valid redis:// URL: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(TIMEOUT))
            .set_connection_timeout(Some(TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let redis = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Arc::new(Self {
            redis,
            instance: instance.to_owned(),
            scripts: Scripts {
                hit: Script::new(HIT),
                refund: Script::new(REFUND),
                up: Script::new(UP),
                down: Script::new(DOWN),
                sweep: Script::new(SWEEP),
            },
            failing: AtomicBool::new(false),
            answered_again: Notify::new(),
        }))
    }

    /// Whether Redis answers now (readiness).
    pub async fn ping(&self) -> anyhow::Result<()> {
        let mut redis = self.redis.clone();
        let answer = redis::cmd("PING").query_async::<String>(&mut redis).await;
        self.observe(answer.map(|_| ()))
    }

    /// Notes an answer: logs the start and the end of an outage once each.
    fn observe<T>(&self, answer: redis::RedisResult<T>) -> anyhow::Result<T> {
        match answer {
            Ok(value) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(
                        "Redis answers again: limits, socket caps and presence are the cluster's again"
                    );
                    self.answered_again.notify_one();
                }
                Ok(value)
            }
            Err(e) => {
                metrics::counter!("redis_failures_total").increment(1);
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "Redis does not answer: limits, socket caps and presence count per instance until it does");
                }
                Err(anyhow::anyhow!("redis: {e}"))
            }
        }
    }

    fn member(&self, socket: SocketId) -> String {
        format!("{}:{}", self.instance, String::from_utf8_lossy(&socket.0))
    }

    /// Refreshes this instance's sockets: they stay live for another `TTL`, and after an outage
    /// (Redis restarted empty) they are there again.
    pub async fn refresh(&self, sockets: &[(UserRef, SocketId)]) -> anyhow::Result<()> {
        if sockets.is_empty() {
            return Ok(());
        }
        let expires = now_ms() + TTL.as_millis() as i64;
        let mut pipe = redis::pipe();
        for (user, socket) in sockets {
            let socks = format!("{SOCKS}{}", user.id.0);
            let member = self.member(*socket);
            pipe.zadd(&socks, &member, expires).ignore();
            pipe.cmd("PEXPIREAT").arg(&socks).arg(expires).ignore();
            pipe.cmd("ZADD")
                .arg(ONLINE)
                .arg("GT")
                .arg(expires)
                .arg(user.id.0)
                .ignore();
            pipe.hset(NAMES, user.id.0, &user.username).ignore();
            pipe.zadd(SOCKETS, &member, expires).ignore();
        }
        let mut redis = self.redis.clone();
        let answer = pipe.query_async::<()>(&mut redis).await;
        self.observe(answer)
    }

    /// Users whose every socket expired since the last sweep (their instance died); each is
    /// reported by one instance only. `true` with them when there may be more to look at.
    pub async fn sweep(&self) -> anyhow::Result<(Vec<UserRef>, bool)> {
        let mut redis = self.redis.clone();
        let answer = self
            .scripts
            .sweep
            .key(ONLINE)
            .key(SOCKETS)
            .key(NAMES)
            .arg(now_ms())
            .arg(SOCKS)
            .invoke_async::<Vec<String>>(&mut redis)
            .await;
        let flat = self.observe(answer)?;
        let looked_at: usize = flat.first().and_then(|n| n.parse().ok()).unwrap_or(0);
        let gone = flat[flat.len().min(1)..]
            .chunks(2)
            .filter_map(|pair| {
                Some(UserRef {
                    id: UserId(pair.first()?.parse().ok()?),
                    username: pair.get(1)?.clone(),
                })
            })
            .collect();
        Ok((gone, looked_at >= SWEEP_BATCH))
    }

    /// Completes when Redis answers again after an outage.
    pub async fn answered_again(&self) {
        self.answered_again.notified().await
    }
}

#[async_trait::async_trait]
impl SharedWindows for Shared {
    async fn hit(&self, key: &str, rate: Rate) -> anyhow::Result<bool> {
        let mut redis = self.redis.clone();
        let answer = self
            .scripts
            .hit
            .key(format!("tagarela:rate:{key}"))
            .arg(rate.count)
            .arg(rate.per.as_millis().max(1) as u64)
            .invoke_async::<i64>(&mut redis)
            .await;
        Ok(self.observe(answer)? == 1)
    }

    async fn refund(&self, key: &str) -> anyhow::Result<()> {
        let mut redis = self.redis.clone();
        let answer = self
            .scripts
            .refund
            .key(format!("tagarela:rate:{key}"))
            .invoke_async::<i64>(&mut redis)
            .await;
        self.observe(answer).map(|_| ())
    }
}

#[async_trait::async_trait]
impl SharedPresence for Shared {
    async fn socket_up(
        &self,
        user: &UserRef,
        socket: SocketId,
        cap: usize,
    ) -> anyhow::Result<Option<bool>> {
        let now = now_ms();
        let mut redis = self.redis.clone();
        let answer = self
            .scripts
            .up
            .key(format!("{SOCKS}{}", user.id.0))
            .key(ONLINE)
            .key(NAMES)
            .key(SOCKETS)
            .arg(self.member(socket))
            .arg(now + TTL.as_millis() as i64)
            .arg(now)
            .arg(cap)
            .arg(user.id.0)
            .arg(&user.username)
            .invoke_async::<i64>(&mut redis)
            .await;
        Ok(match self.observe(answer)? {
            -1 => None,
            open => Some(open == 1),
        })
    }

    async fn socket_down(&self, user: UserId, socket: SocketId) -> anyhow::Result<bool> {
        let mut redis = self.redis.clone();
        let answer = self
            .scripts
            .down
            .key(format!("{SOCKS}{}", user.0))
            .key(ONLINE)
            .key(SOCKETS)
            .arg(self.member(socket))
            .arg(now_ms())
            .arg(user.0)
            .invoke_async::<i64>(&mut redis)
            .await;
        Ok(self.observe(answer)? == 1)
    }

    async fn online_among(&self, users: &[UserId]) -> anyhow::Result<Vec<UserRef>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = users.iter().map(|u| u.0).collect();
        let mut redis = self.redis.clone();
        let answer = redis::pipe()
            .cmd("ZMSCORE")
            .arg(ONLINE)
            .arg(&ids)
            .cmd("HMGET")
            .arg(NAMES)
            .arg(&ids)
            .query_async::<(Vec<Option<f64>>, Vec<Option<String>>)>(&mut redis)
            .await;
        let (scores, names) = self.observe(answer)?;
        let now = now_ms() as f64;
        Ok(ids
            .iter()
            .zip(scores.iter().zip(names))
            .filter(|(_, (score, _))| score.is_some_and(|s| s > now))
            .map(|(id, (_, name))| UserRef {
                id: UserId(*id),
                username: name.unwrap_or_default(),
            })
            .collect())
    }

    async fn totals(&self) -> anyhow::Result<(u64, u64)> {
        let now = now_ms();
        let mut redis = self.redis.clone();
        let answer = redis::pipe()
            .cmd("ZCOUNT")
            .arg(ONLINE)
            .arg(now)
            .arg("+inf")
            .cmd("ZCOUNT")
            .arg(SOCKETS)
            .arg(now)
            .arg("+inf")
            .query_async::<(u64, u64)>(&mut redis)
            .await;
        self.observe(answer)
    }
}
