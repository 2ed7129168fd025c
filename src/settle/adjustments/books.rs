//! What accepted adjustment lines do to the ledger on either side: their postings when the
//! claim is recorded (and reversed when a later version restates the statement), what they
//! add to and take from a netting, and how they become final when the period is paid.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::lines::of_statement;
use crate::domain::money::Money;
use crate::ledger::{self, Account, LedgerError};
use crate::settle::statements::{Direction, StatementRow};
use crate::store::{StoreError, Tx};

/// What a line of statement `adjusts` counts for now on our side (`direction`): its value when
/// it was accepted, nothing when disputed, plus every accepted adjustment of it since.
pub(super) async fn effect(
    tx: &mut Tx,
    direction: Direction,
    adjusts: &str,
    like_id: &str,
    original: i64,
) -> Result<i64, StoreError> {
    let adjusted: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(a.amount), 0) AS BIGINT) FROM statement_adjustments a
         JOIN statements s ON s.id = a.statement_id
         WHERE s.direction = $1 AND s.superseded_at IS NULL AND a.adjusts = $2
           AND a.like_id = $3 AND a.outcome = 'accepted'",
    )
    .bind(direction.as_str())
    .bind(adjusts)
    .bind(like_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(original + adjusted)
}

/// The postings of the accepted adjustment lines of `statement`, per account:
///
/// | side | addition accepted | take-back accepted |
/// |---|---|---|
/// | payer | `disputed:PEER` −v, `payable:PEER` +v | `receivable:PEER` −v, `pending:FLATTRER` +v |
/// | payee | `pending:CREATOR` +v, `receivable:PEER` −v | `pending:CREATOR` −v, `payable:PEER` +v |
///
/// An addition presents again a line the payee disputed, whose value the payer kept in
/// `disputed:PEER`; a take-back makes the payee owe the payer (its `payable`, the payer's
/// `receivable`) and goes back to the flattrer's wallet once the later period closes.
async fn postings(
    tx: &mut Tx,
    statement: &StatementRow,
) -> Result<Vec<(Account, Money)>, StoreError> {
    let peer = statement.peer.clone();
    let sent = statement.direction == Direction::Sent.as_str();
    let mut postings = Vec::new();
    for row in of_statement(&mut **tx, statement.id).await? {
        let (Some("accepted"), Some(user)) = (row.outcome.as_deref(), row.user_id) else {
            continue;
        };
        let v = row.amount.abs();
        let (from, to) = match (sent, row.amount > 0) {
            (true, true) => (
                Account::Disputed(peer.clone()),
                Account::Payable(peer.clone()),
            ),
            (true, false) => (Account::Receivable(peer.clone()), Account::Pending(user)),
            (false, true) => (Account::Receivable(peer.clone()), Account::Pending(user)),
            (false, false) => (Account::Pending(user), Account::Payable(peer.clone())),
        };
        postings.push((from, -v));
        postings.push((to, v));
    }
    Ok(aggregate(postings))
}

/// One posting per account (the sum of its amounts), none of zero: a transaction that
/// debits and credits one account keeps it from passing below zero on the way.
pub(in crate::settle) fn aggregate(postings: Vec<(Account, i64)>) -> Vec<(Account, Money)> {
    let mut sums: BTreeMap<String, (Account, i64)> = BTreeMap::new();
    for (account, amount) in postings {
        sums.entry(account.name()).or_insert((account, 0)).1 += amount;
    }
    sums.into_values()
        .filter(|(_, amount)| *amount != 0)
        .map(|(account, amount)| (account, Money::from_minor(amount)))
        .collect()
}

/// Books the accepted adjustment lines of `statement` (its claim is being recorded), under
/// `adjust:ID`.
pub(in crate::settle) async fn book(
    tx: &mut Tx,
    statement: &StatementRow,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    let postings = postings(tx, statement).await?;
    if !postings.is_empty() {
        ledger::post(
            tx,
            "claim",
            &format!("adjust:{}", statement.ap_id),
            &format!(
                "adjustments in {} with {}",
                statement.period, statement.peer
            ),
            &postings,
            now,
        )
        .await?;
    }
    Ok(())
}

/// Reverses what [`book`] posted for `statement` (a later version restates it), under
/// `reverse-adjust:ID`.
pub(in crate::settle) async fn unbook(
    tx: &mut Tx,
    statement: &StatementRow,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    let postings: Vec<(Account, Money)> = postings(tx, statement)
        .await?
        .into_iter()
        .map(|(account, amount)| (account, Money::from_minor(-amount.minor())))
        .collect();
    if !postings.is_empty() {
        ledger::post(
            tx,
            "claim",
            &format!("reverse-adjust:{}", statement.ap_id),
            &format!(
                "adjustments in {} version {} with {} restated",
                statement.period, statement.version, statement.peer
            ),
            &postings,
            now,
        )
        .await?;
    }
    Ok(())
}

/// What the accepted adjustments of the statement `ap_id` add (sum of the accepted additions)
/// and take back (sum of the accepted take-backs, positive).
pub(in crate::settle) async fn accepted_split(
    tx: &mut Tx,
    ap_id: &str,
) -> Result<(i64, i64), StoreError> {
    Ok(sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN a.amount > 0 THEN a.amount ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN a.amount < 0 THEN -a.amount ELSE 0 END), 0) AS BIGINT)
         FROM statement_adjustments a JOIN statements s ON s.id = a.statement_id
         WHERE s.ap_id = $1 AND a.outcome = 'accepted'",
    )
    .bind(ap_id)
    .fetch_one(&mut **tx)
    .await?)
}

/// The postings that make a closed period's adjustments final: on the payee, each creator's
/// accepted adjustments of the peer's statement `received` join their accepted lines
/// (`pending` → `earnings`, signed); on the payer, each take-back of our statement `sent`
/// goes back to its flattrer's wallet (`pending` → `wallet`).
pub(in crate::settle) async fn release_postings(
    tx: &mut Tx,
    received: &str,
    sent: &str,
) -> Result<Vec<(Account, i64)>, StoreError> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT s.direction, a.user_id, CAST(SUM(a.amount) AS BIGINT)
         FROM statement_adjustments a JOIN statements s ON s.id = a.statement_id
         WHERE a.outcome = 'accepted' AND a.user_id IS NOT NULL
           AND ((s.direction = 'received' AND s.ap_id = $1)
                OR (s.direction = 'sent' AND s.ap_id = $2 AND a.amount < 0))
         GROUP BY s.direction, a.user_id ORDER BY s.direction, a.user_id",
    )
    .bind(received)
    .bind(sent)
    .fetch_all(&mut **tx)
    .await?;
    let mut postings = Vec::new();
    for (direction, user, amount) in rows {
        if direction == "received" {
            postings.push((Account::Pending(user), -amount));
            postings.push((Account::Earnings(user), amount));
        } else {
            postings.push((Account::Pending(user), amount));
            postings.push((Account::Wallet(user), -amount));
        }
    }
    Ok(postings)
}
