//! Request extractors whose failures are JSON errors: the body, the path, the query, and the
//! bearer-token user (and the admin among them).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use crate::store::{tokens, users};

/// `axum::Json`, but a malformed or oversized body is answered with our JSON error.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// axum's `Path` whose rejection is our JSON error.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// axum's `Query` whose rejection is our JSON error.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// The bearer token a request carries, as written, not yet checked against the database:
/// for the click, whose own statement checks it (`flattring::click_with_token`); everything
/// else takes [`AuthUser`]. A request without one is refused with 401 here.
#[derive(Debug, Clone)]
pub struct BearerToken(pub String);

impl BearerToken {
    /// The user this token belongs to (401 `unauthorized` when none does).
    pub async fn user(self, state: &AppState) -> Result<AuthUser, ApiError> {
        let id = tokens::user_of(state.store.pool(), &self.0)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        Ok(AuthUser { id, token: self.0 })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for BearerToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|token| !token.is_empty() && token.len() <= 128)
            .map(|token| BearerToken(token.to_owned()))
            .ok_or_else(ApiError::unauthorized)
    }
}

/// The user a request's bearer token belongs to.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The logged-in user's id.
    pub id: i64,
    /// The bearer token of the request (to log it out).
    pub token: String,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        BearerToken::from_request_parts(parts, state)
            .await?
            .user(state)
            .await
    }
}

/// A user whose bearer token is valid and who is an instance admin (`is_admin`); anybody
/// else with a valid token gets 403 `forbidden`.
#[derive(Debug, Clone)]
pub struct AdminUser(pub AuthUser);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        let row = users::by_id(state.store.pool(), user.id).await?;
        if row.is_admin == 0 {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "forbidden",
                "only an instance admin may do this",
            ));
        }
        Ok(AdminUser(user))
    }
}

/// The user, when the request carries a valid token; anonymous otherwise.
pub struct MaybeUser(pub Option<AuthUser>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            AuthUser::from_request_parts(parts, state)
                .await
                .map(|u| MaybeUser(Some(u)))
        } else {
            Ok(MaybeUser(None))
        }
    }
}

/// The address of the client, for the per-address rate limits: the connection's peer, or —
/// when that peer is one of `trusted_proxies` — the last address in `X-Forwarded-For` that is
/// not a trusted proxy (the proxy appends the address it saw; earlier entries are the
/// client's word and could be anything).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Requests served without a socket (none in the server; possible in tests that call
        // the router directly) count as one unspecified client.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |info| {
                info.0.ip().to_canonical()
            });
        let trusted = &state.settings.trusted_proxies;
        if !trusted.contains(&peer) {
            return Ok(ClientIp(peer));
        }
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .map(|a| a.to_canonical())
            .collect::<Vec<_>>();
        let client = forwarded
            .into_iter()
            .rev()
            .find(|a| !trusted.contains(a))
            .unwrap_or(peer);
        Ok(ClientIp(client))
    }
}
