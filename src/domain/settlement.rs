//! The words of settlement between instances: why a statement line is disputed, why a whole
//! statement is refused, and the statement's version. Pure: the protocol is in
//! docs/settlement.md, the wire form in `federation::activities::statement`.

use serde::{Deserialize, Serialize};

use super::ParseError;

/// Why the payee disputes one line of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dispute {
    /// No such Like reached us, and the payer's origin does not serve it either.
    UnknownLike,
    /// The line's thing is not one of ours, or is not the thing the Like was for.
    NotOurThing,
    /// The line's value is not a positive amount.
    ValueMismatch,
    /// The Like was undone before the payer's close.
    LikeUndone,
    /// The Like counts in another period than the statement's.
    PeriodMismatch,
    /// The Like is on another line of this statement, or was accepted in another statement.
    Duplicate,
    /// The Like as the payer says it sent it is not the Like we received.
    DigestMismatch,
}

impl Dispute {
    /// The reason as it is written on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Dispute::UnknownLike => "unknown_like",
            Dispute::NotOurThing => "not_our_thing",
            Dispute::ValueMismatch => "value_mismatch",
            Dispute::LikeUndone => "like_undone",
            Dispute::PeriodMismatch => "period_mismatch",
            Dispute::Duplicate => "duplicate",
            Dispute::DigestMismatch => "digest_mismatch",
        }
    }

    /// The reason named `text`, if it is one.
    pub fn parse(text: &str) -> Option<Dispute> {
        [
            Dispute::UnknownLike,
            Dispute::NotOurThing,
            Dispute::ValueMismatch,
            Dispute::LikeUndone,
            Dispute::PeriodMismatch,
            Dispute::Duplicate,
            Dispute::DigestMismatch,
        ]
        .into_iter()
        .find(|d| d.as_str() == text)
    }
}

/// The outcome of one line: accepted, or disputed with a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The payee agrees: the line's value is owed to its creator.
    Accepted,
    /// The payee disagrees, for this reason.
    Disputed(Dispute),
}

impl Outcome {
    /// `accepted` or the dispute's reason, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Disputed(reason) => reason.as_str(),
        }
    }
}

/// Why a whole statement is refused (answered with `Reject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The object integrity proof is missing or does not verify.
    ProofInvalid,
    /// The statement is addressed to another instance.
    WrongPayee,
    /// The statement is in another currency than ours.
    CurrencyMismatch,
    /// The total or the line count is not the sum or count of the lines.
    TotalMismatch,
    /// A field does not parse (period, amounts, version, scale).
    Invalid,
}

impl Refusal {
    /// The reason as it is written on the wire and in answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::ProofInvalid => "proof_invalid",
            Refusal::WrongPayee => "wrong_payee",
            Refusal::CurrencyMismatch => "currency_mismatch",
            Refusal::TotalMismatch => "total_mismatch",
            Refusal::Invalid => "invalid_statement",
        }
    }
}

/// The first version of a statement; a correction would carry a higher one.
pub const FIRST_VERSION: i64 = 1;

/// A peer instance named by an admin: its origin, `scheme://host:port`, spelt as the books
/// spell it (lowercase host, the default port made explicit), so that `https://Beta.example`
/// and `https://beta.example:443` are one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerOrigin(String);

impl PeerOrigin {
    /// Parses an http(s) URL with a host and nothing after it but `/`.
    pub fn parse(text: &str) -> Result<PeerOrigin, ParseError> {
        let bad = || {
            ParseError::new(
                "peer",
                format!("{text:?} is not an origin like https://peer.example"),
            )
        };
        let url = url::Url::parse(text.trim()).map_err(|_| bad())?;
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(bad)?;
        if !matches!(url.scheme(), "http" | "https")
            || url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
        {
            return Err(bad());
        }
        let port = url.port_or_known_default().ok_or_else(bad)?;
        Ok(PeerOrigin(format!(
            "{}://{}:{port}",
            url.scheme(),
            host.to_ascii_lowercase()
        )))
    }

    /// `scheme://host:port`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PeerOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_origin_is_spelt_as_the_books_spell_it() {
        let o = |t| PeerOrigin::parse(t).map(|o| o.to_string());
        assert_eq!(
            o("https://Beta.example").ok().as_deref(),
            Some("https://beta.example:443")
        );
        assert_eq!(
            o("http://beta.test:8080/").ok().as_deref(),
            Some("http://beta.test:8080")
        );
        for bad in [
            "beta.example",
            "ftp://beta.example",
            "https://beta.example/x",
            "https://u@b.example",
        ] {
            assert!(o(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_dispute_reason_reads_back_as_itself() {
        for reason in [
            "unknown_like",
            "not_our_thing",
            "value_mismatch",
            "like_undone",
            "period_mismatch",
            "duplicate",
            "digest_mismatch",
        ] {
            assert_eq!(Dispute::parse(reason).map(Dispute::as_str), Some(reason));
        }
        assert_eq!(Dispute::parse("accepted"), None);
    }
}
