//! Netting with peer instances (issue 8.5): once both directions of a (peer, period) have a
//! claim — an empty statement counts — the accepted lines of each side are netted into one
//! amount, in whole cents, the sub-cent rest carried to the next netting with that peer
//! (`domain::settlement::net`). Owns the table `settlement_nets` (migration 0009); the
//! payment and receipt that follow are `settle::payments`', on the same rows.
//!
//! Both instances net from the same claims and the same carried rest, so each finds the same
//! amount and the other's debtor without a message about it. Periods of a peer are netted in
//! order: a period waits until every earlier one with that peer is netted, because its carried
//! rest is the earlier one's.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::adjustments::books::{accepted_split, aggregate, release_postings};
use super::statements::Direction;
use crate::domain::money::Money;
use crate::domain::settlement::{Debtor, net};
use crate::ledger::{self, Account, LedgerError};
use crate::store::{Store, StoreError, Tx, epoch};

/// A netting as stored, with its payment and receipt.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct NetRow {
    /// Our row id.
    pub id: i64,
    /// The peer's origin.
    pub peer: String,
    /// `YYYY-MM`.
    pub period: String,
    /// Our statement netted (its Offer id).
    pub sent_statement: String,
    /// The peer's statement netted.
    pub received_statement: String,
    /// What we owe: the accepted lines of our statement.
    pub ours: i64,
    /// What the peer owes us: the accepted lines of its statement.
    pub theirs: i64,
    /// The rest carried from the previous netting (positive: we owed it).
    pub carried_in: i64,
    /// What the debtor pays, whole cents.
    pub amount: i64,
    /// `us`, `peer` or `none`.
    pub debtor: String,
    /// The rest carried to the next netting.
    pub carried_out: i64,
    /// `netted`, `paid`, `received` or `closed`.
    pub state: String,
    /// When the payment left (as its debtor recorded it).
    pub paid_on: Option<String>,
    /// The bank's reference of the payment.
    pub bank_reference: Option<String>,
    /// The payment notice's id.
    pub payment_id: Option<String>,
    /// SHA-256 of the payment notice without its proof.
    pub payment_digest: Option<String>,
    /// The signed payment notice.
    pub payment_document: Option<String>,
    /// The receipt's id.
    pub receipt_id: Option<String>,
    /// The signed receipt.
    pub receipt_document: Option<String>,
    /// When the creditor saw the money arrive.
    pub received_on: Option<String>,
}

pub(super) const NET: &str =
    "SELECT id, peer, period, sent_statement, received_statement, ours, theirs,
    carried_in, amount, debtor, carried_out, state, paid_on, bank_reference, payment_id,
    payment_digest, payment_document, receipt_id, receipt_document, received_on
    FROM settlement_nets";

/// The netting of `period` with `peer`, if there is one.
pub async fn of<'e, E>(db: E, peer: &str, period: &str) -> Result<Option<NetRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{NET} WHERE peer = $1 AND period = $2"
    )))
    .bind(peer)
    .bind(period)
    .fetch_optional(db)
    .await?)
}

/// Every netting, by peer and period (for the admin's view).
pub async fn all<'e, E>(db: E) -> Result<Vec<NetRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{NET} ORDER BY peer, period")))
            .fetch_all(db)
            .await?,
    )
}

#[derive(sqlx::FromRow)]
struct Latest {
    ap_id: String,
    state: String,
    accepted: i64,
    restate_requested_at: Option<i64>,
}

/// The latest version of the statement of `direction` with `peer` for `period`, with the sum
/// of its accepted lines.
async fn latest(
    tx: &mut Tx,
    direction: Direction,
    peer: &str,
    period: &str,
) -> Result<Option<Latest>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT s.ap_id, s.state,
            CAST(COALESCE((SELECT SUM(l.amount) FROM statement_lines l
                           WHERE l.statement_id = s.id AND l.outcome = 'accepted'), 0) AS BIGINT)
                AS accepted, s.restate_requested_at
         FROM statements s WHERE s.direction = $1 AND s.peer = $2 AND s.period = $3
         ORDER BY s.version DESC LIMIT 1",
    )
    .bind(direction.as_str())
    .bind(peer)
    .bind(period)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Nets every (peer, period) whose two directions are claimed and whose earlier periods with
/// that peer are netted. A netting with nothing to pay (less than a cent) closes at once.
/// Returns how many periods were netted. Safe to run from several processes at once: a
/// netting is one row per (peer, period), inserted once.
pub async fn net_due(store: &Store, now: DateTime<Utc>) -> Result<usize, LedgerError> {
    let pairs: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT peer, period FROM statements
         WHERE NOT EXISTS (SELECT 1 FROM settlement_nets n
                           WHERE n.peer = statements.peer AND n.period = statements.period)
         ORDER BY peer, period",
    )
    .fetch_all(store.pool())
    .await?;
    let mut netted = 0;
    let mut blocked: Option<String> = None;
    for (peer, period) in pairs {
        if blocked.as_deref() == Some(peer.as_str()) {
            continue;
        }
        if net_one(store, &peer, &period, now).await? {
            netted += 1;
        } else {
            // Later periods of this peer wait for this one (its rest is carried to them).
            blocked = Some(peer);
        }
    }
    Ok(netted)
}

/// Nets `period` with `peer` when both directions are claimed; false when it must wait.
async fn net_one(
    store: &Store,
    peer: &str,
    period: &str,
    now: DateTime<Utc>,
) -> Result<bool, LedgerError> {
    let mut tx = store.begin().await?;
    let sent = latest(&mut tx, Direction::Sent, peer, period).await?;
    let received = latest(&mut tx, Direction::Received, peer, period).await?;
    let (Some(sent), Some(received)) = (sent, received) else {
        return Ok(false);
    };
    if sent.state != "claimed" || received.state != "claimed" || sent.restate_requested_at.is_some()
    {
        // Not answered yet, rejected (a new version is due), or being restated.
        return Ok(false);
    }
    let carried_in: i64 = sqlx::query_scalar(
        "SELECT carried_out FROM settlement_nets WHERE peer = $1 AND period < $2
         ORDER BY period DESC LIMIT 1",
    )
    .bind(peer)
    .bind(period)
    .fetch_optional(&mut *tx)
    .await?
    .unwrap_or(0);
    // Accepted adjustment lines count with their statement's lines: an addition to what its
    // payer owes, a take-back to what its payee owes back (docs/settlement.md, 4.1).
    let (sent_added, sent_taken) = accepted_split(&mut tx, &sent.ap_id).await?;
    let (received_added, received_taken) = accepted_split(&mut tx, &received.ap_id).await?;
    let ours = sent.accepted + sent_added + received_taken;
    let theirs = received.accepted + received_added + sent_taken;
    let (amount, debtor, carried_out) = net(ours, theirs, carried_in);
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO settlement_nets (peer, period, sent_statement, received_statement, ours,
             theirs, carried_in, amount, debtor, carried_out, state, netted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'netted', $11)
         ON CONFLICT (peer, period) DO NOTHING RETURNING id",
    )
    .bind(peer)
    .bind(period)
    .bind(&sent.ap_id)
    .bind(&received.ap_id)
    .bind(ours)
    .bind(theirs)
    .bind(carried_in)
    .bind(amount)
    .bind(debtor.as_str())
    .bind(carried_out)
    .bind(epoch(now))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = id else {
        // Netted meanwhile by another process.
        tx.rollback().await?;
        return Ok(true);
    };
    if debtor == Debtor::Nobody {
        // Nothing to pay: both books close now, the rest carried.
        let row = of(&mut *tx, peer, period)
            .await?
            .ok_or(StoreError::NotFound("netting"))?;
        post_settlement(&mut tx, &row, now).await?;
        release_pending(&mut tx, &row, now).await?;
        close(&mut tx, id, "closed", None, now).await?;
    }
    tx.commit().await?;
    tracing::info!(%peer, %period, amount = %Money::from_minor(amount), debtor = debtor.as_str(), "period netted");
    Ok(true)
}

/// Settles our side's books of a netted period, once, under `settle:PEER:PERIOD`: the
/// period's agreed amounts leave `payable:PEER` and `receivable:PEER`, the carried rest
/// changes to the new one, and what was paid moves against `world` (the bank): out when we
/// paid, in when the peer did. Run by the debtor when it records its payment, by the creditor
/// when it confirms receipt, by both at netting when nothing is to pay.
pub(super) async fn post_settlement(
    tx: &mut Tx,
    row: &NetRow,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    let bank = match row.debtor.as_str() {
        "us" => row.amount,
        "peer" => -row.amount,
        _ => 0,
    };
    let peer = row.peer.clone();
    let postings = [
        (Account::Payable(peer.clone()), -row.ours),
        (Account::Receivable(peer.clone()), row.theirs),
        (Account::Carry(peer), row.carried_out - row.carried_in),
        (Account::World, bank),
    ];
    let postings: Vec<(Account, Money)> = postings
        .into_iter()
        .filter(|(_, amount)| *amount != 0)
        .map(|(account, amount)| (account, Money::from_minor(amount)))
        .collect();
    if !postings.is_empty() {
        ledger::post(
            tx,
            "settlement",
            &format!("settle:{}:{}", row.peer, row.period),
            &format!("{} settled with {}", row.period, row.peer),
            &postings,
            now,
        )
        .await?;
    }
    sqlx::query("UPDATE settlement_nets SET posted = 1 WHERE id = $1")
        .bind(row.id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Makes the pending earnings of the peer's netted statement withdrawable: each creator's
/// accepted lines (and accepted adjustment lines, signed) move from `pending:USER` to
/// `earnings:USER`, and the take-backs the peer accepted of our statement go back to their
/// flattrers' wallets, under `release:PEER:PERIOD`.
pub(super) async fn release_pending(
    tx: &mut Tx,
    row: &NetRow,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    let credits: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT l.owner_id, CAST(SUM(l.amount) AS BIGINT) FROM statement_lines l
         JOIN statements s ON s.id = l.statement_id
         WHERE s.direction = 'received' AND s.ap_id = $1 AND l.outcome = 'accepted'
           AND l.owner_id IS NOT NULL
         GROUP BY l.owner_id ORDER BY l.owner_id",
    )
    .bind(&row.received_statement)
    .fetch_all(&mut **tx)
    .await?;
    let mut postings = Vec::with_capacity(credits.len() * 2);
    for (owner, amount) in credits {
        postings.push((Account::Pending(owner), -amount));
        postings.push((Account::Earnings(owner), amount));
    }
    postings.extend(release_postings(tx, &row.received_statement, &row.sent_statement).await?);
    let postings = aggregate(postings);
    if !postings.is_empty() {
        ledger::post(
            tx,
            "settlement",
            &format!("release:{}:{}", row.peer, row.period),
            &format!(
                "{} paid by {}: pending earnings withdrawable",
                row.period, row.peer
            ),
            &postings,
            now,
        )
        .await?;
    }
    Ok(())
}

/// Marks the books of netting `id` closed, in state `state` (`received` on a creditor whose
/// receipt is still to send, else `closed`), with the day the money arrived when it moved.
pub(super) async fn close(
    tx: &mut Tx,
    id: i64,
    state: &str,
    received_on: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE settlement_nets SET state = $4, closed_at = $1,
             received_on = COALESCE($2, received_on)
         WHERE id = $3",
    )
    .bind(epoch(now))
    .bind(received_on)
    .bind(id)
    .bind(state)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Whether `period` with `peer` can still be restated whole: not netted, or netted and
/// neither paid nor carried into a later netting.
pub(super) async fn restatable(tx: &mut Tx, peer: &str, period: &str) -> Result<bool, StoreError> {
    let Some(row) = of(&mut **tx, peer, period).await? else {
        return Ok(true);
    };
    let later: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM settlement_nets WHERE peer = $1 AND period > $2")
            .bind(peer)
            .bind(period)
            .fetch_one(&mut **tx)
            .await?;
    Ok(row.state == "netted" && later == 0)
}

/// Undoes the netting of `period` with `peer` while nothing was paid (a restatement of one of
/// its statements is on its way; the period is netted again from its claim). False when the
/// period is paid or closed: it cannot be restated any more.
pub(super) async fn unnet(tx: &mut Tx, peer: &str, period: &str) -> Result<bool, StoreError> {
    let Some(row) = of(&mut **tx, peer, period).await? else {
        return Ok(true);
    };
    let later: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM settlement_nets WHERE peer = $1 AND period > $2")
            .bind(peer)
            .bind(period)
            .fetch_one(&mut **tx)
            .await?;
    if row.state != "netted" || later > 0 {
        // Paid, closed, or its rest already carried into a later netting.
        return Ok(false);
    }
    sqlx::query("DELETE FROM settlement_nets WHERE id = $1 AND state = 'netted'")
        .bind(row.id)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}
