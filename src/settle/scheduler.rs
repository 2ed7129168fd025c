//! Closes every period that has ended, automatically, while the server runs.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::close::{CloseError, CloseOptions, CloseReport, CloseRules, close};
use crate::domain::period::Period;
use crate::store::{Store, periods};

/// Periods that have ended, have flattrs, and are not closed yet, oldest first.
pub async fn due(store: &Store, now: DateTime<Utc>) -> Result<Vec<Period>, CloseError> {
    let current = Period::containing(now).to_string();
    let names: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT DISTINCT period FROM flattrs
         WHERE period < $1 AND period NOT IN ({})
         ORDER BY period",
        periods::CLOSED
    )))
    .bind(current)
    .fetch_all(store.pool())
    .await?;
    Ok(names.iter().filter_map(|n| Period::parse(n).ok()).collect())
}

/// Closes all due periods once.
pub async fn close_due(
    store: &Store,
    rules: CloseRules,
    now: DateTime<Utc>,
) -> Result<Vec<CloseReport>, CloseError> {
    let mut reports = Vec::new();
    for period in due(store, now).await? {
        reports.push(close(store, period, rules, now, CloseOptions::default()).await?);
    }
    Ok(reports)
}

/// Runs [`close_due`] every `every` until `shutdown` resolves. A failed attempt is logged and
/// retried next round; the close is resumable, so retrying is always safe.
pub async fn run(
    store: Store,
    rules: CloseRules,
    clock: crate::clock::Clock,
    metrics: crate::metrics::Metrics,
    every: Duration,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut shutdown = shutdown;
    loop {
        // Each due period is timed on its own, for the close duration metric.
        let due = match due(&store, clock.now()).await {
            Ok(due) => due,
            Err(error) => {
                tracing::error!(%error, "looking for periods to close failed; will retry");
                Vec::new()
            }
        };
        for period in due {
            let started = std::time::Instant::now();
            match close(&store, period, rules, clock.now(), CloseOptions::default()).await {
                Ok(report) => {
                    let took = started.elapsed();
                    metrics.closed(took);
                    tracing::info!(period = %report.period, users = report.users_charged, spent = %report.spent, seconds = took.as_secs_f64(), "period closed");
                }
                Err(error) => {
                    tracing::error!(%period, %error, "automatic close failed; will retry");
                    break;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}
