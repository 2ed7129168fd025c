//! The `user_domains` table: domains users claim, their verification tokens, and which user a
//! verified domain belongs to (at most one, by a unique index). The only module that writes it;
//! the rules (what a domain is, where its token lives) are `domain::proof`'s, the flow is
//! `proving`'s.

use chrono::{DateTime, Utc};

use super::{StoreError, Tx, epoch};
use crate::domain::proof::Domain;

/// One claim of a domain by a user.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DomainRow {
    /// The claim's row id.
    pub id: i64,
    /// The user who claims the domain.
    pub user_id: i64,
    /// `host` or `host:port`, as `Domain` parses it.
    pub domain: String,
    /// What the user must publish at the domain's `.well-known/fedflattr`.
    pub token: String,
    /// When the claim was made (Unix seconds).
    pub created_at: i64,
    /// When it was verified (Unix seconds), if it was.
    pub verified_at: Option<i64>,
    /// `well_known` (we read the token there) or `admin` (an admin vouched).
    pub verified_by: Option<String>,
}

const COLUMNS: &str = "id, user_id, domain, token, created_at, verified_at, verified_by";

/// Records `user_id`'s claim of `domain` with `token`, or returns the claim the user made
/// before (whose token stays the same, so a page already published stays valid).
pub async fn claim(
    tx: &mut Tx,
    user_id: i64,
    domain: &Domain,
    token: &str,
    now: DateTime<Utc>,
) -> Result<DomainRow, StoreError> {
    sqlx::query(
        "INSERT INTO user_domains (user_id, domain, token, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, domain) DO NOTHING",
    )
    .bind(user_id)
    .bind(domain.as_str())
    .bind(token)
    .bind(epoch(now))
    .execute(&mut **tx)
    .await?;
    of_user(&mut **tx, user_id, domain)
        .await?
        .ok_or(StoreError::NotFound("domain"))
}

/// `user_id`'s claim of `domain`, if there is one.
pub async fn of_user<'e, E>(
    db: E,
    user_id: i64,
    domain: &Domain,
) -> Result<Option<DomainRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM user_domains WHERE user_id = $1 AND domain = $2"
    )))
    .bind(user_id)
    .bind(domain.as_str())
    .fetch_optional(db)
    .await?)
}

/// Every domain `user_id` claimed, in alphabetical order.
pub async fn all_of_user<'e, E>(db: E, user_id: i64) -> Result<Vec<DomainRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM user_domains WHERE user_id = $1 ORDER BY domain LIMIT 1000"
    )))
    .bind(user_id)
    .fetch_all(db)
    .await?)
}

/// The user `domain` is verified for, if any.
pub async fn verified_owner<'e, E>(db: E, domain: &Domain) -> Result<Option<i64>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_scalar(
        "SELECT user_id FROM user_domains WHERE domain = $1 AND verified_at IS NOT NULL",
    )
    .bind(domain.as_str())
    .fetch_optional(db)
    .await?)
}

/// Marks claim `id` verified (`by`: `well_known` or `admin`). False when the domain is verified
/// for another user already — also when that happened in a race, which the unique index
/// `user_domains_verified` decides (the caller then drops its transaction).
pub async fn mark_verified(
    tx: &mut Tx,
    id: i64,
    by: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE user_domains SET verified_at = $1, verified_by = $2
         WHERE id = $3 AND verified_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM user_domains o
                           WHERE o.domain = user_domains.domain AND o.verified_at IS NOT NULL)",
    )
    .bind(epoch(now))
    .bind(by)
    .bind(id)
    .execute(&mut **tx)
    .await;
    match result {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    let verified: Option<i64> =
        sqlx::query_scalar("SELECT verified_at FROM user_domains WHERE id = $1")
            .bind(id)
            .fetch_one(&mut **tx)
            .await?;
    Ok(verified.is_some())
}
