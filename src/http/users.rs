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
use crate::domain::money::Money;
use crate::domain::period::Period;
use crate::domain::split::close_user;
use crate::domain::username::{NewPassword, Username};
use crate::domain::{ParseError, password};
use crate::federation::actors::generate_keys;
use crate::ledger::{self, Account};
use crate::store::users::NewUser;
use crate::store::{StoreError, flattrs, tokens, users};

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
    #[schema(example = "alice")]
    username: String,
    #[schema(example = "correct horse battery")]
    password: String,
}

/// A user as anyone may see them.
#[derive(Serialize, ToSchema)]
pub struct PublicUser {
    #[schema(example = "user")]
    r#type: &'static str,
    username: String,
    /// The fediverse handle, `NAME@DOMAIN`.
    handle: String,
    link: String,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// What this period will cost the user so far.
#[derive(Serialize, ToSchema)]
pub struct CurrentPeriod {
    #[schema(example = "2026-11")]
    period: String,
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
    #[schema(example = "user")]
    r#type: &'static str,
    username: String,
    handle: String,
    #[schema(example = "EUR")]
    currency: String,
    #[schema(value_type = String, example = "20.00")]
    wallet: Money,
    #[schema(value_type = String, example = "2.00")]
    budget: Money,
    #[schema(value_type = String, example = "2.00")]
    min_budget: Money,
    #[schema(value_type = String, example = "0.3333")]
    earnings: Money,
    current_period: CurrentPeriod,
}

/// A new session: the bearer token and whom it belongs to.
#[derive(Serialize, ToSchema)]
pub struct Session {
    access_token: String,
    #[schema(example = "bearer")]
    token_type: &'static str,
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
    let pool = state.store.pool();
    let user = users::by_id(pool, user_id).await?;
    let wallet = ledger::balance(pool, &Account::Wallet(user_id)).await?;
    let earnings = ledger::balance(pool, &Account::Earnings(user_id)).await?;
    let period = Period::containing(state.clock.now());
    let count = flattrs::count_of_user(pool, user_id, period).await?;
    let estimate = close_user(
        user.budget(),
        wallet,
        state.settings.fee_rate,
        usize::try_from(count).unwrap_or(0),
    );
    Ok(Me {
        r#type: "user",
        handle: format!("{}@{}", user.username, state.settings.domain),
        budget: user.budget(),
        username: user.username,
        currency: state.settings.currency.to_string(),
        wallet,
        min_budget: state.settings.min_budget,
        earnings,
        current_period: CurrentPeriod {
            period: period.to_string(),
            flattrs: count,
            cost: if count > 0 {
                estimate.spend
            } else {
                Money::ZERO
            },
            per_flattr: estimate.shares.last().copied().unwrap_or(Money::ZERO),
        },
    })
}

/// Signs up and returns a bearer token. The budget starts at the instance minimum.
#[utoipa::path(post, path = "/users", tag = "users", request_body = Credentials,
    responses((status = 201, body = Session), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn sign_up(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    Json(body): Json<Credentials>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    if !state.settings.registrations_open {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "registrations_closed",
            "this instance does not take sign-ups; ask its admin for an account",
        ));
    }
    state.limits.sign_up.check(&client)?;
    let username = Username::parse(&body.username)?;
    let password = NewPassword::parse(&body.password)?;
    // argon2 and RSA key generation are CPU- and memory-heavy: a few at a time, off the async
    // threads.
    let (hash, keys) = state
        .limits
        .heavy(move || (password::hash(&password), generate_keys()))
        .await?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let new = NewUser {
        username: &username,
        password_hash: &hash,
        budget: state.settings.min_budget,
        is_admin: false,
        public_key: &keys.public_key,
        private_key: &keys.private_key,
    };
    let user = users::create(&mut tx, &new, now).await?;
    ledger::open_user_accounts(&mut tx, user.id).await?;
    let token = tokens::issue(&mut tx, user.id, now).await?;
    tx.commit().await?;
    tracing::info!(user = %username, "signed up");
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
    responses((status = 201, body = Session), (status = 401, body = ErrorBody),
              (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn log_in(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    Json(body): Json<Credentials>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    state.limits.login.check(&client)?;
    let wrong = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "wrong username or password",
        )
    };
    let user = match users::by_name(state.store.pool(), &body.username).await {
        Ok(user) => Some(user),
        Err(StoreError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    // An unknown name is checked against a dummy hash: it costs what a known one costs, so
    // neither the answer's time nor the load tells which names exist.
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let candidate = body.password;
    let ok = state
        .limits
        .heavy(move || password::verify_or_dummy(stored.as_deref(), &candidate))
        .await?;
    let Some(user) = user.filter(|_| ok) else {
        return Err(wrong());
    };
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
    responses((status = 204), (status = 401, body = ErrorBody)))]
async fn log_out(State(state): State<AppState>, auth: AuthUser) -> Result<StatusCode, ApiError> {
    let mut tx = state.store.begin().await?;
    tokens::revoke(&mut tx, &auth.token).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user: wallet, budget, earnings and what the current period will cost.
#[utoipa::path(get, path = "/user", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, auth: AuthUser) -> Result<Json<Me>, ApiError> {
    Ok(Json(me_view(&state, auth.id).await?))
}

/// Sets the monthly budget.
#[utoipa::path(patch, path = "/user", tag = "users", security(("bearer" = [])), request_body = UserUpdate,
    responses((status = 200, body = Me), (status = 422, body = ErrorBody)))]
async fn update_me(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(body): Json<UserUpdate>,
) -> Result<Json<Me>, ApiError> {
    let budget = Money::parse_payable("budget", &body.budget)?;
    if budget < state.settings.min_budget {
        return Err(ParseError::new(
            "budget",
            format!(
                "must be at least the instance minimum of {}",
                state.settings.min_budget
            ),
        )
        .into());
    }
    let mut tx = state.store.begin().await?;
    users::set_budget(&mut tx, auth.id, budget).await?;
    tx.commit().await?;
    Ok(Json(me_view(&state, auth.id).await?))
}

/// A user's public profile.
#[utoipa::path(get, path = "/users/{username}", tag = "users",
    params(("username" = String, Path)),
    responses((status = 200, body = PublicUser), (status = 404, body = ErrorBody)))]
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
