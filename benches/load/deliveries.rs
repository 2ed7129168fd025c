//! The persistent delivery queue sending signed Likes to a sink, against the raw signing rate:
//! what signing alone costs per delivery with the same key, on one core and on two.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use fedflattr::federation::delivery::deliver_due;
use fedflattr::federation::signing::PostSigner;
use serde_json::json;

use crate::common::Instance;
use crate::{Options, wrk};

/// A sink inbox that answers 202 to every POST and counts them.
async fn sink() -> (u16, Arc<AtomicU64>) {
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = axum::Router::new().route(
        "/inbox",
        axum::routing::post(move |_body: axum::body::Bytes| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    (port, received)
}

/// Signs `n` requests with `signer` on `threads` threads; deliveries per second.
fn signing_rate(signer: &PostSigner, inbox: &url::Url, n: usize, threads: usize) -> f64 {
    let client = reqwest::Client::new();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for i in 0..n / threads {
                    signer
                        .sign(&client, inbox, format!("{{\"n\":{i}}}"))
                        .unwrap();
                }
            });
        }
    });
    n as f64 / started.elapsed().as_secs_f64()
}

pub async fn bench(options: &Options) {
    let (port, received) = sink().await;
    let alpha = Instance::named("alpha").system_clock().spawn().await;
    alpha.sign_up("alice").await;
    let alice = alpha.user_id("alice").await;
    let alice_row = fedflattr::store::users::by_id(alpha.state.store.pool(), alice)
        .await
        .unwrap();
    let inbox = format!("http://sink.test:{port}/inbox");
    let inbox_url = url::Url::parse(&inbox).unwrap();
    let signer = PostSigner::new(
        &url::Url::parse(&alpha.actor("alice")).unwrap(),
        &alice_row.private_key,
    )
    .unwrap();

    let (mut floor_one, mut floor_two, mut ours) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..options.runs {
        floor_one.push(signing_rate(&signer, &inbox_url, options.deliveries, 1));
        floor_two.push(signing_rate(&signer, &inbox_url, options.deliveries, 2));
        // Queue N Likes (not timed), then run the queue until it is empty.
        let now = alpha.state.clock.now();
        let mut tx = alpha.state.store.begin().await.unwrap();
        for n in 0..options.deliveries {
            let like = json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{}/likes/{run}-{n}", alpha.actor("alice")), "type": "Like",
                "actor": alpha.actor("alice"), "object": format!("http://sink.test:{port}/things/{n}"),
            });
            fedflattr::federation::outbox::enqueue(&mut tx, &like, &inbox, Some(alice), now)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        let before = received.load(Ordering::Relaxed);
        let started = Instant::now();
        let mut delivered = 0;
        while delivered < options.deliveries {
            let report = deliver_due(&alpha.state).await.unwrap();
            assert_eq!(
                report.rejected + report.retrying + report.failed,
                0,
                "{report:?}"
            );
            assert!(report.delivered > 0, "the queue stopped short");
            delivered += report.delivered;
        }
        let elapsed = started.elapsed().as_secs_f64();
        assert_eq!(
            received.load(Ordering::Relaxed) - before,
            options.deliveries as u64
        );
        ours.push(options.deliveries as f64 / elapsed);
    }
    let line = |name: &str, values: &[f64]| {
        let (median, low, high) = wrk::median(values);
        println!(
            "{name:<46} {median:>9.0}/s (spread {low:.0}–{high:.0}, {} runs)",
            values.len()
        );
        median
    };
    println!(
        "deliveries: {} signed Likes from the queue to a sink, {}",
        options.deliveries,
        alpha.state.store.backend_name()
    );
    let one = line("floor: raw signing (ring, 1 thread)", &floor_one);
    let two = line("floor: raw signing (ring, 2 threads)", &floor_two);
    let rate = line("fedflattr deliveries (queue → sink, recorded)", &ours);
    println!(
        "deliveries/signing: {:.0} % of one thread, {:.0} % of two   (target: >= 80 %)",
        100.0 * rate / one,
        100.0 * rate / two
    );
}
