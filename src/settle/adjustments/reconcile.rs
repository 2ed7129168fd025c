//! The payee's reconciliation of the adjustment lines of a received statement: each one
//! matched to the settled line it corrects and checked like a plain line, a take-back only
//! while what the statement credits its creator covers it.

use std::collections::{BTreeMap, HashSet};

use super::books::effect;
use super::lines::{AdjustmentRow, of_statement};
use crate::domain::settlement::{Dispute, Outcome};
use crate::settle::reconcile::check_line;
use crate::settle::statements::{Direction, LineRow, StatementRow, by_ap_id, lines};
use crate::store::{StoreError, Tx};

/// The payee's reconciliation of the adjustment lines of `statement`, after its plain lines
/// (`plain`, as `reconcile` gave them): `(position, outcome, creator)` of each. An addition
/// must present again a line of a settled statement of the payer's that we disputed and
/// still do not count, and pass the checks of any line; a take-back must take back a line we
/// accepted and still count, and be covered by what this statement credits its creator (so
/// it never takes money the creator may have withdrawn: `not_covered` otherwise).
pub async fn reconcile(
    tx: &mut Tx,
    statement: &StatementRow,
    base_url: &url::Url,
    plain: &[(i64, Outcome, Option<i64>)],
) -> Result<Vec<(i64, Outcome, Option<i64>)>, StoreError> {
    let rows = of_statement(&mut **tx, statement.id).await?;
    let own_lines = lines(&mut **tx, statement.id).await?;
    let mut cover: BTreeMap<i64, i64> = BTreeMap::new();
    for (position, outcome, owner) in plain {
        if let (Outcome::Accepted, Some(owner)) = (outcome, owner) {
            let amount = own_lines
                .iter()
                .find(|l| l.position == *position)
                .map_or(0, |l| l.amount);
            *cover.entry(*owner).or_default() += amount;
        }
    }
    let mut seen = HashSet::new();
    let mut outcomes = Vec::with_capacity(rows.len());
    // Additions first: what they credit a creator covers a take-back of the same statement.
    let (additions, take_backs): (Vec<_>, Vec<_>) = rows.iter().partition(|a| a.amount > 0);
    for row in additions.into_iter().chain(take_backs) {
        let disputed = |reason| (row.position, Outcome::Disputed(reason), None);
        if !seen.insert((row.adjusts.clone(), row.like_id.clone())) {
            outcomes.push(disputed(Dispute::Duplicate));
            continue;
        }
        let Some((original, line)) = settled_line(tx, statement, row).await? else {
            outcomes.push(disputed(Dispute::UnmatchedAdjustment));
            continue;
        };
        let accepted = if line.outcome.as_deref() == Some("accepted") {
            line.amount
        } else {
            0
        };
        let counts = effect(
            tx,
            Direction::Received,
            &row.adjusts,
            &row.like_id,
            accepted,
        )
        .await?;
        if row.amount > 0 {
            if counts != 0 {
                outcomes.push(disputed(Dispute::UnmatchedAdjustment));
                continue;
            }
            if row.like_digest != line.like_digest {
                outcomes.push(disputed(Dispute::DigestMismatch));
                continue;
            }
            let (outcome, owner) =
                check_line(tx, &original, base_url, &line, &row.adjusts_period).await?;
            if let (Outcome::Accepted, Some(owner)) = (outcome, owner) {
                *cover.entry(owner).or_default() += row.amount;
            }
            outcomes.push((row.position, outcome, owner));
        } else {
            let Some(owner) = line.owner_id.filter(|_| counts == line.amount) else {
                outcomes.push(disputed(Dispute::UnmatchedAdjustment));
                continue;
            };
            let covered = cover.entry(owner).or_default();
            if *covered < -row.amount {
                outcomes.push(disputed(Dispute::NotCovered));
                continue;
            }
            *covered += row.amount;
            outcomes.push((row.position, Outcome::Accepted, Some(owner)));
        }
    }
    outcomes.sort_by_key(|(position, _, _)| *position);
    Ok(outcomes)
}

/// The line an adjustment corrects: on a statement the payer sent us for an earlier period,
/// the version netted, whose period can no longer be restated (paid, or its rest carried
/// on), with the adjustment's value (in size) and thing.
async fn settled_line(
    tx: &mut Tx,
    statement: &StatementRow,
    row: &AdjustmentRow,
) -> Result<Option<(StatementRow, LineRow)>, StoreError> {
    let Some(original) = by_ap_id(&mut **tx, Direction::Received, &row.adjusts).await? else {
        return Ok(None);
    };
    if original.peer != statement.peer
        || original.period != row.adjusts_period
        || original.period >= statement.period
        || original.superseded_at.is_some()
    {
        return Ok(None);
    }
    let settled: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM settlement_nets n
         WHERE n.peer = $1 AND n.period = $2 AND n.received_statement = $3
           AND (n.state <> 'netted' OR EXISTS (SELECT 1 FROM settlement_nets l
                                               WHERE l.peer = n.peer AND l.period > n.period))",
    )
    .bind(&statement.peer)
    .bind(&original.period)
    .bind(&original.ap_id)
    .fetch_one(&mut **tx)
    .await?;
    if settled == 0 {
        return Ok(None);
    }
    let line = lines(&mut **tx, original.id)
        .await?
        .into_iter()
        .find(|l| l.like_id == row.like_id && l.amount == row.amount.abs() && l.thing == row.thing);
    Ok(line.map(|line| (original, line)))
}
