//! The close of a period: exactly-once, resumable, set-based.
//!
//! Like Liberapay's payday, the close is a sequence of stages. Each stage is one database
//! transaction that first advances `periods.stage` with a compare-and-set and then does its
//! work with a handful of set-based statements, so
//! - a crash anywhere leaves the period at the last committed stage, and a re-run resumes there;
//! - two closers racing (two servers on one PostgreSQL, a cron and an admin) cannot both run a
//!   stage: the loser's compare-and-set matches no row and it just re-reads the stage;
//! - closing a closed period finds nothing to do.
//!
//! Three more rules keep two closes from spending the same wallet twice (issue 7.1):
//! - **one close at a time**: every stage transaction first takes the close lock (a PostgreSQL
//!   advisory transaction lock; on SQLite `BEGIN IMMEDIATE` already holds the only write lock),
//!   so stages of different periods never interleave, in any number of processes;
//! - **periods close in order**: closing P first closes every earlier period that has flattrs
//!   and is not closed, oldest first, and the snapshot of P refuses (`EarlierOpen`) while one is
//!   still open;
//! - **a spend never exceeds the wallet**: the spend stage caps each frozen spend at the wallet
//!   as it stands in the same transaction that posts it (and recomputes that user's fee and
//!   shares), and the database refuses a negative wallet (migration 0002).
//!
//! Shares of unproven local things are held, not paid (issue 7.2, `settle::held`): the shares
//! stage posts them to `held:THING`, and the last stage releases what was held for things
//! proven since and returns to the payers what was held `held_periods` periods ago.
//!
//! Stage 1 freezes the inputs (who spends what, what each thing got, and what each flattr got
//! where a reader needs it flattr by flattr: things on a peer and things unproven at the
//! snapshot) into `close_spends`, `close_things` and `close_shares` (on PostgreSQL a partition
//! per period, written before it is keyed: `partition`) (`snapshot`); the later stages only
//! move those frozen numbers through the ledger (`postings`), via the period's clearing
//! account, which must be empty at the end (a self-check, as in payday). Only the snapshot
//! reads a row per flattr, in one statement that sums the split per thing, as the floor does,
//! and writes a row per flattr only for those few things; every later statement reads a row
//! per user or per thing, which keeps a large close near the floor of computing the split at
//! all (docs/benchmarks.md).

use chrono::{DateTime, Utc};
use serde::Serialize;

pub(super) mod error;
mod partition;
mod postings;
mod snapshot;

use super::held;
use crate::domain::money::{FeeRate, Money};
use crate::domain::period::Period;
pub use crate::store::periods::Stage;
use crate::store::{Backend, Store, Tx, periods, subscriptions};
pub use error::CloseError;

/// What a close did, read back from its frozen inputs (the same whether this run did the work
/// or an earlier one did).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloseReport {
    /// The period closed, `YYYY-MM`.
    pub period: String,
    /// True when the period was closed before this call (the figures are the earlier close's).
    pub already_closed: bool,
    /// How many users paid for at least one flattr.
    pub users_charged: i64,
    /// How many flattrs the period's budgets were split over.
    pub flattrs: i64,
    /// The total taken from wallets.
    pub spent: Money,
    /// The instance's share of what was spent.
    pub fees: Money,
    /// What creators were credited: spent minus fees.
    pub paid_to_creators: Money,
    /// The part of `paid_to_creators` held for unproven things at this close.
    pub held: Money,
}

/// The instance's rules a close applies (from its settings).
#[derive(Debug, Clone, Copy)]
pub struct CloseRules {
    /// The instance's share of every spend.
    pub fee_rate: FeeRate,
    /// How many periods a share of an unproven thing stays held before it goes back to its
    /// payer: a share of P held at P's close is returned by the close of P + `held_periods`.
    pub held_periods: u32,
}

/// Options for tests and operators: stop after a stage, as a crash would.
#[derive(Debug, Clone, Copy, Default)]
pub struct CloseOptions {
    /// Stop with an error after this stage, as a crash would (tests of resuming).
    pub fail_after: Option<Stage>,
    /// Do all of this stage's work, then roll its transaction back and stop with an error, as
    /// a crash just before its commit would (tests that a stage leaves nothing behind).
    pub roll_back_in: Option<Stage>,
}

/// Closes `period`, resuming wherever an earlier attempt stopped. Every earlier period that has
/// flattrs and is not closed yet is closed first, oldest first: periods close in order, so a
/// wallet is spent for September before October sees what is left.
pub async fn close(
    store: &Store,
    period: Period,
    rules: CloseRules,
    now: DateTime<Utc>,
    options: CloseOptions,
) -> Result<CloseReport, CloseError> {
    if !period.has_ended(now) {
        return Err(CloseError::PeriodOpen {
            period,
            ends: period.end(),
        });
    }
    for earlier in periods::open_before(store.pool(), period).await? {
        tracing::info!(%period, %earlier, "closing the earlier open period first");
        close_one(store, earlier, rules, now, options).await?;
    }
    close_one(store, period, rules, now, options).await
}

async fn close_one(
    store: &Store,
    period: Period,
    rules: CloseRules,
    now: DateTime<Utc>,
    options: CloseOptions,
) -> Result<CloseReport, CloseError> {
    periods::start(store.pool(), period, now).await?;
    let mut already_closed = true;
    loop {
        let current = stage(store, period).await?;
        let Some(next) = current.next() else { break };
        already_closed = false;
        let mut tx = store.begin().await?;
        // The lock comes before the stage's compare-and-set, in every closer, so two closers
        // always queue in the same order and never deadlock on the periods row.
        lock(&mut tx, store.backend()).await?;
        if !periods::advance(&mut tx, period, current, next).await? {
            // Another closer ran this stage meanwhile; read where it got to.
            tx.rollback().await?;
            continue;
        }
        let cache = widen_stage_memory(&mut tx, store.backend()).await?;
        let ran = run_stage(&mut tx, store.backend(), period, next, rules, now).await;
        if let Some(pages) = cache {
            set_page_cache(&mut tx, pages).await?;
        }
        ran?;
        if options.roll_back_in == Some(next) {
            tx.rollback().await?;
            return Err(CloseError::InjectedRollback {
                period,
                stage: next,
            });
        }
        tx.commit().await?;
        tracing::info!(%period, stage = ?next, "close stage committed");
        if options.fail_after == Some(next) {
            return Err(CloseError::Injected {
                period,
                stage: next,
            });
        }
    }
    report(store, period, already_closed).await
}

/// The memory a close stage may use while it runs, in KiB: on SQLite the page cache of the
/// stage's connection (a negative `cache_size`), on PostgreSQL the stage's `work_mem` (per
/// sort or hash). A stage writes a row per flattr and sorts them; with SQLite's default cache
/// of 2 000 KiB a large close spent as much time re-reading its own pages from the operating
/// system as computing, and with PostgreSQL's default `work_mem` of 4 MB its sorts and
/// per-thing sums spilled to disk in many batches (issue 10.4). The setting is this
/// connection's (SQLite, set back when the stage ends) or this transaction's (PostgreSQL,
/// `SET LOCAL`), so memory stays bounded by it.
const CLOSE_STAGE_MEMORY_KIB: i64 = 64 * 1024;

/// Gives a stage the close's memory; returns the SQLite `cache_size` to set back afterwards
/// (`None` on PostgreSQL, where `SET LOCAL` ends with the transaction).
async fn widen_stage_memory(tx: &mut Tx, backend: Backend) -> Result<Option<i64>, CloseError> {
    if backend != Backend::Sqlite {
        // A SET takes no bound parameters; the value is our own integer.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SET LOCAL work_mem = '{CLOSE_STAGE_MEMORY_KIB}kB'"
        )))
        .execute(&mut **tx)
        .await?;
        return Ok(None);
    }
    let before: i64 = sqlx::query_scalar("PRAGMA cache_size")
        .fetch_one(&mut **tx)
        .await?;
    set_page_cache(tx, -CLOSE_STAGE_MEMORY_KIB).await?;
    Ok(Some(before))
}

async fn set_page_cache(tx: &mut Tx, cache_size: i64) -> Result<(), CloseError> {
    // A PRAGMA takes no bound parameters; the value is our own integer.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "PRAGMA cache_size = {cache_size}"
    )))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Refreshes PostgreSQL's planner statistics of tables a stage has just filled, in the stage's
/// transaction (ANALYZE counts the transaction's own new rows), so that the statements after
/// it are planned for the period's real numbers. Without this a close planned as if the
/// period's spends, things' totals and held shares were a handful of rows (the statistics
/// predate them): the shares stage's earnings postings joined 40 000 things' totals to
/// accounts by nested loops and took 1.6 s of a 3.3 s close of 20 000 users × 3 flattrs, and
/// at 100 000 × 50 twice what they take with statistics. ANALYZE reads a bounded sample
/// (30 000 rows by default), whatever the tables' size. SQLite plans these statements by
/// fixed join orders and does nothing here.
async fn analyze(tx: &mut Tx, backend: Backend, tables: &str) -> Result<(), CloseError> {
    if backend == Backend::Postgres {
        // ANALYZE takes no bound parameters; the table names are our own constants.
        sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {tables}")))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The key of the PostgreSQL advisory lock that lets one close stage run at a time ("fdflclos").
const CLOSE_LOCK: i64 = 0x6664_666c_636c_6f73;

/// Takes the close lock for the rest of the transaction. PostgreSQL: a transaction-level
/// advisory lock, released by commit, rollback or a dropped connection (a killed process holds
/// nothing). SQLite: the transaction began with `BEGIN IMMEDIATE` and holds the database's one
/// write lock already, which serialises every writer, closes included.
async fn lock(tx: &mut Tx, backend: Backend) -> Result<(), CloseError> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CLOSE_LOCK)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The stage a period's close has reached (`Open` when it never started).
pub async fn stage(store: &Store, period: Period) -> Result<Stage, CloseError> {
    Ok(periods::stage(store.pool(), period).await?)
}

async fn run_stage(
    tx: &mut Tx,
    backend: Backend,
    period: Period,
    stage: Stage,
    rules: CloseRules,
    now: DateTime<Utc>,
) -> Result<(), CloseError> {
    let rate = rules.fee_rate;
    match stage {
        Stage::Open => Ok(()),
        Stage::Snapshot => {
            // Under the close lock: no earlier period may still be open (closers that call
            // `close` never get here with one, but the rule holds for every caller).
            if let Some(earlier) = periods::open_before(&mut **tx, period).await?.first() {
                return Err(CloseError::EarlierOpen {
                    period,
                    earlier: *earlier,
                });
            }
            snapshot::snapshot(tx, backend, period, rate).await?;
            analyze(tx, backend, "close_spends, close_things").await
        }
        Stage::Spend => {
            snapshot::cap_spends(tx, period, rate).await?;
            postings::spend(tx, period, now).await
        }
        Stage::Fees => postings::fees(tx, period, now).await,
        Stage::Shares => postings::shares(tx, backend, period, now).await,
        Stage::Renew => {
            subscriptions::renew(tx, period.next(), now).await?;
            Ok(())
        }
        Stage::Held => {
            held::settle(tx, period, rules.held_periods, now).await?;
            periods::mark_closed(tx, period, now).await?;
            Ok(())
        }
    }
}

async fn report(
    store: &Store,
    period: Period,
    already_closed: bool,
) -> Result<CloseReport, CloseError> {
    let (users, spent, fees): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(spend), 0) AS BIGINT), CAST(COALESCE(SUM(fee), 0) AS BIGINT)
         FROM close_spends WHERE period = $1",
    )
    .bind(period.to_string())
    .fetch_one(store.pool())
    .await?;
    // From the things' totals (a row per thing), which the audit checks against the shares.
    let (flattrs, paid): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(flattrs), 0) AS BIGINT), CAST(COALESCE(SUM(amount), 0) AS BIGINT)
         FROM close_things WHERE period = $1",
    )
    .bind(period.to_string())
    .fetch_one(store.pool())
    .await?;
    let held: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM held_shares WHERE period = $1",
    )
    .bind(period.to_string())
    .fetch_one(store.pool())
    .await?;
    Ok(CloseReport {
        period: period.to_string(),
        already_closed,
        users_charged: users,
        flattrs,
        spent: Money::from_minor(spent),
        fees: Money::from_minor(fees),
        paid_to_creators: Money::from_minor(paid),
        held: Money::from_minor(held),
    })
}
