//! Subscriptions: flattr a thing automatically every period for 3, 6 or 12 periods; list,
//! pause, resume, stop.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{AuthUser, Json, Path};
use crate::domain::ParseError;
use crate::domain::flattr::SubscriptionPeriods;
use crate::domain::thing::ThingUrl;
use crate::flattring::{self, Target};
use crate::store::subscriptions::{self, SubscriptionRow};
use activitypub_federation::config::Data;

/// `/api/v1/subscriptions`: subscribe, list, pause, resume, stop.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, subscribe))
        .routes(routes!(update, stop))
}

/// A subscription as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct Subscription {
    /// Always `subscription`.
    #[schema(example = "subscription")]
    r#type: &'static str,
    /// The subscription.
    id: i64,
    /// The thing flattred each period.
    thing_id: i64,
    /// Its title.
    thing_title: String,
    /// How many periods it runs: 3, 6 or 12.
    periods_total: i64,
    /// Periods still to be flattred after the last one.
    periods_left: i64,
    /// Paused subscriptions skip periods without ending.
    paused: bool,
    /// False once stopped or used up.
    active: bool,
    /// The last period it flattred in, `YYYY-MM`.
    last_period: Option<String>,
    /// When it was made.
    created_at: chrono::DateTime<chrono::Utc>,
}

fn view(row: SubscriptionRow) -> Subscription {
    Subscription {
        r#type: "subscription",
        id: row.id,
        thing_id: row.thing_id,
        thing_title: row.thing_title,
        periods_total: row.periods_total,
        periods_left: row.periods_left,
        paused: row.paused != 0,
        active: row.stopped_at.is_none(),
        last_period: row.last_period,
        created_at: crate::store::from_epoch(row.created_at),
    }
}

/// The body of `POST /api/v1/subscriptions`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    /// The thing, by id ...
    thing_id: Option<i64>,
    /// ... or by URL (as `POST /flattr` takes it).
    url: Option<String>,
    /// 3, 6 or 12.
    #[schema(example = 3)]
    periods: i64,
}

/// The body of `PATCH /api/v1/subscriptions/{id}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionUpdate {
    /// `true` pauses, `false` resumes.
    paused: bool,
}

/// My subscriptions, newest first.
#[utoipa::path(get, path = "/user/subscriptions", tag = "subscriptions", security(("bearer" = [])),
    responses((status = 200, body = [Subscription], description = "My subscriptions")))]
async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<Json<Vec<Subscription>>, ApiError> {
    let rows = subscriptions::of_user(state.store.pool(), auth.id).await?;
    Ok(Json(rows.into_iter().map(view).collect()))
}

/// Subscribes to a thing: it is flattred now and in each of the next periods.
#[utoipa::path(post, path = "/user/subscriptions", tag = "subscriptions", security(("bearer" = [])),
    request_body = NewSubscription,
    responses((status = 201, body = Subscription, description = "The subscription, with its first flattr in the open period"), (status = 402, body = ErrorBody, description = "no_means: the wallet cannot cover the budget"), (status = 403, body = ErrorBody, description = "flattr_owner: one's own thing"),
              (status = 404, body = ErrorBody, description = "not_found: no such thing"), (status = 409, body = ErrorBody, description = "conflict (already subscribed to this thing) or flattr_once (already flattred in this period)"), (status = 422, body = ErrorBody, description = "invalid_parameters: periods must be 3, 6 or 12")))]
async fn subscribe(
    State(state): State<AppState>,
    data: Data<AppState>,
    auth: AuthUser,
    Json(body): Json<NewSubscription>,
) -> Result<(StatusCode, Json<Subscription>), ApiError> {
    let periods = SubscriptionPeriods::parse(body.periods)?;
    let target = match (body.thing_id, body.url.as_deref()) {
        (Some(id), None) => Target::Thing(id),
        (None, Some(url)) => flattring::find(&data, &ThingUrl::parse(url)?).await?,
        _ => return Err(ParseError::new("thing_id", "give either thing_id or url").into()),
    };
    let mut tx = state.store.begin().await?;
    let row = flattring::subscribe(&mut tx, &state, auth.id, target, periods).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(view(row))))
}

/// Pauses or resumes a subscription.
#[utoipa::path(patch, path = "/user/subscriptions/{id}", tag = "subscriptions", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The subscription's id")), request_body = SubscriptionUpdate,
    responses((status = 200, body = Subscription, description = "The subscription, paused or resumed"), (status = 404, body = ErrorBody, description = "not_found: no such subscription of mine"), (status = 409, body = ErrorBody, description = "conflict: the subscription has ended")))]
async fn update(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
    Json(body): Json<SubscriptionUpdate>,
) -> Result<Json<Subscription>, ApiError> {
    let mut tx = state.store.begin().await?;
    let row = subscriptions::set_paused(&mut tx, id, auth.id, body.paused).await?;
    tx.commit().await?;
    Ok(Json(view(row)))
}

/// Stops a subscription for good.
#[utoipa::path(delete, path = "/user/subscriptions/{id}", tag = "subscriptions", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The subscription's id")),
    responses((status = 200, body = Subscription, description = "The subscription, stopped (flattrs already made stay)"), (status = 404, body = ErrorBody, description = "not_found: no such subscription of mine"), (status = 409, body = ErrorBody, description = "conflict: the subscription has ended already")))]
async fn stop(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> Result<Json<Subscription>, ApiError> {
    let mut tx = state.store.begin().await?;
    let row = subscriptions::stop(&mut tx, id, auth.id, state.clock.now()).await?;
    tx.commit().await?;
    Ok(Json(view(row)))
}
