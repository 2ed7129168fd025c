//! What the admin sees of settlement (issue 8.8): every peer with what we owe it, what it
//! disputed and what it owes us, per period and in total, and the statements sent and received
//! with their disputed lines. Read-only: one query module that `cli` and `http` both render, so
//! the command line and the API never disagree. Reads `statements` and `statement_lines` (owned
//! by `settle::statements`), the ledger's balances and `peer_controls` (`store::peers`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::netting::{self, NetRow};
use crate::domain::money::Money;
use crate::domain::period::Period;
use crate::ledger::{self, Account, LedgerError};
use crate::store::{StoreError, peers};

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

/// A statement as the admin sees it.
#[derive(Debug, Clone, Serialize)]
pub struct StatementView {
    /// `sent` (we are the payer) or `received`.
    pub direction: String,
    /// The Offer's id.
    pub id: String,
    /// The other instance's origin.
    pub peer: String,
    /// `YYYY-MM`.
    pub period: String,
    /// Its version.
    pub version: i64,
    /// `stated`, `claimed` or `rejected`.
    pub state: String,
    /// Why it was rejected whole.
    pub reason: Option<String>,
    /// The currency code.
    pub currency: String,
    /// How many lines.
    pub line_count: i64,
    /// The sum of the lines.
    pub total: Money,
    /// The sum of the accepted lines.
    pub accepted: Money,
    /// The sum of the disputed lines.
    pub disputed: Money,
    /// Every line, in the statement's order, with its outcome.
    pub lines: Vec<Line>,
    /// The disputed lines with their reasons.
    pub disputes: Vec<DisputedLine>,
    /// The sum of the accepted adjustment lines (signed).
    pub adjusted: Money,
    /// Its adjustment lines: corrections of an earlier, paid period (docs/settlement.md 4.1).
    pub adjustments: Vec<AdjustmentLine>,
    /// The version this one restates (its id), for a version above 1.
    pub supersedes: Option<String>,
    /// True once a later version replaced it.
    pub superseded: bool,
    /// The digests of copies refused under this id with other content (409
    /// `statement_conflict`): what the peer sent, for the admin to look at.
    pub conflicts: Vec<String>,
}

/// A line of a statement: one flattr of a thing of the payee's.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// The Like's id.
    pub like: String,
    /// The thing's id.
    pub thing: String,
    /// The line's value.
    pub amount: Money,
    /// `accepted` or a dispute reason once claimed; none before.
    pub outcome: Option<String>,
}

/// A disputed line of a statement.
#[derive(Debug, Clone, Serialize)]
pub struct DisputedLine {
    /// The Like's id.
    pub like: String,
    /// The thing's id.
    pub thing: String,
    /// The line's value.
    pub amount: Money,
    /// The dispute's reason (`unknown_like`, `like_undone`, …).
    pub reason: String,
}

/// An adjustment line of a statement: a correction of a line of an earlier, paid period.
#[derive(Debug, Clone, Serialize)]
pub struct AdjustmentLine {
    /// The Like of the line corrected.
    pub like: String,
    /// Its thing.
    pub thing: String,
    /// The statement corrected (the version netted and paid).
    pub adjusts: String,
    /// Its period.
    pub adjusts_period: String,
    /// Signed: positive adds a line, negative takes one back.
    pub amount: Money,
    /// `accepted` or a dispute reason once claimed; none before.
    pub outcome: Option<String>,
}

/// Which statements to list.
#[derive(Debug, Clone, Default)]
pub struct StatementFilter {
    /// Only this peer's (an origin).
    pub peer: Option<String>,
    /// Only this period's.
    pub period: Option<Period>,
}

#[derive(sqlx::FromRow)]
struct Summary {
    id: i64,
    direction: String,
    ap_id: String,
    peer: String,
    period: String,
    version: i64,
    state: String,
    reason: Option<String>,
    currency: String,
    line_count: i64,
    total: i64,
    accepted: i64,
    disputed: i64,
    supersedes: Option<String>,
    superseded_at: Option<i64>,
    adjusted: i64,
    adjusted_open: i64,
}

// Per statement: the accepted lines, the disputed ones (an outcome other than `accepted`) and
// the total; a line not answered yet is neither accepted nor disputed. Its adjustment lines
// (corrections of a paid period, signed) are summed apart: the accepted ones, and those not
// disputed (answered or not), as for the lines.
const SUMMARY: &str = "SELECT s.id, s.direction, s.ap_id, s.peer, s.period, s.version, s.state,
    s.reason, s.currency, s.line_count, s.total,
    CAST(COALESCE(SUM(CASE WHEN l.outcome = 'accepted' THEN l.amount ELSE 0 END), 0) AS BIGINT)
        AS accepted,
    CAST(COALESCE(SUM(CASE WHEN l.outcome IS NOT NULL AND l.outcome <> 'accepted'
        THEN l.amount ELSE 0 END), 0) AS BIGINT) AS disputed,
    s.supersedes, s.superseded_at,
    CAST(COALESCE((SELECT SUM(j.amount) FROM statement_adjustments j
        WHERE j.statement_id = s.id AND j.outcome = 'accepted'), 0) AS BIGINT) AS adjusted,
    CAST(COALESCE((SELECT SUM(j.amount) FROM statement_adjustments j
        WHERE j.statement_id = s.id AND (j.outcome IS NULL OR j.outcome = 'accepted')), 0)
        AS BIGINT) AS adjusted_open
    FROM statements s LEFT JOIN statement_lines l ON l.statement_id = s.id
    WHERE ($1 IS NULL OR s.peer = $1) AND ($2 IS NULL OR s.period = $2)
    GROUP BY s.id, s.direction, s.ap_id, s.peer, s.period, s.version, s.state, s.reason,
        s.currency, s.line_count, s.total, s.supersedes, s.superseded_at
    ORDER BY s.peer, s.period, s.direction, s.version";

async fn summaries(
    db: &sqlx::AnyPool,
    filter: &StatementFilter,
) -> Result<Vec<Summary>, StoreError> {
    Ok(sqlx::query_as(SUMMARY)
        .bind(filter.peer.clone())
        .bind(filter.period.map(|p| p.to_string()))
        .fetch_all(db)
        .await?)
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

/// The statements sent and received that `filter` selects, by peer, period, direction and
/// version, each with its lines, its disputed lines and its adjustment lines.
pub async fn statements(
    db: &sqlx::AnyPool,
    filter: &StatementFilter,
) -> Result<Vec<StatementView>, StoreError> {
    let mut out = Vec::new();
    for s in summaries(db, filter).await? {
        let lines = super::statements::lines(db, s.id).await?;
        let disputes = lines
            .iter()
            .filter_map(|l| match &l.outcome {
                Some(reason) if reason != "accepted" => Some(DisputedLine {
                    like: l.like_id.clone(),
                    thing: l.thing.clone(),
                    amount: Money::from_minor(l.amount),
                    reason: reason.clone(),
                }),
                _ => None,
            })
            .collect();
        let lines = lines
            .into_iter()
            .map(|l| Line {
                like: l.like_id,
                thing: l.thing,
                amount: Money::from_minor(l.amount),
                outcome: l.outcome,
            })
            .collect();
        let adjustments = super::adjustments::of_statement(db, s.id)
            .await?
            .into_iter()
            .map(|a| AdjustmentLine {
                like: a.like_id,
                thing: a.thing,
                adjusts: a.adjusts,
                adjusts_period: a.adjusts_period,
                amount: Money::from_minor(a.amount),
                outcome: a.outcome,
            })
            .collect();
        let conflicts = super::statements::conflicts(db, &s.ap_id).await?;
        out.push(StatementView {
            direction: s.direction,
            id: s.ap_id,
            peer: s.peer,
            period: s.period,
            version: s.version,
            state: s.state,
            reason: s.reason,
            currency: s.currency,
            line_count: s.line_count,
            total: Money::from_minor(s.total),
            accepted: Money::from_minor(s.accepted),
            disputed: Money::from_minor(s.disputed),
            lines,
            disputes,
            adjusted: Money::from_minor(s.adjusted),
            adjustments,
            supersedes: s.supersedes,
            superseded: s.superseded_at.is_some(),
            conflicts,
        });
    }
    Ok(out)
}

/// A payment between us and a peer for one netted period.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentDue {
    /// The peer's origin.
    pub peer: String,
    /// `YYYY-MM`.
    pub period: String,
    /// The netted amount, whole cents.
    pub amount: Money,
    /// What we owed by our statement's accepted lines.
    pub ours: Money,
    /// What the peer owed by its statement's accepted lines.
    pub theirs: Money,
    /// `netted` (not paid yet) or `paid` (announced, to confirm).
    pub state: String,
    /// When the debtor says it paid.
    pub paid_on: Option<String>,
    /// The bank's reference the debtor gave.
    pub reference: Option<String>,
}

/// What the admin has to do: payments to make (we owe, not paid yet) and payments to confirm
/// (the peer announced one with a signed notice; we confirm once the money is in the bank).
#[derive(Debug, Clone, Serialize)]
pub struct Payments {
    /// We are the debtor and have not recorded the payment.
    pub to_make: Vec<PaymentDue>,
    /// The peer announced its payment; waiting for our confirmation.
    pub to_confirm: Vec<PaymentDue>,
}

fn due(n: NetRow) -> PaymentDue {
    PaymentDue {
        peer: n.peer,
        period: n.period,
        amount: Money::from_minor(n.amount),
        ours: Money::from_minor(n.ours),
        theirs: Money::from_minor(n.theirs),
        state: n.state,
        paid_on: n.paid_on,
        reference: n.bank_reference,
    }
}

/// The payments to make and to confirm, by peer and period.
pub async fn payments(db: &sqlx::AnyPool) -> Result<Payments, StoreError> {
    let (mut to_make, mut to_confirm) = (Vec::new(), Vec::new());
    for n in netting::all(db).await? {
        match (n.debtor.as_str(), n.state.as_str()) {
            ("us", "netted") => to_make.push(due(n)),
            ("peer", "paid") => to_confirm.push(due(n)),
            _ => {}
        }
    }
    Ok(Payments {
        to_make,
        to_confirm,
    })
}
