//! Users and things at their stable URLs as ActivityPub JSON for servers
//! (`Accept: application/activity+json`; signed GETs only under authorized fetch). The same
//! URLs answer people with HTML: `web::public` owns those routes, asks
//! [`FetchRequest::wants_activity_json`] and hands servers to these functions.

use activitypub_federation::config::Data;
use axum::response::Response;

use super::FederationError;
use super::actors::{activity_json, person_json};
use super::authorized::FetchRequest;
use super::objects::page_json;
use crate::state::AppState;
use crate::store::{StoreError, things, users};

/// The `Person` at GET /users/{name}.
pub async fn user(
    data: &Data<AppState>,
    request: &FetchRequest,
    name: &str,
) -> Result<Response, FederationError> {
    let user = users::by_name(data.store.pool(), name).await?;
    request.authorize(data).await?;
    Ok(activity_json(person_json(data, &user)))
}

/// The `Page` at GET /things/{id}.
pub async fn thing(
    data: &Data<AppState>,
    request: &FetchRequest,
    id: i64,
) -> Result<Response, FederationError> {
    let thing = things::by_id(data.store.pool(), id).await?;
    if thing.owner_id.is_none() {
        // A thing of another server: it is served there, not here.
        return Err(StoreError::NotFound("thing").into());
    }
    request.authorize(data).await?;
    Ok(activity_json(page_json(data, &thing)))
}
