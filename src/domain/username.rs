//! Usernames, which are also fediverse handles (`acct:NAME@DOMAIN`).

use std::fmt;

use super::ParseError;

/// A local username: 1–30 characters of `a-z`, `0-9` and `_`, as Mastodon allows, stored in
/// lower case so that `Alice` and `alice` are one account (WebFinger is case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Lower-cases and checks a username: 1 to 30 of `a-z`, `0-9` and `_`.
    pub fn parse(text: &str) -> Result<Username, ParseError> {
        let lower = text.trim().to_ascii_lowercase();
        if lower.is_empty() || lower.len() > 30 {
            return Err(ParseError::new(
                "username",
                "must be 1 to 30 characters long",
            ));
        }
        if !lower
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(ParseError::new(
                "username",
                "may contain only letters a-z, digits and underscores",
            ));
        }
        Ok(Username(lower))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password as typed at sign-up: long enough to be worth hashing, short enough not to let
/// one request burn seconds of argon2.
pub struct NewPassword(String);

impl NewPassword {
    /// Checks a new password's length: at least 8 characters, at most 256 bytes.
    pub fn parse(text: &str) -> Result<NewPassword, ParseError> {
        let chars = text.chars().count();
        if chars < 8 {
            return Err(ParseError::new(
                "password",
                "must be at least 8 characters long",
            ));
        }
        if text.len() > 256 {
            return Err(ParseError::new(
                "password",
                "must be at most 256 bytes long",
            ));
        }
        Ok(NewPassword(text.to_owned()))
    }

    /// The password's text, for hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_lower_cased_and_limited_to_mastodon_characters() {
        assert_eq!(Username::parse("Alice_1").unwrap().as_str(), "alice_1");
        for bad in [
            "",
            "a b",
            "alice@example.org",
            "ålice",
            "a-b",
            &"x".repeat(31),
        ] {
            assert!(Username::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse("long enough").is_ok());
    }
}
