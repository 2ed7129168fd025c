//! Queries of things: register, look up by id or URL, edit, delete, list.

use chrono::{DateTime, Utc};

use super::{StoreError, Tx, epoch};
use crate::domain::proof::{Domain, Proof};
use crate::domain::thing::{ThingFields, ThingUrl};

/// A thing as stored: ours, or one of another server that a flattr reached.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ThingRow {
    /// The thing's id, also in its `/things/ID` URL.
    pub id: i64,
    /// The URL people flattr it by.
    pub url: String,
    /// The local owner; `None` for a thing on another server.
    pub owner_id: Option<i64>,
    /// The local owner's username, or the remote owner's actor id.
    pub owner: String,
    /// The object's ActivityPub id, for a thing of another server.
    pub ap_id: Option<String>,
    /// The inbox its Likes go to, for a thing of another server.
    pub remote_inbox: Option<String>,
    /// The origin of the server that holds it, for a thing of another server.
    pub origin: Option<String>,
    /// 1 when that server speaks fedflattr's terms (its Likes are money).
    pub fedflattr: i64,
    /// The title.
    pub title: String,
    /// A plain-text description.
    pub description: String,
    /// Tags as a JSON array (see [`ThingRow::tags`]).
    pub tags: String,
    /// A BCP 47 language tag.
    pub language: String,
    /// One of Flattr's categories.
    pub category: String,
    /// 1 when the owner hid it from listings.
    pub hidden: i64,
    /// When it was registered, Unix seconds.
    pub created_at: i64,
    /// When it last changed, Unix seconds.
    pub updated_at: i64,
    /// All flattrs the thing ever received from our users that were not undone.
    pub flattrs: i64,
    /// Flattrs (Likes) received from users of other servers, not undone.
    pub remote_flattrs: i64,
    /// When a local thing's URL was proven its owner's (Unix seconds); `None` while unproven.
    pub proven_at: Option<i64>,
    /// How it was proven: `payment_link` or `verified_domain` (`domain::proof::Proof`).
    pub proof: Option<String>,
    /// Why the last check did not prove it, for its owner.
    pub proof_problem: Option<String>,
    /// Money held for it at closes while it was unproven and not yet released or returned,
    /// in ten-thousandths (read from `held_shares`, which `settle::held` owns).
    pub held: i64,
}

impl ThingRow {
    /// The tags as a list (none when the column cannot be read).
    pub fn tags(&self) -> Vec<String> {
        serde_json::from_str(&self.tags).unwrap_or_default()
    }
}

/// The columns of [`ThingRow`]; `{remote}` is the live received Likes' count.
const SELECT_TEMPLATE: &str = "SELECT t.id, t.url, t.owner_id,
        COALESCE(u.username, t.remote_owner, '') AS owner, t.ap_id, t.remote_inbox, t.origin,
        t.fedflattr, t.title, t.description,
        t.tags, t.language, t.category, t.hidden, t.created_at, t.updated_at,
        (SELECT COUNT(*) FROM flattrs f WHERE f.thing_id = t.id) AS flattrs,
        ({remote}) AS remote_flattrs,
        t.proven_at, t.proof, t.proof_problem,
        (SELECT CAST(COALESCE(SUM(h.amount), 0) AS BIGINT) FROM held_shares h
         WHERE h.thing_id = t.id AND h.state = 'held') AS held
    FROM things t LEFT JOIN users u ON u.id = t.owner_id
    WHERE t.deleted_at IS NULL";

fn select() -> String {
    SELECT_TEMPLATE.replace("{remote}", super::received_likes::LIVE_OF_THING)
}

/// Registers a thing. A URL that is already registered is a `Conflict` naming its id.
pub async fn create(
    tx: &mut Tx,
    owner_id: i64,
    url: &ThingUrl,
    fields: &ThingFields,
    now: DateTime<Utc>,
) -> Result<ThingRow, StoreError> {
    // ON CONFLICT DO NOTHING rather than catching the unique violation: on PostgreSQL an
    // error aborts the whole transaction, and the caller may still want to use it.
    let inserted = sqlx::query_scalar::<_, i64>(
        "INSERT INTO things (url, owner_id, title, description, tags, language, category,
                             hidden, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         ON CONFLICT DO NOTHING
         RETURNING id",
    )
    .bind(url.as_str())
    .bind(owner_id)
    .bind(&fields.title)
    .bind(&fields.description)
    .bind(serde_json::to_string(&fields.tags).expect("strings serialise"))
    .bind(&fields.language)
    .bind(&fields.category)
    .bind(i64::from(fields.hidden))
    .bind(epoch(now))
    .fetch_optional(&mut **tx)
    .await?;
    match inserted {
        Some(id) => by_id(&mut **tx, id).await,
        None => {
            let existing = by_url(&mut **tx, url.as_str()).await?;
            Err(StoreError::Conflict(format!(
                "this URL is already registered as thing {}",
                existing.map(|t| t.id).unwrap_or_default()
            )))
        }
    }
}

/// A thing that is not deleted, by id, or `NotFound`.
pub async fn by_id<'e, E>(db: E, id: i64) -> Result<ThingRow, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{} AND t.id = $1", select())))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(StoreError::NotFound("thing"))
}

/// The thing (not deleted) registered under `url`, if any.
pub async fn by_url<'e, E>(db: E, url: &str) -> Result<Option<ThingRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{} AND t.url = $1", select())))
            .bind(url)
            .fetch_optional(db)
            .await?,
    )
}

/// Things of one owner, newest first. Hidden things are listed only to their owner.
pub async fn by_owner<'e, E>(
    db: E,
    owner_id: i64,
    include_hidden: bool,
) -> Result<Vec<ThingRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{} AND t.owner_id = $1 AND (t.hidden = 0 OR $2 = 1) ORDER BY t.id DESC LIMIT 1000",
        select()
    )))
    .bind(owner_id)
    .bind(i64::from(include_hidden))
    .fetch_all(db)
    .await?)
}

/// Replaces the descriptive fields of a thing its owner edits (the URL is its identity and
/// stays).
pub async fn update(
    tx: &mut Tx,
    id: i64,
    editor_id: i64,
    fields: &ThingFields,
    now: DateTime<Utc>,
) -> Result<ThingRow, StoreError> {
    let thing = by_id(&mut **tx, id).await?;
    if thing.owner_id != Some(editor_id) {
        return Err(StoreError::Forbidden("a thing"));
    }
    sqlx::query(
        "UPDATE things SET title = $1, description = $2, tags = $3, language = $4,
                category = $5, hidden = $6, updated_at = $7
         WHERE id = $8",
    )
    .bind(&fields.title)
    .bind(&fields.description)
    .bind(serde_json::to_string(&fields.tags).expect("strings serialise"))
    .bind(&fields.language)
    .bind(&fields.category)
    .bind(i64::from(fields.hidden))
    .bind(epoch(now))
    .bind(id)
    .execute(&mut **tx)
    .await?;
    by_id(&mut **tx, id).await
}

/// Deletes a thing: it disappears from lookups and frees its URL, its flattrs in periods not
/// yet closed are withdrawn (nobody should pay for what is gone) and its subscriptions stop.
/// The row stays so that past earnings still name it.
pub async fn delete(
    tx: &mut Tx,
    id: i64,
    editor_id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let thing = by_id(&mut **tx, id).await?;
    if thing.owner_id != Some(editor_id) {
        return Err(StoreError::Forbidden("a thing"));
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM flattrs WHERE thing_id = $1 AND period NOT IN ({})",
        super::periods::FROZEN
    )))
    .bind(id)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE subscriptions SET stopped_at = $1 WHERE thing_id = $2 AND stopped_at IS NULL",
    )
    .bind(epoch(now))
    .bind(id)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE things SET deleted_at = $1 WHERE id = $2")
        .bind(epoch(now))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Records the outcome of a check of `id`'s URL: proven (`Ok`, kept from the first proof on:
/// a proof is never taken back, see docs/security.md) or why not (`Err`, shown to the owner
/// while the thing is unproven). True when this call proved it.
pub async fn set_proof(
    tx: &mut Tx,
    id: i64,
    outcome: Result<Proof, &str>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let query = match outcome {
        Ok(proof) => sqlx::query(
            "UPDATE things SET proven_at = $1, proof = $2, proof_problem = NULL
             WHERE id = $3 AND proven_at IS NULL AND owner_id IS NOT NULL",
        )
        .bind(epoch(now))
        .bind(proof.as_str())
        .bind(id),
        Err(problem) => {
            sqlx::query("UPDATE things SET proof_problem = $1 WHERE id = $2 AND proven_at IS NULL")
                .bind(problem)
                .bind(id)
        }
    };
    let changed = query.execute(&mut **tx).await?.rows_affected();
    Ok(outcome.is_ok() && changed == 1)
}

/// Proves every live, unproven local thing whose URL is under `domain`, just verified by
/// `owner_id`, and returns their ids. An unproven thing of another user there was not theirs
/// to register: it becomes `owner_id`'s (a proven thing of another user stays theirs).
pub async fn prove_under(
    tx: &mut Tx,
    owner_id: i64,
    domain: &Domain,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, StoreError> {
    // A Domain has only letters, digits, dots, hyphens and a port, so the prefixes contain
    // no LIKE wildcard; hosts in stored URLs are lower-case (ThingUrl), as the prefixes are.
    let [https, http] = domain.url_prefixes();
    Ok(sqlx::query_scalar(
        "UPDATE things SET proven_at = $1, proof = $2, proof_problem = NULL, owner_id = $3,
                updated_at = $1
         WHERE owner_id IS NOT NULL AND proven_at IS NULL AND deleted_at IS NULL
           AND (url LIKE $4 OR url LIKE $5)
         RETURNING id",
    )
    .bind(epoch(now))
    .bind(Proof::VerifiedDomain.as_str())
    .bind(owner_id)
    .bind(format!("{https}%"))
    .bind(format!("{http}%"))
    .fetch_all(&mut **tx)
    .await?)
}

/// Gives the unproven thing `id` (registered by somebody else) to `owner_id`, who has just
/// proven its URL theirs, with their fields. False when it is proven already (then it stays
/// whose it is).
pub async fn take_over(
    tx: &mut Tx,
    id: i64,
    owner_id: i64,
    fields: &ThingFields,
    proof: Proof,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let moved = sqlx::query(
        "UPDATE things SET owner_id = $1, title = $2, description = $3, tags = $4, language = $5,
                category = $6, hidden = $7, proven_at = $8, proof = $9, proof_problem = NULL,
                updated_at = $8
         WHERE id = $10 AND owner_id IS NOT NULL AND proven_at IS NULL AND deleted_at IS NULL",
    )
    .bind(owner_id)
    .bind(&fields.title)
    .bind(&fields.description)
    .bind(serde_json::to_string(&fields.tags).expect("strings serialise"))
    .bind(&fields.language)
    .bind(&fields.category)
    .bind(i64::from(fields.hidden))
    .bind(epoch(now))
    .bind(proof.as_str())
    .bind(id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(moved == 1)
}

/// What we learnt about a thing on another server when resolving it.
#[derive(Debug, Clone)]
pub struct RemoteThing {
    /// The object's ActivityPub id.
    pub ap_id: String,
    /// The URL people flattr it by.
    pub url: String,
    /// Its title.
    pub title: String,
    /// The actor a flattr pays.
    pub owner: String,
    /// Where our Likes of it go.
    pub inbox: String,
    /// The origin of the server that holds it.
    pub origin: String,
    /// Whether that server speaks fedflattr's terms.
    pub fedflattr: bool,
}

/// Records (or refreshes) a thing of another server and returns its local row.
pub async fn upsert_remote(
    tx: &mut Tx,
    remote: &RemoteThing,
    now: DateTime<Utc>,
) -> Result<ThingRow, StoreError> {
    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM things WHERE ap_id = $1")
        .bind(&remote.ap_id)
        .fetch_optional(&mut **tx)
        .await?;
    let id = match existing {
        Some(id) => {
            sqlx::query(
                "UPDATE things SET title = $1, remote_owner = $2, remote_inbox = $3, origin = $4,
                        fedflattr = $5, updated_at = $6, deleted_at = NULL
                 WHERE id = $7",
            )
            .bind(&remote.title)
            .bind(&remote.owner)
            .bind(&remote.inbox)
            .bind(&remote.origin)
            .bind(i64::from(remote.fedflattr))
            .bind(epoch(now))
            .bind(id)
            .execute(&mut **tx)
            .await?;
            id
        }
        None => {
            // The object's id doubles as its URL: remote things are identified by their
            // ActivityPub id, and two remote objects may well share a human-facing url.
            sqlx::query_scalar(
                "INSERT INTO things (url, owner_id, ap_id, remote_owner, remote_inbox, origin, fedflattr,
                                     title, description, tags, language, category, hidden,
                                     created_at, updated_at)
                 VALUES ($1, NULL, $1, $2, $3, $4, $5, $6, '', '[]', '', 'rest', 1, $7, $7)
                 RETURNING id",
            )
            .bind(&remote.ap_id)
            .bind(&remote.owner)
            .bind(&remote.inbox)
            .bind(&remote.origin)
            .bind(i64::from(remote.fedflattr))
            .bind(&remote.title)
            .bind(epoch(now))
            .fetch_one(&mut **tx)
            .await?
        }
    };
    by_id(&mut **tx, id).await
}

/// A local thing by its ActivityPub id, this instance's `/things/ID` (never a remote one).
pub async fn local_by_ap_id<'e, E>(
    db: E,
    base: &url::Url,
    ap_id: &url::Url,
) -> Result<Option<ThingRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let Some(id) = crate::domain::thing::page_id(base, ap_id) else {
        return Ok(None);
    };
    match by_id(db, id).await {
        Ok(thing) if thing.owner_id.is_some() => Ok(Some(thing)),
        Ok(_) | Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether `ap_id` names a thing of this instance (one with an owner): the inbox's check of
/// every Like, which needs neither the row nor its counts (`local_by_ap_id` reads both).
pub async fn is_local_ap_id<'e, E>(
    db: E,
    base: &url::Url,
    ap_id: &url::Url,
) -> Result<bool, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let Some(id) = crate::domain::thing::page_id(base, ap_id) else {
        return Ok(false);
    };
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM things WHERE id = $1 AND owner_id IS NOT NULL AND deleted_at IS NULL",
    )
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(found.is_some())
}

/// How many things of this instance's users exist, not deleted (NodeInfo, the front page).
pub async fn count_local<'e, E>(db: E) -> Result<i64, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM things WHERE owner_id IS NOT NULL AND deleted_at IS NULL",
    )
    .fetch_one(db)
    .await?)
}
