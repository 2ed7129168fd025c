//! The wire form of every actor, both ways.

use activitypub_federation::protocol::public_key::PublicKey;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::federation::proof::Multikey;
use crate::federation::vocab::{Kinds, Link, lenient, one_or_many};

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
