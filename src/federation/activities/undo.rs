//! `Undo(Like)`: a flattr withdrawn before its period closed. Only the actor who sent the Like
//! can undo it.

use activitypub_federation::config::Data;
use activitypub_federation::kinds::activity::UndoType;
use activitypub_federation::traits::Activity;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use super::like::like_id;
use super::{ObjectRef, check_origins, first_sighting};
use crate::federation::actors::user_url;
use crate::federation::vocab::context;
use crate::federation::{FederationError, same_origin};
use crate::state::AppState;
use crate::store::epoch;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Undo {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: UndoType,
    pub actor: Url,
    /// The Like, by id or embedded (Mastodon embeds it).
    pub object: ObjectRef,
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
        let liker: Option<String> =
            sqlx::query_scalar("SELECT actor FROM received_likes WHERE activity_id = $1")
                .bind(like.as_str())
                .fetch_optional(data.store.pool())
                .await?;
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
        let undone = sqlx::query(
            "UPDATE received_likes SET undone_at = $1
             WHERE activity_id = $2 AND actor = $3 AND undone_at IS NULL",
        )
        .bind(epoch(now))
        .bind(self.object.id().as_str())
        .bind(self.actor.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        tracing::info!(id = %self.id, like = %self.object.id(), undone, "received an Undo");
        Ok(())
    }
}

/// The Undo we send when our user withdraws a flattr of a remote thing.
pub fn outgoing(state: &AppState, username: &str, public_id: &str, owner: &str) -> Value {
    let like = like_id(state, username, public_id);
    json!({
        "@context": context(),
        "id": format!("{like}/undo"),
        "type": "Undo",
        "actor": user_url(state, username),
        "object": like,
        "to": [owner],
    })
}
