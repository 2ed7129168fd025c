//! The inboxes (`/users/{name}/inbox` and the shared `/inbox`): every check of DESIGN.md
//! before anything counts.
//!
//! In order: the body's digest matches; the activity parses; its id is on its actor's domain
//! and not ours, then on its actor's exact origin (ours, in each activity's `verify`); the
//! actor is fetched (content type and id checked) and the signature verifies with that actor's
//! own key, so a key of another actor fails; the signature is no older than its validity; the
//! object is one of our things in our database; period, currency and value are valid; an id
//! seen before changes nothing. A refusal is a 4xx with the reason, also logged.
//!
//! Before any of that, and before anything is fetched: the sending origin's rate limit, the
//! body's size (`max_body_bytes`, 413) and the signature policy (`signature_policy`: what the
//! signature must cover, and its time window).
//!
//! Both signature schemes are verified here with `ring`: draft-cavage (Mastodon's, with
//! `cavage`) and RFC 9421 (`Signature-Input`, Fedify's first choice, with `rfc9421`), with the
//! actor's key parsed once and cached (`keys::KeyCache`; a failing cached key makes us fetch
//! the actor once more, for key rotation). `activitypub_federation` still fetches the actors.
//! Then the same activity checks run; a Like's writes go through the store's group-commit
//! writer, and its 202 is sent after that batch committed.

use activitypub_federation::config::Data;
use activitypub_federation::fetch::object_id::ObjectId;
use activitypub_federation::traits::{Activity, Actor};
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::activities::{InboxActivity, check_origins};
use super::actors::RemoteActor;
use super::signature_policy::{self, PolicyError};
use super::{FederationError, cavage, client, origin, rfc9421, same_origin};
use crate::keys::ActorKey;
use crate::limits::Limited;
use crate::state::AppState;

/// Our inboxes (the users' and the shared one): the rate limit, the body's size, the signature
/// policy, then every check of the activity (see the module's documentation).
pub async fn receive(data: Data<AppState>, request: Request) -> Response {
    if let Some(sender) = signing_origin(request.headers())
        && let Err(Limited::TooMany { retry_after } | Limited::Busy { retry_after }) =
            data.limits.inbox.check(&sender)
    {
        let mut response = FederationError::refused(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many deliveries from {sender}; retry in {retry_after} s"),
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(retry_after));
        return response;
    }
    match receive_checked(&data, request).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// The origin of the key a request claims to be signed with, before anything is verified:
/// the key for the per-origin rate limit. A forger can spend another origin's quota, but only
/// with requests that then fail verification; the real peer's deliveries are retried.
fn signing_origin(headers: &HeaderMap) -> Option<String> {
    let header = headers
        .get("signature-input")
        .or_else(|| headers.get("signature"))?
        .to_str()
        .ok()?;
    let lower = header.to_ascii_lowercase();
    let start = lower.find("keyid=\"")? + "keyid=\"".len();
    let end = header[start..].find('"')? + start;
    url::Url::parse(&header[start..end])
        .ok()
        .map(|key| origin(&key))
}

/// Reads the body, refusing one larger than `max_body_bytes` with 413.
async fn read_body(data: &Data<AppState>, body: Body) -> Result<Bytes, FederationError> {
    let limit = data.settings.max_body_bytes;
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large =
            std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                e.source()
            })
            // axum wraps http-body-util's own error type for a body over the limit; the type,
            // not its message, says what happened.
            .any(|e| e.is::<http_body_util::LengthLimitError>());
        if too_large {
            FederationError::refused(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                format!("the activity is larger than {limit} bytes"),
            )
        } else {
            FederationError::refused(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the body could not be read",
            )
        }
    })
}

fn policy_refusal(error: PolicyError) -> FederationError {
    let code = match error {
        PolicyError::Incomplete(_) | PolicyError::Unsigned => "signature_incomplete",
        _ => "signature_invalid",
    };
    FederationError::refused(StatusCode::UNAUTHORIZED, code, error.to_string())
}

async fn receive_checked(data: &Data<AppState>, request: Request) -> Result<(), FederationError> {
    let (parts, body) = request.into_parts();
    let body = read_body(data, body).await?;
    // Our origin rules (the id on its actor's origin; never one of our own actors) come before
    // any signature check or key fetch, for both signature schemes: a forgery is refused for
    // what it claims, with our reason, instead of the library's vaguer one for a local id.
    let parsed = serde_json::from_slice::<InboxActivity>(&body).ok();
    let actor_origin = parsed.as_ref().map(|activity| origin(activity.actor()));
    if let (Some(activity), Some(actor_origin)) = (&parsed, &actor_origin) {
        check_origins(data, activity.id(), activity.actor())?;
        // A Like from an actor whose key we hold is checked against the admin's blocks by the
        // statement that records it (`received_likes::SEEN`): exact, and one read less on the
        // hottest path. Anything else, and any activity whose actor we would have to fetch, is
        // checked here first, so that nothing of a blocked peer is fetched or examined.
        let checked_when_recorded =
            matches!(activity, InboxActivity::Like(_)) && data.keys.get(activity.actor()).is_some();
        if !checked_when_recorded {
            refuse_blocked_peer(data, actor_origin).await?;
        }
    }
    // The signer's server too: a blocked peer does not get in by naming another actor.
    if let Some(signer) = signing_origin(&parts.headers)
        && actor_origin.as_ref() != Some(&signer)
    {
        refuse_blocked_peer(data, &signer).await?;
    }
    if parts.headers.contains_key("signature-input") {
        return receive_rfc9421(data, parts, body).await;
    }
    let signature = parts
        .headers
        .get("signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| policy_refusal(PolicyError::Unsigned))?;
    let date = parts
        .headers
        .get(header::DATE)
        .and_then(|v| v.to_str().ok());
    // Transport time, not the instance's business clock (which tests move between periods):
    // signatures are stamped with the sender's real clock.
    signature_policy::check_cavage(signature, date, true, chrono::Utc::now())
        .map_err(policy_refusal)?;
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    cavage::check_digest(header("digest"), &body).map_err(unauthorized)?;
    let activity = match parsed {
        Some(activity) => activity,
        None => serde_json::from_slice::<InboxActivity>(&body).map_err(|e| {
            FederationError::refused(StatusCode::BAD_REQUEST, "invalid_activity", e.to_string())
        })?,
    };
    refuse_blocked_host(data, activity.id())?;
    let signature = cavage::Signature::parse(signature).map_err(unauthorized)?;
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let signing_string = signature
        .signing_string(
            parts.method.as_str(),
            path,
            &parts.headers,
            &client::host_and_port(&data.settings.base_url),
        )
        .map_err(unauthorized)?;
    // The key of the activity's own actor, whatever the keyId says (as the library did): a
    // key of another actor does not verify.
    verify_with_actor_key(data, activity.actor(), |key| {
        signature.verify(&signing_string, key)
    })
    .await?;
    activity.verify(data).await?;
    activity.receive(data).await
}

/// Refuses an activity from a server in `blocked_domains` (403 `blocked`), as the library's
/// URL check did for every activity id, also when its actor is known from before the block.
fn refuse_blocked_host(data: &Data<AppState>, id: &url::Url) -> Result<(), FederationError> {
    if id
        .host_str()
        .is_some_and(|host| data.settings.is_blocked_host(host))
    {
        return Err(
            activitypub_federation::error::Error::UrlVerificationError(client::BLOCKED).into(),
        );
    }
    Ok(())
}

/// Verifies a signature with the key of `actor_id` (`verifies` says whether a key does): the
/// cached key when there is one, else the actor as fetched (or read back). When a cached key
/// fails, the actor is fetched again — it may have rotated its key — at most once per
/// `keys::REFETCH_EVERY`.
async fn verify_with_actor_key(
    data: &Data<AppState>,
    actor_id: &url::Url,
    verifies: impl Fn(&ActorKey) -> bool,
) -> Result<(), FederationError> {
    let invalid = || {
        FederationError::refused(
            StatusCode::UNAUTHORIZED,
            "signature_invalid",
            format!("the signature does not verify with the key of {actor_id}"),
        )
    };
    if let Some(key) = data.keys.get(actor_id) {
        if verifies(&key) {
            return Ok(());
        }
        if !data.keys.may_refetch(actor_id) {
            return Err(invalid());
        }
        let actor = actor_fetched(data, actor_id, true).await?;
        let key = cached_key(data, &actor)?;
        return if verifies(&key) {
            Ok(())
        } else {
            Err(invalid())
        };
    }
    let actor = actor_named(data, actor_id).await?;
    let key = cached_key(data, &actor)?;
    if verifies(&key) {
        return Ok(());
    }
    // Read back from the database, the key may be an old one: fetch the actor once more.
    if !data.keys.may_refetch(actor_id) {
        return Err(invalid());
    }
    let actor = actor_fetched(data, actor_id, true).await?;
    let key = cached_key(data, &actor)?;
    if verifies(&key) {
        Ok(())
    } else {
        Err(invalid())
    }
}

/// Parses `actor`'s key and caches it.
fn cached_key(data: &Data<AppState>, actor: &RemoteActor) -> Result<ActorKey, FederationError> {
    let key = ActorKey::from_pem(actor.public_key_pem()).map_err(unauthorized)?;
    data.keys.put(&actor.ap_id.0, key.clone());
    Ok(key)
}

fn unauthorized(reason: impl Into<String>) -> FederationError {
    FederationError::refused(StatusCode::UNAUTHORIZED, "signature_invalid", reason)
}

/// Refuses (403 `peer_blocked`) every activity of a peer an admin blocked at run time
/// (`fedflattr admin peer block`, `store::peers`): Likes, Undos, statements and answers alike,
/// before anything is verified, fetched or credited. Hosts in `blocked_domains` are refused
/// further on (403 `blocked`, `authorized::key_owner` and the client's blocklist).
async fn refuse_blocked_peer(data: &Data<AppState>, peer: &str) -> Result<(), FederationError> {
    let blocked = crate::store::peers::is_blocked(data.store.pool(), peer)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Database(e) => FederationError::from(e),
            other => FederationError::refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                other.to_string(),
            ),
        })?;
    if blocked {
        return Err(FederationError::refused(
            StatusCode::FORBIDDEN,
            "peer_blocked",
            format!("{peer} is blocked by this instance's admin"),
        ));
    }
    Ok(())
}

async fn receive_rfc9421(
    data: &Data<AppState>,
    parts: axum::http::request::Parts,
    body: Bytes,
) -> Result<(), FederationError> {
    let header = |name: &str| rfc9421::field(&parts.headers, name);
    rfc9421::check_content_digest(header("content-digest").as_deref(), &body)
        .map_err(unauthorized)?;
    let signature = rfc9421::parse(
        &header("signature-input").unwrap_or_default(),
        &header("signature").ok_or_else(|| unauthorized("Signature-Input without Signature"))?,
    )
    .map_err(unauthorized)?;
    // The signature must cover the request line (with the host) and the body, or it
    // authenticates neither.
    signature_policy::check_rfc9421(&signature.components, true).map_err(policy_refusal)?;
    // Transport time, not the instance's business clock (see above).
    let now = chrono::Utc::now();
    let created = signature
        .created
        .ok_or_else(|| unauthorized("the signature has no created time"))?;
    signature_policy::check_time(created, now).map_err(policy_refusal)?;
    if let Some(expires) = signature.expires.filter(|e| *e < now.timestamp()) {
        return Err(policy_refusal(PolicyError::Expired(expires)));
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
    let base = {
        // Scoped: the header reader must not live across an await (it is not Sync).
        let target = rfc9421::Target {
            method: parts.method.as_str(),
            uri: &target_uri,
            header: &header,
        };
        rfc9421::base(&signature, &target).map_err(unauthorized)?
    };
    rfc9421::check_algorithm(&signature).map_err(unauthorized)?;
    verify_with_actor_key(data, &actor_id, |key| {
        rfc9421::verify(&signature, &base, key).is_ok()
    })
    .await?;
    activity.receive(data).await
}

/// The actor `actor_id` names, fetched (or read back from the database). The library follows
/// one redirect and the id a document names (on the same domain), and checks the document
/// against where it ended up; an activity's signature must verify with the key of the very
/// actor the activity names, so the actor we end up with must be that one.
async fn actor_named(
    data: &Data<AppState>,
    actor_id: &url::Url,
) -> Result<RemoteActor, FederationError> {
    actor_fetched(data, actor_id, false).await
}

/// [`actor_named`], fetched from its server even when stored and fresh when `forced`.
async fn actor_fetched(
    data: &Data<AppState>,
    actor_id: &url::Url,
    forced: bool,
) -> Result<RemoteActor, FederationError> {
    let id = ObjectId::<RemoteActor>::from(actor_id.clone());
    let actor: RemoteActor = if forced {
        id.dereference_forced(data).await?
    } else {
        id.dereference(data).await?
    };
    if actor.ap_id.0 != *actor_id {
        return Err(FederationError::refused(
            StatusCode::BAD_REQUEST,
            "invalid_actor",
            format!("{actor_id} is not the actor it was fetched as"),
        ));
    }
    Ok(actor)
}
