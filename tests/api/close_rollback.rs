//! A close stage that dies after its work and before its commit leaves nothing behind — not a
//! posting, not a share, and on PostgreSQL not a table, index or partition of the period's
//! shares (the snapshot builds one, `settle::close::partition`) — and the close resumed after
//! it ends with the books and shares of a close that never stopped.

use fedflattr::settle::close::{self, CloseError, CloseOptions, Stage};
use fedflattr::store::Backend;

use crate::common::Blog;
use crate::helpers::{TestApp, period, spawn_app};

/// alice flattrs bob's two things and carol's one in October (as in `close`), and bob's second
/// thing is flattred by erin too, so two payers' shares meet on one thing. That thing is
/// unproven (a blog page that does not link back), so the close keeps its per-flattr shares
/// (and holds them); the others keep only their totals. Returns alice's token and bob's
/// second thing too.
async fn october_with_token() -> (TestApp, String, i64) {
    let app = spawn_app().await;
    let blog = Blog::spawn("bobsblog").await;
    blog.post("/2", "");
    let alice = app.funded("alice", "10.00").await;
    let erin = app.funded("erin", "1.23").await;
    let bob = app.sign_up("bob").await;
    let carol = app.sign_up("carol").await;
    let b1 = app.create_thing(&bob, "https://bob.example/1", "B1").await;
    let b2 = app.create_unproven_thing(&bob, &blog.url("/2"), "B2").await;
    let c1 = app
        .create_thing(&carol, "https://carol.example/1", "C1")
        .await;
    app.flattr_each(&alice, &[b1, b2, c1]).await;
    assert_eq!(app.flattr(&erin, b2).await.status(), 201);
    app.set_time("2026-11-01T00:00:00Z");
    (app, alice, b2)
}

async fn october() -> TestApp {
    october_with_token().await.0
}

/// Every table and index whose name starts with `close_shares` (the shares and, on
/// PostgreSQL, their partitions and the partitions' keys), sorted.
async fn share_relations(app: &TestApp) -> Vec<String> {
    let sql = match app.state.store.backend() {
        Backend::Postgres => {
            "SELECT CAST(relname AS TEXT) FROM pg_class
             WHERE relname LIKE 'close\\_shares%' ORDER BY relname"
        }
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE name LIKE 'close\\_shares%' ESCAPE '\\'
             ORDER BY name"
        }
    };
    sqlx::query_scalar(sql)
        .fetch_all(app.state.store.pool())
        .await
        .unwrap()
}

/// The partitions attached to `close_shares` (none on SQLite).
async fn attached_partitions(app: &TestApp) -> Vec<String> {
    if app.state.store.backend() != Backend::Postgres {
        return Vec::new();
    }
    sqlx::query_scalar(
        "SELECT CAST(c.relname AS TEXT) FROM pg_inherits i
         JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
         WHERE p.relname = 'close_shares' ORDER BY c.relname",
    )
    .fetch_all(app.state.store.pool())
    .await
    .unwrap()
}

type Share = (String, i64, i64, i64, i64);

/// What the snapshot froze: the stored per-flattr shares (period, thing, flattr, payer,
/// amount), and each thing's total in the same shape, (period, thing, flattrs, -1, amount
/// less a million when it is itemised), so that one list compares both.
async fn shares(app: &TestApp) -> Vec<Share> {
    sqlx::query_as(
        "SELECT period, thing_id, flattr_id, user_id, amount FROM close_shares
         UNION ALL
         SELECT period, thing_id, CAST(flattrs AS BIGINT), CAST(-1 AS BIGINT),
                CAST(amount AS BIGINT) - 1000000 * itemised
         FROM close_things
         ORDER BY 1, 4 DESC, 3, 2",
    )
    .fetch_all(app.state.store.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn a_close_stage_rolled_back_before_its_commit_leaves_nothing_and_the_close_resumes() {
    let reference = october().await;
    reference.close("2026-10").await;
    let expected_ledger = reference.ledger_lines().await;
    let expected_shares = shares(&reference).await;
    let expected_relations = share_relations(&reference).await;
    // bob's unproven thing's two shares, and the three things' totals.
    assert_eq!(expected_shares.len(), 2 + 3);
    if reference.state.store.backend() == Backend::Postgres {
        // The period's shares are a partition of their own, keyed, attached once.
        assert_eq!(
            expected_relations,
            [
                "close_shares",
                "close_shares_2026_10",
                "close_shares_2026_10_pkey",
                "close_shares_pkey"
            ]
        );
        assert_eq!(
            attached_partitions(&reference).await,
            ["close_shares_2026_10"]
        );
    }

    // Every stage a close runs, in order: all but `Open`.
    let stages: Vec<Stage> = Stage::ALL
        .into_iter()
        .filter(|s| *s != Stage::Open)
        .collect();
    for (i, &stage) in stages.iter().enumerate() {
        let app = october().await;
        if let Some(&before) = i.checked_sub(1).and_then(|j| stages.get(j)) {
            let stopped = app
                .try_close(
                    "2026-10",
                    CloseOptions {
                        fail_after: Some(before),
                        ..CloseOptions::default()
                    },
                )
                .await;
            assert!(matches!(stopped, Err(CloseError::Injected { .. })));
        }
        let reached = close::stage(&app.state.store, period("2026-10"))
            .await
            .unwrap();
        let ledger = app.ledger_lines().await;
        let relations = share_relations(&app).await;
        let written = shares(&app).await;

        let rolled_back = app
            .try_close(
                "2026-10",
                CloseOptions {
                    roll_back_in: Some(stage),
                    ..CloseOptions::default()
                },
            )
            .await;
        assert!(
            matches!(rolled_back, Err(CloseError::InjectedRollback { .. })),
            "{rolled_back:?}"
        );
        let after = close::stage(&app.state.store, period("2026-10"))
            .await
            .unwrap();
        assert_eq!(after, reached, "rolled back in {stage:?}");
        assert_eq!(app.ledger_lines().await, ledger, "rolled back in {stage:?}");
        assert_eq!(
            share_relations(&app).await,
            relations,
            "a table or index left behind by {stage:?}"
        );
        assert_eq!(shares(&app).await, written, "rolled back in {stage:?}");
        app.assert_books_balance().await;

        let resumed = app.close("2026-10").await;
        assert!(!resumed.already_closed);
        assert_eq!(app.ledger_lines().await, expected_ledger, "after {stage:?}");
        assert_eq!(shares(&app).await, expected_shares, "after {stage:?}");
        assert_eq!(
            share_relations(&app).await,
            expected_relations,
            "after {stage:?}"
        );
        assert_eq!(
            attached_partitions(&app).await,
            attached_partitions(&reference).await
        );
        app.assert_books_balance().await;
    }
}

#[tokio::test]
async fn each_closed_period_keeps_its_own_shares() {
    let (app, alice, b2) = october_with_token().await;
    app.close("2026-10").await;
    let october_shares = shares(&app).await;
    // November: alice flattrs bob's unproven thing again.
    assert_eq!(app.flattr(&alice, b2).await.status(), 201);
    app.set_time("2026-12-01T00:00:00Z");
    let report = app.close("2026-11").await;
    assert_eq!(report.flattrs, 1);
    let all = shares(&app).await;
    assert_eq!(all[..october_shares.len()], october_shares[..]);
    assert_eq!(all.len(), october_shares.len() + 2, "a share and a total");
    assert_eq!(all[all.len() - 1].0, "2026-11");
    if app.state.store.backend() == Backend::Postgres {
        assert_eq!(
            attached_partitions(&app).await,
            ["close_shares_2026_10", "close_shares_2026_11"]
        );
    }
}
