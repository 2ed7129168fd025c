//! A user of one instance flattrs a thing on another: the Like travels, is counted once, can be
//! undone, and is paid to the peer's account at close.

use serde_json::{Value, json};

use crate::helpers::{Instance, client, federate};

/// alice on alpha (10.00 in her wallet) and bob's thing on beta.
async fn alpha_and_beta() -> (Instance, Instance, String, String, i64) {
    let mut alpha = Instance::spawn("alpha").await;
    let mut beta = Instance::spawn("beta").await;
    federate(&mut [&mut alpha, &mut beta]);
    let alice = alpha.sign_up("alice").await;
    alpha.deposit("alice", "10.00").await;
    let bob = beta.sign_up("bob").await;
    let thing = beta.create_thing(&bob, "https://bob.example/post").await;
    (alpha, beta, alice, bob, thing)
}

#[tokio::test]
async fn a_flattr_of_a_thing_on_another_instance_arrives_once_and_is_owed_to_that_peer_at_close() {
    let (alpha, beta, alice, bob, thing) = alpha_and_beta().await;
    let thing_url = beta.url(&format!("/things/{thing}"));
    let response = alpha
        .post_api("/api/v1/flattr", &alice, &json!({"url": thing_url}))
        .await;
    assert_eq!(response.status(), 201);
    let flattr: Value = response.json().await.unwrap();
    assert_eq!(
        flattr["charged"], true,
        "beta speaks fedflattr, so the flattr is paid"
    );
    assert_eq!(flattr["period"], "2026-10");

    let report = alpha.deliver().await;
    assert_eq!(report.delivered, 1, "{report:?}");
    let deliveries = fedflattr::federation::delivery::list(&alpha.state)
        .await
        .unwrap();
    assert_eq!(deliveries[0].last_status, Some(202));
    assert_eq!(
        deliveries[0].inbox,
        beta.url("/inbox"),
        "delivered to the shared inbox"
    );

    let seen = beta
        .get_json(&format!("/api/v1/things/{thing}"), None)
        .await;
    assert_eq!(seen["remote_flattrs"], 1);
    let received = beta
        .get_json("/api/v1/user/received_flattrs", Some(&bob))
        .await;
    assert_eq!(received[0]["actor"], alpha.url("/users/alice"));
    assert_eq!(received[0]["period"], "2026-10");
    assert_eq!(received[0]["flattr"], true);

    // The same Like delivered again, through the user's own inbox this time: counted once.
    let body = json!(
        sqlx::query_scalar::<_, String>("SELECT body FROM deliveries")
            .fetch_one(alpha.state.store.pool())
            .await
            .unwrap()
    );
    let like: Value = serde_json::from_str(body.as_str().unwrap()).unwrap();
    let mut tx = alpha.state.store.begin().await.unwrap();
    fedflattr::federation::outbox::enqueue(
        &mut tx,
        &like,
        &beta.url("/users/bob/inbox"),
        Some(1),
        alpha.state.clock.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(alpha.deliver().await.delivered, 1);
    assert_eq!(
        beta.get_json(&format!("/api/v1/things/{thing}"), None)
            .await["remote_flattrs"],
        1
    );
    assert_eq!(beta.count("SELECT COUNT(*) FROM received_likes").await, 1);

    alpha.set_time("2026-11-01T00:00:10Z");
    let report = alpha.close("2026-10").await;
    assert_eq!(report.paid_to_creators.to_string(), "1.80");
    let peer_account = format!("payable:http://beta.test:{}", beta.port);
    let owed: i64 = sqlx::query_scalar("SELECT balance FROM accounts WHERE name = $1")
        .bind(&peer_account)
        .fetch_one(alpha.state.store.pool())
        .await
        .unwrap();
    assert_eq!(owed, 18_000);
    let audit = fedflattr::ledger::audit::run(alpha.state.store.pool())
        .await
        .unwrap();
    assert!(audit.ok, "{audit:?}");
}

#[tokio::test]
async fn an_undo_travels_too_and_withdraws_the_remote_flattr() {
    let (alpha, beta, alice, bob, thing) = alpha_and_beta().await;
    let flattr: Value = alpha
        .post_api(
            "/api/v1/flattr",
            &alice,
            &json!({"url": beta.url(&format!("/things/{thing}"))}),
        )
        .await
        .json()
        .await
        .unwrap();
    alpha.deliver().await;
    assert_eq!(
        beta.get_json(&format!("/api/v1/things/{thing}"), None)
            .await["remote_flattrs"],
        1
    );

    let undo = alpha
        .client
        .delete(alpha.url(&format!("/api/v1/flattrs/{}", flattr["id"])))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(undo.status(), 204);
    let report = alpha.deliver().await;
    assert_eq!(
        report.delivered,
        1,
        "{report:?} {:?}",
        fedflattr::federation::delivery::list(&alpha.state).await
    );
    assert_eq!(
        beta.get_json(&format!("/api/v1/things/{thing}"), None)
            .await["remote_flattrs"],
        0
    );
    let received = beta
        .get_json("/api/v1/user/received_flattrs", Some(&bob))
        .await;
    assert_eq!(received[0]["undone"], true);

    // alice's wallet pays nothing for the withdrawn flattr.
    alpha.set_time("2026-11-01T00:00:10Z");
    let report = alpha.close("2026-10").await;
    assert_eq!(report.users_charged, 0);
}

#[tokio::test]
async fn one_budget_split_over_things_on_two_peers_owes_each_peer_its_share() {
    let (mut alpha, mut beta, alice, _, thing) = alpha_and_beta().await;
    let mut gamma = Instance::spawn("gamma").await;
    let shared = client(&[&alpha, &beta, &gamma]);
    alpha.client = shared.clone();
    beta.client = shared.clone();
    gamma.client = shared;
    let carol = gamma.sign_up("carol").await;
    let other = gamma
        .create_thing(&carol, "https://carol.example/song")
        .await;
    for url in [
        beta.url(&format!("/things/{thing}")),
        gamma.url(&format!("/things/{other}")),
    ] {
        let response = alpha
            .post_api("/api/v1/flattr", &alice, &json!({"url": url}))
            .await;
        assert_eq!(response.status(), 201);
    }
    assert_eq!(alpha.deliver().await.delivered, 2);
    assert_eq!(
        gamma
            .get_json(&format!("/api/v1/things/{other}"), None)
            .await["remote_flattrs"],
        1
    );
    alpha.set_time("2026-11-01T00:00:10Z");
    alpha.close("2026-10").await;
    for (peer, port) in [("beta", beta.port), ("gamma", gamma.port)] {
        let owed: i64 = sqlx::query_scalar("SELECT balance FROM accounts WHERE name = $1")
            .bind(format!("payable:http://{peer}.test:{port}"))
            .fetch_one(alpha.state.store.pool())
            .await
            .unwrap();
        assert_eq!(owed, 9_000, "{peer} is owed half of 1.80");
    }
}

#[tokio::test]
async fn flattrs_between_instances_of_different_currencies_are_refused_clearly() {
    let (mut alpha, _, alice, _, _) = alpha_and_beta().await;
    let dollars = Instance::spawn_with("dollar", |config| config.currency = "USD".into()).await;
    alpha.client = client(&[&alpha, &dollars]);
    let dan = dollars.sign_up("dan").await;
    let thing = dollars.create_thing(&dan, "https://dan.example/post").await;
    let response = alpha
        .post_api(
            "/api/v1/flattr",
            &alice,
            &json!({"url": dollars.url(&format!("/things/{thing}"))}),
        )
        .await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "currency_mismatch");
    assert!(body["error_description"].as_str().unwrap().contains("USD"));
    assert_eq!(alpha.count("SELECT COUNT(*) FROM flattrs").await, 0);
    assert_eq!(alpha.count("SELECT COUNT(*) FROM deliveries").await, 0);
}

#[tokio::test]
async fn a_blog_page_that_links_its_thing_can_be_flattred_by_its_own_url() {
    let (alpha, beta, alice, _, thing) = alpha_and_beta().await;
    // A self-hosted blog (not fedflattr, not ActivityPub) whose page points at its thing on
    // beta with a payment link, as the embed code does.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let thing_url = beta.url(&format!("/things/{thing}"));
    let page = format!(
        "<!doctype html><html><head><title>Post</title><link rel=\"payment\" href=\"{thing_url}\"></head><body>Hi</body></html>"
    );
    let blog = axum::Router::new().route(
        "/2026/post",
        axum::routing::get(move || {
            let page = page.clone();
            async move { axum::response::Html(page) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, blog).await });

    let response = alpha
        .post_api(
            "/api/v1/flattr",
            &alice,
            &json!({"url": format!("http://blog.test:{port}/2026/post")}),
        )
        .await;
    let status = response.status();
    let flattr: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{flattr}");
    assert_eq!(flattr["charged"], true);
    assert_eq!(
        flattr["thing"]["url"], thing_url,
        "the page's payment link names the thing"
    );
    assert_eq!(alpha.deliver().await.delivered, 1);
    assert_eq!(
        beta.get_json(&format!("/api/v1/things/{thing}"), None)
            .await["remote_flattrs"],
        1
    );
}

#[tokio::test]
async fn a_subscription_to_a_thing_on_another_instance_sends_a_like_every_period() {
    let (alpha, beta, alice, bob, thing) = alpha_and_beta().await;
    let thing_url = beta.url(&format!("/things/{thing}"));
    // Known on alpha once flattred; the subscription then names it by id.
    let first: Value = alpha
        .post_api("/api/v1/flattr", &alice, &json!({"url": thing_url}))
        .await
        .json()
        .await
        .unwrap();
    let remote_id = first["thing"]["id"].as_i64().unwrap();
    let response = alpha
        .post_api(
            "/api/v1/user/subscriptions",
            &alice,
            &json!({"thing_id": remote_id, "periods": 3}),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(
        alpha.deliver().await.delivered,
        1,
        "October's flattr was already made by hand"
    );

    alpha.set_time("2026-11-01T00:00:10Z");
    beta.set_time("2026-11-01T00:00:10Z");
    alpha.close("2026-10").await;
    // The renewal made November's flattr inside the close; the queue sends its Like (and
    // October's settlement statement to beta, prepared after the close).
    assert_eq!(alpha.deliver().await.delivered, 2);
    let received = beta
        .get_json("/api/v1/user/received_flattrs", Some(&bob))
        .await;
    let periods: Vec<&str> = received
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["period"].as_str().unwrap())
        .collect();
    assert_eq!(periods, vec!["2026-11", "2026-10"]);
    assert_eq!(alpha.deliver().await, Default::default(), "announced once");
}
