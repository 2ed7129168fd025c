//! Actors: our users as `Person` and the instance as `Application` (`local`), actors of other
//! servers as we fetched them (`remote`), both read and written through one wire struct
//! (`wire`), as in the library's examples. This module keeps the key pairs and the URLs they
//! share.

mod local;
mod remote;
mod wire;

pub use local::{
    application, instance_actor, instance_keys, outbox, payment_link, person, person_json,
};
pub use remote::{RemoteActor, UrlText};
pub use wire::{ActorJson, Endpoints};

use activitypub_federation::http_signatures::generate_actor_keypair;
use activitypub_federation::protocol::public_key::PublicKey;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use url::Url;

use super::vocab::ACTIVITY_JSON;
use crate::state::AppState;

/// A key pair for HTTP Signatures, in PEM.
pub struct Keys {
    /// The public key, SPKI PEM, published on the actor.
    pub public_key: String,
    /// The private key, PKCS#8 PEM, kept in the database.
    pub private_key: String,
}

/// Generates an RSA-2048 key pair. Slow (tens of milliseconds): call it off the async threads.
pub fn generate_keys() -> Keys {
    let pair = generate_actor_keypair().expect("the system random generator works");
    Keys {
        public_key: pair.public_key,
        private_key: pair.private_key,
    }
}

/// The ActivityPub id of our user `username`.
pub fn user_url(state: &AppState, username: &str) -> Url {
    state
        .settings
        .base_url
        .join(&format!("users/{username}"))
        .expect("a username is a URL path segment")
}

/// The ActivityPub id of the instance actor, which signs our fetches.
pub fn instance_url(state: &AppState) -> Url {
    instance_actor_url(&state.settings.base_url)
}

/// `BASE/actor`, the instance actor, which signs our fetches.
pub fn instance_actor_url(base_url: &Url) -> Url {
    base_url.join("actor").expect("static path")
}

/// Our shared inbox.
pub fn shared_inbox_url(state: &AppState) -> Url {
    state.settings.base_url.join("inbox").expect("static path")
}

/// Serves an ActivityPub document with its content type.
pub fn activity_json(value: Value) -> Response {
    ([(header::CONTENT_TYPE, ACTIVITY_JSON)], axum::Json(value)).into_response()
}

/// `ACTOR/PATH` (`ACTOR/inbox`, `ACTOR/outbox`): a segment below the actor's own URL.
fn below(actor: &Url, segment: &str) -> Url {
    Url::parse(&format!("{actor}/{segment}")).expect("a path segment appended to a URL")
}

/// The key of `actor`, as `publicKey` carries it.
fn public_key(actor: &Url, public_key_pem: &str) -> PublicKey {
    PublicKey {
        id: format!("{actor}#main-key"),
        owner: actor.clone(),
        public_key_pem: public_key_pem.to_owned(),
    }
}
