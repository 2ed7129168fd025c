//! The answers we send as payee: the signed `Accept` whose result is the claim, the signed
//! `Reject` of a statement refused whole, and what the same statement id arriving again gets.

use activitypub_federation::config::Data;
use axum::http::StatusCode;
use serde_json::Value;
use url::Url;

use super::decide::signed_amount;
use crate::domain::money::Money;
use crate::domain::settlement::{Outcome, Refusal};
use crate::federation::activities::statement::{Answer, Claim, ClaimLine, Offer};
use crate::federation::actors::instance_url;
use crate::federation::client::host_and_port;
use crate::federation::proof::ProofKey;
use crate::federation::vocab::{Kinds, settlement_context};
use crate::federation::{FederationError, instance_keys, outbox, proof};
use crate::settle::statements::{self as books, StatementRow};
use crate::state::AppState;

/// `BASE/settlement/claims/PAYER-HOST/PERIOD/vVERSION`, the id of our answer to a statement
/// (with `/rejected/DIGEST` for a refusal, so that a refusal never takes the id of the claim
/// a later, valid statement gets).
fn answer_id(data: &Data<AppState>, offer: &Offer, rejected: Option<&str>) -> Url {
    let mut path = format!(
        "settlement/claims/{}/{}/v{}",
        host_and_port(&offer.actor),
        offer.object.period,
        offer.object.version
    );
    if let Some(digest) = rejected {
        path.push_str(&format!("/rejected/{}", &digest[..digest.len().min(16)]));
    }
    data.settings
        .base_url
        .join(&path)
        .unwrap_or_else(|_| data.settings.base_url.clone())
}

fn signed(
    data: &Data<AppState>,
    answer: &Answer,
    key: &ProofKey,
) -> Result<Value, FederationError> {
    let value =
        serde_json::to_value(answer).map_err(|e| FederationError::Internal(e.to_string()))?;
    Ok(proof::sign(&value, key, data.clock.now())?)
}

/// The signed `Reject` of a statement refused whole.
pub fn reject(
    data: &Data<AppState>,
    offer: &Offer,
    digest: &str,
    refusal: Refusal,
    reason: &str,
    key: &ProofKey,
) -> Result<Value, FederationError> {
    let answer = Answer {
        context: Some(settlement_context()),
        id: answer_id(data, offer, Some(digest)),
        kind: "Reject".to_owned(),
        actor: instance_url(data),
        to: vec![offer.actor.clone()],
        object: offer.id.clone(),
        result: None,
        reason: Some(refusal.as_str().to_owned()),
        summary: Some(reason.to_owned()),
    };
    signed(data, &answer, key)
}

/// Queues a signed `Reject` of a statement we do not record (its proof failed, or it cannot
/// be read): the payer learns why, and nothing else changes.
pub async fn reject_unrecorded(
    data: &Data<AppState>,
    offer: &Offer,
    digest: &str,
    inbox: &Url,
    refusal: Refusal,
    reason: &str,
) -> Result<(), FederationError> {
    let now = data.clock.now();
    let key = instance_keys::signing_key(&data.store, &data.settings.base_url, now).await?;
    let answer = reject(data, offer, digest, refusal, reason, &key)?;
    let mut tx = data.store.begin().await?;
    outbox::enqueue(&mut tx, &answer, inbox.as_str(), None, now).await?;
    tx.commit().await?;
    tracing::warn!(statement = %offer.id, code = refusal.as_str(), %reason, "statement refused");
    Ok(())
}

/// The signed `Accept` whose result is the claim: every line accepted or disputed.
pub fn accept(
    data: &Data<AppState>,
    offer: &Offer,
    row: &StatementRow,
    outcomes: &[(i64, Outcome, Option<i64>)],
    adjustment_outcomes: &[(i64, Outcome, Option<i64>)],
    key: &ProofKey,
) -> Result<Value, FederationError> {
    let (mut accepted, mut disputed) = (Vec::new(), Vec::new());
    let (mut accepted_total, mut disputed_total) = (0i64, 0i64);
    for (position, outcome, _) in outcomes {
        let Some(line) = usize::try_from(*position)
            .ok()
            .and_then(|p| offer.object.lines.get(p))
        else {
            continue;
        };
        let amount = Money::parse_exact("flattr:value", &line.value)
            .map(Money::minor)
            .unwrap_or(0);
        let entry = |reason: Option<String>| ClaimLine {
            like: line.like.clone(),
            value: line.value.clone(),
            reason,
            adjusts: None,
        };
        match outcome {
            Outcome::Accepted => {
                accepted_total += amount;
                accepted.push(entry(None));
            }
            Outcome::Disputed(reason) => {
                disputed_total += amount;
                disputed.push(entry(Some(reason.as_str().to_owned())));
            }
        }
    }
    let mut adjustments = Vec::with_capacity(adjustment_outcomes.len());
    let mut adjusted_total = 0i64;
    for (position, outcome, _) in adjustment_outcomes {
        let Some(line) = usize::try_from(*position)
            .ok()
            .and_then(|p| offer.object.adjustments.get(p))
        else {
            continue;
        };
        let reason = match outcome {
            Outcome::Accepted => {
                adjusted_total += signed_amount(&line.value).unwrap_or(0);
                None
            }
            Outcome::Disputed(reason) => Some(reason.as_str().to_owned()),
        };
        adjustments.push(ClaimLine {
            like: line.like.clone(),
            value: line.value.clone(),
            reason,
            adjusts: Some(line.adjusts.clone()),
        });
    }
    let id = answer_id(data, offer, None);
    let mut claim_id = id.clone();
    claim_id.set_fragment(Some("claim"));
    let answer = Answer {
        context: Some(settlement_context()),
        id,
        kind: "Accept".to_owned(),
        actor: instance_url(data),
        to: vec![offer.actor.clone()],
        object: offer.id.clone(),
        result: Some(Claim {
            id: claim_id,
            kind: Kinds::Many(vec!["Object".to_owned(), "Claim".to_owned()]),
            attributed_to: instance_url(data),
            statement: offer.id.clone(),
            statement_digest: row.digest.clone(),
            period: row.period.clone(),
            currency: row.currency.clone(),
            accepted,
            disputed,
            accepted_total: Money::from_minor(accepted_total).to_string(),
            disputed_total: Money::from_minor(disputed_total).to_string(),
            adjusted_total: (!adjustments.is_empty())
                .then(|| Money::from_minor(adjusted_total).to_string()),
            adjustments,
        }),
        reason: None,
        summary: None,
    };
    signed(data, &answer, key)
}

/// The same statement id again: with the same digest, the claim we gave is sent again and
/// nothing else changes; with another digest it is refused, and the copy recorded for the
/// admin (`admin statements` lists its digest under `conflicts`).
pub async fn replayed(
    data: &Data<AppState>,
    existing: &StatementRow,
    digest: &str,
    raw: &Value,
    inbox: &Url,
) -> Result<(), FederationError> {
    if existing.digest != digest {
        tracing::warn!(statement = %existing.ap_id, peer = %existing.peer, "a statement came again with other content; refused");
        books::record_conflict(
            data.store.pool(),
            &existing.ap_id,
            &existing.peer,
            digest,
            &raw.to_string(),
            data.clock.now(),
        )
        .await?;
        return Err(FederationError::refused(
            StatusCode::CONFLICT,
            "statement_conflict",
            format!(
                "{} was received before with other content; a correction needs a higher version",
                existing.ap_id
            ),
        ));
    }
    if let Some(claim) = existing
        .claim
        .as_deref()
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
    {
        let mut tx = data.store.begin().await?;
        outbox::enqueue_again(&mut tx, &claim, inbox.as_str(), data.clock.now()).await?;
        tx.commit().await?;
    }
    Ok(())
}
