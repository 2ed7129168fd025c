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
    /// The thing's URL is not proven its owner's when we reconcile: as for a local flattr,
    /// nobody is paid for a URL nobody proved theirs (docs/settlement.md, section 4).
    UnprovenThing,
    /// An adjustment line that does not correct what we hold of a settled period: no such
    /// statement of the payer's, a period not paid yet (restate it instead), a Like not on it,
    /// a value that is not its line's, or a correction of what is already so.
    UnmatchedAdjustment,
    /// A take-back larger than what the creator is credited in this statement: it would take
    /// money the creator may already have withdrawn (docs/settlement.md, section 4.1).
    NotCovered,
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
            Dispute::UnprovenThing => "unproven_thing",
            Dispute::UnmatchedAdjustment => "unmatched_adjustment",
            Dispute::NotCovered => "not_covered",
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
            Dispute::UnprovenThing,
            Dispute::UnmatchedAdjustment,
            Dispute::NotCovered,
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

/// Why a step of netting, payment or receipt is refused (docs/settlement.md, sections 5-6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettlementRefusal {
    /// Nothing is netted with this peer for this period (yet).
    UnknownPeriod,
    /// The payment is not the side's to make: the other side owes, or nothing is owed.
    NotDebtor,
    /// The amount is not the netted amount.
    AmountMismatch,
    /// A payment (or receipt) with other details was already recorded for the period.
    AlreadyPaid,
    /// The creditor confirms only a payment the debtor announced with a signed notice.
    NoPaymentNotice,
    /// A document with this id was received before with other content.
    PaymentConflict,
    /// A take-back names a Like that is not a line of the period's statement.
    UnknownLine,
    /// A take-back of a period not paid yet: restate the period instead (or wait).
    NotPaid,
}

impl SettlementRefusal {
    /// The code as written in answers and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            SettlementRefusal::UnknownPeriod => "unknown_period",
            SettlementRefusal::NotDebtor => "not_debtor",
            SettlementRefusal::AmountMismatch => "amount_mismatch",
            SettlementRefusal::AlreadyPaid => "already_paid",
            SettlementRefusal::NoPaymentNotice => "no_payment_notice",
            SettlementRefusal::PaymentConflict => "payment_conflict",
            SettlementRefusal::UnknownLine => "unknown_line",
            SettlementRefusal::NotPaid => "not_paid",
        }
    }
}

/// Who pays the netted amount of a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Debtor {
    /// We pay the peer.
    Us,
    /// The peer pays us.
    Peer,
    /// Less than a cent either way: nobody pays, the rest is carried.
    Nobody,
}

impl Debtor {
    /// `us`, `peer` or `none`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Debtor::Us => "us",
            Debtor::Peer => "peer",
            Debtor::Nobody => "none",
        }
    }
}

/// One cent in ten-thousandths: payments between instances are whole cents.
pub const CENT: i64 = 100;

/// The netting of one period with a peer: what we owe it (`ours`, the accepted lines of our
/// statement), what it owes us (`theirs`), and the sub-cent rest carried from the previous
/// netting (`carried_in`, positive when we owed it). The debtor pays the net rounded down to
/// whole cents; the rest, signed like `carried_in`, is carried to the next netting. The peer,
/// computing with `theirs`, `ours` and `-carried_in`, finds the same amount, the other debtor
/// and `-carried_out`: both sides agree without talking.
pub fn net(ours: i64, theirs: i64, carried_in: i64) -> (i64, Debtor, i64) {
    let net = ours - theirs + carried_in;
    let amount = net.abs() / CENT * CENT;
    let debtor = match (amount, net > 0) {
        (0, _) => Debtor::Nobody,
        (_, true) => Debtor::Us,
        (_, false) => Debtor::Peer,
    };
    let carried_out = net - net.signum() * amount;
    (amount, debtor, carried_out)
}

/// The date a payment left or arrived, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentDate(chrono::NaiveDate);

impl PaymentDate {
    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<PaymentDate, ParseError> {
        chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map(PaymentDate)
            .map_err(|_| ParseError::new("date", format!("{text:?} is not a date YYYY-MM-DD")))
    }
}

impl std::fmt::Display for PaymentDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

/// The bank's reference of a transfer: 1 to 140 printable characters (a SEPA remittance
/// line's length), so that the admins of both sides can find it in their statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankReference(String);

impl BankReference {
    /// Parses a reference: trimmed, not empty, at most 140 characters, no control characters.
    pub fn parse(text: &str) -> Result<BankReference, ParseError> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > 140 || text.chars().any(char::is_control) {
            return Err(ParseError::new(
                "reference",
                "a bank reference is 1 to 140 printable characters",
            ));
        }
        Ok(BankReference(text.to_owned()))
    }

    /// The reference.
    pub fn as_str(&self) -> &str {
        &self.0
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
    fn netting_pays_whole_cents_and_carries_the_rest_mirrored_on_both_sides() {
        // We owe 10.00, the peer owes us 7.00: we pay 3.00, nothing is carried.
        assert_eq!(net(100_000, 70_000, 0), (30_000, Debtor::Us, 0));
        assert_eq!(net(70_000, 100_000, 0), (30_000, Debtor::Peer, 0));
        // 0.3333 net: 0.33 is paid, 0.0033 carried; the peer sees the mirror.
        assert_eq!(net(3_333, 0, 0), (3_300, Debtor::Us, 33));
        assert_eq!(net(0, 3_333, 0), (3_300, Debtor::Peer, -33));
        // Carried rests add up until they make a cent.
        assert_eq!(net(67, 0, 33), (100, Debtor::Us, 0));
        assert_eq!(net(50, 0, 33), (0, Debtor::Nobody, 83));
        assert_eq!(net(0, 50, -33), (0, Debtor::Nobody, -83));
        assert_eq!(net(0, 0, 0), (0, Debtor::Nobody, 0));
        for (ours, theirs, carried) in [(12_345, 6_789, 42), (1, 99_999, -99), (5, 5, 0)] {
            let (amount, debtor, rest) = net(ours, theirs, carried);
            let (mirror_amount, mirror_debtor, mirror_rest) = net(theirs, ours, -carried);
            assert_eq!((amount, rest), (mirror_amount, -mirror_rest));
            assert!(matches!(
                (debtor, mirror_debtor),
                (Debtor::Us, Debtor::Peer)
                    | (Debtor::Peer, Debtor::Us)
                    | (Debtor::Nobody, Debtor::Nobody)
            ));
            assert!(rest.abs() < CENT && amount % CENT == 0);
        }
    }

    #[test]
    fn payment_dates_and_bank_references_parse() {
        assert_eq!(
            PaymentDate::parse("2026-11-05").map(|d| d.to_string()),
            Ok("2026-11-05".to_owned())
        );
        assert!(PaymentDate::parse("2026-11-31").is_err());
        assert!(BankReference::parse("  ").is_err());
        assert!(BankReference::parse(&"x".repeat(141)).is_err());
        assert_eq!(
            BankReference::parse(" SEPA 42 ").map(|r| r.as_str().to_owned()),
            Ok("SEPA 42".to_owned())
        );
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
            "unproven_thing",
        ] {
            assert_eq!(Dispute::parse(reason).map(Dispute::as_str), Some(reason));
        }
        assert_eq!(Dispute::parse("accepted"), None);
    }
}
