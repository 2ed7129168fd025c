//! What the admin sees of settlement (issue 8.8): every peer with what we owe it, what it
//! disputed and what it owes us, per period and in total, and the statements sent and received
//! with their disputed lines. Read-only: one query module that `cli` and `http` both render, so
//! the command line and the API never disagree. Reads `statements` and `statement_lines` (owned
//! by `settle::statements`), the ledger's balances and `peer_controls` (`store::peers`).
//!
//! - `peers`: where we stand with each peer, per period and in total;
//! - `views`: the statements with their lines, disputes and adjustments;
//! - `payments_due`: the payments to make and to confirm;
//! - `summary`: the per-statement sums the first two start from.

mod payments_due;
mod peers;
mod summary;
mod views;

pub use payments_due::{PaymentDue, Payments, payments};
pub use peers::{PeerPosition, PeriodPosition, peers};
pub use summary::StatementFilter;
pub use views::{AdjustmentLine, DisputedLine, Line, StatementView, statements};
