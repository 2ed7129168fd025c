//! The delivery queue: it survives restarts, retries an unreachable peer, records every
//! attempt, and never counts a refusal as a delivery.

use serde_json::json;

use crate::helpers::{Instance, federate};

#[tokio::test]
async fn a_like_for_a_peer_that_is_down_is_delivered_after_both_servers_restart() {
    let mut alpha = Instance::spawn("alpha").await;
    let mut beta = Instance::spawn("beta").await;
    federate(&mut [&mut alpha, &mut beta]);
    let alice = alpha.sign_up("alice").await;
    alpha.deposit("alice", "10.00").await;
    let bob = beta.sign_up("bob").await;
    let thing = beta.create_thing(&bob, "https://bob.example/post").await;
    let response = alpha
        .post_api(
            "/api/v1/flattr",
            &alice,
            &json!({"url": beta.url(&format!("/things/{thing}"))}),
        )
        .await;
    assert_eq!(response.status(), 201);

    beta.stop().await;
    let report = alpha.deliver().await;
    assert_eq!((report.delivered, report.retrying), (0, 1), "{report:?}");
    // Not due again before its backoff.
    assert_eq!(alpha.deliver().await, Default::default());

    alpha.stop().await;
    alpha.restart().await;
    beta.restart().await;
    alpha.set_time("2026-10-15T12:02:00Z");
    let report = alpha.deliver().await;
    // The restarted server's own queue worker also runs once as it starts; if it started after
    // the clock moved, it may hold the claim and send the Like itself. Either way it is sent
    // exactly once (the attempts below): wait for whichever worker holds the claim to finish.
    assert!(report.delivered <= 1, "{report:?}");
    let mut delivery = fedflattr::federation::delivery::list(&alpha.state)
        .await
        .unwrap()[0]
        .clone();
    for _ in 0..200 {
        if delivery.state == "delivered" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        delivery = fedflattr::federation::delivery::list(&alpha.state)
            .await
            .unwrap()[0]
            .clone();
    }
    let delivery = &delivery;
    assert_eq!(delivery.state, "delivered");
    assert_eq!(delivery.attempts, 2);
    let statuses = fedflattr::federation::delivery::attempt_statuses(&alpha.state, delivery.id)
        .await
        .unwrap();
    assert_eq!(
        statuses,
        vec![None, Some(202)],
        "the failed attempt is on record"
    );
    assert_eq!(
        beta.get_json(&format!("/api/v1/things/{thing}"), None)
            .await["remote_flattrs"],
        1
    );
}

#[tokio::test]
async fn a_like_the_receiver_refuses_is_recorded_as_rejected_and_not_retried() {
    let mut alpha = Instance::spawn("alpha").await;
    let mut beta = Instance::spawn("beta").await;
    federate(&mut [&mut alpha, &mut beta]);
    alpha.sign_up("alice").await;
    // A Like of a thing beta does not have: beta answers 404.
    let like = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": alpha.url("/users/alice/likes/999"),
        "type": "Like",
        "actor": alpha.url("/users/alice"),
        "object": beta.url("/things/999"),
    });
    let mut tx = alpha.state.store.begin().await.unwrap();
    fedflattr::federation::outbox::enqueue(
        &mut tx,
        &like,
        &beta.url("/inbox"),
        Some(1),
        alpha.state.clock.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let report = alpha.deliver().await;
    assert_eq!((report.delivered, report.rejected), (0, 1), "{report:?}");
    let delivery = &fedflattr::federation::delivery::list(&alpha.state)
        .await
        .unwrap()[0];
    assert_eq!(delivery.state, "rejected");
    assert_eq!(delivery.last_status, Some(404));
    alpha.set_time("2026-10-20T00:00:00Z");
    assert_eq!(
        alpha.deliver().await,
        Default::default(),
        "a rejection is final"
    );
}

#[tokio::test]
async fn the_metrics_show_a_waiting_delivery_and_then_its_outcome() {
    let mut alpha = Instance::spawn("alpha").await;
    let mut beta = Instance::spawn("beta").await;
    federate(&mut [&mut alpha, &mut beta]);
    let alice = alpha.sign_up("alice").await;
    alpha.deposit("alice", "10.00").await;
    let bob = beta.sign_up("bob").await;
    let thing = beta.create_thing(&bob, "https://bob.example/post").await;
    let url = beta.url(&format!("/things/{thing}"));
    assert_eq!(alpha.flattr_url(&alice, &url).await.status(), 201);
    let scrape = |metrics: String, name: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
    };

    let before = alpha.get("/metrics", None).await.text().await.unwrap();
    assert_eq!(scrape(before, "fedflattr_delivery_queue_depth"), Some(1.0));
    assert_eq!(alpha.deliver().await.delivered, 1);
    let after = alpha.get("/metrics", None).await.text().await.unwrap();
    assert_eq!(
        scrape(after.clone(), "fedflattr_delivery_queue_depth"),
        Some(0.0)
    );
    assert_eq!(
        scrape(after, r#"fedflattr_deliveries_total{outcome="delivered"}"#),
        Some(1.0)
    );
    let beta_metrics = beta.get("/metrics", None).await.text().await.unwrap();
    assert_eq!(
        scrape(
            beta_metrics,
            r#"fedflattr_inbox_activities_total{outcome="accepted"}"#
        ),
        Some(1.0)
    );
}
