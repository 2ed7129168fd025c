//! The `fedflattr admin payments` and `admin payment …` commands: the payments to make and to
//! confirm (read from `settle::positions`, as the API does), recording a payment we made and
//! confirming one a peer made (`settle::payments`, as the API does). The signed notice or
//! receipt is sent by the server's delivery worker, which needs the network this command
//! does not use. And `admin restate`: a new version of one of our statements (section 4).

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use serde_json::json;

use super::output;
use crate::cli::{Failure, fail};
use crate::domain::money::Money;
use crate::domain::period::Period;
use crate::domain::settlement::{BankReference, PaymentDate, PeerOrigin};
use crate::settle::netting::NetRow;
use crate::settle::positions::{self, PaymentDue};
use crate::settle::{payments, statements};
use crate::store::Store;

/// What an admin does about one payment between instances.
#[derive(Subcommand, Debug)]
pub enum PaymentCommand {
    /// Record a bank transfer we made to a peer for a netted period (exactly its amount).
    Record {
        /// The peer's origin, e.g. https://peer.example.
        peer: String,
        /// The period paid, YYYY-MM.
        period: String,
        /// The amount transferred, e.g. 3.00.
        amount: String,
        /// When it left, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// The bank's reference of the transfer.
        #[arg(long)]
        reference: String,
    },
    /// Confirm that a peer's announced payment arrived: closes the period and makes our
    /// creators' pending earnings withdrawable.
    Confirm {
        /// The peer's origin.
        peer: String,
        /// The period paid, YYYY-MM.
        period: String,
        /// When the money arrived, YYYY-MM-DD.
        #[arg(long)]
        date: String,
    },
}

/// `admin payments`: the payments to make and to confirm.
pub async fn due(store: &Store, json: bool) -> Result<ExitCode, Failure> {
    let due = positions::payments(store.pool()).await.map_err(fail)?;
    output(json, json!(due), || {
        let line = |p: &PaymentDue| {
            format!(
                "  {} {}  {} (we owed {}, it owed {}){}",
                p.peer,
                p.period,
                p.amount,
                p.ours,
                p.theirs,
                p.reference
                    .as_deref()
                    .map(|r| format!("  paid {} ref {r}", p.paid_on.as_deref().unwrap_or("?")))
                    .unwrap_or_default()
            )
        };
        let mut lines = vec!["payments to make:".to_owned()];
        lines.extend(due.to_make.iter().map(line));
        lines.push("payments to confirm:".to_owned());
        lines.extend(due.to_confirm.iter().map(line));
        lines.join("\n")
    });
    Ok(ExitCode::SUCCESS)
}

/// `admin payment record|confirm`.
pub async fn act(
    store: &Store,
    json: bool,
    now: DateTime<Utc>,
    command: PaymentCommand,
) -> Result<ExitCode, Failure> {
    let mut tx = store.begin().await.map_err(fail)?;
    let (row, what): (NetRow, &str) = match command {
        PaymentCommand::Record {
            peer,
            period,
            amount,
            date,
            reference,
        } => {
            let peer = PeerOrigin::parse(&peer).map_err(fail)?;
            let period = Period::parse(&period).map_err(fail)?;
            let amount = Money::parse_payable("amount", &amount).map_err(fail)?;
            let date = PaymentDate::parse(&date).map_err(fail)?;
            let reference = BankReference::parse(&reference).map_err(fail)?;
            let row = payments::record_payment(
                &mut tx,
                peer.as_str(),
                &period.to_string(),
                amount,
                date,
                &reference,
                now,
            )
            .await
            .map_err(fail)?;
            (row, "paid")
        }
        PaymentCommand::Confirm { peer, period, date } => {
            let peer = PeerOrigin::parse(&peer).map_err(fail)?;
            let period = Period::parse(&period).map_err(fail)?;
            let date = PaymentDate::parse(&date).map_err(fail)?;
            let row =
                payments::confirm_receipt(&mut tx, peer.as_str(), &period.to_string(), date, now)
                    .await
                    .map_err(fail)?;
            (row, "received")
        }
    };
    tx.commit().await.map_err(fail)?;
    output(
        json,
        json!({
            "peer": row.peer,
            "period": row.period,
            "amount": Money::from_minor(row.amount),
            "state": row.state,
            "paid_on": row.paid_on,
            "reference": row.bank_reference,
            "received_on": row.received_on,
        }),
        || {
            format!(
                "{} {}: {} {what}; the signed {} goes out with the next delivery run",
                row.peer,
                row.period,
                Money::from_minor(row.amount),
                if what == "paid" {
                    "payment notice"
                } else {
                    "receipt"
                }
            )
        },
    );
    Ok(ExitCode::SUCCESS)
}

/// `admin restate PEER PERIOD [--take-back LIKE]…`: our statement of PERIOD to PEER is
/// restated (the next version, from our books as they are) by the server's next delivery
/// run; once the period is paid, its corrections become adjustment lines of our next
/// statement to the peer (docs/settlement.md, section 4.1).
pub async fn restate(
    store: &Store,
    json: bool,
    now: DateTime<Utc>,
    peer: &str,
    period: &str,
    take_back: &[String],
) -> Result<ExitCode, Failure> {
    let peer = PeerOrigin::parse(peer).map_err(fail)?;
    let period = Period::parse(period).map_err(fail)?;
    let mut tx = store.begin().await.map_err(fail)?;
    let restating = statements::request_restatement(
        &mut tx,
        peer.as_str(),
        &period.to_string(),
        take_back,
        now,
    )
    .await
    .map_err(fail)?;
    tx.commit().await.map_err(fail)?;
    match restating {
        statements::Restating::Version(row) => output(
            json,
            json!({"peer": row.peer, "period": row.period, "restates": row.ap_id, "version": row.version + 1}),
            || {
                format!(
                    "{} will be restated as version {} with the next delivery run",
                    row.ap_id,
                    row.version + 1
                )
            },
        ),
        statements::Restating::Adjustments(row, asked) => {
            let lines: Vec<_> = asked
                .iter()
                .map(|a| json!({"like": a.like_id, "value": Money::from_minor(a.amount).to_string()}))
                .collect();
            output(
                json,
                json!({"peer": row.peer, "period": row.period, "adjusts": row.ap_id, "adjustments": lines}),
                || {
                    format!(
                        "{} is paid: {} adjustment line(s) will ride in the next statement to {}",
                        row.ap_id,
                        asked.len(),
                        row.peer
                    )
                },
            )
        }
    }
    Ok(ExitCode::SUCCESS)
}
