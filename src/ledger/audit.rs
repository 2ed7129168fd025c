//! The audit: recomputes the books from the postings and says where they disagree.

use serde::Serialize;
use sqlx::AnyPool;

use crate::store::StoreError;

/// One finding of the audit: which rule, whether it holds, and where it does not.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// True when the check holds.
    pub ok: bool,
    /// Where it does not hold, one line each.
    pub problems: Vec<String>,
}

/// Every check of the books; `ok` only when all hold.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    /// True when every check holds.
    pub ok: bool,
    /// The checks, in the order they ran.
    pub checks: Vec<Check>,
}

async fn check(pool: &AnyPool, name: &'static str, sql: &'static str) -> Result<Check, StoreError> {
    let problems: Vec<String> = sqlx::query_scalar(sql).fetch_all(pool).await?;
    Ok(Check {
        name,
        ok: problems.is_empty(),
        problems,
    })
}

/// Runs every check. Each query returns one line of text per problem, so a failing audit says
/// exactly which account, transaction or payout is wrong.
pub async fn run(pool: &AnyPool) -> Result<AuditReport, StoreError> {
    let checks = vec![
        check(
            pool,
            "all accounts sum to zero",
            "SELECT 'sum of all postings is ' || CAST(SUM(amount) AS TEXT)
             FROM postings HAVING SUM(amount) <> 0",
        )
        .await?,
        check(
            pool,
            "every transaction is balanced",
            "SELECT 'transaction ' || t.reference || ' sums to ' || CAST(SUM(p.amount) AS TEXT)
             FROM ledger_transactions t JOIN postings p ON p.transaction_id = t.id
             GROUP BY t.id, t.reference HAVING SUM(p.amount) <> 0",
        )
        .await?,
        check(
            pool,
            "every balance equals its postings",
            "SELECT 'account ' || a.name || ' has balance ' || CAST(a.balance AS TEXT)
                    || ' but postings of ' || CAST(COALESCE(s.total, 0) AS TEXT)
             FROM accounts a
             LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM postings GROUP BY account_id) s
                    ON s.account_id = a.id
             WHERE a.balance <> COALESCE(s.total, 0)",
        )
        .await?,
        check(
            pool,
            "no wallet, earnings, fees, payouts or payable account is negative",
            "SELECT 'account ' || name || ' is negative: ' || CAST(balance AS TEXT)
             FROM accounts WHERE kind IN ('wallet', 'earnings', 'fees', 'payouts', 'payable') AND balance < 0",
        )
        .await?,
        check(
            pool,
            "closed periods leave nothing in clearing",
            "SELECT 'clearing:' || p.period || ' holds ' || CAST(a.balance AS TEXT)
             FROM periods p JOIN accounts a ON a.name = 'clearing:' || p.period
             WHERE p.closed_at IS NOT NULL AND a.balance <> 0",
        )
        .await?,
        check(
            pool,
            "pending payouts equal the payouts account",
            "SELECT 'payouts account holds ' || CAST(COALESCE((SELECT balance FROM accounts WHERE name = 'payouts'), 0) AS TEXT)
                    || ' but unpaid payouts total ' || CAST(COALESCE(SUM(amount), 0) AS TEXT)
             FROM payouts WHERE state IN ('requested', 'exported')
             HAVING COALESCE(SUM(amount), 0) <> COALESCE((SELECT balance FROM accounts WHERE name = 'payouts'), 0)",
        )
        .await?,
    ];
    Ok(AuditReport {
        ok: checks.iter().all(|c| c.ok),
        checks,
    })
}
