//! What the fast inbox (issue 10) must keep: Likes in flight together are committed in one
//! batch, yet each is checked and refused on its own; actors' keys are cached, yet a rotated
//! key is picked up.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;

use crate::helpers::{Instance, federate, send, send_explained, signed_request};

/// Two instances, alice on alpha and a thing of bob's on beta, with alice's actor already
/// fetched (and her key cached) by beta through a first Like of another thing, so that what
/// the tests send next reaches beta's writer together.
struct Warm {
    alpha: Instance,
    beta: Instance,
    key: String,
    key_id: String,
    thing: i64,
}

impl Warm {
    async fn start() -> Warm {
        let mut alpha = Instance::spawn("alpha").await;
        let mut beta = Instance::spawn("beta").await;
        federate(&mut [&mut alpha, &mut beta]);
        alpha.sign_up("alice").await;
        let bob = beta.sign_up("bob").await;
        let warm_thing = beta.create_thing(&bob, "https://bob.example/first").await;
        let thing = beta.create_thing(&bob, "https://bob.example/post").await;
        let key = alpha.private_key("alice").await;
        let key_id = format!("{}#main-key", alpha.url("/users/alice"));
        let warm = Warm {
            alpha,
            beta,
            key,
            key_id,
            thing,
        };
        let first = warm.request(&warm.like(0, warm_thing)).await;
        assert_eq!(send(&warm.beta.client, first).await.0, 202);
        warm
    }

    /// Alice's Like number `n` of beta's thing `object`.
    fn like(&self, n: usize, object: i64) -> serde_json::Value {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": self.alpha.url(&format!("/users/alice/likes/{n}")), "type": "Like",
            "actor": self.alpha.url("/users/alice"),
            "object": self.beta.url(&format!("/things/{object}")),
            "flattr:period": "2026-10", "flattr:currency": "EUR",
        })
    }

    /// `body` signed by alice for beta's shared inbox.
    async fn request(&self, body: &serde_json::Value) -> reqwest::Request {
        signed_request(
            &self.beta.client,
            &self.beta.url("/inbox"),
            &self.key_id,
            &self.key,
            body,
            None,
        )
        .await
    }

    /// Sends every request at once; their answers (status, error code), in any order.
    async fn burst(&self, requests: Vec<reqwest::Request>) -> Vec<(u16, String)> {
        let mut in_flight = tokio::task::JoinSet::new();
        for request in requests {
            let client = self.beta.client.clone();
            in_flight.spawn(async move { send(&client, request).await });
        }
        let mut answers = Vec::new();
        while let Some(answer) = in_flight.join_next().await {
            answers.push(answer.unwrap());
        }
        answers
    }
}

#[tokio::test]
async fn likes_in_flight_together_count_once_and_the_refused_ones_are_not_seen() {
    let w = Warm::start().await;
    let mut requests = Vec::new();
    for n in 1..=12 {
        requests.push(w.request(&w.like(n, w.thing)).await);
    }
    let answers = w.burst(requests).await;
    let accepted = answers.iter().filter(|(status, _)| *status == 202).count();
    let refused = answers
        .iter()
        .filter(|(status, code)| (*status, code.as_str()) == (409, "flattr_once"))
        .count();
    assert_eq!((accepted, refused), (1, 11), "{answers:?}");
    assert_eq!(w.beta.count("SELECT COUNT(*) FROM received_likes").await, 2);
    // A refused Like's savepoint was rolled back: its id was not recorded as seen, so sending
    // it again is refused again rather than acknowledged as a duplicate.
    assert_eq!(
        w.beta.count("SELECT COUNT(*) FROM inbox_activities").await,
        2
    );
    let winner: String =
        sqlx::query_scalar("SELECT activity_id FROM received_likes WHERE thing_id = $1")
            .bind(w.thing)
            .fetch_one(w.beta.state.store.pool())
            .await
            .unwrap();
    let loser = (1..=12)
        .find(|n| !winner.ends_with(&format!("/likes/{n}")))
        .unwrap();
    let again = w.request(&w.like(loser, w.thing)).await;
    let (status, code, reason) = send_explained(&w.beta.client, again).await;
    assert_eq!((status, code.as_str()), (409, "flattr_once"), "{reason}");
}

#[tokio::test]
async fn one_like_delivered_many_times_at_once_is_accepted_every_time_and_counted_once() {
    // A peer that retries before its first delivery was answered sends the same Like twice;
    // the copies may be committed by different writers at the same time (PostgreSQL has
    // several). Each copy is a duplicate, never a refusal.
    let w = Warm::start().await;
    let like = w.like(1, w.thing);
    let mut requests = Vec::new();
    for _ in 0..16 {
        requests.push(w.request(&like).await);
    }
    let answers = w.burst(requests).await;
    assert!(
        answers.iter().all(|(status, _)| *status == 202),
        "{answers:?}"
    );
    assert_eq!(w.beta.count("SELECT COUNT(*) FROM received_likes").await, 2);
    assert_eq!(
        w.beta.count("SELECT COUNT(*) FROM inbox_activities").await,
        2
    );
}

/// An actor of another server whose key its admin can change, counting its fetches.
struct RotatingActor {
    id: String,
    pem: Arc<std::sync::Mutex<String>>,
    fetches: Arc<AtomicUsize>,
}

async fn rotating_actor(pem: String) -> RotatingActor {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let id = format!("http://carol.test:{port}/users/carol");
    let pem = Arc::new(std::sync::Mutex::new(pem));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (served_pem, counter, served_id) = (pem.clone(), fetches.clone(), id.clone());
    let router = axum::Router::new().route(
        "/users/carol",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let doc = crate::common::peer::actor(
                &served_id,
                &format!("{served_id}#main-key"),
                &served_pem.lock().unwrap(),
            );
            async move {
                (
                    [("content-type", "application/activity+json")],
                    doc.to_string(),
                )
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    RotatingActor { id, pem, fetches }
}

#[tokio::test]
async fn a_cached_key_is_used_until_the_actor_rotates_it_and_then_the_new_key_is_fetched_once() {
    let beta = Instance::spawn("beta").await;
    let bob = beta.sign_up("bob").await;
    let mut things = Vec::new();
    for n in 0..4 {
        things.push(
            beta.create_thing(&bob, &format!("https://bob.example/{n}"))
                .await,
        );
    }
    let old = fedflattr::federation::actors::generate_keys();
    let new = fedflattr::federation::actors::generate_keys();
    let carol = rotating_actor(old.public_key.clone()).await;
    let key_id = format!("{}#main-key", carol.id);
    let like = |n: usize| {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/likes/{n}", carol.id), "type": "Like", "actor": carol.id,
            "object": beta.url(&format!("/things/{}", things[n])),
            "flattr:period": "2026-10", "flattr:currency": "EUR",
        })
    };
    let inbox = beta.url("/inbox");
    let signed = |n: usize, pem: String| {
        let (client, inbox, key_id, body) =
            (beta.client.clone(), inbox.clone(), key_id.clone(), like(n));
        async move { signed_request(&client, &inbox, &key_id, &pem, &body, None).await }
    };

    assert_eq!(
        send(&beta.client, signed(0, old.private_key.clone()).await)
            .await
            .0,
        202
    );
    assert_eq!(
        send(&beta.client, signed(1, old.private_key.clone()).await)
            .await
            .0,
        202
    );
    assert_eq!(
        carol.fetches.load(Ordering::SeqCst),
        1,
        "the key is kept, not fetched per Like"
    );

    *carol.pem.lock().unwrap() = new.public_key.clone();
    let (status, code, reason) =
        send_explained(&beta.client, signed(2, new.private_key.clone()).await).await;
    assert_eq!(status, 202, "{code}: {reason}");
    assert_eq!(
        carol.fetches.load(Ordering::SeqCst),
        2,
        "fetched again once for the new key"
    );

    // The old key no longer verifies, and a failing signature does not make us fetch again
    // at once (a forger cannot make us hammer carol's server).
    let (status, code, _) =
        send_explained(&beta.client, signed(3, old.private_key.clone()).await).await;
    assert_eq!((status, code.as_str()), (401, "signature_invalid"));
    assert_eq!(carol.fetches.load(Ordering::SeqCst), 2);
    assert_eq!(beta.count("SELECT COUNT(*) FROM received_likes").await, 3);
}
