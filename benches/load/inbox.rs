//! Signed Likes from many remote actors into the shared inbox, driven by wrk, next to the floor:
//! an axum handler that parses the Like, checks its digest and verifies its RSA-2048
//! signature with ring, and touches no database.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use fedflattr::federation::cavage;
use fedflattr::keys::ActorKey;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::common::Instance;
use crate::{Options, wrk};

/// Distinct RSA keys among the actors: generating 2 048-bit keys is slow, and what the inbox
/// does per actor (fetch, parse, cache) does not depend on whether two actors share one.
const KEYS: usize = 4;
/// Origins the actors live on (`peerN.test`, all served by one sink server).
const ORIGINS: usize = 10;

struct Actors {
    /// Per actor: its id and the index of its key.
    ids: Vec<(String, usize)>,
    pems: Vec<(String, Vec<u8>)>,
}

/// Serves every actor `http://peerN.test:PORT/users/uM` (any host) with its key.
async fn sink(actors: usize, rng: &mut rand::rngs::StdRng) -> Actors {
    let mut pems = Vec::new();
    for _ in 0..KEYS {
        let key = rsa::RsaPrivateKey::new(rng, 2048).unwrap();
        let public = key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        pems.push((public, key.to_pkcs8_der().unwrap().as_bytes().to_vec()));
    }
    let publics: Arc<Vec<String>> = Arc::new(pems.iter().map(|(p, _)| p.clone()).collect());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = axum::Router::new().route(
        "/users/{name}",
        axum::routing::get(
            move |headers: HeaderMap, axum::extract::Path(name): axum::extract::Path<String>| {
                let publics = publics.clone();
                async move {
                    let host = headers["host"].to_str().unwrap().to_owned();
                    let n: usize = name.trim_start_matches('u').parse().unwrap_or(0);
                    let id = format!("http://{host}/users/{name}");
                    let doc = crate::common::peer::actor(
                        &id,
                        &format!("{id}#main-key"),
                        &publics[n % KEYS],
                    );
                    (
                        [("content-type", "application/activity+json")],
                        doc.to_string(),
                    )
                }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    let ids = (0..actors)
        .map(|n| {
            (
                format!("http://peer{}.test:{port}/users/u{n}", n % ORIGINS),
                n % KEYS,
            )
        })
        .collect();
    Actors { ids, pems }
}

/// A raw HTTP request: a Like signed draft-cavage as Mastodon signs it.
fn signed_like(host: &str, key_id: &str, key: &RsaKeyPair, like: &serde_json::Value) -> Vec<u8> {
    let body = like.to_string();
    let digest = format!("SHA-256={}", BASE64.encode(Sha256::digest(body.as_bytes())));
    let date = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let signing =
        format!("(request-target): post /inbox\nhost: {host}\ndate: {date}\ndigest: {digest}");
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing.as_bytes(),
        &mut signature,
    )
    .unwrap();
    let header = format!(
        "keyId=\"{key_id}\",algorithm=\"rsa-sha256\",headers=\"(request-target) host date digest\",signature=\"{}\"",
        BASE64.encode(&signature)
    );
    format!(
        "POST /inbox HTTP/1.1\r\nHost: {host}\r\nDate: {date}\r\nDigest: {digest}\r\nSignature: {header}\r\nContent-Type: application/activity+json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The floor: what any inbox must do per Like, and nothing more.
async fn floor_handler(
    State(keys): State<Arc<HashMap<String, ActorKey>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if cavage::check_digest(header("digest"), &body).is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(like) = serde_json::from_slice::<fedflattr::federation::activities::like::Like>(&body)
    else {
        return StatusCode::BAD_REQUEST;
    };
    let Some(Ok(signature)) = header("signature").map(cavage::Signature::parse) else {
        return StatusCode::UNAUTHORIZED;
    };
    let Ok(text) = signature.signing_string("POST", "/inbox", &headers, "") else {
        return StatusCode::UNAUTHORIZED;
    };
    match keys.get(like.actor.as_str()) {
        Some(key) if signature.verify(&text, key) => StatusCode::ACCEPTED,
        _ => StatusCode::UNAUTHORIZED,
    }
}

async fn floor_server(keys: HashMap<String, ActorKey>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = axum::Router::new()
        .route("/inbox", axum::routing::post(floor_handler))
        .with_state(Arc::new(keys));
    tokio::spawn(async move { axum::serve(listener, router).await });
    port
}

pub async fn bench(options: &Options) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(options.seed);
    let actors = sink(options.actors, &mut rng).await;
    let beta = Instance::named("beta").system_clock().spawn().await;
    let host = format!("beta.test:{}", beta.port);
    let bob = beta.sign_up("bob").await;
    let first = beta
        .create_thing(&bob, "https://bob.example/0", "Post")
        .await;
    // One Like per actor and thing and period: things enough for every Like to be new.
    let things_needed = options.likes.div_ceil(options.actors) as i64;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO things (url, owner_id, title, description, tags, language, category, hidden,
                             created_at, updated_at, proven_at, proof)
         SELECT 'https://bob.example/' || CAST(i AS TEXT), $2, 'T', '', '[]', '', 'rest', 0, 0, 0,
                0, 'verified_domain' FROM n",
    )
    .bind(things_needed)
    .bind(beta.user_id("bob").await)
    .execute(beta.state.store.pool())
    .await
    .unwrap();
    let things: Vec<i64> = sqlx::query_scalar("SELECT id FROM things WHERE id <> $1 ORDER BY id")
        .bind(first)
        .fetch_all(beta.state.store.pool())
        .await
        .unwrap();
    let period = chrono::Utc::now().format("%Y-%m").to_string();
    let like = |actor: &str, id: String, thing: i64| {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": id, "type": "Like", "actor": actor, "object": beta.thing_url(thing),
            "flattr:period": period, "flattr:currency": "EUR",
        })
    };
    let pairs: Vec<RsaKeyPair> = actors
        .pems
        .iter()
        .map(|(_, der)| RsaKeyPair::from_pkcs8(der).unwrap())
        .collect();

    // Not timed: every actor's first Like makes beta fetch the actor.
    let warm: Vec<Vec<u8>> = actors
        .ids
        .iter()
        .map(|(actor, key)| {
            signed_like(
                &host,
                &format!("{actor}#main-key"),
                &pairs[*key],
                &like(actor, format!("{actor}/likes/warm"), first),
            )
        })
        .collect();
    for chunk in warm.chunks(16) {
        let mut set = tokio::task::JoinSet::new();
        for raw in chunk {
            let raw = raw.clone();
            let port = beta.port;
            set.spawn(async move { send_raw(port, &raw).await });
        }
        while let Some(status) = set.join_next().await {
            assert_eq!(status.unwrap(), 202, "a warm-up Like was refused");
        }
    }

    // The timed Likes: actor n % A, thing n / A, in a seeded random order; signed in
    // parallel, not timed.
    let mut order: Vec<usize> = (0..options.likes).collect();
    order.shuffle(&mut rng);
    let requests: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let chunks: Vec<_> = order
            .chunks(order.len().div_ceil(2).max(1))
            .map(|chunk| {
                let (actors, pairs, things, host, like) = (&actors, &pairs, &things, &host, &like);
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|&n| {
                            let (actor, key) = &actors.ids[n % actors.ids.len()];
                            let thing = things[n / actors.ids.len()];
                            signed_like(
                                host,
                                &format!("{actor}#main-key"),
                                &pairs[*key],
                                &like(actor, format!("{actor}/likes/{n}"), thing),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        chunks.into_iter().flat_map(|c| c.join().unwrap()).collect()
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("likes.bin");
    wrk::write_requests(&file, &requests);
    let script = dir.path().join("replay.lua");
    std::fs::write(&script, wrk::REPLAY_LUA).unwrap();
    let args = [file.display().to_string(), "2".to_owned()];

    let keys: HashMap<String, ActorKey> = actors
        .ids
        .iter()
        .map(|(actor, key)| {
            (
                actor.clone(),
                ActorKey::from_pem(&actors.pems[*key].0).unwrap(),
            )
        })
        .collect();
    let floor_port = floor_server(keys).await;

    let (mut floor, mut ours, mut durable) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..options.runs {
        floor.push(wrk::run(
            &format!("http://127.0.0.1:{floor_port}"),
            &script,
            options.inbox_connections,
            options.seconds,
            &args,
        ));
        let before = beta.count("SELECT COUNT(*) FROM received_likes").await;
        let run = wrk::run(
            &format!("http://127.0.0.1:{}", beta.port),
            &script,
            options.inbox_connections,
            options.seconds,
            &args,
        );
        let after = beta.count("SELECT COUNT(*) FROM received_likes").await;
        let new = (after - before) as f64;
        let wrapped = run.requests as usize > requests.len();
        if wrapped {
            // Past the end, wrk replays Likes already counted (acknowledged, not recorded).
            println!(
                "note: wrk sent {} Likes but only {} were made (raise FEDFLATTR_BENCH_LIKES): the durable rate is a lower bound",
                run.requests,
                requests.len()
            );
        }
        assert_eq!(run.non_2xx, 0, "the inbox refused Likes");
        if wrapped {
            // Each wrk thread replays its own share of the Likes once it has sent them all,
            // and the two threads do not finish their shares together: how many Likes were
            // sent at least once is then unknown, only that none was recorded twice.
            assert!(
                new as usize <= requests.len(),
                "a replayed Like was recorded again"
            );
        } else {
            // wrk counts the answers it read; Likes in flight when it stopped are recorded too.
            assert!(
                new as u64 >= run.requests,
                "every accepted Like is recorded"
            );
        }
        durable.push(wrk::Run {
            rate: new / f64::from(options.seconds),
            ..run
        });
        ours.push(run);
        // The next run sends the same Likes again: make them new again.
        for sql in [
            "DELETE FROM received_likes WHERE activity_id NOT LIKE '%/likes/warm'",
            "DELETE FROM inbox_activities WHERE activity_id NOT LIKE '%/likes/warm'",
        ] {
            sqlx::query(sql)
                .execute(beta.state.store.pool())
                .await
                .unwrap();
        }
    }
    println!(
        "inbox: {} signed Likes from {} actors on {ORIGINS} origins ({} keys), {}, wrk -t2 -c{} -d{}s",
        requests.len(),
        options.actors,
        KEYS,
        beta.state.store.backend_name(),
        options.inbox_connections,
        options.seconds
    );
    let (floor_rate, _) = wrk::report("floor (parse, digest, ring verify, no DB)", &floor);
    crate::flush::report(options.inbox_connections);
    crate::flush::report_postgres(&beta.database_url, options.inbox_connections).await;
    wrk::report("fedflattr inbox (answered)", &ours);
    let (rate, _) = wrk::report("fedflattr inbox (durable Likes)", &durable);
    println!(
        "inbox/floor: {:.0} %   (targets: >= 10 000/s and >= 40 %)",
        100.0 * rate / floor_rate
    );
}

/// Sends one raw HTTP/1.1 request and returns the status code.
async fn send_raw(port: u16, raw: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut request = raw.to_vec();
    // One request per connection: ask the server to close it after answering.
    let split = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    request.splice(split..split, b"\r\nConnection: close".iter().copied());
    stream.write_all(&request).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}
