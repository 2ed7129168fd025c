//! The close's frozen inputs: the snapshot stage writes who spends what (`close_spends`), what
//! each thing received in total (`close_things`) and, for the things whose readers need it,
//! what each of their flattrs received (`close_shares`); the spend stage caps spends at the
//! wallets as they stand. The only module that writes these three tables (on PostgreSQL a
//! period's shares go through `partition`, which this module calls).
//!
//! The per-thing totals are computed straight from the flattrs and the spends, in the floor's
//! own shape (issue 10.4, fourth pass): every later stage, the report and the earnings pages
//! need only what each thing received. A row per flattr is written only for the things
//! marked `itemised` (migration 0020), the ones a reader needs flattr by flattr:
//! - things on a peer: the statement to the peer has a line per flattr
//!   (`settle::statements::shares_owed`, `settle::adjustments`);
//! - local things not proven when the snapshot runs: the shares stage holds the shares of the
//!   things still unproven then (`settle::held::hold`), with each payer. A proof is never
//!   taken back (`store::things::set_proof`, `prove_under`, `take_over` only fill an empty
//!   `proven_at`), so every thing held then is itemised now; `hold` checks it all the same.
//!
//! A flattr of a period cannot be added, undone or uncharged once its close has begun
//! (`periods::FROZEN`, `flattring`), so the flattrs the totals came from stay as they were and
//! the audit recomputes the totals from them. A thing's owner or peer is frozen here too:
//! `close_things` holds it, once per thing (migration 0017), as the snapshot found it.

use super::error::CloseError;
use super::partition;
use crate::domain::money::FeeRate;
use crate::domain::period::Period;
use crate::store::{Backend, Tx};

/// The split of the spends' nets over the flattrs of a period, a row per flattr: its
/// `thing_id`, `id`, `user_id` and `amount` (the spender's `net` split equally, the first
/// `net mod n` flattrs in id order getting one ten-thousandth more: largest remainder with
/// equal weights, `domain::split` in Rust).
///
/// The window partitions by the spend's `user_id` and the flattrs are reached through their
/// (period, user_id) index, so SQLite sees the rows already in the window's order and does not
/// sort them for it (partitioned by `f.user_id` it did). No thing is looked up per flattr.
const SPLIT: &str = "SELECT f.thing_id, f.id, s.user_id,
                            s.net / s.flattr_count
                            + CASE WHEN ROW_NUMBER() OVER (PARTITION BY s.user_id ORDER BY f.id)
                                        <= s.net % s.flattr_count
                                   THEN 1 ELSE 0 END AS amount
                     FROM close_spends s CROSS JOIN flattrs f
                     WHERE s.period = $1 AND f.period = $1 AND f.user_id = s.user_id
                       AND f.charged = 1";

/// The things' totals, summed from [`SPLIT`] in the one statement of the close that touches
/// every flattr; with each thing's owner (or, for a thing on a peer, the peer's origin) as the
/// snapshot finds it, and whether its per-flattr shares are kept (`itemised`, see the module).
/// One lookup per thing, not per flattr.
fn totals_insert() -> String {
    format!(
        "INSERT INTO close_things (period, thing_id, owner_id, peer, flattrs, amount, itemised)
         SELECT $1, c.thing_id, t.owner_id, CASE WHEN t.owner_id IS NULL THEN t.origin END,
                c.flattrs, c.amount,
                CASE WHEN t.owner_id IS NULL OR t.proven_at IS NULL THEN 1 ELSE 0 END
         FROM (SELECT r.thing_id, COUNT(*) AS flattrs, CAST(SUM(r.amount) AS BIGINT) AS amount
               FROM ({SPLIT}) r GROUP BY r.thing_id) c
         JOIN things t ON t.id = c.thing_id"
    )
}

/// The shares of the itemised things' flattrs, into `table`, in its key order (period,
/// thing_id, flattr_id).
///
/// Starts from the itemised things (`close_things`) and reaches their flattrs through the
/// flattrs' thing index, so its cost follows the itemised flattrs (one in fifty in the bench),
/// not all of them. A flattr's place among its payer's flattrs, which decides whether it gets
/// the remainder's extra ten-thousandth, is counted from the (period, user_id) index rather
/// than by a window over every flattr: the same rule as [`SPLIT`], which the audit recomputes.
/// `CROSS JOIN` fixes that join order in SQLite; PostgreSQL plans freely.
fn shares_insert(table: &str) -> String {
    format!(
        "INSERT INTO {table} (period, thing_id, flattr_id, user_id, amount)
         SELECT $1, f.thing_id, f.id, f.user_id,
                s.net / s.flattr_count
                + CASE WHEN (SELECT COUNT(*) FROM flattrs g
                             WHERE g.period = $1 AND g.user_id = f.user_id AND g.charged = 1
                               AND g.id <= f.id)
                            <= s.net % s.flattr_count
                       THEN 1 ELSE 0 END
         FROM close_things c CROSS JOIN flattrs f CROSS JOIN close_spends s
         WHERE c.period = $1 AND c.itemised = 1
           AND f.thing_id = c.thing_id AND f.period = $1 AND f.charged = 1
           AND s.period = $1 AND s.user_id = f.user_id
         ORDER BY f.thing_id, f.id"
    )
}

/// Freezes the period: `spend = min(budget, wallet)`, `fee = ⌊spend × rate⌋`, `net = spend − fee`
/// per user with flattrs and money, then `net` split equally over the user's flattrs in id
/// order ([`SPLIT`]), summed per thing, then the itemised things' shares.
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
    sqlx::query(sqlx::AssertSqlSafe(totals_insert()))
        .bind(period.to_string())
        .execute(&mut **tx)
        .await?;
    // PostgreSQL: into the period's own partition, indexed once it is filled.
    let table = match backend {
        Backend::Postgres => partition::create(tx, period).await?,
        Backend::Sqlite => "close_shares".to_owned(),
    };
    sqlx::query(sqlx::AssertSqlSafe(shares_insert(&table)))
        .bind(period.to_string())
        .execute(&mut **tx)
        .await?;
    if backend == Backend::Postgres {
        partition::index_and_attach(tx, period).await?;
    }
    Ok(())
}

/// The flattrs of the users whose spend the wallet no longer covers, a row per flattr, with
/// what it received at the snapshot (`before`) and what it receives once the spend is capped
/// at the wallet (`after`, by the same rule as [`SPLIT`]), and whether the user still spends
/// anything (`kept`; a wallet emptied since spends nothing, and its flattrs count no more).
/// `$1` the period, `$2` the fee rate. Read before the spends are capped: after, nothing says
/// whose they were.
const CAPPED: &str = "SELECT x.thing_id, x.flattr_id, x.user_id, x.kept,
       x.net / x.n + CASE WHEN x.rn <= x.net % x.n THEN 1 ELSE 0 END AS before,
       x.capped / x.n + CASE WHEN x.rn <= x.capped % x.n THEN 1 ELSE 0 END AS after
     FROM (SELECT f.thing_id, f.id AS flattr_id, s.user_id, s.net, s.flattr_count AS n,
                  CASE WHEN a.balance > 0 THEN a.balance - a.balance * $2 / 10000 ELSE 0 END
                    AS capped,
                  CASE WHEN a.balance > 0 THEN 1 ELSE 0 END AS kept,
                  ROW_NUMBER() OVER (PARTITION BY s.user_id ORDER BY f.id) AS rn
           FROM close_spends s
           JOIN accounts a ON a.kind = 'wallet' AND a.user_id = s.user_id
           JOIN flattrs f ON f.period = $1 AND f.user_id = s.user_id AND f.charged = 1
           WHERE s.period = $1 AND a.balance < s.spend) x";

/// Caps each frozen spend at the wallet as it stands now, in the transaction that posts the
/// spend: whatever happened since the snapshot, a wallet is never spent below zero. A capped
/// user's fee, net and shares are recomputed by the snapshot's own rules, and the totals of
/// the things they flattred move by the difference; everybody else's frozen numbers stay as
/// they are. In a close that runs alone and in order nothing is capped and this costs one pass
/// over the spends.
///
/// By difference rather than by summing the touched things again: a thing's total is the sum
/// over its flattrs, and only the capped users' flattrs change, so the difference costs a row
/// per capped flattr, where a recount would cost every flattr of every thing they touched and
/// every flattr of those things' payers. The audit recomputes every total from the flattrs.
pub(super) async fn cap_spends(
    tx: &mut Tx,
    period: Period,
    rate: FeeRate,
) -> Result<(), CloseError> {
    // Whether anybody is capped is decided on the spends (a row per user) before any flattr
    // is read.
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
    // Each owner, peer and itemised mark stays as the snapshot recorded it: only the amounts
    // and counts move.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE close_things
         SET flattrs = close_things.flattrs - d.dropped,
             amount = close_things.amount - d.before + d.after
         FROM (SELECT thing_id, CAST(SUM(1 - kept) AS BIGINT) AS dropped,
                      CAST(SUM(before) AS BIGINT) AS before, CAST(SUM(after) AS BIGINT) AS after
               FROM ({CAPPED}) c GROUP BY thing_id) d
         WHERE close_things.period = $1 AND close_things.thing_id = d.thing_id"
    )))
    .bind(period.to_string())
    .bind(rate.parts())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "DELETE FROM close_shares WHERE period = $1 AND user_id IN
           (SELECT s.user_id FROM close_spends s
            JOIN accounts a ON a.kind = 'wallet' AND a.user_id = s.user_id
            WHERE s.period = $1 AND a.balance < s.spend)",
    )
    .bind(period.to_string())
    .execute(&mut **tx)
    .await?;
    // Into `close_shares` itself: on PostgreSQL the period's partition is attached by now.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO close_shares (period, thing_id, flattr_id, user_id, amount)
         SELECT $1, d.thing_id, d.flattr_id, d.user_id, d.after
         FROM ({CAPPED}) d CROSS JOIN close_things c
         WHERE d.kept = 1 AND c.period = $1 AND c.thing_id = d.thing_id AND c.itemised = 1
         ORDER BY d.thing_id, d.flattr_id"
    )))
    .bind(period.to_string())
    .bind(rate.parts())
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
    // A thing whose only payers' wallets are empty now received nothing: no row.
    sqlx::query("DELETE FROM close_things WHERE period = $1 AND flattrs = 0")
        .bind(period.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
