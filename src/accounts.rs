//! The account use case that the JSON API and the web pages share: sign up (the instance's
//! sign-up switch, the per-address limit, argon2 and key generation on the hashing pool, the
//! user and their ledger accounts in one transaction), log in (a dummy hash for unknown names),
//! the budget (at least the instance minimum) and a user's own overview (wallet, earnings and
//! what the current period will cost). Handing out a bearer token or a browser session is the
//! caller's part; the rules are here once.

use std::net::IpAddr;

use crate::domain::money::Money;
use crate::domain::period::Period;
use crate::domain::split::close_user;
use crate::domain::username::{NewPassword, Username};
use crate::domain::{ParseError, password};
use crate::federation::actors::generate_keys;
use crate::ledger::{self, Account, LedgerError};
use crate::limits::Limited;
use crate::state::AppState;
use crate::store::users::{NewUser, UserRow};
use crate::store::{StoreError, Tx, flattrs, users};

/// Why a sign-up, log-in or budget change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The instance does not take sign-ups.
    #[error("this instance does not take sign-ups; ask its admin for an account")]
    RegistrationsClosed,
    /// Wrong username or password (which one is not said).
    #[error("wrong username or password")]
    WrongCredentials,
    /// The right password, but an admin disabled the account.
    #[error("this account is disabled; ask the instance's admin")]
    Disabled,
    /// Too many attempts from this address, or the hashing threads are busy.
    #[error("too many attempts")]
    Limited(Limited),
    /// A field does not parse (username, password, budget).
    #[error(transparent)]
    Invalid(#[from] ParseError),
    /// The database failed or refused (a taken name is a conflict).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl From<Limited> for AccountError {
    fn from(limited: Limited) -> Self {
        AccountError::Limited(limited)
    }
}

/// Creates an account in a transaction it opens and hands back: the caller issues the token or
/// session in it and commits. The budget starts at the instance minimum.
pub async fn sign_up(
    state: &AppState,
    client: IpAddr,
    username: &str,
    password: &str,
) -> Result<(Tx, UserRow), AccountError> {
    if !state.settings.registrations_open {
        return Err(AccountError::RegistrationsClosed);
    }
    state.limits.sign_up.check(&client)?;
    let username = Username::parse(username)?;
    let password = NewPassword::parse(password)?;
    // argon2 and RSA key generation are CPU- and memory-heavy: a few at a time, off the async
    // threads.
    let (hash, keys) = state
        .limits
        .heavy(move || (password::hash(&password), generate_keys()))
        .await?;
    let mut tx = state.store.begin().await?;
    let new = NewUser {
        username: &username,
        password_hash: &hash,
        budget: state.settings.min_budget,
        is_admin: false,
        public_key: &keys.public_key,
        private_key: &keys.private_key,
    };
    let user = users::create(&mut tx, &new, state.clock.now()).await?;
    ledger::open_user_accounts(&mut tx, user.id).await?;
    tracing::info!(user = %username, "signed up");
    Ok((tx, user))
}

/// The user whose name and password these are.
pub async fn log_in(
    state: &AppState,
    client: IpAddr,
    username: &str,
    password: &str,
) -> Result<UserRow, AccountError> {
    state.limits.login.check(&client)?;
    let user = match users::by_name(state.store.pool(), username).await {
        Ok(user) => Some(user),
        Err(StoreError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    // An unknown name is checked against a dummy hash: it costs what a known one costs, so
    // neither the answer's time nor the load tells which names exist.
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let candidate = password.to_owned();
    let ok = state
        .limits
        .heavy(move || password::verify_or_dummy(stored.as_deref(), &candidate))
        .await?;
    let user = user.filter(|_| ok).ok_or(AccountError::WrongCredentials)?;
    // Said only to whoever knows the password: the name alone tells nothing more.
    if user.is_disabled() {
        return Err(AccountError::Disabled);
    }
    Ok(user)
}

/// Sets the monthly budget from its decimal text: payable precision, at least the minimum.
pub async fn set_budget(state: &AppState, user_id: i64, text: &str) -> Result<(), AccountError> {
    let budget = Money::parse_payable("budget", text)?;
    if budget < state.settings.min_budget {
        return Err(ParseError::new(
            "budget",
            format!(
                "must be at least the instance minimum of {}",
                state.settings.min_budget
            ),
        )
        .into());
    }
    let mut tx = state.store.begin().await?;
    users::set_budget(&mut tx, user_id, budget).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// A user's own view of their money.
#[derive(Debug, Clone)]
pub struct Overview {
    /// The user as stored.
    pub user: UserRow,
    /// The funded money.
    pub wallet: Money,
    /// What their things earned and was not paid out.
    pub earnings: Money,
    /// The current period.
    pub period: Period,
    /// How many flattrs they made in it.
    pub flattrs: i64,
    /// `min(budget, wallet)` if they flattred anything this period, else nothing.
    pub cost: Money,
    /// What each flattr would receive if the period closed now (after the fee).
    pub per_flattr: Money,
}

/// Reads a user's overview from the store and the ledger.
pub async fn overview(state: &AppState, user_id: i64) -> Result<Overview, AccountError> {
    let pool = state.store.pool();
    let user = users::by_id(pool, user_id).await?;
    let wallet = ledger::balance(pool, &Account::Wallet(user_id)).await?;
    let earnings = ledger::balance(pool, &Account::Earnings(user_id)).await?;
    let period = Period::containing(state.clock.now());
    let count = flattrs::count_of_user(pool, user_id, period).await?;
    let estimate = close_user(
        user.budget(),
        wallet,
        state.settings.fee_rate,
        usize::try_from(count).unwrap_or(0),
    );
    Ok(Overview {
        user,
        wallet,
        earnings,
        period,
        flattrs: count,
        cost: if count > 0 {
            estimate.spend
        } else {
            Money::ZERO
        },
        per_flattr: estimate.shares.last().copied().unwrap_or(Money::ZERO),
    })
}

/// Disables a user (`disable`) or enables them again, for the admin page and `fedflattr admin
/// user disable|enable` alike: one transaction; an admin cannot be disabled (an instance could
/// lock out its last admin). Doing it again changes nothing (a disabled user keeps the moment
/// they were first disabled). Returns the user as they are now and whether anything changed.
pub async fn set_disabled(
    store: &crate::store::Store,
    user_id: i64,
    disable: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(UserRow, bool), AccountError> {
    let mut tx = store.begin().await?;
    let user = users::by_id(&mut *tx, user_id).await?;
    if user.is_disabled() == disable {
        return Ok((user, false));
    }
    users::set_disabled(&mut tx, user_id, disable.then_some(now)).await?;
    let user = users::by_id(&mut *tx, user_id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    tracing::info!(user = %user.username, disable, "an admin changed whether a user is disabled");
    Ok((user, true))
}
