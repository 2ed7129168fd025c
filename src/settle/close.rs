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
//! Stage 1 freezes the inputs (who spends what, what each flattr gets) into `close_spends` and
//! `close_shares`; the later stages only move those frozen numbers through the ledger, via the
//! period's clearing account, which must be empty at the end (a self-check, as in payday).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::held;
use crate::domain::money::{FeeRate, Money};
use crate::domain::period::Period;
use crate::ledger::{self, Account, LedgerError, Posted};
pub use crate::store::periods::Stage;
use crate::store::{Backend, Store, StoreError, Tx, periods, subscriptions};

/// The statement that freezes what each flattr of a period receives (the spender's `net` split
/// equally, largest remainder to the earliest flattrs), with an extra condition on the flattrs.
macro_rules! shares_insert {
    ($filter:literal) => {
        concat!(
            "INSERT INTO close_shares (period, flattr_id, user_id, thing_id, owner_id, peer, amount)
             SELECT $1, r.id, r.user_id, r.thing_id, r.owner_id, r.peer,
                    s.net / s.flattr_count
                    + CASE WHEN r.rn <= s.net % s.flattr_count THEN 1 ELSE 0 END
             FROM (SELECT f.id, f.user_id, f.thing_id, t.owner_id,
                          CASE WHEN t.owner_id IS NULL THEN t.origin END AS peer,
                          ROW_NUMBER() OVER (PARTITION BY f.user_id ORDER BY f.id) AS rn
                   FROM flattrs f JOIN things t ON t.id = f.thing_id
                   WHERE f.period = $1 AND f.charged = 1",
            $filter,
            ") r
             JOIN close_spends s ON s.period = $1 AND s.user_id = r.user_id"
        )
    };
}

/// Why a close did not run or did not finish; the books are unchanged by a failed stage.
#[derive(Debug, thiserror::Error)]
pub enum CloseError {
    /// The period has not ended yet.
    #[error("period {period} has not ended yet; it can be closed from {ends}")]
    PeriodOpen {
        /// The period asked for.
        period: Period,
        /// When it ends.
        ends: DateTime<Utc>,
    },
    /// An earlier period with flattrs is still open; it must close first.
    #[error("period {period} cannot be closed before {earlier}, which is not closed yet")]
    EarlierOpen {
        /// The period asked for.
        period: Period,
        /// The earlier period still open.
        earlier: Period,
    },
    /// Stopped after a stage on request ([`CloseOptions::fail_after`]), as a crash would.
    #[error("close of {period} stopped after stage {stage:?} on request (failure injection)")]
    Injected {
        /// The period being closed.
        period: Period,
        /// The last stage that ran.
        stage: Stage,
    },
    /// A stage's own check of its numbers failed; the stage was rolled back.
    #[error("self-check failed while closing {period}: {problem}")]
    SelfCheck {
        /// The period being closed.
        period: Period,
        /// What did not add up.
        problem: String,
    },
    /// The ledger refused a posting or failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CloseError {
    fn from(e: sqlx::Error) -> Self {
        CloseError::Store(StoreError::Database(e))
    }
}

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
        run_stage(&mut tx, period, next, rules, now).await?;
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
            snapshot(tx, period, rate).await
        }
        Stage::Spend => {
            cap_spends(tx, period, rate).await?;
            move_money(tx, period, "spend", SPEND_SQL, now).await
        }
        Stage::Fees => move_money(tx, period, "fees", FEES_SQL, now).await,
        Stage::Shares => {
            // Shares of things on other fedflattr servers are owed to that peer until the
            // statement settles them: one `payable:ORIGIN` account per peer.
            sqlx::query(
                "INSERT INTO accounts (name, kind, user_id, balance)
                 SELECT DISTINCT 'payable:' || peer, 'payable', CAST(NULL AS BIGINT), 0 FROM close_shares
                 WHERE period = $1 AND peer IS NOT NULL
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(period.to_string())
            .execute(&mut **tx)
            .await?;
            // Shares of unproven local things go to their held accounts, not to earnings.
            held::hold(tx, period).await?;
            let held_postings = held::held_postings_sql();
            let mut statements: Vec<Statement<'_>> = SHARES_SQL.to_vec();
            statements.push((held_postings.as_str(), &[Bind::Transaction, Bind::Period]));
            move_money(tx, period, "shares", &statements, now).await?;
            let left = ledger::balance(&mut **tx, &Account::Clearing(period)).await?;
            if left != Money::ZERO {
                return Err(CloseError::SelfCheck {
                    period,
                    problem: format!("clearing account holds {left} after paying creators"),
                });
            }
            Ok(())
        }
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

/// Freezes the period: `spend = min(budget, wallet)`, `fee = ⌊spend × rate⌋`, `net = spend − fee`
/// per user with flattrs and money, then `net` split equally over the user's flattrs in id
/// order, the first `net mod n` flattrs getting one ten-thousandth more (largest remainder with
/// equal weights; `domain::split` is the same rule in Rust).
async fn snapshot(tx: &mut Tx, period: Period, rate: FeeRate) -> Result<(), CloseError> {
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
    sqlx::query(shares_insert!(""))
        .bind(period.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Caps each frozen spend at the wallet as it stands now, in the transaction that posts the
/// spend: whatever happened since the snapshot, a wallet is never spent below zero. A capped
/// user's fee, net and shares are recomputed by the snapshot's own rules; everybody else's
/// frozen numbers stay as they are. In a close that runs alone and in order nothing is capped
/// and this costs one indexed pass over the spends.
async fn cap_spends(tx: &mut Tx, period: Period, rate: FeeRate) -> Result<(), CloseError> {
    sqlx::query(
        "DELETE FROM close_shares WHERE period = $1 AND user_id IN
           (SELECT s.user_id FROM close_spends s
            JOIN accounts a ON a.kind = 'wallet' AND a.user_id = s.user_id
            WHERE s.period = $1 AND a.balance < s.spend)",
    )
    .bind(period.to_string())
    .execute(&mut **tx)
    .await?;
    let capped = sqlx::query(
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
    .await?
    .rows_affected();
    if capped == 0 {
        return Ok(());
    }
    tracing::warn!(%period, users = capped, "spends capped at what the wallets hold now");
    sqlx::query("DELETE FROM close_spends WHERE period = $1 AND spend <= 0")
        .bind(period.to_string())
        .execute(&mut **tx)
        .await?;
    sqlx::query(shares_insert!(
        " AND NOT EXISTS (SELECT 1 FROM close_shares x WHERE x.period = $1 AND x.flattr_id = f.id)"
    ))
    .bind(period.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A value a posting statement binds, in the order of its placeholders. PostgreSQL refuses a
/// statement bound with more values than it has placeholders, so each statement lists its own.
#[derive(Clone, Copy)]
enum Bind {
    Transaction,
    Period,
    Clearing,
    Fees,
}

type Statement<'a> = (&'a str, &'static [Bind]);

const SPEND_SQL: &[Statement<'static>] = &[
    (
        "INSERT INTO postings (transaction_id, account_id, amount)
         SELECT $1, a.id, -s.spend FROM close_spends s
         JOIN accounts a ON a.kind = 'wallet' AND a.user_id = s.user_id
         WHERE s.period = $2",
        &[Bind::Transaction, Bind::Period],
    ),
    (
        "INSERT INTO postings (transaction_id, account_id, amount)
         SELECT $1, $3, CAST(SUM(spend) AS BIGINT) FROM close_spends WHERE period = $2
         HAVING COUNT(*) > 0",
        &[Bind::Transaction, Bind::Period, Bind::Clearing],
    ),
];
const FEES_SQL: &[Statement<'static>] = &[
    (
        "INSERT INTO postings (transaction_id, account_id, amount)
         SELECT $1, $3, -CAST(SUM(fee) AS BIGINT) FROM close_spends WHERE period = $2
         HAVING COUNT(*) > 0",
        &[Bind::Transaction, Bind::Period, Bind::Clearing],
    ),
    (
        "INSERT INTO postings (transaction_id, account_id, amount)
         SELECT $1, $3, CAST(SUM(fee) AS BIGINT) FROM close_spends WHERE period = $2
         HAVING COUNT(*) > 0",
        &[Bind::Transaction, Bind::Period, Bind::Fees],
    ),
];
const SHARES_SQL: &[Statement<'static>] = &[
    (
        "INSERT INTO postings (transaction_id, account_id, amount)
         SELECT $1, $3, -CAST(SUM(amount) AS BIGINT) FROM close_shares WHERE period = $2
         HAVING COUNT(*) > 0",
        &[Bind::Transaction, Bind::Period, Bind::Clearing],
    ),
    (
        "INSERT INTO postings (transaction_id, account_id, amount)
         SELECT $1, a.id, CAST(SUM(sh.amount) AS BIGINT) FROM close_shares sh
         JOIN accounts a ON a.kind = 'earnings' AND a.user_id = sh.owner_id
         WHERE sh.period = $2
           AND NOT EXISTS (SELECT 1 FROM held_shares h
                           WHERE h.period = sh.period AND h.flattr_id = sh.flattr_id)
         GROUP BY a.id",
        &[Bind::Transaction, Bind::Period],
    ),
    (
        "INSERT INTO postings (transaction_id, account_id, amount)
         SELECT $1, a.id, CAST(SUM(sh.amount) AS BIGINT) FROM close_shares sh
         JOIN accounts a ON a.name = 'payable:' || sh.peer
         WHERE sh.period = $2 AND sh.peer IS NOT NULL
         GROUP BY a.id",
        &[Bind::Transaction, Bind::Period],
    ),
];

/// Posts one stage's movement as one balanced ledger transaction `close:PERIOD:STEP`.
async fn move_money(
    tx: &mut Tx,
    period: Period,
    step: &str,
    statements: &[Statement<'_>],
    now: DateTime<Utc>,
) -> Result<(), CloseError> {
    let reference = format!("close:{period}:{step}");
    let clearing = ledger::account_id(tx, &Account::Clearing(period)).await?;
    let fees = ledger::account_id(tx, &Account::Fees).await?;
    let memo = format!("close of {period}: {step}");
    let Posted::New(id) = ledger::open(tx, "close", &reference, &memo, now).await? else {
        // The stage's compare-and-set makes this unreachable; the unique reference is the
        // second lock on the door.
        return Err(CloseError::SelfCheck {
            period,
            problem: format!("{reference} was already posted"),
        });
    };
    for (sql, binds) in statements {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(*sql));
        for bind in *binds {
            query = match bind {
                Bind::Transaction => query.bind(id),
                Bind::Period => query.bind(period.to_string()),
                Bind::Clearing => query.bind(clearing),
                Bind::Fees => query.bind(fees),
            };
        }
        query.execute(&mut **tx).await?;
    }
    ledger::seal(tx, id, &reference).await?;
    Ok(())
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
    let (flattrs, paid): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM close_shares WHERE period = $1",
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
