//! Adjustment lines (issue 8.4, docs/settlement.md section 4.1): a correction of a period that
//! is already paid rides, as signed lines, in the payer's statement of a later period. Owns
//! the tables `adjustment_requests` (our admin's corrections waiting for a statement) and
//! `statement_adjustments` (the adjustment lines of each statement, sent or received, with
//! their outcomes), migration 0015, and what an accepted adjustment does to the books on
//! either side. The wire form is `federation`'s.
//!
//! - `lines`: the adjustment lines of each statement, with their outcomes;
//! - `requests`: our admin's corrections, waiting for the statement that carries them;
//! - `reconcile`: the payee's checks of the adjustment lines it receives;
//! - `books`: what accepted adjustments post, net and release.

pub(super) mod books;
pub(super) mod lines;
mod reconcile;
mod requests;

pub use lines::{AdjustmentRow, NewAdjustment, of_statement};
pub use reconcile::reconcile;
pub use requests::{Request, attach, due_for, peers_waiting, request};
