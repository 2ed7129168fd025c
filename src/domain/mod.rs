//! Pure rules of fedflattr: money, periods, the equal split, names and things.
//! Nothing here does I/O; every other layer may import this one and it imports none of them.

pub mod flattr;
pub mod money;
pub mod password;
pub mod period;
pub mod proof;
pub mod settlement;
pub mod split;
pub mod thing;
pub mod username;

/// A value from outside (a request, a config file, the command line) that did not parse.
///
/// It names the field so that the HTTP layer can say exactly what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ParseError {
    /// The input field that is wrong (`url`, `amount`, …).
    pub field: &'static str,
    /// What is wrong with it, for people.
    pub message: String,
}

impl ParseError {
    /// A problem with `field`.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
