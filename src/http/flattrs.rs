//! Flattrs: flattr a thing by id or any URL, undo before close, list mine by period.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{AuthUser, BearerToken, Json, Path, Query};
use crate::domain::period::Period;
use crate::domain::thing::ThingUrl;
use crate::flattring::{self, Target};
use crate::store::flattrs::{self, FlattrRow};
use crate::store::received_likes;
use activitypub_federation::config::Data;

/// `/api/v1/flattr` and `/api/v1/flattrs`: flattr, undo, list given and received flattrs.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(flattr_thing))
        .routes(routes!(flattr_url))
        .routes(routes!(my_flattrs))
        .routes(routes!(undo_flattr))
        .routes(routes!(received_flattrs))
}

/// The thing a flattr went to, as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct FlattredThing {
    /// The thing.
    id: i64,
    /// The URL it was registered with.
    url: String,
    /// Its title.
    title: String,
}

/// A flattr as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct Flattr {
    /// Always `flattr`.
    #[schema(example = "flattr")]
    r#type: &'static str,
    /// The flattr.
    id: i64,
    /// The thing flattred.
    thing: FlattredThing,
    /// The period whose budget pays for it.
    #[schema(example = "2026-11")]
    period: String,
    /// Set when a subscription made this flattr.
    subscription_id: Option<i64>,
    /// False for a plain Like of a thing on software that cannot be paid: it costs nothing.
    charged: bool,
    /// When it was made.
    created_at: chrono::DateTime<chrono::Utc>,
}

/// The API's view of a stored flattr.
pub fn view(row: FlattrRow) -> Flattr {
    Flattr {
        r#type: "flattr",
        id: row.id,
        thing: FlattredThing {
            id: row.thing_id,
            url: row.thing_url,
            title: row.thing_title,
        },
        period: row.period,
        subscription_id: row.subscription_id,
        charged: row.charged != 0,
        created_at: crate::store::from_epoch(row.created_at),
    }
}

/// Flattrs one thing in the current period.
#[utoipa::path(post, path = "/things/{id}/flattr", tag = "flattrs", security(("bearer" = [])), params(("id" = i64, Path, description = "The thing's id")),
    responses((status = 201, body = Flattr, description = "The flattr, recorded in the open period"), (status = 402, body = ErrorBody, description = "no_means"),
              (status = 403, body = ErrorBody, description = "flattr_owner"), (status = 404, body = ErrorBody, description = "not_found: no such thing"),
              (status = 409, body = ErrorBody, description = "flattr_once")))]
async fn flattr_thing(
    State(state): State<AppState>,
    token: BearerToken,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Flattr>), ApiError> {
    // The hot path: the token is checked by the statement that records the click, so a click
    // is one write and no read. When it records nothing, the token is checked on its own
    // (401) and the full path says why.
    if let Some(row) = flattring::click_with_token(&state, &token.0, id).await? {
        return Ok((StatusCode::CREATED, Json(view(row))));
    }
    let user = token.user(&state).await?;
    let row = flattring::flattr_full(&state, user.id, Target::Thing(id)).await?;
    Ok((StatusCode::CREATED, Json(view(row))))
}

/// The body of `POST /api/v1/flattr`: a thing by id or by URL.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlattrRequest {
    /// A registered thing's URL, its page on this instance, an auto-submit URL
    /// (`/submit/auto?user_id=OWNER&url=…&title=…`), or an object on another server.
    #[schema(example = "https://blog.example/2026/11/hello")]
    url: String,
}

/// Flattrs whatever a URL names: a registered thing, an auto-submit URL, or an object on
/// another server (resolved first, outside any database transaction).
#[utoipa::path(post, path = "/flattr", tag = "flattrs", security(("bearer" = [])), request_body = FlattrRequest,
    responses((status = 201, body = Flattr, description = "The flattr of the thing the URL names, recorded in the open period"), (status = 402, body = ErrorBody, description = "no_means: the wallet cannot cover the budget"), (status = 403, body = ErrorBody, description = "flattr_owner (one's own thing), unverified_domain (auto-submit outside a verified domain), peer_blocked or peer_limit"),
              (status = 404, body = ErrorBody, description = "not_found: the URL names nothing that can be flattred"), (status = 409, body = ErrorBody, description = "flattr_once: already flattred in this period"), (status = 422, body = ErrorBody, description = "invalid_parameters: the URL does not parse, or the remote object cannot be read")))]
async fn flattr_url(
    State(state): State<AppState>,
    data: Data<AppState>,
    auth: AuthUser,
    Json(body): Json<FlattrRequest>,
) -> Result<(StatusCode, Json<Flattr>), ApiError> {
    let url = ThingUrl::parse(&body.url)?;
    let target = flattring::find(&data, &url).await?;
    let row = flattring::flattr_committed(&state, auth.id, target).await?;
    Ok((StatusCode::CREATED, Json(view(row))))
}

/// The query of the flattr lists: one period, or all of them.
#[derive(Deserialize, IntoParams)]
pub struct PeriodQuery {
    /// `YYYY-MM`; all periods when absent.
    period: Option<String>,
}

/// My flattrs, newest first, of one period or all.
#[utoipa::path(get, path = "/user/flattrs", tag = "flattrs", security(("bearer" = [])), params(PeriodQuery),
    responses((status = 200, body = [Flattr], description = "My flattrs of the period given, or of every period when none is given"), (status = 422, body = ErrorBody, description = "invalid_parameters: the period is not YYYY-MM")))]
async fn my_flattrs(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(query): Query<PeriodQuery>,
) -> Result<Json<Vec<Flattr>>, ApiError> {
    let period = query.period.as_deref().map(Period::parse).transpose()?;
    let rows = flattrs::of_user(state.store.pool(), auth.id, period).await?;
    Ok(Json(rows.into_iter().map(view).collect()))
}

/// Undoes a flattr of a period that has not closed.
#[utoipa::path(delete, path = "/flattrs/{id}", tag = "flattrs", security(("bearer" = [])), params(("id" = i64, Path, description = "The flattr's id")),
    responses((status = 204, description = "The flattr is undone (the period is still open)"), (status = 404, body = ErrorBody, description = "not_found: no such flattr of mine"), (status = 409, body = ErrorBody, description = "period_closed")))]
async fn undo_flattr(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let mut tx = state.store.begin().await?;
    flattring::undo(&mut tx, &state, auth.id, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A flattr received from another server.
#[derive(Serialize, ToSchema)]
pub struct ReceivedFlattr {
    /// My thing.
    thing_id: i64,
    /// Its title.
    thing_title: String,
    /// The remote user's actor id.
    actor: String,
    /// The payer's period, `YYYY-MM`.
    period: String,
    /// True for a flattr (money, settled by statement); false for a plain favourite.
    flattr: bool,
    /// Whether the payer undid it.
    undone: bool,
    /// When the Like arrived.
    received_at: chrono::DateTime<chrono::Utc>,
}

/// Flattrs of my things received from users of other servers, newest first.
#[utoipa::path(get, path = "/user/received_flattrs", tag = "flattrs", security(("bearer" = [])),
    responses((status = 200, body = [ReceivedFlattr], description = "Flattrs of my things by users of other servers")))]
async fn received_flattrs(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<Json<Vec<ReceivedFlattr>>, ApiError> {
    let rows = received_likes::of_owner(state.store.pool(), auth.id).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| ReceivedFlattr {
                thing_id: r.thing_id,
                thing_title: r.thing_title,
                actor: r.actor,
                period: r.period,
                flattr: !r.currency.is_empty(),
                undone: r.undone_at.is_some(),
                received_at: crate::store::from_epoch(r.received_at),
            })
            .collect(),
    ))
}
