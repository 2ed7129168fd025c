//! Queries of flattrs: the click, its undo, and the lists a user reads.

use chrono::{DateTime, Utc};

use super::{StoreError, Tx, epoch};
use crate::domain::flattr::FlattrRefusal;
use crate::domain::period::Period;

/// A flattr as stored, with its thing's URL and title.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FlattrRow {
    /// The flattr's row id (its public id is another column).
    pub id: i64,
    /// The id the flattr is published under (`/users/NAME/likes/PUBLIC_ID`): random, never
    /// reused, unlike the row id (issue 7.3; set by the database, migration 0003).
    pub public_id: String,
    /// The payer.
    pub user_id: i64,
    /// The thing flattred.
    pub thing_id: i64,
    /// The thing's URL.
    pub thing_url: String,
    /// The thing's title.
    pub thing_title: String,
    /// The period it counts in, `YYYY-MM`.
    pub period: String,
    /// The subscription that made it, if one did.
    pub subscription_id: Option<i64>,
    /// 1 when the flattr takes a share of its flattrer's budget at the close, 0 for a plain
    /// Like of a thing nobody can be paid for.
    pub charged: i64,
    /// The thing's ActivityPub id when it lives on another server.
    pub thing_ap_id: Option<String>,
    /// When it was made, Unix seconds.
    pub created_at: i64,
}

/// The columns of a [`FlattrRow`], in its field order (`sqlite_writer` reads them by position);
/// a macro so that [`SELECT_BY_ID`] can be a constant too.
macro_rules! select_flattr {
    () => {
        "SELECT f.id, f.public_id, f.user_id, f.thing_id, t.url AS thing_url, t.title AS thing_title,
            f.period, f.subscription_id, f.charged, t.ap_id AS thing_ap_id, f.created_at
        FROM flattrs f JOIN things t ON t.id = f.thing_id"
    };
}

/// A [`FlattrRow`]'s columns.
const SELECT: &str = select_flattr!();

/// One [`FlattrRow`] by its id (`$1`): a constant, as the SQLite writer reads a click back with
/// it on the hot path and looks it up in its statement cache by text.
pub(super) const SELECT_BY_ID: &str = concat!(select_flattr!(), " WHERE f.id = $1");

/// A flattr that passed Flattr's checks (see `flattring`), to be recorded.
pub struct NewFlattr {
    /// The payer.
    pub user_id: i64,
    /// The thing flattred.
    pub thing_id: i64,
    /// The period it counts in.
    pub period: Period,
    /// The subscription making it, if any.
    pub subscription_id: Option<i64>,
    /// False for a plain Like of a thing nobody can be paid for.
    pub charged: bool,
}

/// Records a flattr. A second one of the same user, thing and period is refused with
/// `flattr_once` by the UNIQUE constraint, so two simultaneous clicks still make one flattr.
pub async fn insert(
    tx: &mut Tx,
    new: &NewFlattr,
    now: DateTime<Utc>,
) -> Result<FlattrRow, StoreError> {
    // The conflict is answered without an error so that the transaction stays usable on
    // PostgreSQL (a subscription carries on when its first flattr already exists).
    let inserted = sqlx::query_scalar::<_, i64>(
        "INSERT INTO flattrs (user_id, thing_id, period, subscription_id, charged, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (user_id, thing_id, period) DO NOTHING
         RETURNING id",
    )
    .bind(new.user_id)
    .bind(new.thing_id)
    .bind(new.period.to_string())
    .bind(new.subscription_id)
    .bind(i64::from(new.charged))
    .bind(epoch(now))
    .fetch_optional(&mut **tx)
    .await?;
    match inserted {
        Some(id) => by_id(&mut **tx, id).await,
        None => Err(FlattrRefusal::FlattrOnce.into()),
    }
}

/// Who pays for a click: a user the caller has authenticated (a web session), or the bearer
/// token a request carried, checked by the click's own statement (`store::flattrs::CLICK`).
#[derive(Debug, Clone)]
pub enum Payer {
    /// A user the caller authenticated.
    User(i64),
    /// The SHA-256 (hex) of a bearer token, not yet checked: the click records nothing unless
    /// it is a token we issued to a user who is not disabled (`tokens::user_of`'s rule).
    Token(String),
}

impl Payer {
    /// The payer a bearer token names, by its hash (the token itself is never stored).
    pub fn bearer(token: &str) -> Payer {
        Payer::Token(super::tokens::hash(token))
    }

    /// The user id and token hash the click statements take, one of them `None`.
    fn parts(&self) -> (Option<i64>, Option<&str>) {
        match self {
            Payer::User(id) => (Some(*id), None),
            Payer::Token(hash) => (None, Some(hash.as_str())),
        }
    }
}

/// A click on a thing of this instance, as the group-commit writer records it in one
/// statement (`store::writer`): everything Flattr checks for such a click is a condition of
/// the insert, so the writer pays one statement for it, not one per check.
#[derive(Debug, Clone)]
pub struct NewClick {
    /// Who pays.
    pub payer: Payer,
    /// The thing clicked.
    pub thing_id: i64,
    /// The period it counts in.
    pub period: Period,
    /// When it was made, Unix seconds.
    pub created_at: i64,
    /// The id it is published under (32 hex digits, as the database would pick: see
    /// migration 0003); given here so that the insert returns it on SQLite too, where the
    /// trigger's value is not what `RETURNING` reports.
    pub public_id: String,
    /// The kind of the payer's wallet account (`accounts.kind`), whose balance must be
    /// positive (`no_means`): the ledger names its accounts, and the store sits below the
    /// ledger, so the caller gives it.
    pub wallet_kind: &'static str,
}

impl NewClick {
    /// A click by `payer` on `thing_id` in `period` at `now`, paid from the payer's account
    /// of kind `wallet_kind`, with a fresh random public id.
    pub fn new(
        payer: Payer,
        thing_id: i64,
        period: Period,
        now: DateTime<Utc>,
        wallet_kind: &'static str,
    ) -> NewClick {
        NewClick {
            payer,
            thing_id,
            period,
            created_at: epoch(now),
            public_id: hex::encode(rand::random::<[u8; 16]>()),
            wallet_kind,
        }
    }

    /// The click's parameters in [`CLICK`]'s order (`$1` … `$7`).
    pub(super) fn params(&self) -> ClickParams<'_> {
        let (user_id, token_hash) = self.payer.parts();
        (
            self.period.to_string(),
            self.created_at,
            &self.public_id,
            self.thing_id,
            user_id,
            token_hash,
            self.wallet_kind,
        )
    }
}

/// [`CLICK`]'s parameters, in order: period, created_at, public_id, thing_id, user_id,
/// token_hash, wallet_kind.
pub(super) type ClickParams<'a> = (
    String,
    i64,
    &'a str,
    i64,
    Option<i64>,
    Option<&'a str>,
    &'static str,
);

/// [`NewClick`]'s insert: a flattr by a user who is not disabled — given, or the owner of the
/// bearer token whose hash is given (so that a click through the API is authenticated by the
/// statement that records it, not by a read of its own before) — of a thing of this instance
/// (an owner, not deleted) that is not the payer's own (`flattr_owner`), in a period whose
/// close has not begun (`period_closed`), from a wallet with money (`no_means`), once per
/// period (`flattr_once`, the UNIQUE constraint). It inserts nothing when any of them fails,
/// or when the thing is missing or on another server, or the token is not one we issued; the
/// caller then takes the full path (`flattring`), which says why or does what a remote thing
/// needs. Parameters are numbered in order of first use, which both sqlx and rusqlite bind by.
pub(super) const CLICK: &str =
    "INSERT INTO flattrs (user_id, period, created_at, public_id, thing_id, subscription_id, charged)
     SELECT u.id, $1, $2, $3, t.id, NULL, 1 FROM things t, users u
     WHERE t.id = $4 AND t.owner_id IS NOT NULL AND t.deleted_at IS NULL
       AND u.id = COALESCE($5, (SELECT k.user_id FROM tokens k WHERE k.token_hash = $6))
       AND u.disabled_at IS NULL AND t.owner_id <> u.id
       AND NOT EXISTS (SELECT 1 FROM periods p WHERE p.period = $1 AND p.stage > 0)
       AND (SELECT a.balance FROM accounts a WHERE a.kind = $7 AND a.user_id = u.id) > 0
     ON CONFLICT (user_id, thing_id, period) DO NOTHING
     RETURNING id";

/// Records `click` if Flattr's rules allow it (see `CLICK`); `None` when they do not, or
/// when the thing is not a thing of this instance.
pub async fn click(tx: &mut Tx, click: &NewClick) -> Result<Option<FlattrRow>, StoreError> {
    let (period, created_at, public_id, thing_id, user_id, token_hash, wallet_kind) =
        click.params();
    let inserted = sqlx::query_scalar::<_, i64>(CLICK)
        .bind(period)
        .bind(created_at)
        .bind(public_id)
        .bind(thing_id)
        .bind(user_id)
        .bind(token_hash)
        .bind(wallet_kind)
        .fetch_optional(&mut **tx)
        .await?;
    match inserted {
        Some(id) => Ok(Some(by_id(&mut **tx, id).await?)),
        None => Ok(None),
    }
}

/// [`CLICK`] for many clicks in one statement, PostgreSQL only (its data-modifying `WITH` and
/// `json_to_recordset`: sqlx's `Any` binds no arrays, so the clicks travel as one JSON text).
/// Two clicks of the same user, thing and period in one set: the first is recorded, the
/// second is not (DO NOTHING), as in two statements.
///
/// The thing and the user are looked up per click through their keys (a `LATERAL` subquery
/// that `OFFSET 0` keeps from becoming a join): joined, the prepared statement's generic plan,
/// made at its sixth run from the statistics of that moment, may hash every live thing and
/// every user for each batch, and the thing's liveness tested in the lookup would let it walk
/// the whole partial index `things_live_url` (`received_likes::RECEIVE_MANY` says more).
const CLICK_MANY: &str = "WITH input AS (
       SELECT * FROM json_to_recordset($1::json)
         AS i(period TEXT, created_at BIGINT, public_id TEXT, thing_id BIGINT, user_id BIGINT,
              token_hash TEXT, wallet_kind TEXT)
     ), inserted AS (
       INSERT INTO flattrs (user_id, period, created_at, public_id, thing_id, subscription_id, charged)
       SELECT u.id, i.period, i.created_at, i.public_id, t.id, NULL, 1
       FROM input i
         CROSS JOIN LATERAL (SELECT t.id, t.owner_id, t.deleted_at FROM things t
           WHERE t.id = i.thing_id OFFSET 0) t
         CROSS JOIN LATERAL (SELECT u.id, u.disabled_at FROM users u
           WHERE u.id = COALESCE(i.user_id,
               (SELECT k.user_id FROM tokens k WHERE k.token_hash = i.token_hash))
           OFFSET 0) u
       WHERE t.owner_id IS NOT NULL AND t.deleted_at IS NULL
         AND u.disabled_at IS NULL AND t.owner_id <> u.id
         AND NOT EXISTS (SELECT 1 FROM periods p WHERE p.period = i.period AND p.stage > 0)
         AND (SELECT a.balance FROM accounts a WHERE a.kind = i.wallet_kind AND a.user_id = u.id) > 0
       ON CONFLICT (user_id, thing_id, period) DO NOTHING
       RETURNING id, public_id, user_id, thing_id, period, subscription_id, charged, created_at
     )
     SELECT f.id, f.public_id, f.user_id, f.thing_id, t.url AS thing_url, t.title AS thing_title,
            f.period, f.subscription_id, f.charged, t.ap_id AS thing_ap_id, f.created_at
     FROM inserted f CROSS JOIN LATERAL (SELECT t.url, t.title, t.ap_id FROM things t
       WHERE t.id = f.thing_id OFFSET 0) t";

/// [`click`] for each of `clicks` in one statement (PostgreSQL), in their order, on `db`: in a
/// writer's transaction, or alone (the statement is atomic and answered after its commit).
pub async fn click_many(
    db: &mut sqlx::AnyConnection,
    clicks: &[NewClick],
) -> Result<Vec<Option<FlattrRow>>, StoreError> {
    let input: Vec<serde_json::Value> = clicks
        .iter()
        .map(|c| {
            let (period, created_at, public_id, thing_id, user_id, token_hash, wallet_kind) =
                c.params();
            serde_json::json!({
                "period": period, "created_at": created_at, "public_id": public_id,
                "thing_id": thing_id, "user_id": user_id, "token_hash": token_hash,
                "wallet_kind": wallet_kind,
            })
        })
        .collect();
    let rows: Vec<FlattrRow> = sqlx::query_as(CLICK_MANY)
        .bind(serde_json::Value::Array(input).to_string())
        .fetch_all(&mut *db)
        .await?;
    // Each click's own public id finds its row.
    let mut by_public: std::collections::HashMap<String, FlattrRow> = rows
        .into_iter()
        .map(|row| (row.public_id.clone(), row))
        .collect();
    Ok(clicks
        .iter()
        .map(|c| by_public.remove(&c.public_id))
        .collect())
}

/// One flattr, or `NotFound`.
pub async fn by_id<'e, E>(db: E, id: i64) -> Result<FlattrRow, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query_as(SELECT_BY_ID)
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(StoreError::NotFound("flattr"))
}

/// The flattr published under `public_id` (its Like's id ends in it).
pub async fn by_public_id<'e, E>(db: E, public_id: &str) -> Result<FlattrRow, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE f.public_id = $1"
    )))
    .bind(public_id)
    .fetch_optional(db)
    .await?
    .ok_or(StoreError::NotFound("flattr"))
}

/// Deletes a flattr (an undo, checked by `flattring::undo`).
pub async fn delete(tx: &mut Tx, flattr_id: i64) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM flattrs WHERE id = $1")
        .bind(flattr_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A user's flattrs, newest first, of one period or of all.
pub async fn of_user<'e, E>(
    db: E,
    user_id: i64,
    period: Option<Period>,
) -> Result<Vec<FlattrRow>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let rows = match period {
        Some(period) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT} WHERE f.user_id = $1 AND f.period = $2 ORDER BY f.id DESC"
            )))
            .bind(user_id)
            .bind(period.to_string())
            .fetch_all(db)
            .await?
        }
        None => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT} WHERE f.user_id = $1 ORDER BY f.id DESC LIMIT 1000"
            )))
            .bind(user_id)
            .fetch_all(db)
            .await?
        }
    };
    Ok(rows)
}

/// How many flattrs `user_id` made in `period`: what the period's budget will be split over.
pub async fn count_of_user<'e, E>(db: E, user_id: i64, period: Period) -> Result<i64, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM flattrs WHERE user_id = $1 AND period = $2 AND charged = 1",
    )
    .bind(user_id)
    .bind(period.to_string())
    .fetch_one(db)
    .await?)
}
