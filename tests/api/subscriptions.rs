//! Subscriptions flattr a thing every period for 3, 6 or 12 periods.

use serde_json::{Value, json};

use crate::helpers::{error_code, spawn_app};

#[tokio::test]
async fn a_subscription_flattrs_now_and_at_each_close_until_its_periods_are_used_up() {
    let app = spawn_app().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    app.deposit("alice", "50.00").await;
    let id = app
        .create_thing(&bob, "https://bob.example/podcast", "Podcast")
        .await;

    let response = app
        .post(
            "/api/v1/user/subscriptions",
            Some(&alice),
            &json!({"thing_id": id, "periods": 3}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let subscription: Value = response.json().await.unwrap();
    assert_eq!(subscription["periods_left"], 2);
    assert_eq!(subscription["active"], true);

    let flattred_in = |period: &'static str| {
        let app = &app;
        let alice = alice.clone();
        async move {
            app.get_json(
                &format!("/api/v1/user/flattrs?period={period}"),
                Some(&alice),
            )
            .await
            .as_array()
            .unwrap()
            .len()
        }
    };
    assert_eq!(flattred_in("2026-10").await, 1);

    app.set_time("2026-11-01T00:01:00Z");
    app.close("2026-10").await;
    assert_eq!(flattred_in("2026-11").await, 1);
    app.set_time("2026-12-01T00:01:00Z");
    app.close("2026-11").await;
    assert_eq!(flattred_in("2026-12").await, 1);
    app.set_time("2027-01-01T00:01:00Z");
    app.close("2026-12").await;
    assert_eq!(
        flattred_in("2027-01").await,
        0,
        "three periods, then it ends"
    );

    let list = app
        .get_json("/api/v1/user/subscriptions", Some(&alice))
        .await;
    assert_eq!(list[0]["periods_left"], 0);
    assert_eq!(list[0]["active"], false);
    // Three closes charged alice three budgets.
    assert_eq!(
        app.get_json("/api/v1/user", Some(&alice)).await["wallet"],
        "44.00"
    );
    app.assert_books_balance().await;
}

#[tokio::test]
async fn a_paused_subscription_skips_periods_without_using_them_and_a_stopped_one_ends() {
    let app = spawn_app().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    app.deposit("alice", "50.00").await;
    let id = app
        .create_thing(&bob, "https://bob.example/podcast", "Podcast")
        .await;
    let subscription: Value = app
        .post(
            "/api/v1/user/subscriptions",
            Some(&alice),
            &json!({"url": "https://bob.example/podcast", "periods": 6}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(subscription["thing_id"], id);
    let path = format!("/api/v1/user/subscriptions/{}", subscription["id"]);

    let paused: Value = app
        .patch(&path, &alice, &json!({"paused": true}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(paused["paused"], true);
    app.set_time("2026-11-01T00:01:00Z");
    app.close("2026-10").await;
    let november = app
        .get_json("/api/v1/user/flattrs?period=2026-11", Some(&alice))
        .await;
    assert_eq!(november, json!([]));
    let list = app
        .get_json("/api/v1/user/subscriptions", Some(&alice))
        .await;
    assert_eq!(list[0]["periods_left"], 5);

    let stopped = app.delete(&path, &alice).await;
    assert_eq!(stopped.status(), 200);
    assert_eq!(stopped.json::<Value>().await.unwrap()["active"], false);
    let again = app.patch(&path, &alice, &json!({"paused": false})).await;
    assert_eq!(error_code(again).await, (409, "conflict".into()));
}

#[tokio::test]
async fn subscriptions_take_three_six_or_twelve_periods_and_one_per_thing() {
    let app = spawn_app().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    app.deposit("alice", "50.00").await;
    app.deposit("bob", "50.00").await;
    let id = app
        .create_thing(&bob, "https://bob.example/podcast", "Podcast")
        .await;
    let bad = app
        .post(
            "/api/v1/user/subscriptions",
            Some(&alice),
            &json!({"thing_id": id, "periods": 4}),
        )
        .await;
    assert_eq!(error_code(bad).await, (422, "invalid_parameters".into()));
    let own = app
        .post(
            "/api/v1/user/subscriptions",
            Some(&bob),
            &json!({"thing_id": id, "periods": 3}),
        )
        .await;
    assert_eq!(error_code(own).await, (403, "flattr_owner".into()));
    assert_eq!(
        app.post(
            "/api/v1/user/subscriptions",
            Some(&alice),
            &json!({"thing_id": id, "periods": 12})
        )
        .await
        .status(),
        201
    );
    let twice = app
        .post(
            "/api/v1/user/subscriptions",
            Some(&alice),
            &json!({"thing_id": id, "periods": 3}),
        )
        .await;
    assert_eq!(error_code(twice).await, (409, "conflict".into()));
    let others = app.get_json("/api/v1/user/subscriptions", Some(&bob)).await;
    assert_eq!(others, json!([]));
}
