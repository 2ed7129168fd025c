//! The close's frozen inputs: the snapshot stage writes who spends what (`close_spends`), what
//! each flattr receives (`close_shares`) and what each thing received in total
//! (`close_things`); the spend stage caps spends at the wallets as they stand. The only
//! module that writes these three tables (on PostgreSQL a period's shares go through
//! `partition`, which this module calls).
//!
//! The per-thing totals exist for speed (issue 10.4): every later stage, the report and the
//! earnings pages need only what each thing received, so they read a row per thing instead of
//! a row per flattr. They are summed once, from the shares just written, and re-summed
//! whenever the shares change (a capped spend's re-split); the audit checks they agree. A
//! share's owner or peer is its thing's: `close_things` holds it, once per thing (migration
//! 0017), as the snapshot found it.

use super::{CloseError, partition};
use crate::domain::money::FeeRate;
use crate::domain::period::Period;
use crate::store::{Backend, Tx};

/// The statement that freezes what each flattr of a period receives (the spender's `net` split
/// equally, largest remainder to the earliest flattrs) into `table`, with an extra condition on
/// the flattrs.
///
/// Written for speed (issue 10.4), as the only statement of the close that touches every flattr:
/// - the window partitions by the spend's `user_id` and the flattrs are reached through their
///   (period, user_id) index, so SQLite sees the rows already in the window's order and does
///   not sort them for it (partitioned by `f.user_id` it did);
/// - no thing is looked up per flattr: a share's owner or peer is its thing's, in `close_things`;
/// - the rows are written in the table's key order (period, thing_id, flattr_id): one sort,
///   after which SQLite's B-tree only grows at its right edge (PostgreSQL builds its index
///   once the rows are written, `partition`), the per-thing sums are one ordered pass
///   (`thing_totals`) and a thing's shares lie together on disk.
pub(super) fn shares_insert(table: &str, filter: &str) -> String {
    format!(
        "INSERT INTO {table} (period, thing_id, flattr_id, user_id, amount)
         SELECT $1, r.thing_id, r.id, r.user_id, r.amount
         FROM (SELECT f.thing_id, f.id, s.user_id,
                      s.net / s.flattr_count
                      + CASE WHEN ROW_NUMBER() OVER (PARTITION BY s.user_id ORDER BY f.id)
                                  <= s.net % s.flattr_count
                             THEN 1 ELSE 0 END AS amount
               FROM close_spends s CROSS JOIN flattrs f
               WHERE s.period = $1 AND f.period = $1 AND f.user_id = s.user_id
                 AND f.charged = 1{filter}) r
         ORDER BY r.thing_id, r.id"
    )
}

/// Freezes the period: `spend = min(budget, wallet)`, `fee = ⌊spend × rate⌋`, `net = spend − fee`
/// per user with flattrs and money, then `net` split equally over the user's flattrs in id
/// order, the first `net mod n` flattrs getting one ten-thousandth more (largest remainder with
/// equal weights; `domain::split` is the same rule in Rust), then each thing's total.
///
/// On PostgreSQL the shares go into a partition of their own, indexed once filled
/// (`partition::create`, `partition::index_and_attach`); on SQLite straight into
/// `close_shares`.
pub(super) async fn snapshot(
    tx: &mut Tx,
    backend: Backend,
    period: Period,
    rate: FeeRate,
) -> Result<(), CloseError> {
    sqlx::query(
        "INSERT INTO close_spends (period, user_id, flattr_count, spend, fee, net)
         SELECT $1, x.user_id, x.n, x.spend, x.spend * $2 / 10000, x.spend - x.spend * $2 / 10000
         FROM (SELECT c.user_id, c.n,
                      CASE WHEN a.balance < u.budget THEN a.balance ELSE u.budget END AS spend
               FROM (SELECT user_id, COUNT(*) AS n FROM flattrs
                     WHERE period = $1 AND charged = 1 GROUP BY user_id) c
               JOIN users u ON u.id = c.user_id
               JOIN accounts a ON a.kind = 'wallet' AND a.user_id = c.user_id) x
         WHERE x.spend > 0",
    )
    .bind(period.to_string())
    .bind(rate.parts())
    .execute(&mut **tx)
    .await?;
    // PostgreSQL: into the period's own partition, indexed once it is filled.
    let table = match backend {
        Backend::Postgres => partition::create(tx, period).await?,
        Backend::Sqlite => "close_shares".to_owned(),
    };
    sqlx::query(sqlx::AssertSqlSafe(shares_insert(&table, "")))
        .bind(period.to_string())
        .execute(&mut **tx)
        .await?;
    if backend == Backend::Postgres {
        partition::index_and_attach(tx, period).await?;
    }
    thing_totals(tx, period).await
}

/// Sums the period's shares per thing into `close_things`, with each thing's owner (or, for a
/// thing on a peer, the peer's origin) as the snapshot finds it: one ordered pass over the
/// shares (they are keyed by thing) and a lookup per thing, not per flattr.
async fn thing_totals(tx: &mut Tx, period: Period) -> Result<(), CloseError> {
    sqlx::query(
        "INSERT INTO close_things (period, thing_id, owner_id, peer, flattrs, amount)
         SELECT $1, c.thing_id, t.owner_id, CASE WHEN t.owner_id IS NULL THEN t.origin END,
                c.flattrs, c.amount
         FROM (SELECT thing_id, COUNT(*) AS flattrs, CAST(SUM(amount) AS BIGINT) AS amount
               FROM close_shares WHERE period = $1 GROUP BY thing_id) c
         JOIN things t ON t.id = c.thing_id",
    )
    .bind(period.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Caps each frozen spend at the wallet as it stands now, in the transaction that posts the
/// spend: whatever happened since the snapshot, a wallet is never spent below zero. A capped
/// user's fee, net and shares are recomputed by the snapshot's own rules (and the things'
/// totals with them); everybody else's frozen numbers stay as they are. In a close that runs
/// alone and in order nothing is capped and this costs one pass over the spends.
pub(super) async fn cap_spends(
    tx: &mut Tx,
    period: Period,
    rate: FeeRate,
) -> Result<(), CloseError> {
    // Whether anybody is capped is decided on the spends (a row per user) before any share is
    // touched: the set-based delete below walks every share of the period.
    let capped: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM close_spends s
         JOIN accounts a ON a.kind = 'wallet' AND a.user_id = s.user_id
         WHERE s.period = $1 AND a.balance < s.spend",
    )
    .bind(period.to_string())
    .fetch_one(&mut **tx)
    .await?;
    if capped == 0 {
        return Ok(());
    }
    tracing::warn!(%period, users = capped, "spends capped at what the wallets hold now");
    sqlx::query(
        "DELETE FROM close_shares WHERE period = $1 AND user_id IN
           (SELECT s.user_id FROM close_spends s
            JOIN accounts a ON a.kind = 'wallet' AND a.user_id = s.user_id
            WHERE s.period = $1 AND a.balance < s.spend)",
    )
    .bind(period.to_string())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE close_spends
         SET spend = w.balance, fee = w.balance * $2 / 10000, net = w.balance - w.balance * $2 / 10000
         FROM (SELECT user_id, CASE WHEN balance < 0 THEN 0 ELSE balance END AS balance
               FROM accounts WHERE kind = 'wallet') w
         WHERE close_spends.period = $1 AND w.user_id = close_spends.user_id
           AND w.balance < close_spends.spend",
    )
    .bind(period.to_string())
    .bind(rate.parts())
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM close_spends WHERE period = $1 AND spend <= 0")
        .bind(period.to_string())
        .execute(&mut **tx)
        .await?;
    // Into `close_shares` itself: on PostgreSQL the period's partition is attached by now.
    sqlx::query(sqlx::AssertSqlSafe(shares_insert(
        "close_shares",
        " AND NOT EXISTS (SELECT 1 FROM close_shares x
                          WHERE x.period = $1 AND x.thing_id = f.thing_id AND x.flattr_id = f.id)",
    )))
    .bind(period.to_string())
    .execute(&mut **tx)
    .await?;
    refresh_totals(tx, period).await
}

/// Re-sums the things' totals after a capped spend's re-split. Each thing keeps the owner (or
/// peer) the snapshot recorded, as its uncapped shares do: only the amounts and counts move.
/// A thing whose every share went (its only payers' wallets are empty now) loses its row.
async fn refresh_totals(tx: &mut Tx, period: Period) -> Result<(), CloseError> {
    sqlx::query(
        "UPDATE close_things SET flattrs = c.flattrs, amount = c.amount
         FROM (SELECT thing_id, COUNT(*) AS flattrs, CAST(SUM(amount) AS BIGINT) AS amount
               FROM close_shares WHERE period = $1 GROUP BY thing_id) c
         WHERE close_things.period = $1 AND close_things.thing_id = c.thing_id",
    )
    .bind(period.to_string())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "DELETE FROM close_things WHERE period = $1
           AND NOT EXISTS (SELECT 1 FROM close_shares s
                           WHERE s.period = $1 AND s.thing_id = close_things.thing_id)",
    )
    .bind(period.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
