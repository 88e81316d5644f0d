//! Accounts and sessions: the rules of sign-up, sign-in, tokens and sign-out, called by the HTTP
//! handlers (`http.rs`), the socket handshake (`realtime::connect`) and the extractors
//! (`extract.rs`). Every token names a session row, so ending a session revokes its tokens at once.

pub mod cache;
pub mod extract;
pub mod forms;
pub mod http;
pub mod origin;
pub mod password;
pub mod token;

use crate::config::Config;
use crate::error::{AppError, Result, on_conflict};
use crate::events::{Audience, Event};
use crate::limits::RateLimiter;
use crate::state::AppState;
use crate::store::Store;
use anyhow::Context;
use app::models::{Role, Session, User, UserId};
use app::validate::{Password, Username};
use password::Passwords;
use rand::RngCore;
use std::net::IpAddr;
use token::TokenKeys;

/// The name of the session cookie over http.
pub const SESSION_COOKIE: &str = "tagarela_session";
/// Its name over https: browsers accept a `__Host-` cookie only from a secure origin, for the
/// whole host (`Path=/`, no `Domain`), so no sibling subdomain or plain-http page can set it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-tagarela_session";

/// Whether the app is served over https (`PUBLIC_URL`).
fn served_over_https(config: &Config) -> bool {
    config
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
}

/// The session cookie's name for this configuration: only that one is read.
pub fn session_cookie_name(config: &Config) -> &'static str {
    if served_over_https(config) {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}
/// The settings key of the generated JWT secret.
const SECRET_SETTING: &str = "jwt_secret";

/// The authenticated caller of a request or socket event, as the database says now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser {
    /// Id.
    pub id: UserId,
    /// Username.
    pub username: String,
    /// Role, read from the database on every request.
    pub role: Role,
    /// The session the token belongs to.
    pub session_id: SessionId,
}

/// A session's id: 128 random bits, written as 32 hex digits in the token and the database.
/// Random rather than a row number, so an ended session's id is never anyone's again and no id
/// can be guessed from another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(u128);

impl SessionId {
    /// A new, random id.
    pub fn random() -> Self {
        Self(rand::random())
    }

    /// Reads the 32 hex digits `to_string` writes; anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u128::from_str_radix(text, 16).ok().map(Self)
    }
}

// In a cluster, events naming a session travel between instances as its 32 hex digits.
impl serde::Serialize for SessionId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for SessionId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("not a session id"))
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl CurrentUser {
    /// Whether the user may administer.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// Everything authentication keeps between requests.
pub struct Auth {
    /// Signs and verifies tokens.
    pub keys: TokenKeys,
    /// Hashes and verifies passwords.
    pub passwords: Passwords,
    /// The session check of every event and request, from memory.
    pub sessions: cache::SessionCache,
    login_by_name: RateLimiter<String>,
    login_by_addr: RateLimiter<IpAddr>,
    register_by_addr: RateLimiter<IpAddr>,
}

impl Auth {
    /// Loads (or generates once) the secret, and makes sure the configured admin exists.
    pub async fn start(store: &dyn Store, config: &Config) -> anyhow::Result<Self> {
        let secret = match &config.jwt_secret {
            Some(secret) => secret.clone(),
            None => load_or_generate_secret(store).await?,
        };
        let passwords = Passwords::new()?;
        if let Some((username, password)) = &config.admin {
            Username::parse(username).context("ADMIN_USERNAME")?;
            Password::parse(password).context("ADMIN_PASSWORD")?;
            let hash = passwords
                .hash(password)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            store
                .conn()
                .await?
                .upsert_admin(username, &hash)
                .await
                .context("creating the configured admin")?;
        }
        let mut by_addr = config.login_rate;
        by_addr.count = by_addr.count.saturating_mul(10);
        Ok(Self {
            keys: TokenKeys::new(secret.as_bytes(), config.jwt_ttl),
            passwords,
            sessions: cache::SessionCache::default(),
            login_by_name: RateLimiter::new(config.login_rate),
            login_by_addr: RateLimiter::new(by_addr),
            register_by_addr: RateLimiter::new(config.register_rate),
        })
    }
}

impl Auth {
    /// Makes the sign-in and registration limits hold across a cluster.
    pub fn share_limits(&self, shared: std::sync::Arc<dyn crate::limits::SharedWindows>) {
        self.login_by_name.share(shared.clone(), "login");
        self.login_by_addr.share(shared.clone(), "login-addr");
        self.register_by_addr.share(shared, "register");
    }

    /// Counts a password check of account `name_key` (lower-case) from `addr` as failed until
    /// `succeeded` says otherwise; `rate_limited` when either limit is spent. Counted before
    /// the slow verification, so parallel guesses all count.
    async fn password_attempt(&self, name_key: String, addr: IpAddr) -> Result<Attempt<'_>> {
        let by_name = self.login_by_name.hit(&name_key).await;
        let by_addr = self.login_by_addr.hit(&addr).await;
        let attempt = Attempt {
            auth: self,
            name_key: by_name.then_some(name_key),
            addr: by_addr.then_some(addr),
        };
        if by_name && by_addr {
            Ok(attempt)
        } else {
            attempt.succeeded();
            Err(AppError::RateLimited(
                "Too many wrong passwords; try again later.".into(),
            ))
        }
    }
}

/// A password check counted against the sign-in limits; `succeeded` gives the hits back.
struct Attempt<'a> {
    auth: &'a Auth,
    name_key: Option<String>,
    addr: Option<IpAddr>,
}

impl Attempt<'_> {
    /// The password was right (or the attempt never happened): it does not count.
    fn succeeded(self) {
        if let Some(name) = &self.name_key {
            self.auth.login_by_name.give_back(name);
        }
        if let Some(addr) = &self.addr {
            self.auth.login_by_addr.give_back(addr);
        }
    }
}

/// The secret kept in the database, generated on first start so restarts keep sessions valid.
async fn load_or_generate_secret(store: &dyn Store) -> Result<String> {
    let mut db = store.conn().await?;
    if let Some(secret) = db.find_setting(SECRET_SETTING).await? {
        return Ok(secret);
    }
    let mut bytes = [0u8; 48];
    rand::rng().fill_bytes(&mut bytes);
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    db.insert_setting_once(SECRET_SETTING, &secret).await
}

/// `exp` as API.md's `expires_at` (RFC 3339, UTC).
fn rfc3339(secs: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A new token for a session, as the API answers it.
fn session_body(state: &AppState, user: User, session_id: SessionId) -> Result<Session> {
    let issued = state.auth.keys.issue(user.id.0, session_id)?;
    Ok(Session {
        user,
        token: issued.token,
        expires_at: rfc3339(issued.expires_at),
    })
}

/// The `{username, password}` body of register and login.
#[derive(Debug, serde::Deserialize)]
pub struct CredentialsInput {
    /// The username.
    pub username: String,
    /// The password.
    pub password: String,
}

/// Creates an account (the first one ever is admin) and starts its session.
pub async fn register(state: &AppState, addr: IpAddr, input: CredentialsInput) -> Result<Session> {
    if !state.auth.register_by_addr.hit(&addr).await {
        return Err(AppError::RateLimited(
            "Too many sign-ups from this address; try later.".into(),
        ));
    }
    let username = Username::parse(&input.username)?;
    let password = Password::parse(&input.password)?;
    let hash = state.auth.passwords.hash(password.as_str()).await?;
    let mut tx = state.store.begin().await?;
    let user = tx
        .insert_user(username.as_str(), &hash)
        .await
        .map_err(on_conflict("That username is taken."))?;
    let session_id = tx.insert_session(user.id).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, "user registered");
    session_body(state, user, session_id)
}

/// Signs in. Wrong name and wrong password give one identical answer, in about the same time.
pub async fn login(state: &AppState, addr: IpAddr, input: CredentialsInput) -> Result<Session> {
    // Names that cannot exist share one key, so junk cannot grow the limiter's map.
    let name_key = match Username::parse(&input.username) {
        Ok(name) => name.as_str().to_lowercase(),
        Err(_) => String::new(),
    };
    let attempt = state.auth.password_attempt(name_key, addr).await?;
    let found = state
        .store
        .conn()
        .await?
        .find_credentials(&input.username)
        .await?;
    let (user, hash) = match found {
        Some(c) => (Some(c.user), Some(c.password_hash)),
        None => (None, None),
    };
    let verified = state.auth.passwords.verify(hash, &input.password).await?;
    let user = match user {
        Some(user) if verified && user.banned => {
            return Err(AppError::Forbidden("This account is banned.".into()));
        }
        Some(user) if verified => user,
        _ => return Err(AppError::Unauthorized("Wrong username or password.".into())),
    };
    attempt.succeeded();
    let session_id = state.store.conn().await?.insert_session(user.id).await?;
    session_body(state, user, session_id)
}

/// A fresh token for the caller's session.
pub async fn refresh(state: &AppState, me: &CurrentUser) -> Result<Session> {
    let user = me_user(state, me).await?;
    session_body(state, user, me.session_id)
}

/// The caller's `user`.
pub async fn me_user(state: &AppState, me: &CurrentUser) -> Result<User> {
    state
        .store
        .conn()
        .await?
        .find_user(me.id)
        .await?
        .ok_or_else(|| AppError::Unauthorized("Your session has ended.".into()))
}

/// Ends the caller's session and closes its sockets.
pub async fn logout(state: &AppState, me: &CurrentUser) -> Result<()> {
    state
        .store
        .conn()
        .await?
        .delete_session(me.session_id)
        .await?;
    state.auth.sessions.invalidate();
    close_session_sockets(state, &[me.session_id]).await;
    Ok(())
}

/// Ends every session of the caller and closes all their sockets.
pub async fn logout_all(state: &AppState, me: &CurrentUser) -> Result<()> {
    end_all_sessions(state, me.id).await
}

/// Ends every session of `user_id` (logout-all, ban) and closes all their sockets.
pub async fn end_all_sessions(state: &AppState, user_id: UserId) -> Result<()> {
    state
        .store
        .conn()
        .await?
        .delete_sessions_except(user_id, None)
        .await?;
    state.auth.sessions.invalidate();
    let sockets = Audience::User(user_id);
    state.bus.publish(Event::Disconnect(sockets)).await;
    Ok(())
}

/// The `{current, new}` body of a password change.
#[derive(Debug, serde::Deserialize)]
pub struct PasswordChange {
    /// The password now.
    pub current: String,
    /// The password to set.
    pub new: String,
}

/// Changes the caller's password and ends their other sessions. A wrong `current` password
/// counts as a failed sign-in of the account (`LOGIN_RATE`): with a stolen token, this would
/// otherwise be a way to guess the password without limit.
pub async fn change_password(
    state: &AppState,
    me: &CurrentUser,
    addr: IpAddr,
    input: PasswordChange,
) -> Result<()> {
    let new = Password::parse(&input.new)?;
    let attempt = state
        .auth
        .password_attempt(me.username.to_lowercase(), addr)
        .await?;
    let hash = state.store.conn().await?.find_password_hash(me.id).await?;
    if !state.auth.passwords.verify(hash, &input.current).await? {
        return Err(AppError::Forbidden("The current password is wrong.".into()));
    }
    attempt.succeeded();
    let new_hash = state.auth.passwords.hash(new.as_str()).await?;
    let mut tx = state.store.begin().await?;
    tx.update_password_hash(me.id, &new_hash).await?;
    let ended = tx
        .delete_sessions_except(me.id, Some(me.session_id))
        .await?;
    tx.commit().await?;
    state.auth.sessions.invalidate();
    close_session_sockets(state, &ended).await;
    Ok(())
}

/// The caller behind a token: valid signature and times, a live session, not banned. Also
/// returns the token's expiry so sockets can be closed when it passes.
pub async fn authenticate(state: &AppState, token: &str) -> Result<(CurrentUser, u64)> {
    let unauthorized = || AppError::Unauthorized("Sign in to continue.".into());
    let (user_id, session_id, claims) = state.auth.keys.verify(token).ok_or_else(unauthorized)?;
    // In a cluster a token is checked against the database itself: a sign-out on another
    // instance refuses it here at once, not once that instance's event has arrived.
    let fresh = state.bus.is_clustered();
    let me = session_user(state, user_id, session_id, fresh)
        .await?
        .ok_or_else(unauthorized)?;
    Ok((me, claims.exp))
}

/// Re-checks the caller: a socket event after a logout, ban or role change acts on what is true
/// now, not on what the handshake saw.
pub async fn refresh_current(state: &AppState, me: &CurrentUser) -> Result<CurrentUser> {
    session_user(state, me.id.0, me.session_id, false)
        .await?
        .ok_or_else(|| AppError::Unauthorized("Your session has ended.".into()))
}

/// The live, unbanned caller of a session: from the cache (unless `fresh`), else from the
/// database.
async fn session_user(
    state: &AppState,
    user_id: i64,
    session_id: SessionId,
    fresh: bool,
) -> Result<Option<CurrentUser>> {
    let sessions = &state.auth.sessions;
    if !fresh && let Some(me) = sessions.get(user_id, session_id) {
        return Ok(Some(me));
    }
    let generation = sessions.generation();
    let found = state
        .store
        .conn()
        .await?
        .find_session_user(user_id, session_id)
        .await?;
    if let Some(me) = &found {
        sessions.put(generation, me.clone());
    }
    Ok(found)
}

async fn close_session_sockets(state: &AppState, session_ids: &[SessionId]) {
    for &id in session_ids {
        let sockets = Audience::Session(id);
        state.bus.publish(Event::Disconnect(sockets)).await;
    }
}

/// The `Set-Cookie` value carrying `token` (HttpOnly, SameSite=Strict; over https `Secure` and
/// the `__Host-` name).
pub fn session_cookie(config: &Config, token: &str, max_age_secs: u64) -> String {
    format!(
        "{}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_secs}{}",
        session_cookie_name(config),
        if served_over_https(config) {
            "; Secure"
        } else {
            ""
        }
    )
}
