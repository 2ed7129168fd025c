//! Why a close stops: the one error type of the close's stages, and of `settle::held`, whose
//! work runs inside them.

use chrono::{DateTime, Utc};

use crate::domain::period::Period;
use crate::ledger::LedgerError;
use crate::store::StoreError;
use crate::store::periods::Stage;

/// Why a close did not run or did not finish; the books are unchanged by a failed stage.
#[derive(Debug, thiserror::Error)]
pub enum CloseError {
    /// The period has not ended yet.
    #[error("period {period} has not ended yet; it can be closed from {ends}")]
    PeriodOpen {
        /// The period asked for.
        period: Period,
        /// When it ends.
        ends: DateTime<Utc>,
    },
    /// An earlier period with flattrs is still open; it must close first.
    #[error("period {period} cannot be closed before {earlier}, which is not closed yet")]
    EarlierOpen {
        /// The period asked for.
        period: Period,
        /// The earlier period still open.
        earlier: Period,
    },
    /// Stopped after a stage on request ([`CloseOptions::fail_after`](super::CloseOptions::fail_after)), as a crash would.
    #[error("close of {period} stopped after stage {stage:?} on request (failure injection)")]
    Injected {
        /// The period being closed.
        period: Period,
        /// The last stage that ran.
        stage: Stage,
    },
    /// Rolled back inside a stage on request ([`CloseOptions::roll_back_in`](super::CloseOptions::roll_back_in)), as a crash
    /// before the stage's commit would.
    #[error("close of {period} rolled back inside stage {stage:?} on request (failure injection)")]
    InjectedRollback {
        /// The period being closed.
        period: Period,
        /// The stage whose work was rolled back.
        stage: Stage,
    },
    /// A stage's own check of its numbers failed; the stage was rolled back.
    #[error("self-check failed while closing {period}: {problem}")]
    SelfCheck {
        /// The period being closed.
        period: Period,
        /// What did not add up.
        problem: String,
    },
    /// The ledger refused a posting or failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CloseError {
    fn from(e: sqlx::Error) -> Self {
        CloseError::Store(StoreError::Database(e))
    }
}
