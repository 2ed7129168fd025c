//! PostgreSQL's way of writing a period's shares: a partition of `close_shares` of its own,
//! filled while it has no index, indexed in one build and attached (migration 0018). The only
//! module that creates tables at run time.
//!
//! Why (issue 10.4): a close of 100 000 users × 50 flattrs writes 5 000 000 shares in one
//! statement. Into the indexed table PostgreSQL inserted each row into the primary key's
//! B-tree as it came, with a WAL record per row: of that statement's 11.5 s of backend CPU
//! the index took about 4, and its wall time (19 s) was twice the statement's without the index.
//! Building the key once the rows are written is one sort of rows already in key order, and
//! whole index pages in the WAL. (Since migration 0020 the close keeps shares only for its
//! itemised things, a small part of the flattrs; the partition stays, since `close_shares` is
//! partitioned and each period needs its partition all the same.)
//!
//! Crash-safety: PostgreSQL's DDL is transactional, and all of this runs inside the snapshot
//! stage's transaction. A crash or error anywhere before its commit leaves no table, no index
//! and no partition behind (nothing to clean up on retry), and a committed snapshot always has
//! its partition attached and indexed. A re-run never gets here twice for a period: the stage's
//! compare-and-set lets only one snapshot commit, and a partition left by anything else makes
//! `CREATE TABLE` fail, rolling the stage back, rather than mix two snapshots' shares.
//!
//! Readers see no difference: they all filter `close_shares` by period, which PostgreSQL prunes
//! to the period's partition. Shares re-split after a capped spend are inserted into
//! `close_shares` as usual, once the partition is attached.

use super::error::CloseError;
use crate::domain::period::Period;
use crate::store::Tx;

/// The name of the partition of `close_shares` that holds `period`'s shares: `close_shares_YYYY_MM`.
pub(super) fn table_name(period: Period) -> String {
    // A period prints as digits and one hyphen (`YYYY-MM`): the name needs no quoting.
    format!("close_shares_{}", period.to_string().replace('-', "_"))
}

/// The memory the index build may sort in, in KiB (`maintenance_work_mem`): the close's bound,
/// as for its other sorts (`CLOSE_STAGE_MEMORY_KIB`).
const INDEX_BUILD_MEMORY_KIB: i64 = super::CLOSE_STAGE_MEMORY_KIB;

/// Creates `period`'s partition, not yet attached and without an index, in the caller's
/// transaction, and returns its name: the snapshot writes the period's shares into it, then
/// calls [`index_and_attach`].
pub(super) async fn create(tx: &mut Tx, period: Period) -> Result<String, CloseError> {
    let table = table_name(period);
    // DDL takes no bound parameters: the table name and the period literal come from a
    // `Period`, digits and a hyphen only. The CHECK is the partition's bound, so that ATTACH
    // trusts it instead of scanning the rows again; it costs a comparison per row written.
    let ddl = [
        format!("CREATE TABLE {table} (LIKE close_shares, CHECK (period = '{period}'))"),
        format!("SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY_KIB}kB'"),
    ];
    for statement in ddl {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut **tx)
            .await?;
    }
    Ok(table)
}

/// Builds the primary key of `period`'s partition, now filled, in one pass, and attaches it
/// to `close_shares`, in the caller's transaction.
pub(super) async fn index_and_attach(tx: &mut Tx, period: Period) -> Result<(), CloseError> {
    let table = table_name(period);
    let ddl = [
        format!("ALTER TABLE {table} ADD PRIMARY KEY (period, thing_id, flattr_id)"),
        format!("ALTER TABLE close_shares ATTACH PARTITION {table} FOR VALUES IN ('{period}')"),
    ];
    for statement in ddl {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
