//! The inboxes (`/users/{name}/inbox` and the shared `/inbox`): every check of DESIGN.md
//! before anything counts.
//!
//! In order: the body's `Digest` matches; the activity parses; its id is on its actor's domain
//! and not ours (library), then on its actor's exact origin (ours, in each activity's
//! `verify`); the actor is fetched (content type and id checked) and the `Signature` verifies
//! with that actor's own key, so a key of another actor fails; the `Date` is no older than the
//! signature's validity; the object is one of our things in our database; period, currency and
//! value are valid; an id seen before changes nothing. A refusal is a 4xx with the reason,
//! also logged.

use activitypub_federation::axum::inbox::{ActivityData, receive_activity};
use activitypub_federation::config::Data;
use axum::http::StatusCode;

use super::FederationError;
use super::activities::InboxActivity;
use super::actors::RemoteActor;
use crate::state::AppState;

pub async fn receive(
    data: Data<AppState>,
    activity: ActivityData,
) -> Result<StatusCode, FederationError> {
    receive_activity::<InboxActivity, RemoteActor, AppState>(activity, &data).await?;
    Ok(StatusCode::ACCEPTED)
}
