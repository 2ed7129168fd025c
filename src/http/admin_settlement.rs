//! The admin's settlement actions under `/api/v1/admin` (issue 8.6-8.8): the payments to make
//! and to confirm, recording a payment we made, confirming one we received, and the trust
//! controls of a peer (block, limit). Admin bearer tokens only. The rules are
//! `settle::payments`' and `store::peers`'; the `fedflattr admin settlement …` and
//! `admin peer …` commands call the same functions.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{AdminUser, Json};
use crate::domain::money::Money;
use crate::domain::period::Period;
use crate::domain::settlement::{BankReference, PaymentDate, PeerOrigin};
use crate::settle::netting::NetRow;
use crate::settle::{payments, positions};
use crate::store::peers;

/// `/api/v1/admin/payments`, `/api/v1/admin/receipts`, `/api/v1/admin/peer-controls`,
/// `/api/v1/admin/restatements`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(payments_due, record_payment))
        .routes(routes!(confirm_receipt))
        .routes(routes!(set_controls))
        .routes(routes!(restate))
}

/// A payment between us and a peer for one netted period.
#[derive(Serialize, ToSchema)]
pub struct Payment {
    /// The peer's origin.
    peer: String,
    /// `YYYY-MM`.
    period: String,
    /// The netted amount, whole cents.
    #[schema(value_type = String, example = "3.00")]
    amount: Money,
    /// What we owed by our statement's accepted lines.
    #[schema(value_type = String)]
    ours: Money,
    /// What the peer owed by its statement's accepted lines.
    #[schema(value_type = String)]
    theirs: Money,
    /// `netted`, `paid`, `received` or `closed`.
    state: String,
    /// When the debtor paid.
    paid_on: Option<String>,
    /// The bank's reference.
    reference: Option<String>,
}

/// What the admin has to do.
#[derive(Serialize, ToSchema)]
pub struct PaymentsDue {
    /// We owe these and have not recorded paying them.
    to_make: Vec<Payment>,
    /// The peer announced these payments; confirm each once the money is in the bank.
    to_confirm: Vec<Payment>,
}

fn payment(p: positions::PaymentDue) -> Payment {
    Payment {
        peer: p.peer,
        period: p.period,
        amount: p.amount,
        ours: p.ours,
        theirs: p.theirs,
        state: p.state,
        paid_on: p.paid_on,
        reference: p.reference,
    }
}

fn of_row(n: NetRow) -> Payment {
    Payment {
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

/// The payments to make (we are the debtor of a netted period) and to confirm (a peer
/// announced its payment with a signed notice). Admins only.
#[utoipa::path(get, path = "/admin/payments", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = PaymentsDue, description = "The payments to make (netted periods we owe) and to confirm (periods a peer announced it paid)"), (status = 401, body = ErrorBody, description = "No valid bearer token (unauthorized)"),
        (status = 403, body = ErrorBody, description = "forbidden: the token's user is not an instance admin")))]
async fn payments_due(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<Json<PaymentsDue>, ApiError> {
    let due = positions::payments(state.store.pool()).await?;
    Ok(Json(PaymentsDue {
        to_make: due.to_make.into_iter().map(payment).collect(),
        to_confirm: due.to_confirm.into_iter().map(payment).collect(),
    }))
}

/// A bank transfer we made to a peer.
#[derive(Deserialize, ToSchema)]
pub struct NewPayment {
    /// The peer's origin, e.g. `https://peer.example`.
    peer: String,
    /// The period paid, `YYYY-MM`.
    period: String,
    /// Exactly the netted amount, e.g. `"3.00"`.
    amount: String,
    /// When it left, `YYYY-MM-DD`.
    date: String,
    /// The bank's reference of the transfer.
    reference: String,
}

/// Records a payment we made for a netted period (exactly its amount; once). The signed
/// payment notice goes to the peer with the next run of the delivery queue. Admins only.
#[utoipa::path(post, path = "/admin/payments", tag = "admin", security(("bearer" = [])),
    request_body = NewPayment,
    responses((status = 200, body = Payment, description = "The payment, recorded; its signed notice goes out with the next delivery run"), (status = 401, body = ErrorBody, description = "No valid bearer token (unauthorized)"),
        (status = 403, body = ErrorBody, description = "forbidden: the token's user is not an instance admin"), (status = 404, body = ErrorBody, description = "unknown_period: no netting with that peer for that period"),
        (status = 409, body = ErrorBody, description = "not_debtor, already_paid or payment_conflict"), (status = 422, body = ErrorBody, description = "amount_mismatch (not exactly the netted amount) or invalid_parameters (peer, period, date or reference)")))]
async fn record_payment(
    State(state): State<AppState>,
    _admin: AdminUser,
    Json(body): Json<NewPayment>,
) -> Result<Json<Payment>, ApiError> {
    let peer = PeerOrigin::parse(&body.peer)?;
    let period = Period::parse(&body.period)?;
    let amount = Money::parse_payable("amount", &body.amount)?;
    let date = PaymentDate::parse(&body.date)?;
    let reference = BankReference::parse(&body.reference)?;
    let mut tx = state.store.begin().await?;
    let row = payments::record_payment(
        &mut tx,
        peer.as_str(),
        &period.to_string(),
        amount,
        date,
        &reference,
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(of_row(row)))
}

/// A peer's payment that arrived.
#[derive(Deserialize, ToSchema)]
pub struct NewReceipt {
    /// The peer's origin.
    peer: String,
    /// The period paid, `YYYY-MM`.
    period: String,
    /// When the money arrived, `YYYY-MM-DD`.
    date: String,
}

/// Confirms that a peer's announced payment arrived: our books of the period close, the
/// creators' pending earnings become withdrawable, and the signed receipt goes to the peer
/// with the next run of the delivery queue. Admins only.
#[utoipa::path(post, path = "/admin/receipts", tag = "admin", security(("bearer" = [])),
    request_body = NewReceipt,
    responses((status = 200, body = Payment, description = "The receipt, confirmed: the creators' pending earnings of that period are withdrawable and the signed receipt goes out"), (status = 401, body = ErrorBody, description = "No valid bearer token (unauthorized)"),
        (status = 403, body = ErrorBody, description = "forbidden: the token's user is not an instance admin"), (status = 404, body = ErrorBody, description = "unknown_period: no netting with that peer for that period"),
        (status = 409, body = ErrorBody, description = "no_payment_notice or already_paid"), (status = 422, body = ErrorBody, description = "invalid_parameters (peer, period or date)")))]
async fn confirm_receipt(
    State(state): State<AppState>,
    _admin: AdminUser,
    Json(body): Json<NewReceipt>,
) -> Result<Json<Payment>, ApiError> {
    let peer = PeerOrigin::parse(&body.peer)?;
    let period = Period::parse(&body.period)?;
    let date = PaymentDate::parse(&body.date)?;
    let mut tx = state.store.begin().await?;
    let row = payments::confirm_receipt(
        &mut tx,
        peer.as_str(),
        &period.to_string(),
        date,
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(of_row(row)))
}

/// Trust controls to set on one peer; a field left out is left as it is.
#[derive(Deserialize, ToSchema)]
pub struct Controls {
    /// The peer's origin.
    peer: String,
    /// Block (true) or unblock (false) the peer.
    blocked: Option<bool>,
    /// The most we may owe the peer, e.g. `"10.00"`, or `"none"` to lift the limit.
    limit: Option<String>,
}

/// A peer's trust controls as they now stand.
#[derive(Serialize, ToSchema)]
pub struct PeerControls {
    /// The peer's origin.
    peer: String,
    /// Blocked by an admin.
    blocked: bool,
    /// The most we may owe it; null when unlimited.
    #[schema(value_type = Option<String>)]
    limit: Option<Money>,
}

/// Blocks or unblocks a peer and sets or lifts the limit of what we may owe it (what
/// `fedflattr admin peer block|unblock|limit` do). Admins only.
#[utoipa::path(post, path = "/admin/peer-controls", tag = "admin", security(("bearer" = [])),
    request_body = Controls,
    responses((status = 200, body = PeerControls, description = "The peer's controls as they are now: blocked or not, and the limit"), (status = 401, body = ErrorBody, description = "No valid bearer token (unauthorized)"),
        (status = 403, body = ErrorBody, description = "forbidden: the token's user is not an instance admin"), (status = 422, body = ErrorBody, description = "invalid_parameters: the peer is not an origin, or the limit not an amount")))]
async fn set_controls(
    State(state): State<AppState>,
    _admin: AdminUser,
    Json(body): Json<Controls>,
) -> Result<Json<PeerControls>, ApiError> {
    let peer = PeerOrigin::parse(&body.peer)?;
    let limit = match body.limit.as_deref().map(str::trim) {
        None => None,
        Some("none") => Some(None),
        Some(text) => Some(Some(Money::parse_payable("limit", text)?)),
    };
    let now = state.clock.now();
    if let Some(blocked) = body.blocked {
        peers::set_blocked(state.store.pool(), peer.as_str(), blocked, now).await?;
    }
    if let Some(limit) = limit {
        peers::set_limit(
            state.store.pool(),
            peer.as_str(),
            limit.map(Money::minor),
            now,
        )
        .await?;
    }
    let control = peers::of(state.store.pool(), peer.as_str()).await?;
    Ok(Json(PeerControls {
        peer: peer.to_string(),
        blocked: control.as_ref().is_some_and(|c| c.is_blocked()),
        limit: control.and_then(|c| c.owe_limit).map(Money::from_minor),
    }))
}

/// Which statement of ours to restate.
#[derive(Deserialize, ToSchema)]
pub struct Restatement {
    /// The peer's origin.
    peer: String,
    /// The period, `YYYY-MM`.
    period: String,
    /// Once the period is paid: the Likes whose lines to take back (flattrs found bogus).
    #[serde(default)]
    take_back: Vec<String>,
}

/// One adjustment line asked for.
#[derive(Serialize, ToSchema)]
pub struct AdjustmentAsked {
    /// The Like of the line corrected.
    like: String,
    /// Signed: positive adds, negative takes back.
    #[schema(value_type = String)]
    value: Money,
}

/// The restatement asked for.
#[derive(Serialize, ToSchema)]
pub struct Restating {
    /// The statement restated (its id).
    restates: String,
    /// The version that will replace it; absent when the period is paid.
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<i64>,
    /// Once the period is paid: the adjustment lines our next statement to the peer carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    adjustments: Option<Vec<AdjustmentAsked>>,
}

/// Restates our statement of a period to a peer: the next delivery run sends a new version,
/// from our books as they are, which replaces the earlier one on both sides until the period
/// is paid; after that, the corrections (and the take-backs asked for) ride as adjustment
/// lines in our next statement to the peer. Admins only.
#[utoipa::path(post, path = "/admin/restatements", tag = "admin", security(("bearer" = [])),
    request_body = Restatement,
    responses((status = 200, body = Restating, description = "The restatement, asked for: the next delivery run sends the new version"), (status = 401, body = ErrorBody, description = "No valid bearer token (unauthorized)"),
        (status = 403, body = ErrorBody, description = "forbidden: the token's user is not an instance admin"), (status = 404, body = ErrorBody, description = "unknown_period: no statement to that peer for that period"),
        (status = 409, body = ErrorBody, description = "not_paid: a take-back of a period not paid yet"), (status = 404, body = ErrorBody, description = "unknown_line: a take-back names a Like that is not a line of the statement"), (status = 422, body = ErrorBody, description = "invalid_parameters: the peer is not an origin or the period not YYYY-MM")))]
async fn restate(
    State(state): State<AppState>,
    _admin: AdminUser,
    Json(body): Json<Restatement>,
) -> Result<Json<Restating>, ApiError> {
    let peer = PeerOrigin::parse(&body.peer)?;
    let period = Period::parse(&body.period)?;
    let mut tx = state.store.begin().await?;
    let restating = crate::settle::statements::request_restatement(
        &mut tx,
        peer.as_str(),
        &period.to_string(),
        &body.take_back,
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(match restating {
        crate::settle::statements::Restating::Version(row) => Restating {
            restates: row.ap_id,
            version: Some(row.version + 1),
            adjustments: None,
        },
        crate::settle::statements::Restating::Adjustments(row, asked) => Restating {
            restates: row.ap_id,
            version: None,
            adjustments: Some(
                asked
                    .into_iter()
                    .map(|a| AdjustmentAsked {
                        like: a.like_id,
                        value: Money::from_minor(a.amount),
                    })
                    .collect(),
            ),
        },
    }))
}
