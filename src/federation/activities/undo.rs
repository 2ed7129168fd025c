//! `Undo(Like)`: a flattr withdrawn before its period closed. Only the actor who sent the Like
//! can undo it.

use activitypub_federation::config::Data;
use activitypub_federation::kinds::activity::UndoType;
use activitypub_federation::traits::Activity;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::like::like_id;
use super::{ObjectRef, check_origins, first_sighting};
use crate::federation::actors::user_url;
use crate::federation::vocab::context;
use crate::federation::{FederationError, same_origin};
use crate::state::AppState;
use crate::store::received_likes;

/// The wire form of an Undo, both ways (see `Like`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Undo {
    /// The JSON-LD context; we send ours.
    #[serde(rename = "@context", default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// The Undo's own id.
    pub id: Url,
    /// Always `Undo`.
    #[serde(rename = "type")]
    pub kind: UndoType,
    /// Who withdraws the Like; must be the Like's actor.
    pub actor: Url,
    /// The Like, by id or embedded (Mastodon embeds it).
    pub object: ObjectRef,
    /// Whom we address (the thing's owner).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::federation::vocab::one_or_many"
    )]
    pub to: Vec<Url>,
}

#[async_trait::async_trait]
impl Activity for Undo {
    type DataType = AppState;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        &self.actor
    }

    async fn verify(&self, data: &Data<AppState>) -> Result<(), FederationError> {
        check_origins(data, &self.id, &self.actor)?;
        let like = self.object.id();
        if !same_origin(like, &self.actor) {
            return Err(FederationError::refused(
                StatusCode::FORBIDDEN,
                "origin_mismatch",
                format!(
                    "Undo {}: the Like {like} is not on the actor's origin",
                    self.id
                ),
            ));
        }
        let liker = received_likes::sender(data.store.pool(), like.as_str()).await?;
        if liker.is_some_and(|liker| liker != self.actor.as_str()) {
            return Err(FederationError::refused(
                StatusCode::FORBIDDEN,
                "not_yours",
                format!(
                    "Undo {}: {} did not send the Like {like}",
                    self.id, self.actor
                ),
            ));
        }
        Ok(())
    }

    async fn receive(self, data: &Data<AppState>) -> Result<(), FederationError> {
        let now = data.clock.now();
        let mut tx = data.store.begin().await?;
        if !first_sighting(&mut tx, &self.id, &self.actor, "Undo", now).await? {
            tx.commit().await?;
            return Ok(());
        }
        let undone =
            received_likes::undo(&mut tx, self.object.id().as_str(), self.actor.as_str(), now)
                .await?;
        tx.commit().await?;
        tracing::info!(id = %self.id, like = %self.object.id(), undone, "received an Undo");
        Ok(())
    }
}

/// The Undo we send when our user withdraws a flattr of a remote thing.
pub fn outgoing(state: &AppState, username: &str, public_id: &str, owner: &str) -> Value {
    let like = like_id(state, username, public_id);
    let undo = Undo {
        context: Some(context()),
        id: Url::parse(&format!("{like}/undo")).expect("a path appended to a URL"),
        kind: UndoType::Undo,
        actor: user_url(state, username),
        object: ObjectRef::Id(like),
        to: Url::parse(owner).into_iter().collect(),
    };
    serde_json::to_value(undo).expect("an Undo serializes")
}
