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
    /// When an admin disabled the user, Unix seconds; `None` while the user may log in.
    pub disabled_at: Option<i64>,
}

impl UserRow {
    /// The monthly budget as money.
    pub fn budget(&self) -> Money {
        Money::from_minor(self.budget)
    }

    /// True when an admin disabled the user: no log-in, no token, no session is honoured.
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

const COLUMNS: &str = "id, username, password_hash, budget, is_admin, public_key, private_key, \
     created_at, disabled_at";

/// The condition that a user (aliased `u`) is not disabled, for the queries that let a user
/// in: log-in by token (`store::tokens`) and by browser session (`store::sessions`).
pub const ENABLED: &str = "u.disabled_at IS NULL";

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
         RETURNING id, username, password_hash, budget, is_admin, public_key, private_key,
                   created_at, disabled_at",
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

/// How many accounts this instance has (NodeInfo, the front page).
pub async fn count<'e, E>(db: E) -> Result<i64, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(db)
        .await?)
}

/// Disables a user (`Some(now)`) or enables them again (`None`). Disabling an admin is
/// refused: an instance could otherwise lock out its last admin from its own pages.
pub async fn set_disabled(
    tx: &mut Tx,
    user_id: i64,
    at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let changed = sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2 AND is_admin = 0")
        .bind(at.map(epoch))
        .bind(user_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if changed == 0 {
        // Either no such user or an admin: say which.
        let admin: Option<i64> = sqlx::query_scalar("SELECT is_admin FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut **tx)
            .await?;
        return Err(match admin {
            None => StoreError::NotFound("user"),
            Some(_) => StoreError::Conflict("an admin cannot be disabled".into()),
        });
    }
    Ok(())
}

/// One page of users whose name contains `search` (all when empty), by name, and whether
/// there are more after it.
pub async fn page<'e, E>(
    db: E,
    search: &str,
    offset: i64,
    limit: i64,
) -> Result<(Vec<UserRow>, bool), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    // `%` and `_` in what was typed are matched as themselves.
    let escaped = search
        .to_ascii_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let sql = format!(
        "SELECT {COLUMNS} FROM users WHERE username LIKE $1 ESCAPE '\\'
         ORDER BY username LIMIT $2 OFFSET $3"
    );
    let mut rows: Vec<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(format!("%{escaped}%"))
        .bind(limit + 1)
        .bind(offset)
        .fetch_all(db)
        .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    Ok((rows, more))
}
