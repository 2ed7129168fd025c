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
    /// 1 when the flattr takes a share of its flattrer's budget at the close, 0 for a plain
    /// Like of a thing nobody can be paid for.
    pub charged: i64,
    /// The thing's ActivityPub id when it lives on another server.
    pub thing_ap_id: Option<String>,
    /// When it was made, Unix seconds.
    pub created_at: i64,
}

/// The columns of a [`FlattrRow`], in its field order (`sqlite_writer` reads them by position).
pub(super) const SELECT: &str =
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

/// A click on a thing of this instance, as the group-commit writer records it in one
/// statement (`store::writer`): everything Flattr checks for such a click is a condition of
/// the insert, so the writer pays one statement for it, not one per check.
#[derive(Debug, Clone)]
pub struct NewClick {
    /// The payer.
    pub user_id: i64,
    /// The thing clicked.
    pub thing_id: i64,
    /// The period it counts in.
    pub period: Period,
    /// When it was made, Unix seconds.
    pub created_at: i64,
    /// The id it is published under (32 hex digits, as the database would pick: see
    /// migration 0003); given here so that the insert returns it on SQLite too, where the
    /// trigger's value is not what `RETURNING` reports.
    pub public_id: String,
    /// The name of the payer's wallet account, whose balance must be positive (`no_means`):
    /// the ledger names its accounts, and the store sits below the ledger, so the caller
    /// gives it.
    pub wallet: String,
}

impl NewClick {
    /// A click by `user_id` on `thing_id` in `period` at `now`, paid from the account named
    /// `wallet`, with a fresh random public id.
    pub fn new(
        user_id: i64,
        thing_id: i64,
        period: Period,
        now: DateTime<Utc>,
        wallet: String,
    ) -> NewClick {
        NewClick {
            user_id,
            thing_id,
            period,
            created_at: epoch(now),
            public_id: hex::encode(rand::random::<[u8; 16]>()),
            wallet,
        }
    }
}

/// [`NewClick`]'s insert: a flattr of a thing of this instance (an owner, not deleted) that is not the
/// payer's own (`flattr_owner`), in a period whose close has not begun (`period_closed`),
/// from a wallet with money (`no_means`), once per period (`flattr_once`, the UNIQUE
/// constraint). It inserts nothing when any of them fails, or when the thing is missing or on
/// another server; the caller then takes the full path (`flattring::flattr`), which says why
/// or does what a remote thing needs. Parameters are numbered in order of first use, which
/// both sqlx and rusqlite bind by.
pub(super) const CLICK: &str =
    "INSERT INTO flattrs (user_id, period, created_at, public_id, thing_id, subscription_id, charged)
     SELECT $1, $2, $3, $4, t.id, NULL, 1 FROM things t
     WHERE t.id = $5 AND t.owner_id IS NOT NULL AND t.deleted_at IS NULL AND t.owner_id <> $1
       AND NOT EXISTS (SELECT 1 FROM periods p WHERE p.period = $2 AND p.stage > 0)
       AND (SELECT a.balance FROM accounts a WHERE a.name = $6) > 0
     ON CONFLICT (user_id, thing_id, period) DO NOTHING
     RETURNING id";

/// Records `click` if Flattr's rules allow it (see `CLICK`); `None` when they do not, or
/// when the thing is not a thing of this instance.
pub async fn click(tx: &mut Tx, click: &NewClick) -> Result<Option<FlattrRow>, StoreError> {
    let inserted = sqlx::query_scalar::<_, i64>(CLICK)
        .bind(click.user_id)
        .bind(click.period.to_string())
        .bind(click.created_at)
        .bind(click.public_id.as_str())
        .bind(click.thing_id)
        .bind(&click.wallet)
        .fetch_optional(&mut **tx)
        .await?;
    match inserted {
        Some(id) => Ok(Some(by_id(&mut **tx, id).await?)),
        None => Ok(None),
    }
}

/// [`CLICK`] for many clicks in one statement, PostgreSQL only (its data-modifying `WITH` and
/// `json_to_recordset`: sqlx's `Any` binds no arrays, so the clicks travel as one JSON text).
/// Two clicks of the same user, thing and period in one set: the first is recorded, the
/// second is not (DO NOTHING), as in two statements.
const CLICK_MANY: &str = "WITH input AS (
       SELECT * FROM json_to_recordset($1::json)
         AS i(user_id BIGINT, period TEXT, created_at BIGINT, public_id TEXT, thing_id BIGINT,
              wallet TEXT)
     ), inserted AS (
       INSERT INTO flattrs (user_id, period, created_at, public_id, thing_id, subscription_id, charged)
       SELECT i.user_id, i.period, i.created_at, i.public_id, t.id, NULL, 1
       FROM input i JOIN things t ON t.id = i.thing_id
       WHERE t.owner_id IS NOT NULL AND t.deleted_at IS NULL AND t.owner_id <> i.user_id
         AND NOT EXISTS (SELECT 1 FROM periods p WHERE p.period = i.period AND p.stage > 0)
         AND (SELECT a.balance FROM accounts a WHERE a.name = i.wallet) > 0
       ON CONFLICT (user_id, thing_id, period) DO NOTHING
       RETURNING id, public_id, user_id, thing_id, period, subscription_id, charged, created_at
     )
     SELECT f.id, f.public_id, f.user_id, f.thing_id, t.url AS thing_url, t.title AS thing_title,
            f.period, f.subscription_id, f.charged, t.ap_id AS thing_ap_id, f.created_at
     FROM inserted f JOIN things t ON t.id = f.thing_id";

/// [`click`] for each of `clicks` in one statement (PostgreSQL), in their order.
pub async fn click_many(
    tx: &mut Tx,
    clicks: &[NewClick],
) -> Result<Vec<Option<FlattrRow>>, StoreError> {
    let input: Vec<serde_json::Value> = clicks
        .iter()
        .map(|c| {
            serde_json::json!({
                "user_id": c.user_id, "period": c.period.to_string(), "created_at": c.created_at,
                "public_id": c.public_id, "thing_id": c.thing_id, "wallet": &c.wallet,
            })
        })
        .collect();
    let rows: Vec<FlattrRow> = sqlx::query_as(CLICK_MANY)
        .bind(serde_json::Value::Array(input).to_string())
        .fetch_all(&mut **tx)
        .await?;
    // Each click's own public id finds its row.
    let mut by_public: std::collections::HashMap<String, FlattrRow> = rows
        .into_iter()
        .map(|row| (row.public_id.clone(), row))
        .collect();
    Ok(clicks
        .iter()
        .map(|c| by_public.remove(&c.public_id))
        .collect())
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
