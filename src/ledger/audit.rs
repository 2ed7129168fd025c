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
            "no wallet, earnings, fees, payouts, payable, held, pending or disputed account is negative, no receivable positive",
            "SELECT 'account ' || name || ' has the wrong sign: ' || CAST(balance AS TEXT)
             FROM accounts
             WHERE (kind IN ('wallet', 'earnings', 'fees', 'payouts', 'payable', 'held', 'pending', 'disputed')
                    AND balance < 0)
                OR (kind = 'receivable' AND balance > 0)",
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
            "every held account equals its shares not yet released or returned",
            // Both ways: an account whose balance differs from its held shares, and held
            // shares without an account to hold them.
            "SELECT 'account ' || a.name || ' holds ' || CAST(a.balance AS TEXT)
                    || ' but its held shares total ' || CAST(COALESCE(h.total, 0) AS TEXT)
             FROM accounts a
             LEFT JOIN (SELECT 'held:' || CAST(thing_id AS TEXT) AS name, SUM(amount) AS total
                        FROM held_shares WHERE state = 'held' GROUP BY thing_id) h
                    ON h.name = a.name
             WHERE a.kind = 'held' AND a.balance <> COALESCE(h.total, 0)
             UNION ALL
             SELECT 'held shares of thing ' || CAST(h.thing_id AS TEXT) || ' total '
                    || CAST(SUM(h.amount) AS TEXT) || ' but no held account holds them'
             FROM held_shares h
             WHERE h.state = 'held'
               AND NOT EXISTS (SELECT 1 FROM accounts a
                               WHERE a.name = 'held:' || CAST(h.thing_id AS TEXT))
             GROUP BY h.thing_id",
        )
        .await?,
        check(
            pool,
            "every close's totals per thing are the split of its spends, and its stored shares sum to them",
            CLOSE_TOTALS,
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
        check(
            pool,
            "every statement's total is the sum of its lines",
            "SELECT 'statement ' || s.ap_id || ' says ' || CAST(s.total AS TEXT) || ' but its '
                    || CAST(COUNT(l.position) AS TEXT) || ' lines sum to '
                    || CAST(COALESCE(SUM(l.amount), 0) AS TEXT)
             FROM statements s LEFT JOIN statement_lines l ON l.statement_id = s.id
             GROUP BY s.id, s.ap_id, s.total, s.line_count
             HAVING COALESCE(SUM(l.amount), 0) <> s.total OR COUNT(l.position) <> s.line_count",
        )
        .await?,
        check(pool, "what peers owe us is what we accepted of their statements", RECEIVABLES).await?,
        check(pool, "pending earnings are the accepted lines of their creators", PENDING).await?,
        check(pool, "what we owe each peer, agreed or disputed, is what the closes gave its things", PAYABLES).await?,
        check(pool, "every netting pays whole cents of its net and carries the rest to the next", NETTINGS).await?,
        check(pool, "the rest carried with each peer is what its settled nettings left", CARRIES).await?,
    ];
    Ok(AuditReport {
        ok: checks.iter().all(|c| c.ok),
        checks,
    })
}

/// Per peer: `receivable:PEER` is minus the accepted lines of the statements it sent us and
/// their accepted additions, and minus the take-backs it accepted of ours, less what settled
/// nettings took out of it (`theirs` of each netting whose books are posted).
const RECEIVABLES: &str = "
    SELECT 'receivable:' || x.peer || ' holds ' || CAST(x.balance AS TEXT)
           || ' but accepted lines total ' || CAST(x.accepted AS TEXT)
    FROM (SELECT p.peer,
                 COALESCE((SELECT a.balance FROM accounts a WHERE a.name = 'receivable:' || p.peer), 0) AS balance,
                 COALESCE((SELECT CAST(SUM(l.amount) AS BIGINT) FROM statement_lines l
                           JOIN statements s ON s.id = l.statement_id
                           WHERE s.direction = 'received' AND s.peer = p.peer
                             AND l.outcome = 'accepted' AND s.superseded_at IS NULL), 0)
                 + COALESCE((SELECT CAST(SUM(ABS(j.amount)) AS BIGINT) FROM statement_adjustments j
                             JOIN statements s ON s.id = j.statement_id
                             WHERE s.peer = p.peer AND j.outcome = 'accepted' AND s.superseded_at IS NULL
                               AND ((s.direction = 'received' AND j.amount > 0)
                                    OR (s.direction = 'sent' AND j.amount < 0))), 0)
                 - COALESCE((SELECT CAST(SUM(n.theirs) AS BIGINT) FROM settlement_nets n
                             WHERE n.peer = p.peer AND n.posted = 1), 0) AS accepted
          FROM (SELECT peer FROM statements WHERE direction = 'received'
                UNION SELECT SUBSTR(name, 12) FROM accounts WHERE kind = 'receivable') p) x
    WHERE x.balance <> -x.accepted";

/// Per user: `pending:USER` is the accepted lines credited to them and their accepted
/// adjustments (signed), less those of statements whose netting closed (made withdrawable
/// then); and as a flattrer, the take-backs of theirs a peer accepted, until our statement
/// that carried them closes (they go back to the wallet then).
const PENDING: &str = "
    SELECT 'pending:' || CAST(x.user_id AS TEXT) || ' holds ' || CAST(x.balance AS TEXT)
           || ' but accepted lines total ' || CAST(x.accepted AS TEXT)
    FROM (SELECT u.user_id,
                 COALESCE((SELECT a.balance FROM accounts a
                           WHERE a.kind = 'pending' AND a.user_id = u.user_id), 0) AS balance,
                 COALESCE((SELECT CAST(SUM(l.amount) AS BIGINT) FROM statement_lines l
                           JOIN statements s ON s.id = l.statement_id
                           WHERE s.direction = 'received' AND l.owner_id = u.user_id
                             AND l.outcome = 'accepted' AND s.superseded_at IS NULL
                             AND NOT EXISTS (SELECT 1 FROM settlement_nets n
                                             WHERE n.received_statement = s.ap_id
                                               AND n.state IN ('received', 'closed'))), 0)
                 + COALESCE((SELECT CAST(SUM(j.amount) AS BIGINT) FROM statement_adjustments j
                             JOIN statements s ON s.id = j.statement_id
                             WHERE s.direction = 'received' AND j.user_id = u.user_id
                               AND j.outcome = 'accepted' AND s.superseded_at IS NULL
                               AND NOT EXISTS (SELECT 1 FROM settlement_nets n
                                               WHERE n.received_statement = s.ap_id
                                                 AND n.state IN ('received', 'closed'))), 0)
                 - COALESCE((SELECT CAST(SUM(j.amount) AS BIGINT) FROM statement_adjustments j
                             JOIN statements s ON s.id = j.statement_id
                             WHERE s.direction = 'sent' AND j.user_id = u.user_id AND j.amount < 0
                               AND j.outcome = 'accepted' AND s.superseded_at IS NULL
                               AND NOT EXISTS (SELECT 1 FROM settlement_nets n
                                               WHERE n.sent_statement = s.ap_id
                                                 AND n.state IN ('received', 'closed'))), 0) AS accepted
          FROM (SELECT owner_id AS user_id FROM statement_lines WHERE owner_id IS NOT NULL
                UNION SELECT user_id FROM statement_adjustments WHERE user_id IS NOT NULL
                UNION SELECT user_id FROM accounts WHERE kind = 'pending') u) x
    WHERE x.balance <> x.accepted";

/// Per peer: `payable:PEER + disputed:PEER` is the sum of the close shares of its things (a
/// claim only moves disputed amounts from one to the other, and an accepted addition moves
/// them back) plus the take-backs we accepted of its statements (we owe them back), less what
/// settled nettings took out (`ours` of each netting whose books are posted); and
/// `disputed:PEER` is the disputed lines of our statements to it less the additions of them
/// it accepted since. The shares are summed from the things' totals, which hold the peer and
/// which `CLOSE_TOTALS` checks against the flattrs and the shares.
const PAYABLES: &str = "
    SELECT 'peer ' || x.peer || ': payable ' || CAST(x.payable AS TEXT) || ' + disputed '
           || CAST(x.disputed AS TEXT) || ' but shares ' || CAST(x.shares AS TEXT)
           || ' of which disputed in claims ' || CAST(x.disputed_lines AS TEXT)
    FROM (SELECT p.peer,
                 COALESCE((SELECT a.balance FROM accounts a WHERE a.name = 'payable:' || p.peer), 0) AS payable,
                 COALESCE((SELECT a.balance FROM accounts a WHERE a.name = 'disputed:' || p.peer), 0) AS disputed,
                 COALESCE((SELECT CAST(SUM(c.amount) AS BIGINT) FROM close_things c
                           WHERE c.peer = p.peer), 0)
                 + COALESCE((SELECT CAST(SUM(-j.amount) AS BIGINT) FROM statement_adjustments j
                             JOIN statements s ON s.id = j.statement_id
                             WHERE s.direction = 'received' AND s.peer = p.peer AND j.amount < 0
                               AND j.outcome = 'accepted' AND s.superseded_at IS NULL), 0)
                 - COALESCE((SELECT CAST(SUM(n.ours) AS BIGINT) FROM settlement_nets n
                             WHERE n.peer = p.peer AND n.posted = 1), 0) AS shares,
                 COALESCE((SELECT CAST(SUM(l.amount) AS BIGINT) FROM statement_lines l
                           JOIN statements s ON s.id = l.statement_id
                           WHERE s.direction = 'sent' AND s.peer = p.peer AND s.superseded_at IS NULL
                             AND l.outcome IS NOT NULL AND l.outcome <> 'accepted'), 0)
                 - COALESCE((SELECT CAST(SUM(j.amount) AS BIGINT) FROM statement_adjustments j
                             JOIN statements s ON s.id = j.statement_id
                             WHERE s.direction = 'sent' AND s.peer = p.peer AND j.amount > 0
                               AND j.outcome = 'accepted' AND s.superseded_at IS NULL), 0) AS disputed_lines
          FROM (SELECT peer FROM close_things WHERE peer IS NOT NULL
                UNION SELECT SUBSTR(name, 9) FROM accounts WHERE kind IN ('payable', 'disputed')
                  AND name LIKE 'payable:%'
                UNION SELECT SUBSTR(name, 10) FROM accounts WHERE name LIKE 'disputed:%') p) x
    WHERE x.payable + x.disputed <> x.shares OR x.disputed <> x.disputed_lines";

/// Per netting: its figures add up (what we owe less what the peer owes plus the rest carried
/// in is the amount paid, signed by who pays, plus the rest carried out), the rest carried in
/// is the previous netting's rest with that peer, and a netting past `netted` on the side that
/// moved money has its books posted.
const NETTINGS: &str = "
    SELECT 'netting of ' || n.period || ' with ' || n.peer || ': '
           || CASE WHEN n.ours - n.theirs + n.carried_in - n.carried_out
                        <> CASE n.debtor WHEN 'us' THEN n.amount WHEN 'peer' THEN -n.amount ELSE 0 END
                   THEN 'figures do not add up'
                   WHEN n.carried_in <> COALESCE((SELECT p.carried_out FROM settlement_nets p
                                                 WHERE p.peer = n.peer AND p.period < n.period
                                                 ORDER BY p.period DESC LIMIT 1), 0)
                   THEN 'the rest carried in is not the previous rest'
                   ELSE 'settled but not posted' END
    FROM settlement_nets n
    WHERE n.ours - n.theirs + n.carried_in - n.carried_out
              <> CASE n.debtor WHEN 'us' THEN n.amount WHEN 'peer' THEN -n.amount ELSE 0 END
       OR n.carried_in <> COALESCE((SELECT p.carried_out FROM settlement_nets p
                                    WHERE p.peer = n.peer AND p.period < n.period
                                    ORDER BY p.period DESC LIMIT 1), 0)
       OR (n.posted = 0 AND (n.state IN ('received', 'closed')
                             OR (n.state = 'paid' AND n.debtor = 'us')))";

/// Per peer: `carry:PEER` is the sum of what each posted netting changed the rest by.
const CARRIES: &str = "
    SELECT 'carry:' || x.peer || ' holds ' || CAST(x.balance AS TEXT)
           || ' but settled nettings leave ' || CAST(x.carried AS TEXT)
    FROM (SELECT p.peer,
                 COALESCE((SELECT a.balance FROM accounts a WHERE a.name = 'carry:' || p.peer), 0) AS balance,
                 COALESCE((SELECT CAST(SUM(n.carried_out - n.carried_in) AS BIGINT)
                           FROM settlement_nets n WHERE n.peer = p.peer AND n.posted = 1), 0) AS carried
          FROM (SELECT peer FROM settlement_nets
                UNION SELECT SUBSTR(name, 7) FROM accounts WHERE kind = 'carry') p) x
    WHERE x.balance <> x.carried";

/// Per period and thing: what the close posted from `close_things` is what the period's
/// spends give the thing's flattrs by the split rule (each payer's `net` split equally over
/// their charged flattrs in id order, the first `net mod n` getting one ten-thousandth more),
/// recomputed here from `flattrs` and `close_spends`, which nothing changes once a close has
/// begun; and a thing whose per-flattr shares the close kept (`itemised`, migration 0020) has
/// one share per flattr summing to its total, a thing not itemised none. A total that
/// disagrees would have paid the wrong amount; a share that disagrees would state or hold the
/// wrong amount. All of it in one sorted pass over the three row sets (a join of the sums was
/// quadratic on SQLite).
const CLOSE_TOTALS: &str = "
    SELECT 'close of ' || period || ', thing ' || CAST(thing_id AS TEXT) || ': totals say '
           || CAST(SUM(total) AS TEXT) || ' over ' || CAST(SUM(counted) AS TEXT)
           || ' flattrs, the split of the spends gives ' || CAST(SUM(split) AS TEXT) || ' over '
           || CAST(SUM(m) AS TEXT) || ', stored shares sum to ' || CAST(SUM(shares) AS TEXT)
           || ' over ' || CAST(SUM(n) AS TEXT)
    FROM (SELECT period, thing_id, amount AS total, flattrs AS counted, itemised,
                 CAST(0 AS BIGINT) AS shares, CAST(0 AS BIGINT) AS n,
                 CAST(0 AS BIGINT) AS split, CAST(0 AS BIGINT) AS m
          FROM close_things
          UNION ALL
          SELECT period, thing_id, CAST(0 AS BIGINT), CAST(0 AS BIGINT), 0,
                 amount, CAST(1 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT)
          FROM close_shares
          UNION ALL
          SELECT s.period, f.thing_id, CAST(0 AS BIGINT), CAST(0 AS BIGINT), 0,
                 CAST(0 AS BIGINT), CAST(0 AS BIGINT),
                 s.net / s.flattr_count
                 + CASE WHEN ROW_NUMBER() OVER (PARTITION BY s.period, s.user_id ORDER BY f.id)
                             <= s.net % s.flattr_count
                        THEN 1 ELSE 0 END,
                 CAST(1 AS BIGINT)
          FROM close_spends s CROSS JOIN flattrs f
          WHERE f.period = s.period AND f.user_id = s.user_id AND f.charged = 1) x
    GROUP BY period, thing_id
    HAVING SUM(total) <> SUM(split) OR SUM(counted) <> SUM(m)
        OR SUM(shares) <> CASE WHEN MAX(itemised) = 1 THEN SUM(total) ELSE 0 END
        OR SUM(n) <> CASE WHEN MAX(itemised) = 1 THEN SUM(counted) ELSE 0 END";
