//! Remote interaction: a visitor whose account is on another instance gives their handle on
//! the flattr page and is sent to flattr from home (like Mastodon's `authorize_interaction`).

use activitypub_federation::config::Data;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::page::{Shown, describe, flattr_page_for};
use crate::domain::thing::ThingUrl;
use crate::federation::discovery;
use crate::federation::objects::thing_url;
use crate::flattring;
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::web::session::Visitor;
use crate::web::{FieldError, Form, PageError};

/// The remote-interaction form: a thing here, a handle elsewhere.
#[derive(Deserialize)]
pub struct RemoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    handle: String,
}

/// POST /flattr/remote: sends the visitor to their home instance's page for flattring this
/// thing, found through WebFinger (its `http://ostatus.org/schema/1.0/subscribe` template).
pub async fn remote(
    data: Data<AppState>,
    visitor: Visitor,
    Form(form): Form<RemoteForm>,
) -> Result<Response, PageError> {
    visitor.check(&form.csrf)?;
    let url = ThingUrl::parse(&form.url)?;
    let described = describe(&data, &url).await?;
    let object = match described.remote_id {
        Some(object) => Ok(object),
        None => record_for_remote(&data, &url).await,
    };
    let found = match object {
        Ok(object) => discovery::interaction_url(&data, &form.handle, &object)
            .await
            .map_err(ApiError::from),
        Err(error) => Err(error),
    };
    match found {
        Ok(there) => Ok(Redirect::to(there.as_str()).into_response()),
        Err(api) => {
            if api.status().is_server_error() {
                return Err(api.into());
            }
            let shown = Shown {
                handle: form.handle,
                error: Some(FieldError {
                    field: "handle".into(),
                    message: api.description().to_owned(),
                }),
                ..Shown::default()
            };
            flattr_page_for(&data, &visitor, &form.url, api.status(), shown).await
        }
    }
}

/// The id of the thing an auto-submit URL names, created now for its owner when it is new
/// (under their verified domain, as its first flattr would create it): a visitor's home
/// instance can flattr only a thing that exists here.
async fn record_for_remote(data: &Data<AppState>, url: &ThingUrl) -> Result<String, ApiError> {
    let target = flattring::find(data, url).await?;
    let mut tx = data.store.begin().await?;
    let thing = flattring::thing_for(&mut tx, data, target).await?;
    tx.commit().await?;
    Ok(thing_url(data, thing.id).to_string())
}
