//! Money out, seen by a creator: earnings per period and per thing, payout requests.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{AuthUser, Json};
use crate::domain::money::Money;
use crate::ledger::payouts::{self, PayoutRow};
use crate::ledger::{self, Account};
use crate::store::earnings;

/// `/api/v1/earnings` and `/api/v1/payouts`: what a creator received and their payouts.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_earnings))
        .routes(routes!(my_payouts, request_payout))
}

/// What a creator received in one closed period.
#[derive(Serialize, ToSchema)]
pub struct PeriodLine {
    /// The period, `YYYY-MM`.
    period: String,
    /// Flattrs of my things in that period.
    flattrs: i64,
    /// What they earned me, in the instance currency.
    #[schema(value_type = String)]
    amount: Money,
}

/// What one thing earned over all closed periods.
#[derive(Serialize, ToSchema)]
pub struct ThingLine {
    /// The thing.
    thing_id: i64,
    /// Its title.
    title: String,
    /// Its flattrs, all periods.
    flattrs: i64,
    /// What it earned me, all periods.
    #[schema(value_type = String)]
    amount: Money,
}

/// A creator's earnings: balance, per period and per thing.
#[derive(Serialize, ToSchema)]
pub struct Earnings {
    /// The instance currency.
    currency: String,
    /// Earnings not yet paid out, to the ledger's precision.
    #[schema(value_type = String, example = "12.3456")]
    balance: Money,
    /// What a payout may take now: the balance in whole cents.
    #[schema(value_type = String, example = "12.34")]
    withdrawable: Money,
    /// The smallest payout one may request.
    #[schema(value_type = String, example = "10.00")]
    payout_minimum: Money,
    /// Earnings per closed period, newest first.
    by_period: Vec<PeriodLine>,
    /// Earnings per thing.
    by_thing: Vec<ThingLine>,
}

/// A payout as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct Payout {
    /// The payout.
    id: i64,
    /// How much is paid out.
    #[schema(value_type = String)]
    amount: Money,
    /// requested, exported or paid.
    state: String,
    /// When it was requested.
    requested_at: chrono::DateTime<chrono::Utc>,
    /// When the admin confirmed the transfer; null while pending.
    paid_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn payout_view(row: PayoutRow) -> Payout {
    Payout {
        id: row.id,
        amount: Money::from_minor(row.amount),
        state: row.state,
        requested_at: crate::store::from_epoch(row.requested_at),
        paid_at: row.paid_at.map(crate::store::from_epoch),
    }
}

/// The body of `POST /api/v1/payouts`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutRequest {
    /// Decimal string with at most cents; everything withdrawable when absent.
    amount: Option<String>,
}

/// My earnings per closed period and per thing.
#[utoipa::path(get, path = "/user/earnings", tag = "earnings", security(("bearer" = [])),
    responses((status = 200, body = Earnings, description = "My earnings: balance, what is withdrawable, per period and per thing")))]
async fn my_earnings(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<Json<Earnings>, ApiError> {
    let pool = state.store.pool();
    let balance = ledger::balance(pool, &Account::Earnings(auth.id)).await?;
    let by_period = earnings::by_period(pool, auth.id).await?;
    let by_thing = earnings::by_thing(pool, auth.id).await?;
    Ok(Json(Earnings {
        currency: state.settings.currency.to_string(),
        balance,
        withdrawable: balance.floor_payable(),
        payout_minimum: state.settings.payout_minimum,
        by_period: by_period
            .into_iter()
            .map(|l| PeriodLine {
                period: l.period,
                flattrs: l.flattrs,
                amount: Money::from_minor(l.amount),
            })
            .collect(),
        by_thing: by_thing
            .into_iter()
            .map(|l| ThingLine {
                thing_id: l.thing_id,
                title: l.title,
                flattrs: l.flattrs,
                amount: Money::from_minor(l.amount),
            })
            .collect(),
    }))
}

/// My payouts, newest first.
#[utoipa::path(get, path = "/user/payouts", tag = "earnings", security(("bearer" = [])),
    responses((status = 200, body = [Payout], description = "My payouts, newest first")))]
async fn my_payouts(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<Json<Vec<Payout>>, ApiError> {
    let rows = payouts::of_user(state.store.pool(), auth.id).await?;
    Ok(Json(rows.into_iter().map(payout_view).collect()))
}

/// Requests a payout of earnings (at least the instance's payout minimum).
#[utoipa::path(post, path = "/user/payouts", tag = "earnings", security(("bearer" = [])), request_body = PayoutRequest,
    responses((status = 201, body = Payout, description = "The payout, requested (paid when the admin exports and confirms it)"), (status = 422, body = ErrorBody, description = "below_minimum, insufficient_funds")))]
async fn request_payout(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(body): Json<PayoutRequest>,
) -> Result<(StatusCode, Json<Payout>), ApiError> {
    let amount = body
        .amount
        .as_deref()
        .map(|a| Money::parse_payable("amount", a))
        .transpose()?;
    let mut tx = state.store.begin().await?;
    let row = payouts::request(
        &mut tx,
        auth.id,
        amount,
        state.settings.payout_minimum,
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(payout_view(row))))
}
