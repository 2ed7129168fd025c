//! The `received_likes` table: Likes of our things sent by users of other servers (a flattr
//! when it carries our terms, a plain favourite otherwise), written by the inbox's `Like` and
//! `Undo` and read by the owner's lists. The only module that touches the table.

use chrono::{DateTime, Utc};

use super::{StoreError, Tx, epoch};
use crate::domain::period::Period;

/// A Like of a local thing received from another server.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReceivedRow {
    /// Our thing that was flattred.
    pub thing_id: i64,
    /// Its title.
    pub thing_title: String,
    /// The payer, an actor of another server.
    pub actor: String,
    /// The payer's period, `YYYY-MM`.
    pub period: String,
    /// Empty for a plain favourite (no money).
    pub currency: String,
    /// When our inbox accepted it, Unix seconds.
    pub received_at: i64,
    /// When the payer undid it, Unix seconds.
    pub undone_at: Option<i64>,
}

/// How many Likes of thing `t.id` are live (not undone): a correlated subquery for the things'
/// own SELECT.
pub const LIVE_OF_THING: &str =
    "SELECT COUNT(*) FROM received_likes r WHERE r.thing_id = t.id AND r.undone_at IS NULL";

/// What a received Like says, checked by the inbox.
pub struct NewLike<'a> {
    /// The Like's ActivityPub id.
    pub activity_id: &'a str,
    /// The payer, an actor of another server.
    pub actor: &'a str,
    /// Our thing that was flattred.
    pub thing_id: i64,
    /// The payer's period.
    pub period: Period,
    /// `None` for a plain favourite.
    pub currency: Option<&'a str>,
    /// SHA-256 (hex) of the Like as received, which a statement's line must repeat.
    pub digest: Option<&'a str>,
}

/// Records a received Like. Returns false when nothing was recorded because the actor already
/// has a live flattr of the thing in that period (the partial unique index
/// `received_likes_once`: one per actor, thing and period, as for local users). No conflict
/// target, so both that index and the activity id are answered without an error, which would
/// abort the transaction on PostgreSQL; the inbox's replay guard has already seen to the id.
pub async fn record(
    tx: &mut Tx,
    like: &NewLike<'_>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO received_likes (activity_id, actor, thing_id, period, currency, received_at, digest)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(like.activity_id)
    .bind(like.actor)
    .bind(like.thing_id)
    .bind(like.period.to_string())
    .bind(like.currency.unwrap_or_default())
    .bind(epoch(now))
    .bind(like.digest)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// The actor that sent the Like `activity_id`, when we have it.
pub async fn sender<'e, E>(db: E, activity_id: &str) -> Result<Option<String>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(
        sqlx::query_scalar("SELECT actor FROM received_likes WHERE activity_id = $1")
            .bind(activity_id)
            .fetch_optional(db)
            .await?,
    )
}

/// Marks the Like `activity_id` of `actor` undone; returns how many were (0 or 1).
pub async fn undo(
    tx: &mut Tx,
    activity_id: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "UPDATE received_likes SET undone_at = $1
         WHERE activity_id = $2 AND actor = $3 AND undone_at IS NULL",
    )
    .bind(epoch(now))
    .bind(activity_id)
    .bind(actor)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// The Likes other servers sent for `owner_id`'s things, newest first.
pub async fn of_owner<'e, E>(db: E, owner_id: i64) -> Result<Vec<ReceivedRow>, StoreError>
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

/// A received Like as a statement's line is checked against it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LikeRecord {
    /// The local thing it flattred.
    pub thing_id: i64,
    /// Its actor.
    pub actor: String,
    /// The period it counts in.
    pub period: String,
    /// Empty for a plain favourite.
    pub currency: String,
    /// When it was undone, if it was.
    pub undone_at: Option<i64>,
    /// SHA-256 (hex) of the Like as received (absent for Likes received before migration 0007).
    pub digest: Option<String>,
}

/// The received Like `activity_id`, if we have it.
pub async fn by_activity_id<'e, E>(
    db: E,
    activity_id: &str,
) -> Result<Option<LikeRecord>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(
        "SELECT thing_id, actor, period, currency, undone_at, digest FROM received_likes
         WHERE activity_id = $1",
    )
    .bind(activity_id)
    .fetch_optional(db)
    .await?)
}

/// The actors whose flattrs (Likes with our terms) of `period` we received: the peers we
/// exchanged flattrs with, by their users.
pub async fn flattr_actors_in<'e, E>(db: E, period: &str) -> Result<Vec<String>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT actor FROM received_likes WHERE period = $1 AND currency <> ''",
    )
    .bind(period)
    .fetch_all(db)
    .await?)
}
