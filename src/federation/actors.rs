//! Actors: our users as `Person`, the instance as `Application`, and actors of other servers
//! as we fetched them (the database row and the wire struct, as in the library's examples).

use activitypub_federation::config::Data;
use activitypub_federation::http_signatures::generate_actor_keypair;
use activitypub_federation::protocol::public_key::PublicKey;
use activitypub_federation::traits::{Actor, Object};
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::proof::Multikey;
use super::vocab::{ACTIVITY_JSON, Kinds, Link, actor_context, context, lenient, one_or_many};
use super::{FederationError, same_origin};
use crate::state::AppState;
use crate::store::{Store, StoreError, epoch, from_epoch, users};

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
    let multikeys =
        super::instance_keys::published(&data.store, &data.settings.base_url, data.clock.now())
            .await?;
    let actor = serde_json::to_value(application(&data, &keys.public_key, multikeys))
        .map_err(|e| FederationError::Internal(e.to_string()))?;
    Ok(activity_json(actor))
}

/// GET /users/{name}/outbox: we publish no timeline, but the collection must exist.
pub async fn outbox(
    data: Data<AppState>,
    request: super::authorized::FetchRequest,
    Path(name): Path<String>,
) -> Result<Response, FederationError> {
    request.authorize(&data).await?;
    let user = users::by_name(data.store.pool(), &name).await?;
    let id = format!("{}/outbox", user_url(&data, &user.username));
    Ok(activity_json(serde_json::json!({
        "@context": context(), "id": id, "type": "OrderedCollection", "totalItems": 0, "orderedItems": []
    })))
}

/// An actor of another server, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RemoteActor {
    /// The actor's ActivityPub id.
    #[sqlx(try_from = "String")]
    pub ap_id: UrlText,
    /// Its type (`Person`, `Service`, …).
    pub kind: String,
    /// Its `preferredUsername`.
    pub username: String,
    /// Its own inbox.
    #[sqlx(try_from = "String")]
    pub inbox: UrlText,
    /// Its server's shared inbox, on the actor's origin.
    pub shared_inbox: Option<String>,
    /// The key its signatures are checked with, PEM.
    pub public_key: String,
    /// When we last fetched it, Unix seconds.
    pub fetched_at: i64,
}

/// A URL read back from a text column.
#[derive(Debug, Clone)]
pub struct UrlText(pub Url);

impl TryFrom<String> for UrlText {
    type Error = url::ParseError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Url::parse(&text).map(UrlText)
    }
}

/// The wire form of every actor, both ways: what we serve for our users (`Person`) and the
/// instance (`Application`) is built from it, and what we accept is read into it —
/// Mastodon's, Lemmy's, PeerTube's and Fedify's `Person`, `Service`, `Group`, `Application`
/// and `Organization` all fit. Fields we only send are read leniently: another server's
/// different shape of them leaves them out rather than refusing the actor.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActorJson {
    /// The JSON-LD context; we send ours, others' is kept as it came.
    #[serde(rename = "@context", default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// The actor's ActivityPub id.
    pub id: Url,
    /// `Person`, `Application`, … (a list is allowed).
    #[serde(rename = "type")]
    pub kind: Kinds,
    /// The handle's user part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// The display name.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub name: Option<String>,
    /// The profile page.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub url: Option<Url>,
    /// Where activities for the actor go.
    pub inbox: Url,
    /// The actor's outbox (ours is always empty).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub outbox: Option<Url>,
    /// The server's shared inbox, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Endpoints>,
    /// Whether follows need approval (we send false).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub manually_approves_followers: Option<bool>,
    /// When the account was created.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub published: Option<DateTime<Utc>>,
    /// The key that checks the actor's signatures.
    pub public_key: PublicKey,
    /// Keys that sign object integrity proofs (FEP-521a `Multikey`s); only the instance actor
    /// publishes any. Read leniently: entries of another shape are left out.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub assertion_method: Vec<Multikey>,
    /// Payment links (FEP-0ea0); other attachments (Mastodon's profile fields) are left out.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub attachment: Vec<Link>,
}

/// An actor's `endpoints`: the one we read is the shared inbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    /// The inbox for everyone on the actor's server.
    #[serde(default)]
    pub shared_inbox: Option<Url>,
}

const ACTOR_KINDS: &[&str] = &["Person", "Service", "Group", "Application", "Organization"];

#[async_trait::async_trait]
impl Object for RemoteActor {
    type DataType = AppState;
    type Kind = ActorJson;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.ap_id.0
    }

    fn last_refreshed_at(&self) -> Option<DateTime<Utc>> {
        Some(from_epoch(self.fetched_at))
    }

    async fn read_from_id(
        object_id: Url,
        data: &Data<AppState>,
    ) -> Result<Option<Self>, FederationError> {
        Ok(sqlx::query_as(
            "SELECT ap_id, kind, username, inbox, shared_inbox, public_key, fetched_at
             FROM remote_actors WHERE ap_id = $1",
        )
        .bind(object_id.as_str())
        .fetch_optional(data.store.pool())
        .await?)
    }

    async fn into_json(self, _data: &Data<AppState>) -> Result<ActorJson, FederationError> {
        Ok(ActorJson {
            context: None,
            public_key: public_key(&self.ap_id.0, &self.public_key),
            assertion_method: Vec::new(),
            id: self.ap_id.0,
            kind: Kinds::One(self.kind),
            preferred_username: Some(self.username),
            name: None,
            url: None,
            inbox: self.inbox.0,
            outbox: None,
            endpoints: None,
            manually_approves_followers: None,
            published: None,
            attachment: Vec::new(),
        })
    }

    /// The fetched document must be an actor on the origin it was fetched from, and its key
    /// must be its own.
    async fn verify(
        json: &ActorJson,
        expected: &Url,
        _data: &Data<AppState>,
    ) -> Result<(), FederationError> {
        let refuse = |reason: &str| {
            FederationError::refused(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_actor",
                format!("{}: {reason}", json.id),
            )
        };
        if !json.kind.any_of(ACTOR_KINDS) {
            return Err(refuse("is not an actor"));
        }
        // The id must be the URL the fetch ended at (a key id's fragment aside): an actor
        // document cannot speak for another actor on its server. The library passes that URL
        // after following one redirect or the id a document names, so whoever names an actor
        // also checks that the actor it got is that one (`inbox::actor_named`, `resolve`).
        let mut asked = expected.clone();
        asked.set_fragment(None);
        let mut id = json.id.clone();
        id.set_fragment(None);
        if id != asked {
            return Err(refuse("is not the actor it was fetched as"));
        }
        if !same_origin(&json.inbox, &json.id) {
            return Err(refuse("has an inbox on another server"));
        }
        if json.public_key.owner != json.id {
            return Err(refuse("publishes a key that belongs to another actor"));
        }
        Ok(())
    }

    async fn from_json(json: ActorJson, data: &Data<AppState>) -> Result<Self, FederationError> {
        let now = epoch(data.clock.now());
        // The actor type we know it by (`verify` made sure it has one).
        let kind = json
            .kind
            .first_of(ACTOR_KINDS)
            .unwrap_or("Person")
            .to_owned();
        let username = json.preferred_username.clone().unwrap_or_default();
        // A shared inbox on another server would send our Likes for this actor elsewhere:
        // ignored, so deliveries go to the actor's own inbox.
        let shared_inbox = json
            .endpoints
            .and_then(|e| e.shared_inbox)
            .filter(|inbox| same_origin(inbox, &json.id))
            .map(|u| u.to_string());
        sqlx::query(
            "INSERT INTO remote_actors (ap_id, kind, username, inbox, shared_inbox, public_key, fetched_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (ap_id) DO UPDATE SET kind = $2, username = $3, inbox = $4,
                 shared_inbox = $5, public_key = $6, fetched_at = $7",
        )
        .bind(json.id.as_str())
        .bind(&kind)
        .bind(&username)
        .bind(json.inbox.as_str())
        .bind(&shared_inbox)
        .bind(&json.public_key.public_key_pem)
        .bind(now)
        .execute(data.store.pool())
        .await?;
        Ok(RemoteActor {
            ap_id: UrlText(json.id),
            kind,
            username,
            inbox: UrlText(json.inbox),
            shared_inbox,
            public_key: json.public_key.public_key_pem,
            fetched_at: now,
        })
    }
}

impl Actor for RemoteActor {
    fn public_key_pem(&self) -> &str {
        &self.public_key
    }

    fn private_key_pem(&self) -> Option<String> {
        None
    }

    fn inbox(&self) -> Url {
        self.inbox.0.clone()
    }

    fn shared_inbox(&self) -> Option<Url> {
        self.shared_inbox
            .as_deref()
            .and_then(|u| Url::parse(u).ok())
    }
}
