//! The bench's data: a seeded, reproducible instance written straight into the database
//! (set-based `INSERT … SELECT`, not timed), and what the floor computes from it.
//!
//! Shape: `users` paying users (ids 1..=users), `things` things owned by `things / 10`
//! creators (ten each, ids after the payers'), every payer flattring `per_user` distinct things
//! of 2026-10. The seed picks each flattr's thing with a multiplicative hash, so runs with the
//! same seed and shape write the same rows. Every seventh payer has less in the wallet than the
//! 2.00 budget (an odd amount, so splits leave remainders); one thing in a hundred is unproven
//! (its shares are held) and one in a hundred lives on a peer (its shares are payable).

use fedflattr::store::{Backend, Store};
use sqlx::AnyConnection;

/// What is seeded.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Paying users.
    pub users: i64,
    /// Things flattred (owned by `things / 10` creators, or by a peer).
    pub things: i64,
    /// Flattrs per paying user (distinct things).
    pub per_user: i64,
    /// Mixed into the choice of things: another seed, another (equally sized) data set.
    pub seed: i64,
}

impl Shape {
    fn creators(&self) -> i64 {
        (self.things / 10).max(1)
    }
}

/// A prime, so that `j × STRIDE mod things` differs for every `j < per_user < things` when
/// `things` is not a multiple of it (distinct things per user, as `flattr_once` requires).
const STRIDE: i64 = 104_729;

/// Paying users whose flattrs one seeding statement writes (2 500 000 flattrs at 50 each).
const SEED_CHUNK: i64 = 50_000;

async fn exec(conn: &mut AnyConnection, sql: &str, binds: &[i64]) {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
    for bind in binds {
        query = query.bind(*bind);
    }
    query.execute(&mut *conn).await.unwrap();
}

/// Writes the shape's users, accounts (with the deposit that funded the wallets), things and
/// flattrs.
pub async fn seed(store: &Store, shape: Shape) {
    assert!(shape.per_user < shape.things && shape.things % STRIDE != 0);
    let users = shape.users + shape.creators();
    // One connection with a large page cache writes the seed (SQLite): with the default cache
    // the random inserts into the flattrs' indexes made seeding minutes long. Set back below,
    // so the close runs with the pool's usual connections.
    let mut pooled = store.pool().acquire().await.unwrap();
    let store_conn: &mut AnyConnection = &mut pooled;
    let sqlite = store.backend() == Backend::Sqlite;
    if sqlite {
        exec(store_conn, "PRAGMA cache_size = -1048576", &[]).await;
    }
    let numbers = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)";
    exec(store_conn, &format!("{numbers}
         INSERT INTO users (id, username, password_hash, budget, is_admin, public_key, private_key, created_at)
         SELECT i, 'u' || CAST(i AS TEXT), '', 20000, 0, '', '', 0 FROM n"), &[users]).await;
    // Wallets: 10.00 for payers, except every seventh, who has less than the budget; creators
    // start empty.
    exec(
        store_conn,
        &format!(
            "{numbers}
         INSERT INTO accounts (id, name, kind, user_id, balance)
         SELECT i, 'wallet:' || CAST(i AS TEXT), 'wallet', i,
                CASE WHEN i > $2 THEN 0 WHEN i % 7 = 0 THEN 12345 + i % 1000 ELSE 100000 END
         FROM n"
        ),
        &[users, shape.users],
    )
    .await;
    exec(
        store_conn,
        &format!(
            "{numbers}
         INSERT INTO accounts (id, name, kind, user_id, balance)
         SELECT $1 + i, 'earnings:' || CAST(i AS TEXT), 'earnings', i, 0 FROM n"
        ),
        &[users],
    )
    .await;
    exec(
        store_conn,
        "INSERT INTO accounts (id, name, kind, user_id, balance)
         SELECT 2 * $1 + 1, 'world', 'world', NULL, -CAST(SUM(balance) AS BIGINT) FROM accounts",
        &[users],
    )
    .await;
    exec(
        store_conn,
        "INSERT INTO ledger_transactions (id, kind, reference, memo, created_at)
         VALUES (1, 'deposit', 'seed', 'bench seed', $1)",
        &[0],
    )
    .await;
    exec(
        store_conn,
        "INSERT INTO postings (transaction_id, account_id, amount)
         SELECT 1, id, balance FROM accounts WHERE balance <> $1",
        &[0],
    )
    .await;
    exec(store_conn, &format!("{numbers}
         INSERT INTO things (id, url, owner_id, ap_id, remote_owner, remote_inbox, origin, fedflattr,
                             title, description, tags, language, category, hidden,
                             created_at, updated_at, proven_at, proof)
         SELECT i, 'https://c.example/' || CAST(i AS TEXT),
                CASE WHEN i % 100 = 1 THEN NULL ELSE $2 + (i - 1) % $3 + 1 END,
                CASE WHEN i % 100 = 1 THEN 'https://peer.example/o/' || CAST(i AS TEXT) END,
                CASE WHEN i % 100 = 1 THEN 'https://peer.example/users/p' END,
                CASE WHEN i % 100 = 1 THEN 'https://peer.example/inbox' END,
                CASE WHEN i % 100 = 1 THEN 'https://peer.example' END,
                CASE WHEN i % 100 = 1 THEN 1 ELSE 0 END,
                'T', '', '[]', '', 'rest', 0, 0, 0,
                CASE WHEN i % 100 = 0 THEN NULL ELSE 0 END,
                CASE WHEN i % 100 = 0 THEN NULL ELSE 'verified_domain' END
         FROM n"), &[shape.things, shape.users, shape.creators()]).await;
    // Flattr ids grow with the user, as clicks of a month interleave users only loosely.
    // In chunks of users, each statement its own transaction: a seed of 50 000 000 flattrs
    // (1 000 000 users × 50) in one statement ran for over half an hour with nothing to show,
    // and held one transaction open all along.
    let chunks = (shape.users + SEED_CHUNK - 1) / SEED_CHUNK;
    for chunk in 0..chunks {
        let first = chunk * SEED_CHUNK + 1;
        let last = (first + SEED_CHUNK - 1).min(shape.users);
        let started = std::time::Instant::now();
        exec(
            store_conn,
            &format!(
                "WITH RECURSIVE n(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM n WHERE i < $2),
                      k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < $3 - 1)
                 INSERT INTO flattrs (user_id, thing_id, period, charged, created_at)
                 SELECT i, (i * 7919 + $4 * 31 + j * {STRIDE}) % $5 + 1, '2026-10', 1, 0
                 FROM n, k ORDER BY i, j"
            ),
            &[first, last, shape.per_user, shape.seed, shape.things],
        )
        .await;
        if chunks > 1 {
            eprintln!(
                "  seeded the flattrs of users {first}..={last} ({} of {chunks}) in {:.1?}",
                chunk + 1,
                started.elapsed()
            );
        }
    }
    if sqlite {
        exec(store_conn, "PRAGMA cache_size = -2000", &[]).await;
    }
    drop(pooled);
    if store.backend() == Backend::Postgres {
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
    }
    // A live database has planner statistics (autovacuum, `PRAGMA optimize`); a freshly
    // bulk-loaded one does not until analysed.
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
}

/// The floor the issue names: set-based SQL in the same database that computes every paying
/// user's spend and fee and every thing's earnings (the equal split with its remainder rule,
/// summed per thing) — what the close computes, without writing it through a ledger.
pub const FLOOR: [&str; 2] = [
    "CREATE TABLE floor_spends AS
     SELECT x.user_id, x.n, x.spend, x.spend * 1000 / 10000 AS fee,
            x.spend - x.spend * 1000 / 10000 AS net
     FROM (SELECT c.user_id, c.n,
                  CASE WHEN a.balance < u.budget THEN a.balance ELSE u.budget END AS spend
           FROM (SELECT user_id, COUNT(*) AS n FROM flattrs
                 WHERE period = '2026-10' AND charged = 1 GROUP BY user_id) c
           JOIN users u ON u.id = c.user_id
           JOIN accounts a ON a.kind = 'wallet' AND a.user_id = c.user_id) x
     WHERE x.spend > 0",
    "CREATE TABLE floor_earnings AS
     SELECT r.thing_id,
            CAST(SUM(s.net / s.n + CASE WHEN r.rn <= s.net % s.n THEN 1 ELSE 0 END) AS BIGINT)
              AS earned
     FROM (SELECT f.user_id, f.thing_id,
                  ROW_NUMBER() OVER (PARTITION BY f.user_id ORDER BY f.id) AS rn
           FROM flattrs f WHERE f.period = '2026-10' AND f.charged = 1) r
     JOIN floor_spends s ON s.user_id = r.user_id
     GROUP BY r.thing_id",
];

/// The bench's earlier floor, kept for comparison: one set-based pass over the flattrs joined
/// to their things' owners, writing a row per flattr and computing nothing.
pub const BARE_JOIN: &str = "CREATE TABLE floor_join AS
     SELECT f.id, f.user_id, f.thing_id, t.owner_id
     FROM flattrs f JOIN things t ON t.id = f.thing_id WHERE f.period = '2026-10'";

/// Rows where the close and the floor disagree: every spend and fee, and every thing's
/// earnings (what its owner, held account or peer got: the things' totals the close posts,
/// `close_things`, held and peers' things included), must be the floor's to the
/// ten-thousandth, both ways (a thing the close credited that the floor did not, too).
pub const DISAGREEMENTS: [&str; 3] = [
    "SELECT COUNT(*) FROM floor_spends f
     LEFT JOIN close_spends c ON c.period = '2026-10' AND c.user_id = f.user_id
     WHERE c.spend IS NULL OR c.spend <> f.spend OR c.fee <> f.fee",
    "SELECT COUNT(*) FROM floor_earnings f
     LEFT JOIN (SELECT thing_id, CAST(SUM(amount) AS BIGINT) AS earned FROM close_things
                WHERE period = '2026-10' GROUP BY thing_id) c ON c.thing_id = f.thing_id
     WHERE c.earned IS NULL OR c.earned <> f.earned",
    // With the check above (every floor thing has the close's total), equal counts mean the
    // close credited no thing the floor did not. Counted, not joined: the floor's table has no
    // index, and SQLite scanned all of it per thing for a join or `NOT EXISTS` the other way.
    "SELECT (SELECT COUNT(DISTINCT thing_id) FROM close_things WHERE period = '2026-10')
            - (SELECT COUNT(*) FROM floor_earnings)",
];
