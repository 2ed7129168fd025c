//! The parts of receiving settlement documents that build or read answers: whether a
//! statement can be taken on at all, the signed `Accept { Claim }` and `Reject` we send, and the
//! claim we read back as payer.

use activitypub_federation::config::Data;
use axum::http::StatusCode;
use serde_json::Value;
use url::Url;

use super::activities::statement::{Answer, Claim, ClaimLine, Offer};
use super::actors::instance_url;
use super::client::host_and_port;
use super::proof::ProofKey;
use super::vocab::{Kinds, settlement_context};
use super::{FederationError, outbox, proof};
use crate::domain::money::{Money, SCALE};
use crate::domain::period::Period;
use crate::domain::settlement::{Dispute, Outcome, Refusal};
use crate::settle::adjustments::{self, NewAdjustment};
use crate::settle::statements::{self as books, NewLine, StatementRow};
use crate::state::AppState;

/// What to do with a statement before looking at its lines.
pub enum Decision {
    /// Take it on: these are its lines.
    Lines(Vec<NewLine>),
    /// Refuse it whole (and record that), for this reason.
    Refuse {
        /// The reason code.
        refusal: Refusal,
        /// The reason in words.
        reason: String,
        /// Its lines, recorded with the refusal.
        lines: Vec<NewLine>,
    },
    /// It cannot be read (a field does not parse): refused without a record.
    Unreadable(String),
}

/// SHA-256 (hex) of the JCS form of the statement's `Offer` without its proof: the same
/// statement has the same digest, however it was re-signed or re-serialised.
pub fn statement_digest(raw: &Value) -> Result<String, FederationError> {
    let mut unsigned = raw.clone();
    if let Value::Object(map) = &mut unsigned {
        map.remove("proof");
    }
    Ok(proof::digest(&unsigned)?)
}

/// Reads the statement's amounts and checks it whole: addressed to us, in our currency, its
/// total and line count those of its lines, its id naming us, its period and version.
pub fn decide(data: &Data<AppState>, offer: &Offer) -> Decision {
    let statement = &offer.object;
    if statement.attributed_to != offer.actor {
        return Decision::Unreadable("the statement is not attributed to the Offer's actor".into());
    }
    let Ok(period) = Period::parse(&statement.period) else {
        return Decision::Unreadable(format!("{:?} is not a period", statement.period));
    };
    if statement.version < 1 || statement.scale != SCALE {
        return Decision::Unreadable("version must be 1 or more and scale 4".into());
    }
    let mut lines = Vec::with_capacity(statement.lines.len());
    let mut sum = Money::ZERO;
    for line in &statement.lines {
        let Ok(amount) = Money::parse_exact("flattr:value", &line.value) else {
            return Decision::Unreadable(format!("{:?} is not an amount", line.value));
        };
        sum = sum
            .checked_add(amount)
            .unwrap_or(Money::from_minor(i64::MAX));
        lines.push(NewLine {
            like_id: line.like.to_string(),
            thing: line.thing.to_string(),
            amount,
            like_digest: line.like_digest.clone(),
        });
    }
    let Ok(total) = Money::parse_exact("flattr:total", &statement.total) else {
        return Decision::Unreadable(format!("{:?} is not an amount", statement.total));
    };
    let adjustments = match adjustments_of(statement) {
        Ok(adjustments) => adjustments,
        Err(error) => return Decision::Unreadable(error),
    };
    let adjusted: i64 = adjustments.iter().map(|a| a.amount.minor()).sum();
    let stated_adjustment = match statement.adjustment_total.as_deref().map(signed_amount) {
        None => None,
        Some(Ok(total)) => Some(total),
        Some(Err(error)) => return Decision::Unreadable(error),
    };
    let me = instance_url(data);
    let refuse = |refusal, reason: String| Decision::Refuse {
        refusal,
        reason,
        lines: lines.clone(),
    };
    if statement.payee != me {
        return refuse(
            Refusal::WrongPayee,
            format!("the statement is for {}, not {me}", statement.payee),
        );
    }
    let expected = format!(
        "/settlement/statements/{}/{period}/v{}",
        host_and_port(&data.settings.base_url),
        statement.version
    );
    if offer.id.path() != expected {
        return Decision::Unreadable(format!(
            "the statement's id must end {expected}, naming this payee, its period and version"
        ));
    }
    let previous = (statement.version > 1).then(|| {
        let mut id = offer.id.clone();
        id.set_path(&format!(
            "/settlement/statements/{}/{period}/v{}",
            host_and_port(&data.settings.base_url),
            statement.version - 1
        ));
        id
    });
    if statement.supersedes != previous {
        return Decision::Unreadable(match previous {
            Some(previous) => format!("version {} supersedes {previous}", statement.version),
            None => "a first version supersedes nothing".to_owned(),
        });
    }
    if statement.currency != data.settings.currency.as_str() {
        return refuse(
            Refusal::CurrencyMismatch,
            format!(
                "this instance settles in {}, not {}",
                data.settings.currency, statement.currency
            ),
        );
    }
    if stated_adjustment != (!adjustments.is_empty()).then_some(adjusted) {
        return refuse(
            Refusal::TotalMismatch,
            format!(
                "{} adjustment lines summing to {}, but the statement says {:?}",
                adjustments.len(),
                Money::from_minor(adjusted),
                statement.adjustment_total
            ),
        );
    }
    if sum != total || u64::try_from(lines.len()).ok() != Some(statement.line_count) {
        return refuse(
            Refusal::TotalMismatch,
            format!(
                "{} lines summing to {sum}, but the statement says {} lines and {total}",
                lines.len(),
                statement.line_count
            ),
        );
    }
    Decision::Lines(lines)
}

/// A signed decimal with at most four decimals (an adjustment's value), in ten-thousandths.
fn signed_amount(text: &str) -> Result<i64, String> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, text),
    };
    let amount = Money::parse_exact("flattr:value", digits)
        .map_err(|_| format!("{text:?} is not an amount"))?
        .minor();
    Ok(if negative { -amount } else { amount })
}

/// The adjustment lines of `statement`, for the books: each value signed and not zero, each
/// period a period.
pub fn adjustments_of(
    statement: &super::activities::statement::Statement,
) -> Result<Vec<NewAdjustment>, String> {
    statement
        .adjustments
        .iter()
        .map(|a| {
            let amount = signed_amount(&a.value)?;
            if amount == 0 {
                return Err("an adjustment of nothing".to_owned());
            }
            let period = Period::parse(&a.adjusts_period)
                .map_err(|_| format!("{:?} is not a period", a.adjusts_period))?;
            Ok(NewAdjustment {
                adjusts: a.adjusts.to_string(),
                adjusts_period: period.to_string(),
                like_id: a.like.to_string(),
                thing: a.thing.to_string(),
                amount: Money::from_minor(amount),
                like_digest: a.like_digest.clone(),
                user_id: None,
            })
        })
        .collect()
}

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
    let key = super::instance_keys::signing_key(&data.store, &data.settings.base_url, now).await?;
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

/// The outcomes of the lines of our statement `row`, and of its adjustment lines.
pub type Outcomes = (Vec<(i64, Outcome)>, Vec<(i64, Outcome)>);

/// The outcome of each line and adjustment line of our statement `row` as the claim in
/// `answer` gives it. The claim must answer exactly that statement (its id and digest) and
/// every one of its lines and adjustment lines (each once, in order, with its value and the
/// statement it corrects).
pub async fn claim_outcomes(
    data: &Data<AppState>,
    answer: &Answer,
    row: &StatementRow,
) -> Result<Outcomes, FederationError> {
    let invalid = |reason: String| {
        FederationError::refused(StatusCode::UNPROCESSABLE_ENTITY, "invalid_claim", reason)
    };
    let claim = answer
        .result
        .as_ref()
        .ok_or_else(|| invalid("an Accept of a statement carries a Claim".into()))?;
    if claim.statement.as_str() != row.ap_id || claim.statement_digest != row.digest {
        return Err(invalid(format!(
            "the claim does not answer {} as we sent it",
            row.ap_id
        )));
    }
    let lines = books::lines(data.store.pool(), row.id).await?;
    let mut entries: Vec<(&ClaimLine, bool)> = claim
        .accepted
        .iter()
        .map(|l| (l, true))
        .chain(claim.disputed.iter().map(|l| (l, false)))
        .collect();
    if entries.len() != lines.len() {
        return Err(invalid(format!(
            "{} lines answered of {}",
            entries.len(),
            lines.len()
        )));
    }
    let mut outcomes = Vec::with_capacity(lines.len());
    for line in &lines {
        let value = Money::from_minor(line.amount).to_string();
        let index = entries
            .iter()
            .position(|(entry, _)| entry.like.as_str() == line.like_id && entry.value == value)
            .ok_or_else(|| {
                invalid(format!(
                    "the claim does not answer the line of {}",
                    line.like_id
                ))
            })?;
        let (entry, accepted) = entries.remove(index);
        let outcome = if accepted {
            Outcome::Accepted
        } else {
            let reason = entry.reason.as_deref().and_then(Dispute::parse);
            Outcome::Disputed(
                reason.ok_or_else(|| invalid("a dispute without a known reason".into()))?,
            )
        };
        outcomes.push((line.position, outcome));
    }
    let stated = adjustments::of_statement(data.store.pool(), row.id).await?;
    if stated.len() != claim.adjustments.len() {
        return Err(invalid(format!(
            "{} adjustment lines answered of {}",
            claim.adjustments.len(),
            stated.len()
        )));
    }
    let mut adjusted = Vec::with_capacity(stated.len());
    for (line, entry) in stated.iter().zip(&claim.adjustments) {
        if entry.like.as_str() != line.like_id
            || entry.value != Money::from_minor(line.amount).to_string()
            || entry.adjusts.as_ref().map(Url::as_str) != Some(line.adjusts.as_str())
        {
            return Err(invalid(format!(
                "the claim does not answer the adjustment of {}",
                line.like_id
            )));
        }
        let outcome = match entry.reason.as_deref() {
            None => Outcome::Accepted,
            Some(reason) => Outcome::Disputed(
                Dispute::parse(reason)
                    .ok_or_else(|| invalid("a dispute without a known reason".into()))?,
            ),
        };
        adjusted.push((line.position, outcome));
    }
    Ok((outcomes, adjusted))
}
