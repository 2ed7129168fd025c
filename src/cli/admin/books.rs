//! The `fedflattr admin close`, `admin audit` and `admin payouts …` commands: the month's
//! close, the books' checks, and the payouts to creators.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::output;
use crate::cli::{Failure, fail};
use crate::config::Settings;
use crate::domain::money::Money;
use crate::domain::period::Period;
use crate::ledger::{audit, payouts};
use crate::settle::close::{self, CloseOptions};
use crate::store::Store;

/// `admin close`: closes an ended period (or finishes an interrupted close).
pub(super) async fn close_period(
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
pub(super) async fn run_audit(store: &Store, json: bool) -> Result<ExitCode, Failure> {
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
pub(super) async fn export_payouts(
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
pub(super) async fn confirm_payouts(
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
