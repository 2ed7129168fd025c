//! The settlement documents on the wire, both ways: the payer's `Offer` of a `Statement`, and
//! the payee's answer, `Accept` with a `Claim` result or `Reject` with a reason
//! (docs/settlement.md). What we send is built from these types and what we receive is read
//! into them; the raw JSON is kept too, because the object integrity proof covers the
//! document exactly as it was sent.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::federation::vocab::{Kinds, one_or_many};

/// One line of a statement: a flattr and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// The Like's id.
    #[serde(rename = "flattr:like")]
    pub like: Url,
    /// The flattred thing's id (on the payee).
    #[serde(rename = "flattr:thing")]
    pub thing: Url,
    /// The flattr's value, a decimal string in the statement's currency.
    #[serde(rename = "flattr:value")]
    pub value: String,
    /// SHA-256 (hex) of the JCS form of the Like as the payer sent it.
    #[serde(rename = "flattr:likeDigest")]
    pub like_digest: String,
}

/// An adjustment line: a correction of a line of an earlier, settled statement of the same
/// payer to the same payee (docs/settlement.md, section 4.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdjustmentLine {
    /// The Like of the line corrected.
    #[serde(rename = "flattr:like")]
    pub like: Url,
    /// Its thing.
    #[serde(rename = "flattr:thing")]
    pub thing: Url,
    /// Signed decimal: positive adds the line's value, negative takes it back.
    #[serde(rename = "flattr:value")]
    pub value: String,
    /// SHA-256 (hex) of the JCS form of the Like as the payer sent it.
    #[serde(rename = "flattr:likeDigest")]
    pub like_digest: String,
    /// The statement corrected (the Offer id of the version netted).
    #[serde(rename = "flattr:adjusts")]
    pub adjusts: Url,
    /// Its period, `YYYY-MM`.
    #[serde(rename = "flattr:adjustsPeriod")]
    pub adjusts_period: String,
}

/// What the payer states it owes the payee for one period.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Statement {
    /// `OFFER#statement`.
    pub id: Url,
    /// `["Object", "Statement"]`: software that does not know `Statement` sees an `Object`.
    #[serde(rename = "type")]
    pub kind: Kinds,
    /// The payer's instance actor.
    #[serde(rename = "attributedTo")]
    pub attributed_to: Url,
    /// The payee's instance actor.
    #[serde(rename = "flattr:payee")]
    pub payee: Url,
    /// `YYYY-MM`, the payer's period.
    #[serde(rename = "flattr:period")]
    pub period: String,
    /// 1, or higher for a correction.
    #[serde(rename = "flattr:version")]
    pub version: i64,
    /// For a version above 1: the id (the Offer's) of the version it restates.
    #[serde(
        rename = "flattr:supersedes",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub supersedes: Option<Url>,
    /// The currency code.
    #[serde(rename = "flattr:currency")]
    pub currency: String,
    /// How many decimals the amounts may have (4: ten-thousandths).
    #[serde(rename = "flattr:scale")]
    pub scale: u32,
    /// How many lines.
    #[serde(rename = "flattr:lineCount")]
    pub line_count: u64,
    /// The sum of the lines' values.
    #[serde(rename = "flattr:total")]
    pub total: String,
    /// One per flattr, in the payer's order.
    #[serde(rename = "flattr:lines", default)]
    pub lines: Vec<Line>,
    /// Corrections of earlier, settled periods; absent when there are none.
    #[serde(
        rename = "flattr:adjustments",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub adjustments: Vec<AdjustmentLine>,
    /// The signed sum of the adjustments' values, with them.
    #[serde(
        rename = "flattr:adjustmentTotal",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub adjustment_total: Option<String>,
}

/// `Offer` of a [`Statement`], from the payer's instance actor to the payee's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Offer {
    /// The settlement context.
    #[serde(rename = "@context", default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// `BASE/settlement/statements/PAYEE-HOST/PERIOD/vVERSION`.
    pub id: Url,
    /// `Offer`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The payer's instance actor.
    pub actor: Url,
    /// The payee's instance actor.
    #[serde(default, deserialize_with = "one_or_many")]
    pub to: Vec<Url>,
    /// The statement.
    pub object: Statement,
}

/// One line of a claim: a Like, its value, and for a disputed line the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimLine {
    /// The Like's id.
    #[serde(rename = "flattr:like")]
    pub like: Url,
    /// The value the statement gave it.
    #[serde(rename = "flattr:value")]
    pub value: String,
    /// Why it is disputed (`unknown_like`, `like_undone`, …); absent when accepted.
    #[serde(
        rename = "flattr:reason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub reason: Option<String>,
    /// On the answer to an adjustment line: the statement it corrects.
    #[serde(
        rename = "flattr:adjusts",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub adjusts: Option<Url>,
}

/// The payee's answer to every line of one statement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claim {
    /// `ANSWER#claim`.
    pub id: Url,
    /// `["Object", "Claim"]`.
    #[serde(rename = "type")]
    pub kind: Kinds,
    /// The payee's instance actor.
    #[serde(rename = "attributedTo")]
    pub attributed_to: Url,
    /// The statement (the Offer's id).
    #[serde(rename = "flattr:statement")]
    pub statement: Url,
    /// The digest of the statement answered, so a claim names one exact statement.
    #[serde(rename = "flattr:statementDigest")]
    pub statement_digest: String,
    /// The statement's period.
    #[serde(rename = "flattr:period")]
    pub period: String,
    /// The statement's currency.
    #[serde(rename = "flattr:currency")]
    pub currency: String,
    /// The lines agreed.
    #[serde(rename = "flattr:accepted", default)]
    pub accepted: Vec<ClaimLine>,
    /// The lines disputed, each with its reason.
    #[serde(rename = "flattr:disputed", default)]
    pub disputed: Vec<ClaimLine>,
    /// The sum of the accepted values.
    #[serde(rename = "flattr:acceptedTotal")]
    pub accepted_total: String,
    /// The sum of the disputed values.
    #[serde(rename = "flattr:disputedTotal")]
    pub disputed_total: String,
    /// The answer to each adjustment line, in its order: a reason when disputed.
    #[serde(
        rename = "flattr:adjustments",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub adjustments: Vec<ClaimLine>,
    /// The signed sum of the accepted adjustments, with them.
    #[serde(
        rename = "flattr:adjustedTotal",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub adjusted_total: Option<String>,
}

/// `Accept` (with a [`Claim`] as `result`) or `Reject` (with a reason) of a statement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    /// The settlement context.
    #[serde(rename = "@context", default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// `BASE/settlement/claims/PAYER-HOST/PERIOD/vVERSION`.
    pub id: Url,
    /// `Accept` or `Reject`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The payee's instance actor.
    pub actor: Url,
    /// The payer's instance actor.
    #[serde(default, deserialize_with = "one_or_many")]
    pub to: Vec<Url>,
    /// The statement answered (the Offer's id).
    pub object: Url,
    /// The claim, on an `Accept`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Claim>,
    /// Why, on a `Reject` (`proof_invalid`, `wrong_payee`, `currency_mismatch`,
    /// `total_mismatch`, `invalid_statement`).
    #[serde(
        rename = "flattr:reason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub reason: Option<String>,
    /// The reason in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// A received settlement document: parsed, and as it was sent (what its proof covers).
#[derive(Debug, Clone)]
pub struct Received<T> {
    /// The document as received.
    pub raw: Value,
    /// The document read into its wire type.
    pub parsed: T,
    /// Its `id` (every settlement document has one).
    id: Url,
    /// Its `actor`.
    actor: Url,
}

/// The envelope every settlement document shares.
#[derive(Deserialize)]
struct Envelope {
    id: Url,
    actor: Url,
}

impl<T: serde::de::DeserializeOwned> Received<T> {
    /// Reads `raw` into `T`, keeping `raw`.
    pub fn read(raw: Value) -> Result<Self, serde_json::Error> {
        let Envelope { id, actor } = serde_json::from_value(raw.clone())?;
        Ok(Received {
            parsed: serde_json::from_value(raw.clone())?,
            raw,
            id,
            actor,
        })
    }

    /// Its id, on its actor's origin once the inbox has checked it.
    pub fn id(&self) -> &Url {
        &self.id
    }

    /// Its actor, the instance actor that sent it.
    pub fn actor(&self) -> &Url {
        &self.actor
    }
}

/// True when `value` is an `Offer` whose object is a `Statement`.
pub fn is_statement_offer(value: &Value) -> bool {
    value["type"] == "Offer" && has_kind(&value["object"], "Statement")
}

/// True when the object `value`'s `type` is `kind` or a list that names it.
pub fn has_kind(value: &Value, kind: &str) -> bool {
    kinds_of(value).any(|k| k == kind)
}

/// True when `value` is an `Accept` or `Reject` of a statement (an object under
/// `/settlement/statements/`).
pub fn is_statement_answer(value: &Value) -> bool {
    matches!(value["type"].as_str(), Some("Accept" | "Reject"))
        && value["object"]
            .as_str()
            .and_then(|o| Url::parse(o).ok())
            .is_some_and(|o| o.path().starts_with("/settlement/statements/"))
}

fn kinds_of(value: &Value) -> impl Iterator<Item = &str> {
    let all: Vec<&str> = match &value["type"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    all.into_iter()
}
