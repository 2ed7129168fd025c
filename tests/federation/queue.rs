//! The delivery queue: it survives restarts, retries an unreachable peer, records every
//! attempt, and never counts a refusal as a delivery.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::Path;
use axum::http::StatusCode;
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

/// A sink on 127.0.0.1 that answers `/inbox` with 202, `/gone` with 410 and `/down` with
/// 503, and counts the POSTs each path got.
async fn sink() -> (u16, Arc<Mutex<HashMap<String, usize>>>) {
    let hits = Arc::new(Mutex::new(HashMap::new()));
    let counted = hits.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = axum::Router::new().route(
        "/{path}",
        axum::routing::post(move |Path(path): Path<String>| {
            let counted = counted.clone();
            async move {
                *counted.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
                match path.as_str() {
                    "inbox" => StatusCode::ACCEPTED,
                    "gone" => StatusCode::GONE,
                    _ => StatusCode::SERVICE_UNAVAILABLE,
                }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    (port, hits)
}

#[tokio::test]
async fn a_queue_of_several_batches_is_sent_once_each_and_every_outcome_is_recorded() {
    let alpha = Instance::spawn("alpha").await;
    alpha.sign_up("alice").await;
    let alice = alpha.user_id("alice").await;
    let (port, hits) = sink().await;
    // 250 Likes (two and a half claims of 100): one in 25 to an inbox that refuses it, one in
    // 25 to one that is down, the rest accepted.
    let path = |n: usize| match n % 25 {
        0 => "gone",
        1 => "down",
        _ => "inbox",
    };
    let mut tx = alpha.state.store.begin().await.unwrap();
    for n in 0..250 {
        let like = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": alpha.url(&format!("/users/alice/likes/{n}")), "type": "Like",
            "actor": alpha.url("/users/alice"),
            "object": format!("http://sink.test:{port}/things/{n}"),
        });
        let inbox = format!("http://sink.test:{port}/{}", path(n));
        fedflattr::federation::outbox::enqueue(
            &mut tx,
            &like,
            &inbox,
            Some(alice),
            alpha.state.clock.now(),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let report = alpha.deliver().await;
    assert_eq!(
        (
            report.delivered,
            report.rejected,
            report.retrying,
            report.failed
        ),
        (230, 10, 10, 0),
        "{report:?}"
    );
    let sent = hits.lock().unwrap().clone();
    assert_eq!(
        (sent["inbox"], sent["gone"], sent["down"]),
        (230, 10, 10),
        "each Like was sent exactly once"
    );
    let rows = fedflattr::federation::delivery::list(&alpha.state)
        .await
        .unwrap();
    assert_eq!(rows.len(), 250);
    for (n, row) in rows.iter().enumerate() {
        let (state, status) = match path(n) {
            "gone" => ("rejected", 410),
            "down" => ("pending", 503),
            _ => ("delivered", 202),
        };
        assert_eq!(
            (row.state.as_str(), row.attempts, row.last_status),
            (state, 1, Some(status)),
            "{row:?}"
        );
        let attempts = fedflattr::federation::delivery::attempt_statuses(&alpha.state, row.id)
            .await
            .unwrap();
        assert_eq!(attempts, vec![Some(status)], "{row:?}");
    }
    let held: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM deliveries WHERE claim IS NOT NULL OR locked_until IS NOT NULL",
    )
    .fetch_one(alpha.state.store.pool())
    .await
    .unwrap();
    assert_eq!(held, 0, "every claim of the run is released");

    // The ten that met a server error wait for their backoff (a minute), then go again.
    assert_eq!(alpha.deliver().await, Default::default());
    alpha.set_time("2026-10-15T12:01:30Z");
    let report = alpha.deliver().await;
    assert_eq!((report.delivered, report.retrying), (0, 10), "{report:?}");
    assert_eq!(hits.lock().unwrap()["down"], 20);
}
