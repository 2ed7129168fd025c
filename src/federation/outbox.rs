//! Queues what our users' actions send to other servers: a Like when they flattr a remote
//! thing, an Undo when they withdraw it. Queued in the same transaction as the action (the
//! action itself is `flattring`'s), so an action is never recorded without its delivery or
//! the other way round.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::activities::{like, undo};
use crate::state::AppState;
use crate::store::flattrs::{self, FlattrRow};
use crate::store::things::{self, ThingRow};
use crate::store::{StoreError, Tx, epoch};

/// Queues `body` (an activity) for `inbox`, signed by `signer_user_id` (or the instance actor).
/// Queuing the same activity for the same inbox twice queues it once.
pub async fn enqueue(
    tx: &mut Tx,
    activity: &Value,
    inbox: &str,
    signer_user_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let id = activity["id"].as_str().unwrap_or_default();
    sqlx::query(
        "INSERT INTO deliveries (activity_id, inbox, signer_user_id, body, state, attempts,
                                 next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)
         ON CONFLICT (activity_id, inbox) DO NOTHING",
    )
    .bind(id)
    .bind(inbox)
    .bind(signer_user_id)
    .bind(activity.to_string())
    .bind(epoch(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Queues `activity` for `inbox` again, signed by the instance actor: a delivery that was
/// already sent (or refused, or given up) is sent once more. For a settlement answer a peer
/// asks for again by sending the same statement again.
pub async fn enqueue_again(
    tx: &mut Tx,
    activity: &Value,
    inbox: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    enqueue(tx, activity, inbox, None, now).await?;
    sqlx::query(
        "UPDATE deliveries SET state = 'pending', next_attempt_at = $1, finished_at = NULL,
                created_at = $1
         WHERE activity_id = $2 AND inbox = $3 AND state <> 'pending'",
    )
    .bind(epoch(now))
    .bind(activity["id"].as_str().unwrap_or_default())
    .bind(inbox)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Queues the Like for a new flattr of a remote thing.
pub async fn like(
    tx: &mut Tx,
    state: &AppState,
    username: &str,
    flattr: &FlattrRow,
    thing: &ThingRow,
) -> Result<(), StoreError> {
    let Some(inbox) = &thing.remote_inbox else {
        return Ok(());
    };
    let activity = like::outgoing(state, username, flattr, &thing.owner, thing.fedflattr != 0);
    enqueue(
        tx,
        &activity,
        inbox,
        Some(flattr.user_id),
        state.clock.now(),
    )
    .await
}

/// Queues the Undo for a withdrawn flattr of a remote thing.
pub async fn undo(
    tx: &mut Tx,
    state: &AppState,
    username: &str,
    flattr: &FlattrRow,
    thing: &ThingRow,
) -> Result<(), StoreError> {
    let Some(inbox) = &thing.remote_inbox else {
        return Ok(());
    };
    let activity = undo::outgoing(state, username, &flattr.public_id, &thing.owner);
    enqueue(
        tx,
        &activity,
        inbox,
        Some(flattr.user_id),
        state.clock.now(),
    )
    .await
}

/// Queues the Likes of flattrs of remote things that were made without one (subscription
/// renewals inside the close, the first flattr of a subscription) and marks them announced.
/// Returns how many were queued.
pub async fn announce_pending(state: &AppState) -> Result<usize, StoreError> {
    let mut tx = state.store.begin().await?;
    let pending: Vec<(i64, String)> = sqlx::query_as(
        "SELECT f.id, u.username FROM flattrs f JOIN users u ON u.id = f.user_id
         WHERE f.announced = 0 ORDER BY f.id LIMIT 500",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (flattr_id, username) in &pending {
        let flattr = flattrs::by_id(&mut *tx, *flattr_id).await?;
        let thing = things::by_id(&mut *tx, flattr.thing_id).await?;
        like(&mut tx, state, username, &flattr, &thing).await?;
        sqlx::query("UPDATE flattrs SET announced = 1 WHERE id = $1")
            .bind(flattr_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(pending.len())
}
