//! Settlement: the close of a period (budgets split, fees taken, creators credited) and the
//! scheduler that runs it once a period has ended. Settlement with peer instances joins here.

pub mod close;
pub mod held;
pub mod scheduler;
