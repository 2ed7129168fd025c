//! ActivityPub federation: discovery (WebFinger, NodeInfo), actors, things as objects, the
//! activities (one file each under `activities/`), the inbox and its checks, the persistent
//! delivery queue, and the guard that keeps fetches off private networks.
//!
//! `activitypub_federation` does the protocol plumbing (fetching with content-type and id
//! checks, digest and signature verification, WebFinger). What money needs on top of it lives
//! here: exact-origin checks (scheme, host and port — the library compares domains only), our
//! own objects looked up in our database, a replay guard, and a queue in the database that
//! records every attempt.

pub mod activities;
pub mod actors;
pub mod answers;
pub mod authorized;
pub mod cavage;
pub mod claims;
pub mod client;
pub mod delivery;
pub mod discovery;
pub mod examine;
pub mod inbox;
pub mod instance_keys;
pub mod objects;
pub mod outbox;
pub mod pages;
pub mod payments;
pub mod proof;
pub mod resolve;
pub mod rfc9421;
pub mod signature_policy;
pub mod signing;
pub mod statements;
pub mod vocab;

use activitypub_federation::config::{FederationConfig, FederationMiddleware};
use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use url::Url;

use crate::state::AppState;
use crate::store::StoreError;

/// The federation configuration handed to the library; `Data<AppState>` in handlers.
pub type Federation = FederationConfig<AppState>;

/// Why a federation request failed. `Refused` is the other server's fault and is answered with
/// a 4xx (so that a peer such as Fedify retries with another signature scheme, and nobody
/// retries a forgery forever); `Store` answers as the API does (`not_found`, `conflict`,
/// Flattr's refusals, `invalid_parameters` are 4xx; only database failures are 500); `Internal`
/// is ours and answered with an opaque 500. Rendered by `http::error` (its `IntoResponse`
/// impl), the one place that turns errors into HTTP answers.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    /// A peer's request we do not accept: answered with this status, code and reason.
    #[error("{reason}")]
    Refused {
        /// The HTTP status of the answer, a 4xx (502 when a peer refused our fetch).
        status: StatusCode,
        /// The JSON `error` code (`signature_invalid`, `origin_mismatch`, …).
        code: &'static str,
        /// Why, for the peer's admin and our log.
        reason: String,
    },
    /// The database failed or refused; answered as the API answers it.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The books refused or failed (a settlement step refused, say); answered as the API
    /// answers it.
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
    /// A fault of ours; answered with an opaque 500.
    #[error("internal federation error: {0}")]
    Internal(String),
}

impl FederationError {
    /// A refusal of a peer's request: its status, its error code and why.
    pub fn refused(status: StatusCode, code: &'static str, reason: impl Into<String>) -> Self {
        FederationError::Refused {
            status,
            code,
            reason: reason.into(),
        }
    }
}

impl From<sqlx::Error> for FederationError {
    fn from(e: sqlx::Error) -> Self {
        FederationError::Store(StoreError::Database(e))
    }
}

impl From<activitypub_federation::error::Error> for FederationError {
    /// Errors of the library while handling a request are about what the other side sent or
    /// serves: a bad signature, a bad digest, an unparseable body, an actor we cannot fetch.
    fn from(e: activitypub_federation::error::Error) -> Self {
        use activitypub_federation::error::Error as E;
        if let Some(refused) = client::FetchRefused::in_library_error(&e) {
            return refused.clone().into();
        }
        let (status, code) = match &e {
            E::UrlVerificationError(reason) if *reason == client::BLOCKED => {
                (StatusCode::FORBIDDEN, "blocked")
            }
            E::ActivitySignatureInvalid | E::ActivityBodyDigestInvalid => {
                (StatusCode::UNAUTHORIZED, "signature_invalid")
            }
            E::ParseReceivedActivity { .. } => (StatusCode::BAD_REQUEST, "invalid_activity"),
            E::UrlVerificationError(_)
            | E::DomainResolveError(_)
            | E::ResolveInternalIpError(..) => (StatusCode::FORBIDDEN, "url_refused"),
            // The library reports what its draft-cavage signature check finds (an expired or
            // malformed signature, missing signed headers, an unusable key) as `Other`; its
            // fetches report their own variants. So on a request, `Other` is a bad signature.
            E::Other(_) => (StatusCode::UNAUTHORIZED, "signature_invalid"),
            _ => (StatusCode::BAD_REQUEST, "fetch_failed"),
        };
        FederationError::refused(status, code, e.to_string())
    }
}

/// `scheme://host:port` of a URL, with the default port made explicit, so that
/// `http://a.test:1` and `http://a.test:2` are different origins (unlike the library's domain
/// comparison).
pub fn origin(url: &Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or_default().to_ascii_lowercase(),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// True when `a` and `b` have the same scheme, host and port.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    origin(a) == origin(b)
}

/// Pages that answer HTML or ActivityPub JSON by `Accept` must say so to caches, or a cache
/// could hand a browser the JSON (or a server the HTML). `web` puts it on `/users/NAME` and
/// `/things/ID`.
pub fn vary_accept() -> tower_http::set_header::SetResponseHeaderLayer<axum::http::HeaderValue> {
    tower_http::set_header::SetResponseHeaderLayer::appending(
        axum::http::header::VARY,
        axum::http::HeaderValue::from_static("Accept"),
    )
}

/// The federation routes: discovery, actors, things, likes, inboxes.
pub fn router(federation: Federation) -> Router<AppState> {
    Router::new()
        .route("/.well-known/webfinger", get(discovery::webfinger))
        .route("/.well-known/nodeinfo", get(discovery::nodeinfo_links))
        .route("/nodeinfo/2.1", get(discovery::nodeinfo))
        .route("/actor", get(actors::instance_actor))
        .route("/users/{name}/outbox", get(actors::outbox))
        .route(
            "/users/{name}/likes/{id}",
            get(activities::like::serve_like),
        )
        .route("/users/{name}/inbox", post(inbox::receive))
        .route("/inbox", post(inbox::receive))
        .route(
            "/settlement/statements/{payee}/{period}/{version}",
            get(statements::serve_statement),
        )
        .layer(FederationMiddleware::new(federation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_differ_by_scheme_host_or_port() {
        let a = Url::parse("http://alpha.test:8001/users/a").unwrap();
        assert!(same_origin(
            &a,
            &Url::parse("http://ALPHA.test:8001/x").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("http://alpha.test:8002/users/a").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("https://alpha.test:8001/users/a").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("http://beta.test:8001/users/a").unwrap()
        ));
        assert!(same_origin(
            &Url::parse("https://x.example/a").unwrap(),
            &Url::parse("https://x.example:443/b").unwrap()
        ));
    }
}
