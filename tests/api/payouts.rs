//! Money out: payout requests, the admin's export and confirmation.

use fedflattr::ledger::payouts;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, spawn_app};

/// bob earns 18.00 from alice's 20.00 budget in 2026-10.
async fn bob_earned_eighteen() -> (TestApp, String) {
    let app = spawn_app().await;
    let alice = app.funded("alice", "100.00").await;
    let bob = app.sign_up("bob").await;
    app.patch("/api/v1/user", &alice, &json!({"budget": "20.00"}))
        .await;
    let thing = app.create_thing(&bob, "https://bob.example/1", "One").await;
    app.flattr(&alice, thing).await;
    app.close_october().await;
    (app, bob)
}

#[tokio::test]
async fn a_creator_requests_a_payout_above_the_minimum_and_the_admin_pays_it() {
    let (app, bob) = bob_earned_eighteen().await;
    let earnings = app.get_json("/api/v1/user/earnings", Some(&bob)).await;
    assert_eq!(earnings["withdrawable"], "18.00");
    assert_eq!(earnings["payout_minimum"], "10.00");

    let too_small = app
        .post(
            "/api/v1/user/payouts",
            Some(&bob),
            &json!({"amount": "9.99"}),
        )
        .await;
    assert_eq!(error_code(too_small).await, (422, "below_minimum".into()));
    let too_big = app
        .post(
            "/api/v1/user/payouts",
            Some(&bob),
            &json!({"amount": "18.01"}),
        )
        .await;
    assert_eq!(
        error_code(too_big).await,
        (422, "insufficient_funds".into())
    );

    let response = app
        .post(
            "/api/v1/user/payouts",
            Some(&bob),
            &json!({"amount": "12.50"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let payout: Value = response.json().await.unwrap();
    assert_eq!(payout["amount"], "12.50");
    assert_eq!(payout["state"], "requested");
    assert_eq!(
        app.get_json("/api/v1/user/earnings", Some(&bob)).await["balance"],
        "5.50"
    );
    // What is requested cannot be requested again.
    let again = app
        .post("/api/v1/user/payouts", Some(&bob), &json!({}))
        .await;
    assert_eq!(error_code(again).await, (422, "below_minimum".into()));
    app.assert_books_balance().await;

    let now = app.state.clock.now();
    let mut tx = app.state.store.begin().await.unwrap();
    let (_, exported) = payouts::export(&mut tx, now).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(exported.len(), 1);
    let mut tx = app.state.store.begin().await.unwrap();
    let (_, nothing_new) = payouts::export(&mut tx, now).await.unwrap();
    tx.commit().await.unwrap();
    assert!(nothing_new.is_empty(), "a payout is exported once");

    let mut tx = app.state.store.begin().await.unwrap();
    let paid = payouts::confirm(&mut tx, None, now).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(paid.len(), 1);
    let list = app.get_json("/api/v1/user/payouts", Some(&bob)).await;
    assert_eq!(list[0]["state"], "paid");
    assert_eq!(app.balance("payouts").await, 0);
    // The world got 12.50 back of the 100.00 it paid in.
    assert_eq!(app.balance("world").await, -875_000);
    app.assert_books_balance().await;
}

#[tokio::test]
async fn without_an_amount_everything_withdrawable_is_paid_and_sub_cent_leftovers_stay() {
    let app = spawn_app().await;
    let alice = app.funded("alice", "100.00").await;
    let bob = app.sign_up("bob").await;
    let carol = app.sign_up("carol").await;
    app.patch("/api/v1/user", &alice, &json!({"budget": "40.00"}))
        .await;
    // 36.00 net over three flattrs, two of them bob's... use 7 to get sub-cent pieces.
    let mut bobs = Vec::new();
    for i in 0..3 {
        bobs.push(
            app.create_thing(&bob, &format!("https://bob.example/{i}"), "B")
                .await,
        );
    }
    for i in 0..4 {
        let thing = app
            .create_thing(&carol, &format!("https://carol.example/{i}"), "C")
            .await;
        app.flattr(&alice, thing).await;
    }
    app.flattr_each(&alice, &bobs).await;
    app.close_october().await;
    // 360000 / 7 = 51428 r 4: carol's four (the first flattrs) get 51429, bob's three 51428.
    let earnings = app.get_json("/api/v1/user/earnings", Some(&bob)).await;
    assert_eq!(earnings["balance"], "15.4284");
    assert_eq!(earnings["withdrawable"], "15.42");
    let payout: Value = app
        .post("/api/v1/user/payouts", Some(&bob), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(payout["amount"], "15.42");
    assert_eq!(
        app.get_json("/api/v1/user/earnings", Some(&bob)).await["balance"],
        "0.0084"
    );
    app.assert_books_balance().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_payout_requests_never_pay_more_than_was_earned() {
    let (app, bob) = bob_earned_eighteen().await;
    let requests: Vec<_> = (0..6)
        .map(|_| {
            let request = app
                .client
                .post(app.url("/api/v1/user/payouts"))
                .bearer_auth(&bob)
                .json(&json!({"amount": "18.00"}));
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for request in requests {
        statuses.push(request.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 422),
        "{statuses:?}"
    );
    assert_eq!(
        app.get_json("/api/v1/user/earnings", Some(&bob)).await["balance"],
        "0.00"
    );
    app.assert_books_balance().await;
}
