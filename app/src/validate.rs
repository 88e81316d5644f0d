//! The input rules of `docs/API.md` as newtypes whose `parse()` both the browser (to show errors
//! inline) and the server (to enforce them) call, so a rule lives in one place.

use thiserror::Error;

/// Why a value was refused; its `Display` is the sentence shown to users.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);

fn invalid(message: impl Into<String>) -> InvalidInput {
    InvalidInput(message.into())
}

/// A username: 3–32 of `[A-Za-z0-9_.-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Shortest allowed, in characters.
    pub const MIN_CHARS: usize = 3;
    /// Longest allowed, in characters.
    pub const MAX_CHARS: usize = 32;

    /// Checks the API.md rule.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let len = raw.chars().count();
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&len) || !raw.chars().all(allowed) {
            return Err(invalid(
                "Username must be 3 to 32 letters, digits, '_', '.' or '-'.",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The username as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password: 8–128 characters.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

impl Password {
    /// Shortest allowed, in characters.
    pub const MIN_CHARS: usize = 8;
    /// Longest allowed, in characters.
    pub const MAX_CHARS: usize = 128;

    /// Checks the API.md rule.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let len = raw.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&len) {
            return Err(invalid("Password must be 8 to 128 characters."));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The password as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Message text: 1–4000 Unicode scalar values after trimming; no control characters but newline and tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    /// Longest allowed, in Unicode scalar values after trimming.
    pub const MAX_CHARS: usize = 4000;

    /// Trims white space at both ends and checks the API.md rule; nothing else is changed.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(invalid("Message text must not be empty."));
        }
        if text.chars().count() > Self::MAX_CHARS {
            return Err(invalid("Message text must be at most 4000 characters."));
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(invalid("Message text must not contain control characters."));
        }
        Ok(Self(text.to_owned()))
    }

    /// The trimmed text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A `clientId`: 1–64 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId(String);

impl ClientId {
    /// Longest allowed.
    pub const MAX_CHARS: usize = 64;

    /// Checks the API.md rule.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let printable = |c: char| c.is_ascii_graphic() || c == ' ';
        if raw.is_empty() || raw.len() > Self::MAX_CHARS || !raw.chars().all(printable) {
            return Err(invalid(
                "clientId must be 1 to 64 printable ASCII characters.",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A room name: 1–64 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomName(String);

impl RoomName {
    /// Longest allowed, in characters.
    pub const MAX_CHARS: usize = 64;

    /// Trims and checks the API.md rule.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let name = raw.trim();
        let len = name.chars().count();
        if len == 0 || len > Self::MAX_CHARS || name.chars().any(char::is_control) {
            return Err(invalid("Room name must be 1 to 64 characters."));
        }
        Ok(Self(name.to_owned()))
    }

    /// The trimmed name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The usernames a text mentions as `@username`, each once, in order of first appearance. An `@`
/// inside a word (an e-mail address) is not a mention.
pub fn mentioned_usernames(text: &str) -> Vec<&str> {
    // Name characters are all ASCII, and no byte of a multi-byte UTF-8 character is ASCII, so
    // bytes can be tested directly; `match_indices` jumps from `@` to `@` (memchr), which keeps
    // the usual message, without any `@`, off a char-by-char walk on every send.
    let is_name_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
    let mut found: Vec<&str> = Vec::new();
    for (at, _) in text.match_indices('@') {
        if at > 0 && is_name_byte(text.as_bytes()[at - 1]) {
            continue;
        }
        let rest = &text[at + 1..];
        let len = rest
            .bytes()
            .position(|b| !is_name_byte(b))
            .unwrap_or(rest.len());
        // A trailing dot ends the sentence, not the name.
        let name = rest[..len].trim_end_matches('.');
        if Username::parse(name).is_ok() && !found.iter().any(|f| f.eq_ignore_ascii_case(name)) {
            found.push(name);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_found_once_and_not_in_email_addresses() {
        assert_eq!(
            mentioned_usernames("hi @ana and @bob_2. @ana again"),
            ["ana", "bob_2"]
        );
        assert_eq!(
            mentioned_usernames("mail ana@example.org"),
            Vec::<&str>::new()
        );
        assert_eq!(mentioned_usernames("@ab is too short"), Vec::<&str>::new());
        assert_eq!(mentioned_usernames("olá@ana, ça va @zé?"), ["ana"]);
        assert_eq!(mentioned_usernames("@@ana @"), ["ana"]);
    }

    #[test]
    fn usernames_follow_the_contract() {
        assert!(Username::parse("ana.b-c_1").is_ok());
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
        assert!(Username::parse("ana maria").is_err());
        assert!(Username::parse("anã").is_err());
    }

    #[test]
    fn passwords_count_characters_not_bytes() {
        assert!(Password::parse("çççççççç").is_ok());
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"p".repeat(129)).is_err());
    }

    #[test]
    fn message_text_is_trimmed_and_otherwise_kept() {
        let text = MessageText::parse("  olá\tmundo\n 👋🏽 ").unwrap();
        assert_eq!(text.as_str(), "olá\tmundo\n 👋🏽");
        assert!(MessageText::parse(" \n\t ").is_err());
        assert!(MessageText::parse("bell\u{7}").is_err());
        assert!(MessageText::parse(&"é".repeat(4000)).is_ok());
        assert!(MessageText::parse(&"é".repeat(4001)).is_err());
    }

    #[test]
    fn client_ids_are_printable_ascii() {
        assert!(ClientId::parse("abc-123").is_ok());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse(&"x".repeat(65)).is_err());
        assert!(ClientId::parse("tab\there").is_err());
        assert!(ClientId::parse("ção").is_err());
    }

    #[test]
    fn room_names_are_trimmed() {
        assert_eq!(RoomName::parse("  general ").unwrap().as_str(), "general");
        assert!(RoomName::parse("   ").is_err());
        assert!(RoomName::parse(&"r".repeat(65)).is_err());
    }
}
