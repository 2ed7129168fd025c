//! The instance actor's Ed25519 keys (table `instance_signing_keys`, owned here), which sign
//! the object integrity proofs of settlement documents (`proof`).
//!
//! Keys are rotated by adding one: the newest signs, and every key ever made stays published
//! in the actor's `assertionMethod` as `BASE/actor#ed25519-key-N`, so a statement signed with
//! an old key still verifies years later. The table refuses updates and deletes (migration
//! 0005). The first key is made on first use, as the RSA key of `instance_actor` is.

use chrono::{DateTime, Utc};
use rand::RngCore;
use url::Url;

use super::actors::instance_actor_url;
use super::proof::{Multikey, ProofKey, decode_public_key, encode_public_key};
use crate::store::{Store, StoreError, epoch};

/// `ACTOR#ed25519-key-N`: the id of the instance actor's N-th Ed25519 key.
pub fn key_id(actor: &Url, number: i64) -> Url {
    let mut id = actor.clone();
    id.set_fragment(Some(&format!("ed25519-key-{number}")));
    id
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: i64,
    public_key: String,
    private_key: String,
}

fn seed(row: &KeyRow) -> Result<[u8; 32], StoreError> {
    hex::decode(&row.private_key)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| {
            StoreError::Conflict(format!(
                "instance signing key {} is not a 32-byte hex seed",
                row.id
            ))
        })
}

fn new_row(number: i64) -> KeyRow {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    KeyRow {
        id: number,
        public_key: encode_public_key(&key.verifying_key()),
        private_key: hex::encode(seed),
    }
}

async fn insert(store: &Store, row: &KeyRow, now: DateTime<Utc>) -> Result<(), StoreError> {
    // ON CONFLICT: two processes making the same key number at once keep the first one.
    sqlx::query(
        "INSERT INTO instance_signing_keys (id, public_key, private_key, created_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
    )
    .bind(row.id)
    .bind(&row.public_key)
    .bind(&row.private_key)
    .bind(epoch(now))
    .execute(store.pool())
    .await?;
    Ok(())
}

async fn rows(store: &Store, now: DateTime<Utc>) -> Result<Vec<KeyRow>, StoreError> {
    let read = || async {
        sqlx::query_as::<_, KeyRow>(
            "SELECT id, public_key, private_key FROM instance_signing_keys ORDER BY id",
        )
        .fetch_all(store.pool())
        .await
    };
    let found = read().await?;
    if !found.is_empty() {
        return Ok(found);
    }
    insert(store, &new_row(1), now).await?;
    Ok(read().await?)
}

/// The key that signs now (the newest), under the instance actor of `base_url`.
pub async fn signing_key(
    store: &Store,
    base_url: &Url,
    now: DateTime<Utc>,
) -> Result<ProofKey, StoreError> {
    let rows = rows(store, now).await?;
    let newest = rows
        .last()
        .ok_or(StoreError::NotFound("instance signing key"))?;
    Ok(ProofKey::new(
        key_id(&instance_actor_url(base_url), newest.id),
        &seed(newest)?,
    ))
}

/// Every key ever made, oldest first, as the actor publishes them in `assertionMethod`.
pub async fn published(
    store: &Store,
    base_url: &Url,
    now: DateTime<Utc>,
) -> Result<Vec<Multikey>, StoreError> {
    let actor = instance_actor_url(base_url);
    rows(store, now)
        .await?
        .iter()
        .map(|row| {
            let key = decode_public_key(&row.public_key).map_err(|e| {
                StoreError::Conflict(format!("instance signing key {}: {e}", row.id))
            })?;
            Ok(Multikey::ed25519(
                key_id(&actor, row.id),
                actor.clone(),
                &key,
            ))
        })
        .collect()
}

/// Adds a new key, which signs from now on; the older ones stay published. Returns its number.
pub async fn rotate(store: &Store, now: DateTime<Utc>) -> Result<i64, StoreError> {
    let newest = rows(store, now).await?.last().map_or(0, |row| row.id);
    insert(store, &new_row(newest + 1), now).await?;
    Ok(newest + 1)
}
