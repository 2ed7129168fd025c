//! Our JSON-LD vocabulary: the terms a flattr `Like` carries beyond ActivityStreams, and the
//! `@context` every document we serve uses. Documented in docs/federation.md.

use serde_json::{Value, json};

/// The namespace of fedflattr's terms.
pub const NAMESPACE: &str = "https://fedflattr.org/ns#";
/// The version of the flattr protocol this instance speaks (advertised in NodeInfo).
pub const PROTOCOL_VERSION: &str = "0.1";

/// ActivityStreams, the security vocabulary (without it Mastodon and Fedify cannot see
/// `publicKey`), and our terms.
pub fn context() -> Value {
    json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        {
            "flattr": NAMESPACE,
            "flattr:period": {"@id": "flattr:period"},
            "flattr:currency": {"@id": "flattr:currency"},
            "flattr:value": {"@id": "flattr:value"}
        }
    ])
}

/// The content type of ActivityPub documents.
pub const ACTIVITY_JSON: &str = "application/activity+json";

/// True when an `Accept` header asks for ActivityPub JSON rather than a web page.
pub fn wants_activity_json(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.contains("application/activity+json") || a.contains("application/ld+json")
    })
}
