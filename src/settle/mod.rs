//! Settlement: the close of a period (budgets split, fees taken, creators credited), the
//! scheduler that runs it once a period has ended, and the books of settlement with peer
//! instances (statements and claims; their wire form and proofs are `federation`'s).

pub mod adjustments;
mod claims;
pub mod close;
mod corrections;
pub mod held;
pub mod netting;
pub mod payments;
pub mod positions;
mod reconcile;
pub mod scheduler;
pub mod statements;
