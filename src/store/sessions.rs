//! Browser sessions of the web pages (`web_sessions`): a random secret in the visitor's cookie,
//! stored only as its SHA-256, with the CSRF token of the session's forms.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{StoreError, Tx, epoch};

/// How long a session is honoured after log-in.
pub const LIFETIME: Duration = Duration::days(30);

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// 256 random bits from the operating system, hex-encoded: a session secret or a CSRF token.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A live session: whose it is and the token its forms carry.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    /// The logged-in user.
    pub user_id: i64,
    /// The synchronizer token of this session's POST forms.
    pub csrf: String,
}

/// Opens a session for `user_id`; returns the cookie's secret (never stored) and the row.
pub async fn open(
    tx: &mut Tx,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<(String, SessionRow), StoreError> {
    let secret = random_secret();
    let csrf = random_secret();
    sqlx::query(
        "INSERT INTO web_sessions (id_hash, user_id, csrf, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash(&secret))
    .bind(user_id)
    .bind(&csrf)
    .bind(epoch(now))
    .bind(epoch(now + LIFETIME))
    .execute(&mut **tx)
    .await?;
    Ok((secret, SessionRow { user_id, csrf }))
}

/// The session a cookie's secret opens, unless it expired, was closed, or its user is disabled.
pub async fn find<'e, E>(
    db: E,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Option<SessionRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT s.user_id, s.csrf FROM web_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id_hash = $1 AND s.expires_at > $2 AND {}",
        super::users::ENABLED
    )))
    .bind(hash(secret))
    .bind(epoch(now))
    .fetch_optional(db)
    .await?)
}

/// Ends a session (log-out), and with it every expired one: they are useless rows.
pub async fn close(tx: &mut Tx, secret: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1 OR expires_at <= $2")
        .bind(hash(secret))
        .bind(epoch(now))
        .execute(&mut **tx)
        .await?;
    Ok(())
}
