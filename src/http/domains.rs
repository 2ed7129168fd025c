//! Domains: claim one (and get the token to publish), verify it, list mine. A verified domain
//! proves every thing of its user under it, and lets auto-submit create things there.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{AuthUser, Json, Path};
use crate::domain::proof::Domain;
use crate::proving;
use crate::store::domains::{self, DomainRow};

/// The domain routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_domains, claim_domain))
        .routes(routes!(verify_domain))
}

/// A request for a domain's verification token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainClaim {
    /// A host name, optionally with a port.
    #[schema(example = "blog.example")]
    domain: String,
}

/// A domain I claimed, and how to verify it.
#[derive(Serialize, ToSchema)]
pub struct UserDomain {
    /// The domain, lower case (`blog.example`).
    #[schema(example = "blog.example")]
    domain: String,
    /// Put exactly this text in the file at `verification_url`.
    token: String,
    /// Where the token must be published.
    #[schema(example = "https://blog.example/.well-known/fedflattr")]
    verification_url: String,
    /// Whether the token file was found (or an admin vouched for the domain).
    verified: bool,
    /// `well_known` (the token was read there) or `admin` (an admin vouched).
    verified_by: Option<String>,
    /// When it was verified; null until then.
    verified_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn view(state: &AppState, row: DomainRow) -> UserDomain {
    let verification_url = Domain::parse(&row.domain)
        .and_then(|d| d.well_known_url(state.settings.development_mode))
        .map(|u| u.to_string())
        .unwrap_or_default();
    UserDomain {
        domain: row.domain,
        token: row.token,
        verification_url,
        verified: row.verified_at.is_some(),
        verified_by: row.verified_by,
        verified_at: row.verified_at.map(crate::store::from_epoch),
    }
}

/// Claims a domain: answers the token to publish at `https://DOMAIN/.well-known/fedflattr`
/// (the same token when asked again), then call `POST /user/domains/{domain}/verify`.
#[utoipa::path(post, path = "/user/domains", tag = "domains", security(("bearer" = [])), request_body = DomainClaim,
    responses((status = 201, body = UserDomain, description = "The claimed domain, with the token to publish at https://DOMAIN/.well-known/fedflattr"), (status = 409, body = ErrorBody, description = "domain_taken"),
              (status = 422, body = ErrorBody, description = "invalid_parameters, instance_url")))]
async fn claim_domain(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(body): Json<DomainClaim>,
) -> Result<(StatusCode, Json<UserDomain>), ApiError> {
    let domain = Domain::parse(&body.domain)?;
    let mut tx = state.store.begin().await?;
    let row = proving::claim_domain(&mut tx, &state, auth.id, &domain).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(view(&state, row))))
}

/// Verifies a claimed domain by reading its `.well-known/fedflattr` file. On success every
/// thing of mine under the domain is proven and the money held for them goes to my earnings.
#[utoipa::path(post, path = "/user/domains/{domain}/verify", tag = "domains", security(("bearer" = [])),
    params(("domain" = String, Path, example = "blog.example", description = "A domain I claimed")),
    responses((status = 200, body = UserDomain, description = "The domain, verified"), (status = 404, body = ErrorBody, description = "not_found: this user has not claimed that domain"),
              (status = 409, body = ErrorBody, description = "domain_taken"),
              (status = 422, body = ErrorBody, description = "verification_failed")))]
async fn verify_domain(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(domain): Path<String>,
) -> Result<Json<UserDomain>, ApiError> {
    let domain = Domain::parse(&domain)?;
    let row = proving::verify_domain(&state, auth.id, &domain).await?;
    Ok(Json(view(&state, row)))
}

/// My claimed domains, verified or not.
#[utoipa::path(get, path = "/user/domains", tag = "domains", security(("bearer" = [])),
    responses((status = 200, body = [UserDomain], description = "My claimed and verified domains")))]
async fn my_domains(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<Json<Vec<UserDomain>>, ApiError> {
    let rows = domains::all_of_user(state.store.pool(), auth.id).await?;
    Ok(Json(rows.into_iter().map(|r| view(&state, r)).collect()))
}
