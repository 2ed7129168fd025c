//! What a creator's things received, read from the frozen totals per thing of closed periods
//! (`close_things`, written by `settle::close` with the shares; a row per thing and period,
//! found through the thing, so a creator's page reads their things' rows only). A share
//! held for an unproven thing counts once it is released to the owner; while held, or once
//! returned to its payer, it is not the creator's (`held_shares`, owned by `settle::held`).
//! The creator is the thing's owner now: a thing taken over from a squatter who could not
//! prove its URL shows under its proven owner (see `proving::register`).

/// A condition on a `close_things` row `s`: its money reached the creator (never held, or
/// held and released). A thing's shares of one period are held, released and returned
/// together, so the thing's held rows of that period say it for all of them.
const EARNED: &str = "NOT EXISTS (SELECT 1 FROM held_shares h
     WHERE h.thing_id = s.thing_id AND h.period = s.period AND h.state <> 'released')";

use super::StoreError;

/// What a creator received in one closed period.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PeriodEarnings {
    /// The period, `YYYY-MM`.
    pub period: String,
    /// How many flattrs paid them.
    pub flattrs: i64,
    /// The amount in ten-thousandths.
    pub amount: i64,
}

/// What one thing earned over every closed period.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ThingEarnings {
    /// The thing's id.
    pub thing_id: i64,
    /// The thing's title.
    pub title: String,
    /// How many flattrs paid for it.
    pub flattrs: i64,
    /// The amount in ten-thousandths.
    pub amount: i64,
}

/// Earnings per closed period, newest first.
pub async fn by_period<'e, E>(db: E, owner_id: i64) -> Result<Vec<PeriodEarnings>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT s.period, CAST(SUM(s.flattrs) AS BIGINT) AS flattrs,
                CAST(SUM(s.amount) AS BIGINT) AS amount
         FROM close_things s JOIN things t ON t.id = s.thing_id
         WHERE t.owner_id = $1 AND {EARNED}
         GROUP BY s.period ORDER BY s.period DESC"
    )))
    .bind(owner_id)
    .fetch_all(db)
    .await?)
}

/// Earnings per thing over all closed periods, largest first.
pub async fn by_thing<'e, E>(db: E, owner_id: i64) -> Result<Vec<ThingEarnings>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT s.thing_id, t.title, CAST(SUM(s.flattrs) AS BIGINT) AS flattrs,
                CAST(SUM(s.amount) AS BIGINT) AS amount
         FROM close_things s JOIN things t ON t.id = s.thing_id
         WHERE t.owner_id = $1 AND {EARNED}
         GROUP BY s.thing_id, t.title ORDER BY amount DESC, s.thing_id"
    )))
    .bind(owner_id)
    .fetch_all(db)
    .await?)
}
