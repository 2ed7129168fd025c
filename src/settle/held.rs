//! Held money: the shares of flattrs of local things whose URL is not proven yet (issue 7.2).
//! The only module that writes `held_shares`.
//!
//! - At the close of P (its shares stage), the share of every flattr of an unproven local
//!   thing is posted to `held:THING` instead of its owner's earnings, and recorded here with
//!   its payer ([`hold`]).
//! - When the thing is proven (page link or verified domain, whenever that happens), all that
//!   is held for it goes to the owner's earnings at once ([`release_thing`]).
//! - The last stage of every close ([`settle`]) releases what is held for things proven
//!   meanwhile and returns to the payers' wallets the shares held since the close of a period
//!   `held_periods` or more periods back (the net share: the fee stays with the instance, as
//!   for every spend).
//!
//! Each held share moves once: its row goes from `held` to `released` or `returned` in the
//! same transaction as the ledger transaction that moves its money (the reference is kept in
//! `settled_by`), so a rerun, a crash or two racing releases cannot pay it twice. The audit
//! checks that every held account equals its rows still `held`.

use chrono::{DateTime, Utc};

use super::close::error::CloseError;
use crate::domain::money::Money;
use crate::domain::period::Period;
use crate::ledger::{self, Account, Posted};
use crate::store::{Tx, epoch};

/// Records the shares of `period` that go to held accounts — those of local things not proven
/// when the shares stage runs — and opens their accounts. Called in the shares stage before
/// its postings, which then credit these to `held:THING` and pay earnings only for the rest.
///
/// The statement starts from the period's things (`close_things`, a row per thing, with the
/// owner the snapshot recorded), keeps the unproven ones and reads each one's shares as a range
/// of the shares' key (period, thing_id, flattr_id), so its cost follows the held flattrs, not
/// all the period's flattrs (a scan of every share was a fifth of a large close). `CROSS JOIN`
/// is SQLite's way to fix that join order, whose planner otherwise starts from the shares
/// (PostgreSQL reads it as an inner join and plans freely).
///
/// The snapshot keeps per-flattr shares only for its `itemised` things, among them every local
/// thing then unproven; a proof is never taken back, so each thing unproven now is one of
/// them. Should that ever fail, its shares would be missing here and its total paid to the
/// owner as earnings: the stage refuses instead (a self-check, one pass over the period's
/// things, which the statement above reads anyway).
pub async fn hold(tx: &mut Tx, period: Period) -> Result<(), CloseError> {
    let unitemised: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM close_things c JOIN things t ON t.id = c.thing_id
         WHERE c.period = $1 AND c.owner_id IS NOT NULL AND t.proven_at IS NULL
           AND c.itemised = 0",
    )
    .bind(period.to_string())
    .fetch_one(&mut **tx)
    .await?;
    if unitemised > 0 {
        return Err(CloseError::SelfCheck {
            period,
            problem: format!(
                "{unitemised} unproven things have no per-flattr shares to hold (proven at the snapshot, unproven now)"
            ),
        });
    }
    sqlx::query(
        "INSERT INTO held_shares (period, flattr_id, thing_id, user_id, owner_id, amount, state)
         SELECT s.period, s.flattr_id, s.thing_id, s.user_id, c.owner_id, s.amount, 'held'
         FROM close_things c CROSS JOIN things t CROSS JOIN close_shares s
         WHERE c.period = $1 AND c.owner_id IS NOT NULL
           AND t.id = c.thing_id AND t.proven_at IS NULL
           AND s.period = $1 AND s.thing_id = c.thing_id",
    )
    .bind(period.to_string())
    .execute(&mut **tx)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO accounts (name, kind, user_id, balance)
         SELECT DISTINCT {}, $2, CAST(NULL AS BIGINT), 0 FROM held_shares WHERE period = $1
         ON CONFLICT (name) DO NOTHING",
        Account::held_name_sql("thing_id")
    )))
    .bind(period.to_string())
    .bind(Account::Held(0).kind())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The posting that credits each held account with its shares of a period (`$1` the ledger
/// transaction, `$2` the period), for the shares stage.
pub fn held_postings_sql() -> String {
    format!(
        "INSERT INTO postings (transaction_id, account_id, amount)
         SELECT $1, a.id, CAST(SUM(h.amount) AS BIGINT) FROM held_shares h
         JOIN accounts a ON a.name = {}
         WHERE h.period = $2
         GROUP BY a.id",
        Account::held_name_sql("h.thing_id")
    )
}

/// Moves everything held for `thing_id` to its owner's earnings, once: the rows still `held`
/// become `released` in this transaction, with one ledger transaction for their sum. The owner
/// is the thing's owner now (whoever proved the URL, see `proving`), not necessarily the user
/// who had registered it when the shares were held. Returns the amount released (zero when
/// nothing was held).
pub async fn release_thing(
    tx: &mut Tx,
    thing_id: i64,
    now: DateTime<Utc>,
) -> Result<Money, CloseError> {
    // The UPDATE takes the rows' locks: a release racing this one (the close's last stage, a
    // second proof) waits, then finds them no longer `held`.
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "UPDATE held_shares SET state = 'released', settled_at = $2
         WHERE thing_id = $1 AND state = 'held'
         RETURNING period, flattr_id, amount",
    )
    .bind(thing_id)
    .bind(epoch(now))
    .fetch_all(&mut **tx)
    .await?;
    let Some((period, flattr, _)) = rows.iter().min().cloned() else {
        return Ok(Money::ZERO);
    };
    let total = Money::from_minor(rows.iter().map(|r| r.2).sum());
    let owner: i64 = sqlx::query_scalar("SELECT owner_id FROM things WHERE id = $1")
        .bind(thing_id)
        .fetch_one(&mut **tx)
        .await?;
    // Each held share is released once, so the first share of this set names it uniquely.
    let reference = format!("held:{thing_id}:release:{period}:{flattr}");
    let posted = ledger::post(
        tx,
        "held-release",
        &reference,
        &format!("thing {thing_id} proven: held shares to its owner"),
        &[
            (Account::Held(thing_id), Money::from_minor(-total.minor())),
            (Account::Earnings(owner), total),
        ],
        now,
    )
    .await?;
    if posted == Posted::AlreadyPosted {
        return Err(CloseError::SelfCheck {
            period: Period::parse(&period).map_err(crate::store::StoreError::from)?,
            problem: format!("{reference} was already posted"),
        });
    }
    sqlx::query(
        "UPDATE held_shares SET settled_by = $1
         WHERE thing_id = $2 AND state = 'released' AND settled_by IS NULL",
    )
    .bind(&reference)
    .bind(thing_id)
    .execute(&mut **tx)
    .await?;
    Ok(total)
}

/// The close's last stage for `period`: releases the held shares of things proven by now, and
/// returns to the payers' wallets the shares held since `period` − `held_periods` or earlier.
/// Set-based: one ledger transaction for each movement (`close:P:held-release`,
/// `close:P:held-return`), whatever the number of shares.
pub async fn settle(
    tx: &mut Tx,
    period: Period,
    held_periods: u32,
    now: DateTime<Utc>,
) -> Result<(), CloseError> {
    let release = format!("close:{period}:held-release");
    let released = sqlx::query(
        "UPDATE held_shares SET state = 'released', settled_by = $1, settled_at = $2
         WHERE state = 'held'
           AND thing_id IN (SELECT id FROM things WHERE proven_at IS NOT NULL)",
    )
    .bind(&release)
    .bind(epoch(now))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if released > 0 {
        post_settled(
            tx,
            period,
            &release,
            Account::Earnings(0).kind(),
            "t.owner_id",
            now,
        )
        .await?;
    }
    let mut cutoff = period;
    for _ in 0..held_periods {
        cutoff = cutoff.previous();
    }
    let give_back = format!("close:{period}:held-return");
    let returned = sqlx::query(
        "UPDATE held_shares SET state = 'returned', settled_by = $1, settled_at = $2
         WHERE state = 'held' AND period <= $3",
    )
    .bind(&give_back)
    .bind(epoch(now))
    .bind(cutoff.to_string())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if returned > 0 {
        post_settled(
            tx,
            period,
            &give_back,
            Account::Wallet(0).kind(),
            "h.user_id",
            now,
        )
        .await?;
    }
    Ok(())
}

/// Posts the shares marked `settled_by = reference`: out of their held accounts, into the
/// `kind` account (earnings or wallet) of the user in `user_column` (`t.owner_id`, the thing's
/// owner now, or `h.user_id`, the payer).
async fn post_settled(
    tx: &mut Tx,
    period: Period,
    reference: &str,
    kind: &'static str,
    user_column: &'static str,
    now: DateTime<Utc>,
) -> Result<(), CloseError> {
    let memo = format!("close of {period}: held shares to {kind}");
    let Posted::New(id) = ledger::open(tx, "close", reference, &memo, now).await? else {
        // The stage's compare-and-set makes this unreachable; the unique reference is the
        // second lock on the door.
        return Err(CloseError::SelfCheck {
            period,
            problem: format!("{reference} was already posted"),
        });
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO postings (transaction_id, account_id, amount)
         SELECT $1, a.id, -CAST(SUM(h.amount) AS BIGINT) FROM held_shares h
         JOIN accounts a ON a.name = {}
         WHERE h.settled_by = $2
         GROUP BY a.id",
        Account::held_name_sql("h.thing_id")
    )))
    .bind(id)
    .bind(reference)
    .execute(&mut **tx)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO postings (transaction_id, account_id, amount)
         SELECT $1, a.id, CAST(SUM(h.amount) AS BIGINT) FROM held_shares h
         JOIN things t ON t.id = h.thing_id
         JOIN accounts a ON a.kind = $3 AND a.user_id = {user_column}
         WHERE h.settled_by = $2
         GROUP BY a.id"
    )))
    .bind(id)
    .bind(reference)
    .bind(kind)
    .execute(&mut **tx)
    .await?;
    ledger::seal(tx, id, reference).await?;
    Ok(())
}
