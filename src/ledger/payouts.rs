//! Money out: users request payouts of their earnings, admins export them as CSV, pay them
//! outside fedflattr, and confirm them.
//!
//! A request moves the amount from the user's earnings to the instance's `payouts` account at
//! once, so it cannot be requested twice; confirming moves it on to the outside world.

use chrono::{DateTime, Utc};

use super::{Account, LedgerError, post};
use crate::domain::money::Money;
use crate::store::{Tx, epoch};

/// A payout request and where it stands.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct PayoutRow {
    /// The payout's id.
    pub id: i64,
    /// The creator paid.
    pub user_id: i64,
    /// The creator's username.
    pub username: String,
    /// The amount in ten-thousandths (serialized as a decimal).
    #[serde(serialize_with = "serialize_minor")]
    pub amount: i64,
    /// `requested`, `exported` or `paid`.
    pub state: String,
    /// The export batch it went out in.
    pub batch: Option<String>,
    /// When it was requested, Unix seconds.
    pub requested_at: i64,
    /// When it was exported, Unix seconds.
    pub exported_at: Option<i64>,
    /// When it was recorded as paid, Unix seconds.
    pub paid_at: Option<i64>,
}

fn serialize_minor<S: serde::Serializer>(minor: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&Money::from_minor(*minor))
}

const SELECT: &str = "SELECT p.id, p.user_id, u.username, p.amount, p.state, p.batch,
        p.requested_at, p.exported_at, p.paid_at
    FROM payouts p JOIN users u ON u.id = p.user_id";

/// What a user could withdraw now: earnings cut down to whole cents. The sub-cent rest stays
/// on the account and is paid once it adds up.
pub async fn withdrawable(tx: &mut Tx, user_id: i64) -> Result<Money, LedgerError> {
    Ok(super::balance(&mut **tx, &Account::Earnings(user_id))
        .await?
        .floor_payable())
}

/// Requests a payout of `amount`, or of everything withdrawable when `None`.
pub async fn request(
    tx: &mut Tx,
    user_id: i64,
    amount: Option<Money>,
    minimum: Money,
    now: DateTime<Utc>,
) -> Result<PayoutRow, LedgerError> {
    let available = withdrawable(tx, user_id).await?;
    let amount = amount.unwrap_or(available);
    if amount > available {
        return Err(LedgerError::Insufficient { available });
    }
    if amount < minimum || !amount.is_positive() {
        return Err(LedgerError::BelowMinimum { minimum });
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO payouts (user_id, amount, state, requested_at)
         VALUES ($1, $2, 'requested', $3) RETURNING id",
    )
    .bind(user_id)
    .bind(amount.minor())
    .bind(epoch(now))
    .fetch_one(&mut **tx)
    .await?;
    let posted = post(
        tx,
        "payout_request",
        &format!("payout-request:{id}"),
        "payout requested",
        &[
            (
                Account::Earnings(user_id),
                Money::from_minor(-amount.minor()),
            ),
            (Account::Payouts, amount),
        ],
        now,
    )
    .await;
    // The database refuses a negative earnings balance (migration 0002): a request that lost a
    // race to another is refused like any request for more than is available.
    if let Err(e) = &posted
        && super::is_negative_balance(e)
    {
        return Err(LedgerError::Insufficient { available });
    }
    posted?;
    // Two requests racing on PostgreSQL both read the same balance above; the second one's
    // balance update waited for the first to commit and then applied to its result, so
    // reading the balance again here sees the overdraft and refuses it. (On SQLite the
    // write transactions do not overlap at all.)
    let left = super::balance(&mut **tx, &Account::Earnings(user_id)).await?;
    if left.is_negative() {
        return Err(LedgerError::Insufficient { available });
    }
    by_id(tx, id).await
}

/// One payout, or `NotFound`.
pub async fn by_id(tx: &mut Tx, id: i64) -> Result<PayoutRow, LedgerError> {
    Ok(
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE p.id = $1")))
            .bind(id)
            .fetch_one(&mut **tx)
            .await?,
    )
}

/// A user's payouts, newest first.
pub async fn of_user<'e, E>(db: E, user_id: i64) -> Result<Vec<PayoutRow>, LedgerError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE p.user_id = $1 ORDER BY p.id DESC"
    )))
    .bind(user_id)
    .fetch_all(db)
    .await?)
}

/// Marks every requested payout as exported in one new batch and returns them. Exporting again
/// returns nothing new: a payout is in exactly one export.
pub async fn export(
    tx: &mut Tx,
    now: DateTime<Utc>,
) -> Result<(String, Vec<PayoutRow>), LedgerError> {
    // The time for people, a random suffix so that two exports in one instant stay apart.
    let mut suffix = [0u8; 4];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut suffix);
    let batch = format!(
        "batch-{}-{}",
        now.format("%Y%m%dT%H%M%SZ"),
        hex::encode(suffix)
    );
    sqlx::query(
        "UPDATE payouts SET state = 'exported', batch = $1, exported_at = $2 WHERE state = 'requested'",
    )
    .bind(&batch)
    .bind(epoch(now))
    .execute(&mut **tx)
    .await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE p.batch = $1 ORDER BY p.id"
    )))
    .bind(&batch)
    .fetch_all(&mut **tx)
    .await?;
    Ok((batch, rows))
}

/// Records exported payouts as paid (all of them, or those of one batch): the money leaves the
/// books for the outside world.
pub async fn confirm(
    tx: &mut Tx,
    batch: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<PayoutRow>, LedgerError> {
    let rows: Vec<PayoutRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE p.state = 'exported' AND ($1 = '' OR p.batch = $1) ORDER BY p.id"
    )))
    .bind(batch.unwrap_or(""))
    .fetch_all(&mut **tx)
    .await?;
    for row in &rows {
        post(
            tx,
            "payout_paid",
            &format!("payout-paid:{}", row.id),
            "payout paid",
            &[
                (Account::Payouts, Money::from_minor(-row.amount)),
                (Account::World, Money::from_minor(row.amount)),
            ],
            now,
        )
        .await?;
        sqlx::query("UPDATE payouts SET state = 'paid', paid_at = $1 WHERE id = $2")
            .bind(epoch(now))
            .bind(row.id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(rows)
}

/// The payouts not paid yet (`requested` or `exported`), oldest first: the admin's to-do.
pub async fn pending<'e, E>(db: E) -> Result<Vec<PayoutRow>, LedgerError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE p.state IN ('requested', 'exported') ORDER BY p.id"
    )))
    .fetch_all(db)
    .await?)
}

/// Exported payouts as the CSV the admin hands to the bank: one line per payout with its
/// amount in `currency`. `fedflattr admin payouts export` and the admin's page write this.
pub fn csv(rows: &[PayoutRow], currency: &str) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "payout_id",
        "username",
        "amount",
        "currency",
        "requested_at",
        "batch",
    ])?;
    for row in rows {
        writer.write_record([
            row.id.to_string(),
            row.username.clone(),
            Money::from_minor(row.amount).to_string(),
            currency.to_owned(),
            crate::store::from_epoch(row.requested_at).to_rfc3339(),
            row.batch.clone().unwrap_or_default(),
        ])?;
    }
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}
