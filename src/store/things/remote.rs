//! Things of other servers that a flattr reached: recorded, or refreshed, as they were
//! resolved.

use chrono::{DateTime, Utc};

use super::read::{ThingRow, by_id};
use crate::store::{StoreError, Tx, epoch};

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
