//! What our inboxes accept, told apart by `type`, and where each kind goes: a Like or an Undo
//! to its own activity file, a settlement document to the module that takes it in
//! (`federation::claims` for statements and their answers, `federation::payments` for payment
//! notices and receipts), anything else acknowledged and ignored.

use activitypub_federation::config::Data;
use activitypub_federation::traits::Activity;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{check_origins, like, payment, statement, undo};
use crate::federation::{FederationError, claims, payments};
use crate::state::AppState;

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
            // Every settlement document is checked alike: its id on its actor's origin.
            InboxActivity::Statement(a) => check_origins(data, a.id(), a.actor()),
            InboxActivity::Answer(a) => check_origins(data, a.id(), a.actor()),
            InboxActivity::Payment(a) => check_origins(data, a.id(), a.actor()),
            InboxActivity::Receipt(a) => check_origins(data, a.id(), a.actor()),
            InboxActivity::Other(a) => a.verify(data).await,
        }
    }

    async fn receive(self, data: &Data<AppState>) -> Result<(), FederationError> {
        match self {
            InboxActivity::Like(a) => a.receive(data).await,
            InboxActivity::Undo(a) => a.receive(data).await,
            InboxActivity::Statement(a) => claims::receive_statement(data, a).await,
            InboxActivity::Answer(a) => claims::receive_answer(data, a).await,
            InboxActivity::Payment(a) => payments::receive_notice(data, a).await,
            InboxActivity::Receipt(a) => payments::receive_receipt(data, a).await,
            InboxActivity::Other(a) => a.receive(data).await,
        }
    }
}
