//! How fast the month close is, against the floor measured in the same run.
//!
//! Seeds N paying users (3 flattrs each over 1 000 creators' things) straight into the
//! database, then times
//! - the floor: one set-based statement that reads every flattr of the period with its thing's
//!   owner and writes one row per flattr (the least any close must do), and
//! - the real close (`settle::close::close`, all six stages, ledger postings included),
//!
//! and prints both and their ratio. `FEDFLATTR_BENCH_USERS` sets N (default 100 000);
//! `FEDFLATTR_BENCH_DATABASE_URL` a PostgreSQL server to run on, where a fresh
//! `fedflattr_test_*` database is created (default: a fresh SQLite file).
//! Run: `cargo bench --bench close`.

// Test and bench code: a failed unwrap is a failed run with its reason, which is what we want
// here; `allow-unwrap-in-tests` covers only `#[test]` functions, not the shared helpers.
#![allow(clippy::unwrap_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use fedflattr::domain::money::FeeRate;
use fedflattr::domain::period::Period;
use fedflattr::ledger::audit;
use fedflattr::settle::close::{CloseOptions, CloseRules, close};
use fedflattr::store::Store;
use rust_decimal::Decimal;

const CREATORS: i64 = 1_000;
const FLATTRS_PER_USER: i64 = 3;

async fn exec(store: &Store, sql: &'static str, n: i64) {
    sqlx::query(sql)
        .bind(n)
        .execute(store.pool())
        .await
        .unwrap();
}

/// Users 1..=CREATORS own one thing each; users above pay. Every payer has 10.00 in the
/// wallet (with the deposit posting that put it there) and flattrs three things in 2026-10.
async fn seed(store: &Store, payers: i64) {
    let total = CREATORS + payers;
    exec(store, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO users (id, username, password_hash, budget, is_admin, public_key, private_key, created_at)
         SELECT i, 'u' || CAST(i AS TEXT), '', 20000, 0, '', '', 0 FROM n", total).await;
    exec(store, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO accounts (id, name, kind, user_id, balance)
         SELECT i, 'wallet:' || CAST(i AS TEXT), 'wallet', i, CASE WHEN i > 1000 THEN 100000 ELSE 0 END FROM n", total).await;
    exec(
        store,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO accounts (id, name, kind, user_id, balance)
         SELECT $1 + i, 'earnings:' || CAST(i AS TEXT), 'earnings', i, 0 FROM n",
        total,
    )
    .await;
    exec(
        store,
        "INSERT INTO accounts (id, name, kind, user_id, balance)
         VALUES (2 * $1 + 1, 'world', 'world', NULL, -100000 * ($1 - 1000))",
        total,
    )
    .await;
    exec(
        store,
        "INSERT INTO ledger_transactions (id, kind, reference, memo, created_at)
         VALUES (1, 'deposit', 'seed', 'bench seed', $1)",
        0,
    )
    .await;
    exec(
        store,
        "INSERT INTO postings (transaction_id, account_id, amount)
         SELECT 1, id, balance FROM accounts WHERE balance <> 0 AND id <> $1",
        0,
    )
    .await;
    exec(store, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO things (id, url, owner_id, title, description, tags, language, category, hidden,
                             created_at, updated_at, proven_at, proof)
         SELECT i, 'https://c.example/' || CAST(i AS TEXT), i, 'T', '', '[]', '', 'rest', 0, 0, 0,
                0, 'verified_domain' FROM n", CREATORS).await;
    exec(
        store,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1),
                   k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < 2)
         INSERT INTO flattrs (user_id, thing_id, period, charged, created_at)
         SELECT 1000 + i, ((1000 + i) * 7 + j * 13) % 1000 + 1, '2026-10', 1, 0 FROM n, k",
        payers,
    )
    .await;
    if store.backend() == fedflattr::store::Backend::Postgres {
        // Explicit ids do not move PostgreSQL's identity sequences; move them past the seed.
        for table in ["users", "accounts", "things", "ledger_transactions"] {
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(store.pool())
                .await
                .unwrap();
        }
        // A live database has planner statistics (autovacuum); a freshly bulk-loaded one
        // does not until analysed.
        sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
    }
}

fn main() {
    let payers: i64 = std::env::var("FEDFLATTR_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    if std::env::var("RUST_LOG").is_ok() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let server = std::env::var("FEDFLATTR_BENCH_DATABASE_URL").ok();
        let url = common::database::fresh_database_on(server.as_deref(), dir.path()).await;
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let started = Instant::now();
        seed(&store, payers).await;
        println!(
            "backend {}, {payers} paying users, {} flattrs; seeded in {:.1?}",
            store.backend_name(),
            payers * FLATTRS_PER_USER,
            started.elapsed()
        );

        let floor = time(|| async {
            sqlx::query(
                "CREATE TABLE floor AS SELECT f.id, f.user_id, f.thing_id, t.owner_id
                 FROM flattrs f JOIN things t ON t.id = f.thing_id WHERE f.period = '2026-10'",
            )
            .execute(store.pool())
            .await
            .unwrap();
        })
        .await;

        let rate = FeeRate::parse("fee", Decimal::new(1, 1)).unwrap();
        let period = Period::parse("2026-10").unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 1, 0, 1, 0).unwrap();
        let mut report = None;
        let elapsed = time(|| async {
            report = Some(
                close(
                    &store,
                    period,
                    CloseRules {
                        fee_rate: rate,
                        held_periods: 3,
                    },
                    now,
                    CloseOptions::default(),
                )
                .await
                .unwrap(),
            );
        })
        .await;
        let report = report.unwrap();
        assert_eq!(report.users_charged, payers);
        assert_eq!(report.flattrs, payers * FLATTRS_PER_USER);
        let audit = audit::run(store.pool()).await.unwrap();
        assert!(audit.ok, "{audit:?}");

        println!("floor (one set-based pass over the flattrs): {floor:.2?}");
        println!("close (5 stages, ledger, audit-clean):        {elapsed:.2?}");
        println!(
            "ratio close/floor: {:.1}",
            elapsed.as_secs_f64() / floor.as_secs_f64()
        );
        println!(
            "per million paying users (linear extrapolation): {:.1?}",
            Duration::from_secs_f64(elapsed.as_secs_f64() * 1_000_000.0 / payers as f64)
        );
    });
}

async fn time<F, Fut>(f: F) -> Duration
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = Instant::now();
    f().await;
    started.elapsed()
}
