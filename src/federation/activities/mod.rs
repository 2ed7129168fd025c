//! The activities we receive and send, one file each, and the checks they share. What the
//! inbox accepts, and which module takes each kind in, is `incoming`'s; the settlement
//! documents' files (`statement`, `payment`) are their wire types only, which the modules that
//! send and take them in (`federation::statements`, `claims`, `payments`) read.
//!
//! Anything else a server sends to our inbox (Follow, Create, Delete, …) is verified like the
//! rest — signature, digest, origin — and then ignored with 202, as Mastodon does with what it
//! does not understand.

mod incoming;
pub mod like;
pub mod payment;
pub mod statement;
pub mod undo;

use activitypub_federation::config::Data;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{FederationError, same_origin};
use crate::state::AppState;

pub use incoming::{InboxActivity, Other};

/// `object` as servers send it: an id, or the object embedded (Mastodon embeds the Like in
/// its Undo).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ObjectRef {
    /// The object's id.
    Id(Url),
    /// The object embedded; only its id is read.
    Embedded {
        /// The object's id.
        id: Url,
    },
}

impl ObjectRef {
    /// The referenced object's id, in either form.
    pub fn id(&self) -> &Url {
        match self {
            ObjectRef::Id(id) | ObjectRef::Embedded { id } => id,
        }
    }
}

/// The activity id must be on the actor's origin — scheme, host and port — so that nobody
/// can speak for an actor of another server, and no remote activity may claim one of ours.
pub fn check_origins(data: &Data<AppState>, id: &Url, actor: &Url) -> Result<(), FederationError> {
    if !same_origin(id, actor) {
        return Err(FederationError::refused(
            StatusCode::FORBIDDEN,
            "origin_mismatch",
            format!("activity {id} is not on the origin of its actor {actor}"),
        ));
    }
    if same_origin(actor, &data.settings.base_url) {
        return Err(FederationError::refused(
            StatusCode::FORBIDDEN,
            "local_actor",
            format!("{actor} is one of our own actors; they do not post to our inbox"),
        ));
    }
    Ok(())
}

/// Records that our inbox accepted `id`. False when it was seen before: duplicates and replays
/// are acknowledged and change nothing.
pub async fn first_sighting(
    tx: &mut crate::store::Tx,
    id: &Url,
    actor: &Url,
    kind: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, FederationError> {
    let inserted: Option<String> = sqlx::query_scalar(
        "INSERT INTO inbox_activities (activity_id, actor, kind, received_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (activity_id) DO NOTHING RETURNING activity_id",
    )
    .bind(id.as_str())
    .bind(actor.as_str())
    .bind(kind)
    .bind(crate::store::epoch(now))
    .fetch_optional(&mut **tx)
    .await?;
    Ok(inserted.is_some())
}
