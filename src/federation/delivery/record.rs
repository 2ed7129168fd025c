//! Recording a sent batch: every attempt, and each delivery's outcome while its claim is
//! still ours, in one statement on PostgreSQL and one transaction of two on SQLite.

use std::collections::HashSet;

use serde_json::json;

use super::claim::Claimed;
use super::send::Attempted;
use super::{Outcome, RunReport, classify};
use crate::state::AppState;
use crate::store::{Backend, StoreError, epoch};

/// PostgreSQL: the batch's attempts inserted and its outcomes written by one statement (a
/// data-modifying `WITH`), the batch travelling as one JSON text (sqlx's `Any` binds no
/// arrays). Returns the ids whose claim was still `$3`.
const RECORD_POSTGRES: &str = "
    WITH outcome AS (
        SELECT * FROM json_to_recordset($1::json) AS o(
            id BIGINT, state TEXT, attempts BIGINT, next_attempt_at BIGINT, status BIGINT,
            finished_at BIGINT, error TEXT)
    ), attempted AS (
        INSERT INTO delivery_attempts (delivery_id, attempted_at, status, error)
        SELECT id, $2, status, error FROM outcome
    )
    UPDATE deliveries AS d
       SET state = o.state, attempts = o.attempts, next_attempt_at = o.next_attempt_at,
           last_status = o.status, finished_at = o.finished_at, locked_until = NULL, claim = NULL
      FROM outcome AS o
     WHERE d.id = o.id AND d.claim = $3
    RETURNING d.id";

/// SQLite: the attempts (the JSON of [`RECORD_POSTGRES`] read with `json_each`).
const ATTEMPTS_SQLITE: &str = "
    INSERT INTO delivery_attempts (delivery_id, attempted_at, status, error)
    SELECT value ->> 'id', $2, value ->> 'status', value ->> 'error' FROM json_each($1)";

/// SQLite: the outcomes, for the rows still claimed under `$2`.
const OUTCOMES_SQLITE: &str = "
    UPDATE deliveries
       SET state = o.state, attempts = o.attempts, next_attempt_at = o.next_attempt_at,
           last_status = o.status, finished_at = o.finished_at, locked_until = NULL, claim = NULL
      FROM (SELECT value ->> 'id' AS id, value ->> 'state' AS state,
                   value ->> 'attempts' AS attempts, value ->> 'next_attempt_at' AS next_attempt_at,
                   value ->> 'status' AS status, value ->> 'finished_at' AS finished_at
              FROM json_each($1)) AS o
     WHERE deliveries.id = o.id AND deliveries.claim = $2
    RETURNING deliveries.id";

/// Writes the batch's attempts and outcomes at once, each outcome only while the row is still
/// claimed under `token`, and counts them in `report`.
pub(super) async fn record(
    state: &AppState,
    rows: &[Claimed],
    results: Vec<Attempted>,
    token: &str,
    report: &mut RunReport,
) -> Result<(), StoreError> {
    let at = epoch(state.clock.now());
    let mut decided = Vec::with_capacity(rows.len());
    let mut batch = Vec::with_capacity(rows.len());
    for (row, (status, error)) in rows.iter().zip(results) {
        let attempts = row.attempts + 1;
        let outcome = classify(status, attempts, row.created_at, at);
        let (state_name, next, finished) = match outcome {
            Outcome::Delivered => ("delivered", at, Some(at)),
            Outcome::Rejected => ("rejected", at, Some(at)),
            Outcome::RetryAt(next) => ("pending", next, None),
            Outcome::Failed => ("failed", at, Some(at)),
        };
        batch.push(json!({
            "id": row.id, "state": state_name, "attempts": attempts, "next_attempt_at": next,
            "status": status, "finished_at": finished, "error": error,
        }));
        decided.push((row, status, error, outcome));
    }
    let batch = serde_json::Value::Array(batch).to_string();
    let settled: Vec<i64> = match state.store.backend() {
        Backend::Postgres => {
            sqlx::query_scalar(RECORD_POSTGRES)
                .bind(&batch)
                .bind(at)
                .bind(token)
                .fetch_all(state.store.pool())
                .await?
        }
        Backend::Sqlite => {
            let mut tx = state.store.begin().await?;
            sqlx::query(ATTEMPTS_SQLITE)
                .bind(&batch)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            let settled = sqlx::query_scalar(OUTCOMES_SQLITE)
                .bind(&batch)
                .bind(token)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            settled
        }
    };
    let settled: HashSet<i64> = settled.into_iter().collect();
    for (row, status, error, outcome) in decided {
        if !settled.contains(&row.id) {
            // Only possible when this worker stalled longer than its claim: the row is another
            // worker's now, and its outcome is that worker's to record.
            tracing::warn!(activity = %row.activity_id, inbox = %row.inbox, "the claim on a delivery was lost while sending");
            continue;
        }
        match outcome {
            Outcome::Delivered => report.delivered += 1,
            Outcome::Rejected => report.rejected += 1,
            Outcome::RetryAt(_) => report.retrying += 1,
            Outcome::Failed => report.failed += 1,
        }
        match outcome {
            Outcome::Delivered => {
                tracing::info!(activity = %row.activity_id, inbox = %row.inbox, "delivered")
            }
            other => {
                tracing::warn!(activity = %row.activity_id, inbox = %row.inbox, ?status, ?error, ?other, "delivery attempt did not succeed")
            }
        }
    }
    Ok(())
}
