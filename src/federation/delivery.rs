//! The persistent delivery queue: signs and sends queued activities, records every attempt's
//! status, and retries with backoff for four days.
//!
//! A 2xx is delivered. A 4xx (other than 408 and 429) is the receiver refusing the activity:
//! it is recorded as `rejected`, never as delivered, and not retried. Anything else — 5xx, 408,
//! 429, no answer — is retried after 1 min, 5 min, 30 min, 2 h, 6 h, then every 12 h, until
//! the delivery is four days old (then `failed`).
//!
//! Several servers may share one database; each delivery is still sent once at a time
//! (issue 7.8). A worker claims a batch of rows with a compare-and-set on `locked_until`,
//! writing a random token into `claim`; while it sends, a heartbeat renews `locked_until` of
//! the token's rows every third of the claim (`delivery_claim_secs`), so a slow receiver never
//! lets the claim expire under it; each send times out after 10 s (the client's timeout),
//! shorter than any claim; and each outcome is written only while the token is still the
//! worker's. A worker that dies stops renewing, and its rows are free again after
//! `delivery_claim_secs`.
//!
//! Speed (issue 10.3): a batch's Likes are signed and sent concurrently, each signer's key is
//! parsed once per run, signing uses `ring`, and a batch's outcomes are written in one
//! transaction.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::actors::{instance_keys, instance_url, user_url};
use super::client::guard;
use super::signing::PostSigner;
use crate::state::AppState;
use crate::store::{StoreError, epoch, users};

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

#[derive(Debug, Clone, sqlx::FromRow)]
struct Claimed {
    id: i64,
    activity_id: String,
    inbox: String,
    signer_user_id: Option<i64>,
    body: String,
    attempts: i64,
    created_at: i64,
    next_attempt_at: i64,
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

/// Sends every delivery that is due now, a claimed batch at a time. Safe to call from several
/// processes at once.
///
/// A batch's Likes go out concurrently (at most 8 at a time to one host), then its
/// other activities one by one in queue order, so that an `Undo` never overtakes the `Like`
/// it withdraws. Each signer's key is parsed once per run.
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
    let mut report = RunReport::default();
    let mut signers = Signers::default();
    let mut sent = 0;
    while sent < MAX_PER_RUN {
        let (rows, token) = claim(state, BATCH.min(MAX_PER_RUN - sent)).await?;
        if rows.is_empty() {
            break;
        }
        sent += rows.len();
        for row in &rows {
            signers.prepare(state, row.signer_user_id).await;
        }
        let results = tokio::select! {
            results = send_batch(state, &rows, &signers) => results,
            () = heartbeat(state, &token) => unreachable!("the heartbeat never ends"),
        };
        record(state, &rows, results, &token, &mut report).await?;
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
/// The most sends in flight to one host.
const PER_HOST: usize = 8;

/// Each signer's key, parsed once per run (`None`: the instance actor).
#[derive(Default)]
struct Signers {
    keys: HashMap<Option<i64>, Result<Arc<PostSigner>, String>>,
}

impl Signers {
    async fn prepare(&mut self, state: &AppState, user_id: Option<i64>) {
        if self.keys.contains_key(&user_id) {
            return;
        }
        let signer = match signer(state, user_id).await {
            Ok((actor, key)) => PostSigner::new(&actor, &key)
                .map(Arc::new)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        self.keys.insert(user_id, signer);
    }

    fn get(&self, user_id: Option<i64>) -> Result<Arc<PostSigner>, String> {
        self.keys
            .get(&user_id)
            .cloned()
            .unwrap_or_else(|| Err("no signer".to_owned()))
    }
}

/// What an attempt got: the status code, or the error when there was no answer.
type Attempted = (Option<u16>, Option<String>);

/// Sends the batch `rows` (see [`deliver_due`] for the order) and returns each row's result.
async fn send_batch(state: &AppState, rows: &[Claimed], signers: &Signers) -> Vec<Attempted> {
    let mut results: Vec<Option<Attempted>> = vec![None; rows.len()];
    let mut hosts: HashMap<String, Arc<tokio::sync::Semaphore>> = HashMap::new();
    let mut likes = tokio::task::JoinSet::new();
    for (index, row) in rows.iter().enumerate() {
        if !is_like(&row.body) {
            continue;
        }
        let host = Url::parse(&row.inbox)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let slots = hosts
            .entry(host)
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(PER_HOST)))
            .clone();
        let (state, row, signer) = (state.clone(), row.clone(), signers.get(row.signer_user_id));
        likes.spawn(async move {
            let _slot = slots.acquire_owned().await;
            (index, attempt(&state, &row, signer).await)
        });
    }
    while let Some(done) = likes.join_next().await {
        match done {
            Ok((index, result)) => results[index] = Some(result),
            Err(e) => tracing::error!(error = %e, "a delivery task failed"),
        }
    }
    for (index, row) in rows.iter().enumerate() {
        if results[index].is_none() && !is_like(&row.body) {
            results[index] = Some(attempt(state, row, signers.get(row.signer_user_id)).await);
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or((None, Some("the send did not finish".to_owned()))))
        .collect()
}

/// True for a `Like`: Likes do not depend on one another, so they may go out concurrently.
fn is_like(body: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Kind {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_str::<Kind>(body).is_ok_and(|k| k.kind == "Like")
}

/// Writes the batch's attempts and outcomes in one transaction, each only while the row is
/// still claimed under `token`.
async fn record(
    state: &AppState,
    rows: &[Claimed],
    results: Vec<Attempted>,
    token: &str,
    report: &mut RunReport,
) -> Result<(), StoreError> {
    let at = epoch(state.clock.now());
    let mut tx = state.store.begin().await?;
    let mut settled_rows = Vec::with_capacity(rows.len());
    for (row, (status, error)) in rows.iter().zip(results) {
        let attempts = row.attempts + 1;
        let outcome = classify(status, attempts, row.created_at, at);
        sqlx::query("INSERT INTO delivery_attempts (delivery_id, attempted_at, status, error) VALUES ($1, $2, $3, $4)")
            .bind(row.id)
            .bind(at)
            .bind(status.map(i64::from))
            .bind(&error)
            .execute(&mut *tx)
            .await?;
        let (state_name, next, finished) = match outcome {
            Outcome::Delivered => ("delivered", at, Some(at)),
            Outcome::Rejected => ("rejected", at, Some(at)),
            Outcome::RetryAt(next) => ("pending", next, None),
            Outcome::Failed => ("failed", at, Some(at)),
        };
        let settled = sqlx::query(
            "UPDATE deliveries SET state = $1, attempts = $2, next_attempt_at = $3, last_status = $4,
                    finished_at = $5, locked_until = NULL, claim = NULL
             WHERE id = $6 AND claim = $7",
        )
        .bind(state_name)
        .bind(attempts)
        .bind(next)
        .bind(status.map(i64::from))
        .bind(finished)
        .bind(row.id)
        .bind(token)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        settled_rows.push((row, status, error, outcome, settled));
    }
    tx.commit().await?;
    for (row, status, error, outcome, settled) in settled_rows {
        if settled == 0 {
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

/// Claims up to `limit` due rows that nobody holds, oldest first, under one new random token.
async fn claim(state: &AppState, limit: usize) -> Result<(Vec<Claimed>, String), StoreError> {
    let now = epoch(state.clock.now());
    let token = format!("{:032x}", rand::random::<u128>());
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
    .bind(&token)
    .bind(i64::try_from(limit).unwrap_or(1))
    .fetch_all(state.store.pool())
    .await?;
    // RETURNING gives no order: queue order is what the sequential sends keep.
    claimed.sort_by_key(|row| (row.next_attempt_at, row.id));
    Ok((claimed, token))
}

fn claim_secs(state: &AppState) -> i64 {
    i64::try_from(state.settings.delivery_claim_secs).unwrap_or(i64::MAX / 2)
}

/// Renews the claim on the rows claimed under `token` every third of the claim while the
/// sends run; never returns.
async fn heartbeat(state: &AppState, token: &str) {
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

/// One signed POST; the status code, or the error when there was no answer.
async fn attempt(
    state: &AppState,
    row: &Claimed,
    signer: Result<Arc<PostSigner>, String>,
) -> Attempted {
    let inbox = match Url::parse(&row.inbox) {
        Ok(inbox) => inbox,
        Err(e) => return (None, Some(format!("bad inbox URL: {e}"))),
    };
    if let Err(e) = guard(&state.settings, &inbox).await {
        return (None, Some(e.to_string()));
    }
    let signer = match signer {
        Ok(signer) => signer,
        Err(e) => return (None, Some(e)),
    };
    let request = match signer.sign(&state.client, &inbox, row.body.clone()) {
        Ok(request) => request,
        Err(e) => return (None, Some(e.to_string())),
    };
    match state.client.execute(request).await {
        Ok(response) => (Some(response.status().as_u16()), None),
        Err(e) => (None, Some(e.to_string())),
    }
}

async fn signer(state: &AppState, user_id: Option<i64>) -> Result<(Url, String), StoreError> {
    match user_id {
        Some(id) => {
            let user = users::by_id(state.store.pool(), id).await?;
            Ok((user_url(state, &user.username), user.private_key))
        }
        None => Ok((
            instance_url(state),
            instance_keys(&state.store).await?.private_key,
        )),
    }
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
