//! `Like`: a flattr. Sent when our user flattrs a thing on another server; received when a
//! user of another server flattrs one of ours. A plain `Like` without our terms (a Mastodon
//! favourite) is kept as a favourite and carries no money.

use activitypub_federation::config::Data;
use activitypub_federation::kinds::activity::LikeType;
use activitypub_federation::traits::Activity;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::{ObjectRef, check_origins};
use crate::domain::money::Money;
use crate::domain::period::Period;
use crate::federation::FederationError;
use crate::federation::actors::{activity_json, user_url};
use crate::federation::vocab::context;
use crate::state::AppState;
use crate::store::flattrs::FlattrRow;
use crate::store::{flattrs, received_likes, things, users};

/// The wire form of a Like, both ways: what we send is built from it, what we receive is read
/// into it, so a field cannot drift between the two.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Like {
    /// The JSON-LD context; we send ours (with the `flattr:` terms).
    #[serde(rename = "@context", default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// The Like's own id, unique forever (`/users/NAME/likes/ID` for ours).
    pub id: Url,
    /// Always `Like`.
    #[serde(rename = "type")]
    pub kind: LikeType,
    /// The payer.
    pub actor: Url,
    /// The liked object, by id or embedded.
    pub object: ObjectRef,
    /// Whom we address (the thing's owner); others' Likes may leave it out.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::federation::vocab::one_or_many"
    )]
    pub to: Vec<Url>,
    /// When the flattr was made.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::federation::vocab::lenient"
    )]
    pub published: Option<DateTime<Utc>>,
    /// The payer's period (`YYYY-MM`): the payer's instance decides it.
    #[serde(
        rename = "flattr:period",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub period: Option<String>,
    /// The payer's currency; must be ours.
    #[serde(
        rename = "flattr:currency",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub currency: Option<String>,
    /// The flattr's value once known (decimal string), absent while the period is open.
    #[serde(
        rename = "flattr:value",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<String>,
}

impl Like {
    /// True when the Like carries fedflattr's terms, i.e. is money and not just a favourite.
    pub fn is_flattr(&self) -> bool {
        self.period.is_some() || self.currency.is_some() || self.value.is_some()
    }

    fn refuse(
        &self,
        status: StatusCode,
        code: &'static str,
        reason: impl std::fmt::Display,
    ) -> FederationError {
        FederationError::refused(status, code, format!("Like {}: {reason}", self.id))
    }

    /// The id of the thing of this instance the Like's object names, when it names one (by
    /// the form of its URL; the thing's existence is checked when the Like is recorded).
    fn thing_id(&self, data: &Data<AppState>) -> Option<i64> {
        crate::domain::thing::page_id(&data.settings.base_url, self.object.id())
    }

    fn not_ours(&self) -> FederationError {
        self.refuse(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{} is not a thing of this instance", self.object.id()),
        )
    }

    /// The period the flattr counts in: the payer's, which must be our current period or the
    /// one before (a delivery may be retried across a month's end); a plain Like counts now.
    fn period(&self, now: chrono::DateTime<chrono::Utc>) -> Result<Period, FederationError> {
        let current = Period::containing(now);
        let Some(text) = &self.period else {
            return Ok(current);
        };
        let period = Period::parse(text)
            .map_err(|e| self.refuse(StatusCode::UNPROCESSABLE_ENTITY, "invalid_period", e))?;
        if period > current {
            return Err(self.refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_period",
                format!("period {period} has not begun"),
            ));
        }
        if period < current.previous() {
            return Err(self.refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "period_closed",
                format!("period {period} is closed"),
            ));
        }
        Ok(period)
    }
}

#[async_trait::async_trait]
impl Activity for Like {
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
        // The object must name a thing of this instance; that the thing exists (and is not
        // deleted) is checked by the statement that records the Like, never trusted from an
        // embedded copy (`received_likes::SEEN`).
        if self.thing_id(data).is_none() {
            return Err(self.not_ours());
        }
        if !self.is_flattr() {
            return Ok(());
        }
        self.period(data.clock.now())?;
        match &self.currency {
            Some(currency) if currency == data.settings.currency.as_str() => {}
            Some(currency) => {
                return Err(self.refuse(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "currency_mismatch",
                    format!(
                        "this instance settles in {}, not {currency}",
                        data.settings.currency
                    ),
                ));
            }
            None => {
                return Err(self.refuse(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_currency",
                    "a flattr names its currency",
                ));
            }
        }
        if let Some(value) = &self.value {
            Money::parse_exact("flattr:value", value)
                .map_err(|e| self.refuse(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", e))?;
        }
        Ok(())
    }

    async fn receive(self, data: &Data<AppState>) -> Result<(), FederationError> {
        let now = data.clock.now();
        let thing_id = self.thing_id(data).ok_or_else(|| self.not_ours())?;
        let period = self.period(now)?;
        let digest = like_digest(&self)?;
        // Group commit (`store::writer`): the replay guard and the record ride in a batch with
        // other requests' writes, and the 202 goes out only after that batch committed.
        let received = received_likes::Received {
            activity_id: self.id.to_string(),
            actor: self.actor.to_string(),
            peer: crate::federation::origin(&self.actor),
            thing_id,
            period: period.to_string(),
            currency: self.currency.clone().unwrap_or_default(),
            digest,
            received_at: crate::store::epoch(now),
        };
        match data.store.writer().receive_like(received).await? {
            received_likes::Outcome::Recorded => {
                tracing::info!(id = %self.id, actor = %self.actor, thing = thing_id, flattr = self.is_flattr(), "received a Like");
            }
            received_likes::Outcome::Seen => {
                tracing::info!(id = %self.id, "duplicate Like acknowledged; counted once");
            }
            // Nothing was written for any of the refusals below: the refused Like is not
            // recorded as seen either.
            received_likes::Outcome::Blocked => {
                return Err(FederationError::refused(
                    StatusCode::FORBIDDEN,
                    "peer_blocked",
                    format!(
                        "{} is blocked by this instance's admin",
                        crate::federation::origin(&self.actor)
                    ),
                ));
            }
            received_likes::Outcome::NoSuchThing => return Err(self.not_ours()),
            received_likes::Outcome::FlattrOnce => {
                return Err(self.refuse(
                    StatusCode::CONFLICT,
                    "flattr_once",
                    format!(
                        "{} already flattred {} in {period}",
                        self.actor,
                        self.object.id()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// SHA-256 (hex) of the JCS form of `like` as our wire type reads it: what a statement's line
/// repeats for the Like as the payer sent it, and what the payee compares it with.
pub fn like_digest(like: &Like) -> Result<String, FederationError> {
    let value = serde_json::to_value(like).map_err(|e| FederationError::Internal(e.to_string()))?;
    Ok(crate::federation::proof::digest(&value)?)
}

/// The id of the Like a local flattr is sent as: its random public id, so that a Like id is
/// never used twice, even after an undo (a peer drops an id it has seen).
pub fn like_id(state: &AppState, username: &str, public_id: &str) -> Url {
    state
        .settings
        .base_url
        .join(&format!("users/{username}/likes/{public_id}"))
        .expect("a username is a URL path segment")
}

/// The Like we send for `flattr` of a remote thing: with our terms when its server speaks
/// fedflattr, plain otherwise.
pub fn outgoing(
    state: &AppState,
    username: &str,
    flattr: &FlattrRow,
    owner: &str,
    fedflattr: bool,
) -> Value {
    let like = Like {
        context: Some(context()),
        id: like_id(state, username, &flattr.public_id),
        kind: LikeType::Like,
        actor: user_url(state, username),
        // A thing of another server by its id there; one of ours by its URL here.
        object: ObjectRef::Id(
            flattr
                .thing_ap_id
                .as_deref()
                .and_then(|id| Url::parse(id).ok())
                .unwrap_or_else(|| crate::federation::objects::thing_url(state, flattr.thing_id)),
        ),
        to: Url::parse(owner).into_iter().collect(),
        published: Some(crate::store::from_epoch(flattr.created_at)),
        period: fedflattr.then(|| flattr.period.clone()),
        currency: fedflattr.then(|| state.settings.currency.as_str().to_owned()),
        value: None,
    };
    serde_json::to_value(like).expect("a Like serializes")
}

/// GET /users/{name}/likes/{id}: a receiving server may fetch a Like it missed.
pub async fn serve_like(
    data: Data<AppState>,
    request: crate::federation::authorized::FetchRequest,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, FederationError> {
    request.authorize(&data).await?;
    let user = users::by_name(data.store.pool(), &name).await?;
    let flattr = flattrs::by_public_id(data.store.pool(), &id).await?;
    if flattr.user_id != user.id || flattr.thing_ap_id.is_none() {
        return Err(crate::store::StoreError::NotFound("like").into());
    }
    let thing = things::by_id(data.store.pool(), flattr.thing_id).await?;
    Ok(activity_json(outgoing(
        &data,
        &user.username,
        &flattr,
        &thing.owner,
        thing.fedflattr != 0,
    )))
}
