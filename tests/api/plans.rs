//! PostgreSQL's hot set statements (the inbox's Likes, the API's clicks) read the rows they
//! need through their keys, also when their prepared plan was made while the tables were empty.
//!
//! PostgreSQL makes a prepared statement's generic plan once, at its sixth run, from the
//! statistics of that moment, and keeps it until the table is analysed again. Made on empty
//! tables, a join or `EXISTS` over a batch could become a hash join over a full scan of
//! `inbox_activities` or of every live thing, for every batch after. The check is the rows the
//! statements read in this transaction (`pg_stat_xact_user_tables`), not time.

use chrono::{TimeZone, Utc};
use fedflattr::store::Store;
use fedflattr::store::flattrs::{self, NewClick, Payer};
use fedflattr::store::received_likes::{self, Received};
use sqlx::Connection;

use crate::common::database::{fresh_database_on, reachable_postgres};

/// Rows in each table the statements must not walk.
const ROWS: i64 = 20_000;

fn like(n: i64, thing_id: i64) -> Received {
    Received {
        activity_id: format!("https://peer.example/likes/{n}"),
        actor: "https://peer.example/users/pat".into(),
        peer: "https://peer.example".into(),
        thing_id,
        period: "2026-11".into(),
        currency: "EUR".into(),
        digest: "00".into(),
        received_at: 1_790_000_000,
    }
}

fn click(user_id: i64, thing_id: i64) -> NewClick {
    NewClick::new(
        Payer::User(user_id),
        thing_id,
        "2026-11".parse().unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap(),
        "wallet",
    )
}

#[tokio::test]
async fn the_likes_and_clicks_statements_read_a_few_rows_by_key_after_a_plan_made_on_empty_tables()
{
    let Some(server) = reachable_postgres().await else {
        panic!("this test needs PostgreSQL: set FEDFLATTR_TEST_DATABASE_URL or run one locally");
    };
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_on(Some(&server), dir.path()).await;
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();

    // Six runs and more on empty tables, on one connection: the plan it keeps is made now.
    let mut db = sqlx::AnyConnection::connect(&url).await.unwrap();
    for n in 0..8 {
        received_likes::receive_many(&mut db, &[like(n, 1)])
            .await
            .unwrap();
        flattrs::click_many(&mut db, &[click(1, 1)]).await.unwrap();
    }

    // Then the tables fill up (as an instance's do over its first weeks), without an ANALYZE.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO users (username, password_hash, budget, public_key, private_key, created_at)
           SELECT 'u' || g, 'x', 1000, 'k', 'k', 0 FROM generate_series(1, {ROWS}) g;
         INSERT INTO accounts (name, kind, user_id, balance)
           SELECT 'wallet:' || id, 'wallet', id, 1000 FROM users;
         INSERT INTO things (url, owner_id, title, description, tags, language, category,
                             created_at, updated_at)
           SELECT 'https://blog.example/' || g, 1, 't', '', '', 'en', 'text', 0, 0
           FROM generate_series(1, {ROWS}) g;
         INSERT INTO inbox_activities (activity_id, actor, kind, received_at)
           SELECT 'https://peer.example/old/' || g, 'a', 'Like', 0
           FROM generate_series(1, {ROWS}) g;"
    )))
    .execute(store.pool())
    .await
    .unwrap();

    // A batch of four Likes and four clicks on existing things, counted and rolled back.
    sqlx::raw_sql("BEGIN").execute(&mut db).await.unwrap();
    let likes: Vec<Received> = (100..104).map(|n| like(n, n)).collect();
    let outcomes = received_likes::receive_many(&mut db, &likes).await.unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| *o == received_likes::Outcome::Recorded),
        "the Likes are recorded: {outcomes:?}"
    );
    let clicks: Vec<NewClick> = (200..204).map(|n| click(n, n)).collect();
    let recorded = flattrs::click_many(&mut db, &clicks).await.unwrap();
    assert!(
        recorded.iter().all(Option::is_some),
        "the clicks are recorded: {recorded:?}"
    );
    let read: Vec<(String, i64)> = sqlx::query_as(
        "SELECT CAST(relname AS TEXT), CAST(seq_tup_read + COALESCE(idx_tup_fetch, 0) AS BIGINT)
         FROM pg_stat_xact_user_tables
         WHERE relname IN ('things', 'users', 'accounts', 'inbox_activities', 'peer_controls')
         ORDER BY relname",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    sqlx::raw_sql("ROLLBACK").execute(&mut db).await.unwrap();
    assert!(!read.is_empty(), "the statistics name the tables");
    for (table, rows) in &read {
        assert!(
            *rows <= 40,
            "eight writes read {rows} rows of {table}, which holds {ROWS}: a scan, not a lookup ({read:?})"
        );
    }
}
