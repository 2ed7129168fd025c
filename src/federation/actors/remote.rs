//! Actors of other servers: the stored row, and how a fetched document becomes one.

use activitypub_federation::config::Data;
use activitypub_federation::traits::{Actor, Object};
use chrono::{DateTime, Utc};
use url::Url;

use super::public_key;
use super::wire::ActorJson;
use crate::federation::vocab::Kinds;
use crate::federation::{FederationError, same_origin};
use crate::state::AppState;
use crate::store::{epoch, from_epoch};

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
