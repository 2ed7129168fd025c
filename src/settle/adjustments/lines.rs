//! The adjustment lines of each statement, sent or received (the table
//! `statement_adjustments`): recorded with their statement, read back in order, and given
//! their outcome when the claim comes.

use serde::Serialize;

use crate::domain::money::Money;
use crate::domain::settlement::Outcome;
use crate::store::{StoreError, Tx};

/// An adjustment line to record with its statement.
#[derive(Debug, Clone)]
pub struct NewAdjustment {
    /// The statement corrected (the Offer id of the version netted).
    pub adjusts: String,
    /// Its period, `YYYY-MM`.
    pub adjusts_period: String,
    /// The Like of the line corrected.
    pub like_id: String,
    /// Its thing.
    pub thing: String,
    /// Signed: positive adds, negative takes back.
    pub amount: Money,
    /// SHA-256 of the Like as sent.
    pub like_digest: String,
    /// On a sent statement: the flattrer a take-back is refunded to.
    pub user_id: Option<i64>,
}

/// An adjustment line as stored.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct AdjustmentRow {
    /// From 0, in the statement's order.
    pub position: i64,
    /// The statement corrected.
    pub adjusts: String,
    /// Its period.
    pub adjusts_period: String,
    /// The Like of the line corrected.
    pub like_id: String,
    /// Its thing.
    pub thing: String,
    /// Signed ten-thousandths.
    pub amount: i64,
    /// SHA-256 of the Like as sent.
    pub like_digest: String,
    /// `accepted` or a dispute reason, once claimed.
    pub outcome: Option<String>,
    /// Sent: the flattrer refunded by a take-back. Received: the creator credited or debited.
    pub user_id: Option<i64>,
}

/// Records the adjustment lines of statement `id`.
pub(in crate::settle) async fn record(
    tx: &mut Tx,
    id: i64,
    adjustments: &[NewAdjustment],
) -> Result<(), StoreError> {
    for (position, a) in adjustments.iter().enumerate() {
        sqlx::query(
            "INSERT INTO statement_adjustments (statement_id, position, adjusts, adjusts_period,
                 like_id, thing, amount, like_digest, user_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(&a.adjusts)
        .bind(&a.adjusts_period)
        .bind(&a.like_id)
        .bind(&a.thing)
        .bind(a.amount.minor())
        .bind(&a.like_digest)
        .bind(a.user_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The adjustment lines of statement `id`, in order.
pub async fn of_statement<'e, E>(db: E, id: i64) -> Result<Vec<AdjustmentRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(
        "SELECT position, adjusts, adjusts_period, like_id, thing, amount, like_digest, outcome,
             user_id FROM statement_adjustments WHERE statement_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(db)
    .await?)
}

/// Stores the outcome of adjustment line `position` of statement `id` (and, on a received
/// statement, the creator it is booked to).
pub(in crate::settle) async fn set_outcome(
    tx: &mut Tx,
    id: i64,
    position: i64,
    outcome: Outcome,
    user: Option<i64>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE statement_adjustments SET outcome = $1, user_id = COALESCE($2, user_id)
         WHERE statement_id = $3 AND position = $4",
    )
    .bind(outcome.as_str())
    .bind(user)
    .bind(id)
    .bind(position)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
