//! The `fedflattr admin …` commands: users, deposits, closing periods, the audit, payouts;
//! peers and statements in `admin::peers`, payments between instances in `admin::settlement`.

mod peers;
mod settlement;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use rand::RngCore;
use serde_json::json;

use super::{Failure, fail};
use crate::config::Settings;
use crate::domain::money::Money;
use crate::domain::password;
use crate::domain::period::Period;
use crate::domain::proof::Domain;
use crate::domain::username::{NewPassword, Username};
use crate::federation::actors::generate_keys;
use crate::ledger::{self, Posted, audit, payouts};
use crate::proving;
use crate::settle::close::{self, CloseOptions};
use crate::store::Store;
use crate::store::users::{self, NewUser};

#[derive(Subcommand, Debug)]
pub enum Admin {
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Record money received for a user's wallet.
    Deposit {
        username: String,
        /// Decimal amount with at most cents, e.g. 20.00.
        // A negative amount reaches the amount's own check (and its message) instead of being
        // taken for an unknown option.
        #[arg(allow_negative_numbers = true)]
        amount: String,
        /// The payment's own id (bank reference); makes a repeated command count once.
        #[arg(long)]
        reference: Option<String>,
    },
    /// Close a period that has ended (resumes an interrupted close; a closed one is unchanged).
    Close {
        /// The period, YYYY-MM.
        period: String,
    },
    /// Check the books; exits non-zero and says where when they do not balance.
    Audit,
    /// Payouts to creators.
    Payouts {
        #[command(subcommand)]
        command: PayoutsCommand,
    },
    /// Users' domains.
    Domain {
        #[command(subcommand)]
        command: DomainCommand,
    },
    /// Peer instances: what we owe each, what it disputed, what it owes us, per period.
    Peers,
    /// Trust controls on one peer instance: block, unblock, limit.
    Peer {
        #[command(subcommand)]
        command: peers::PeerCommand,
    },
    /// Payments between instances to make (we owe) and to confirm (a peer announced one).
    Payments,
    /// Record a payment we made to a peer, or confirm one a peer made to us.
    Payment {
        #[command(subcommand)]
        command: settlement::PaymentCommand,
    },
    /// Restate our statement of a period to a peer (a new version, from our books as they
    /// are): e.g. once a thing it disputed as `unproven_thing` is proven. Once the period is
    /// paid, the corrections ride as adjustment lines in our next statement to the peer.
    Restate {
        /// The peer's origin.
        peer: String,
        /// The period, YYYY-MM.
        period: String,
        /// Once the period is paid: take back this Like's line (a flattr found bogus); its
        /// value goes back to the flattrer when the later period closes. Repeatable.
        #[arg(long = "take-back")]
        take_back: Vec<String>,
    },
    /// Statements sent and received, with their state, totals and disputed lines.
    Statements {
        /// Only this peer's (its origin, e.g. https://peer.example).
        #[arg(long)]
        peer: Option<String>,
        /// Only this period's, YYYY-MM.
        #[arg(long)]
        period: Option<String>,
    },
}

/// What an admin does with domains.
#[derive(Subcommand, Debug)]
pub enum DomainCommand {
    /// Vouch that DOMAIN is USER's (no file under /.well-known/ needed): proves USER's things
    /// under it and releases what was held for them. Refused when another user verified it.
    Verify {
        /// The user the domain belongs to.
        username: String,
        /// A host name, optionally with :PORT.
        domain: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user. Without --password a random one is generated and printed.
    Create {
        username: String,
        #[arg(long)]
        password: Option<String>,
        /// Make the user an instance admin.
        #[arg(long)]
        admin: bool,
    },
    /// Disable a user: no log-in, their tokens and sessions refused; their money stays in the
    /// books. Disabling a disabled user changes nothing; an admin cannot be disabled.
    Disable {
        /// The user's name.
        username: String,
    },
    /// Enable a disabled user again (their tokens and sessions work again).
    Enable {
        /// The user's name.
        username: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum PayoutsCommand {
    /// Write requested payouts as CSV and mark them exported.
    Export {
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Record exported payouts as paid (all, or one batch).
    Confirm {
        #[arg(long)]
        batch: Option<String>,
    },
}

/// Prints `value` as JSON, or `text` for people.
fn output(json: bool, value: serde_json::Value, text: impl FnOnce() -> String) {
    if json {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

/// Runs one admin command against the database; the exit code says whether it succeeded
/// (the audit exits non-zero when the books do not balance).
pub async fn run(
    store: &Store,
    settings: &Settings,
    json: bool,
    command: Admin,
) -> Result<ExitCode, Failure> {
    let now = chrono::Utc::now();
    match command {
        Admin::User {
            command:
                UserCommand::Create {
                    username,
                    password,
                    admin,
                },
        } => create_user(store, settings, json, now, &username, password, admin).await,
        Admin::User {
            command: UserCommand::Disable { username },
        } => set_disabled(store, json, now, &username, true).await,
        Admin::User {
            command: UserCommand::Enable { username },
        } => set_disabled(store, json, now, &username, false).await,
        Admin::Deposit {
            username,
            amount,
            reference,
        } => deposit(store, settings, json, now, &username, &amount, reference).await,
        Admin::Close { period } => close_period(store, settings, json, now, &period).await,
        Admin::Audit => run_audit(store, json).await,
        Admin::Domain {
            command: DomainCommand::Verify { username, domain },
        } => verify_domain(store, json, now, &username, &domain).await,
        Admin::Payouts {
            command: PayoutsCommand::Export { output: path },
        } => export_payouts(store, settings, json, now, path).await,
        Admin::Payouts {
            command: PayoutsCommand::Confirm { batch },
        } => confirm_payouts(store, json, now, batch).await,
        Admin::Peers => peers::list(store, json).await,
        Admin::Peer { command } => peers::control(store, json, now, command).await,
        Admin::Statements { peer, period } => peers::statements(store, json, peer, period).await,
        Admin::Payments => settlement::due(store, json).await,
        Admin::Restate {
            peer,
            period,
            take_back,
        } => settlement::restate(store, json, now, &peer, &period, &take_back).await,
        Admin::Payment { command } => settlement::act(store, json, now, command).await,
    }
}

/// `admin user create`: a user with keys and ledger accounts, in one transaction.
async fn create_user(
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
async fn set_disabled(
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
async fn deposit(
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

/// `admin close`: closes an ended period (or finishes an interrupted close).
async fn close_period(
    store: &Store,
    settings: &Settings,
    json: bool,
    now: DateTime<Utc>,
    period: &str,
) -> Result<ExitCode, Failure> {
    let period = Period::parse(period).map_err(fail)?;
    let report = close::close(
        store,
        period,
        close::CloseRules {
            fee_rate: settings.fee_rate,
            held_periods: settings.held_periods,
        },
        now,
        CloseOptions::default(),
    )
    .await
    .map_err(fail)?;
    output(json, json!(report), || {
        if report.already_closed {
            format!("{} was already closed; nothing changed", report.period)
        } else {
            format!(
                "closed {}: {} users spent {}, fees {}, creators received {} over {} flattrs",
                report.period,
                report.users_charged,
                report.spent,
                report.fees,
                report.paid_to_creators,
                report.flattrs
            )
        }
    });
    Ok(ExitCode::SUCCESS)
}

/// `admin audit`: every check of the books; fails when one does not hold.
async fn run_audit(store: &Store, json: bool) -> Result<ExitCode, Failure> {
    let report = audit::run(store.pool()).await.map_err(fail)?;
    output(json, json!(report), || {
        let mut lines = Vec::new();
        for check in &report.checks {
            lines.push(format!(
                "{} {}",
                if check.ok { "ok  " } else { "FAIL" },
                check.name
            ));
            for problem in &check.problems {
                lines.push(format!("       {problem}"));
            }
        }
        lines.push(if report.ok {
            "the books balance".into()
        } else {
            "the books do NOT balance".into()
        });
        lines.join("\n")
    });
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `admin payouts export`: the requested payouts as CSV, marked exported once written.
async fn export_payouts(
    store: &Store,
    settings: &Settings,
    json: bool,
    now: DateTime<Utc>,
    path: Option<PathBuf>,
) -> Result<ExitCode, Failure> {
    let mut tx = store.begin().await.map_err(fail)?;
    let (batch, rows) = payouts::export(&mut tx, now).await.map_err(fail)?;
    let csv = payouts::csv(&rows, settings.currency.as_str()).map_err(fail)?;
    // The payouts count as exported only once the file is written.
    match &path {
        Some(path) => std::fs::write(path, &csv)
            .map_err(|e| Failure(format!("cannot write {}: {e}", path.display())))?,
        None if !json => std::io::stdout().write_all(&csv).map_err(fail)?,
        None => {}
    }
    tx.commit().await.map_err(fail)?;
    let total: i64 = rows.iter().map(|r| r.amount).sum();
    if json {
        println!(
            "{}",
            json!({"batch": batch, "payouts": rows, "total": Money::from_minor(total),
                              "csv": String::from_utf8_lossy(&csv)})
        );
    } else if path.is_some() {
        println!(
            "exported {} payouts totalling {} as {batch}",
            rows.len(),
            Money::from_minor(total)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `admin payouts confirm`: exported payouts (all, or one batch) recorded as paid.
async fn confirm_payouts(
    store: &Store,
    json: bool,
    now: DateTime<Utc>,
    batch: Option<String>,
) -> Result<ExitCode, Failure> {
    let mut tx = store.begin().await.map_err(fail)?;
    let rows = payouts::confirm(&mut tx, batch.as_deref(), now)
        .await
        .map_err(fail)?;
    tx.commit().await.map_err(fail)?;
    let total: i64 = rows.iter().map(|r| r.amount).sum();
    output(
        json,
        json!({"confirmed": rows, "total": Money::from_minor(total)}),
        || {
            format!(
                "recorded {} payouts totalling {} as paid",
                rows.len(),
                Money::from_minor(total)
            )
        },
    );
    Ok(ExitCode::SUCCESS)
}

/// `admin domain verify`: the admin vouches that a user owns a domain (a blog collective's
/// admin knows its members' domains), which proves every thing of that user under it.
async fn verify_domain(
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
