//! The `fedflattr admin peers`, `admin peer …` and `admin statements` commands: where we stand
//! with each peer instance, the statements each way with their disputes (both read from
//! `settle::positions`, as the API does), and the trust controls (`store::peers`).

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use serde_json::json;

use super::output;
use crate::cli::{Failure, fail};
use crate::domain::money::Money;
use crate::domain::period::Period;
use crate::domain::settlement::PeerOrigin;
use crate::settle::positions::{self, PeerPosition, StatementFilter, StatementView};
use crate::store::{Store, peers};

/// What an admin does to one peer instance.
#[derive(Subcommand, Debug)]
pub enum PeerCommand {
    /// Refuse the peer's activities (Likes, Undos, statements, answers) and our users'
    /// flattrs of its things, until unblocked.
    Block {
        /// The peer's origin, e.g. https://peer.example.
        origin: String,
    },
    /// Lift a block.
    Unblock {
        /// The peer's origin.
        origin: String,
    },
    /// The most we may owe the peer: past it, our users' flattrs of its things are refused
    /// (`peer_limit`) until we have paid. `none` lifts the limit.
    Limit {
        /// The peer's origin.
        origin: String,
        /// A decimal amount with at most cents, or `none`.
        amount: String,
    },
}

/// `admin peers`: every peer with what we owe it, what it disputed, what it owes us, per period.
pub async fn list(store: &Store, json: bool) -> Result<ExitCode, Failure> {
    let peers = positions::peers(store.pool()).await.map_err(fail)?;
    output(json, json!(peers), || peers_text(&peers));
    Ok(ExitCode::SUCCESS)
}

fn peers_text(peers: &[PeerPosition]) -> String {
    if peers.is_empty() {
        return "no peer instances yet".into();
    }
    let mut lines = Vec::new();
    for p in peers {
        let mut controls = Vec::new();
        if p.blocked {
            controls.push("BLOCKED".to_owned());
        }
        if let Some(limit) = p.limit {
            controls.push(format!("limit {limit}"));
        }
        lines.push(format!(
            "{}  we owe {}, disputed {}, it owes us {}{}",
            p.peer,
            p.payable,
            p.disputed,
            p.receivable,
            if controls.is_empty() {
                String::new()
            } else {
                format!("  [{}]", controls.join(", "))
            }
        ));
        for q in &p.periods {
            lines.push(format!(
                "  {}  we owe {} (disputed {}; statement {})  it owes us {} (we disputed {}; statement {})",
                q.period,
                q.payable,
                q.disputed,
                q.sent.as_deref().unwrap_or("none"),
                q.receivable,
                q.disputed_by_us,
                q.received.as_deref().unwrap_or("none"),
            ));
        }
    }
    lines.join("\n")
}

/// `admin statements`: the statements sent and received, with their disputed lines.
pub async fn statements(
    store: &Store,
    json: bool,
    peer: Option<String>,
    period: Option<String>,
) -> Result<ExitCode, Failure> {
    let filter = StatementFilter {
        peer: peer
            .map(|p| PeerOrigin::parse(&p).map(|o| o.to_string()))
            .transpose()
            .map_err(fail)?,
        period: period
            .map(|p| Period::parse(&p))
            .transpose()
            .map_err(fail)?,
    };
    let statements = positions::statements(store.pool(), &filter)
        .await
        .map_err(fail)?;
    output(json, json!(statements), || statements_text(&statements));
    Ok(ExitCode::SUCCESS)
}

fn statements_text(statements: &[StatementView]) -> String {
    if statements.is_empty() {
        return "no statements".into();
    }
    let mut lines = Vec::new();
    for s in statements {
        lines.push(format!(
            "{} {} {} v{}: {} ({}), {} lines, total {} {}, accepted {}, disputed {}",
            s.direction,
            s.peer,
            s.period,
            s.version,
            s.state,
            s.reason.as_deref().unwrap_or("-"),
            s.line_count,
            s.total,
            s.currency,
            s.accepted,
            s.disputed
        ));
        for d in &s.disputes {
            lines.push(format!(
                "  {} {} {}: {}",
                d.reason, d.amount, d.like, d.thing
            ));
        }
        for a in &s.adjustments {
            lines.push(format!(
                "  adjusts {} by {} ({}) {}: {}",
                a.adjusts_period,
                a.amount,
                a.outcome.as_deref().unwrap_or("not answered yet"),
                a.like,
                a.thing
            ));
        }
    }
    lines.join("\n")
}

/// `admin peer block|unblock|limit`.
pub async fn control(
    store: &Store,
    json: bool,
    now: DateTime<Utc>,
    command: PeerCommand,
) -> Result<ExitCode, Failure> {
    let (origin, what) = match command {
        PeerCommand::Block { origin } => {
            let origin = PeerOrigin::parse(&origin).map_err(fail)?;
            peers::set_blocked(store.pool(), origin.as_str(), true, now)
                .await
                .map_err(fail)?;
            (origin.to_string(), "blocked".to_owned())
        }
        PeerCommand::Unblock { origin } => {
            let origin = PeerOrigin::parse(&origin).map_err(fail)?;
            peers::set_blocked(store.pool(), origin.as_str(), false, now)
                .await
                .map_err(fail)?;
            (origin.to_string(), "unblocked".to_owned())
        }
        PeerCommand::Limit { origin, amount } => {
            let origin = PeerOrigin::parse(&origin).map_err(fail)?;
            let limit = match amount.trim() {
                "none" => None,
                text => Some(Money::parse_payable("amount", text).map_err(fail)?),
            };
            peers::set_limit(store.pool(), origin.as_str(), limit.map(Money::minor), now)
                .await
                .map_err(fail)?;
            let what = match limit {
                Some(limit) => format!("may owe at most {limit}"),
                None => "has no limit".to_owned(),
            };
            (origin.to_string(), what)
        }
    };
    let control = peers::of(store.pool(), &origin).await.map_err(fail)?;
    let blocked = control.as_ref().is_some_and(|c| c.is_blocked());
    let limit = control
        .and_then(|c| c.owe_limit)
        .map(|l| Money::from_minor(l).to_string());
    output(
        json,
        json!({"peer": origin, "blocked": blocked, "limit": limit}),
        || format!("{origin} {what}"),
    );
    Ok(ExitCode::SUCCESS)
}
