//! Corrections of statements (issue 8.4): our admin's request to restate a statement (the
//! delivery worker then prepares the next version), and the copies of a peer's statement
//! refused because their id was known with another digest. Owns the table
//! `statement_conflicts` and the restatement columns of `statements` (migration 0010); what a
//! restatement does to the books is `settle::claims`' (`supersede_received`, `supersede_sent`).

use chrono::{DateTime, Utc};

use super::statements::{Direction, STATEMENT, StatementRow, latest};
use crate::store::{StoreError, Tx, epoch};

/// What a restatement request led to.
#[derive(Debug, Clone)]
pub enum Restating {
    /// The period is not paid: the next version of this statement will replace it.
    Version(StatementRow),
    /// The period is paid (or its rest carried on): these corrections of the statement
    /// netted ride in our next statement to the peer, as adjustment lines (section 4.1).
    Adjustments(StatementRow, Vec<super::adjustments::Request>),
}

/// Our admin asks to restate our statement of `period` to `peer`. Until the period is paid,
/// the delivery worker then prepares the next version, a full restatement from our books as
/// they are (its netting, if any, is undone: it will be made again from the new version's
/// claim). After that, the differences between what each line should count — its value, or
/// nothing for a Like in `take_back` — and what it counts become adjustment lines of our next
/// statement to the peer. Refused when there is no statement, and for a take-back before the
/// period is paid.
pub async fn request_restatement(
    tx: &mut Tx,
    peer: &str,
    period: &str,
    take_back: &[String],
    now: DateTime<Utc>,
) -> Result<Restating, crate::ledger::LedgerError> {
    use crate::domain::settlement::SettlementRefusal;
    let refused = |refusal, message| crate::ledger::LedgerError::Settlement { refusal, message };
    let Some(row) = latest(&mut **tx, Direction::Sent, peer, period).await? else {
        return Err(refused(
            SettlementRefusal::UnknownPeriod,
            format!("we sent {peer} no statement for {period}"),
        ));
    };
    if !super::netting::restatable(tx, peer, period).await? {
        let (statement, asked) =
            super::adjustments::request(tx, peer, period, take_back, now).await?;
        return Ok(Restating::Adjustments(statement, asked));
    }
    if !take_back.is_empty() {
        return Err(refused(
            SettlementRefusal::NotPaid,
            format!(
                "{period} with {peer} is not paid: restate it whole (our books decide its lines)"
            ),
        ));
    }
    super::netting::unnet(tx, peer, period).await?;
    sqlx::query("UPDATE statements SET restate_requested_at = $1 WHERE id = $2")
        .bind(epoch(now))
        .bind(row.id)
        .execute(&mut **tx)
        .await?;
    Ok(Restating::Version(row))
}

/// Our sent statements whose admin asked for a restatement not prepared yet (the latest
/// version of each, with the request).
pub async fn restatements_due<'e, E>(db: E) -> Result<Vec<StatementRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{STATEMENT} WHERE direction = 'sent' AND restate_requested_at IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM statements n WHERE n.direction = 'sent'
                         AND n.peer = statements.peer AND n.period = statements.period
                         AND n.version > statements.version)
         ORDER BY id"
    )))
    .fetch_all(db)
    .await?)
}

/// Records a statement refused because its id was received before with another digest, so
/// the admin sees it (`admin statements`). Recorded once per (id, digest).
pub async fn record_conflict(
    db: &sqlx::AnyPool,
    ap_id: &str,
    peer: &str,
    digest: &str,
    document: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO statement_conflicts (ap_id, peer, digest, document, received_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (ap_id, digest) DO NOTHING",
    )
    .bind(ap_id)
    .bind(peer)
    .bind(digest)
    .bind(document)
    .bind(epoch(now))
    .execute(db)
    .await?;
    Ok(())
}

/// The digests of the conflicting copies received of statement `ap_id`.
pub async fn conflicts<'e, E>(db: E, ap_id: &str) -> Result<Vec<String>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(
        sqlx::query_scalar("SELECT digest FROM statement_conflicts WHERE ap_id = $1 ORDER BY id")
            .bind(ap_id)
            .fetch_all(db)
            .await?,
    )
}
