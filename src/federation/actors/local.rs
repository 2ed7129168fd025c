//! Our own actors: each user's `Person`, the instance's `Application` and its key pair, and
//! the handlers that serve them.

use activitypub_federation::config::Data;
use axum::extract::Path;
use axum::response::Response;
use serde_json::Value;
use url::Url;

use super::wire::{ActorJson, Endpoints};
use super::{
    Keys, activity_json, below, generate_keys, instance_url, public_key, shared_inbox_url, user_url,
};
use crate::federation::FederationError;
use crate::federation::proof::Multikey;
use crate::federation::vocab::{Kinds, Link, actor_context, context};
use crate::state::AppState;
use crate::store::{Store, StoreError, from_epoch, users};

/// The `Person` document of a local user, with its key and a FEP-0ea0 payment link.
pub fn person(state: &AppState, user: &users::UserRow) -> ActorJson {
    let id = user_url(state, &user.username);
    ActorJson {
        context: Some(context()),
        kind: Kinds::from("Person"),
        preferred_username: Some(user.username.clone()),
        name: Some(user.username.clone()),
        url: Some(id.clone()),
        inbox: below(&id, "inbox"),
        outbox: Some(below(&id, "outbox")),
        endpoints: Some(Endpoints {
            shared_inbox: Some(shared_inbox_url(state)),
        }),
        manually_approves_followers: Some(false),
        published: Some(from_epoch(user.created_at)),
        public_key: public_key(&id, &user.public_key),
        assertion_method: Vec::new(),
        attachment: vec![payment_link(&id)],
        id,
    }
}

/// The `Person` document we serve for one of our users.
pub fn person_json(state: &AppState, user: &users::UserRow) -> Value {
    serde_json::to_value(person(state, user)).expect("an actor serializes")
}

/// The instance actor (`Application`), which signs our fetches (RSA `publicKey`) and the
/// object integrity proofs of settlement documents (its Ed25519 keys, every one ever made, in
/// `assertionMethod`).
pub fn application(
    state: &AppState,
    public_key_pem: &str,
    assertion_method: Vec<Multikey>,
) -> ActorJson {
    let id = instance_url(state);
    ActorJson {
        context: Some(actor_context()),
        kind: Kinds::from("Application"),
        preferred_username: Some(state.settings.domain.clone()),
        name: Some(format!("fedflattr at {}", state.settings.domain)),
        url: None,
        inbox: shared_inbox_url(state),
        outbox: Some(below(&id, "outbox")),
        endpoints: Some(Endpoints {
            shared_inbox: Some(shared_inbox_url(state)),
        }),
        manually_approves_followers: Some(true),
        published: None,
        public_key: public_key(&id, public_key_pem),
        assertion_method,
        attachment: Vec::new(),
        id,
    }
}

/// FEP-0ea0: a `Link` with `rel: payment` says "this can be paid through fedflattr here".
pub fn payment_link(href: &Url) -> Link {
    Link {
        kind: "Link".to_owned(),
        name: Some("Flattr".to_owned()),
        href: href.clone(),
        rel: Some("payment".to_owned()),
        media_type: Some("text/html".to_owned()),
    }
}

/// The instance's own key pair, created on first start.
pub async fn instance_keys(store: &Store) -> Result<Keys, StoreError> {
    let existing: Option<(String, String)> =
        sqlx::query_as("SELECT public_key, private_key FROM instance_actor WHERE id = 1")
            .fetch_optional(store.pool())
            .await?;
    if let Some((public_key, private_key)) = existing {
        return Ok(Keys {
            public_key,
            private_key,
        });
    }
    let keys = tokio::task::spawn_blocking(generate_keys)
        .await
        .map_err(|e| StoreError::Conflict(e.to_string()))?;
    sqlx::query(
        "INSERT INTO instance_actor (id, public_key, private_key) VALUES (1, $1, $2)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&keys.public_key)
    .bind(&keys.private_key)
    .execute(store.pool())
    .await?;
    // Another process may have won the race; the stored pair is the one.
    Box::pin(instance_keys(store)).await
}

/// GET /actor: the instance actor, which signs instance-to-instance documents.
pub async fn instance_actor(data: Data<AppState>) -> Result<Response, FederationError> {
    let keys = instance_keys(&data.store).await?;
    let multikeys = crate::federation::instance_keys::published(
        &data.store,
        &data.settings.base_url,
        data.clock.now(),
    )
    .await?;
    let actor = serde_json::to_value(application(&data, &keys.public_key, multikeys))
        .map_err(|e| FederationError::Internal(e.to_string()))?;
    Ok(activity_json(actor))
}

/// GET /users/{name}/outbox: we publish no timeline, but the collection must exist.
pub async fn outbox(
    data: Data<AppState>,
    request: crate::federation::authorized::FetchRequest,
    Path(name): Path<String>,
) -> Result<Response, FederationError> {
    request.authorize(&data).await?;
    let user = users::by_name(data.store.pool(), &name).await?;
    let id = format!("{}/outbox", user_url(&data, &user.username));
    Ok(activity_json(serde_json::json!({
        "@context": context(), "id": id, "type": "OrderedCollection", "totalItems": 0, "orderedItems": []
    })))
}
