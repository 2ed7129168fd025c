//! Netting, payment notices and receipts on the wire (docs/settlement.md, sections 5 and 6).
//! The delivery worker nets what is ready ([`prepare_due`] calls `settle::netting`), signs
//! and queues the notice of every payment our admin recorded and the receipt of every payment
//! our admin confirmed; the inbox hands us the peer's notices and receipts, whose proof must
//! be the sending instance actor's own. The books are `settle::payments`'.

use activitypub_federation::config::Data;
use axum::http::StatusCode;
use serde_json::Value;
use url::Url;

use super::activities::payment::{Notice, Payment, Receipt, ReceiptAnswer};
use super::activities::statement::Received;
use super::actors::instance_url;
use super::answers::statement_digest;
use super::claims::check_proof;
use super::client::host_and_port;
use super::statements::discover;
use super::vocab::{Kinds, settlement_context};
use super::{FederationError, instance_keys, origin, outbox, proof};
use crate::domain::money::Money;
use crate::domain::settlement::{BankReference, PaymentDate};
use crate::settle::netting::{self, NetRow};
use crate::settle::payments::{self, Signed};
use crate::state::AppState;

fn url_of(state: &AppState, path: &str) -> Url {
    state
        .settings
        .base_url
        .join(path)
        .unwrap_or_else(|_| state.settings.base_url.clone())
}

/// Nets every period ready, then signs and queues the payment notices and receipts not sent
/// yet. A peer that cannot be reached now is tried again on the next run.
pub async fn prepare_due(state: &AppState) -> Result<(), FederationError> {
    netting::net_due(&state.store, state.clock.now()).await?;
    for row in payments::notices_to_send(state.store.pool()).await? {
        if let Err(error) = send_notice(state, &row).await {
            tracing::warn!(peer = %row.peer, period = %row.period, %error, "payment notice not sent; will retry");
        }
    }
    for row in payments::receipts_to_send(state.store.pool()).await? {
        if let Err(error) = send_receipt(state, &row).await {
            tracing::warn!(peer = %row.peer, period = %row.period, %error, "receipt not sent; will retry");
        }
    }
    Ok(())
}

fn peer_url(row: &NetRow) -> Result<Url, FederationError> {
    Url::parse(&row.peer).map_err(|e| FederationError::Internal(format!("{}: {e}", row.peer)))
}

fn amount(minor: i64) -> String {
    Money::from_minor(minor).to_string()
}

/// Which document of a period we sign.
#[derive(Clone, Copy)]
enum Document {
    Notice,
    Receipt,
}

async fn sign_and_queue(
    state: &AppState,
    row: &NetRow,
    unsigned: &Value,
    inbox: &Url,
    which: Document,
) -> Result<(), FederationError> {
    let now = state.clock.now();
    let key = instance_keys::signing_key(&state.store, &state.settings.base_url, now).await?;
    let signed = proof::sign(unsigned, &key, now)?;
    let digest = proof::digest(unsigned)?;
    let document = signed.to_string();
    let id = unsigned["id"].as_str().unwrap_or_default().to_owned();
    let mut tx = state.store.begin().await?;
    let signed_document = Signed {
        id: &id,
        digest: &digest,
        document: &document,
    };
    let stored = match which {
        Document::Notice => payments::store_notice(&mut tx, row, &signed_document).await?,
        Document::Receipt => payments::store_receipt(&mut tx, row, &signed_document).await?,
    };
    if !stored {
        tx.rollback().await?;
        return Ok(());
    }
    outbox::enqueue(&mut tx, &signed, inbox.as_str(), None, now).await?;
    tx.commit().await?;
    tracing::info!(%id, peer = %row.peer, period = %row.period, "settlement document queued");
    Ok(())
}

async fn send_notice(state: &AppState, row: &NetRow) -> Result<(), FederationError> {
    let peer = peer_url(row)?;
    let (payee, inbox) = discover(state, &peer).await?;
    let id = url_of(
        state,
        &format!(
            "settlement/payments/{}/{}",
            host_and_port(&peer),
            row.period
        ),
    );
    let mut object_id = id.clone();
    object_id.set_fragment(Some("payment"));
    let statements = [&row.sent_statement, &row.received_statement]
        .into_iter()
        .filter_map(|s| Url::parse(s).ok())
        .collect();
    let notice = Notice {
        context: Some(settlement_context()),
        id,
        kind: "Create".to_owned(),
        actor: instance_url(state),
        to: vec![payee.clone()],
        object: Payment {
            id: object_id,
            kind: Kinds::Many(vec!["Object".to_owned(), "Payment".to_owned()]),
            attributed_to: instance_url(state),
            payee,
            period: row.period.clone(),
            currency: state.settings.currency.as_str().to_owned(),
            amount: amount(row.amount),
            paid_on: row.paid_on.clone().unwrap_or_default(),
            reference: row.bank_reference.clone().unwrap_or_default(),
            statements,
            payer_owed: amount(row.ours),
            payee_owed: amount(row.theirs),
            carried_in: amount(row.carried_in),
            carried_out: amount(row.carried_out),
        },
    };
    let unsigned =
        serde_json::to_value(&notice).map_err(|e| FederationError::Internal(e.to_string()))?;
    sign_and_queue(state, row, &unsigned, &inbox, Document::Notice).await
}

async fn send_receipt(state: &AppState, row: &NetRow) -> Result<(), FederationError> {
    let peer = peer_url(row)?;
    let (payer, inbox) = discover(state, &peer).await?;
    let payment = row
        .payment_id
        .as_deref()
        .and_then(|p| Url::parse(p).ok())
        .ok_or_else(|| FederationError::Internal("a receipt without a notice".to_owned()))?;
    let id = url_of(
        state,
        &format!(
            "settlement/receipts/{}/{}",
            host_and_port(&peer),
            row.period
        ),
    );
    let mut result_id = id.clone();
    result_id.set_fragment(Some("receipt"));
    let receipt = ReceiptAnswer {
        context: Some(settlement_context()),
        id,
        kind: "Accept".to_owned(),
        actor: instance_url(state),
        to: vec![payer],
        object: payment.clone(),
        result: Receipt {
            id: result_id,
            kind: Kinds::Many(vec!["Object".to_owned(), "Receipt".to_owned()]),
            attributed_to: instance_url(state),
            payment,
            payment_digest: row.payment_digest.clone().unwrap_or_default(),
            period: row.period.clone(),
            amount: amount(row.amount),
            received_on: row.received_on.clone().unwrap_or_default(),
        },
    };
    let unsigned =
        serde_json::to_value(&receipt).map_err(|e| FederationError::Internal(e.to_string()))?;
    sign_and_queue(state, row, &unsigned, &inbox, Document::Receipt).await
}

fn invalid(code: &'static str, reason: impl Into<String>) -> FederationError {
    FederationError::refused(StatusCode::UNPROCESSABLE_ENTITY, code, reason)
}

fn read_payment(
    payment: &Payment,
) -> Result<(Money, PaymentDate, BankReference), crate::domain::ParseError> {
    Ok((
        Money::parse_payable("flattr:amount", &payment.amount)?,
        PaymentDate::parse(&payment.paid_on)?,
        BankReference::parse(&payment.reference)?,
    ))
}

/// The creditor's side: a debtor's payment notice. Its proof must be the debtor's instance
/// actor's; it must be addressed to us, in our currency, under the id that names us and its
/// period, for a period netted here with the debtor owing exactly that amount.
pub async fn receive_notice(
    data: &Data<AppState>,
    received: Received<Notice>,
) -> Result<(), FederationError> {
    let notice = &received.parsed;
    check_proof(data, &received.raw, &notice.actor).await?;
    let payment = &notice.object;
    let expected = format!(
        "/settlement/payments/{}/{}",
        host_and_port(&data.settings.base_url),
        payment.period
    );
    if payment.attributed_to != notice.actor
        || payment.payee != instance_url(data)
        || notice.id.path() != expected
    {
        return Err(invalid(
            "invalid_payment",
            format!("a payment notice to us is {expected}, by its sender, for our instance"),
        ));
    }
    if payment.currency != data.settings.currency.as_str() {
        return Err(invalid(
            "currency_mismatch",
            format!(
                "this instance settles in {}, not {}",
                data.settings.currency, payment.currency
            ),
        ));
    }
    let (paid, paid_on, reference) =
        read_payment(payment).map_err(|e| invalid("invalid_payment", e.to_string()))?;
    let digest = statement_digest(&received.raw)?;
    let document = received.raw.to_string();
    let peer = origin(&notice.actor);
    let now = data.clock.now();
    let mut tx = data.store.begin().await?;
    let new = payments::notice_received(
        &mut tx,
        &peer,
        &payment.period,
        &payments::Notice {
            signed: Signed {
                id: notice.id.as_str(),
                digest: &digest,
                document: &document,
            },
            amount: paid,
            paid_on,
            reference: &reference,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    if new {
        tracing::info!(notice = %notice.id, %peer, amount = %paid, "payment announced");
    }
    Ok(())
}

/// The debtor's side: the creditor's receipt of our payment. Its proof must be the creditor's
/// instance actor's, and it must name our notice exactly (id and digest).
pub async fn receive_receipt(
    data: &Data<AppState>,
    received: Received<ReceiptAnswer>,
) -> Result<(), FederationError> {
    let answer = &received.parsed;
    check_proof(data, &received.raw, &answer.actor).await?;
    let receipt = &answer.result;
    let peer = origin(&answer.actor);
    let row = netting::of(data.store.pool(), &peer, &receipt.period).await?;
    let names_our_notice = row.as_ref().is_some_and(|row| {
        row.payment_id.as_deref() == Some(answer.object.as_str())
            && receipt.payment == answer.object
            && row.payment_digest.as_deref() == Some(receipt.payment_digest.as_str())
            && Money::parse_exact("flattr:amount", &receipt.amount).map(Money::minor)
                == Ok(row.amount)
    });
    if row.is_some() && !names_our_notice {
        return Err(invalid(
            "invalid_receipt",
            format!(
                "the receipt does not answer our payment notice of {} as we sent it",
                receipt.period
            ),
        ));
    }
    let received_on = PaymentDate::parse(&receipt.received_on)
        .map_err(|e| invalid("invalid_receipt", e.to_string()))?;
    let document = received.raw.to_string();
    let now = data.clock.now();
    let mut tx = data.store.begin().await?;
    let new = payments::receipt_received(
        &mut tx,
        &peer,
        &receipt.period,
        answer.object.as_str(),
        &Signed {
            id: answer.id.as_str(),
            digest: "",
            document: &document,
        },
        received_on,
        now,
    )
    .await?;
    tx.commit().await?;
    if new {
        tracing::info!(receipt = %answer.id, %peer, "payment confirmed by its payee; period closed");
    }
    Ok(())
}
