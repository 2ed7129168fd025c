//! Reading things: the row every reader gets (with its live counts and what is held for it),
//! by id, URL, owner or ActivityPub id, and how many there are.

use crate::store::StoreError;

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
    SELECT_TEMPLATE.replace("{remote}", crate::store::received_likes::LIVE_OF_THING)
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
