//! The month close: exact split, fees, keeping the unspent, exactly-once, resumable.

use fedflattr::domain::money::Money;
use fedflattr::domain::split::split_equally;
use fedflattr::settle::close::{self, CloseError, CloseOptions, Stage};
use fedflattr::settle::scheduler;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{TestApp, at, period, spawn_app, spawn_app_with};

/// alice (budget 2.00, wallet 10.00) flattrs bob's two things and carol's one; dave deposits
/// and flattrs nothing.
async fn october_with_three_flattrs() -> (TestApp, String) {
    let app = spawn_app().await;
    let alice = app.funded("alice", "10.00").await;
    let bob = app.sign_up("bob").await;
    let carol = app.sign_up("carol").await;
    app.funded("dave", "7.00").await;
    let b1 = app.create_thing(&bob, "https://bob.example/1", "B1").await;
    let b2 = app.create_thing(&bob, "https://bob.example/2", "B2").await;
    let c1 = app
        .create_thing(&carol, "https://carol.example/1", "C1")
        .await;
    app.flattr_each(&alice, &[b1, b2, c1]).await;
    (app, alice)
}

#[tokio::test]
async fn closing_splits_the_budget_minus_the_fee_equally_and_keeps_unspent_money() {
    let (app, alice) = october_with_three_flattrs().await;
    let report = app.close_october().await;
    assert_eq!(report.users_charged, 1);
    assert_eq!(report.flattrs, 3);
    assert_eq!(report.spent.to_string(), "2.00");
    assert_eq!(report.fees.to_string(), "0.20");
    assert_eq!(report.paid_to_creators.to_string(), "1.80");

    assert_eq!(
        app.get_json("/api/v1/user", Some(&alice)).await["wallet"],
        "8.00"
    );
    let (bob, carol, dave) = (
        app.user_id("bob").await,
        app.user_id("carol").await,
        app.user_id("dave").await,
    );
    assert_eq!(app.balance(&format!("earnings:{bob}")).await, 12_000);
    assert_eq!(app.balance(&format!("earnings:{carol}")).await, 6_000);
    assert_eq!(app.balance("fees").await, 2_000);
    assert_eq!(
        app.balance(&format!("wallet:{dave}")).await,
        70_000,
        "dave flattred nothing and keeps it all"
    );
    assert_eq!(app.balance("clearing:2026-10").await, 0);
    app.assert_books_balance().await;
}

#[tokio::test]
async fn an_uneven_split_gives_the_remainder_to_the_earliest_flattrs_and_sums_exactly() {
    let app = spawn_app().await;
    let alice = app.funded("alice", "3.00").await;
    let bob = app.sign_up("bob").await;
    app.patch("/api/v1/user", &alice, &json!({"budget": "2.00"}))
        .await;
    let mut things = Vec::new();
    for i in 0..7 {
        things.push(
            app.create_thing(&bob, &format!("https://bob.example/{i}"), "T")
                .await,
        );
    }
    app.flattr_each(&alice, &things).await;
    app.close_october().await;
    // net 1.80 = 18000 ten-thousandths over 7: 2571 each, the first 3 get 2572. One flattr
    // per thing, so each thing's total is its flattr's share (the things are proven: the
    // close keeps no per-flattr rows for them, only their totals).
    let shares: Vec<i64> = sqlx::query_scalar("SELECT amount FROM close_things ORDER BY thing_id")
        .fetch_all(app.state.store.pool())
        .await
        .unwrap();
    let expected: Vec<i64> = split_equally(Money::from_minor(18_000), 7)
        .iter()
        .map(|m| m.minor())
        .collect();
    assert_eq!(shares, vec![2572, 2572, 2572, 2571, 2571, 2571, 2571]);
    assert_eq!(shares, expected);
    assert_eq!(shares.iter().sum::<i64>(), 18_000);
    let earnings = app.get_json("/api/v1/user/earnings", Some(&bob)).await;
    assert_eq!(earnings["balance"], "1.80");
    app.assert_books_balance().await;
}

#[tokio::test]
async fn a_wallet_smaller_than_the_budget_is_spent_entirely_and_no_more() {
    let app = spawn_app().await;
    let alice = app.funded("alice", "1.50").await;
    let bob = app.sign_up("bob").await;
    let thing = app.create_thing(&bob, "https://bob.example/1", "One").await;
    app.flattr(&alice, thing).await;
    let report = app.close_october().await;
    assert_eq!(report.spent.to_string(), "1.50");
    assert_eq!(
        app.get_json("/api/v1/user", Some(&alice)).await["wallet"],
        "0.00"
    );
    assert_eq!(
        app.get_json("/api/v1/user/earnings", Some(&bob)).await["balance"],
        "1.35"
    );
    app.assert_books_balance().await;
}

#[tokio::test]
async fn an_open_period_cannot_be_closed_early() {
    let (app, _) = october_with_three_flattrs().await;
    let result = close::close(
        &app.state.store,
        period("2026-10"),
        app.close_rules(),
        at("2026-10-31T23:59:59Z"),
        CloseOptions::default(),
    )
    .await;
    assert!(
        matches!(result, Err(CloseError::PeriodOpen { .. })),
        "{result:?}"
    );
    assert!(
        app.ledger_lines()
            .await
            .iter()
            .all(|(reference, _, _)| reference.starts_with("deposit:"))
    );
}

#[tokio::test]
async fn closing_a_closed_period_changes_nothing() {
    let (app, _) = october_with_three_flattrs().await;
    let first = app.close_october().await;
    let ledger = app.ledger_lines().await;
    let second = app.close("2026-10").await;
    assert!(!first.already_closed);
    assert!(second.already_closed);
    assert_eq!(second.spent, first.spent);
    assert_eq!(app.ledger_lines().await, ledger);
}

#[tokio::test]
async fn a_close_that_crashes_after_any_stage_resumes_to_the_same_ledger() {
    let (reference_app, _) = october_with_three_flattrs().await;
    reference_app.close_october().await;
    let expected = reference_app.ledger_lines().await;

    for stage in [Stage::Snapshot, Stage::Spend, Stage::Fees, Stage::Shares] {
        let (app, _) = october_with_three_flattrs().await;
        app.set_time("2026-11-01T00:00:00Z");
        let crashed = close::close(
            &app.state.store,
            period("2026-10"),
            app.close_rules(),
            app.state.clock.now(),
            CloseOptions {
                fail_after: Some(stage),
                ..CloseOptions::default()
            },
        )
        .await;
        assert!(
            matches!(crashed, Err(CloseError::Injected { .. })),
            "{crashed:?}"
        );
        assert_eq!(
            close::stage(&app.state.store, period("2026-10"))
                .await
                .unwrap(),
            stage
        );
        // Mid-close the books still balance: money in flight sits in the clearing account.
        app.assert_books_balance().await;

        let resumed = app.close("2026-10").await;
        assert!(!resumed.already_closed);
        assert_eq!(
            app.ledger_lines().await,
            expected,
            "after a crash at {stage:?}"
        );
        app.assert_books_balance().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_closers_racing_close_the_period_once() {
    let (app, _) = october_with_three_flattrs().await;
    let now = at("2026-11-01T00:00:00Z");
    let rate = app.close_rules();
    let closers: Vec<_> = (0..3)
        .map(|_| {
            let store = app.state.store.clone();
            tokio::spawn(async move {
                close::close(
                    &store,
                    period("2026-10"),
                    rate,
                    now,
                    CloseOptions::default(),
                )
                .await
            })
        })
        .collect();
    for closer in closers {
        closer.await.unwrap().unwrap();
    }
    let spend_transactions = app
        .ledger_lines()
        .await
        .into_iter()
        .filter(|(reference, account, _)| {
            reference == "close:2026-10:spend" && account.starts_with("wallet:")
        })
        .count();
    assert_eq!(spend_transactions, 1);
    assert_eq!(app.balance("fees").await, 2_000);
    app.assert_books_balance().await;
}

#[tokio::test]
async fn the_scheduler_closes_every_ended_period_and_only_those() {
    let app = spawn_app_with(|config| config.close_interval_secs = 1).await;
    let alice = app.funded("alice", "10.00").await;
    let bob = app.sign_up("bob").await;
    let thing = app.create_thing(&bob, "https://bob.example/1", "One").await;
    app.flattr(&alice, thing).await;
    app.set_time("2026-11-03T00:00:00Z");
    app.flattr(&alice, thing).await;

    let due = scheduler::due(&app.state.store, app.state.clock.now())
        .await
        .unwrap();
    assert_eq!(due, vec![period("2026-10")]);
    let reports = scheduler::close_due(&app.state.store, app.close_rules(), app.state.clock.now())
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].period, "2026-10");
    assert!(
        scheduler::due(&app.state.store, app.state.clock.now())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        close::stage(&app.state.store, period("2026-11"))
            .await
            .unwrap(),
        Stage::Open
    );
}

#[tokio::test]
async fn the_server_closes_an_ended_period_by_itself() {
    let app = spawn_app_with(|config| {
        config.auto_close = true;
        config.close_interval_secs = 1;
    })
    .await;
    let alice = app.funded("alice", "10.00").await;
    let bob = app.sign_up("bob").await;
    let thing = app.create_thing(&bob, "https://bob.example/1", "One").await;
    app.flattr(&alice, thing).await;
    app.set_time("2026-11-01T00:00:30Z");
    // The scheduler wakes every second; give it up to 30 rounds.
    let mut stage = Stage::Open;
    for _ in 0..60 {
        stage = close::stage(&app.state.store, period("2026-10"))
            .await
            .unwrap();
        if stage == Stage::Held {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(stage, Stage::Held);
    assert_eq!(
        app.get_json("/api/v1/user", Some(&alice)).await["wallet"],
        "8.00"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Random budgets, wallets and flattr counts through the real close: nothing is lost,
    /// nothing is made up, and every user pays exactly min(budget, wallet).
    #[test]
    fn no_money_is_lost_or_made_in_a_close_of_random_users(
        users in proptest::collection::vec((200i64..5000, 0i64..8000, 1usize..6), 1..5),
    ) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let app = spawn_app().await;
            let creator = app.sign_up("creator").await;
            let mut things = Vec::new();
            for i in 0..6 {
                things.push(app.create_thing(&creator, &format!("https://c.example/{i}"), "T").await);
            }
            let mut expected_spend = 0i64;
            for (index, (budget_cents, wallet_cents, flattrs)) in users.iter().enumerate() {
                let name = format!("user{index}");
                let token = app.sign_up(&name).await;
                let budget = Money::from_minor(budget_cents * 100);
                app.patch("/api/v1/user", &token, &json!({"budget": budget.to_string()})).await;
                if *wallet_cents > 0 {
                    app.deposit(&name, &Money::from_minor(wallet_cents * 100).to_string()).await;
                    for thing in things.iter().take(*flattrs) {
                        assert_eq!(app.flattr(&token, *thing).await.status(), 201);
                    }
                    expected_spend += (budget_cents * 100).min(wallet_cents * 100);
                }
            }
            let report = app.close_october().await;
            assert_eq!(report.spent.minor(), expected_spend);
            assert_eq!(report.fees.minor() + report.paid_to_creators.minor(), expected_spend);
            let earned = app.balance(&format!("earnings:{}", app.user_id("creator").await)).await;
            assert_eq!(earned, report.paid_to_creators.minor());
            for (index, (budget_cents, wallet_cents, _)) in users.iter().enumerate() {
                let id = app.user_id(&format!("user{index}")).await;
                let left = app.balance(&format!("wallet:{id}")).await;
                let spent = (budget_cents * 100).min(wallet_cents * 100);
                assert_eq!(left, wallet_cents * 100 - spent);
            }
            app.assert_books_balance().await;
        });
    }
}

#[tokio::test]
async fn earnings_are_shown_per_period_and_per_thing() {
    let (app, alice) = october_with_three_flattrs().await;
    let bob = app
        .post(
            "/api/v1/tokens",
            None,
            &json!({"username": "bob", "password": "correct horse"}),
        )
        .await;
    let bob: Value = bob.json().await.unwrap();
    let bob = bob["access_token"].as_str().unwrap().to_owned();
    app.close_october().await;
    let first = app
        .get_json(
            "/api/v1/things/lookup?url=https%3A%2F%2Fbob.example%2F1",
            None,
        )
        .await;
    app.flattr(&alice, first["id"].as_i64().unwrap()).await;
    app.set_time("2026-12-01T00:00:00Z");
    app.close("2026-11").await;

    let earnings = app.get_json("/api/v1/user/earnings", Some(&bob)).await;
    assert_eq!(earnings["balance"], "3.00");
    assert_eq!(
        earnings["by_period"],
        json!([
            {"period": "2026-11", "flattrs": 1, "amount": "1.80"},
            {"period": "2026-10", "flattrs": 2, "amount": "1.20"},
        ])
    );
    assert_eq!(earnings["by_thing"][0]["title"], "B1");
    assert_eq!(earnings["by_thing"][0]["amount"], "2.40");
    assert_eq!(earnings["by_thing"][1]["amount"], "0.60");
}

#[tokio::test]
async fn the_audit_names_a_thing_whose_close_total_is_not_the_split_of_its_spends() {
    let (app, _alice) = october_with_three_flattrs().await;
    app.close_october().await;
    let pool = app.state.store.pool();
    let thing: i64 = sqlx::query_scalar("SELECT MIN(thing_id) FROM close_things")
        .fetch_one(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE close_things SET amount = amount + 1 WHERE thing_id = $1")
        .bind(thing)
        .execute(pool)
        .await
        .unwrap();
    let audit = fedflattr::ledger::audit::run(pool).await.unwrap();
    assert!(!audit.ok);
    let problems: Vec<&String> = audit.checks.iter().flat_map(|c| &c.problems).collect();
    assert_eq!(
        problems,
        [&format!(
            "close of 2026-10, thing {thing}: totals say 6001 over 1 flattrs, \
             the split of the spends gives 6000 over 1, stored shares sum to 0 over 0"
        )],
        "each of alice's three flattrs got 0.60; only the tampered total disagrees"
    );
}
