//! The database: one pool over SQLite or PostgreSQL, the migrations, and the queries of users,
//! tokens, things, flattrs and subscriptions.
//!
//! Both backends are driven through sqlx's `Any` driver with one portable SQL dialect: `$n`
//! placeholders (SQLite accepts them), integer money, `CAST(SUM(..) AS BIGINT)` because
//! PostgreSQL widens sums to NUMERIC. Each backend has its own migration folder with the same
//! numbered steps. The whole test suite runs on both (see docs/architecture.md).

pub mod domains;
pub mod earnings;
pub mod flattrs;
pub mod peers;
pub mod periods;
pub mod received_likes;
pub mod sessions;
mod sqlite_writer;
pub mod subscriptions;
pub mod things;
pub mod tokens;
pub mod users;
pub mod writer;

use std::path::Path;
use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor};

/// A transaction on either backend. Every change of money happens inside one.
pub type Tx = sqlx::Transaction<'static, Any>;

/// Which database the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, the embedded default.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// Errors of the storage layer. Database failures stay opaque to users (500); the other
/// variants are answers about the data and are mapped to 4xx by the HTTP layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such row (what kind of thing, for the message).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change conflicts with what is stored (a URL taken, a state that does not allow it).
    #[error("{0}")]
    Conflict(String),
    /// The row belongs to somebody else.
    #[error("you may not change {0} of somebody else")]
    Forbidden(&'static str),
    /// Flattr's rules refuse it.
    #[error(transparent)]
    Refused(#[from] crate::domain::flattr::FlattrRefusal),
    /// A value that does not parse.
    #[error(transparent)]
    Invalid(#[from] crate::domain::ParseError),
    /// The database failed: the only 500.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The SQLite file's directory cannot be created.
    #[error("cannot prepare the database directory {0}: {1}")]
    Directory(String, std::io::Error),
    /// An admin command named a database that does not exist.
    #[error(
        "there is no database at {0}; admin commands never create one. Create it with \
         `fedflattr migrate` (or `fedflattr serve`), or point at the right one with \
         `database_url` in the configuration file (--config) or FEDFLATTR_DATABASE_URL"
    )]
    Missing(String),
    /// The group-commit transaction this write rode in failed (`store::writer`): nothing of
    /// it was written. A database failure: 500.
    #[error("the batch of writes failed: {0}")]
    Batch(String),
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The database: a connection pool and the backend it talks to.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    writer: writer::Writer,
}

impl Store {
    /// Opens the database named by `url` (`sqlite://path` or `postgres://…`). A SQLite file and
    /// its directory are created when missing, so a fresh machine needs no setup.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::open(url, true).await
    }

    /// Opens a database that must exist already: what the admin commands use, so that a
    /// command run from the wrong directory (a relative SQLite path) fails and names the path
    /// instead of writing to a new, empty database.
    pub async fn connect_existing(url: &str) -> Result<Store, StoreError> {
        Store::open(url, false).await
    }

    async fn open(url: &str, create: bool) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::Invalid(crate::domain::ParseError::new(
                "database_url",
                "must start with sqlite: or postgres:",
            )));
        };
        let mut url = url.to_owned();
        if backend == Backend::Sqlite {
            let path = sqlite_path(&url);
            if create {
                ensure_sqlite_directory(path)?;
            } else if !path.is_empty() && path != ":memory:" && !Path::new(path).is_file() {
                let shown = std::path::absolute(path).unwrap_or_else(|_| path.into());
                return Err(StoreError::Missing(shown.display().to_string()));
            }
            if !url.contains("mode=") {
                let mode = if create { "mode=rwc" } else { "mode=rw" };
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(mode);
            }
        }
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers work while one writer commits; FULL makes every
                        // committed transaction of money survive a power cut.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        // A SQLite file gets the writer thread of its own connection; an in-memory database
        // cannot (another connection would see another database).
        let sqlite = match backend {
            Backend::Sqlite
                if !matches!(sqlite_path(&url), "" | ":memory:")
                    && !url.contains("mode=memory") =>
            {
                Some(
                    sqlite_writer::SqliteWriter::start(Path::new(sqlite_path(&url))).map_err(
                        |e| StoreError::Batch(format!("cannot open the writer's connection: {e}")),
                    )?,
                )
            }
            _ => None,
        };
        let writer = writer::Writer::start(pool.clone(), backend, sqlite);
        Ok(Store {
            pool,
            backend,
            writer,
        })
    }

    /// Applies the pending migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// The pool, for reads outside a transaction.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The group-commit writer for the hot writes (see [`writer`]).
    pub fn writer(&self) -> &writer::Writer {
        &self.writer
    }

    /// Which backend the pool talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a transaction that will write.
    ///
    /// On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`): a deferred transaction
    /// that reads first and writes later fails with SQLITE_BUSY when another writer got there
    /// in between, instead of waiting its turn.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(tx)
    }

    /// Closes every connection (on shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The file path of a `sqlite:` URL (empty or `:memory:` for an in-memory database).
fn sqlite_path(url: &str) -> &str {
    url.trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default()
}

fn ensure_sqlite_directory(path: &str) -> Result<(), StoreError> {
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| StoreError::Directory(parent.display().to_string(), e))?;
    }
    Ok(())
}

/// Seconds since the Unix epoch, the representation of times in the database.
pub fn epoch(at: chrono::DateTime<chrono::Utc>) -> i64 {
    at.timestamp()
}

/// The inverse of [`epoch`], for rows read back.
pub fn from_epoch(seconds: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

impl Store {
    /// "SQLite" or "PostgreSQL", for logs.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}
