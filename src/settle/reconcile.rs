//! The payee's reconciliation of a received statement: every line checked against the Likes
//! we received (`received_likes`) and our things, in the transaction that records the claim.
//! The checks that need the network (the Like's origin, fetching a Like we missed) are done
//! by `federation::statements` before; what it found comes in as `known`.

use crate::domain::settlement::{Dispute, Outcome};
use crate::store::{StoreError, Tx, received_likes, things};

use super::statements::{LineRow, StatementRow, lines};

/// The outcome of every line of `statement`, with the local creator of each accepted one:
/// `(position, outcome, owner)`. `foreign(line)` is a dispute the caller already established
/// for a line (a Like that is not on the payer's origin, say).
pub async fn reconcile(
    tx: &mut Tx,
    statement: &StatementRow,
    base_url: &url::Url,
    foreign: impl Fn(&LineRow) -> Option<Dispute>,
) -> Result<Vec<(i64, Outcome, Option<i64>)>, StoreError> {
    let lines = lines(&mut **tx, statement.id).await?;
    let mut seen = std::collections::HashSet::new();
    let mut outcomes = Vec::with_capacity(lines.len());
    for line in &lines {
        let (outcome, owner) = if !seen.insert(line.like_id.clone()) {
            (Outcome::Disputed(Dispute::Duplicate), None)
        } else if let Some(dispute) = foreign(line) {
            (Outcome::Disputed(dispute), None)
        } else {
            check_line(tx, statement, base_url, line, &statement.period).await?
        };
        outcomes.push((line.position, outcome, owner));
    }
    Ok(outcomes)
}

/// The checks of one line of `statement`, whose Like must count in `period` (the statement's,
/// or for an adjustment line the period it corrects).
pub(super) async fn check_line(
    tx: &mut Tx,
    statement: &StatementRow,
    base_url: &url::Url,
    line: &LineRow,
    period: &str,
) -> Result<(Outcome, Option<i64>), StoreError> {
    let disputed = |reason| Ok((Outcome::Disputed(reason), None));
    if line.amount <= 0 {
        return disputed(Dispute::ValueMismatch);
    }
    let thing = match url::Url::parse(&line.thing) {
        Ok(url) => things::local_by_ap_id(&mut **tx, base_url, &url).await?,
        Err(_) => None,
    };
    let Some(thing) = thing else {
        return disputed(Dispute::NotOurThing);
    };
    let Some(like) = received_likes::by_activity_id(&mut **tx, &line.like_id).await? else {
        return disputed(Dispute::UnknownLike);
    };
    if like.thing_id != thing.id {
        return disputed(Dispute::NotOurThing);
    }
    if thing.proven_at.is_none() {
        return disputed(Dispute::UnprovenThing);
    }
    if like.undone_at.is_some() {
        return disputed(Dispute::LikeUndone);
    }
    if like.period != period {
        return disputed(Dispute::PeriodMismatch);
    }
    if like.currency != statement.currency {
        // A plain favourite (no currency) carried no money; a Like in another currency could
        // not have been a flattr of ours.
        return disputed(Dispute::ValueMismatch);
    }
    if like
        .digest
        .as_deref()
        .is_some_and(|d| d != line.like_digest)
    {
        return disputed(Dispute::DigestMismatch);
    }
    let accepted_elsewhere: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM statement_lines l JOIN statements s ON s.id = l.statement_id
         WHERE l.like_id = $1 AND l.outcome = 'accepted' AND s.direction = 'received'
           AND s.id <> $2 AND s.superseded_at IS NULL",
    )
    .bind(&line.like_id)
    .bind(statement.id)
    .fetch_one(&mut **tx)
    .await?;
    if accepted_elsewhere > 0 {
        return disputed(Dispute::Duplicate);
    }
    Ok((Outcome::Accepted, thing.owner_id))
}
