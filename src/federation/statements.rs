//! The payer's side of settlement: after a period's close, one signed statement per peer,
//! queued on the persistent delivery queue to the peer's instance actor, and served to that
//! peer (and only to it) by signed GET, so a peer that was offline catches up.
//!
//! Statements are prepared by the delivery worker (`delivery::deliver_due` calls
//! [`prepare_due`] before it sends), so settlement runs by itself after every close, whoever
//! closed (the scheduler, `fedflattr admin close`, a test), and a peer that cannot be reached
//! is tried again on the next run. The books (which shares each peer is owed, the statements
//! table) are `settle::statements`'; here is what needs the network and the keys.

use std::collections::BTreeSet;

use activitypub_federation::config::Data;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;
use url::Url;

use super::activities::like;
use super::activities::statement::{AdjustmentLine, Line, Offer, Statement};
use super::actors::{activity_json, instance_url};
use super::authorized::FetchRequest;
use super::client::{get_json, guard, host_and_port};
use super::vocab::{Kinds, settlement_context};
use super::{FederationError, instance_keys, origin, outbox, proof, same_origin};
use crate::domain::money::{Money, SCALE};
use crate::domain::period::Period;
use crate::domain::settlement::FIRST_VERSION;
use crate::settle::adjustments::{self, NewAdjustment};
use crate::settle::statements::{self as books, Direction, NewLine, NewStatement};
use crate::state::AppState;
use crate::store::{StoreError, flattrs, received_likes, things};

/// `BASE/settlement/statements/PAYEE-HOST/PERIOD/vVERSION`: deterministic per payer (our
/// base URL), payee, period and version, so preparing twice finds the same statement.
pub fn statement_url(state: &AppState, peer: &Url, period: Period, version: i64) -> Url {
    let path = format!(
        "settlement/statements/{}/{period}/v{version}",
        host_and_port(peer)
    );
    state
        .settings
        .base_url
        .join(&path)
        .unwrap_or_else(|_| state.settings.base_url.clone())
}

/// Prepares, signs, records and queues the statements of every closed period not yet stated.
/// A peer that cannot be reached now is left for the next run (its period stays unmarked).
/// Returns how many statements were queued.
pub async fn prepare_due(state: &AppState) -> Result<usize, StoreError> {
    let mut queued = 0;
    for period in books::periods_to_state(state.store.pool()).await? {
        let mut peers: BTreeSet<String> = books::peers_flattred(state.store.pool(), period)
            .await?
            .into_iter()
            .collect();
        for actor in
            received_likes::flattr_actors_in(state.store.pool(), &period.to_string()).await?
        {
            if let Ok(actor) = Url::parse(&actor) {
                peers.insert(origin(&actor));
            }
        }
        // A peer with corrections of an earlier, settled period gets a statement to carry them.
        peers.extend(adjustments::peers_waiting(state.store.pool(), &period.to_string()).await?);
        let mut complete = true;
        for peer in &peers {
            match prepare_one(state, period, peer, FIRST_VERSION, None).await {
                Ok(true) => queued += 1,
                Ok(false) => {}
                Err(error) => {
                    complete = false;
                    tracing::warn!(%period, %peer, %error, "statement not prepared; will retry");
                }
            }
        }
        if complete {
            books::mark_period_stated(state.store.pool(), period, state.clock.now()).await?;
        }
    }
    for (period, peer) in books::statements_owed_in_reply(state.store.pool()).await? {
        match prepare_one(state, period, &peer, FIRST_VERSION, None).await {
            Ok(true) => queued += 1,
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(%period, %peer, %error, "statement in reply not prepared; will retry");
            }
        }
    }
    // Restatements our admin asked for: the next version, a full restatement from our books as
    // they are now, naming the version it supersedes.
    for old in books::restatements_due(state.store.pool()).await? {
        let Ok(period) = Period::parse(&old.period) else {
            continue;
        };
        let supersedes = Url::parse(&old.ap_id).ok();
        match prepare_one(state, period, &old.peer, old.version + 1, supersedes).await {
            Ok(true) => queued += 1,
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(%period, peer = %old.peer, %error, "restatement not prepared; will retry");
            }
        }
    }
    Ok(queued)
}

/// Prepares version `version` of the statement of `period` for `peer` (superseding the
/// version `supersedes` names, above 1); false when it existed already.
async fn prepare_one(
    state: &AppState,
    period: Period,
    peer: &str,
    version: i64,
    supersedes: Option<Url>,
) -> Result<bool, FederationError> {
    let peer_url = Url::parse(peer)
        .map_err(|e| FederationError::Internal(format!("peer origin {peer}: {e}")))?;
    let id = statement_url(state, &peer_url, period, version);
    if books::by_ap_id(state.store.pool(), Direction::Sent, id.as_str())
        .await?
        .is_some()
    {
        return Ok(false);
    }
    let (payee, inbox) = discover(state, &peer_url).await?;
    let (lines, new_lines, total) = lines_for(state, period, peer).await?;
    let requests =
        adjustments::due_for(state.store.pool(), peer, &period.to_string(), version).await?;
    let (wire_adjustments, new_adjustments, adjustment_total) = adjustment_lines(&requests)?;
    let me = instance_url(state);
    let mut statement_id = id.clone();
    statement_id.set_fragment(Some("statement"));
    let offer = Offer {
        context: Some(settlement_context()),
        id: id.clone(),
        kind: "Offer".to_owned(),
        actor: me.clone(),
        to: vec![payee.clone()],
        object: Statement {
            id: statement_id,
            kind: Kinds::Many(vec!["Object".to_owned(), "Statement".to_owned()]),
            attributed_to: me,
            payee,
            period: period.to_string(),
            version,
            supersedes: supersedes.clone(),
            currency: state.settings.currency.as_str().to_owned(),
            scale: SCALE,
            line_count: u64::try_from(lines.len()).unwrap_or(u64::MAX),
            total: total.to_string(),
            lines,
            adjustments: wire_adjustments,
            adjustment_total: adjustment_total.map(|t| t.to_string()),
        },
    };
    let unsigned =
        serde_json::to_value(&offer).map_err(|e| FederationError::Internal(e.to_string()))?;
    let digest = proof::digest(&unsigned)?;
    let now = state.clock.now();
    let key = instance_keys::signing_key(&state.store, &state.settings.base_url, now).await?;
    let signed = proof::sign(&unsigned, &key, now)?;
    let document = signed.to_string();
    let mut tx = state.store.begin().await?;
    let recorded = books::record(
        &mut tx,
        Direction::Sent,
        &NewStatement {
            ap_id: id.as_str(),
            peer,
            period,
            version,
            currency: state.settings.currency.as_str(),
            digest: &digest,
            document: &document,
            lines: &new_lines,
            supersedes: supersedes.as_ref().map(Url::as_str),
            adjustments: &new_adjustments,
        },
        now,
    )
    .await?;
    if recorded.is_none() {
        // Another process prepared it meanwhile; its statement is the one.
        tx.rollback().await?;
        return Ok(false);
    }
    let ids: Vec<i64> = requests.iter().map(|r| r.id).collect();
    adjustments::attach(&mut tx, &ids, &period.to_string()).await?;
    outbox::enqueue(&mut tx, &signed, inbox.as_str(), None, now).await?;
    tx.commit().await?;
    tracing::info!(%id, %peer, %total, "statement queued");
    Ok(true)
}

/// The lines owed to `peer` for `period` (wire and books form) and their total.
async fn lines_for(
    state: &AppState,
    period: Period,
    peer: &str,
) -> Result<(Vec<Line>, Vec<NewLine>, Money), FederationError> {
    let shares = books::shares_owed(state.store.pool(), period, peer).await?;
    let mut lines = Vec::with_capacity(shares.len());
    let mut new_lines = Vec::with_capacity(shares.len());
    let mut total = Money::ZERO;
    for share in shares {
        let flattr = flattrs::by_id(state.store.pool(), share.flattr_id).await?;
        let thing = things::by_id(state.store.pool(), flattr.thing_id).await?;
        let like = like::outgoing(
            state,
            &share.username,
            &flattr,
            &thing.owner,
            thing.fedflattr != 0,
        );
        let like_id = like["id"]
            .as_str()
            .and_then(|id| Url::parse(id).ok())
            .ok_or_else(|| FederationError::Internal("a Like without an id".to_owned()))?;
        let thing_id = flattr
            .thing_ap_id
            .as_deref()
            .and_then(|id| Url::parse(id).ok())
            .ok_or_else(|| FederationError::Internal("a remote thing without an id".into()))?;
        let amount = Money::from_minor(share.amount);
        total = total
            .checked_add(amount)
            .ok_or_else(|| FederationError::Internal("statement total overflows".into()))?;
        let like_digest = proof::digest(&like)?;
        new_lines.push(NewLine {
            like_id: like_id.to_string(),
            thing: thing_id.to_string(),
            amount,
            like_digest: like_digest.clone(),
        });
        lines.push(Line {
            like: like_id,
            thing: thing_id,
            value: amount.to_string(),
            like_digest,
        });
    }
    Ok((lines, new_lines, total))
}

/// Adjustment lines on the wire, in the books, and their signed total.
type Adjustments = (Vec<AdjustmentLine>, Vec<NewAdjustment>, Option<Money>);

/// The adjustment lines of `requests` (wire and books form) and their signed total (none
/// without adjustments, so a statement without them reads as before).
fn adjustment_lines(requests: &[adjustments::Request]) -> Result<Adjustments, FederationError> {
    let bad = |what: &str| FederationError::Internal(format!("an adjustment with {what}"));
    let mut wire = Vec::with_capacity(requests.len());
    let mut total = 0i64;
    for request in requests {
        total = total
            .checked_add(request.amount)
            .ok_or_else(|| bad("a total that overflows"))?;
        wire.push(AdjustmentLine {
            like: Url::parse(&request.like_id).map_err(|_| bad("a bad Like id"))?,
            thing: Url::parse(&request.thing).map_err(|_| bad("a bad thing id"))?,
            value: Money::from_minor(request.amount).to_string(),
            like_digest: request.like_digest.clone(),
            adjusts: Url::parse(&request.adjusts).map_err(|_| bad("a bad statement id"))?,
            adjusts_period: request.adjusts_period.clone(),
        });
    }
    let books = requests.iter().map(adjustments::Request::to_new).collect();
    Ok((
        wire,
        books,
        (!requests.is_empty()).then(|| Money::from_minor(total)),
    ))
}

fn unreachable_peer(peer: &Url, reason: impl std::fmt::Display) -> FederationError {
    FederationError::refused(
        StatusCode::BAD_GATEWAY,
        "peer_unreachable",
        format!("{peer}: {reason}"),
    )
}

/// The instance actor of the fedflattr server at `peer` and its inbox: the actor its NodeInfo
/// names (`metadata.flattr.actor`), else `PEER/actor`; both must be on the peer's origin.
pub async fn discover(state: &AppState, peer: &Url) -> Result<(Url, Url), FederationError> {
    let nodeinfo = async {
        let links = get_json(&state.fetcher, peer.join("/.well-known/nodeinfo").ok()?)
            .await
            .ok()?;
        let href = links["links"].as_array()?.iter().find_map(|l| {
            l["rel"]
                .as_str()?
                .ends_with("/schema/2.1")
                .then(|| l["href"].as_str().and_then(|h| Url::parse(h).ok()))
                .flatten()
        })?;
        if !same_origin(&href, peer) {
            return None;
        }
        let info = get_json(&state.fetcher, href).await.ok()?;
        Url::parse(info["metadata"]["flattr"]["actor"].as_str()?).ok()
    };
    guard(&state.settings, peer).await?;
    let actor = match nodeinfo.await {
        Some(actor) => actor,
        None => peer.join("/actor").map_err(|e| unreachable_peer(peer, e))?,
    };
    if !same_origin(&actor, peer) {
        return Err(unreachable_peer(
            peer,
            "its instance actor is on another server",
        ));
    }
    let document: Value = get_json(&state.fetcher, actor.clone())
        .await
        .map_err(|e| unreachable_peer(peer, e))?;
    if document["id"].as_str() != Some(actor.as_str()) {
        return Err(unreachable_peer(
            peer,
            "its instance actor is not where it says",
        ));
    }
    let inbox = document["endpoints"]["sharedInbox"]
        .as_str()
        .or_else(|| document["inbox"].as_str())
        .and_then(|inbox| Url::parse(inbox).ok())
        .filter(|inbox| same_origin(inbox, peer))
        .ok_or_else(|| unreachable_peer(peer, "its instance actor has no inbox on its server"))?;
    Ok((actor, inbox))
}

/// GET /settlement/statements/{payee}/{period}/{version}: a statement we sent, as signed, to
/// a signed GET of the payee's instance only (whatever `authorized_fetch` says: a statement
/// is between two instances).
pub async fn serve_statement(
    data: Data<AppState>,
    request: FetchRequest,
    Path((payee, period, version)): Path<(String, String, String)>,
) -> Result<Response, FederationError> {
    let id = data
        .settings
        .base_url
        .join(&format!("settlement/statements/{payee}/{period}/{version}"))
        .map_err(|_| StoreError::NotFound("statement"))?;
    let row = books::by_ap_id(data.store.pool(), Direction::Sent, id.as_str())
        .await?
        .ok_or(StoreError::NotFound("statement"))?;
    let signer = request.signed_by(&data).await?;
    if origin(&signer) != row.peer {
        return Err(FederationError::refused(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("only {} may read this statement", row.peer),
        ));
    }
    let document: Value = serde_json::from_str(&row.document)
        .map_err(|e| FederationError::Internal(e.to_string()))?;
    Ok(activity_json(document))
}
