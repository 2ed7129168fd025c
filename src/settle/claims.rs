//! What a claim does to the books of a statement (tables owned by `settle::statements`): the
//! payee's credit of accepted lines as pending earnings, the payer's move of disputed amounts
//! out of `payable`, and a refusal. Each runs in the caller's transaction, with the claim
//! document stored beside the postings.

use chrono::{DateTime, Utc};

use super::statements::{StatementRow, lines};
use crate::domain::money::Money;
use crate::domain::settlement::Outcome;
use crate::ledger::{self, Account, LedgerError};
use crate::store::{StoreError, Tx, epoch};

/// The payee's claim on a received statement: stores each line's outcome and the claim
/// document, and credits the accepted lines to their creators as pending earnings, owed by
/// the peer (`receivable:PEER`). One ledger transaction, referenced by the statement's id, in
/// the caller's database transaction, so crediting and answering happen together or not at all.
pub async fn claim_received(
    tx: &mut Tx,
    statement: &StatementRow,
    outcomes: &[(i64, Outcome, Option<i64>)],
    claim: &str,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    let lines = lines(&mut **tx, statement.id).await?;
    let mut postings: Vec<(Account, Money)> = Vec::new();
    let mut accepted = 0i64;
    for (position, outcome, owner) in outcomes {
        set_outcome(tx, statement.id, *position, *outcome, *owner).await?;
        let line = lines.iter().find(|l| l.position == *position);
        if let (Outcome::Accepted, Some(owner), Some(line)) = (outcome, owner, line) {
            accepted += line.amount;
            postings.push((Account::Pending(*owner), Money::from_minor(line.amount)));
        }
    }
    if accepted > 0 {
        postings.push((
            Account::Receivable(statement.peer.clone()),
            Money::from_minor(-accepted),
        ));
        ledger::post(
            tx,
            "claim",
            &format!("claim:{}", statement.ap_id),
            &format!(
                "accepted lines of {} ({})",
                statement.peer, statement.period
            ),
            &postings,
            now,
        )
        .await?;
    }
    finish(tx, statement.id, "claimed", claim, None, now).await?;
    Ok(())
}

/// The payer's record of the claim it received: each line's outcome, the claim document, and
/// the disputed amount moved from `payable:PEER` to `disputed:PEER`, so that only agreed
/// amounts stay payable.
pub async fn claim_sent(
    tx: &mut Tx,
    statement: &StatementRow,
    outcomes: &[(i64, Outcome)],
    claim: &str,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    let lines = lines(&mut **tx, statement.id).await?;
    let mut disputed = 0i64;
    for (position, outcome) in outcomes {
        set_outcome(tx, statement.id, *position, *outcome, None).await?;
        if let (Outcome::Disputed(_), Some(line)) =
            (outcome, lines.iter().find(|l| l.position == *position))
        {
            disputed += line.amount;
        }
    }
    if disputed > 0 {
        ledger::post(
            tx,
            "claim",
            &format!("disputed:{}", statement.ap_id),
            &format!(
                "lines of {} disputed by {}",
                statement.period, statement.peer
            ),
            &[
                (
                    Account::Payable(statement.peer.clone()),
                    Money::from_minor(-disputed),
                ),
                (
                    Account::Disputed(statement.peer.clone()),
                    Money::from_minor(disputed),
                ),
            ],
            now,
        )
        .await?;
    }
    finish(tx, statement.id, "claimed", claim, None, now).await?;
    Ok(())
}

/// Records that statement `id` was rejected whole, with the Reject and its reason.
pub async fn reject(
    tx: &mut Tx,
    id: i64,
    answer: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    finish(tx, id, "rejected", answer, Some(reason), now).await
}

async fn set_outcome(
    tx: &mut Tx,
    id: i64,
    position: i64,
    outcome: Outcome,
    owner: Option<i64>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE statement_lines SET outcome = $1, owner_id = $2
         WHERE statement_id = $3 AND position = $4",
    )
    .bind(outcome.as_str())
    .bind(owner)
    .bind(id)
    .bind(position)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn finish(
    tx: &mut Tx,
    id: i64,
    state: &str,
    answer: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE statements SET state = $1, claim = $2, reason = $3, claimed_at = $4
         WHERE id = $5 AND state = 'stated'",
    )
    .bind(state)
    .bind(answer)
    .bind(reason)
    .bind(epoch(now))
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
