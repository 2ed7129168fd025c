//! The persistent delivery queue: signs and sends queued activities, records every attempt's
//! status, and retries with backoff for four days.
//!
//! A 2xx is delivered. A 4xx (other than 408 and 429) is the receiver refusing the activity:
//! it is recorded as `rejected`, never as delivered, and not retried. Anything else — 5xx, 408,
//! 429, no answer — is retried after 1 min, 5 min, 30 min, 2 h, 6 h, then every 12 h, until
//! the delivery is four days old (then `failed`).
//!
//! Several servers may share one database; each delivery is still sent once at a time
//! (issue 7.8). A run claims batches of rows with a compare-and-set on `locked_until`,
//! writing the run's random token into `claim` (`claim`); while the run lasts, a heartbeat
//! renews `locked_until` of the token's rows every third of the claim
//! (`delivery_claim_secs`), so a slow receiver never lets the claim expire under it; each
//! send times out after 10 s (the client's timeout), shorter than any claim; and each outcome
//! is written only while the token is still the run's (`record`). A worker that dies stops
//! renewing, and its rows are free again after `delivery_claim_secs`.
//!
//! Speed (issue 10.3): a batch's Likes are signed and sent concurrently (`send`), each
//! signer's key is parsed once per run, signing uses `ring`; a batch's attempts and outcomes
//! are one statement on PostgreSQL (two on SQLite), and they are written, and the next batch
//! claimed, while the following batch is being sent.

mod claim;
mod record;
mod send;

use std::time::Duration;

use claim::{Claimed, claim, heartbeat, new_token};
use record::record;
use send::{Attempted, Signers, send_batch};

use crate::state::AppState;
use crate::store::StoreError;

/// Seconds to wait after the n-th failed attempt (n from 1).
const BACKOFF: [i64; 6] = [60, 300, 1_800, 7_200, 21_600, 43_200];
/// Deliveries older than this are given up.
pub const MAX_AGE_SECS: i64 = 4 * 24 * 3600;
/// The most rows one run sends, so that a run ends even when the queue keeps filling.
const MAX_PER_RUN: usize = 1_000;

/// What an attempt's answer means for the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx: done.
    Delivered,
    /// A 4xx: the peer will never take it; not tried again.
    Rejected,
    /// No answer or a 5xx: tried again at this Unix time.
    RetryAt(i64),
    /// Too old to try again.
    Failed,
}

/// Decides from the status (`None`: no answer) of attempt number `attempts` (from 1), for a
/// delivery created at `created_at`, at `now` (all in epoch seconds).
pub fn classify(status: Option<u16>, attempts: i64, created_at: i64, now: i64) -> Outcome {
    match status {
        Some(s) if (200..300).contains(&s) => Outcome::Delivered,
        Some(s) if (400..500).contains(&s) && s != 408 && s != 429 => Outcome::Rejected,
        _ => {
            let index = usize::try_from(attempts.max(1) - 1)
                .unwrap_or(0)
                .min(BACKOFF.len() - 1);
            let next = now + BACKOFF[index];
            if next - created_at > MAX_AGE_SECS {
                Outcome::Failed
            } else {
                Outcome::RetryAt(next)
            }
        }
    }
}

/// What one run of the queue did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// Accepted by the peer (2xx).
    pub delivered: usize,
    /// Refused by the peer (4xx); not tried again.
    pub rejected: usize,
    /// Failed for now; tried again later.
    pub retrying: usize,
    /// Given up after the last attempt.
    pub failed: usize,
}

/// Sends every delivery that is due now (at most 1 000 per run), a claimed batch at a time.
/// Safe to call from several processes at once.
///
/// A batch's Likes go out concurrently (at most 8 at a time to one host), then its
/// other activities one by one in queue order, and the next batch only after that, so that
/// an `Undo` never overtakes the `Like` it withdraws. Each signer's key is parsed once per
/// run.
pub async fn deliver_due(state: &AppState) -> Result<RunReport, StoreError> {
    super::outbox::announce_pending(state).await?;
    // Settlement runs by itself after every close: the statements of newly closed periods
    // are prepared and queued here, and go out in this run. A peer that cannot be reached
    // now is tried again next run; that must not hold up every other delivery.
    if let Err(error) = super::statements::prepare_due(state).await {
        tracing::warn!(%error, "statements not prepared; will retry");
    }
    // Then what the claims made ready is netted, and the payment notices and receipts our
    // admin's payments and confirmations call for are signed and queued.
    if let Err(error) = super::payments::prepare_due(state).await {
        tracing::warn!(%error, "netting, notices or receipts not prepared; will retry");
    }
    let token = new_token();
    let mut report = RunReport::default();
    let run = send_and_record(state, &token, &mut report);
    tokio::select! {
        done = run => done?,
        () = heartbeat(state, &token) => unreachable!("the heartbeat never ends"),
    }
    state.metrics.deliveries(
        report.delivered,
        report.rejected,
        report.retrying,
        report.failed,
    );
    Ok(report)
}

/// The most rows one claim takes.
const BATCH: usize = 100;

/// Claims, sends and records batches under `token` until the queue has nothing due or the run
/// has taken [`MAX_PER_RUN`] rows, pipelined: while a batch is sent, the previous batch's
/// outcomes are written and the next batch is claimed, so the sends never wait for the
/// database. A batch is sent only once the one before it is answered (the order of Likes and
/// their Undos).
async fn send_and_record(
    state: &AppState,
    token: &str,
    report: &mut RunReport,
) -> Result<(), StoreError> {
    let mut signers = Signers::default();
    let mut claimed = claim(state, token, BATCH.min(MAX_PER_RUN)).await?;
    let mut taken = claimed.len();
    // The batch sent last, with its answers, until its outcomes are written.
    let mut answered: Option<(Vec<Claimed>, Vec<Attempted>)> = None;
    while !claimed.is_empty() {
        for row in &claimed {
            signers.prepare(state, row.signer_user_id).await;
        }
        let limit = BATCH.min(MAX_PER_RUN - taken);
        let previous = answered.take();
        let (results, recorded, next) = tokio::join!(
            send_batch(state, &claimed, &signers),
            async {
                match previous {
                    Some((rows, results)) => record(state, &rows, results, token, report).await,
                    None => Ok(()),
                }
            },
            async {
                match limit {
                    0 => Ok(Vec::new()),
                    limit => claim(state, token, limit).await,
                }
            },
        );
        recorded?;
        let next = next?;
        taken += next.len();
        answered = Some((std::mem::replace(&mut claimed, next), results));
    }
    if let Some((rows, results)) = answered {
        record(state, &rows, results, token, report).await?;
    }
    Ok(())
}

/// Runs the queue every `every` until `shutdown` says stop.
pub async fn run(
    state: AppState,
    every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if let Err(error) = deliver_due(&state).await {
            tracing::error!(%error, "delivery run failed; will retry");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// A delivery and its attempts, for the admin and for tests.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct DeliveryRow {
    /// The delivery's row id.
    pub id: i64,
    /// The id of the activity delivered.
    pub activity_id: String,
    /// The inbox it goes to.
    pub inbox: String,
    /// `pending`, `delivered`, `rejected` or `failed`.
    pub state: String,
    /// How many times it was sent.
    pub attempts: i64,
    /// The HTTP status of the last attempt; none when it got no answer.
    pub last_status: Option<i64>,
}

/// How many deliveries wait to be sent or retried (the queue's depth, for `/metrics`).
pub async fn depth(store: &crate::store::Store) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'")
            .fetch_one(store.pool())
            .await?,
    )
}

/// Every delivery, oldest first.
pub async fn list(state: &AppState) -> Result<Vec<DeliveryRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, activity_id, inbox, state, attempts, last_status FROM deliveries ORDER BY id",
    )
    .fetch_all(state.store.pool())
    .await?)
}

/// The recorded statuses of one delivery's attempts, oldest first (`None`: no answer).
pub async fn attempt_statuses(
    state: &AppState,
    delivery_id: i64,
) -> Result<Vec<Option<i64>>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT status FROM delivery_attempts WHERE delivery_id = $1 ORDER BY id",
    )
    .bind(delivery_id)
    .fetch_all(state.store.pool())
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_hundreds_are_delivered_and_four_hundreds_rejected_never_delivered() {
        assert_eq!(classify(Some(202), 1, 0, 0), Outcome::Delivered);
        for status in [400, 401, 403, 404, 410, 422] {
            assert_eq!(
                classify(Some(status), 1, 0, 0),
                Outcome::Rejected,
                "{status}"
            );
        }
    }

    #[test]
    fn server_errors_timeouts_and_silence_are_retried_with_growing_delays() {
        assert_eq!(classify(Some(500), 1, 0, 0), Outcome::RetryAt(60));
        assert_eq!(classify(Some(429), 2, 0, 100), Outcome::RetryAt(400));
        assert_eq!(classify(Some(408), 3, 0, 0), Outcome::RetryAt(1_800));
        assert_eq!(classify(None, 9, 0, 0), Outcome::RetryAt(43_200));
    }

    #[test]
    fn retries_go_on_for_more_than_three_days_and_stop_after_four() {
        let three_days = 3 * 24 * 3600;
        assert!(matches!(
            classify(None, 10, 0, three_days),
            Outcome::RetryAt(_)
        ));
        assert_eq!(classify(None, 12, 0, MAX_AGE_SECS), Outcome::Failed);
    }
}
