//! The parts of receiving settlement documents that build or read answers: whether a
//! statement can be taken on at all (`decide`), the signed `Accept { Claim }` and `Reject` we
//! send (`reply`), and the claim we read back as payer (`claim`).

mod claim;
mod decide;
mod reply;

pub use claim::{Outcomes, claim_outcomes};
pub use decide::{Decision, adjustments_of, decide, statement_digest};
pub use reply::{accept, reject, reject_unrecorded, replayed};
