//! What a claim does to the books of a statement (tables owned by `settle::statements`): the
//! payee's credit of accepted lines as pending earnings, the payer's move of disputed amounts
//! out of `payable`, and a refusal. Each runs in the caller's transaction, with the claim
//! document stored beside the postings.

use chrono::{DateTime, Utc};

use super::adjustments::{books as adjustment_books, lines as adjustment_lines};
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
    adjustments: &[(i64, Outcome, Option<i64>)],
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
    // After the plain lines' credits, so that a take-back finds them in `pending`.
    for (position, outcome, owner) in adjustments {
        adjustment_lines::set_outcome(tx, statement.id, *position, *outcome, *owner).await?;
    }
    adjustment_books::book(tx, statement, now).await?;
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
    adjustments: &[(i64, Outcome)],
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
    for (position, outcome) in adjustments {
        adjustment_lines::set_outcome(tx, statement.id, *position, *outcome, None).await?;
    }
    adjustment_books::book(tx, statement, now).await?;
    finish(tx, statement.id, "claimed", claim, None, now).await?;
    Ok(())
}

/// The payee's side of a restatement: the earlier version `old` no longer counts. The credits
/// of its accepted lines are reversed (`pending:USER` −, `receivable:PEER` +) under
/// `reverse-claim:ID` and it is marked superseded, in the transaction that records and claims
/// its successor, so the books never count both.
pub async fn supersede_received(
    tx: &mut Tx,
    old: &StatementRow,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    unnet(tx, old).await?;
    // Its adjustments first: a take-back it booked took from the credits reversed next.
    adjustment_books::unbook(tx, old, now).await?;
    let mut postings: Vec<(Account, Money)> = Vec::new();
    let mut accepted = 0i64;
    for line in lines(&mut **tx, old.id).await? {
        if let (Some("accepted"), Some(owner)) = (line.outcome.as_deref(), line.owner_id) {
            accepted += line.amount;
            postings.push((Account::Pending(owner), Money::from_minor(-line.amount)));
        }
    }
    if accepted > 0 {
        postings.push((
            Account::Receivable(old.peer.clone()),
            Money::from_minor(accepted),
        ));
        ledger::post(
            tx,
            "claim",
            &format!("reverse-claim:{}", old.ap_id),
            &format!(
                "{} version {} of {} restated",
                old.period, old.version, old.peer
            ),
            &postings,
            now,
        )
        .await?;
    }
    mark_superseded(tx, old.id, now).await?;
    Ok(())
}

/// The payer's side of a restatement, when the claim of the new version arrives: the earlier
/// version `old`'s disputed amount goes back from `disputed:PEER` to `payable:PEER` under
/// `reverse-disputed:ID`, and it is marked superseded, in the transaction that records the new
/// claim.
pub async fn supersede_sent(
    tx: &mut Tx,
    old: &StatementRow,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    unnet(tx, old).await?;
    adjustment_books::unbook(tx, old, now).await?;
    let disputed: i64 = lines(&mut **tx, old.id)
        .await?
        .iter()
        .filter(|l| l.outcome.as_deref().is_some_and(|o| o != "accepted"))
        .map(|l| l.amount)
        .sum();
    if disputed > 0 {
        ledger::post(
            tx,
            "claim",
            &format!("reverse-disputed:{}", old.ap_id),
            &format!(
                "{} version {} to {} restated",
                old.period, old.version, old.peer
            ),
            &[
                (
                    Account::Disputed(old.peer.clone()),
                    Money::from_minor(-disputed),
                ),
                (
                    Account::Payable(old.peer.clone()),
                    Money::from_minor(disputed),
                ),
            ],
            now,
        )
        .await?;
    }
    mark_superseded(tx, old.id, now).await?;
    Ok(())
}

/// A restatement replaces a version only until its period is paid: the netting, if any, is
/// undone (it is made again from the new version), or the restatement is refused.
async fn unnet(tx: &mut Tx, old: &StatementRow) -> Result<(), LedgerError> {
    if super::netting::unnet(tx, &old.peer, &old.period).await? {
        return Ok(());
    }
    Err(LedgerError::Settlement {
        refusal: crate::domain::settlement::SettlementRefusal::AlreadyPaid,
        message: format!(
            "{} with {} is paid or closed; a correction is an adjustment in a later period",
            old.period, old.peer
        ),
    })
}

async fn mark_superseded(tx: &mut Tx, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE statements SET superseded_at = $1, restate_requested_at = NULL
         WHERE id = $2 AND superseded_at IS NULL",
    )
    .bind(epoch(now))
    .bind(id)
    .execute(&mut **tx)
    .await?;
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
