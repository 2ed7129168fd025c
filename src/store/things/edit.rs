//! What an owner does to their things: register one, edit its fields, delete it.

use chrono::{DateTime, Utc};

use super::read::{ThingRow, by_id, by_url};
use crate::domain::thing::{ThingFields, ThingUrl};
use crate::store::{StoreError, Tx, epoch, periods};

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
        periods::FROZEN
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
