//! Accounts: sign-up, log-in and log-out, the signed-in user (wallet, budget, what this period
//! will cost) and public profiles.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{AuthUser, ClientIp, Json, Path};
use crate::accounts;
use crate::domain::money::Money;
use crate::store::{tokens, users};

/// `/api/v1/users` and `/api/v1/sessions`: sign up, log in and out, the current user.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_up))
        .routes(routes!(log_in))
        .routes(routes!(log_out))
        .routes(routes!(me, update_me))
        .routes(routes!(public_user))
}

/// A username and password, to sign up or log in.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// 1 to 30 letters a-z (any case, kept lower-case), digits and underscores.
    #[schema(example = "alice")]
    username: String,
    /// At least 8 characters (at most 256 bytes); on log-in, the password as set.
    #[schema(example = "correct horse battery")]
    password: String,
}

/// A user as anyone may see them.
#[derive(Serialize, ToSchema)]
pub struct PublicUser {
    /// Always `user`.
    #[schema(example = "user")]
    r#type: &'static str,
    /// The username.
    username: String,
    /// The fediverse handle, `NAME@DOMAIN`.
    handle: String,
    /// The user's page and ActivityPub actor.
    link: String,
    /// When the user signed up.
    created_at: chrono::DateTime<chrono::Utc>,
}

/// What this period will cost the user so far.
#[derive(Serialize, ToSchema)]
pub struct CurrentPeriod {
    /// The open period, `YYYY-MM`.
    #[schema(example = "2026-11")]
    period: String,
    /// My flattrs in it so far.
    flattrs: i64,
    /// `min(budget, wallet)` if the user flattred anything this period, else nothing.
    #[schema(value_type = String, example = "2.00")]
    cost: Money,
    /// What each flattr would receive if the period closed now (after the fee).
    #[schema(value_type = String, example = "0.60")]
    per_flattr: Money,
}

/// The logged-in user as they see themselves: wallet, budget, the current period.
#[derive(Serialize, ToSchema)]
pub struct Me {
    /// Always `user`.
    #[schema(example = "user")]
    r#type: &'static str,
    /// My username.
    username: String,
    /// My fediverse handle, `name@domain`.
    handle: String,
    /// The instance currency.
    #[schema(example = "EUR")]
    currency: String,
    /// Money in my wallet.
    #[schema(value_type = String, example = "20.00")]
    wallet: Money,
    /// My monthly budget, split over my flattrs at the close.
    #[schema(value_type = String, example = "2.00")]
    budget: Money,
    /// The smallest budget this instance allows.
    #[schema(value_type = String, example = "2.00")]
    min_budget: Money,
    /// What my things have earned and I have not been paid out.
    #[schema(value_type = String, example = "0.3333")]
    earnings: Money,
    /// The open period and what each flattr in it costs so far.
    current_period: CurrentPeriod,
}

/// A new session: the bearer token and whom it belongs to.
#[derive(Serialize, ToSchema)]
pub struct Session {
    /// The bearer token: send it as `Authorization: Bearer TOKEN`.
    access_token: String,
    /// Always `bearer`.
    #[schema(example = "bearer")]
    token_type: &'static str,
    /// Whom the token belongs to.
    user: Me,
}

/// The body of `PATCH /api/v1/users/me`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// The monthly budget, a decimal string with at most cents, at least the instance minimum.
    #[schema(example = "5.00")]
    budget: String,
}

/// The current user's own view, read from the store and the ledger.
pub async fn me_view(state: &AppState, user_id: i64) -> Result<Me, ApiError> {
    let o = accounts::overview(state, user_id).await?;
    Ok(Me {
        r#type: "user",
        handle: format!("{}@{}", o.user.username, state.settings.domain),
        budget: o.user.budget(),
        username: o.user.username,
        currency: state.settings.currency.to_string(),
        wallet: o.wallet,
        min_budget: state.settings.min_budget,
        earnings: o.earnings,
        current_period: CurrentPeriod {
            period: o.period.to_string(),
            flattrs: o.flattrs,
            cost: o.cost,
            per_flattr: o.per_flattr,
        },
    })
}

/// Signs up and returns a bearer token. The budget starts at the instance minimum.
#[utoipa::path(post, path = "/users", tag = "users", request_body = Credentials,
    responses((status = 201, body = Session, description = "The new user and a bearer token"), (status = 403, body = ErrorBody, description = "registrations_closed: this instance does not take sign-ups"), (status = 409, body = ErrorBody, description = "username_taken"),
              (status = 422, body = ErrorBody, description = "invalid_parameters: the username or password does not fit the rules (the field is named)"), (status = 429, body = ErrorBody, description = "rate_limited: too many sign-ups from this address; see Retry-After"), (status = 503, body = ErrorBody, description = "busy: every password-hashing slot is taken; see Retry-After")))]
async fn sign_up(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    Json(body): Json<Credentials>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    let (mut tx, user) = accounts::sign_up(&state, client, &body.username, &body.password).await?;
    let token = tokens::issue(&mut tx, user.id, state.clock.now()).await?;
    tx.commit().await?;
    let me = me_view(&state, user.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(Session {
            access_token: token,
            token_type: "bearer",
            user: me,
        }),
    ))
}

/// Logs in with username and password and returns a new bearer token.
#[utoipa::path(post, path = "/tokens", tag = "users", request_body = Credentials,
    responses((status = 201, body = Session, description = "A new bearer token and its user"), (status = 401, body = ErrorBody, description = "invalid_credentials: wrong username or password"),
              (status = 429, body = ErrorBody, description = "rate_limited: too many log-ins from this address; see Retry-After"), (status = 503, body = ErrorBody, description = "busy: every password-hashing slot is taken; see Retry-After")))]
async fn log_in(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    Json(body): Json<Credentials>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    let user = accounts::log_in(&state, client, &body.username, &body.password).await?;
    let mut tx = state.store.begin().await?;
    let token = tokens::issue(&mut tx, user.id, state.clock.now()).await?;
    tx.commit().await?;
    let me = me_view(&state, user.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(Session {
            access_token: token,
            token_type: "bearer",
            user: me,
        }),
    ))
}

/// Revokes the token this request is made with.
#[utoipa::path(delete, path = "/tokens/current", tag = "users", security(("bearer" = [])),
    responses((status = 204, description = "The token is revoked"), (status = 401, body = ErrorBody, description = "No valid bearer token (unauthorized)")))]
async fn log_out(State(state): State<AppState>, auth: AuthUser) -> Result<StatusCode, ApiError> {
    let mut tx = state.store.begin().await?;
    tokens::revoke(&mut tx, &auth.token).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user: wallet, budget, earnings and what the current period will cost.
#[utoipa::path(get, path = "/user", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Me, description = "Me: wallet, budget, earnings and what this period costs per flattr"), (status = 401, body = ErrorBody, description = "No valid bearer token (unauthorized)")))]
async fn me(State(state): State<AppState>, auth: AuthUser) -> Result<Json<Me>, ApiError> {
    Ok(Json(me_view(&state, auth.id).await?))
}

/// Sets the monthly budget.
#[utoipa::path(patch, path = "/user", tag = "users", security(("bearer" = [])), request_body = UserUpdate,
    responses((status = 200, body = Me, description = "Me, with the new budget"), (status = 422, body = ErrorBody, description = "invalid_parameters: the budget is not an amount at least min_budget")))]
async fn update_me(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(body): Json<UserUpdate>,
) -> Result<Json<Me>, ApiError> {
    accounts::set_budget(&state, auth.id, &body.budget).await?;
    Ok(Json(me_view(&state, auth.id).await?))
}

/// A user's public profile.
#[utoipa::path(get, path = "/users/{username}", tag = "users",
    params(("username" = String, Path, description = "A username on this instance")),
    responses((status = 200, body = PublicUser, description = "The user's public profile"), (status = 404, body = ErrorBody, description = "not_found: no such user")))]
async fn public_user(
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> Result<Json<PublicUser>, ApiError> {
    let user = users::by_name(state.store.pool(), &username).await?;
    Ok(Json(public_view(&state, &user)))
}

/// The public view of a user.
pub fn public_view(state: &AppState, user: &users::UserRow) -> PublicUser {
    PublicUser {
        r#type: "user",
        handle: format!("{}@{}", user.username, state.settings.domain),
        link: state
            .settings
            .base_url
            .join(&format!("users/{}", user.username))
            .map(|u| u.to_string())
            .unwrap_or_default(),
        username: user.username.clone(),
        created_at: crate::store::from_epoch(user.created_at),
    }
}
