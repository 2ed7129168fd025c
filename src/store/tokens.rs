//! Bearer tokens: random secrets handed out at sign-up and log-in, stored only as hashes.

use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{StoreError, Tx, epoch};

/// The SHA-256 (hex) a token is stored and looked up by.
pub(super) fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Issues a new token for `user_id` and returns the secret, which is never stored.
pub async fn issue(tx: &mut Tx, user_id: i64, now: DateTime<Utc>) -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    sqlx::query("INSERT INTO tokens (token_hash, user_id, created_at) VALUES ($1, $2, $3)")
        .bind(hash(&token))
        .bind(user_id)
        .bind(epoch(now))
        .execute(&mut **tx)
        .await?;
    Ok(token)
}

/// The user a token belongs to, if it is one we issued and the user is not disabled.
pub async fn user_of<'e, E>(db: E, token: &str) -> Result<Option<i64>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT t.user_id FROM tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = $1 AND {}",
        super::users::ENABLED
    )))
    .bind(hash(token))
    .fetch_optional(db)
    .await?)
}

/// Ends the session of a bearer token (log-out).
pub async fn revoke(tx: &mut Tx, token: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM tokens WHERE token_hash = $1")
        .bind(hash(token))
        .execute(&mut **tx)
        .await?;
    Ok(())
}
