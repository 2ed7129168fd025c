//! The books of settlement with peer instances: statements sent and received, their lines, and
//! what a claim does to the ledger. Owns the tables `statements`, `statement_lines` and
//! `statement_periods` (migration 0007). No network and no signatures: the wire form, the
//! proofs and the deliveries are `federation::statements`' (which calls this module), so this
//! layer stays below federation like the close it follows.
//!
//! Idempotence is in the schema: a statement's id on the wire is deterministic per payer,
//! payee, period and version, `ap_id` is unique, and so is (direction, peer, period, version);
//! the ledger postings of a claim carry the statement's id as their reference.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::adjustments::lines::{self as adjustment_lines, NewAdjustment};
use crate::domain::money::Money;
use crate::domain::period::Period;
use crate::store::{StoreError, Tx, epoch};

pub use super::claims::{claim_received, claim_sent, reject, supersede_received, supersede_sent};
pub use super::corrections::{
    Restating, conflicts, record_conflict, request_restatement, restatements_due,
};
pub use super::reconcile::reconcile;

/// Whether we are the payer (`Sent`) or the payee (`Received`) of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// We are the payer.
    Sent,
    /// We are the payee.
    Received,
}

impl Direction {
    /// `sent` or `received`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Sent => "sent",
            Direction::Received => "received",
        }
    }
}

/// A statement as stored.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct StatementRow {
    /// Our row id.
    pub id: i64,
    /// `sent` or `received`.
    pub direction: String,
    /// The Offer's id.
    pub ap_id: String,
    /// The other instance's origin.
    pub peer: String,
    /// `YYYY-MM`.
    pub period: String,
    /// 1 for the first statement of a period.
    pub version: i64,
    /// The currency code.
    pub currency: String,
    /// How many lines.
    pub line_count: i64,
    /// The sum of the lines, in ten-thousandths.
    pub total: i64,
    /// SHA-256 (hex) of the JCS form of the Offer without its proof.
    pub digest: String,
    /// The signed Offer.
    pub document: String,
    /// `stated`, `claimed` or `rejected`.
    pub state: String,
    /// The signed Accept or Reject, once there is one.
    pub claim: Option<String>,
    /// Why the statement was rejected whole.
    pub reason: Option<String>,
    /// The version this one restates (its Offer id), for a version above 1.
    pub supersedes: Option<String>,
    /// When a later version replaced this one (Unix seconds).
    pub superseded_at: Option<i64>,
    /// When our admin asked to restate this sent statement.
    pub restate_requested_at: Option<i64>,
}

/// One line of a statement as stored.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct LineRow {
    /// From 0, in the statement's order.
    pub position: i64,
    /// The Like's id.
    pub like_id: String,
    /// The thing's id.
    pub thing: String,
    /// Ten-thousandths.
    pub amount: i64,
    /// SHA-256 (hex) of the Like as sent.
    pub like_digest: String,
    /// `accepted` or a dispute reason, once claimed.
    pub outcome: Option<String>,
    /// On a received statement: the local creator an accepted line is credited to.
    pub owner_id: Option<i64>,
}

/// A statement to record.
pub struct NewStatement<'a> {
    /// The Offer's id.
    pub ap_id: &'a str,
    /// The other instance's origin.
    pub peer: &'a str,
    /// The period stated.
    pub period: Period,
    /// Its version.
    pub version: i64,
    /// Its currency code.
    pub currency: &'a str,
    /// SHA-256 of the Offer without its proof.
    pub digest: &'a str,
    /// The signed Offer.
    pub document: &'a str,
    /// The lines, in order.
    pub lines: &'a [NewLine],
    /// The version it restates (its Offer id), for a version above 1.
    pub supersedes: Option<&'a str>,
    /// Its adjustment lines: corrections of earlier, settled periods (section 4.1).
    pub adjustments: &'a [NewAdjustment],
}

/// A line to record.
#[derive(Debug, Clone)]
pub struct NewLine {
    /// The Like's id.
    pub like_id: String,
    /// The thing's id.
    pub thing: String,
    /// Its value.
    pub amount: Money,
    /// SHA-256 of the Like as sent.
    pub like_digest: String,
}

pub(super) const STATEMENT: &str =
    "SELECT id, direction, ap_id, peer, period, version, currency, line_count,
    total, digest, document, state, claim, reason, supersedes, superseded_at, restate_requested_at
    FROM statements";

/// Closed periods whose statements are not all prepared yet, oldest first.
pub async fn periods_to_state<'e, E>(db: E) -> Result<Vec<Period>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT period FROM periods WHERE closed_at IS NOT NULL
         AND period NOT IN (SELECT period FROM statement_periods) ORDER BY period",
    )
    .fetch_all(db)
    .await?;
    Ok(names.iter().filter_map(|n| Period::parse(n).ok()).collect())
}

/// Records that every statement of `period` is prepared.
pub async fn mark_period_stated<'e, E>(
    db: E,
    period: Period,
    now: DateTime<Utc>,
) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO statement_periods (period, prepared_at) VALUES ($1, $2)
         ON CONFLICT (period) DO NOTHING",
    )
    .bind(period.to_string())
    .bind(epoch(now))
    .execute(db)
    .await?;
    Ok(())
}

/// The peers (origins) our users flattred paid things of in `period`: those owed a share at
/// close, and those whose every flattr was undone or worth nothing, who still get a statement.
pub async fn peers_flattred<'e, E>(db: E, period: Period) -> Result<Vec<String>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_scalar(
        "SELECT peer FROM close_things WHERE period = $1 AND peer IS NOT NULL
         UNION
         SELECT t.origin FROM flattrs f JOIN things t ON t.id = f.thing_id
         WHERE f.period = $1 AND t.owner_id IS NULL AND t.fedflattr = 1 AND t.origin IS NOT NULL
         ORDER BY 1",
    )
    .bind(period.to_string())
    .fetch_all(db)
    .await?)
}

/// Peers that sent us a statement for a period we have closed and that have none from us:
/// each gets one (empty, as a rule), so both directions of the period exist and it can be
/// netted. A Like of ours that never reached the peer, or a peer we received nothing from,
/// leaves our close no reason to write to it otherwise.
pub async fn statements_owed_in_reply<'e, E>(db: E) -> Result<Vec<(Period, String)>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT r.period, r.peer FROM statements r
         JOIN periods p ON p.period = r.period AND p.closed_at IS NOT NULL
         WHERE r.direction = 'received'
           AND NOT EXISTS (SELECT 1 FROM statements s WHERE s.direction = 'sent'
                           AND s.peer = r.peer AND s.period = r.period)
         ORDER BY r.period, r.peer",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(period, peer)| Some((Period::parse(&period).ok()?, peer)))
        .collect())
}

/// A flattr's share owed to a peer, frozen by the close.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OwedShare {
    /// The flattr.
    pub flattr_id: i64,
    /// Its user's name (the Like's actor).
    pub username: String,
    /// Ten-thousandths.
    pub amount: i64,
}

/// What the close of `period` owes `peer`, one share per flattr, in flattr order: the peer's
/// things of the period (`close_things`), then each one's shares as a range of their key (a
/// thing on a peer is always itemised: the snapshot keeps its per-flattr shares).
/// `CROSS JOIN` fixes that order in SQLite, whose planner otherwise scanned every share of the
/// period and looked its thing up (PostgreSQL reads it as an inner join and plans freely).
pub async fn shares_owed<'e, E>(
    db: E,
    period: Period,
    peer: &str,
) -> Result<Vec<OwedShare>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(
        "SELECT s.flattr_id, u.username, s.amount
         FROM close_things c CROSS JOIN close_shares s JOIN users u ON u.id = s.user_id
         WHERE c.period = $1 AND c.peer = $2
           AND s.period = c.period AND s.thing_id = c.thing_id
         ORDER BY s.flattr_id",
    )
    .bind(period.to_string())
    .bind(peer)
    .fetch_all(db)
    .await?)
}

/// Records a statement and its lines. `None` when one with this id, or for this peer, period
/// and version, exists already (nothing is written then).
pub async fn record(
    tx: &mut Tx,
    direction: Direction,
    statement: &NewStatement<'_>,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    let total: i64 = statement.lines.iter().map(|l| l.amount.minor()).sum();
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO statements (direction, ap_id, peer, period, version, currency, line_count,
                                 total, digest, document, state, created_at, supersedes)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'stated', $11, $12)
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(direction.as_str())
    .bind(statement.ap_id)
    .bind(statement.peer)
    .bind(statement.period.to_string())
    .bind(statement.version)
    .bind(statement.currency)
    .bind(i64::try_from(statement.lines.len()).unwrap_or(i64::MAX))
    .bind(total)
    .bind(statement.digest)
    .bind(statement.document)
    .bind(epoch(now))
    .bind(statement.supersedes)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(id) = id else { return Ok(None) };
    for (position, line) in statement.lines.iter().enumerate() {
        sqlx::query(
            "INSERT INTO statement_lines (statement_id, position, like_id, thing, amount, like_digest)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(&line.like_id)
        .bind(&line.thing)
        .bind(line.amount.minor())
        .bind(&line.like_digest)
        .execute(&mut **tx)
        .await?;
    }
    adjustment_lines::record(tx, id, statement.adjustments).await?;
    Ok(Some(id))
}

/// The statement `ap_id` of `direction`, if we have it.
pub async fn by_ap_id<'e, E>(
    db: E,
    direction: Direction,
    ap_id: &str,
) -> Result<Option<StatementRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{STATEMENT} WHERE direction = $1 AND ap_id = $2"
    )))
    .bind(direction.as_str())
    .bind(ap_id)
    .fetch_optional(db)
    .await?)
}

/// Every statement of `direction`, newest first (for the admin and the tests).
pub async fn list<'e, E>(db: E, direction: Direction) -> Result<Vec<StatementRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{STATEMENT} WHERE direction = $1 ORDER BY id DESC"
    )))
    .bind(direction.as_str())
    .fetch_all(db)
    .await?)
}

/// The lines of statement `id`, in order.
pub async fn lines<'e, E>(db: E, id: i64) -> Result<Vec<LineRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(
        "SELECT position, like_id, thing, amount, like_digest, outcome, owner_id FROM statement_lines
         WHERE statement_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(db)
    .await?)
}

/// The latest version of the statement of `direction` with `peer` for `period`, if any.
pub async fn latest<'e, E>(
    db: E,
    direction: Direction,
    peer: &str,
    period: &str,
) -> Result<Option<StatementRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{STATEMENT} WHERE direction = $1 AND peer = $2 AND period = $3
         ORDER BY version DESC LIMIT 1"
    )))
    .bind(direction.as_str())
    .bind(peer)
    .bind(period)
    .fetch_optional(db)
    .await?)
}
