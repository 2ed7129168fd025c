//! Queries of users (their balances belong to the ledger).

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

/// Creates a user (the caller opens the user's ledger accounts with
/// `ledger::open_user_accounts` in the same transaction). A taken name is a `Conflict`.
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
