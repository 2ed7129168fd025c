//! Queries of flattrs: the click, its undo, and the lists a user reads.

use chrono::{DateTime, Utc};

use super::{StoreError, Tx, epoch, things, users};
use crate::domain::flattr::{FlattrRefusal, check_flattr};
use crate::domain::period::Period;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FlattrRow {
    pub id: i64,
    /// The id the flattr is published under (`/users/NAME/likes/PUBLIC_ID`): random, never
    /// reused, unlike the row id (issue 7.3; set by the database, migration 0003).
    pub public_id: String,
    pub user_id: i64,
    pub thing_id: i64,
    pub thing_url: String,
    pub thing_title: String,
    pub period: String,
    pub subscription_id: Option<i64>,
    pub charged: i64,
    /// The thing's ActivityPub id when it lives on another server.
    pub thing_ap_id: Option<String>,
    pub created_at: i64,
}

const SELECT: &str =
    "SELECT f.id, f.public_id, f.user_id, f.thing_id, t.url AS thing_url, t.title AS thing_title,
        f.period, f.subscription_id, f.charged, t.ap_id AS thing_ap_id, f.created_at
    FROM flattrs f JOIN things t ON t.id = f.thing_id";

/// True once the close of `period` has begun: from then on its flattrs are frozen.
pub async fn period_is_closing(tx: &mut Tx, period: Period) -> Result<bool, StoreError> {
    let stage: Option<i64> = sqlx::query_scalar("SELECT stage FROM periods WHERE period = $1")
        .bind(period.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    Ok(stage.unwrap_or(0) > 0)
}

/// Records that `user_id` flattred `thing_id` in `period`, after Flattr's checks:
/// `flattr_owner`, `no_means`, and `flattr_once` (decided by the UNIQUE constraint, so two
/// simultaneous clicks still make one flattr).
pub async fn create(
    tx: &mut Tx,
    user_id: i64,
    thing_id: i64,
    period: Period,
    subscription_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<FlattrRow, StoreError> {
    let thing = things::by_id(&mut **tx, thing_id).await?;
    if period_is_closing(tx, period).await? {
        return Err(FlattrRefusal::PeriodClosed.into());
    }
    let wallet = users::balance(&mut **tx, user_id, "wallet").await?;
    // Local things and things on fedflattr servers are paid; anything else gets a plain Like.
    let charged = thing.owner_id.is_some() || thing.fedflattr != 0;
    check_flattr(user_id, thing.owner_id, wallet, charged)?;
    // The conflict is answered without an error so that the transaction stays usable on
    // PostgreSQL (a subscription carries on when its first flattr already exists).
    let inserted = sqlx::query_scalar::<_, i64>(
        "INSERT INTO flattrs (user_id, thing_id, period, subscription_id, charged, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (user_id, thing_id, period) DO NOTHING
         RETURNING id",
    )
    .bind(user_id)
    .bind(thing_id)
    .bind(period.to_string())
    .bind(subscription_id)
    .bind(i64::from(charged))
    .bind(epoch(now))
    .fetch_optional(&mut **tx)
    .await?;
    match inserted {
        Some(id) => by_id(&mut **tx, id).await,
        None => Err(FlattrRefusal::FlattrOnce.into()),
    }
}

pub async fn by_id<'e, E>(db: E, id: i64) -> Result<FlattrRow, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE f.id = $1")))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(StoreError::NotFound("flattr"))
}

/// The flattr published under `public_id` (its Like's id ends in it).
pub async fn by_public_id<'e, E>(db: E, public_id: &str) -> Result<FlattrRow, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE f.public_id = $1"
    )))
    .bind(public_id)
    .fetch_optional(db)
    .await?
    .ok_or(StoreError::NotFound("flattr"))
}

/// Withdraws a flattr before its period closes and returns what it was. Somebody else's flattr
/// is "not found": its existence is none of the caller's business.
pub async fn undo(tx: &mut Tx, flattr_id: i64, user_id: i64) -> Result<FlattrRow, StoreError> {
    let flattr = by_id(&mut **tx, flattr_id).await?;
    if flattr.user_id != user_id {
        return Err(StoreError::NotFound("flattr"));
    }
    let period = Period::parse(&flattr.period)?;
    if period_is_closing(tx, period).await? {
        return Err(FlattrRefusal::PeriodClosed.into());
    }
    sqlx::query("DELETE FROM flattrs WHERE id = $1")
        .bind(flattr_id)
        .execute(&mut **tx)
        .await?;
    Ok(flattr)
}

/// A user's flattrs, newest first, of one period or of all.
pub async fn of_user<'e, E>(
    db: E,
    user_id: i64,
    period: Option<Period>,
) -> Result<Vec<FlattrRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let rows = match period {
        Some(period) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT} WHERE f.user_id = $1 AND f.period = $2 ORDER BY f.id DESC"
            )))
            .bind(user_id)
            .bind(period.to_string())
            .fetch_all(db)
            .await?
        }
        None => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT} WHERE f.user_id = $1 ORDER BY f.id DESC LIMIT 1000"
            )))
            .bind(user_id)
            .fetch_all(db)
            .await?
        }
    };
    Ok(rows)
}

/// How many flattrs `user_id` made in `period`: what the period's budget will be split over.
pub async fn count_of_user<'e, E>(db: E, user_id: i64, period: Period) -> Result<i64, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM flattrs WHERE user_id = $1 AND period = $2 AND charged = 1",
    )
    .bind(user_id)
    .bind(period.to_string())
    .fetch_one(db)
    .await?)
}

/// A Like of a local thing received from another server.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReceivedRow {
    pub thing_id: i64,
    pub thing_title: String,
    pub actor: String,
    pub period: String,
    pub currency: String,
    pub received_at: i64,
    pub undone_at: Option<i64>,
}

/// The Likes other servers sent for `owner_id`'s things, newest first.
pub async fn received_by_owner<'e, E>(db: E, owner_id: i64) -> Result<Vec<ReceivedRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(
        "SELECT r.thing_id, t.title AS thing_title, r.actor, r.period, r.currency, r.received_at, r.undone_at
         FROM received_likes r JOIN things t ON t.id = r.thing_id
         WHERE t.owner_id = $1 ORDER BY r.id DESC LIMIT 1000",
    )
    .bind(owner_id)
    .fetch_all(db)
    .await?)
}
