//! The close's ledger stages: spend (wallets → `clearing:P`), fees (`clearing:P` → `fees`) and
//! shares (`clearing:P` → creators' earnings, held accounts and peers' payables). Each is one
//! balanced ledger transaction `close:P:STEP` of a few set-based `INSERT … SELECT`s over the
//! frozen spends (a row per user) and things' totals (a row per thing), never over the
//! period's flattrs.

use chrono::{DateTime, Utc};

use super::error::CloseError;
use crate::domain::money::Money;
use crate::domain::period::Period;
use crate::ledger::{self, Account, Posted};
use crate::settle::held;
use crate::store::{Backend, Tx};

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
/// Out of clearing: the things' totals, which the shares sum to (so the emptiness check after
/// the stage proves the shares add up to the nets). Into earnings: each local owner's things
/// that are not held (a thing's shares of a period are held all together or not at all).
/// Into payables: each peer's things.
const SHARES_SQL: &[Statement<'static>] = &[
    (
        "INSERT INTO postings (transaction_id, account_id, amount)
         SELECT $1, $3, -CAST(SUM(amount) AS BIGINT) FROM close_things WHERE period = $2
         HAVING COUNT(*) > 0",
        &[Bind::Transaction, Bind::Period, Bind::Clearing],
    ),
    (
        "INSERT INTO postings (transaction_id, account_id, amount)
         SELECT $1, a.id, CAST(SUM(c.amount) AS BIGINT) FROM close_things c
         JOIN accounts a ON a.kind = 'earnings' AND a.user_id = c.owner_id
         WHERE c.period = $2
           AND NOT EXISTS (SELECT 1 FROM held_shares h
                           WHERE h.thing_id = c.thing_id AND h.period = c.period)
         GROUP BY a.id",
        &[Bind::Transaction, Bind::Period],
    ),
    (
        "INSERT INTO postings (transaction_id, account_id, amount)
         SELECT $1, a.id, CAST(SUM(c.amount) AS BIGINT) FROM close_things c
         JOIN accounts a ON a.name = 'payable:' || c.peer
         WHERE c.period = $2 AND c.peer IS NOT NULL
         GROUP BY a.id",
        &[Bind::Transaction, Bind::Period],
    ),
];

/// The spend stage's postings (after the spends were capped).
pub(super) async fn spend(
    tx: &mut Tx,
    period: Period,
    now: DateTime<Utc>,
) -> Result<(), CloseError> {
    move_money(tx, period, "spend", SPEND_SQL, now).await
}

/// The fees stage.
pub(super) async fn fees(
    tx: &mut Tx,
    period: Period,
    now: DateTime<Utc>,
) -> Result<(), CloseError> {
    move_money(tx, period, "fees", FEES_SQL, now).await
}

/// The shares stage: opens the peers' payable and the unproven things' held accounts, pays
/// creators, and checks that the clearing account is empty.
pub(super) async fn shares(
    tx: &mut Tx,
    backend: Backend,
    period: Period,
    now: DateTime<Utc>,
) -> Result<(), CloseError> {
    // Shares of things on other fedflattr servers are owed to that peer until the statement
    // settles them: one `payable:ORIGIN` account per peer.
    sqlx::query(
        "INSERT INTO accounts (name, kind, user_id, balance)
         SELECT DISTINCT 'payable:' || peer, 'payable', CAST(NULL AS BIGINT), 0 FROM close_things
         WHERE period = $1 AND peer IS NOT NULL
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(period.to_string())
    .execute(&mut **tx)
    .await?;
    // Shares of unproven local things go to their held accounts, not to earnings.
    held::hold(tx, period).await?;
    super::analyze(tx, backend, "held_shares").await?;
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
