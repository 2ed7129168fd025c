//! The `fedflattr admin user …`, `admin deposit` and `admin domain verify` commands: accounts,
//! the money they are given, and the domains vouched for them.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde_json::json;

use super::output;
use crate::cli::{Failure, fail};
use crate::config::Settings;
use crate::domain::money::Money;
use crate::domain::password;
use crate::domain::proof::Domain;
use crate::domain::username::{NewPassword, Username};
use crate::federation::actors::generate_keys;
use crate::ledger::{self, Posted};
use crate::proving;
use crate::store::Store;
use crate::store::users::{self, NewUser};

/// `admin user create`: a user with keys and ledger accounts, in one transaction.
pub(super) async fn create_user(
    store: &Store,
    settings: &Settings,
    json: bool,
    now: DateTime<Utc>,
    username: &str,
    password: Option<String>,
    admin: bool,
) -> Result<ExitCode, Failure> {
    let username = Username::parse(username).map_err(fail)?;
    let generated = password.is_none();
    let password = password.unwrap_or_else(|| {
        let mut bytes = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        hex::encode(bytes)
    });
    let parsed = NewPassword::parse(&password).map_err(fail)?;
    let hash = password::hash(&parsed);
    let keys = generate_keys();
    let mut tx = store.begin().await.map_err(fail)?;
    let new = NewUser {
        username: &username,
        password_hash: &hash,
        budget: settings.min_budget,
        is_admin: admin,
        public_key: &keys.public_key,
        private_key: &keys.private_key,
    };
    let user = users::create(&mut tx, &new, now).await.map_err(fail)?;
    ledger::open_user_accounts(&mut tx, user.id)
        .await
        .map_err(fail)?;
    tx.commit().await.map_err(fail)?;
    let shown = generated.then_some(password);
    output(
        json,
        json!({"id": user.id, "username": user.username, "admin": admin, "password": shown}),
        || match &shown {
            Some(p) => format!("created user {} with password {p}", user.username),
            None => format!("created user {}", user.username),
        },
    );
    Ok(ExitCode::SUCCESS)
}

/// `admin user disable|enable`: what the admin page's button does (`accounts::set_disabled`);
/// run twice, the second run changes nothing and says so.
pub(super) async fn set_disabled(
    store: &Store,
    json: bool,
    now: DateTime<Utc>,
    username: &str,
    disable: bool,
) -> Result<ExitCode, Failure> {
    let user = match users::by_name(store.pool(), username).await {
        Ok(user) => user,
        Err(crate::store::StoreError::NotFound(_)) => {
            return Err(fail(format!("no user is named {username}")));
        }
        Err(e) => return Err(fail(e)),
    };
    let (user, changed) = crate::accounts::set_disabled(store, user.id, disable, now)
        .await
        .map_err(fail)?;
    let state = if user.is_disabled() {
        "disabled"
    } else {
        "enabled"
    };
    output(
        json,
        json!({"id": user.id, "username": user.username, "disabled": user.is_disabled(),
               "changed": changed}),
        || {
            if changed {
                format!("{} is {state}", user.username)
            } else {
                format!("{} was already {state}; nothing changed", user.username)
            }
        },
    );
    Ok(ExitCode::SUCCESS)
}

/// `admin deposit`: money received for a user's wallet, once per bank reference.
pub(super) async fn deposit(
    store: &Store,
    settings: &Settings,
    json: bool,
    now: DateTime<Utc>,
    username: &str,
    amount: &str,
    reference: Option<String>,
) -> Result<ExitCode, Failure> {
    let amount = Money::parse_payable("amount", amount).map_err(fail)?;
    let user = users::by_name(store.pool(), username).await.map_err(fail)?;
    let reference = reference.unwrap_or_else(|| {
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        hex::encode(bytes)
    });
    let mut tx = store.begin().await.map_err(fail)?;
    let posted = ledger::deposit(&mut tx, user.id, amount, &reference, now)
        .await
        .map_err(fail)?;
    tx.commit().await.map_err(fail)?;
    let wallet = ledger::balance(store.pool(), &ledger::Account::Wallet(user.id))
        .await
        .map_err(fail)?;
    let duplicate = posted == Posted::AlreadyPosted;
    output(
        json,
        json!({"username": user.username, "amount": amount, "reference": reference,
               "duplicate": duplicate, "wallet": wallet, "currency": settings.currency.as_str()}),
        || {
            if duplicate {
                format!(
                    "deposit {reference} was already recorded; wallet of {} is {wallet}",
                    user.username
                )
            } else {
                format!(
                    "deposited {amount} {} for {}; wallet is {wallet}",
                    settings.currency, user.username
                )
            }
        },
    );
    Ok(ExitCode::SUCCESS)
}

/// `admin domain verify`: the admin vouches that a user owns a domain (a blog collective's
/// admin knows its members' domains), which proves every thing of that user under it.
pub(super) async fn verify_domain(
    store: &Store,
    json: bool,
    now: DateTime<Utc>,
    username: &str,
    domain: &str,
) -> Result<ExitCode, Failure> {
    let domain = Domain::parse(domain).map_err(fail)?;
    let user = users::by_name(store.pool(), username).await.map_err(fail)?;
    let row = proving::vouch_domain(store, user.id, &domain, now)
        .await
        .map_err(fail)?;
    output(
        json,
        json!({"username": user.username, "domain": row.domain,
               "verified_by": row.verified_by, "verified": row.verified_at.is_some()}),
        || format!("{} is verified as {}'s domain", row.domain, user.username),
    );
    Ok(ExitCode::SUCCESS)
}
