//! Claiming due deliveries under a run's random token, and the heartbeat that keeps the
//! token's claims alive for as long as the run lasts.

use std::time::Duration;

use crate::state::AppState;
use crate::store::{StoreError, epoch};

/// A delivery claimed for sending, as the sender and the recorder need it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct Claimed {
    pub(super) id: i64,
    pub(super) activity_id: String,
    pub(super) inbox: String,
    pub(super) signer_user_id: Option<i64>,
    pub(super) body: String,
    pub(super) attempts: i64,
    pub(super) created_at: i64,
    pub(super) next_attempt_at: i64,
}

/// A new random claim token: one per run of the queue, for every batch the run claims.
pub(super) fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Claims up to `limit` due rows that nobody holds, oldest first, under `token`.
pub(super) async fn claim(
    state: &AppState,
    token: &str,
    limit: usize,
) -> Result<Vec<Claimed>, StoreError> {
    let now = epoch(state.clock.now());
    // The outer condition is checked again on each row: on PostgreSQL a row another worker
    // claimed meanwhile is re-read after that worker's commit and no longer matches.
    let mut claimed: Vec<Claimed> = sqlx::query_as(
        "UPDATE deliveries SET locked_until = $1, claim = $3
         WHERE id IN (SELECT id FROM deliveries
                      WHERE state = 'pending' AND next_attempt_at <= $2
                        AND (locked_until IS NULL OR locked_until < $2)
                      ORDER BY next_attempt_at, id LIMIT $4)
           AND (locked_until IS NULL OR locked_until < $2)
         RETURNING id, activity_id, inbox, signer_user_id, body, attempts, created_at, next_attempt_at",
    )
    .bind(now + claim_secs(state))
    .bind(now)
    .bind(token)
    .bind(i64::try_from(limit).unwrap_or(1))
    .fetch_all(state.store.pool())
    .await?;
    // RETURNING gives no order: queue order is what the sequential sends keep.
    claimed.sort_by_key(|row| (row.next_attempt_at, row.id));
    Ok(claimed)
}

fn claim_secs(state: &AppState) -> i64 {
    i64::try_from(state.settings.delivery_claim_secs).unwrap_or(i64::MAX / 2)
}

/// Renews the claim on the rows claimed under `token` — sent and not yet recorded, or
/// claimed and not yet sent — every third of the claim while the run lasts; never returns.
pub(super) async fn heartbeat(state: &AppState, token: &str) {
    let every = Duration::from_millis(state.settings.delivery_claim_secs * 1000 / 3);
    loop {
        tokio::time::sleep(every).await;
        let until = epoch(state.clock.now()) + claim_secs(state);
        let renewed = sqlx::query("UPDATE deliveries SET locked_until = $1 WHERE claim = $2")
            .bind(until)
            .bind(token)
            .execute(state.store.pool())
            .await;
        if let Err(error) = renewed {
            tracing::warn!(%error, "could not renew a delivery claim");
        }
    }
}
