//! Adjustment lines (issue 8.4, docs/settlement.md section 4.1): a correction of a period that
//! is already paid rides, as signed lines, in the payer's statement of a later period. Owns
//! the tables `adjustment_requests` (our admin's corrections waiting for a statement) and
//! `statement_adjustments` (the adjustment lines of each statement, sent or received, with
//! their outcomes), migration 0015, and what an accepted adjustment does to the books on
//! either side. The wire form is `federation`'s.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::reconcile::check_line;
use super::statements::{Direction, StatementRow, by_ap_id, lines};
use crate::domain::money::Money;
use crate::domain::settlement::{Dispute, Outcome, SettlementRefusal};
use crate::ledger::{self, Account, LedgerError};
use crate::store::{StoreError, Tx, epoch};

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

/// What a line of statement `adjusts` counts for now on our side (`direction`): its value when
/// it was accepted, nothing when disputed, plus every accepted adjustment of it since.
async fn effect(
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
    let net = super::netting::of(&mut **tx, peer, period)
        .await?
        .ok_or_else(|| {
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

/// Records the adjustment lines of statement `id`.
pub(super) async fn record(
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

/// The payee's reconciliation of the adjustment lines of `statement`, after its plain lines
/// (`plain`, as `reconcile` gave them): `(position, outcome, creator)` of each. An addition
/// must present again a line of a settled statement of the payer's that we disputed and
/// still do not count, and pass the checks of any line; a take-back must take back a line we
/// accepted and still count, and be covered by what this statement credits its creator (so
/// it never takes money the creator may have withdrawn: `not_covered` otherwise).
pub async fn reconcile(
    tx: &mut Tx,
    statement: &StatementRow,
    base_url: &url::Url,
    plain: &[(i64, Outcome, Option<i64>)],
) -> Result<Vec<(i64, Outcome, Option<i64>)>, StoreError> {
    let rows = of_statement(&mut **tx, statement.id).await?;
    let own_lines = lines(&mut **tx, statement.id).await?;
    let mut cover: BTreeMap<i64, i64> = BTreeMap::new();
    for (position, outcome, owner) in plain {
        if let (Outcome::Accepted, Some(owner)) = (outcome, owner) {
            let amount = own_lines
                .iter()
                .find(|l| l.position == *position)
                .map_or(0, |l| l.amount);
            *cover.entry(*owner).or_default() += amount;
        }
    }
    let mut seen = HashSet::new();
    let mut outcomes = Vec::with_capacity(rows.len());
    // Additions first: what they credit a creator covers a take-back of the same statement.
    let (additions, take_backs): (Vec<_>, Vec<_>) = rows.iter().partition(|a| a.amount > 0);
    for row in additions.into_iter().chain(take_backs) {
        let disputed = |reason| (row.position, Outcome::Disputed(reason), None);
        if !seen.insert((row.adjusts.clone(), row.like_id.clone())) {
            outcomes.push(disputed(Dispute::Duplicate));
            continue;
        }
        let Some((original, line)) = settled_line(tx, statement, row).await? else {
            outcomes.push(disputed(Dispute::UnmatchedAdjustment));
            continue;
        };
        let accepted = if line.outcome.as_deref() == Some("accepted") {
            line.amount
        } else {
            0
        };
        let counts = effect(
            tx,
            Direction::Received,
            &row.adjusts,
            &row.like_id,
            accepted,
        )
        .await?;
        if row.amount > 0 {
            if counts != 0 {
                outcomes.push(disputed(Dispute::UnmatchedAdjustment));
                continue;
            }
            if row.like_digest != line.like_digest {
                outcomes.push(disputed(Dispute::DigestMismatch));
                continue;
            }
            let (outcome, owner) =
                check_line(tx, &original, base_url, &line, &row.adjusts_period).await?;
            if let (Outcome::Accepted, Some(owner)) = (outcome, owner) {
                *cover.entry(owner).or_default() += row.amount;
            }
            outcomes.push((row.position, outcome, owner));
        } else {
            let Some(owner) = line.owner_id.filter(|_| counts == line.amount) else {
                outcomes.push(disputed(Dispute::UnmatchedAdjustment));
                continue;
            };
            let covered = cover.entry(owner).or_default();
            if *covered < -row.amount {
                outcomes.push(disputed(Dispute::NotCovered));
                continue;
            }
            *covered += row.amount;
            outcomes.push((row.position, Outcome::Accepted, Some(owner)));
        }
    }
    outcomes.sort_by_key(|(position, _, _)| *position);
    Ok(outcomes)
}

/// The line an adjustment corrects: on a statement the payer sent us for an earlier period,
/// the version netted, whose period can no longer be restated (paid, or its rest carried
/// on), with the adjustment's value (in size) and thing.
async fn settled_line(
    tx: &mut Tx,
    statement: &StatementRow,
    row: &AdjustmentRow,
) -> Result<Option<(StatementRow, super::statements::LineRow)>, StoreError> {
    let Some(original) = by_ap_id(&mut **tx, Direction::Received, &row.adjusts).await? else {
        return Ok(None);
    };
    if original.peer != statement.peer
        || original.period != row.adjusts_period
        || original.period >= statement.period
        || original.superseded_at.is_some()
    {
        return Ok(None);
    }
    let settled: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM settlement_nets n
         WHERE n.peer = $1 AND n.period = $2 AND n.received_statement = $3
           AND (n.state <> 'netted' OR EXISTS (SELECT 1 FROM settlement_nets l
                                               WHERE l.peer = n.peer AND l.period > n.period))",
    )
    .bind(&statement.peer)
    .bind(&original.period)
    .bind(&original.ap_id)
    .fetch_one(&mut **tx)
    .await?;
    if settled == 0 {
        return Ok(None);
    }
    let line = lines(&mut **tx, original.id)
        .await?
        .into_iter()
        .find(|l| l.like_id == row.like_id && l.amount == row.amount.abs() && l.thing == row.thing);
    Ok(line.map(|line| (original, line)))
}

/// Stores the outcome of adjustment line `position` of statement `id` (and, on a received
/// statement, the creator it is booked to).
pub(super) async fn set_outcome(
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
pub(super) fn aggregate(postings: Vec<(Account, i64)>) -> Vec<(Account, Money)> {
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
pub(super) async fn book(
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
pub(super) async fn unbook(
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
pub(super) async fn accepted_split(tx: &mut Tx, ap_id: &str) -> Result<(i64, i64), StoreError> {
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
pub(super) async fn release_postings(
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
