//! Queries of users (their balances belong to the ledger).

use chrono::{DateTime, Utc};

use super::{StoreError, Tx, epoch};
use crate::domain::money::Money;
use crate::domain::username::Username;

/// A user as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    /// The user's id.
    pub id: i64,
    /// The username, unique on this instance.
    pub username: String,
    /// The argon2 hash of the password (PHC string).
    pub password_hash: String,
    /// The monthly budget in ten-thousandths (see [`UserRow::budget`]).
    pub budget: i64,
    /// 1 for an instance admin.
    pub is_admin: i64,
    /// The actor's public key, SPKI PEM.
    pub public_key: String,
    /// The actor's private key, PKCS#8 PEM.
    pub private_key: String,
    /// When the user signed up, Unix seconds.
    pub created_at: i64,
}

impl UserRow {
    /// The monthly budget as money.
    pub fn budget(&self) -> Money {
        Money::from_minor(self.budget)
    }
}

const COLUMNS: &str =
    "id, username, password_hash, budget, is_admin, public_key, private_key, created_at";

/// What a new account is made of.
pub struct NewUser<'a> {
    /// The new user's name, already checked.
    pub username: &'a Username,
    /// The argon2 hash of the password.
    pub password_hash: &'a str,
    /// The starting monthly budget.
    pub budget: Money,
    /// Whether the user is an instance admin.
    pub is_admin: bool,
    /// PEM key pair for HTTP Signatures.
    pub public_key: &'a str,
    /// The actor's private key, PKCS#8 PEM.
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

/// A user by username, or `NotFound`.
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

/// A user by id, or `NotFound`.
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

/// Sets a user's monthly budget.
pub async fn set_budget(tx: &mut Tx, user_id: i64, budget: Money) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET budget = $1 WHERE id = $2")
        .bind(budget.minor())
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
