//! Three real instances settle everything (issue 8, tests): gamma on PostgreSQL (when a server
//! is at hand), alpha and beta on the run's backend. Their users flattr each other's things;
//! all three close while gamma is offline, and it catches up when back; statements and claims
//! flow; every pair nets to the same figure on both sides; the payments are recorded and
//! confirmed (each with a sub-cent rest carried, mirrored on both sides); creators withdraw;
//! every audit passes, and all creators' earnings plus all fees are all the spends: no money
//! created or lost.

use serde_json::{Value, json};

use crate::admin_peers::{admin_json, admin_token};
use crate::helpers::{Instance, federate};
use crate::netting::position;
use crate::settlement::origin;

struct Three {
    alpha: Instance,
    beta: Instance,
    gamma: Instance,
}

impl Three {
    fn all(&self) -> [&Instance; 3] {
        [&self.alpha, &self.beta, &self.gamma]
    }

    async fn settle(&self) {
        for _ in 0..4 {
            for instance in self.all() {
                instance.deliver().await;
            }
        }
    }
}

/// Signs up a reader with 10.00 and a creator with a thing on `instance`; returns the
/// reader's token and the thing's URL.
async fn people(instance: &Instance, reader: &str, creator: &str) -> (String, String) {
    let token = instance.sign_up(reader).await;
    instance.deposit(reader, "10.00").await;
    let owner = instance.sign_up(creator).await;
    let thing = instance
        .create_thing(&owner, &format!("https://{creator}.example/post"))
        .await;
    (token, instance.thing_url(thing))
}

async fn sum_of(instance: &Instance, kinds: &'static str) -> i64 {
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(balance), 0) AS BIGINT) FROM accounts WHERE kind IN ({kinds})"
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(instance.state.store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn three_instances_one_offline_at_the_close_settle_to_the_cent_and_lose_nothing() {
    let mut alpha = Instance::spawn_with("alpha", |c| {
        c.payout_minimum = fedflattr::config::DecimalText(rust_decimal::Decimal::new(100, 2));
    })
    .await;
    let mut beta = Instance::spawn("beta").await;
    let mut gamma = Instance::spawn_on_postgres("gamma").await;
    federate(&mut [&mut alpha, &mut beta, &mut gamma]);
    let t = Three { alpha, beta, gamma };
    if crate::common::database::reachable_postgres()
        .await
        .is_some()
    {
        assert!(
            t.gamma.database_url.starts_with("postgres"),
            "gamma is on PostgreSQL"
        );
    }
    let (alice, alan_url) = people(&t.alpha, "alice", "alan").await;
    let (bea, bob_url) = people(&t.beta, "bea", "bob").await;
    let (gia, gus_url) = people(&t.gamma, "gia", "gus").await;
    let gil = t.gamma.sign_up("gil").await;
    let gil_thing = t.gamma.create_thing(&gil, "https://gil.example/post").await;
    let mut gil_more = Vec::new();
    for n in 2..6 {
        gil_more.push(
            t.gamma
                .create_thing(&gil, &format!("https://gil.example/post{n}"))
                .await,
        );
    }

    // alice: bob and gus (0.90 each); bea: alan and gus (0.90 each); gia: alan, bob and five
    // of gil's things on gamma itself: 1.80 / 7 = 0.2571 rest 3, so her first three flattrs
    // (alan, bob, gil's first) get 0.2572 and the other four 0.2571.
    for (instance, token, urls) in [
        (&t.alpha, &alice, vec![&bob_url, &gus_url]),
        (&t.beta, &bea, vec![&alan_url, &gus_url]),
        (&t.gamma, &gia, vec![&alan_url, &bob_url]),
    ] {
        for url in urls {
            assert_eq!(instance.flattr_url(token, url).await.status(), 201, "{url}");
        }
    }
    t.gamma.flattred(&gia, gil_thing).await;
    for thing in gil_more {
        t.gamma.flattred(&gia, thing).await;
    }
    t.settle().await;

    // All three close; gamma is offline while alpha and beta state.
    for instance in t.all() {
        instance.set_time("2026-11-01T00:00:10Z");
        instance.close("2026-10").await;
    }
    let mut t = t;
    t.gamma.stop().await;
    t.alpha.deliver().await;
    t.beta.deliver().await;
    t.gamma.restart().await;
    t.settle().await;

    let (a, b, g) = (origin(&t.alpha), origin(&t.beta), origin(&t.gamma));
    // Every pair nets to the same amount on both sides, the debtor mirrored: alpha owes gamma
    // 0.90 - 0.2572 = 0.6428, pays 0.64 and carries 0.0028 (beta likewise).
    for (x, y, x_origin, y_origin, amount, debtor, carried) in [
        (&t.alpha, &t.beta, &a, &b, "0.00", "none", "0.00"),
        (&t.alpha, &t.gamma, &a, &g, "0.64", "us", "0.0028"),
        (&t.beta, &t.gamma, &b, &g, "0.64", "us", "0.0028"),
    ] {
        let seen_by_x = position(x, y_origin, "2026-10");
        let seen_by_y = position(y, x_origin, "2026-10");
        assert_eq!(seen_by_x["net"], amount, "{seen_by_x}");
        assert_eq!(seen_by_y["net"], amount, "{seen_by_y}");
        assert_eq!(seen_by_x["debtor"], debtor);
        let mirrored = match debtor {
            "us" => "peer",
            other => other,
        };
        assert_eq!(seen_by_y["debtor"], mirrored);
        assert_eq!(seen_by_x["carried"], carried, "{seen_by_x}");
        let mirrored_rest = match carried {
            "0.00" => "0.00".to_owned(),
            rest => format!("-{rest}"),
        };
        assert_eq!(seen_by_y["carried"], mirrored_rest.as_str(), "{seen_by_y}");
        assert_eq!(seen_by_x["payable"], seen_by_y["receivable"]);
        assert_eq!(seen_by_x["receivable"], seen_by_y["payable"]);
    }
    assert_eq!(position(&t.alpha, &b, "2026-10")["state"], "closed");

    // alpha pays gamma through the command line, beta through the API; gamma confirms both.
    admin_json(
        &t.alpha,
        &[
            "payment",
            "record",
            &g,
            "2026-10",
            "0.64",
            "--date",
            "2026-11-03",
            "--reference",
            "A-G-1",
        ],
    );
    let root = admin_token(&t.beta, "root").await;
    let paid = t
        .beta
        .post_api(
            "/api/v1/admin/payments",
            &root,
            &json!({"peer": g, "period": "2026-10", "amount": "0.64", "date": "2026-11-03", "reference": "B-G-1"}),
        )
        .await;
    assert_eq!(paid.status(), 200);
    t.settle().await;
    let due = admin_json(&t.gamma, &["payments"]);
    assert_eq!(due["to_confirm"].as_array().unwrap().len(), 2, "{due}");
    for peer in [&a, &b] {
        admin_json(
            &t.gamma,
            &[
                "payment",
                "confirm",
                peer,
                "2026-10",
                "--date",
                "2026-11-04",
            ],
        );
    }
    t.settle().await;
    for (x, y) in [
        (&t.alpha, &g),
        (&t.beta, &g),
        (&t.gamma, &a),
        (&t.gamma, &b),
    ] {
        assert_eq!(position(x, y, "2026-10")["state"], "closed");
    }

    // The sub-cent rests stay in both books, mirrored, for the next netting of each pair.
    for (x, peer, rest) in [
        (&t.alpha, &g, 28),
        (&t.beta, &g, 28),
        (&t.gamma, &a, -28),
        (&t.gamma, &b, -28),
        (&t.alpha, &b, 0),
    ] {
        assert_eq!(
            x.balance(&format!("carry:{peer}")).await,
            rest,
            "carry:{peer}"
        );
    }

    // Creators' pending earnings became withdrawable: alan 0.90 + 0.2572, bob 0.2572 + 0.90,
    // gus 0.90 + 0.90, gil 0.2572 + 4 × 0.2571 (local).
    assert_eq!(t.alpha.earnings("alan").await, 11_572);
    assert_eq!(t.beta.earnings("bob").await, 11_572);
    assert_eq!(t.gamma.earnings("gus").await, 18_000);
    assert_eq!(t.gamma.earnings("gil").await, 12_856);
    let login: Value = t
        .alpha
        .post(
            "/api/v1/tokens",
            None,
            &json!({"username": "alan", "password": crate::common::users::PASSWORD}),
        )
        .await
        .json()
        .await
        .unwrap();
    let payout = t
        .alpha
        .post_api(
            "/api/v1/user/payouts",
            login["access_token"].as_str().unwrap(),
            &json!({"amount": "1.00"}),
        )
        .await;
    assert_eq!(payout.status(), 201);

    // Nothing created or lost: over the three instances, creators' earnings (paid out or not)
    // plus fees plus leftovers is every spend, and nothing is owed any more.
    let (mut spends, mut value, mut owed) = (0, 0, 0);
    for instance in t.all() {
        instance.assert_books_balance().await;
        spends += 100_000 - sum_of(instance, "'wallet'").await;
        value += sum_of(instance, "'earnings', 'payouts', 'fees', 'carry', 'held'").await;
        owed += sum_of(instance, "'payable', 'receivable', 'pending', 'disputed'")
            .await
            .abs();
    }
    assert_eq!(spends, 60_000);
    assert_eq!(value, spends);
    assert_eq!(owed, 0);
}
