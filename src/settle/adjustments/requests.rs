//! Our admin's corrections of a paid period (the table `adjustment_requests`): asked for
//! line by line, each waiting for our next statement to the peer, then given to the
//! statement that carries it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::books::effect;
use super::lines::NewAdjustment;
use crate::domain::money::Money;
use crate::domain::settlement::SettlementRefusal;
use crate::ledger::LedgerError;
use crate::settle::netting;
use crate::settle::statements::{Direction, StatementRow, by_ap_id, lines};
use crate::store::{StoreError, Tx, epoch};

/// A correction our admin asked for, waiting for (or riding in) a statement.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct Request {
    /// Our row id.
    pub id: i64,
    /// The peer's origin.
    pub peer: String,
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
    /// The flattrer.
    pub user_id: i64,
}

impl Request {
    /// The line to record with the statement that carries it.
    pub fn to_new(&self) -> NewAdjustment {
        NewAdjustment {
            adjusts: self.adjusts.clone(),
            adjusts_period: self.adjusts_period.clone(),
            like_id: self.like_id.clone(),
            thing: self.thing.clone(),
            amount: Money::from_minor(self.amount),
            like_digest: self.like_digest.clone(),
            user_id: Some(self.user_id),
        }
    }
}

const REQUEST: &str = "SELECT id, peer, adjusts, adjusts_period, like_id, thing, amount,
    like_digest, user_id FROM adjustment_requests";

fn refused(refusal: SettlementRefusal, message: String) -> LedgerError {
    LedgerError::Settlement { refusal, message }
}

/// The payer's admin corrects `period` with `peer`, which can no longer be restated (paid, or
/// its rest carried on): every line of the statement netted is brought to what it should
/// count — its value, or nothing for a Like in `take_back` — by an adjustment of the
/// difference, which waits for our next statement to the peer. A line whose earlier
/// correction is not answered yet is left for later. Returns the corrections asked for now.
pub async fn request(
    tx: &mut Tx,
    peer: &str,
    period: &str,
    take_back: &[String],
    now: DateTime<Utc>,
) -> Result<(StatementRow, Vec<Request>), LedgerError> {
    let net = netting::of(&mut **tx, peer, period).await?.ok_or_else(|| {
        refused(
            SettlementRefusal::UnknownPeriod,
            format!("{period} with {peer} is not netted"),
        )
    })?;
    let statement = by_ap_id(&mut **tx, Direction::Sent, &net.sent_statement)
        .await?
        .ok_or(StoreError::NotFound("statement"))?;
    let lines = lines(&mut **tx, statement.id).await?;
    if let Some(unknown) = take_back
        .iter()
        .find(|like| !lines.iter().any(|l| &l.like_id == *like))
    {
        return Err(refused(
            SettlementRefusal::UnknownLine,
            format!("{unknown} is not a line of {}", statement.ap_id),
        ));
    }
    // The lines are the close's shares of the peer's things in flattr order (as
    // `federation::statements` states them), so the n-th share is the n-th line's flattrer.
    let flattrers: Vec<i64> = sqlx::query_scalar(
        "SELECT s.user_id FROM close_things c CROSS JOIN close_shares s
         WHERE c.period = $1 AND c.peer = $2 AND s.period = c.period AND s.thing_id = c.thing_id
         ORDER BY s.flattr_id",
    )
    .bind(period)
    .bind(peer)
    .fetch_all(&mut **tx)
    .await?;
    let mut asked = Vec::new();
    for line in &lines {
        let accepted = if line.outcome.as_deref() == Some("accepted") {
            line.amount
        } else {
            0
        };
        let now_counts = effect(
            tx,
            Direction::Sent,
            &statement.ap_id,
            &line.like_id,
            accepted,
        )
        .await?;
        let should = if take_back.contains(&line.like_id) {
            0
        } else {
            line.amount
        };
        let (Some(user_id), true) = (
            usize::try_from(line.position)
                .ok()
                .and_then(|p| flattrers.get(p)),
            should != now_counts,
        ) else {
            continue;
        };
        if waiting(tx, &statement.ap_id, &line.like_id).await? {
            continue;
        }
        let request: Request = sqlx::query_as(
            "INSERT INTO adjustment_requests (peer, adjusts, adjusts_period, like_id, thing,
                 amount, like_digest, user_id, requested_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             RETURNING id, peer, adjusts, adjusts_period, like_id, thing, amount, like_digest,
                 user_id",
        )
        .bind(peer)
        .bind(&statement.ap_id)
        .bind(period)
        .bind(&line.like_id)
        .bind(&line.thing)
        .bind(should - now_counts)
        .bind(&line.like_digest)
        .bind(*user_id)
        .bind(epoch(now))
        .fetch_one(&mut **tx)
        .await?;
        asked.push(request);
    }
    Ok((statement, asked))
}

/// True when a correction of this line waits for a statement or for the peer's answer.
async fn waiting(tx: &mut Tx, adjusts: &str, like_id: &str) -> Result<bool, StoreError> {
    let count: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM adjustment_requests
                 WHERE adjusts = $1 AND like_id = $2 AND in_period IS NULL)
              + (SELECT COUNT(*) FROM statement_adjustments a
                 JOIN statements s ON s.id = a.statement_id
                 WHERE s.direction = 'sent' AND s.superseded_at IS NULL
                   AND a.adjusts = $1 AND a.like_id = $2 AND a.outcome IS NULL)",
    )
    .bind(adjusts)
    .bind(like_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(count > 0)
}

/// The corrections our statement of `period` to `peer` carries: for a version 1, those
/// already given to the period and those waiting for a statement after the period they
/// correct; a later version carries the period's again (it restates the same statement).
pub async fn due_for<'e, E>(
    db: E,
    peer: &str,
    period: &str,
    version: i64,
) -> Result<Vec<Request>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let condition = if version == 1 {
        "peer = $1 AND (in_period = $2 OR (in_period IS NULL AND adjusts_period < $2))"
    } else {
        "peer = $1 AND in_period = $2"
    };
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{REQUEST} WHERE {condition} ORDER BY id"
    )))
    .bind(peer)
    .bind(period)
    .fetch_all(db)
    .await?)
}

/// Gives the corrections `ids` to the statement of `period` (in the transaction that records
/// it).
pub async fn attach(tx: &mut Tx, ids: &[i64], period: &str) -> Result<(), StoreError> {
    for id in ids {
        sqlx::query(
            "UPDATE adjustment_requests SET in_period = $1 WHERE id = $2 AND in_period IS NULL",
        )
        .bind(period)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Peers with corrections waiting for a statement of a period after the one they correct:
/// each gets a statement for `period` even when nothing else is owed.
pub async fn peers_waiting<'e, E>(db: E, period: &str) -> Result<Vec<String>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT peer FROM adjustment_requests
         WHERE in_period IS NULL AND adjusts_period < $1 ORDER BY peer",
    )
    .bind(period)
    .fetch_all(db)
    .await?)
}
