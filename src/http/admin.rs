//! The admin's view of settlement under `/api/v1/admin` (issue 8.8): peers with what we owe
//! each and what each owes us per period, and the statements sent and received with their
//! disputes. Admin bearer tokens only. The numbers come from `settle::positions`, which the
//! `fedflattr admin peers` / `admin statements` commands render too.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{AdminUser, Json, Query};
use crate::domain::money::Money;
use crate::domain::period::Period;
use crate::domain::settlement::PeerOrigin;
use crate::settle::positions::{self, StatementFilter};

/// `/api/v1/admin/peers` and `/api/v1/admin/statements`; payments, receipts and trust
/// controls from `admin_settlement`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(admin_peers))
        .routes(routes!(admin_statements))
        .merge(super::admin_settlement::router())
}

/// One period between us and a peer, both directions.
#[derive(Serialize, ToSchema)]
pub struct PeriodPosition {
    /// `YYYY-MM`.
    period: String,
    /// What we owe the peer for the period (the lines of our statement it did not dispute).
    #[schema(value_type = String, example = "1.80")]
    payable: Money,
    /// The lines of our statement the peer disputed.
    #[schema(value_type = String)]
    disputed: Money,
    /// What the peer owes us for the period (the lines of its statement we accepted).
    #[schema(value_type = String)]
    receivable: Money,
    /// The lines of the peer's statement we disputed.
    #[schema(value_type = String)]
    disputed_by_us: Money,
    /// Our statement's state: `stated`, `claimed`, `rejected`; null when none.
    sent: Option<String>,
    /// The peer's statement's state; null when none.
    received: Option<String>,
    /// Where the period stands: `stated`, `claimed`, `netted`, `paid`, `received` or `closed`.
    state: String,
    /// The netted amount (whole cents) once netted.
    #[schema(value_type = Option<String>, example = "3.00")]
    net: Option<Money>,
    /// Who pays it: `us`, `peer` or `none`.
    debtor: Option<String>,
    /// The sub-cent rest carried to the next netting (positive: we owe it).
    #[schema(value_type = Option<String>, example = "0.0033")]
    carried: Option<Money>,
    /// When the payment left.
    paid_on: Option<String>,
    /// The bank's reference of the payment.
    reference: Option<String>,
    /// When the creditor confirmed it arrived.
    received_on: Option<String>,
}

/// A peer instance and where we stand with it.
#[derive(Serialize, ToSchema)]
pub struct PeerPosition {
    /// Its origin, `scheme://host:port`.
    peer: String,
    /// What we owe it over all periods.
    #[schema(value_type = String)]
    payable: Money,
    /// What we stated to it and it disputed.
    #[schema(value_type = String)]
    disputed: Money,
    /// What it owes us over all periods.
    #[schema(value_type = String)]
    receivable: Money,
    /// The sub-cent rest carried to the next netting (positive: we owe it).
    #[schema(value_type = String)]
    carried: Money,
    /// Blocked by an admin.
    blocked: bool,
    /// The most we may owe it; null when unlimited.
    #[schema(value_type = Option<String>)]
    limit: Option<Money>,
    /// Per period, oldest first.
    periods: Vec<PeriodPosition>,
}

/// A disputed line.
#[derive(Serialize, ToSchema)]
pub struct DisputedLine {
    /// The Like's id.
    like: String,
    /// The thing's id.
    thing: String,
    /// The line's value.
    #[schema(value_type = String)]
    amount: Money,
    /// `unknown_like`, `not_our_thing`, `value_mismatch`, `like_undone`, `period_mismatch`,
    /// `duplicate`, `digest_mismatch` or `unproven_thing`.
    reason: String,
}

/// A line of a statement: one flattr of a thing of the payee's.
#[derive(Serialize, ToSchema)]
pub struct StatementLine {
    /// The Like's id.
    like: String,
    /// The thing's id.
    thing: String,
    /// The line's value.
    #[schema(value_type = String)]
    amount: Money,
    /// `accepted`, or the dispute's reason, once claimed; absent before.
    outcome: Option<String>,
}

/// An adjustment line: a correction of a line of an earlier, paid period (docs/settlement.md
/// section 4.1).
#[derive(Serialize, ToSchema)]
pub struct AdjustmentLine {
    /// The Like of the line corrected.
    like: String,
    /// Its thing.
    thing: String,
    /// The statement corrected (the version netted and paid).
    adjusts: String,
    /// Its period, `YYYY-MM`.
    adjusts_period: String,
    /// Signed: positive adds a line, negative takes one back.
    #[schema(value_type = String)]
    amount: Money,
    /// `accepted`, or a dispute reason (`unmatched_adjustment`, `not_covered`, `duplicate`, or
    /// a line's reason), once claimed; absent before.
    outcome: Option<String>,
}

/// A statement sent or received.
#[derive(Serialize, ToSchema)]
pub struct Statement {
    /// `sent` (we are the payer) or `received`.
    direction: String,
    /// The Offer's id.
    id: String,
    /// The other instance's origin.
    peer: String,
    /// `YYYY-MM`.
    period: String,
    /// Its version.
    version: i64,
    /// `stated`, `claimed` or `rejected`.
    state: String,
    /// Why it was rejected whole.
    reason: Option<String>,
    /// The currency code.
    currency: String,
    /// How many lines.
    line_count: i64,
    /// The sum of its lines.
    #[schema(value_type = String)]
    total: Money,
    /// The sum of the accepted lines.
    #[schema(value_type = String)]
    accepted: Money,
    /// The sum of the disputed lines.
    #[schema(value_type = String)]
    disputed: Money,
    /// Every line, in the statement's order, with its outcome.
    lines: Vec<StatementLine>,
    /// The disputed lines with their reasons.
    disputes: Vec<DisputedLine>,
    /// The sum of the accepted adjustment lines (signed).
    #[schema(value_type = String)]
    adjusted: Money,
    /// Its adjustment lines, in order.
    adjustments: Vec<AdjustmentLine>,
    /// The version this one restates (its id), for a version above 1.
    supersedes: Option<String>,
    /// True once a later version replaced it.
    superseded: bool,
    /// Digests of copies refused under this id with other content (`statement_conflict`).
    conflicts: Vec<String>,
}

/// The query of `GET /api/v1/admin/statements`.
#[derive(Deserialize, IntoParams)]
pub struct StatementsQuery {
    /// Only this peer's (an origin, e.g. `https://peer.example`).
    peer: Option<String>,
    /// Only this period's, `YYYY-MM`.
    period: Option<String>,
}

/// Every peer instance with what we owe it, what it disputed and what it owes us, in total
/// and per period, with the state of the statement each way. Admins only.
#[utoipa::path(get, path = "/admin/peers", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [PeerPosition], description = "Every peer instance with what we owe it, what it disputed and what it owes us, in total and per period"), (status = 401, body = ErrorBody, description = "No valid bearer token (unauthorized)"),
        (status = 403, body = ErrorBody, description = "forbidden: the token's user is not an instance admin")))]
async fn admin_peers(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<Json<Vec<PeerPosition>>, ApiError> {
    let peers = positions::peers(state.store.pool()).await?;
    Ok(Json(
        peers
            .into_iter()
            .map(|p| PeerPosition {
                peer: p.peer,
                payable: p.payable,
                disputed: p.disputed,
                receivable: p.receivable,
                carried: p.carried,
                blocked: p.blocked,
                limit: p.limit,
                periods: p
                    .periods
                    .into_iter()
                    .map(|q| PeriodPosition {
                        period: q.period,
                        payable: q.payable,
                        disputed: q.disputed,
                        receivable: q.receivable,
                        disputed_by_us: q.disputed_by_us,
                        sent: q.sent,
                        received: q.received,
                        state: q.state,
                        net: q.net,
                        debtor: q.debtor,
                        carried: q.carried,
                        paid_on: q.paid_on,
                        reference: q.reference,
                        received_on: q.received_on,
                    })
                    .collect(),
            })
            .collect(),
    ))
}

/// The statements sent and received, by peer, period, direction and version, with their
/// state, totals and disputed lines. Admins only.
#[utoipa::path(get, path = "/admin/statements", tag = "admin", security(("bearer" = [])),
    params(StatementsQuery),
    responses((status = 200, body = [Statement], description = "The settlement statements sent and received, with their state, totals and disputed lines"), (status = 401, body = ErrorBody, description = "No valid bearer token (unauthorized)"),
        (status = 403, body = ErrorBody, description = "forbidden: the token's user is not an instance admin"), (status = 422, body = ErrorBody, description = "invalid_parameters: the peer is not an origin or the period not YYYY-MM")))]
async fn admin_statements(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(query): Query<StatementsQuery>,
) -> Result<Json<Vec<Statement>>, ApiError> {
    let filter = StatementFilter {
        peer: query
            .peer
            .map(|p| PeerOrigin::parse(&p).map(|o| o.to_string()))
            .transpose()?,
        period: query.period.map(|p| Period::parse(&p)).transpose()?,
    };
    let statements = positions::statements(state.store.pool(), &filter).await?;
    Ok(Json(
        statements
            .into_iter()
            .map(|s| Statement {
                direction: s.direction,
                id: s.id,
                peer: s.peer,
                period: s.period,
                version: s.version,
                state: s.state,
                reason: s.reason,
                currency: s.currency,
                line_count: s.line_count,
                total: s.total,
                accepted: s.accepted,
                disputed: s.disputed,
                lines: s
                    .lines
                    .into_iter()
                    .map(|l| StatementLine {
                        like: l.like,
                        thing: l.thing,
                        amount: l.amount,
                        outcome: l.outcome,
                    })
                    .collect(),
                disputes: s
                    .disputes
                    .into_iter()
                    .map(|d| DisputedLine {
                        like: d.like,
                        thing: d.thing,
                        amount: d.amount,
                        reason: d.reason,
                    })
                    .collect(),
                adjusted: s.adjusted,
                adjustments: s
                    .adjustments
                    .into_iter()
                    .map(|a| AdjustmentLine {
                        like: a.like,
                        thing: a.thing,
                        adjusts: a.adjusts,
                        adjusts_period: a.adjusts_period,
                        amount: a.amount,
                        outcome: a.outcome,
                    })
                    .collect(),
                supersedes: s.supersedes,
                superseded: s.superseded,
                conflicts: s.conflicts,
            })
            .collect(),
    ))
}
