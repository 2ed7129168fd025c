//! Payments and receipts between instances (issue 8.6), on the rows of `settlement_nets`
//! (owned by `settle::netting`, whose books this module settles). The debtor's admin records
//! a bank transfer (its books of the period settle then: the money left); the creditor, once
//! the debtor's signed notice arrived, confirms receipt (its books settle and the creators'
//! pending earnings become withdrawable); the debtor, when the signed receipt arrives,
//! releases its own creators' pending earnings. Each side's period is then closed.
//!
//! No network and no signatures: `federation::payments` signs, sends and receives the notice
//! and the receipt, and calls these in the transaction that stores them.

use chrono::{DateTime, Utc};

use super::netting::{self, NET, NetRow, close, post_settlement, release_pending};
use crate::domain::money::Money;
use crate::domain::settlement::{BankReference, PaymentDate, SettlementRefusal};
use crate::ledger::LedgerError;
use crate::store::{StoreError, Tx, epoch};

fn refused(refusal: SettlementRefusal, message: String) -> LedgerError {
    LedgerError::Settlement { refusal, message }
}

async fn netted(tx: &mut Tx, peer: &str, period: &str) -> Result<NetRow, LedgerError> {
    netting::of(&mut **tx, peer, period).await?.ok_or_else(|| {
        refused(
            SettlementRefusal::UnknownPeriod,
            format!("nothing is netted with {peer} for {period}"),
        )
    })
}

fn owed_by(row: &NetRow, debtor: &str) -> Result<(), LedgerError> {
    if row.debtor == debtor {
        return Ok(());
    }
    let who = match row.debtor.as_str() {
        "us" => format!("we owe {}", row.peer),
        "peer" => format!("{} owes us", row.peer),
        _ => "nobody owes anything".to_owned(),
    };
    Err(refused(
        SettlementRefusal::NotDebtor,
        format!(
            "for {} {who} {} (net of {} and {})",
            row.period,
            Money::from_minor(row.amount),
            Money::from_minor(row.ours),
            Money::from_minor(row.theirs)
        ),
    ))
}

fn same_amount(row: &NetRow, amount: Money) -> Result<(), LedgerError> {
    if amount.minor() == row.amount {
        return Ok(());
    }
    Err(refused(
        SettlementRefusal::AmountMismatch,
        format!(
            "the netted amount of {} with {} is {}, not {amount}",
            row.period,
            row.peer,
            Money::from_minor(row.amount)
        ),
    ))
}

/// The debtor's admin records the bank transfer of a netted period: its amount must be the
/// netted one. Our books of the period settle now (the money left); the signed notice is
/// prepared and sent by the delivery worker. The same payment again changes nothing; another
/// one for a paid period is refused.
pub async fn record_payment(
    tx: &mut Tx,
    peer: &str,
    period: &str,
    amount: Money,
    paid_on: PaymentDate,
    reference: &BankReference,
    now: DateTime<Utc>,
) -> Result<NetRow, LedgerError> {
    let row = netted(tx, peer, period).await?;
    owed_by(&row, "us")?;
    same_amount(&row, amount)?;
    if row.state != "netted" {
        let same = row.paid_on.as_deref() == Some(paid_on.to_string().as_str())
            && row.bank_reference.as_deref() == Some(reference.as_str());
        if same {
            return Ok(row);
        }
        return Err(refused(
            SettlementRefusal::AlreadyPaid,
            format!(
                "{period} with {peer} was paid on {} (reference {})",
                row.paid_on.unwrap_or_default(),
                row.bank_reference.unwrap_or_default()
            ),
        ));
    }
    sqlx::query(
        "UPDATE settlement_nets SET state = 'paid', paid_on = $1, bank_reference = $2,
             paid_at = $3 WHERE id = $4 AND state = 'netted'",
    )
    .bind(paid_on.to_string())
    .bind(reference.as_str())
    .bind(epoch(now))
    .bind(row.id)
    .execute(&mut **tx)
    .await?;
    post_settlement(tx, &row, now).await?;
    netted(tx, peer, period).await
}

/// Paid periods whose notice is not signed yet (the delivery worker signs and queues them).
pub async fn notices_to_send<'e, E>(db: E) -> Result<Vec<NetRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    to_send(
        db,
        "debtor = 'us' AND state IN ('paid', 'closed') AND payment_id IS NULL",
    )
    .await
}

/// Periods whose receipt we confirmed and have not signed yet.
pub async fn receipts_to_send<'e, E>(db: E) -> Result<Vec<NetRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    to_send(
        db,
        "debtor = 'peer' AND state = 'received' AND receipt_id IS NULL",
    )
    .await
}

async fn to_send<'e, E>(db: E, condition: &str) -> Result<Vec<NetRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{NET} WHERE {condition} ORDER BY peer, period"
    )))
    .fetch_all(db)
    .await?)
}

/// A signed document of a period: its id, digest and the document itself.
pub struct Signed<'a> {
    /// The document's id.
    pub id: &'a str,
    /// SHA-256 of it without its proof.
    pub digest: &'a str,
    /// The signed document.
    pub document: &'a str,
}

/// Stores the notice we signed for our payment of `row`'s period. False when one was stored
/// meanwhile (by another worker): the caller then queues nothing.
pub async fn store_notice(
    tx: &mut Tx,
    row: &NetRow,
    notice: &Signed<'_>,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE settlement_nets SET payment_id = $1, payment_digest = $2, payment_document = $3
         WHERE peer = $4 AND period = $5 AND payment_id IS NULL",
    )
    .bind(notice.id)
    .bind(notice.digest)
    .bind(notice.document)
    .bind(&row.peer)
    .bind(&row.period)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores the receipt we signed for the peer's payment of `row`'s period, which closes the
/// period here (`received` → `closed`); false when one was stored meanwhile.
pub async fn store_receipt(
    tx: &mut Tx,
    row: &NetRow,
    receipt: &Signed<'_>,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE settlement_nets SET receipt_id = $1, receipt_document = $2, state = 'closed'
         WHERE peer = $3 AND period = $4 AND receipt_id IS NULL",
    )
    .bind(receipt.id)
    .bind(receipt.document)
    .bind(&row.peer)
    .bind(&row.period)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What a received payment notice says.
pub struct Notice<'a> {
    /// The signed notice.
    pub signed: Signed<'a>,
    /// The amount paid.
    pub amount: Money,
    /// When it left.
    pub paid_on: PaymentDate,
    /// The bank's reference.
    pub reference: &'a BankReference,
}

/// The creditor records the debtor's signed payment notice: for a period netted here with
/// the peer as debtor, of the netted amount. The same notice again changes nothing (`false`);
/// another notice for the period is refused.
pub async fn notice_received(
    tx: &mut Tx,
    peer: &str,
    period: &str,
    notice: &Notice<'_>,
    now: DateTime<Utc>,
) -> Result<bool, LedgerError> {
    let row = netted(tx, peer, period).await?;
    if let Some(existing) = &row.payment_id {
        if existing == notice.signed.id
            && row.payment_digest.as_deref() == Some(notice.signed.digest)
        {
            return Ok(false);
        }
        return Err(refused(
            SettlementRefusal::PaymentConflict,
            format!(
                "{peer} announced a payment of {period} before, with other content ({existing})"
            ),
        ));
    }
    owed_by(&row, "peer")?;
    same_amount(&row, notice.amount)?;
    sqlx::query(
        "UPDATE settlement_nets SET state = 'paid', paid_on = $1, bank_reference = $2,
             payment_id = $3, payment_digest = $4, payment_document = $5, paid_at = $6
         WHERE id = $7 AND state = 'netted'",
    )
    .bind(notice.paid_on.to_string())
    .bind(notice.reference.as_str())
    .bind(notice.signed.id)
    .bind(notice.signed.digest)
    .bind(notice.signed.document)
    .bind(epoch(now))
    .bind(row.id)
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

/// The creditor's admin confirms that the peer's payment of a period arrived: only a payment
/// the peer announced (a signed notice), once. Our books of the period settle, the creators'
/// pending earnings of the peer's statement become withdrawable, the period is `received`;
/// the delivery worker signs and queues the receipt, and the period is `closed`.
pub async fn confirm_receipt(
    tx: &mut Tx,
    peer: &str,
    period: &str,
    received_on: PaymentDate,
    now: DateTime<Utc>,
) -> Result<NetRow, LedgerError> {
    let row = netted(tx, peer, period).await?;
    owed_by(&row, "peer")?;
    match row.state.as_str() {
        "netted" => {
            return Err(refused(
                SettlementRefusal::NoPaymentNotice,
                format!("{peer} has not announced its payment of {period} yet"),
            ));
        }
        "received" | "closed" => return Ok(row),
        _ => {}
    }
    post_settlement(tx, &row, now).await?;
    release_pending(tx, &row, now).await?;
    close(tx, row.id, "received", Some(&received_on.to_string()), now).await?;
    netted(tx, peer, period).await
}

/// The debtor records the creditor's signed receipt of our payment: our creators' pending
/// earnings of the peer's statement become withdrawable and the period closes. The same
/// receipt again changes nothing; a receipt for a payment we did not announce is refused.
pub async fn receipt_received(
    tx: &mut Tx,
    peer: &str,
    period: &str,
    payment_id: &str,
    receipt: &Signed<'_>,
    received_on: PaymentDate,
    now: DateTime<Utc>,
) -> Result<bool, LedgerError> {
    let row = netted(tx, peer, period).await?;
    owed_by(&row, "us")?;
    if row.payment_id.as_deref() != Some(payment_id) {
        return Err(refused(
            SettlementRefusal::NoPaymentNotice,
            format!("we announced no payment {payment_id} of {period} to {peer}"),
        ));
    }
    if let Some(existing) = &row.receipt_id {
        if existing == receipt.id && row.receipt_document.as_deref() == Some(receipt.document) {
            return Ok(false);
        }
        return Err(refused(
            SettlementRefusal::PaymentConflict,
            format!("{peer} confirmed {period} before, with another receipt"),
        ));
    }
    release_pending(tx, &row, now).await?;
    sqlx::query("UPDATE settlement_nets SET receipt_id = $1, receipt_document = $2 WHERE id = $3")
        .bind(receipt.id)
        .bind(receipt.document)
        .bind(row.id)
        .execute(&mut **tx)
        .await?;
    close(tx, row.id, "closed", Some(&received_on.to_string()), now).await?;
    Ok(true)
}
