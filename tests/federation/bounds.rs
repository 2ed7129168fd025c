//! What comes from outside is bounded and checked: documents other servers send us are read
//! up to a limit, signatures must cover what the policy says, fetched actors must be what they
//! were fetched as.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use fedflattr::config::Config;
use fedflattr::federation::client::{JSON_LIMIT, ReadError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Instance, client, federate, send_explained};

/// A hostile server: answers any request with a JSON document that never ends (no
/// Content-Length, so nothing tells the client in advance) and counts what it managed to send.
async fn endless_json_server() -> (url::Url, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = [0u8; 4096];
        let _ = socket.read(&mut head).await;
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{\"links\": [")
            .await;
        let chunk = vec![b' '; 64 * 1024];
        // Stops when the client hangs up; the cap only keeps a broken client from hanging the
        // test.
        while counter.load(Ordering::Relaxed) < 256 * 1024 * 1024 {
            if socket.write_all(&chunk).await.is_err() {
                break;
            }
            counter.fetch_add(chunk.len(), Ordering::Relaxed);
        }
    });
    let url = url::Url::parse(&format!("http://hostile.test:{port}/nodeinfo/2.1")).unwrap();
    (url, sent, task)
}

#[tokio::test]
async fn a_document_that_never_ends_is_read_up_to_the_limit_and_no_further() {
    let settings = Config {
        development_mode: true,
        ..Config::default()
    }
    .settings()
    .unwrap();
    let (url, sent, server) = endless_json_server().await;
    let result = fedflattr::federation::client::get_json(
        &reqwest_middleware::ClientBuilder::new(fedflattr::federation::client::build(&settings))
            .build(),
        url,
    )
    .await;
    assert!(
        matches!(result, Err(ReadError::TooLarge(JSON_LIMIT))),
        "{result:?}"
    );
    server.await.unwrap();
    // What the server pushed beyond the limit sat in socket buffers, not in our memory; it
    // stopped because we hung up.
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent < 64 * 1024 * 1024, "the server sent {sent} bytes");
}

/// A Like from alice (alpha) for bob's thing (beta), signed draft-cavage over exactly
/// `covered`, with the `Date` header set to `date`; Digest and Host are always sent.
async fn like_signed_over(
    alpha: &Instance,
    beta: &Instance,
    thing: i64,
    serial: u32,
    covered: &[&str],
    date: Option<chrono::DateTime<chrono::Utc>>,
) -> reqwest::Request {
    use base64::Engine;
    use rsa::pkcs8::DecodePrivateKey;
    use sha2::{Digest, Sha256};

    let engine = base64::engine::general_purpose::STANDARD;
    let actor = alpha.url("/users/alice");
    let body = serde_json::json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": alpha.url(&format!("/users/alice/likes/policy-{serial}")),
        "type": "Like", "actor": actor, "object": beta.url(&format!("/things/{thing}")),
        "flattr:period": "2026-10", "flattr:currency": "EUR",
    })
    .to_string();
    let digest = format!("SHA-256={}", engine.encode(Sha256::digest(body.as_bytes())));
    let host = format!("{}:{}", beta.host, beta.port);
    let date = date.map(|d| d.format("%a, %d %b %Y %H:%M:%S GMT").to_string());
    let lines: Vec<String> = covered
        .iter()
        .map(|c| match *c {
            "(request-target)" => "(request-target): post /inbox".to_owned(),
            "host" => format!("host: {host}"),
            "date" => format!("date: {}", date.clone().unwrap_or_default()),
            "digest" => format!("digest: {digest}"),
            other => panic!("no value for {other}"),
        })
        .collect();
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(&alpha.private_key("alice").await).unwrap();
    let signature = key
        .sign(
            rsa::Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(lines.join("\n").as_bytes()),
        )
        .unwrap();
    let header = format!(
        "keyId=\"{actor}#main-key\",algorithm=\"rsa-sha256\",headers=\"{}\",signature=\"{}\"",
        covered.join(" "),
        engine.encode(signature)
    );
    let mut request = beta
        .client
        .post(beta.url("/inbox"))
        .header("content-type", "application/activity+json")
        .header("digest", &digest)
        .header("signature", header)
        .body(body);
    if let Some(date) = date {
        request = request.header("date", date);
    }
    request.build().unwrap()
}

async fn alpha_and_bobs_thing() -> (Instance, Instance, i64) {
    let mut alpha = Instance::spawn("alpha").await;
    let mut beta = Instance::spawn("beta").await;
    federate(&mut [&mut alpha, &mut beta]);
    alpha.sign_up("alice").await;
    let bob = beta.sign_up("bob").await;
    let thing = beta.create_thing(&bob, "https://bob.example/post").await;
    (alpha, beta, thing)
}

#[tokio::test]
async fn a_draft_cavage_signature_missing_a_required_component_is_refused_and_names_it() {
    let (alpha, beta, thing) = alpha_and_bobs_thing().await;
    let now = chrono::Utc::now();
    let cases: [(&[&str], Option<_>, &str); 5] = [
        // What was accepted before: a Like signed over its digest alone, without a Date.
        (&["digest"], None, "(request-target)"),
        (&["host", "date", "digest"], Some(now), "(request-target)"),
        (&["(request-target)", "date", "digest"], Some(now), "host"),
        (&["(request-target)", "host", "date"], Some(now), "digest"),
        (
            &["(request-target)", "host", "digest"],
            Some(now),
            "date or (created)",
        ),
    ];
    for (serial, (covered, date, missing)) in cases.into_iter().enumerate() {
        let request = like_signed_over(&alpha, &beta, thing, serial as u32, covered, date).await;
        let (status, code, reason) = send_explained(&beta.client, request).await;
        assert_eq!(
            (status, code.as_str()),
            (401, "signature_incomplete"),
            "{covered:?}: {reason}"
        );
        assert!(
            reason.ends_with(&format!("must cover {missing}")),
            "{covered:?}: {reason}"
        );
    }
    assert_eq!(
        beta.count("SELECT COUNT(*) FROM received_likes").await,
        0,
        "no refused Like counted"
    );
}

#[tokio::test]
async fn a_signature_dated_more_than_five_minutes_ahead_is_refused_and_one_within_is_accepted() {
    let (alpha, beta, thing) = alpha_and_bobs_thing().await;
    let all = ["(request-target)", "host", "date", "digest"];
    let ahead = chrono::Utc::now() + chrono::Duration::minutes(10);
    let request = like_signed_over(&alpha, &beta, thing, 1, &all, Some(ahead)).await;
    let (status, code, reason) = send_explained(&beta.client, request).await;
    assert_eq!(
        (status, code.as_str()),
        (401, "signature_invalid"),
        "{reason}"
    );
    assert!(reason.contains("in the future"), "{reason}");
    assert_eq!(beta.count("SELECT COUNT(*) FROM received_likes").await, 0);

    let slightly_ahead = chrono::Utc::now() + chrono::Duration::minutes(2);
    let request = like_signed_over(&alpha, &beta, thing, 2, &all, Some(slightly_ahead)).await;
    let (status, code, reason) = send_explained(&beta.client, request).await;
    assert_eq!(status, 202, "{code}: {reason}");
    assert_eq!(beta.count("SELECT COUNT(*) FROM received_likes").await, 1);
}

#[tokio::test]
async fn an_rfc9421_signature_that_does_not_cover_the_authority_is_refused() {
    let (alpha, beta, thing) = alpha_and_bobs_thing().await;
    let body = serde_json::json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": alpha.url("/users/alice/likes/rfc-1"),
        "type": "Like", "actor": alpha.url("/users/alice"),
        "object": beta.url(&format!("/things/{thing}")),
        "flattr:period": "2026-10", "flattr:currency": "EUR",
    });
    let request = crate::helpers::rfc9421_request(
        &beta.client,
        &beta.url("/inbox"),
        &format!("{}#main-key", alpha.url("/users/alice")),
        &alpha.private_key("alice").await,
        &body,
        &["@method", "@path", "content-digest"],
        chrono::Utc::now().timestamp(),
    );
    let (status, code, reason) = send_explained(&beta.client, request).await;
    assert_eq!(
        (status, code.as_str()),
        (401, "signature_incomplete"),
        "{reason}"
    );
    assert!(reason.contains("@target-uri"), "{reason}");
    assert_eq!(beta.count("SELECT COUNT(*) FROM received_likes").await, 0);
}

/// A server that serves `documents` (path → JSON) as ActivityPub and 404 for the rest.
async fn hostile_fediverse_server(
    documents: impl Fn(u16) -> Vec<(&'static str, serde_json::Value)>,
) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut router = axum::Router::new();
    for (path, document) in documents(port) {
        router = router.route(
            path,
            axum::routing::get(move || {
                let document = document.clone();
                async move {
                    (
                        [("content-type", "application/activity+json")],
                        document.to_string(),
                    )
                }
            }),
        );
    }
    tokio::spawn(async move { axum::serve(listener, router).await });
    port
}

fn hostile_actor(port: u16, id_path: &str, shared_inbox: &str) -> serde_json::Value {
    let base = format!("http://evil.test:{port}");
    serde_json::json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": format!("{base}{id_path}"), "type": "Person", "preferredUsername": "eve",
        "inbox": format!("{base}/users/eve/inbox"),
        "endpoints": {"sharedInbox": shared_inbox},
        "publicKey": {"id": format!("{base}{id_path}#main-key"), "owner": format!("{base}{id_path}"),
                      "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMi6\n-----END PUBLIC KEY-----"},
    })
}

fn hostile_note(port: u16) -> serde_json::Value {
    let base = format!("http://evil.test:{port}");
    serde_json::json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{base}/notes/1"), "type": "Note", "content": "hello",
        "attributedTo": format!("{base}/users/eve"),
    })
}

#[tokio::test]
async fn a_shared_inbox_on_another_server_is_ignored_and_the_actors_own_inbox_used() {
    let mut alpha = Instance::spawn("alpha").await;
    let port = hostile_fediverse_server(|port| {
        vec![
            ("/notes/1", hostile_note(port)),
            (
                "/users/eve",
                hostile_actor(port, "/users/eve", "http://victim.test:9/inbox"),
            ),
        ]
    })
    .await;
    alpha.client = client(&[&alpha]);
    let alice = alpha.sign_up("alice").await;
    let note = format!("http://evil.test:{port}/notes/1");
    let response = alpha
        .post_api("/api/v1/flattr", &alice, &serde_json::json!({"url": note}))
        .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let inbox: String = sqlx::query_scalar("SELECT remote_inbox FROM things WHERE url = $1")
        .bind(&note)
        .fetch_one(alpha.state.store.pool())
        .await
        .unwrap();
    assert_eq!(inbox, format!("http://evil.test:{port}/users/eve/inbox"));
}

#[tokio::test]
async fn an_actor_document_with_another_id_than_the_one_fetched_is_refused() {
    let mut alpha = Instance::spawn("alpha").await;
    let port = hostile_fediverse_server(|port| {
        vec![
            ("/notes/1", hostile_note(port)),
            // Same server, another actor: the document speaks for somebody it was not
            // fetched as (the library then fetches the id it names, which agrees with itself).
            (
                "/users/eve",
                hostile_actor(port, "/users/mallory", "http://evil.test/inbox"),
            ),
            (
                "/users/mallory",
                hostile_actor(port, "/users/mallory", "http://evil.test/inbox"),
            ),
        ]
    })
    .await;
    alpha.client = client(&[&alpha]);
    let alice = alpha.sign_up("alice").await;
    let note = format!("http://evil.test:{port}/notes/1");
    let response = alpha
        .post_api("/api/v1/flattr", &alice, &serde_json::json!({"url": note}))
        .await;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("is not the actor it was fetched as"),
        "{body}"
    );
}
