//! The `fedflattr admin …` commands and where each runs: users, deposits and domains in
//! `admin::users`; closing periods, the audit and payouts in `admin::books`; peers and
//! statements in `admin::peers`; payments between instances in `admin::settlement`.

mod books;
mod peers;
mod settlement;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::Failure;
use crate::config::Settings;
use crate::store::Store;

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
        } => users::create_user(store, settings, json, now, &username, password, admin).await,
        Admin::User {
            command: UserCommand::Disable { username },
        } => users::set_disabled(store, json, now, &username, true).await,
        Admin::User {
            command: UserCommand::Enable { username },
        } => users::set_disabled(store, json, now, &username, false).await,
        Admin::Deposit {
            username,
            amount,
            reference,
        } => users::deposit(store, settings, json, now, &username, &amount, reference).await,
        Admin::Close { period } => books::close_period(store, settings, json, now, &period).await,
        Admin::Audit => books::run_audit(store, json).await,
        Admin::Domain {
            command: DomainCommand::Verify { username, domain },
        } => users::verify_domain(store, json, now, &username, &domain).await,
        Admin::Payouts {
            command: PayoutsCommand::Export { output: path },
        } => books::export_payouts(store, settings, json, now, path).await,
        Admin::Payouts {
            command: PayoutsCommand::Confirm { batch },
        } => books::confirm_payouts(store, json, now, batch).await,
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
