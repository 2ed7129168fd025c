//! The payment documents on the wire (docs/settlement.md, section 6): the debtor's payment
//! notice, `Create` of a `Payment`, and the creditor's receipt, `Accept` of the notice with a
//! `Receipt` result. Sent and read through these types; the raw JSON is kept beside them
//! (`statement::Received`) because the proof covers the document as sent.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::statement::has_kind;
use crate::federation::vocab::{Kinds, one_or_many};

/// What the debtor paid for one netted period, and the netting it paid.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payment {
    /// `NOTICE#payment`.
    pub id: Url,
    /// `["Object", "Payment"]`.
    #[serde(rename = "type")]
    pub kind: Kinds,
    /// The debtor's instance actor.
    #[serde(rename = "attributedTo")]
    pub attributed_to: Url,
    /// The creditor's instance actor.
    #[serde(rename = "flattr:payee")]
    pub payee: Url,
    /// `YYYY-MM`.
    #[serde(rename = "flattr:period")]
    pub period: String,
    /// The currency code.
    #[serde(rename = "flattr:currency")]
    pub currency: String,
    /// The amount transferred, whole cents.
    #[serde(rename = "flattr:amount")]
    pub amount: String,
    /// When it left, `YYYY-MM-DD`.
    #[serde(rename = "flattr:paidOn")]
    pub paid_on: String,
    /// The bank's reference of the transfer.
    #[serde(rename = "flattr:reference")]
    pub reference: String,
    /// The two statements netted: the debtor's, then the creditor's.
    #[serde(rename = "flattr:statements", default)]
    pub statements: Vec<Url>,
    /// What the debtor owed by its statement's accepted lines.
    #[serde(rename = "flattr:payerOwed")]
    pub payer_owed: String,
    /// What the creditor owed by its statement's accepted lines.
    #[serde(rename = "flattr:payeeOwed")]
    pub payee_owed: String,
    /// The rest carried in from the previous netting, the debtor's way round.
    #[serde(rename = "flattr:carriedIn")]
    pub carried_in: String,
    /// The rest carried to the next netting, the debtor's way round.
    #[serde(rename = "flattr:carriedOut")]
    pub carried_out: String,
}

/// `Create` of a [`Payment`], from the debtor's instance actor to the creditor's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Notice {
    /// The settlement context.
    #[serde(rename = "@context", default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// `BASE/settlement/payments/CREDITOR-HOST/PERIOD`.
    pub id: Url,
    /// `Create`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The debtor's instance actor.
    pub actor: Url,
    /// The creditor's instance actor.
    #[serde(default, deserialize_with = "one_or_many")]
    pub to: Vec<Url>,
    /// The payment.
    pub object: Payment,
}

/// The creditor's word that the payment arrived.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Receipt {
    /// `RECEIPT#receipt`.
    pub id: Url,
    /// `["Object", "Receipt"]`.
    #[serde(rename = "type")]
    pub kind: Kinds,
    /// The creditor's instance actor.
    #[serde(rename = "attributedTo")]
    pub attributed_to: Url,
    /// The notice received (its id).
    #[serde(rename = "flattr:payment")]
    pub payment: Url,
    /// The digest of that notice, so a receipt names one exact notice.
    #[serde(rename = "flattr:paymentDigest")]
    pub payment_digest: String,
    /// `YYYY-MM`, the period paid.
    #[serde(rename = "flattr:period")]
    pub period: String,
    /// The amount that arrived.
    #[serde(rename = "flattr:amount")]
    pub amount: String,
    /// When it arrived, `YYYY-MM-DD`.
    #[serde(rename = "flattr:receivedOn")]
    pub received_on: String,
}

/// `Accept` of a payment notice with a [`Receipt`] result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReceiptAnswer {
    /// The settlement context.
    #[serde(rename = "@context", default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// `BASE/settlement/receipts/DEBTOR-HOST/PERIOD`.
    pub id: Url,
    /// `Accept`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The creditor's instance actor.
    pub actor: Url,
    /// The debtor's instance actor.
    #[serde(default, deserialize_with = "one_or_many")]
    pub to: Vec<Url>,
    /// The notice accepted (its id).
    pub object: Url,
    /// The receipt.
    pub result: Receipt,
}

/// True when `value` is a `Create` whose object is a `Payment`.
pub fn is_payment_notice(value: &Value) -> bool {
    value["type"] == "Create" && has_kind(&value["object"], "Payment")
}

/// True when `value` is an `Accept` of a payment notice (an object under
/// `/settlement/payments/`).
pub fn is_receipt(value: &Value) -> bool {
    value["type"] == "Accept"
        && value["object"]
            .as_str()
            .and_then(|o| Url::parse(o).ok())
            .is_some_and(|o| o.path().starts_with("/settlement/payments/"))
}
