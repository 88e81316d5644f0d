//! JWTs: HS256 only (the algorithm is pinned, so `alg: none` or RS256 tricks are refused),
//! `exp`, `nbf`, `iat`, `sub` required, a small leeway, and `sid` naming the session row that
//! makes the token revocable.

use super::SessionId;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 5;

/// What a token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id, as a string (RFC 7519).
    pub sub: String,
    /// The session id (`SessionId`, 32 hex digits).
    pub sid: String,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Not before.
    pub nbf: u64,
    /// Expires at.
    pub exp: u64,
}

/// A freshly issued token.
pub struct Issued {
    /// The JWT.
    pub token: String,
    /// `exp`, seconds since the epoch.
    pub expires_at: u64,
}

/// Signs and checks tokens with one secret.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

/// Seconds since the epoch, now.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl TokenKeys {
    /// Keys for `secret` (its bytes as they are) and tokens living `ttl`.
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    /// A token for `user_id`'s session `session_id`.
    pub fn issue(&self, user_id: i64, session_id: SessionId) -> anyhow::Result<Issued> {
        let now = now_secs();
        let exp = now + self.ttl.as_secs();
        let claims = Claims {
            sub: user_id.to_string(),
            sid: session_id.to_string(),
            iat: now,
            nbf: now,
            exp,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok(Issued {
            token,
            expires_at: exp,
        })
    }

    /// The user and session of a valid token, with its claims; `None` for anything forged,
    /// expired, malformed or not HS256.
    pub fn verify(&self, token: &str) -> Option<(i64, SessionId, Claims)> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        let user_id = data.claims.sub.parse().ok()?;
        let session = SessionId::parse(&data.claims.sid)?;
        Some((user_id, session, data.claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"unit-test-secret-unit-test-secret-0123";

    #[test]
    fn an_issued_token_verifies() {
        let keys = TokenKeys::new(SECRET, Duration::from_secs(60));
        let session = SessionId::random();
        let issued = keys.issue(7, session).unwrap();
        let (user, sid, _) = keys.verify(&issued.token).unwrap();
        assert_eq!((user, sid), (7, session));
    }

    #[test]
    fn another_secret_is_refused() {
        let issued = TokenKeys::new(SECRET, Duration::from_secs(60))
            .issue(7, SessionId::random())
            .unwrap();
        let other = TokenKeys::new(
            b"another-secret-another-secret-012345",
            Duration::from_secs(60),
        );
        assert!(other.verify(&issued.token).is_none());
    }

    #[test]
    fn alg_none_is_refused() {
        use base64::Engine as _;
        let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let keys = TokenKeys::new(SECRET, Duration::from_secs(60));
        let now = now_secs();
        let header = encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = encode(
            format!(
                r#"{{"sub":"1","sid":"0123456789abcdef0123456789abcdef","iat":{now},"nbf":{now},"exp":{}}}"#,
                now + 60
            )
            .as_bytes(),
        );
        assert!(keys.verify(&format!("{header}.{body}.")).is_none());
    }

    #[test]
    fn an_expired_token_is_refused() {
        let keys = TokenKeys::new(SECRET, Duration::from_secs(60));
        let now = now_secs();
        let claims = Claims {
            sub: "1".into(),
            sid: SessionId::random().to_string(),
            iat: now - 600,
            nbf: now - 600,
            exp: now - 60,
        };
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding).unwrap();
        assert!(keys.verify(&token).is_none());
    }
}
