//! Authorized fetch (Mastodon's "secure mode"): with `authorized_fetch = true`, the ActivityPub
//! documents of our users, things, likes and outboxes are served only to GETs carrying a valid
//! signature (draft-cavage, or RFC 9421) of an actor whose server we do not block; other GETs
//! get a 401 (a blocked server's a 403).
//!
//! What stays public, so that others can bootstrap: the HTML pages for people (content
//! negotiation: only the ActivityPub representation is protected), the instance actor
//! `/actor` (its key verifies our own signed fetches — a peer in secure mode must be able to
//! read it without signing, or two such servers could never meet), WebFinger and NodeInfo.
//!
//! To check a signature we need the signer's key: we fetch its actor with our own signed
//! fetch. That cannot recurse: the other server checks our signature with our instance
//! actor, which is public.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use activitypub_federation::config::Data;
use activitypub_federation::fetch::object_id::ObjectId;
use activitypub_federation::traits::Actor;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest, Sha256};
use url::Url;

use super::actors::RemoteActor;
use super::vocab::wants_activity_json;
use super::{FederationError, rfc9421, signature_policy};
use crate::state::AppState;

/// How old a signed GET's `Date` may be (as for activities, one hour: clocks differ).
const VALIDITY: Duration = Duration::from_secs(3600);

/// A GET for one of our documents: what its signature covers, and what it asks for.
pub struct FetchRequest {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

impl<S: Send + Sync> FromRequestParts<S> for FetchRequest {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(FetchRequest {
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            headers: parts.headers.clone(),
        })
    }
}

impl FetchRequest {
    /// True when the `Accept` header asks for ActivityPub JSON rather than a web page.
    pub fn wants_activity_json(&self) -> bool {
        wants_activity_json(
            self.headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok()),
        )
    }

    /// Lets the request read an ActivityPub document: always when authorized fetch is off,
    /// else only with a valid signature of an actor of a server we do not block.
    pub async fn authorize(&self, data: &Data<AppState>) -> Result<(), FederationError> {
        if !data.settings.authorized_fetch {
            return Ok(());
        }
        let signer = self.signed_by(data).await?;
        tracing::debug!(%signer, path = %self.uri, "answered a signed fetch");
        Ok(())
    }

    /// The actor whose valid signature the request carries: draft-cavage (`Signature`, as
    /// Mastodon signs) or RFC 9421 (`Signature-Input`, as Fedify and GoToSocial may).
    pub async fn signed_by(&self, data: &Data<AppState>) -> Result<Url, FederationError> {
        if self.headers.contains_key("signature-input") {
            return self.signed_by_rfc9421(data).await;
        }
        let mut headers = BTreeMap::new();
        for (name, value) in &self.headers {
            if let Ok(value) = value.to_str() {
                headers.insert(name.as_str().to_owned(), value.to_owned());
            }
        }
        if !headers.contains_key("signature") {
            return Err(unauthorized(
                "this instance answers ActivityPub requests only when they are signed (authorized fetch)",
            ));
        }
        let target = self.uri.path_and_query().map_or("/", |p| p.as_str());
        let unverified = http_signature_normalization::Config::new()
            .set_expiration(VALIDITY)
            .begin_verify(self.method.as_str(), target, headers)
            .map_err(|e| unauthorized(format!("the signature cannot be checked: {e}")))?;
        // The signature must cover the request line and a time, or it could be replayed
        // against any document.
        let covers = |name: &str| {
            unverified
                .signing_string()
                .lines()
                .any(|line| line.starts_with(name))
        };
        if !covers("(request-target): ") || !(covers("date: ") || covers("(created): ")) {
            return Err(unauthorized(
                "the signature must cover (request-target) and date",
            ));
        }
        let actor = key_owner(data, unverified.key_id()).await?;
        let key = RsaPublicKey::from_public_key_pem(actor.public_key_pem()).map_err(|_| {
            unauthorized(format!(
                "{} publishes no RSA key we can read",
                actor.ap_id.0
            ))
        })?;
        let valid = unverified.verify(|signature, signing_string| {
            BASE64.decode(signature).is_ok_and(|signature| {
                key.verify(
                    Pkcs1v15Sign::new::<Sha256>(),
                    &Sha256::digest(signing_string.as_bytes()),
                    &signature,
                )
                .is_ok()
            })
        });
        if !valid {
            return Err(unauthorized(format!(
                "the signature does not verify with the key of {}",
                actor.ap_id.0
            )));
        }
        Ok(actor.ap_id.0)
    }

    /// [`FetchRequest::signed_by`] for an RFC 9421 signature: it must cover `@method` and the
    /// target with our host (the policy of the inbox, without a body), be within the inbox's
    /// time window, and verify with the key of the actor its `keyid` names.
    async fn signed_by_rfc9421(&self, data: &Data<AppState>) -> Result<Url, FederationError> {
        let header = |name: &str| rfc9421::field(&self.headers, name);
        let signature = rfc9421::parse(
            &header("signature-input").unwrap_or_default(),
            &header("signature")
                .ok_or_else(|| unauthorized("Signature-Input without Signature"))?,
        )
        .map_err(unauthorized)?;
        let policy = |e: signature_policy::PolicyError| unauthorized(e.to_string());
        signature_policy::check_rfc9421(&signature.components, false).map_err(policy)?;
        // Transport time, as for activities: signatures carry the sender's real clock.
        let now = chrono::Utc::now();
        let created = signature
            .created
            .ok_or_else(|| unauthorized("the signature has no created time"))?;
        signature_policy::check_time(created, now).map_err(policy)?;
        if let Some(expires) = signature.expires.filter(|e| *e < now.timestamp()) {
            return Err(policy(signature_policy::PolicyError::Expired(expires)));
        }
        let actor = key_owner(data, &signature.key_id).await?;
        let target = self.uri.path_and_query().map_or("/", |p| p.as_str());
        let target_uri = data
            .settings
            .base_url
            .join(target)
            .map_err(|_| unauthorized("the request target is not a URL"))?;
        let base = rfc9421::base(
            &signature,
            &rfc9421::Target {
                method: self.method.as_str(),
                uri: &target_uri,
                header: &header,
            },
        )
        .map_err(unauthorized)?;
        let key = crate::keys::ActorKey::from_pem(actor.public_key_pem()).map_err(unauthorized)?;
        rfc9421::verify(&signature, &base, &key).map_err(|e| {
            unauthorized(format!(
                "the signature does not verify with the key of {}: {e}",
                actor.ap_id.0
            ))
        })?;
        Ok(actor.ap_id.0)
    }
}

/// The actor whose key `key_id` names, unless its server is blocked. A key id is the actor's
/// URL with a fragment (`#main-key`, Mastodon's), the actor's URL itself, or a URL of its own
/// whose document names the actor (GoToSocial's `/users/NAME/main-key`); the library follows
/// that, and a redirect, to the actor. Either way the signer is the actor whose key verifies
/// the signature, so it is that actor's server that must not be blocked.
async fn key_owner(data: &Data<AppState>, key_id: &str) -> Result<RemoteActor, FederationError> {
    let mut owner = Url::parse(key_id).map_err(|_| unauthorized("the keyId is not a URL"))?;
    owner.set_fragment(None);
    refuse_blocked(data, &owner)?;
    let actor: RemoteActor = ObjectId::<RemoteActor>::from(owner)
        .dereference(data)
        .await?;
    refuse_blocked(data, &actor.ap_id.0)?;
    Ok(actor)
}

fn refuse_blocked(data: &Data<AppState>, url: &Url) -> Result<(), FederationError> {
    if url
        .host_str()
        .is_some_and(|host| data.settings.is_blocked_host(host))
    {
        return Err(FederationError::refused(
            StatusCode::FORBIDDEN,
            "blocked",
            format!("{url}: {}", super::client::BLOCKED),
        ));
    }
    Ok(())
}

fn unauthorized(reason: impl Into<String>) -> FederationError {
    FederationError::refused(StatusCode::UNAUTHORIZED, "signature_required", reason)
}
