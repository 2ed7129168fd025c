//! Closes that race (issue 7.1): two `admin close` processes, two `serve` schedulers, a server
//! killed with SIGKILL in the middle of a close. One close runs at a time, periods close in
//! order, a spend never exceeds the wallet, and the database refuses negative money.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use fedflattr::domain::money::Money;
use fedflattr::ledger::{self, Account};
use fedflattr::settle::close::{CloseError, CloseOptions, Stage};
use serde_json::json;

use crate::helpers::{TestApp, period, spawn_app};

const PAYERS: [&str; 3] = ["alice", "carol", "dave"];

/// Three payers with a 3.00 wallet and a 2.00 budget flattr bob's thing in September and again
/// in October; the clock then stands in November, so both periods have ended (by the real
/// clock too, which the `fedflattr` processes use).
async fn two_ended_periods() -> TestApp {
    let app = spawn_app().await;
    app.set_time("2026-09-15T12:00:00Z");
    let bob = app.sign_up("bob").await;
    let thing = app.create_thing(&bob, "https://bob.example/1", "B1").await;
    let mut tokens = Vec::new();
    for name in PAYERS {
        let token = app.sign_up(name).await;
        app.deposit(name, "3.00").await;
        app.patch("/api/v1/user", &token, &json!({"budget": "2.00"}))
            .await;
        assert_eq!(app.flattr(&token, thing).await.status(), 201);
        tokens.push(token);
    }
    app.set_time("2026-10-15T12:00:00Z");
    for token in &tokens {
        assert_eq!(app.flattr(token, thing).await.status(), 201);
    }
    app.set_time("2026-11-02T00:00:00Z");
    app
}

/// What two closes in order leave: September spends 2.00 of each 3.00 wallet, October the 1.00
/// left. Bob earns 3 × (1.80 + 0.90), the fees are 3 × (0.20 + 0.10).
async fn assert_closed_in_order_exactly_once(app: &TestApp) {
    for name in PAYERS {
        let id = app.user_id(name).await;
        assert_eq!(
            app.balance(&format!("wallet:{id}")).await,
            0,
            "{name}'s wallet: 2.00 in September, the 1.00 left in October, nothing more"
        );
    }
    let bob = app.user_id("bob").await;
    assert_eq!(app.balance(&format!("earnings:{bob}")).await, 81_000);
    assert_eq!(app.balance("fees").await, 9_000);
    let spent: Vec<(String, i64)> = sqlx::query_as(
        "SELECT period, CAST(SUM(spend) AS BIGINT) FROM close_spends GROUP BY period ORDER BY period",
    )
    .fetch_all(app.state.store.pool())
    .await
    .unwrap();
    assert_eq!(
        spent,
        vec![
            ("2026-09".to_owned(), 60_000),
            ("2026-10".to_owned(), 30_000)
        ]
    );
    app.assert_books_balance().await;
}

fn fedflattr(app: &TestApp, dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fedflattr"));
    command
        .current_dir(dir)
        .env("FEDFLATTR_DATABASE_URL", &app.database_url)
        .env_remove("FEDFLATTR_CONFIG");
    command
}

fn succeeded(output: Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A `fedflattr serve` process on a free port that closes ended periods every second.
fn serve(app: &TestApp, dir: &Path) -> Child {
    fedflattr(app, dir)
        .arg("serve")
        .env("FEDFLATTR_PORT", "0")
        .env("FEDFLATTR_AUTO_CLOSE", "true")
        .env("FEDFLATTR_CLOSE_INTERVAL_SECS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start fedflattr serve")
}

async fn closed_periods(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM periods WHERE closed_at IS NOT NULL")
        .fetch_one(app.state.store.pool())
        .await
        .unwrap()
}

/// Waits until both periods are closed (the servers close them by themselves).
async fn until_both_closed(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while closed_periods(app).await < 2 {
        assert!(Instant::now() < deadline, "the periods were never closed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn two_admin_closes_of_two_periods_started_together_spend_each_wallet_once() {
    let app = two_ended_periods().await;
    let dir = tempfile::tempdir().unwrap();
    // October is started first: it must not spend before September has.
    let october = fedflattr(&app, dir.path())
        .args(["admin", "close", "2026-10"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let september = fedflattr(&app, dir.path())
        .args(["admin", "close", "2026-09"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    succeeded(september.wait_with_output().unwrap());
    succeeded(october.wait_with_output().unwrap());
    assert_closed_in_order_exactly_once(&app).await;
    succeeded(
        fedflattr(&app, dir.path())
            .args(["admin", "audit"])
            .output()
            .unwrap(),
    );
}

#[tokio::test]
async fn two_servers_whose_schedulers_close_the_same_periods_spend_each_wallet_once() {
    let app = two_ended_periods().await;
    let dir = tempfile::tempdir().unwrap();
    let mut first = serve(&app, dir.path());
    let mut second = serve(&app, dir.path());
    until_both_closed(&app).await;
    first.kill().unwrap();
    second.kill().unwrap();
    first.wait().unwrap();
    second.wait().unwrap();
    assert_closed_in_order_exactly_once(&app).await;
}

#[tokio::test]
async fn closing_a_later_period_closes_the_earlier_open_one_first() {
    let app = two_ended_periods().await;
    let report = app.close("2026-10").await;
    assert_eq!(
        report.spent.to_string(),
        "3.00",
        "the 1.00 left of each wallet"
    );
    assert_closed_in_order_exactly_once(&app).await;
}

#[tokio::test]
async fn a_spend_is_capped_at_what_the_wallet_holds_when_it_is_posted() {
    let app = spawn_app().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    app.deposit("alice", "3.00").await;
    let b1 = app.create_thing(&bob, "https://bob.example/1", "B1").await;
    let b2 = app.create_thing(&bob, "https://bob.example/2", "B2").await;
    app.flattr(&alice, b1).await;
    app.flattr(&alice, b2).await;
    app.set_time("2026-11-01T00:00:00Z");
    let store = &app.state.store;
    let rate = app.close_rules();
    let now = app.state.clock.now();
    let stopped = fedflattr::settle::close::close(
        store,
        period("2026-10"),
        rate,
        now,
        CloseOptions {
            fail_after: Some(Stage::Snapshot),
            ..CloseOptions::default()
        },
    )
    .await;
    assert!(matches!(stopped, Err(CloseError::Injected { .. })));
    // Between the snapshot (spend 2.00) and the spend, 2.50 leaves the wallet.
    let alice_id = app.user_id("alice").await;
    let mut tx = store.begin().await.unwrap();
    ledger::post(
        &mut tx,
        "refund",
        "refund:test",
        "money sent back",
        &[
            (Account::Wallet(alice_id), Money::from_minor(-25_000)),
            (Account::World, Money::from_minor(25_000)),
        ],
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let report = app.close("2026-10").await;
    assert_eq!(report.spent.to_string(), "0.50");
    assert_eq!(report.fees.to_string(), "0.05");
    assert_eq!(report.paid_to_creators.to_string(), "0.45");
    // One flattr per thing: each thing's total is its flattr's share, re-split.
    let shares: Vec<i64> = sqlx::query_scalar("SELECT amount FROM close_things ORDER BY thing_id")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(shares, vec![2_250, 2_250]);
    assert_eq!(app.balance(&format!("wallet:{alice_id}")).await, 0);
    let bob_id = app.user_id("bob").await;
    assert_eq!(app.balance(&format!("earnings:{bob_id}")).await, 4_500);
    app.assert_books_balance().await;
}

#[tokio::test]
async fn the_database_refuses_a_negative_wallet_earnings_fees_payouts_or_payable_balance() {
    let app = spawn_app().await;
    app.sign_up("alice").await;
    let alice = app.user_id("alice").await;
    let pool = app.state.store.pool();
    for name in [format!("wallet:{alice}"), format!("earnings:{alice}")] {
        let refused = sqlx::query("UPDATE accounts SET balance = -1 WHERE name = $1")
            .bind(&name)
            .execute(pool)
            .await;
        let error = refused.expect_err(&format!("a negative {name} is refused"));
        assert!(
            error.to_string().contains("accounts_money_not_negative"),
            "{error}"
        );
    }
    for kind in ["wallet", "earnings", "fees", "payouts", "payable"] {
        let refused = sqlx::query("INSERT INTO accounts (name, kind, balance) VALUES ($1, $2, -1)")
            .bind(format!("{kind}:forced"))
            .bind(kind)
            .execute(pool)
            .await;
        assert!(refused.is_err(), "a negative {kind} account is refused");
    }
    // The outside world and a close's clearing account may run negative.
    for kind in ["world", "clearing"] {
        sqlx::query("INSERT INTO accounts (name, kind, balance) VALUES ($1, $2, -1)")
            .bind(format!("{kind}:forced"))
            .bind(kind)
            .execute(pool)
            .await
            .unwrap();
    }
}

/// A small deterministic generator (SplitMix64) so a failing run can be replayed from its seed.
struct Random(u64);

impl Random {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % below
    }
}

async fn balances(app: &TestApp) -> BTreeMap<String, i64> {
    sqlx::query_as::<_, (String, i64)>("SELECT name, balance FROM accounts")
        .fetch_all(app.state.store.pool())
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// Kills `serve` with SIGKILL at seeded random moments while it closes two periods, restarts
/// it, and compares the final books with an uninterrupted close of the same story.
/// `FEDFLATTR_KILL_SEED` replays a seed; `FEDFLATTR_KILL_ITERATIONS` (default 3) runs longer.
#[tokio::test]
async fn a_server_killed_at_random_moments_of_two_closes_ends_with_the_uninterrupted_ledger() {
    let seed = std::env::var("FEDFLATTR_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let iterations: u64 = std::env::var("FEDFLATTR_KILL_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    println!("kill loop: FEDFLATTR_KILL_SEED={seed} FEDFLATTR_KILL_ITERATIONS={iterations}");
    let mut random = Random(seed);

    let reference = two_ended_periods().await;
    reference.close("2026-10").await;
    assert_closed_in_order_exactly_once(&reference).await;
    let expected = balances(&reference).await;

    for iteration in 0..iterations {
        let app = two_ended_periods().await;
        let dir = tempfile::tempdir().unwrap();
        let kills = 1 + random.next(3);
        for _ in 0..kills {
            let mut server = serve(&app, dir.path());
            let after = Duration::from_millis(random.next(800));
            tokio::time::sleep(after).await;
            server.kill().unwrap(); // SIGKILL
            server.wait().unwrap();
            println!(
                "iteration {iteration}: killed after {after:?}, {} periods closed",
                closed_periods(&app).await
            );
        }
        let mut server = serve(&app, dir.path());
        until_both_closed(&app).await;
        server.kill().unwrap();
        server.wait().unwrap();
        assert_eq!(balances(&app).await, expected, "iteration {iteration}");
        assert_closed_in_order_exactly_once(&app).await;
        succeeded(
            fedflattr(&app, dir.path())
                .args(["admin", "audit"])
                .output()
                .unwrap(),
        );
    }
}
