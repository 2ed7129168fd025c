//! The activities we receive and send, one file each, and the checks they share.
//!
//! Anything else a server sends to our inbox (Follow, Create, Delete, …) is verified like the
//! rest — signature, digest, origin — and then ignored with 202, as Mastodon does with what it
//! does not understand.

pub mod like;
pub mod payment;
pub mod statement;
pub mod undo;

use activitypub_federation::config::Data;
use activitypub_federation::traits::Activity;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{FederationError, same_origin};
use crate::state::AppState;

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

/// An activity we do not act on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Other {
    /// The activity's id.
    pub id: Url,
    /// Its type, whatever it is.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who sent it.
    pub actor: Url,
}

#[async_trait::async_trait]
impl Activity for Other {
    type DataType = AppState;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        &self.actor
    }

    async fn verify(&self, data: &Data<AppState>) -> Result<(), FederationError> {
        check_origins(data, &self.id, &self.actor)
    }

    async fn receive(self, _data: &Data<AppState>) -> Result<(), FederationError> {
        tracing::info!(id = %self.id, kind = %self.kind, "ignored an activity we do not act on");
        Ok(())
    }
}

/// What our inboxes accept, told apart by `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "serde_json::Value")]
pub enum InboxActivity {
    /// A Like: a flattr when it carries fedflattr's terms.
    Like(like::Like),
    /// An Undo of a Like.
    Undo(undo::Undo),
    /// A payer's statement (`Offer` of a `Statement`).
    Statement(statement::Received<statement::Offer>),
    /// A payee's answer to one of our statements (`Accept` with a claim, or `Reject`).
    Answer(statement::Received<statement::Answer>),
    /// A debtor's payment notice (`Create` of a `Payment`).
    Payment(statement::Received<payment::Notice>),
    /// A creditor's receipt of our payment (`Accept` of the notice with a `Receipt`).
    Receipt(statement::Received<payment::ReceiptAnswer>),
    /// Anything else: acknowledged, not acted on.
    Other(Other),
}

impl TryFrom<serde_json::Value> for InboxActivity {
    type Error = serde_json::Error;

    fn try_from(value: serde_json::Value) -> Result<Self, Self::Error> {
        if statement::is_statement_offer(&value) {
            return statement::Received::read(value).map(InboxActivity::Statement);
        }
        if statement::is_statement_answer(&value) {
            return statement::Received::read(value).map(InboxActivity::Answer);
        }
        if payment::is_payment_notice(&value) {
            return statement::Received::read(value).map(InboxActivity::Payment);
        }
        if payment::is_receipt(&value) {
            return statement::Received::read(value).map(InboxActivity::Receipt);
        }
        match value.get("type").and_then(|t| t.as_str()) {
            Some("Like") => serde_json::from_value(value).map(InboxActivity::Like),
            Some("Undo") => serde_json::from_value(value).map(InboxActivity::Undo),
            _ => serde_json::from_value(value).map(InboxActivity::Other),
        }
    }
}

#[async_trait::async_trait]
impl Activity for InboxActivity {
    type DataType = AppState;
    type Error = FederationError;

    fn id(&self) -> &Url {
        match self {
            InboxActivity::Like(a) => a.id(),
            InboxActivity::Undo(a) => a.id(),
            InboxActivity::Statement(a) => a.id(),
            InboxActivity::Answer(a) => a.id(),
            InboxActivity::Payment(a) => a.id(),
            InboxActivity::Receipt(a) => a.id(),
            InboxActivity::Other(a) => a.id(),
        }
    }

    fn actor(&self) -> &Url {
        match self {
            InboxActivity::Like(a) => a.actor(),
            InboxActivity::Undo(a) => a.actor(),
            InboxActivity::Statement(a) => a.actor(),
            InboxActivity::Answer(a) => a.actor(),
            InboxActivity::Payment(a) => a.actor(),
            InboxActivity::Receipt(a) => a.actor(),
            InboxActivity::Other(a) => a.actor(),
        }
    }

    async fn verify(&self, data: &Data<AppState>) -> Result<(), FederationError> {
        match self {
            InboxActivity::Like(a) => a.verify(data).await,
            InboxActivity::Undo(a) => a.verify(data).await,
            InboxActivity::Statement(a) => a.verify(data).await,
            InboxActivity::Answer(a) => a.verify(data).await,
            InboxActivity::Payment(a) => a.verify(data).await,
            InboxActivity::Receipt(a) => a.verify(data).await,
            InboxActivity::Other(a) => a.verify(data).await,
        }
    }

    async fn receive(self, data: &Data<AppState>) -> Result<(), FederationError> {
        match self {
            InboxActivity::Like(a) => a.receive(data).await,
            InboxActivity::Undo(a) => a.receive(data).await,
            InboxActivity::Statement(a) => a.receive(data).await,
            InboxActivity::Answer(a) => a.receive(data).await,
            InboxActivity::Payment(a) => a.receive(data).await,
            InboxActivity::Receipt(a) => a.receive(data).await,
            InboxActivity::Other(a) => a.receive(data).await,
        }
    }
}
