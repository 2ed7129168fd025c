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

/// A received Like as the group-commit writer records it (`store::writer`): owned, so that
/// it can travel to the writer's thread.
#[derive(Debug, Clone)]
pub struct Received {
    /// The Like's ActivityPub id.
    pub activity_id: String,
    /// The payer, an actor of another server.
    pub actor: String,
    /// The origin of the payer's server (`scheme://host:port`), whose block by an admin
    /// (`store::peers`) refuses the Like.
    pub peer: String,
    /// Our thing that was flattred: one of this instance's, not deleted, or the Like is
    /// refused.
    pub thing_id: i64,
    /// The payer's period, `YYYY-MM`.
    pub period: String,
    /// Empty for a plain favourite.
    pub currency: String,
    /// SHA-256 (hex) of the Like as received.
    pub digest: String,
    /// When our inbox accepted it, Unix seconds.
    pub received_at: i64,
}

/// What became of a [`Received`] Like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded, and its id recorded as seen.
    Recorded,
    /// Its id was seen before: a duplicate or a replay, acknowledged and changing nothing.
    Seen,
    /// The actor already has a live flattr of the thing in that period: nothing was recorded,
    /// not even the id as seen (a retry is refused again, not acknowledged).
    FlattrOnce,
    /// An admin blocked the payer's server: nothing was recorded.
    Blocked,
    /// The thing is not one of this instance's (never was, or deleted): nothing was recorded.
    NoSuchThing,
}

/// The inbox's replay guard for a Like (as `federation::activities::first_sighting`), with
/// the checks the Like must pass before anything of it is written: its thing is one of ours
/// (an owner, not deleted) and its server is not blocked. Returns the id when it was not seen
/// before and both checks pass; when it returns nothing, [`WHY_NOT`] says which. Checked here,
/// in the transaction that records the Like, rather than read before it: one round trip less
/// per Like, and a block committed before the Like's batch refuses it.
pub(super) const SEEN: &str = "INSERT INTO inbox_activities (activity_id, actor, kind, received_at)
     SELECT $1, $2, 'Like', $3
     WHERE EXISTS (SELECT 1 FROM things t
                   WHERE t.id = $4 AND t.owner_id IS NOT NULL AND t.deleted_at IS NULL)
       AND NOT EXISTS (SELECT 1 FROM peer_controls c WHERE c.origin = $5 AND c.blocked <> 0)
     ON CONFLICT (activity_id) DO NOTHING RETURNING activity_id";

/// Why [`SEEN`] inserted nothing (the rare path): whether the thing is ours, whether the
/// peer is blocked. When neither refuses it, the id was seen before.
pub(super) const WHY_NOT: &str = "SELECT
       CAST(CASE WHEN EXISTS (SELECT 1 FROM things t WHERE t.id = $1
                              AND t.owner_id IS NOT NULL AND t.deleted_at IS NULL)
            THEN 1 ELSE 0 END AS BIGINT),
       CAST(CASE WHEN EXISTS (SELECT 1 FROM peer_controls c WHERE c.origin = $2 AND c.blocked <> 0)
            THEN 1 ELSE 0 END AS BIGINT)";

/// What [`WHY_NOT`] answered: blocked first (nothing of a blocked peer counts), then a thing
/// that is not ours, else a replay.
pub(super) fn why_not(thing_ours: i64, blocked: i64) -> Outcome {
    if blocked != 0 {
        Outcome::Blocked
    } else if thing_ours == 0 {
        Outcome::NoSuchThing
    } else {
        Outcome::Seen
    }
}

/// The Like itself, as [`record`] writes it (parameters in order of first use).
pub(super) const RECORD: &str =
    "INSERT INTO received_likes (activity_id, actor, received_at, thing_id, period, currency, digest)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING";

/// Records `like` and its id as seen, in the caller's transaction; on [`Outcome::FlattrOnce`]
/// the caller must roll back (the id was inserted first). The writer's jobs do that through
/// their savepoint.
pub async fn receive(tx: &mut Tx, like: &Received) -> Result<Outcome, StoreError> {
    let seen: Option<String> = sqlx::query_scalar(SEEN)
        .bind(like.activity_id.as_str())
        .bind(like.actor.as_str())
        .bind(like.received_at)
        .bind(like.thing_id)
        .bind(like.peer.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    if seen.is_none() {
        let (thing_ours, blocked): (i64, i64) = sqlx::query_as(WHY_NOT)
            .bind(like.thing_id)
            .bind(like.peer.as_str())
            .fetch_one(&mut **tx)
            .await?;
        return Ok(why_not(thing_ours, blocked));
    }
    let inserted = sqlx::query(RECORD)
        .bind(like.activity_id.as_str())
        .bind(like.actor.as_str())
        .bind(like.received_at)
        .bind(like.thing_id)
        .bind(like.period.as_str())
        .bind(like.currency.as_str())
        .bind(like.digest.as_str())
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(if inserted == 1 {
        Outcome::Recorded
    } else {
        Outcome::FlattrOnce
    })
}

/// [`receive`] for many Likes of distinct ids in one statement, PostgreSQL only (see
/// `flattrs::click_many`): a Like of a blocked peer or of a thing that is not ours is refused
/// as [`SEEN`] refuses it; a Like whose id was seen before is [`Outcome::Seen`]; the others
/// are recorded unless the actor already flattred the thing in that period (before, or by an
/// earlier Like of the same set), and only the recorded ones' ids are kept as seen. Outcome
/// codes: 0 not recorded, 1 recorded, 2 seen, 3 blocked, 4 not our thing.
///
/// Every check is a scalar subquery on a key, which PostgreSQL runs per Like through the
/// table's index and never turns into a join. Written as `EXISTS`, it may plan a hash
/// anti-join over a full scan of `inbox_activities`, or hash all live `things`: the prepared
/// statement's generic plan is made once, at its sixth run, from the statistics of that
/// moment, and on a new instance those say the tables are empty, so every batch after read
/// every activity ever received (docs/benchmarks.md, "fifth pass"). A thing's liveness is
/// tested on its row, not in the `WHERE`, for the same reason: there it lets a plan made on a
/// small table walk the whole partial index `things_live_url` for each Like.
const RECEIVE_MANY: &str = "WITH input AS (
       SELECT * FROM json_to_recordset($1::json)
         AS i(activity_id TEXT, actor TEXT, received_at BIGINT, thing_id BIGINT, period TEXT,
              currency TEXT, digest TEXT, peer TEXT, n BIGINT)
     ), checked AS (
       SELECT i.*,
         COALESCE((SELECT c.blocked <> 0 FROM peer_controls c WHERE c.origin = i.peer), FALSE)
           AS blocked,
         COALESCE((SELECT t.owner_id IS NOT NULL AND t.deleted_at IS NULL FROM things t
                   WHERE t.id = i.thing_id), FALSE) AS ours
       FROM input i
     ), fresh AS (
       SELECT c.* FROM checked c
       WHERE NOT c.blocked AND c.ours
         AND (SELECT TRUE FROM inbox_activities a WHERE a.activity_id = c.activity_id) IS NULL
     ), recorded AS (
       INSERT INTO received_likes (activity_id, actor, received_at, thing_id, period, currency, digest)
       SELECT activity_id, actor, received_at, thing_id, period, currency, digest
       FROM fresh ORDER BY n
       ON CONFLICT DO NOTHING RETURNING activity_id, actor, received_at
     ), seen AS (
       INSERT INTO inbox_activities (activity_id, actor, kind, received_at)
       SELECT activity_id, actor, 'Like', received_at FROM recorded
       ON CONFLICT (activity_id) DO NOTHING
     )
     SELECT c.activity_id,
            CAST(CASE WHEN c.blocked THEN 3
                      WHEN NOT c.ours THEN 4
                      WHEN r.activity_id IS NOT NULL THEN 1
                      WHEN f.activity_id IS NULL THEN 2 ELSE 0 END AS BIGINT) AS outcome
     FROM checked c
     LEFT JOIN recorded r ON r.activity_id = c.activity_id
     LEFT JOIN fresh f ON f.activity_id = c.activity_id";

/// Which of the ids given (a JSON array of text) are recorded as seen: after [`RECEIVE_MANY`],
/// a Like it did not record may be one another batch recorded meanwhile (the same Like
/// delivered twice at once), which is a replay, not a refusal.
const SEEN_OF: &str = "SELECT a.activity_id FROM inbox_activities a
     WHERE a.activity_id IN (SELECT value FROM json_array_elements_text($1::json))";

/// [`receive`] for each of `likes` (distinct ids) in one statement (PostgreSQL), in their
/// order, on `db`: in a writer's transaction, or alone (the statement is atomic and answered
/// after its commit).
pub async fn receive_many(
    db: &mut sqlx::AnyConnection,
    likes: &[Received],
) -> Result<Vec<Outcome>, StoreError> {
    let input: Vec<serde_json::Value> = likes
        .iter()
        .enumerate()
        .map(|(n, l)| {
            serde_json::json!({
                "n": n, "activity_id": l.activity_id, "actor": l.actor, "received_at": l.received_at,
                "thing_id": l.thing_id, "period": l.period, "currency": l.currency,
                "digest": l.digest, "peer": l.peer,
            })
        })
        .collect();
    let rows: Vec<(String, i64)> = sqlx::query_as(RECEIVE_MANY)
        .bind(serde_json::Value::Array(input).to_string())
        .fetch_all(&mut *db)
        .await?;
    let outcomes: std::collections::HashMap<String, i64> = rows.into_iter().collect();
    let not_recorded: Vec<&str> = likes
        .iter()
        .filter(|l| matches!(outcomes.get(&l.activity_id), Some(0) | None))
        .map(|l| l.activity_id.as_str())
        .collect();
    // The rare path: a Like not recorded whose id another batch committed in the meantime
    // (its insert waited for that batch, then did nothing) was delivered twice, not refused.
    let seen_meanwhile: std::collections::HashSet<String> = if not_recorded.is_empty() {
        Default::default()
    } else {
        sqlx::query_scalar::<_, String>(SEEN_OF)
            .bind(
                serde_json::to_string(&not_recorded)
                    .map_err(|e| StoreError::Batch(e.to_string()))?,
            )
            .fetch_all(&mut *db)
            .await?
            .into_iter()
            .collect()
    };
    Ok(likes
        .iter()
        .map(|l| match outcomes.get(&l.activity_id) {
            Some(1) => Outcome::Recorded,
            Some(2) => Outcome::Seen,
            Some(3) => Outcome::Blocked,
            Some(4) => Outcome::NoSuchThing,
            _ if seen_meanwhile.contains(&l.activity_id) => Outcome::Seen,
            _ => Outcome::FlattrOnce,
        })
        .collect())
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
