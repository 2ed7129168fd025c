//! The inboxes (`/users/{name}/inbox` and the shared `/inbox`): every check of DESIGN.md
//! before anything counts.
//!
//! In order: if the activity parses, its id is on its actor's exact origin and the actor is not
//! one of ours (our own check, before any signature work); the body's digest matches; the
//! activity parses; the actor is fetched (content type and id checked) and the signature verifies with that actor's
//! own key, so a key of another actor fails; the signature is no older than its validity; the
//! object is one of our things in our database; period, currency and value are valid; an id
//! seen before changes nothing. A refusal is a 4xx with the reason, also logged.
//!
//! Draft-cavage signatures (Mastodon's) go through `activitypub_federation`. RFC 9421
//! signatures (`Signature-Input`, Fedify's first choice) are verified here, then the same
//! activity checks run.

use activitypub_federation::axum::inbox::{ActivityData, receive_activity};
use activitypub_federation::config::Data;
use activitypub_federation::fetch::object_id::ObjectId;
use activitypub_federation::traits::{Activity, Actor};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::activities::{InboxActivity, check_origins};
use super::actors::RemoteActor;
use super::{FederationError, rfc9421, same_origin};
use crate::state::AppState;

/// Signatures older than this are expired (as for draft-cavage, one hour).
const VALIDITY_SECS: i64 = 3600;
/// How far in the future a signature's `created` may be (clocks differ).
const CLOCK_SKEW_SECS: i64 = 300;
/// The largest activity accepted.
const MAX_BODY: usize = 256 * 1024;

pub async fn receive(
    data: Data<AppState>,
    request: Request,
) -> Result<StatusCode, FederationError> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        FederationError::refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "the activity is too large",
        )
    })?;
    // Our origin rules (the id on its actor's origin; never one of our own actors) come before
    // any signature check or key fetch, for both signature schemes: a forgery is refused for
    // what it claims, with our reason, instead of the library's vaguer one for a local id.
    if let Ok(activity) = serde_json::from_slice::<InboxActivity>(&body) {
        check_origins(&data, activity.id(), activity.actor())?;
    }
    if parts.headers.contains_key("signature-input") {
        receive_rfc9421(&data, parts, body).await?;
        return Ok(StatusCode::ACCEPTED);
    }
    let request = Request::from_parts(parts, axum::body::Body::from(body));
    let activity = ActivityData::from_request(request, &())
        .await
        .map_err(|r| {
            FederationError::refused(
                r.into_response().status(),
                "invalid_request",
                "the body could not be read",
            )
        })?;
    receive_activity::<InboxActivity, RemoteActor, AppState>(activity, &data).await?;
    Ok(StatusCode::ACCEPTED)
}

fn unauthorized(reason: impl Into<String>) -> FederationError {
    FederationError::refused(StatusCode::UNAUTHORIZED, "signature_invalid", reason)
}

async fn receive_rfc9421(
    data: &Data<AppState>,
    parts: axum::http::request::Parts,
    body: axum::body::Bytes,
) -> Result<(), FederationError> {
    let header = |name: &str| {
        let values: Vec<&str> = parts
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| {
            values
                .iter()
                .map(|v| v.trim())
                .collect::<Vec<_>>()
                .join(", ")
        })
    };
    rfc9421::check_content_digest(header("content-digest").as_deref(), &body)
        .map_err(unauthorized)?;
    let signature = rfc9421::parse(
        &header("signature-input").unwrap_or_default(),
        &header("signature").ok_or_else(|| unauthorized("Signature-Input without Signature"))?,
    )
    .map_err(unauthorized)?;
    // The signature must cover the request line and the body, or it authenticates neither.
    let covers = |c: &str| signature.components.iter().any(|s| s == c);
    if !covers("@method")
        || !(covers("@target-uri") || covers("@path") || covers("@request-target"))
        || !covers("content-digest")
    {
        return Err(unauthorized(
            "the signature must cover @method, the target and content-digest",
        ));
    }
    // Transport time, not the instance's business clock (which tests move between periods):
    // signatures are stamped with the sender's real clock, as for draft-cavage.
    let now = chrono::Utc::now().timestamp();
    let created = signature
        .created
        .ok_or_else(|| unauthorized("the signature has no created time"))?;
    if created > now + CLOCK_SKEW_SECS
        || now - created > VALIDITY_SECS
        || signature.expires.is_some_and(|e| e < now)
    {
        return Err(unauthorized(format!(
            "the signature is expired or not yet valid (created {created})"
        )));
    }

    let activity: InboxActivity = serde_json::from_slice(&body).map_err(|e| {
        FederationError::refused(StatusCode::BAD_REQUEST, "invalid_activity", e.to_string())
    })?;
    let actor_id = activity.actor().clone();
    let key_owner = url::Url::parse(&signature.key_id)
        .map(|mut key| {
            key.set_fragment(None);
            key
        })
        .map_err(|_| unauthorized("the keyid is not a URL"))?;
    if key_owner != actor_id || !same_origin(activity.id(), &actor_id) {
        return Err(FederationError::refused(
            StatusCode::FORBIDDEN,
            "origin_mismatch",
            format!(
                "the key {} does not belong to the actor {actor_id}",
                signature.key_id
            ),
        ));
    }
    activity.verify(data).await?;
    let actor: RemoteActor = ObjectId::<RemoteActor>::from(actor_id.clone())
        .dereference(data)
        .await?;

    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let target_uri = data
        .settings
        .base_url
        .join(path)
        .map_err(|_| unauthorized("the request target is not a URL"))?;
    {
        // Scoped: the header reader must not live across an await (it is not Sync).
        let target = rfc9421::Target {
            method: parts.method.as_str(),
            uri: &target_uri,
            header: &header,
        };
        let base = rfc9421::base(&signature, &target).map_err(unauthorized)?;
        rfc9421::verify(&signature, &base, actor.public_key_pem()).map_err(unauthorized)?;
    }
    activity.receive(data).await
}
