//! Queries of subscriptions: flattr a thing automatically every period for 3, 6 or 12 periods.

use chrono::{DateTime, Utc};

use super::{StoreError, Tx, epoch};
use crate::domain::period::Period;

/// A subscription as stored, with its thing's title.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SubscriptionRow {
    /// The subscription's id.
    pub id: i64,
    /// The subscriber.
    pub user_id: i64,
    /// The thing flattred every period.
    pub thing_id: i64,
    /// The thing's title, for lists.
    pub thing_title: String,
    /// How many periods it was taken out for.
    pub periods_total: i64,
    /// How many periods it still flattrs.
    pub periods_left: i64,
    /// 1 while the subscriber paused it.
    pub paused: i64,
    /// The last period it flattred in.
    pub last_period: Option<String>,
    /// When it was taken out, Unix seconds.
    pub created_at: i64,
    /// When it was stopped, Unix seconds.
    pub stopped_at: Option<i64>,
}

const SELECT: &str = "SELECT s.id, s.user_id, s.thing_id, t.title AS thing_title, s.periods_total,
        s.periods_left, s.paused, s.last_period, s.created_at, s.stopped_at
    FROM subscriptions s JOIN things t ON t.id = s.thing_id";

/// Records a subscription whose first flattr (`flattring::subscribe`) is made for `current`;
/// returns its id. A second live subscription to the same thing is a `Conflict`.
pub async fn create(
    tx: &mut Tx,
    user_id: i64,
    thing_id: i64,
    periods: i64,
    current: Period,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let inserted = sqlx::query_scalar::<_, i64>(
        "INSERT INTO subscriptions (user_id, thing_id, periods_total, periods_left, paused,
                                    last_period, created_at)
         VALUES ($1, $2, $3, $4, 0, $5, $6)
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(user_id)
    .bind(thing_id)
    .bind(periods)
    .bind(periods - 1)
    .bind(current.to_string())
    .bind(epoch(now))
    .fetch_optional(&mut **tx)
    .await?;
    inserted
        .ok_or_else(|| StoreError::Conflict("you already have a subscription to this thing".into()))
}

/// One subscription, or `NotFound`.
pub async fn by_id<'e, E>(db: E, id: i64) -> Result<SubscriptionRow, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE s.id = $1")))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(StoreError::NotFound("subscription"))
}

/// A user's subscriptions, newest first.
pub async fn of_user<'e, E>(db: E, user_id: i64) -> Result<Vec<SubscriptionRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE s.user_id = $1 ORDER BY s.id DESC"
    )))
    .bind(user_id)
    .fetch_all(db)
    .await?)
}

async fn own_live(tx: &mut Tx, id: i64, user_id: i64) -> Result<SubscriptionRow, StoreError> {
    let subscription = by_id(&mut **tx, id).await?;
    if subscription.user_id != user_id {
        return Err(StoreError::NotFound("subscription"));
    }
    if subscription.stopped_at.is_some() {
        return Err(StoreError::Conflict("this subscription has ended".into()));
    }
    Ok(subscription)
}

/// Pauses or resumes: a paused subscription skips renewals without using up its periods.
pub async fn set_paused(
    tx: &mut Tx,
    id: i64,
    user_id: i64,
    paused: bool,
) -> Result<SubscriptionRow, StoreError> {
    own_live(tx, id, user_id).await?;
    sqlx::query("UPDATE subscriptions SET paused = $1 WHERE id = $2")
        .bind(i64::from(paused))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    by_id(&mut **tx, id).await
}

/// Stops a subscription for good. The flattr it already made this period stays (undo it to
/// withdraw it too).
pub async fn stop(
    tx: &mut Tx,
    id: i64,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<SubscriptionRow, StoreError> {
    own_live(tx, id, user_id).await?;
    sqlx::query("UPDATE subscriptions SET stopped_at = $1 WHERE id = $2")
        .bind(epoch(now))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    by_id(&mut **tx, id).await
}

/// Flattrs every live, unpaused subscription's thing in `period`, set-based, and counts the
/// period off. Subscribers without money are skipped (Flattr's `no_means`) and keep their
/// periods. Safe to run twice: `last_period` and `flattr_once` make the second run a no-op.
pub async fn renew(tx: &mut Tx, period: Period, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let period = period.to_string();
    let inserted = sqlx::query(
        "INSERT INTO flattrs (user_id, thing_id, period, subscription_id, charged, announced, created_at)
         SELECT s.user_id, s.thing_id, $1, s.id,
                CASE WHEN t.owner_id IS NOT NULL OR t.fedflattr = 1 THEN 1 ELSE 0 END,
                CASE WHEN t.owner_id IS NULL THEN 0 ELSE 1 END, $2
         FROM subscriptions s
         JOIN things t ON t.id = s.thing_id AND t.deleted_at IS NULL
         JOIN accounts a ON a.kind = 'wallet' AND a.user_id = s.user_id
         WHERE s.stopped_at IS NULL AND s.paused = 0 AND s.periods_left > 0
           AND (s.last_period IS NULL OR s.last_period < $1)
           AND a.balance > 0
           AND NOT EXISTS (SELECT 1 FROM flattrs f
                           WHERE f.user_id = s.user_id AND f.thing_id = s.thing_id
                             AND f.period = $1)",
    )
    .bind(&period)
    .bind(epoch(now))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    sqlx::query(
        "UPDATE subscriptions SET periods_left = periods_left - 1, last_period = $1
         WHERE (last_period IS NULL OR last_period < $1)
           AND id IN (SELECT subscription_id FROM flattrs
                      WHERE period = $1 AND subscription_id IS NOT NULL)",
    )
    .bind(&period)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE subscriptions SET stopped_at = $1 WHERE periods_left = 0 AND stopped_at IS NULL",
    )
    .bind(epoch(now))
    .execute(&mut **tx)
    .await?;
    Ok(inserted)
}
