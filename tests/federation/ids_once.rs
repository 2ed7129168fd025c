//! Ids we publish are unique forever (issue 7.3), and a remote actor flattrs a thing once per
//! period (issue 7.4): real instances, real signed requests.

use serde_json::{Value, json};

use crate::helpers::{Instance, federate, send, send_explained, signed_request};

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

async fn flattr(alpha: &Instance, token: &str, url: &str) -> Value {
    let response = alpha
        .post_api("/api/v1/flattr", token, &json!({"url": url}))
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_flattr_undone_and_made_again_reaches_the_peer_under_a_new_like_id() {
    let (alpha, beta, alice, _bob, thing) = alpha_and_beta().await;
    let thing_url = beta.url(&format!("/things/{thing}"));
    let first = flattr(&alpha, &alice, &thing_url).await;
    assert_eq!(alpha.deliver().await.delivered, 1);
    let undo = alpha
        .client
        .delete(alpha.url(&format!("/api/v1/flattrs/{}", first["id"])))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(undo.status(), 204);
    assert_eq!(alpha.deliver().await.delivered, 1);
    // The newest flattr was deleted, so SQLite would hand its row id out again.
    flattr(&alpha, &alice, &thing_url).await;
    assert_eq!(alpha.deliver().await.delivered, 1);

    let likes: Vec<(String, Option<i64>)> =
        sqlx::query_as("SELECT activity_id, undone_at FROM received_likes ORDER BY id")
            .fetch_all(beta.state.store.pool())
            .await
            .unwrap();
    assert_eq!(likes.len(), 2, "the second Like was counted: {likes:?}");
    assert_ne!(likes[0].0, likes[1].0, "two flattrs, two Like ids");
    assert!(likes[0].1.is_some(), "the first is undone");
    assert_eq!(likes[1].1, None, "the second is live");
    assert_eq!(
        beta.get_json(&format!("/api/v1/things/{thing}"), None)
            .await["remote_flattrs"],
        1
    );
    // The Like is served under its id, and that id is not a row number.
    let like_id = &likes[1].0;
    let path = like_id
        .strip_prefix(&alpha.url(""))
        .expect("the Like is alpha's");
    assert!(
        path.rsplit('/').next().unwrap().parse::<i64>().is_err(),
        "{like_id}"
    );
    let served = alpha.get_activity_json(path).await;
    assert_eq!(served["id"], like_id.as_str());
    assert_eq!(served["type"], "Like");

    alpha.set_time("2026-11-01T00:00:10Z");
    let report = alpha.close("2026-10").await;
    assert_eq!(report.flattrs, 1);
    assert_eq!(report.paid_to_creators.to_string(), "1.80");
}

/// A signed Like of bob's thing by alice, with the Like id `n`.
async fn like(alpha: &Instance, beta: &Instance, thing: i64, id: &str) -> reqwest::Request {
    let body = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": alpha.url(&format!("/users/alice/likes/{id}")), "type": "Like",
        "actor": alpha.url("/users/alice"), "object": beta.url(&format!("/things/{thing}")),
        "flattr:period": "2026-10", "flattr:currency": "EUR",
    });
    signed_alice(alpha, beta, &body).await
}

async fn signed_alice(alpha: &Instance, beta: &Instance, body: &Value) -> reqwest::Request {
    signed_request(
        &beta.client,
        &beta.url("/inbox"),
        &format!("{}#main-key", alpha.url("/users/alice")),
        &alpha.private_key("alice").await,
        body,
        None,
    )
    .await
}

#[tokio::test]
async fn a_second_like_of_the_same_thing_by_the_same_actor_in_a_period_is_refused_until_undone() {
    let (alpha, beta, _alice, _bob, thing) = alpha_and_beta().await;
    let live = "SELECT COUNT(*) FROM received_likes WHERE undone_at IS NULL";
    assert_eq!(
        send(&beta.client, like(&alpha, &beta, thing, "a").await)
            .await
            .0,
        202
    );
    let (status, code, reason) =
        send_explained(&beta.client, like(&alpha, &beta, thing, "b").await).await;
    assert_eq!((status, code.as_str()), (409, "flattr_once"), "{reason}");
    assert!(reason.contains("already flattred"), "{reason}");
    assert_eq!(beta.count(live).await, 1);
    assert_eq!(beta.count("SELECT COUNT(*) FROM received_likes").await, 1);

    let undo = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": alpha.url("/users/alice/likes/a/undo"), "type": "Undo",
        "actor": alpha.url("/users/alice"), "object": alpha.url("/users/alice/likes/a"),
    });
    assert_eq!(
        send(&beta.client, signed_alice(&alpha, &beta, &undo).await)
            .await
            .0,
        202
    );
    assert_eq!(beta.count(live).await, 0);
    // After the Undo, a new Like of the same thing counts again.
    assert_eq!(
        send(&beta.client, like(&alpha, &beta, thing, "c").await)
            .await
            .0,
        202
    );
    assert_eq!(beta.count(live).await, 1);
    assert_eq!(
        beta.get_json(&format!("/api/v1/things/{thing}"), None)
            .await["remote_flattrs"],
        1
    );
}
