//! Floods stay small and slow clients are let go: the bound on password hashing, the per-address
//! limits on log-in and sign-up, closed registrations, header and body timeouts, and the
//! headers every answer carries.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, error_code, spawn_app, spawn_app_with};

async fn log_in(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.post(
        "/api/v1/tokens",
        None,
        &json!({"username": username, "password": password}),
    )
    .await
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .expect("a refusal says when to come back")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn with_every_hashing_slot_busy_log_ins_and_sign_ups_wait_then_are_told_to_come_back() {
    let app = spawn_app_with(|c| {
        c.hash_concurrency = 2;
        c.hash_wait_ms = 100;
    })
    .await;
    app.sign_up("alice").await;
    let flood = app.state.limits.occupy_all_slots().await;
    let attempts = (0..20)
        .map(|i| {
            if i % 5 == 0 {
                app.client
                    .post(app.url("/api/v1/users"))
                    .json(&json!({"username": format!("user{i}"), "password": "correct horse"}))
            } else {
                log_in_request(&app, "alice", "wrong horse")
            }
        })
        .collect();
    for response in in_parallel(attempts).await {
        assert_eq!(response.status(), 503);
        assert!(retry_after(&response) >= 1);
        assert_eq!(error_code(response).await, (503, "busy".to_owned()));
    }
    drop(flood);
    assert_eq!(log_in(&app, "alice", "correct horse").await.status(), 201);
}

#[tokio::test]
async fn an_unknown_name_goes_through_the_password_hash_like_a_known_one() {
    let app = spawn_app_with(|c| {
        c.hash_concurrency = 1;
        c.hash_wait_ms = 50;
    })
    .await;
    app.sign_up("alice").await;
    // Free slots: both are wrong, and said the same way.
    for name in ["alice", "nobody"] {
        assert_eq!(
            error_code(log_in(&app, name, "wrong horse").await).await,
            (401, "invalid_credentials".to_owned())
        );
    }
    // No free slot: both wait for one, as both need a hash — a name nobody has is not
    // answered early.
    let flood = app.state.limits.occupy_all_slots().await;
    for name in ["alice", "nobody"] {
        assert_eq!(
            error_code(log_in(&app, name, "wrong horse").await).await,
            (503, "busy".to_owned()),
            "{name}"
        );
    }
    drop(flood);
}

#[tokio::test]
async fn a_flood_of_parallel_wrong_password_logins_is_refused_early_and_never_fails() {
    let app = spawn_app_with(|c| {
        c.login_per_minute = 10;
        c.hash_concurrency = 1;
        c.hash_wait_ms = 200;
    })
    .await;
    app.sign_up("alice").await;
    let attempts = (0..60)
        .map(|_| log_in_request(&app, "alice", "wrong horse"))
        .collect();
    let mut refused = 0;
    for response in in_parallel(attempts).await {
        let status = response.status().as_u16();
        assert!(
            [401, 429, 503].contains(&status),
            "{status}: {}",
            response.text().await.unwrap()
        );
        if status != 401 {
            assert!(retry_after(&response) >= 1);
            refused += 1;
        }
    }
    // Ten a minute pass the limit; the rest never reach argon2.
    assert!(refused >= 45, "only {refused} of 60 refused");
}

#[tokio::test]
async fn the_log_in_after_the_limit_from_one_address_is_refused_with_retry_after() {
    let app = spawn_app_with(|c| c.login_per_minute = 3).await;
    app.sign_up("alice").await;
    for name in ["alice", "nobody", "alice"] {
        assert_eq!(log_in(&app, name, "wrong horse").await.status(), 401);
    }
    // Even the right password: the address is out of attempts.
    let refused = log_in(&app, "alice", "correct horse").await;
    assert!(retry_after(&refused) >= 1);
    assert_eq!(error_code(refused).await, (429, "rate_limited".to_owned()));
}

#[tokio::test]
async fn sign_ups_from_one_address_are_limited_per_hour() {
    let app = spawn_app_with(|c| c.signups_per_hour = 2).await;
    app.sign_up("alice").await;
    app.sign_up("bob").await;
    let refused = app
        .post(
            "/api/v1/users",
            None,
            &json!({"username": "carol", "password": "correct horse"}),
        )
        .await;
    assert!(retry_after(&refused) >= 1);
    assert_eq!(error_code(refused).await, (429, "rate_limited".to_owned()));
}

#[tokio::test]
async fn closed_registrations_refuse_sign_ups_and_nodeinfo_says_so() {
    let open = spawn_app().await;
    assert_eq!(
        open.get_json("/nodeinfo/2.1", None).await["openRegistrations"],
        true
    );
    let app = spawn_app_with(|c| c.registrations_open = false).await;
    let refused = app
        .post(
            "/api/v1/users",
            None,
            &json!({"username": "alice", "password": "correct horse"}),
        )
        .await;
    assert_eq!(
        error_code(refused).await,
        (403, "registrations_closed".to_owned())
    );
    assert_eq!(
        app.get_json("/nodeinfo/2.1", None).await["openRegistrations"],
        false
    );
}

#[tokio::test]
async fn an_inbox_post_over_the_body_limit_is_answered_413_in_json() {
    let app = spawn_app().await;
    let huge = vec![b' '; 2 * 1024 * 1024];
    let response = app
        .client
        .post(app.url("/inbox"))
        .header("content-type", "application/activity+json")
        .body(huge)
        .send()
        .await
        .unwrap();
    let (status, code) = error_code(response).await;
    assert_eq!((status, code.as_str()), (413, "invalid_request"));
}

/// Connects, sends `sent` and reads until the server closes the connection; the outer
/// timeout only keeps a broken server from hanging the test.
async fn answer_to_an_unfinished_request(app: &TestApp, sent: &[u8]) -> String {
    let address = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(sent).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes a connection whose request never completes")
        .ok();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let app = spawn_app_with(|c| c.header_timeout_secs = 1).await;
    answer_to_an_unfinished_request(&app, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
}

#[tokio::test]
async fn a_client_that_never_finishes_its_body_is_answered_and_disconnected() {
    let app = spawn_app_with(|c| c.body_timeout_secs = 1).await;
    let answer = answer_to_an_unfinished_request(
        &app,
        b"POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
}

#[tokio::test]
async fn answers_forbid_sniffing_and_framing_and_negotiated_pages_vary_on_accept() {
    let app = spawn_app().await;
    let bob = app.sign_up("bob").await;
    let thing = app.create_thing(&bob, "https://bob.example/1", "One").await;
    for path in [
        "/healthz".to_owned(),
        "/api/v1/openapi.json".to_owned(),
        "/no/such/route".to_owned(),
        "/users/bob".to_owned(),
        format!("/things/{thing}"),
    ] {
        let response = app.get(&path, None).await;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert!(
            header("content-security-policy").contains("frame-ancestors 'none'"),
            "{path}"
        );
        if path.starts_with("/users/") || path.starts_with("/things/") {
            assert!(header("vary").contains("Accept"), "{path}");
        }
    }
    let json = app
        .client
        .get(app.url("/users/bob"))
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    assert!(
        json.headers()["vary"].to_str().unwrap().contains("Accept"),
        "the JSON form varies too"
    );
    let _: Value = json.json().await.unwrap();
}

/// Sends all `requests` at once and returns the answers.
async fn in_parallel(requests: Vec<reqwest::RequestBuilder>) -> Vec<reqwest::Response> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|request| tokio::spawn(request.send()))
        .collect();
    let mut responses = Vec::new();
    for task in tasks {
        responses.push(task.await.unwrap().unwrap());
    }
    responses
}

fn log_in_request(app: &TestApp, username: &str, password: &str) -> reqwest::RequestBuilder {
    app.client
        .post(app.url("/api/v1/tokens"))
        .json(&json!({"username": username, "password": password}))
}
