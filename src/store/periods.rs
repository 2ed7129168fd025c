//! The `periods` table: how far each period's close has got. The only module that reads or
//! writes it; everybody else asks here whether a period is still open to flattrs.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{StoreError, Tx, epoch};
use crate::domain::period::Period;

/// The stages of a close, in order. The number is what `periods.stage` holds after the stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Nothing done yet (no row, or a row before the close started).
    Open = 0,
    /// Spends and shares frozen into `close_spends` and `close_shares`.
    Snapshot = 1,
    /// Wallets charged into the period's clearing account.
    Spend = 2,
    /// The instance's fees taken from clearing.
    Fees = 3,
    /// Creators credited from clearing, which must then be empty.
    Shares = 4,
    /// Subscriptions renewed into the next period; the period is closed.
    Renew = 5,
    /// Held shares of things proven by now go to their owners, those held for `held_periods`
    /// periods go back to the payers; the period is marked closed.
    Held = 6,
}

impl Stage {
    /// Every stage in order, `Open` first: after it, the stages a close runs.
    pub const ALL: [Stage; 7] = [
        Stage::Open,
        Stage::Snapshot,
        Stage::Spend,
        Stage::Fees,
        Stage::Shares,
        Stage::Renew,
        Stage::Held,
    ];

    fn from_number(n: i64) -> Stage {
        Stage::ALL
            .into_iter()
            .find(|s| *s as i64 == n)
            .unwrap_or(Stage::Held)
    }

    /// The stage's name as people read it (the same as its JSON name).
    pub fn name(self) -> &'static str {
        match self {
            Stage::Open => "open",
            Stage::Snapshot => "snapshot",
            Stage::Spend => "spend",
            Stage::Fees => "fees",
            Stage::Shares => "shares",
            Stage::Renew => "renew",
            Stage::Held => "held",
        }
    }

    /// How many stages a close has, for "stage 3 of 6".
    pub const LAST: Stage = Stage::Held;

    /// The stage after this one; `None` after the last.
    pub fn next(self) -> Option<Stage> {
        Stage::ALL
            .into_iter()
            .find(|s| *s as i64 == self as i64 + 1)
    }
}

/// The periods whose flattrs are frozen: their close has taken its snapshot (stage > `Open`).
/// A subquery for statements that must leave those periods alone.
pub const FROZEN: &str = "SELECT period FROM periods WHERE stage > 0";

/// The periods whose close has finished.
pub const CLOSED: &str = "SELECT period FROM periods WHERE closed_at IS NOT NULL";

/// The stage `period`'s close has reached (`Open` when it never started).
pub async fn stage<'e, E>(db: E, period: Period) -> Result<Stage, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let stage: Option<i64> = sqlx::query_scalar("SELECT stage FROM periods WHERE period = $1")
        .bind(period.to_string())
        .fetch_optional(db)
        .await?;
    Ok(Stage::from_number(stage.unwrap_or(Stage::Open as i64)))
}

/// True once the close of `period` has begun: from then on its flattrs are frozen (no new
/// flattr, no undo).
pub async fn is_frozen(tx: &mut Tx, period: Period) -> Result<bool, StoreError> {
    Ok(stage(&mut **tx, period).await? > Stage::Open)
}

/// Records that a close of `period` was asked for (once; later calls change nothing).
pub async fn start<'e, E>(db: E, period: Period, now: DateTime<Utc>) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO periods (period, stage, started_at) VALUES ($1, $2, $3)
         ON CONFLICT (period) DO NOTHING",
    )
    .bind(period.to_string())
    .bind(Stage::Open as i64)
    .bind(epoch(now))
    .execute(db)
    .await?;
    Ok(())
}

/// Moves `period` from stage `from` to `to` with a compare-and-set; false when another closer
/// moved it first (on PostgreSQL this waits for that closer's row lock, then re-checks).
pub async fn advance(
    tx: &mut Tx,
    period: Period,
    from: Stage,
    to: Stage,
) -> Result<bool, StoreError> {
    let moved = sqlx::query("UPDATE periods SET stage = $1 WHERE period = $2 AND stage = $3")
        .bind(to as i64)
        .bind(period.to_string())
        .bind(from as i64)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(moved == 1)
}

/// Marks `period` closed.
pub async fn mark_closed(
    tx: &mut Tx,
    period: Period,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE periods SET closed_at = $1 WHERE period = $2")
        .bind(epoch(now))
        .bind(period.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The periods before `period` that have flattrs or a started close and are not closed,
/// oldest first.
pub async fn open_before<'e, E>(executor: E, period: Period) -> Result<Vec<Period>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let names: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT period FROM (SELECT DISTINCT period FROM flattrs WHERE period < $1
                             UNION SELECT period FROM periods WHERE period < $1) p
         WHERE period NOT IN ({CLOSED})
         ORDER BY period"
    )))
    .bind(period.to_string())
    .fetch_all(executor)
    .await?;
    Ok(names.iter().filter_map(|n| Period::parse(n).ok()).collect())
}

/// A period that has flattrs or a close, and how far its close has got.
#[derive(Debug, Clone)]
pub struct PeriodState {
    /// The period.
    pub period: Period,
    /// The stage its close reached (`Open` when none started).
    pub stage: Stage,
    /// When its close finished, Unix seconds.
    pub closed_at: Option<i64>,
}

/// Every period with flattrs or a started close, newest first (the admin's list).
pub async fn all<'e, E>(executor: E) -> Result<Vec<PeriodState>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let rows: Vec<(String, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT p.period, s.stage, s.closed_at
         FROM (SELECT DISTINCT period FROM flattrs UNION SELECT period FROM periods) p
         LEFT JOIN periods s ON s.period = p.period
         ORDER BY p.period DESC",
    )
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, stage, closed_at)| {
            Some(PeriodState {
                period: Period::parse(&name).ok()?,
                stage: Stage::from_number(stage.unwrap_or(Stage::Open as i64)),
                closed_at,
            })
        })
        .collect())
}
