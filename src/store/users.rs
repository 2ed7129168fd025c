//! Queries of users and of their balances.

use chrono::{DateTime, Utc};

use super::{StoreError, Tx, epoch};
use crate::domain::money::Money;
use crate::domain::username::Username;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub budget: i64,
    pub is_admin: i64,
    pub public_key: String,
    pub private_key: String,
    pub created_at: i64,
}

impl UserRow {
    pub fn budget(&self) -> Money {
        Money::from_minor(self.budget)
    }
}

const COLUMNS: &str =
    "id, username, password_hash, budget, is_admin, public_key, private_key, created_at";

/// What a new account is made of.
pub struct NewUser<'a> {
    pub username: &'a Username,
    pub password_hash: &'a str,
    pub budget: Money,
    pub is_admin: bool,
    /// PEM key pair for HTTP Signatures.
    pub public_key: &'a str,
    pub private_key: &'a str,
}

/// Creates a user and the user's two ledger accounts (wallet and earnings), which start empty.
/// A taken name is a `Conflict`.
pub async fn create(
    tx: &mut Tx,
    new: &NewUser<'_>,
    now: DateTime<Utc>,
) -> Result<UserRow, StoreError> {
    let username = new.username;
    let inserted: Result<UserRow, sqlx::Error> = sqlx::query_as(
        "INSERT INTO users (username, password_hash, budget, is_admin, public_key, private_key, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING id, username, password_hash, budget, is_admin, public_key, private_key, created_at",
    )
    .bind(username.as_str())
    .bind(new.password_hash)
    .bind(new.budget.minor())
    .bind(i64::from(new.is_admin))
    .bind(new.public_key)
    .bind(new.private_key)
    .bind(epoch(now))
    .fetch_one(&mut **tx)
    .await;
    let user = match inserted {
        Ok(user) => user,
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            return Err(StoreError::Conflict(format!(
                "the username {username} is already taken"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    for kind in ["wallet", "earnings"] {
        sqlx::query("INSERT INTO accounts (name, kind, user_id, balance) VALUES ($1, $2, $3, 0)")
            .bind(format!("{kind}:{}", user.id))
            .bind(kind)
            .bind(user.id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(user)
}

pub async fn by_name<'e, E>(db: E, username: &str) -> Result<UserRow, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM users WHERE username = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(username.to_ascii_lowercase())
        .fetch_optional(db)
        .await?
        .ok_or(StoreError::NotFound("user"))
}

pub async fn by_id<'e, E>(db: E, id: i64) -> Result<UserRow, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(StoreError::NotFound("user"))
}

pub async fn set_budget(tx: &mut Tx, user_id: i64, budget: Money) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET budget = $1 WHERE id = $2")
        .bind(budget.minor())
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The cached balance of one of a user's accounts (`wallet` or `earnings`).
pub async fn balance<'e, E>(db: E, user_id: i64, kind: &str) -> Result<Money, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let balance: Option<i64> =
        sqlx::query_scalar("SELECT balance FROM accounts WHERE kind = $1 AND user_id = $2")
            .bind(kind)
            .bind(user_id)
            .fetch_optional(db)
            .await?;
    Ok(Money::from_minor(balance.unwrap_or(0)))
}
