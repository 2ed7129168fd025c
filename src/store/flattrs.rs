//! Queries of flattrs: the click, its undo, and the lists a user reads.

use chrono::{DateTime, Utc};

use super::{StoreError, Tx, epoch};
use crate::domain::flattr::FlattrRefusal;
use crate::domain::period::Period;

/// A flattr as stored, with its thing's URL and title.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FlattrRow {
    /// The flattr's row id (its public id is another column).
    pub id: i64,
    /// The id the flattr is published under (`/users/NAME/likes/PUBLIC_ID`): random, never
    /// reused, unlike the row id (issue 7.3; set by the database, migration 0003).
    pub public_id: String,
    /// The payer.
    pub user_id: i64,
    /// The thing flattred.
    pub thing_id: i64,
    /// The thing's URL.
    pub thing_url: String,
    /// The thing's title.
    pub thing_title: String,
    /// The period it counts in, `YYYY-MM`.
    pub period: String,
    /// The subscription that made it, if one did.
    pub subscription_id: Option<i64>,
    /// What it cost once its period closed, in ten-thousandths (0 before).
    pub charged: i64,
    /// The thing's ActivityPub id when it lives on another server.
    pub thing_ap_id: Option<String>,
    /// When it was made, Unix seconds.
    pub created_at: i64,
}

const SELECT: &str =
    "SELECT f.id, f.public_id, f.user_id, f.thing_id, t.url AS thing_url, t.title AS thing_title,
        f.period, f.subscription_id, f.charged, t.ap_id AS thing_ap_id, f.created_at
    FROM flattrs f JOIN things t ON t.id = f.thing_id";

/// A flattr that passed Flattr's checks (see `flattring`), to be recorded.
pub struct NewFlattr {
    /// The payer.
    pub user_id: i64,
    /// The thing flattred.
    pub thing_id: i64,
    /// The period it counts in.
    pub period: Period,
    /// The subscription making it, if any.
    pub subscription_id: Option<i64>,
    /// False for a plain Like of a thing nobody can be paid for.
    pub charged: bool,
}

/// Records a flattr. A second one of the same user, thing and period is refused with
/// `flattr_once` by the UNIQUE constraint, so two simultaneous clicks still make one flattr.
pub async fn insert(
    tx: &mut Tx,
    new: &NewFlattr,
    now: DateTime<Utc>,
) -> Result<FlattrRow, StoreError> {
    // The conflict is answered without an error so that the transaction stays usable on
    // PostgreSQL (a subscription carries on when its first flattr already exists).
    let inserted = sqlx::query_scalar::<_, i64>(
        "INSERT INTO flattrs (user_id, thing_id, period, subscription_id, charged, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (user_id, thing_id, period) DO NOTHING
         RETURNING id",
    )
    .bind(new.user_id)
    .bind(new.thing_id)
    .bind(new.period.to_string())
    .bind(new.subscription_id)
    .bind(i64::from(new.charged))
    .bind(epoch(now))
    .fetch_optional(&mut **tx)
    .await?;
    match inserted {
        Some(id) => by_id(&mut **tx, id).await,
        None => Err(FlattrRefusal::FlattrOnce.into()),
    }
}

/// One flattr, or `NotFound`.
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

/// Deletes a flattr (an undo, checked by `flattring::undo`).
pub async fn delete(tx: &mut Tx, flattr_id: i64) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM flattrs WHERE id = $1")
        .bind(flattr_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
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
