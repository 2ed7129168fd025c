//! Our JSON-LD vocabulary: the terms a flattr `Like` carries beyond ActivityStreams, and the
//! `@context` every document we serve uses. Documented in docs/federation.md.

use serde::{Deserialize, Serialize};
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

/// The context of the instance actor: [`context`] plus the Controlled Identifiers vocabulary,
/// which defines `assertionMethod`, `Multikey`, `controller` and `publicKeyMultibase` for the
/// Ed25519 keys it publishes (FEP-521a). Fedify 2.3.6 finds the keys with this context; with
/// only `data-integrity/v1` or `multikey/v1` added it finds none.
pub fn actor_context() -> Value {
    let mut context = context();
    if let Value::Array(items) = &mut context {
        items.insert(2, json!(CID_CONTEXT));
    }
    context
}

/// The Controlled Identifiers v1 context (W3C CID 1.0).
pub const CID_CONTEXT: &str = "https://www.w3.org/ns/cid/v1";
/// The Data Integrity v1 context, which defines `proof`, `DataIntegrityProof`,
/// `cryptosuite`, `proofValue` (FEP-8b32).
pub const DATA_INTEGRITY_CONTEXT: &str = "https://w3id.org/security/data-integrity/v1";

/// The context of settlement documents (statements, claims, payment notices, receipts): ActivityStreams, Data
/// Integrity (which defines `proof`), and our terms, the settlement ones included.
pub fn settlement_context() -> Value {
    let mut context = json!([
        "https://www.w3.org/ns/activitystreams",
        DATA_INTEGRITY_CONTEXT,
        {
            "flattr": NAMESPACE,
            "Statement": "flattr:Statement",
            "Claim": "flattr:Claim",
            "flattr:period": {"@id": "flattr:period"},
            "flattr:currency": {"@id": "flattr:currency"},
            "flattr:value": {"@id": "flattr:value"},
            "flattr:payee": {"@id": "flattr:payee", "@type": "@id"},
            "flattr:version": {"@id": "flattr:version"},
            "flattr:supersedes": {"@id": "flattr:supersedes", "@type": "@id"},
            "flattr:scale": {"@id": "flattr:scale"},
            "flattr:lines": {"@id": "flattr:lines", "@container": "@list"},
            "flattr:lineCount": {"@id": "flattr:lineCount"},
            "flattr:total": {"@id": "flattr:total"},
            "flattr:like": {"@id": "flattr:like", "@type": "@id"},
            "flattr:thing": {"@id": "flattr:thing", "@type": "@id"},
            "flattr:likeDigest": {"@id": "flattr:likeDigest"},
            "flattr:statement": {"@id": "flattr:statement", "@type": "@id"},
            "flattr:statementDigest": {"@id": "flattr:statementDigest"},
            "flattr:accepted": {"@id": "flattr:accepted", "@container": "@list"},
            "flattr:disputed": {"@id": "flattr:disputed", "@container": "@list"},
            "flattr:acceptedTotal": {"@id": "flattr:acceptedTotal"},
            "flattr:disputedTotal": {"@id": "flattr:disputedTotal"},
            "flattr:reason": {"@id": "flattr:reason"},
            "Payment": "flattr:Payment",
            "Receipt": "flattr:Receipt",
            "flattr:amount": {"@id": "flattr:amount"},
            "flattr:paidOn": {"@id": "flattr:paidOn"},
            "flattr:receivedOn": {"@id": "flattr:receivedOn"},
            "flattr:reference": {"@id": "flattr:reference"},
            "flattr:statements": {"@id": "flattr:statements", "@type": "@id", "@container": "@list"},
            "flattr:payerOwed": {"@id": "flattr:payerOwed"},
            "flattr:payeeOwed": {"@id": "flattr:payeeOwed"},
            "flattr:carriedIn": {"@id": "flattr:carriedIn"},
            "flattr:carriedOut": {"@id": "flattr:carriedOut"},
            "flattr:payment": {"@id": "flattr:payment", "@type": "@id"},
            "flattr:paymentDigest": {"@id": "flattr:paymentDigest"}
        }
    ]);
    // The adjustment lines' terms (docs/settlement.md, 4.1), added apart: one `json!` of
    // every term would pass the macro's recursion limit.
    let adjustments = json!({
        "flattr:adjustments": {"@id": "flattr:adjustments", "@container": "@list"},
        "flattr:adjusts": {"@id": "flattr:adjusts", "@type": "@id"},
        "flattr:adjustsPeriod": {"@id": "flattr:adjustsPeriod"},
        "flattr:adjustmentTotal": {"@id": "flattr:adjustmentTotal"},
        "flattr:adjustedTotal": {"@id": "flattr:adjustedTotal"}
    });
    if let (Some(terms), Value::Object(more)) = (context[2].as_object_mut(), adjustments) {
        terms.extend(more);
    }
    context
}

/// The content type of ActivityPub documents.
pub const ACTIVITY_JSON: &str = "application/activity+json";

/// True when an `Accept` header asks for ActivityPub JSON rather than a web page.
pub fn wants_activity_json(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.contains("application/activity+json") || a.contains("application/ld+json")
    })
}

/// A `Link` (ActivityStreams), such as a FEP-0ea0 payment link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    /// The link's type, `Link` for ours.
    #[serde(rename = "type")]
    pub kind: String,
    /// A human-readable label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where the link points.
    pub href: url::Url,
    /// The relation, e.g. `payment`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub rel: Option<String>,
    /// The media type of what `href` points to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

/// Reads a field that may be one value or a list of them (`to`, `cc`, …) into a list; anything
/// unreadable is an empty list, since we only send these fields and never act on them.
pub fn one_or_many<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Value::deserialize(deserializer)?;
    Ok(match value {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| serde_json::from_value(item).ok())
            .collect(),
        Value::Null => Vec::new(),
        one => serde_json::from_value(one).into_iter().collect(),
    })
}

/// Reads a field we send but never act on when received: a value other servers write in
/// another shape is left out instead of refusing the whole document.
pub fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).ok())
}

/// `type` as servers write it: one name, or a list of names (`["Note", "Article"]`), of which
/// any one may be the one we know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Kinds {
    /// A single type.
    One(String),
    /// Several types.
    Many(Vec<String>),
}

impl Kinds {
    /// Every type named, in the order given.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        let names: &[String] = match self {
            Kinds::One(name) => std::slice::from_ref(name),
            Kinds::Many(names) => names,
        };
        names.iter().map(String::as_str)
    }

    /// The first of our names that the document has, if any.
    pub fn first_of<'a>(&self, known: &[&'a str]) -> Option<&'a str> {
        known
            .iter()
            .copied()
            .find(|wanted| self.names().any(|name| name == *wanted))
    }

    /// True when any type named is one of `known`.
    pub fn any_of(&self, known: &[&str]) -> bool {
        self.first_of(known).is_some()
    }
}

impl From<&str> for Kinds {
    fn from(name: &str) -> Self {
        Kinds::One(name.to_owned())
    }
}

impl std::fmt::Display for Kinds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.names().collect::<Vec<_>>().join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_may_be_one_name_or_a_list_of_which_any_counts() {
        let one: Kinds = serde_json::from_value(json!("Note")).unwrap();
        assert!(one.any_of(&["Article", "Note"]));
        let many: Kinds = serde_json::from_value(json!(["Note", "Article"])).unwrap();
        assert_eq!(many.first_of(&["Page", "Article"]), Some("Article"));
        assert!(!many.any_of(&["Person"]));
        assert_eq!(many.to_string(), "Note, Article");
        assert_eq!(
            serde_json::to_value(&many).unwrap(),
            json!(["Note", "Article"])
        );
    }
}
