//! The double-entry ledger: accounts, balanced and idempotent postings, deposits, payouts and
//! the audit that proves the books.
//!
//! Every movement of money is one `ledger_transactions` row with postings that sum to zero.
//! Its `reference` is unique, so posting the same movement twice (a retry, a re-run close)
//! records it once. Account balances are cached in `accounts.balance`, updated in the same
//! database transaction as the postings; the audit recomputes them.

pub mod audit;
pub mod payouts;

use chrono::{DateTime, Utc};

use crate::domain::money::Money;
use crate::domain::period::Period;
use crate::store::{StoreError, Tx, epoch};

/// An account of the books.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    /// What a user has funded and not yet spent.
    Wallet(i64),
    /// What a user's things earned and the user has not yet been paid.
    Earnings(i64),
    /// The instance's cut of every close.
    Fees,
    /// The outside world: deposits come from it and payouts go to it, so it runs negative.
    World,
    /// Payouts requested by users and not yet confirmed as paid.
    Payouts,
    /// Money of one period's close in flight between its stages; zero once the close is done.
    Clearing(Period),
    /// What we owe the peer at this origin for its creators' shares (the close posts it; a
    /// claim moves disputed amounts out of it).
    Payable(String),
    /// What the peer at this origin owes us for statements we accepted (an asset: zero or
    /// negative, like `World`).
    Receivable(String),
    /// What a peer owes a local creator for accepted statement lines: earned, but not
    /// withdrawable until the peer's payment arrives.
    Pending(i64),
    /// What we stated to the peer at this origin and it disputed: moved out of `payable` so that
    /// only agreed amounts are ever netted.
    Disputed(String),
    /// The sub-cent rest of the last settled netting with the peer at this origin, carried to
    /// the next one (positive: we owe it; negative: it owes us). See `settle::netting`.
    Carry(String),
    /// Shares of flattrs of one unproven local thing, held until the thing is proven (then
    /// they go to its owner's earnings) or `held_periods` periods have passed (then back to
    /// the payers' wallets). See `settle::held`.
    Held(i64),
}

impl Account {
    /// The kind of every user's wallet (`accounts.kind`), for queries that find a wallet by
    /// its user (`accounts_kind_user`) rather than by name.
    pub const WALLET: &'static str = "wallet";

    /// The account's name in the `accounts` table, e.g. `wallet:7`.
    pub fn name(&self) -> String {
        match self {
            Account::Wallet(user) => format!("wallet:{user}"),
            Account::Earnings(user) => format!("earnings:{user}"),
            Account::Fees => "fees".into(),
            Account::World => "world".into(),
            Account::Payouts => "payouts".into(),
            Account::Clearing(period) => format!("clearing:{period}"),
            Account::Payable(origin) => format!("payable:{origin}"),
            Account::Receivable(origin) => format!("receivable:{origin}"),
            Account::Pending(user) => format!("pending:{user}"),
            Account::Disputed(origin) => format!("disputed:{origin}"),
            Account::Carry(origin) => format!("carry:{origin}"),
            Account::Held(thing) => format!("held:{thing}"),
        }
    }

    /// The account's kind: `wallet`, `earnings`, `fees`, ….
    pub fn kind(&self) -> &'static str {
        match self {
            Account::Wallet(_) => Account::WALLET,
            Account::Earnings(_) => "earnings",
            Account::Fees => "fees",
            Account::World => "world",
            Account::Payouts => "payouts",
            Account::Clearing(_) => "clearing",
            Account::Payable(_) => "payable",
            Account::Receivable(_) => "receivable",
            Account::Pending(_) => "pending",
            Account::Disputed(_) => "disputed",
            Account::Carry(_) => "carry",
            Account::Held(_) => "held",
        }
    }

    /// SQL for the name of the held account of the thing whose id is in `column`, for
    /// set-based statements (the close opens and posts to many at once): the same spelling as
    /// [`Account::Held`]'s `name`, kept here with it.
    pub fn held_name_sql(column: &str) -> String {
        format!("'held:' || CAST({column} AS TEXT)")
    }

    fn user_id(&self) -> Option<i64> {
        match self {
            Account::Wallet(user) | Account::Earnings(user) | Account::Pending(user) => Some(*user),
            _ => None,
        }
    }
}

/// Why the ledger refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A transaction whose postings do not sum to zero (a bug, never user input).
    #[error("postings of {reference} sum to {sum}, not zero")]
    Unbalanced {
        /// The transaction's reference.
        reference: String,
        /// What its postings sum to.
        sum: Money,
    },
    /// Less than the smallest amount allowed (a payout below the minimum).
    #[error("the amount must be at least {minimum}")]
    BelowMinimum {
        /// The smallest amount allowed.
        minimum: Money,
    },
    /// More than the account holds.
    #[error("only {available} is available")]
    Insufficient {
        /// What the account holds.
        available: Money,
    },
    /// Zero or a negative amount.
    #[error("the amount must be positive")]
    NotPositive,
    /// A bank reference already used for another deposit.
    #[error(
        "bank reference {reference} was already recorded as a deposit of {recorded}, not this \
         one; a reference names one payment"
    )]
    ReferenceReused {
        /// The bank reference.
        reference: String,
        /// The deposit recorded under it (amount and user).
        recorded: String,
    },
    /// Settlement with a peer refuses the step (a payment of the wrong amount, say).
    #[error("{}: {message}", refusal.as_str())]
    Settlement {
        /// Which rule refused it.
        refusal: crate::domain::settlement::SettlementRefusal,
        /// What exactly, in words.
        message: String,
    },
    /// The database failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for LedgerError {
    fn from(e: sqlx::Error) -> Self {
        LedgerError::Store(StoreError::Database(e))
    }
}

/// True when `error` is the database refusing a negative wallet, earnings, fees, payouts or
/// payable balance (the CHECK or trigger `accounts_money_not_negative`, migration 0002).
pub fn is_negative_balance(error: &LedgerError) -> bool {
    matches!(error, LedgerError::Store(StoreError::Database(sqlx::Error::Database(db)))
        if db.message().contains("accounts_money_not_negative"))
}

/// Whether a posting was recorded now or had been recorded before under the same reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posted {
    /// Recorded now, as this ledger transaction.
    New(i64),
    /// Recorded before under the same reference; nothing changed.
    AlreadyPosted,
}

/// The id of `account`, created on first use (instance and clearing accounts appear lazily).
pub async fn account_id(tx: &mut Tx, account: &Account) -> Result<i64, LedgerError> {
    sqlx::query(
        "INSERT INTO accounts (name, kind, user_id, balance) VALUES ($1, $2, $3, 0)
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(account.name())
    .bind(account.kind())
    .bind(account.user_id())
    .execute(&mut **tx)
    .await?;
    Ok(
        sqlx::query_scalar("SELECT id FROM accounts WHERE name = $1")
            .bind(account.name())
            .fetch_one(&mut **tx)
            .await?,
    )
}

/// The cached balance of `account` (zero for an account never used).
pub async fn balance<'e, E>(db: E, account: &Account) -> Result<Money, LedgerError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let balance: Option<i64> = sqlx::query_scalar("SELECT balance FROM accounts WHERE name = $1")
        .bind(account.name())
        .fetch_optional(db)
        .await?;
    Ok(Money::from_minor(balance.unwrap_or(0)))
}

/// The origins of the peers we have settlement accounts with (`payable`, `receivable`,
/// `disputed` or `carry`), sorted: the peers the admin's listing shows even before any statement.
pub async fn peers_with_accounts<'e, E>(db: E) -> Result<Vec<String>, LedgerError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM accounts WHERE kind IN ('payable', 'receivable', 'disputed', 'carry')",
    )
    .fetch_all(db)
    .await?;
    let mut origins: Vec<String> = names
        .iter()
        .filter_map(|n| n.split_once(':').map(|(_, origin)| origin.to_owned()))
        .collect();
    origins.sort();
    origins.dedup();
    Ok(origins)
}

/// Opens a new user's two accounts, wallet and earnings, empty. Called in the transaction that
/// creates the user, so that set-based statements (the close, renewals) that join a user's
/// wallet always find it.
pub async fn open_user_accounts(tx: &mut Tx, user_id: i64) -> Result<(), LedgerError> {
    for account in [Account::Wallet(user_id), Account::Earnings(user_id)] {
        account_id(tx, &account).await?;
    }
    Ok(())
}

/// Opens a ledger transaction under `reference`, or reports that one exists already.
/// Set-based callers (the close) insert their postings themselves and then call [`seal`].
pub async fn open(
    tx: &mut Tx,
    kind: &str,
    reference: &str,
    memo: &str,
    now: DateTime<Utc>,
) -> Result<Posted, LedgerError> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO ledger_transactions (kind, reference, memo, created_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (reference) DO NOTHING RETURNING id",
    )
    .bind(kind)
    .bind(reference)
    .bind(memo)
    .bind(epoch(now))
    .fetch_optional(&mut **tx)
    .await?;
    Ok(id.map_or(Posted::AlreadyPosted, Posted::New))
}

/// Checks that the postings of ledger transaction `id` sum to zero and moves them into the
/// cached balances. Called once per transaction, inside the same database transaction.
pub async fn seal(tx: &mut Tx, id: i64, reference: &str) -> Result<(), LedgerError> {
    let sum: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM postings WHERE transaction_id = $1",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    if sum != 0 {
        return Err(LedgerError::Unbalanced {
            reference: reference.to_owned(),
            sum: Money::from_minor(sum),
        });
    }
    // One pass: sum the transaction's postings per account, then add each sum to its account
    // (UPDATE … FROM works on PostgreSQL and on SQLite since 3.33). A correlated subquery per
    // account would rescan the transaction's postings for every account it touches.
    sqlx::query(
        "UPDATE accounts SET balance = accounts.balance + s.total
         FROM (SELECT account_id, CAST(SUM(amount) AS BIGINT) AS total FROM postings
               WHERE transaction_id = $1 GROUP BY account_id) AS s
         WHERE accounts.id = s.account_id",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records one balanced movement. A second call with the same `reference` changes nothing.
pub async fn post(
    tx: &mut Tx,
    kind: &str,
    reference: &str,
    memo: &str,
    postings: &[(Account, Money)],
    now: DateTime<Utc>,
) -> Result<Posted, LedgerError> {
    let sum: i64 = postings.iter().map(|(_, amount)| amount.minor()).sum();
    if sum != 0 {
        return Err(LedgerError::Unbalanced {
            reference: reference.to_owned(),
            sum: Money::from_minor(sum),
        });
    }
    let Posted::New(id) = open(tx, kind, reference, memo, now).await? else {
        return Ok(Posted::AlreadyPosted);
    };
    for (account, amount) in postings {
        let account_id = account_id(tx, account).await?;
        sqlx::query(
            "INSERT INTO postings (transaction_id, account_id, amount) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(account_id)
        .bind(amount.minor())
        .execute(&mut **tx)
        .await?;
    }
    seal(tx, id, reference).await?;
    Ok(Posted::New(id))
}

/// Money received from outside for a user's wallet (the instance's pay-in), recorded by an admin.
/// `reference` makes a retried deposit count once; pass the bank transfer's id when there is one.
pub async fn deposit(
    tx: &mut Tx,
    user_id: i64,
    amount: Money,
    reference: &str,
    now: DateTime<Utc>,
) -> Result<Posted, LedgerError> {
    if !amount.is_positive() {
        return Err(LedgerError::NotPositive);
    }
    let negative = Money::from_minor(-amount.minor());
    let key = format!("deposit:{reference}");
    let posted = post(
        tx,
        "deposit",
        &key,
        "funds received",
        &[
            (Account::World, negative),
            (Account::Wallet(user_id), amount),
        ],
        now,
    )
    .await?;
    if posted == Posted::AlreadyPosted {
        // The same payment recorded twice is harmless; the same reference with another amount
        // or for another user is a typo that would otherwise vanish as "already recorded".
        let (account, recorded): (String, i64) = sqlx::query_as(
            "SELECT a.name, p.amount FROM ledger_transactions t
             JOIN postings p ON p.transaction_id = t.id
             JOIN accounts a ON a.id = p.account_id
             WHERE t.reference = $1 AND a.kind = 'wallet'",
        )
        .bind(&key)
        .fetch_one(&mut **tx)
        .await?;
        if account != Account::Wallet(user_id).name() || recorded != amount.minor() {
            let owner: Option<String> = sqlx::query_scalar(
                "SELECT u.username FROM accounts a JOIN users u ON u.id = a.user_id
                 WHERE a.name = $1",
            )
            .bind(&account)
            .fetch_optional(&mut **tx)
            .await?;
            return Err(LedgerError::ReferenceReused {
                reference: reference.to_owned(),
                recorded: format!(
                    "{} for {}",
                    Money::from_minor(recorded),
                    owner.unwrap_or(account)
                ),
            });
        }
    }
    Ok(posted)
}
