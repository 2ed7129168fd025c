//! Authorized fetch ("secure mode") between real instances: every GET we make is signed by the
//! instance actor; an instance with `authorized_fetch` answers its ActivityPub documents only
//! to signed GETs; blocked servers are refused; a refusal is reported as what it is.

use fedflattr::federation::actors::generate_keys;
use fedflattr::federation::signing::FetchSigner;
use serde_json::{Value, json};

use crate::common::peer::{self, Reply};
use crate::helpers::{Instance, client, federate, rfc9421_get, send_explained, signed_get};

async fn secure(name: &str) -> Instance {
    Instance::spawn_with(name, |config| config.authorized_fetch = true).await
}

/// A GET of `url` as a server asks it, signed by `signer`'s instance actor when given.
async fn fetch(client: &reqwest::Client, url: &str, signer: Option<&Instance>) -> (u16, Value) {
    let mut request = client
        .get(url)
        .header("accept", "application/activity+json")
        .build()
        .unwrap();
    if let Some(signer) = signer {
        let keys = fedflattr::federation::actors::instance_keys(&signer.state.store)
            .await
            .unwrap();
        FetchSigner::new(
            &url::Url::parse(&signer.url("/actor")).unwrap(),
            &keys.private_key,
        )
        .unwrap()
        .sign_get(&mut request)
        .unwrap();
    }
    let response = client.execute(request).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn two_instances_that_require_signed_fetches_flattr_each_other_and_undo() {
    let mut alpha = secure("alpha").await;
    let mut beta = secure("beta").await;
    federate(&mut [&mut alpha, &mut beta]);
    let alice = alpha.sign_up("alice").await;
    alpha.deposit("alice", "10.00").await;
    let bob = beta.sign_up("bob").await;
    beta.deposit("bob", "10.00").await;
    let bobs = beta.create_thing(&bob, "https://bob.example/post").await;
    let alices = alpha
        .create_thing(&alice, "https://alice.example/post")
        .await;

    // alice flattrs bob's thing: alpha reads it and bob's actor with signed GETs.
    let response = alpha
        .post_api(
            "/api/v1/flattr",
            &alice,
            &json!({"url": beta.url(&format!("/things/{bobs}"))}),
        )
        .await;
    let status = response.status();
    let flattr: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{flattr}");
    assert_eq!(flattr["charged"], true);
    // beta reads alice's actor with its signed GET to verify the Like.
    let report = alpha.deliver().await;
    assert_eq!(report.delivered, 1, "{report:?}");
    assert_eq!(
        beta.get_json(&format!("/api/v1/things/{bobs}"), None).await["remote_flattrs"],
        1
    );

    // And the other way round.
    let response = beta
        .post_api(
            "/api/v1/flattr",
            &bob,
            &json!({"url": alpha.url(&format!("/things/{alices}"))}),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(beta.deliver().await.delivered, 1);
    assert_eq!(
        alpha
            .get_json(&format!("/api/v1/things/{alices}"), None)
            .await["remote_flattrs"],
        1
    );

    // alice withdraws hers: the Undo is verified and counted too.
    let undo = alpha
        .client
        .delete(alpha.url(&format!("/api/v1/flattrs/{}", flattr["id"])))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(undo.status(), 204);
    assert_eq!(alpha.deliver().await.delivered, 1);
    assert_eq!(
        beta.get_json(&format!("/api/v1/things/{bobs}"), None).await["remote_flattrs"],
        0
    );

    // The money: bob's flattr of alice's thing is owed to alpha at beta's close (10.00 budget
    // capped at the default 2.00, less 10 %), alice's withdrawn one costs her nothing.
    beta.set_time("2026-11-01T00:00:10Z");
    let report = beta.close("2026-10").await;
    assert_eq!(report.paid_to_creators.to_string(), "1.80");
    let owed: i64 = sqlx::query_scalar("SELECT balance FROM accounts WHERE name = $1")
        .bind(format!("payable:http://alpha.test:{}", alpha.port))
        .fetch_one(beta.state.store.pool())
        .await
        .unwrap();
    assert_eq!(owed, 18_000);
    alpha.set_time("2026-11-01T00:00:10Z");
    assert_eq!(alpha.close("2026-10").await.users_charged, 0);
}

#[tokio::test]
async fn under_authorized_fetch_only_signed_gets_read_activitypub_documents() {
    let alpha = secure("alpha").await;
    let beta = Instance::spawn("beta").await;
    let client = client(&[&alpha, &beta]);
    let alice = alpha.sign_up("alice").await;
    let thing = alpha
        .create_thing(&alice, "https://alice.example/post")
        .await;
    let protected = [
        "/users/alice".to_owned(),
        format!("/things/{thing}"),
        "/users/alice/outbox".to_owned(),
    ];
    for path in &protected {
        let (status, body) = fetch(&client, &alpha.url(path), None).await;
        assert_eq!(status, 401, "unsigned GET {path}: {body}");
        assert_eq!(body["error"], "signature_required", "{path}");
        let (status, body) = fetch(&client, &alpha.url(path), Some(&beta)).await;
        assert_eq!(status, 200, "GET {path} signed by beta: {body}");
    }
    let (_, person) = fetch(&client, &alpha.url("/users/alice"), Some(&beta)).await;
    assert_eq!(person["id"], alpha.url("/users/alice"));

    // A signature by beta's instance actor, made with another key, is refused.
    let mut forged = client
        .get(alpha.url("/users/alice"))
        .header("accept", "application/activity+json")
        .build()
        .unwrap();
    FetchSigner::new(
        &url::Url::parse(&beta.url("/actor")).unwrap(),
        &alpha.private_key("alice").await,
    )
    .unwrap()
    .sign_get(&mut forged)
    .unwrap();
    let response = client.execute(forged).await.unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("does not verify"),
        "{body}"
    );

    // What stays public: web pages for people, the instance actor, WebFinger and NodeInfo.
    for path in ["/users/alice", &format!("/things/{thing}")] {
        let page = client.get(alpha.url(path)).send().await.unwrap();
        assert_eq!(page.status(), 200, "HTML {path}");
    }
    for path in [
        "/actor".to_owned(),
        format!("/.well-known/webfinger?resource=acct:alice@{}", alpha.host),
        "/nodeinfo/2.1".to_owned(),
    ] {
        let (status, _) = fetch(&client, &alpha.url(&path), None).await;
        assert_eq!(status, 200, "unsigned GET {path}");
    }
}

#[tokio::test]
async fn a_blocked_server_is_refused_and_its_refusal_is_reported_as_fetch_refused() {
    let mut alpha = Instance::spawn_with("alpha", |config| {
        config.authorized_fetch = true;
        config.blocked_domains = vec!["beta.test".into()];
    })
    .await;
    let mut beta = Instance::spawn("beta").await;
    let shared = client(&[&alpha, &beta]);
    alpha.client = shared.clone();
    beta.client = shared.clone();
    let alice = alpha.sign_up("alice").await;
    let thing = alpha
        .create_thing(&alice, "https://alice.example/post")
        .await;
    let bob = beta.sign_up("bob").await;
    beta.deposit("bob", "10.00").await;

    // beta's signed GET is refused as blocked.
    let (status, body) = fetch(&shared, &alpha.url("/users/alice"), Some(&beta)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "blocked");

    // bob's server reports the refusal as what it is, naming the status.
    let response = beta
        .post_api(
            "/api/v1/flattr",
            &bob,
            &json!({"url": alpha.url(&format!("/things/{thing}"))}),
        )
        .await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "fetch_refused", "{body}");
    let reason = body["error_description"].as_str().unwrap();
    assert!(
        reason.contains(&format!("/things/{thing}")) && reason.contains("403 Forbidden"),
        "{reason}"
    );

    // An activity from the blocked server is refused before anything is fetched from it.
    let like = json!({
        "id": beta.url("/users/bob/likes/1"), "type": "Like",
        "actor": beta.url("/users/bob"), "object": alpha.url(&format!("/things/{thing}")),
    });
    let request = crate::helpers::signed_request(
        &shared,
        &alpha.url("/inbox"),
        &beta.url("/users/bob#main-key"),
        &beta.private_key("bob").await,
        &like,
        None,
    )
    .await;
    let (status, code) = crate::helpers::send(&shared, request).await;
    assert_eq!((status, code.as_str()), (403, "blocked"));
    assert_eq!(alpha.count("SELECT COUNT(*) FROM received_likes").await, 0);
    assert_eq!(alpha.count("SELECT COUNT(*) FROM remote_actors").await, 0);
}

#[tokio::test]
async fn under_authorized_fetch_an_rfc9421_signed_get_is_answered_like_a_draft_cavage_one() {
    let alpha = secure("alpha").await;
    let beta = Instance::spawn("beta").await;
    let client = client(&[&alpha, &beta]);
    alpha.sign_up("alice").await;
    beta.sign_up("bob").await;
    let bobs_key = beta.private_key("bob").await;
    let key_id = beta.url("/users/bob#main-key");
    let url = alpha.url("/users/alice");
    let now = chrono::Utc::now().timestamp();
    let get = |components: &[&str], key: &str, created: i64| {
        rfc9421_get(&client, &url, &key_id, key, components, created)
    };

    for components in [
        &["@method", "@target-uri"][..],
        &["@method", "@authority", "@path"][..],
    ] {
        let response = client
            .execute(get(components, &bobs_key, now))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{components:?}");
        let person: Value = response.json().await.unwrap();
        assert_eq!(person["id"], url);
    }

    // The same refusals as for a draft-cavage GET: the host not covered, another key, too old.
    let alices_key = alpha.private_key("alice").await;
    for (request, reason) in [
        (get(&["@method", "@path"], &bobs_key, now), "@target-uri"),
        (
            get(&["@method", "@target-uri"], &alices_key, now),
            "does not verify",
        ),
        (
            get(&["@method", "@target-uri"], &bobs_key, now - 7200),
            "expired",
        ),
    ] {
        let (status, code, description) = send_explained(&client, request).await;
        assert_eq!((status, code.as_str()), (401, "signature_required"));
        assert!(description.contains(reason), "{reason}: {description}");
    }
}

#[tokio::test]
async fn under_authorized_fetch_a_key_id_without_a_fragment_names_its_actor() {
    let alpha = secure("alpha").await;
    let beta = Instance::spawn("beta").await;
    let client = client(&[&alpha, &beta]);
    alpha.sign_up("alice").await;
    beta.sign_up("bob").await;
    let url = alpha.url("/users/alice");

    // The actor's own URL as the key id.
    let request = signed_get(
        &client,
        &url,
        &beta.url("/users/bob"),
        &beta.private_key("bob").await,
    );
    let response = client.execute(request).await.unwrap();
    assert_eq!(response.status(), 200);

    // GoToSocial's: the key has a URL of its own, whose document names the actor.
    let keys = generate_keys();
    let port = peer::serve(|port| {
        let actor = format!("http://gts.test:{port}/users/gts");
        let document = peer::actor(&actor, &format!("{actor}/main-key"), &keys.public_key);
        vec![
            ("/users/gts", Reply::Document(document.clone())),
            ("/users/gts/main-key", Reply::Document(document)),
        ]
    })
    .await;
    let request = signed_get(
        &client,
        &url,
        &format!("http://gts.test:{port}/users/gts/main-key"),
        &keys.private_key,
    );
    let response = client.execute(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let person: Value = response.json().await.unwrap();
    assert_eq!(person["id"], url);
    // The signer alpha knows now is the actor, not its key's URL.
    let known: Vec<String> = sqlx::query_scalar("SELECT ap_id FROM remote_actors ORDER BY ap_id")
        .fetch_all(alpha.state.store.pool())
        .await
        .unwrap();
    assert!(
        known.contains(&format!("http://gts.test:{port}/users/gts")),
        "{known:?}"
    );
}

#[tokio::test]
async fn under_authorized_fetch_a_like_is_served_only_to_signed_gets() {
    let mut alpha = secure("alpha").await;
    let mut beta = Instance::spawn("beta").await;
    let shared = client(&[&alpha, &beta]);
    alpha.client = shared.clone();
    beta.client = shared.clone();
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
    assert_eq!(alpha.deliver().await.delivered, 1);
    // The Like's URL, as beta received it.
    let like: String = sqlx::query_scalar("SELECT activity_id FROM received_likes")
        .fetch_one(beta.state.store.pool())
        .await
        .unwrap();
    assert!(
        like.starts_with(&alpha.url("/users/alice/likes/")),
        "{like}"
    );

    let (status, body) = fetch(&shared, &like, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("signature_required"))
    );
    let (status, body) = fetch(&shared, &like, Some(&beta)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], like);
    assert_eq!(body["type"], "Like");
    assert_eq!(body["actor"], alpha.url("/users/alice"));
    assert_eq!(body["object"], beta.url(&format!("/things/{thing}")));
}
