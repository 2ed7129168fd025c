//! The statements sent and received as the admin sees them: each with its lines, its
//! disputed lines with their reasons, its adjustment lines, and the conflicting copies refused.

use serde::Serialize;

use super::summary::{StatementFilter, summaries};
use crate::domain::money::Money;
use crate::settle::{adjustments, statements as books};
use crate::store::StoreError;

/// A statement as the admin sees it.
#[derive(Debug, Clone, Serialize)]
pub struct StatementView {
    /// `sent` (we are the payer) or `received`.
    pub direction: String,
    /// The Offer's id.
    pub id: String,
    /// The other instance's origin.
    pub peer: String,
    /// `YYYY-MM`.
    pub period: String,
    /// Its version.
    pub version: i64,
    /// `stated`, `claimed` or `rejected`.
    pub state: String,
    /// Why it was rejected whole.
    pub reason: Option<String>,
    /// The currency code.
    pub currency: String,
    /// How many lines.
    pub line_count: i64,
    /// The sum of the lines.
    pub total: Money,
    /// The sum of the accepted lines.
    pub accepted: Money,
    /// The sum of the disputed lines.
    pub disputed: Money,
    /// Every line, in the statement's order, with its outcome.
    pub lines: Vec<Line>,
    /// The disputed lines with their reasons.
    pub disputes: Vec<DisputedLine>,
    /// The sum of the accepted adjustment lines (signed).
    pub adjusted: Money,
    /// Its adjustment lines: corrections of an earlier, paid period (docs/settlement.md 4.1).
    pub adjustments: Vec<AdjustmentLine>,
    /// The version this one restates (its id), for a version above 1.
    pub supersedes: Option<String>,
    /// True once a later version replaced it.
    pub superseded: bool,
    /// The digests of copies refused under this id with other content (409
    /// `statement_conflict`): what the peer sent, for the admin to look at.
    pub conflicts: Vec<String>,
}

/// A line of a statement: one flattr of a thing of the payee's.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// The Like's id.
    pub like: String,
    /// The thing's id.
    pub thing: String,
    /// The line's value.
    pub amount: Money,
    /// `accepted` or a dispute reason once claimed; none before.
    pub outcome: Option<String>,
}

/// A disputed line of a statement.
#[derive(Debug, Clone, Serialize)]
pub struct DisputedLine {
    /// The Like's id.
    pub like: String,
    /// The thing's id.
    pub thing: String,
    /// The line's value.
    pub amount: Money,
    /// The dispute's reason (`unknown_like`, `like_undone`, …).
    pub reason: String,
}

/// An adjustment line of a statement: a correction of a line of an earlier, paid period.
#[derive(Debug, Clone, Serialize)]
pub struct AdjustmentLine {
    /// The Like of the line corrected.
    pub like: String,
    /// Its thing.
    pub thing: String,
    /// The statement corrected (the version netted and paid).
    pub adjusts: String,
    /// Its period.
    pub adjusts_period: String,
    /// Signed: positive adds a line, negative takes one back.
    pub amount: Money,
    /// `accepted` or a dispute reason once claimed; none before.
    pub outcome: Option<String>,
}

/// The statements sent and received that `filter` selects, by peer, period, direction and
/// version, each with its lines, its disputed lines and its adjustment lines.
pub async fn statements(
    db: &sqlx::AnyPool,
    filter: &StatementFilter,
) -> Result<Vec<StatementView>, StoreError> {
    let mut out = Vec::new();
    for s in summaries(db, filter).await? {
        let lines = books::lines(db, s.id).await?;
        let disputes = lines
            .iter()
            .filter_map(|l| match &l.outcome {
                Some(reason) if reason != "accepted" => Some(DisputedLine {
                    like: l.like_id.clone(),
                    thing: l.thing.clone(),
                    amount: Money::from_minor(l.amount),
                    reason: reason.clone(),
                }),
                _ => None,
            })
            .collect();
        let lines = lines
            .into_iter()
            .map(|l| Line {
                like: l.like_id,
                thing: l.thing,
                amount: Money::from_minor(l.amount),
                outcome: l.outcome,
            })
            .collect();
        let adjustments = adjustments::of_statement(db, s.id)
            .await?
            .into_iter()
            .map(|a| AdjustmentLine {
                like: a.like_id,
                thing: a.thing,
                adjusts: a.adjusts,
                adjusts_period: a.adjusts_period,
                amount: Money::from_minor(a.amount),
                outcome: a.outcome,
            })
            .collect();
        let conflicts = books::conflicts(db, &s.ap_id).await?;
        out.push(StatementView {
            direction: s.direction,
            id: s.ap_id,
            peer: s.peer,
            period: s.period,
            version: s.version,
            state: s.state,
            reason: s.reason,
            currency: s.currency,
            line_count: s.line_count,
            total: Money::from_minor(s.total),
            accepted: Money::from_minor(s.accepted),
            disputed: Money::from_minor(s.disputed),
            lines,
            disputes,
            adjusted: Money::from_minor(s.adjusted),
            adjustments,
            supersedes: s.supersedes,
            superseded: s.superseded_at.is_some(),
            conflicts,
        });
    }
    Ok(out)
}
