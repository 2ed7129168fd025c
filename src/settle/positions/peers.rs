//! Where we stand with each peer: what we owe it, what it disputed and what it owes us, per
//! period (both directions, with the netting and its payment) and in total (the ledger's
//! balances), and the admin's controls of it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::summary::{StatementFilter, summaries};
use crate::domain::money::Money;
use crate::ledger::{self, Account, LedgerError};
use crate::settle::netting;
use crate::store::peers;

/// One period between us and a peer, both directions.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct PeriodPosition {
    /// `YYYY-MM`.
    pub period: String,
    /// What we owe the peer for the period: the lines of our statement it did not dispute
    /// (all of them before it answers).
    pub payable: Money,
    /// The lines of our statement the peer disputed.
    pub disputed: Money,
    /// What the peer owes us for the period: the lines of its statement we accepted.
    pub receivable: Money,
    /// The lines of the peer's statement we disputed.
    pub disputed_by_us: Money,
    /// The state of our statement to the peer (`stated`, `claimed`, `rejected`), if any.
    pub sent: Option<String>,
    /// The state of the peer's statement to us (`stated`, `claimed`, `rejected`), if any.
    pub received: Option<String>,
    /// Where the period stands between us: `stated` (a statement is not answered yet),
    /// `claimed` (both are, not netted yet), `netted`, `paid`, `received` (the creditor
    /// confirmed, its receipt still to send), `closed`.
    pub state: String,
    /// The netted amount, whole cents, once netted.
    pub net: Option<Money>,
    /// Who pays it: `us`, `peer` or `none`.
    pub debtor: Option<String>,
    /// The sub-cent rest carried to the next netting (positive: we owe it).
    pub carried: Option<Money>,
    /// When the payment left, as its debtor recorded it.
    pub paid_on: Option<String>,
    /// The bank's reference of the payment.
    pub reference: Option<String>,
    /// When the creditor confirmed the money arrived.
    pub received_on: Option<String>,
}

/// A peer instance and where we stand with it.
#[derive(Debug, Clone, Serialize)]
pub struct PeerPosition {
    /// The peer's origin (`scheme://host:port`).
    pub peer: String,
    /// What we owe the peer over all periods (`payable:PEER`).
    pub payable: Money,
    /// What we stated to the peer and it disputed (`disputed:PEER`).
    pub disputed: Money,
    /// What the peer owes us over all periods (minus `receivable:PEER`).
    pub receivable: Money,
    /// The sub-cent rest of the last settled netting, carried to the next (`carry:PEER`;
    /// positive: we owe it).
    pub carried: Money,
    /// Whether an admin blocked the peer.
    pub blocked: bool,
    /// The most we may owe the peer before our users' flattrs of its things are refused.
    pub limit: Option<Money>,
    /// Per period, oldest first.
    pub periods: Vec<PeriodPosition>,
}

/// Every peer we have books or controls with, by origin, and per period the latest version of
/// the statement each way.
pub async fn peers(db: &sqlx::AnyPool) -> Result<Vec<PeerPosition>, LedgerError> {
    let mut periods: BTreeMap<String, BTreeMap<String, PeriodPosition>> = BTreeMap::new();
    // Oldest version first, so the latest one of a period is the one that stays.
    for s in summaries(db, &StatementFilter::default()).await? {
        let position = periods
            .entry(s.peer.clone())
            .or_default()
            .entry(s.period.clone())
            .or_insert_with(|| PeriodPosition {
                period: s.period.clone(),
                ..PeriodPosition::default()
            });
        if s.direction == "sent" {
            // The payer's books keep every line not disputed as payable, answered or not.
            // Adjustment lines riding in this period's statement count with it, as the net
            // counts them.
            position.payable = Money::from_minor(s.total - s.disputed + s.adjusted_open);
            position.disputed = Money::from_minor(s.disputed);
            position.sent = Some(s.state);
        } else {
            position.receivable = Money::from_minor(s.accepted + s.adjusted);
            position.disputed_by_us = Money::from_minor(s.disputed);
            position.received = Some(s.state);
        }
    }
    for n in netting::all(db).await? {
        let position = periods
            .entry(n.peer.clone())
            .or_default()
            .entry(n.period.clone())
            .or_insert_with(|| PeriodPosition {
                period: n.period.clone(),
                ..PeriodPosition::default()
            });
        position.state = n.state;
        position.net = Some(Money::from_minor(n.amount));
        position.debtor = Some(n.debtor);
        position.carried = Some(Money::from_minor(n.carried_out));
        position.paid_on = n.paid_on;
        position.reference = n.bank_reference;
        position.received_on = n.received_on;
    }
    for position in periods.values_mut().flat_map(|p| p.values_mut()) {
        if position.state.is_empty() {
            let claimed = |s: &Option<String>| s.as_deref() == Some("claimed");
            position.state = if claimed(&position.sent) && claimed(&position.received) {
                "claimed".to_owned()
            } else {
                "stated".to_owned()
            };
        }
    }
    let controls = peers::all(db).await?;
    let mut origins: Vec<String> = periods.keys().cloned().collect();
    origins.extend(ledger::peers_with_accounts(db).await?);
    origins.extend(controls.iter().map(|c| c.origin.clone()));
    origins.sort();
    origins.dedup();
    let mut out = Vec::with_capacity(origins.len());
    for origin in origins {
        let control = controls.iter().find(|c| c.origin == origin);
        out.push(PeerPosition {
            payable: ledger::balance(db, &Account::Payable(origin.clone())).await?,
            disputed: ledger::balance(db, &Account::Disputed(origin.clone())).await?,
            receivable: Money::from_minor(
                -ledger::balance(db, &Account::Receivable(origin.clone()))
                    .await?
                    .minor(),
            ),
            carried: ledger::balance(db, &Account::Carry(origin.clone())).await?,
            blocked: control.is_some_and(|c| c.is_blocked()),
            limit: control.and_then(|c| c.owe_limit).map(Money::from_minor),
            periods: periods
                .remove(&origin)
                .map(|p| p.into_values().collect())
                .unwrap_or_default(),
            peer: origin,
        });
    }
    Ok(out)
}
