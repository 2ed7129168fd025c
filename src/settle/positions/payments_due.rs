//! The payments the admin has to make (we owe, not paid yet) and to confirm (the peer
//! announced one), from the nettings.

use serde::Serialize;

use crate::domain::money::Money;
use crate::settle::netting::{self, NetRow};
use crate::store::StoreError;

/// A payment between us and a peer for one netted period.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentDue {
    /// The peer's origin.
    pub peer: String,
    /// `YYYY-MM`.
    pub period: String,
    /// The netted amount, whole cents.
    pub amount: Money,
    /// What we owed by our statement's accepted lines.
    pub ours: Money,
    /// What the peer owed by its statement's accepted lines.
    pub theirs: Money,
    /// `netted` (not paid yet) or `paid` (announced, to confirm).
    pub state: String,
    /// When the debtor says it paid.
    pub paid_on: Option<String>,
    /// The bank's reference the debtor gave.
    pub reference: Option<String>,
}

/// What the admin has to do: payments to make (we owe, not paid yet) and payments to confirm
/// (the peer announced one with a signed notice; we confirm once the money is in the bank).
#[derive(Debug, Clone, Serialize)]
pub struct Payments {
    /// We are the debtor and have not recorded the payment.
    pub to_make: Vec<PaymentDue>,
    /// The peer announced its payment; waiting for our confirmation.
    pub to_confirm: Vec<PaymentDue>,
}

fn due(n: NetRow) -> PaymentDue {
    PaymentDue {
        peer: n.peer,
        period: n.period,
        amount: Money::from_minor(n.amount),
        ours: Money::from_minor(n.ours),
        theirs: Money::from_minor(n.theirs),
        state: n.state,
        paid_on: n.paid_on,
        reference: n.bank_reference,
    }
}

/// The payments to make and to confirm, by peer and period.
pub async fn payments(db: &sqlx::AnyPool) -> Result<Payments, StoreError> {
    let (mut to_make, mut to_confirm) = (Vec::new(), Vec::new());
    for n in netting::all(db).await? {
        match (n.debtor.as_str(), n.state.as_str()) {
            ("us", "netted") => to_make.push(due(n)),
            ("peer", "paid") => to_confirm.push(due(n)),
            _ => {}
        }
    }
    Ok(Payments {
        to_make,
        to_confirm,
    })
}
