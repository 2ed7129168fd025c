//! Receiving settlement documents. As payee: a statement (`Offer`), checked whole (proof,
//! payee, currency, total), each line reconciled against the Likes we received (a Like we
//! missed is fetched from the payer's origin first), accepted lines credited to our creators
//! as pending earnings, and the signed claim queued back, all in one transaction. As payer:
//! the answer (`Accept` with a claim, or `Reject`) to one of our statements.
//!
//! The inbox has already checked the HTTP signature and that the activity id is on its
//! actor's origin; the proof is checked here, and must be the actor's own.

use activitypub_federation::config::Data;
use activitypub_federation::fetch::fetch_object_http;
use activitypub_federation::fetch::object_id::ObjectId;
use activitypub_federation::traits::Actor;
use axum::http::StatusCode;
use serde_json::Value;
use url::Url;

use super::activities::first_sighting;
use super::activities::like::{Like, like_digest};
use super::activities::statement::{Answer, Offer, Received};
use super::actors::RemoteActor;
use super::answers::{self, Decision};
use super::client::guard;
use super::{FederationError, origin, outbox, proof};
use crate::domain::period::Period;
use crate::domain::settlement::{Dispute, Refusal};
use crate::settle::statements::{self as books, Direction, NewStatement};
use crate::state::AppState;
use crate::store::{StoreError, received_likes, things};

fn refused(status: StatusCode, code: &'static str, reason: impl Into<String>) -> FederationError {
    FederationError::refused(status, code, reason)
}

/// The proof of `received` must verify and be by the activity's own actor.
pub(super) async fn check_proof(
    data: &Data<AppState>,
    raw: &serde_json::Value,
    actor: &Url,
) -> Result<(), FederationError> {
    let signer = proof::verify(raw, data).await?;
    if signer != *actor {
        return Err(refused(
            StatusCode::UNAUTHORIZED,
            "proof_invalid",
            format!("the proof is by {signer}, not by the activity's actor {actor}"),
        ));
    }
    Ok(())
}

/// The payee's side: see the module documentation.
pub async fn receive_statement(
    data: &Data<AppState>,
    received: Received<Offer>,
) -> Result<(), FederationError> {
    let offer = &received.parsed;
    let payer_inbox = payer_inbox(data, &offer.actor).await?;
    let digest = answers::statement_digest(&received.raw)?;
    if let Err(error) = check_proof(data, &received.raw, &offer.actor).await {
        answers::reject_unrecorded(
            data,
            offer,
            &digest,
            &payer_inbox,
            Refusal::ProofInvalid,
            &error.to_string(),
        )
        .await?;
        return Err(error);
    }
    if let Some(existing) =
        books::by_ap_id(data.store.pool(), Direction::Received, offer.id.as_str()).await?
    {
        return answers::replayed(data, &existing, &digest, &received.raw, &payer_inbox).await;
    }
    let peer = origin(&offer.actor);
    let earlier = books::latest(
        data.store.pool(),
        Direction::Received,
        &peer,
        &offer.object.period,
    )
    .await?;
    if let Some(latest) = earlier
        .as_ref()
        .filter(|l| l.version > offer.object.version)
    {
        // A version that a later one already restated, arriving late: it changes nothing.
        tracing::info!(statement = %offer.id, latest = %latest.ap_id, "an older version of a restated statement ignored");
        return Ok(());
    }
    let decision = answers::decide(data, offer);
    let lines = match &decision {
        Decision::Lines(lines) => lines.clone(),
        Decision::Unreadable(error) => {
            answers::reject_unrecorded(data, offer, &digest, &payer_inbox, Refusal::Invalid, error)
                .await?;
            return Err(refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                Refusal::Invalid.as_str(),
                error.to_string(),
            ));
        }
        Decision::Refuse { lines, .. } => lines.clone(),
    };
    let adjustments = answers::adjustments_of(&offer.object).unwrap_or_default();
    for line in &lines {
        fetch_missing_like(data, &peer, &line.like_id).await;
    }
    // An addition may present again a line we disputed for a Like that never reached us.
    for adjustment in adjustments.iter().filter(|a| a.amount.minor() > 0) {
        fetch_missing_like(data, &peer, &adjustment.like_id).await;
    }
    let key =
        super::instance_keys::signing_key(&data.store, &data.settings.base_url, data.clock.now())
            .await?;
    let now = data.clock.now();
    let mut tx = data.store.begin().await?;
    let period = crate::domain::period::Period::parse(&offer.object.period).map_err(|e| {
        refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_statement",
            e.to_string(),
        )
    })?;
    let document = received.raw.to_string();
    let Some(id) = books::record(
        &mut tx,
        Direction::Received,
        &NewStatement {
            ap_id: offer.id.as_str(),
            peer: &peer,
            period,
            version: offer.object.version,
            currency: &offer.object.currency,
            digest: &digest,
            document: &document,
            lines: &lines,
            supersedes: offer.object.supersedes.as_ref().map(Url::as_str),
            adjustments: &adjustments,
        },
        now,
    )
    .await?
    else {
        // The same statement through another door meanwhile (or another id for the same
        // peer, period and version): nothing changes.
        tx.rollback().await?;
        return Err(refused(
            StatusCode::CONFLICT,
            "statement_conflict",
            format!(
                "{peer} already stated {} version {} under another id",
                offer.object.period, offer.object.version
            ),
        ));
    };
    let row = books::by_ap_id(&mut *tx, Direction::Received, offer.id.as_str())
        .await?
        .ok_or(crate::store::StoreError::NotFound("statement"))?;
    if let Decision::Refuse {
        refusal, reason, ..
    } = decision
    {
        let answer = answers::reject(data, offer, &digest, refusal, &reason, &key)?;
        books::reject(&mut tx, id, &answer.to_string(), refusal.as_str(), now).await?;
        outbox::enqueue(&mut tx, &answer, payer_inbox.as_str(), None, now).await?;
        tx.commit().await?;
        return Err(refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            refusal.as_str(),
            reason,
        ));
    }
    if let Some(earlier) = earlier.filter(|e| e.superseded_at.is_none()) {
        // A full restatement: the earlier version's credits are reversed in this transaction,
        // and the lines are reconciled afresh (the earlier version no longer counts).
        books::supersede_received(&mut tx, &earlier, now).await?;
    }
    let outcomes =
        crate::settle::statements::reconcile(&mut tx, &row, &data.settings.base_url, |line| {
            Url::parse(&line.like_id)
                .ok()
                .filter(|like| origin(like) == peer)
                .is_none()
                .then_some(Dispute::UnknownLike)
        })
        .await?;
    let adjusted =
        crate::settle::adjustments::reconcile(&mut tx, &row, &data.settings.base_url, &outcomes)
            .await?;
    let answer = answers::accept(data, offer, &row, &outcomes, &adjusted, &key)?;
    books::claim_received(
        &mut tx,
        &row,
        &outcomes,
        &adjusted,
        &answer.to_string(),
        now,
    )
    .await
    .map_err(|e| FederationError::Internal(e.to_string()))?;
    outbox::enqueue(&mut tx, &answer, payer_inbox.as_str(), None, now).await?;
    tx.commit().await?;
    tracing::info!(statement = %offer.id, %peer, "statement claimed");
    net_now(data).await;
    Ok(())
}

/// The inbox of the payer's instance actor, where the answer goes.
async fn payer_inbox(data: &Data<AppState>, actor: &Url) -> Result<Url, FederationError> {
    let payer: RemoteActor = ObjectId::<RemoteActor>::from(actor.clone())
        .dereference(data)
        .await?;
    Ok(payer.shared_inbox_or_inbox())
}

/// Fetches a Like of a statement line that never reached us, from the payer's origin with a
/// signed GET, and records it when it checks out: its id is the one asked, its actor is on
/// the payer's origin and it flattrs one of our things. Anything else leaves it unknown (the
/// line is then disputed `unknown_like`).
async fn fetch_missing_like(data: &Data<AppState>, peer: &str, like_id: &str) {
    let Ok(url) = Url::parse(like_id) else { return };
    if origin(&url) != peer {
        return;
    }
    match crate::store::received_likes::by_activity_id(data.store.pool(), like_id).await {
        Ok(None) => {}
        _ => return,
    }
    if let Err(error) = fetch_and_record_like(data, &url, peer).await {
        tracing::warn!(like = %url, %error, "a statement's Like could not be fetched");
    }
}

/// The payer's side: the answer to one of our statements.
pub async fn receive_answer(
    data: &Data<AppState>,
    received: Received<Answer>,
) -> Result<(), FederationError> {
    let answer = &received.parsed;
    check_proof(data, &received.raw, &answer.actor).await?;
    let row = books::by_ap_id(data.store.pool(), Direction::Sent, answer.object.as_str())
        .await?
        .ok_or(crate::store::StoreError::NotFound("statement"))?;
    if origin(&answer.actor) != row.peer {
        return Err(refused(
            StatusCode::FORBIDDEN,
            "not_payee",
            format!("{} is not the payee of {}", answer.actor, row.ap_id),
        ));
    }
    let raw = received.raw.to_string();
    if row.state != "stated" {
        // The same answer again changes nothing; another one is a conflict to look at.
        let same = row
            .claim
            .as_deref()
            .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
            == Some(received.raw.clone());
        if same {
            return Ok(());
        }
        return Err(refused(
            StatusCode::CONFLICT,
            "claim_conflict",
            format!("{} was already answered otherwise", row.ap_id),
        ));
    }
    let now = data.clock.now();
    let mut tx = data.store.begin().await?;
    match answer.kind.as_str() {
        "Accept" => {
            let (outcomes, adjusted) = answers::claim_outcomes(data, answer, &row).await?;
            if let Some(previous) = &row.supersedes {
                // The claim of a restatement: the version it restates stops counting here too.
                if let Some(old) = books::by_ap_id(&mut *tx, Direction::Sent, previous).await?
                    && old.superseded_at.is_none()
                {
                    books::supersede_sent(&mut tx, &old, now).await?;
                }
            }
            books::claim_sent(&mut tx, &row, &outcomes, &adjusted, &raw, now)
                .await
                .map_err(|e| FederationError::Internal(e.to_string()))?;
        }
        _ => {
            let reason = answer.reason.clone().unwrap_or_else(|| "rejected".into());
            if reason == Refusal::ProofInvalid.as_str() {
                // A copy of our statement with a broken proof reached the payee (a relay or a
                // forger changed it on the way); our own, validly signed statement is still due
                // an answer, so this refusal changes nothing here.
                tx.rollback().await?;
                tracing::warn!(statement = %row.ap_id, "the payee refused a copy of our statement whose proof failed");
                return Ok(());
            }
            books::reject(&mut tx, row.id, &raw, &reason, now).await?;
        }
    }
    tx.commit().await?;
    tracing::info!(statement = %row.ap_id, answer = %answer.kind, "statement answered");
    net_now(data).await;
    Ok(())
}

/// Nets what a claim just made ready, so both sides see the netting without waiting for the
/// delivery worker (which nets too, so a failure here is only logged).
async fn net_now(data: &Data<AppState>) {
    if let Err(error) = crate::settle::netting::net_due(&data.store, data.clock.now()).await {
        tracing::warn!(%error, "netting deferred to the delivery worker");
    }
}

/// Fetches the Like `url` from the payer's origin `peer` (signed GET) and records it as
/// received when it is a flattr by an actor of `peer` of one of our things.
pub async fn fetch_and_record_like(
    data: &Data<AppState>,
    url: &Url,
    peer: &str,
) -> Result<(), FederationError> {
    guard(&data.settings, url).await?;
    let fetched = fetch_object_http::<AppState, Value>(url, data)
        .await?
        .object;
    let like: Like = serde_json::from_value(fetched).map_err(|e| {
        FederationError::refused(StatusCode::BAD_GATEWAY, "invalid_activity", e.to_string())
    })?;
    let bad = |reason: &str| {
        FederationError::refused(
            StatusCode::BAD_GATEWAY,
            "invalid_activity",
            format!("{url}: {reason}"),
        )
    };
    if like.id != *url || origin(&like.actor) != peer {
        return Err(bad("not the Like of the payer's user it was fetched as"));
    }
    let thing =
        things::local_by_ap_id(data.store.pool(), &data.settings.base_url, like.object.id())
            .await?
            .ok_or_else(|| bad("not a flattr of one of our things"))?;
    let period = like
        .period
        .as_deref()
        .and_then(|p| Period::parse(p).ok())
        .ok_or_else(|| bad("a flattr names its period"))?;
    let digest = like_digest(&like)?;
    let now = data.clock.now();
    let mut tx = data.store.begin().await?;
    if !first_sighting(&mut tx, &like.id, &like.actor, "Like", now).await? {
        tx.rollback().await?;
        return Ok(());
    }
    let recorded = received_likes::record(
        &mut tx,
        &received_likes::NewLike {
            activity_id: like.id.as_str(),
            actor: like.actor.as_str(),
            thing_id: thing.id,
            period,
            currency: like.currency.as_deref(),
            digest: Some(&digest),
        },
        now,
    )
    .await?;
    if !recorded {
        tx.rollback().await?;
        return Err(StoreError::Conflict(format!("{url} would be a second flattr")).into());
    }
    tx.commit().await?;
    tracing::info!(like = %url, "fetched a Like a statement named that never reached us");
    Ok(())
}
