//! The payer's reading of the claim that answers one of its statements: the outcome of each
//! line and adjustment line, once the claim is shown to answer exactly that statement.

use activitypub_federation::config::Data;
use axum::http::StatusCode;
use url::Url;

use crate::domain::money::Money;
use crate::domain::settlement::{Dispute, Outcome};
use crate::federation::FederationError;
use crate::federation::activities::statement::{Answer, ClaimLine};
use crate::settle::adjustments;
use crate::settle::statements::{self as books, StatementRow};
use crate::state::AppState;

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
