//! How fast the inbox accepts signed Likes, against the floor measured in the same run: the
//! RSA-SHA256 verification that every accepted activity needs.
//!
//! Starts two instances in this process (`alpha.test` and `beta.test` in development mode, real
//! HTTP on 127.0.0.1), signs N distinct Likes from alice@alpha for a thing on beta, then times
//! - the floor: N raw signature verifications of those requests' signing strings, and
//! - the inbox: N POSTs to beta's shared inbox, 8 in flight, each fully checked (digest,
//!   signature, origins, object, terms, replay guard) and recorded,
//!
//! and prints both and their ratio. `FEDFLATTR_BENCH_LIKES` sets N (default 2 000).
//! Run: `cargo bench --bench inbox`.

// Test and bench code: a failed unwrap is a failed run with its reason, which is what we want
// here; `allow-unwrap-in-tests` covers only `#[test]` functions, not the shared helpers.
#![allow(clippy::unwrap_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::{Instance, client};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use serde_json::json;
use sha2::{Digest, Sha256};

fn main() {
    let likes: usize = std::env::var("FEDFLATTR_BENCH_LIKES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        // Real time: the inbox refuses signatures dated away from its clock.
        let alpha = Instance::named("alpha").system_clock().spawn().await;
        let beta = Instance::named("beta").system_clock().spawn().await;
        let client = client(&[&alpha, &beta]);
        let beta_port = beta.port;
        alpha.sign_up("alice").await;
        let bob = beta.sign_up("bob").await;
        let thing = beta.create_thing(&bob, "https://bob.example/post", "Post").await;
        let thing_url = beta.thing_url(thing);
        let alice = fedflattr::store::users::by_name(alpha.state.store.pool(), "alice").await.unwrap();
        let actor = url::Url::parse(&alpha.actor("alice")).unwrap();
        let inbox = url::Url::parse(&beta.url("/inbox")).unwrap();

        // Sign every request up front: signing is the sender's cost, not the inbox's.
        let mut requests = Vec::with_capacity(likes + 1);
        for n in 0..=likes {
            let like = json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{actor}/likes/{n}"), "type": "Like", "actor": actor, "object": thing_url,
                "flattr:period": chrono::Utc::now().format("%Y-%m").to_string(), "flattr:currency": "EUR",
            });
            requests.push(
                fedflattr::federation::signing::signed_post(&client, &inbox, &actor, &alice.private_key, like.to_string())
                    .await
                    .unwrap(),
            );
        }
        // The first Like makes beta fetch and store alice's actor; it is not timed.
        let warm = client.execute(requests.remove(0)).await.unwrap();
        assert_eq!(warm.status(), 202);

        // The floor: verify each request's signature over its signing string, nothing else.
        let public = RsaPublicKey::from_public_key_pem(&alice.public_key).unwrap();
        let private = RsaPrivateKey::from_pkcs8_pem(&alice.private_key).unwrap();
        let strings: Vec<String> = requests
            .iter()
            .map(|r| {
                let h = |name: &str| r.headers()[name].to_str().unwrap().to_owned();
                format!(
                    "(request-target): post /inbox\nhost: beta.test:{beta_port}\ndate: {}\ndigest: {}",
                    h("date"),
                    h("digest")
                )
            })
            .collect();
        let signatures: Vec<Vec<u8>> = strings
            .iter()
            .map(|s| private.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(s.as_bytes())).unwrap())
            .collect();
        let started = Instant::now();
        for (s, signature) in strings.iter().zip(&signatures) {
            public.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(s.as_bytes()), signature).unwrap();
        }
        let floor = started.elapsed();

        let started = Instant::now();
        let mut in_flight = tokio::task::JoinSet::new();
        for request in requests {
            if in_flight.len() >= 8 {
                assert_eq!(in_flight.join_next().await.unwrap().unwrap(), 202);
            }
            let client = client.clone();
            in_flight.spawn(async move { client.execute(request).await.unwrap().status().as_u16() });
        }
        while let Some(status) = in_flight.join_next().await {
            assert_eq!(status.unwrap(), 202);
        }
        let inbox_time = started.elapsed();
        let received = beta.count("SELECT COUNT(*) FROM received_likes").await;
        assert_eq!(received as usize, likes + 1);

        println!(
            "{likes} signed Likes from one remote actor ({}, 8 in flight)",
            beta.state.store.backend_name()
        );
        println!("floor (raw RSA-SHA256 verify, one core): {floor:.2?} = {:.0}/s", likes as f64 / floor.as_secs_f64());
        println!("inbox (HTTP, all checks, recorded):       {inbox_time:.2?} = {:.0}/s", likes as f64 / inbox_time.as_secs_f64());
        println!("ratio inbox/floor: {:.1}", inbox_time.as_secs_f64() / floor.as_secs_f64());
    });
}
