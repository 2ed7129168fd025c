//! The `peer_controls` table: an admin's run-time trust controls per peer instance (issue 8.7):
//! a block (the peer's activities are refused, our users cannot flattr its things) and a limit
//! on what we may owe it. The only module that touches the table; the inbox, the flattr use
//! case and the admin listing read it through here.

use chrono::{DateTime, Utc};

use super::{StoreError, epoch};

/// A peer's controls as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PeerControl {
    /// The peer's origin (`scheme://host:port`).
    pub origin: String,
    /// Blocked by an admin.
    #[sqlx(try_from = "i64")]
    pub blocked: Flag,
    /// The most we may owe the peer, in ten-thousandths.
    pub owe_limit: Option<i64>,
}

/// A 0/1 column read as a boolean (sqlx's Any driver reads no BOOLEAN on SQLite).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl From<i64> for Flag {
    fn from(value: i64) -> Self {
        Flag(value != 0)
    }
}

impl PeerControl {
    /// Whether the peer is blocked.
    pub fn is_blocked(&self) -> bool {
        self.blocked.0
    }
}

/// Every peer with a control, by origin.
pub async fn all<'e, E>(db: E) -> Result<Vec<PeerControl>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(
        sqlx::query_as("SELECT origin, blocked, owe_limit FROM peer_controls ORDER BY origin")
            .fetch_all(db)
            .await?,
    )
}

/// The controls of the peer at `origin`, if an admin set any.
pub async fn of<'e, E>(db: E, origin: &str) -> Result<Option<PeerControl>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(
        sqlx::query_as("SELECT origin, blocked, owe_limit FROM peer_controls WHERE origin = $1")
            .bind(origin)
            .fetch_optional(db)
            .await?,
    )
}

/// Whether an admin blocked the peer at `origin`.
pub async fn is_blocked<'e, E>(db: E, origin: &str) -> Result<bool, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(of(db, origin).await?.is_some_and(|c| c.is_blocked()))
}

/// Blocks (`true`) or unblocks the peer at `origin`.
pub async fn set_blocked<'e, E>(
    db: E,
    origin: &str,
    blocked: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO peer_controls (origin, blocked, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (origin) DO UPDATE SET blocked = excluded.blocked,
             updated_at = excluded.updated_at",
    )
    .bind(origin)
    .bind(i64::from(blocked))
    .bind(epoch(now))
    .execute(db)
    .await?;
    Ok(())
}

/// Sets (or, with `None`, lifts) the most we may owe the peer at `origin`, in ten-thousandths.
pub async fn set_limit<'e, E>(
    db: E,
    origin: &str,
    limit: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO peer_controls (origin, owe_limit, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (origin) DO UPDATE SET owe_limit = excluded.owe_limit,
             updated_at = excluded.updated_at",
    )
    .bind(origin)
    .bind(limit)
    .bind(epoch(now))
    .execute(db)
    .await?;
    Ok(())
}
