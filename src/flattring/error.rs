//! Why a flattr, an undo or a subscription did not happen: the flattr use case's one error type.

use crate::domain::flattr::FlattrRefusal;
use crate::domain::money::Money;
use crate::federation::FederationError;
use crate::ledger::LedgerError;
use crate::limits::Limited;
use crate::proving::ProvingError;
use crate::store::StoreError;

/// Why a flattr, undo or subscription did not happen. Flattr's own refusals (`flattr_owner`,
/// `no_means`, `flattr_once`, `period_closed`) arrive as `Store(StoreError::Refused(_))`.
#[derive(Debug, thiserror::Error)]
pub enum FlattrError {
    /// A URL of this instance (or an unknown URL nobody resolved) that names no thing.
    #[error(
        "no thing is registered for this URL; its owner can register it, or flattr it through an auto-submit URL"
    )]
    Unregistered,
    /// The database failed or refused (Flattr's refusals among them).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ledger refused (the wallet) or failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Resolving an object of another server failed (unreachable, not flattrable, refused).
    #[error(transparent)]
    Remote(#[from] FederationError),
    /// Too many remote URLs of one origin resolved lately (see `limits`).
    #[error("too many remote URLs of this server resolved lately")]
    Limited(Limited),
    /// The URL of an auto-submit could not be examined, or it may not be registered here.
    #[error(transparent)]
    Proving(#[from] ProvingError),
    /// An auto-submit URL under a domain its named owner has not verified.
    #[error(
        "auto-submit creates things only under a domain their owner verified; {domain} is not verified by {owner}"
    )]
    UnverifiedDomain {
        /// The URL's domain (or host).
        domain: String,
        /// The owner the auto-submit URL names.
        owner: String,
    },
    /// The thing lives on a peer an admin blocked (`admin peer block`, or `blocked_domains`).
    #[error("{0} is blocked by this instance's admin: its things cannot be flattred from here")]
    PeerBlocked(String),
    /// We owe the thing's peer more than the limit its admin set (`admin peer limit`).
    #[error(
        "this instance owes {peer} {owed}, more than its limit of {limit}: its things cannot be flattred until that is settled"
    )]
    PeerLimit {
        /// The peer's origin.
        peer: String,
        /// What we owe it (`payable:PEER`).
        owed: Money,
        /// The limit.
        limit: Money,
    },
}

impl From<Limited> for FlattrError {
    fn from(limited: Limited) -> Self {
        FlattrError::Limited(limited)
    }
}

impl From<FlattrRefusal> for FlattrError {
    fn from(refusal: FlattrRefusal) -> Self {
        FlattrError::Store(StoreError::Refused(refusal))
    }
}
