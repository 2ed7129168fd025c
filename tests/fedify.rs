//! Interoperability with Fedify, software we did not write: a real Fedify 2.3.6 peer
//! (tests/fedify/peer.mjs on Node 22) and a real instance of ours, talking signed ActivityPub
//! over HTTP on 127.0.0.1. The peer finds our user by WebFinger, verifies the Like we send,
//! and sends us a signed Like (and its Undo) that we accept. The peer requires signed GETs
//! (authorized fetch, Fedify's `.authorize()`), so everything we read from it we read with
//! the signed fetch of our instance actor.
//!
//! The peer's npm packages are installed with `npm ci` in tests/fedify when they are missing;
//! a failed install fails these tests, it never skips them.

// Test and bench code: a failed unwrap is a failed run with its reason, which is what we want
// here; `allow-unwrap-in-tests` covers only `#[test]` functions, not the shared helpers.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "fedify/proofs.rs"]
mod proofs;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fedflattr::federation::{delivery, signing};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use common::{Instance, Setup, error_of};

/// How long the peer may take to start (Node, Fedify, an RSA key pair).
const PEER_START: Duration = Duration::from_secs(60);
/// How long `npm ci` may take.
const NPM_INSTALL: Duration = Duration::from_secs(600);
/// How long one HTTP request of the test may take.
const REQUEST: Duration = Duration::from_secs(30);

fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fedify")
}

/// The Node 22 binary that the `node@22` npm package installs.
fn node_binary() -> PathBuf {
    peer_dir().join("node_modules/node/bin/node")
}

fn installed() -> bool {
    let dir = peer_dir().join("node_modules");
    node_binary().is_file()
        && dir.join("@fedify/fedify/package.json").is_file()
        && dir.join("@fedify/vocab/package.json").is_file()
        && dir.join("@hono/node-server/package.json").is_file()
        && dir.join("@logtape/logtape/package.json").is_file()
}

static INSTALL: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// Installs the peer's packages (`npm ci`) once, unless they are there; panics when it fails.
async fn ensure_node_packages() {
    INSTALL
        .get_or_init(|| async {
            if !installed() {
                let run = Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund"])
                    .current_dir(peer_dir())
                    .stdin(Stdio::null())
                    .kill_on_drop(true)
                    .output();
                let output = tokio::time::timeout(NPM_INSTALL, run)
                    .await
                    .unwrap_or_else(|_| {
                        panic!(
                            "`npm ci` in {} took longer than {NPM_INSTALL:?}",
                            peer_dir().display()
                        )
                    })
                    .unwrap_or_else(|e| {
                        panic!("cannot run `npm` (is Node.js with npm installed?): {e}")
                    });
                assert!(
                    output.status.success(),
                    "`npm ci` in {} failed ({}):\n{}\n{}",
                    peer_dir().display(),
                    output.status,
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
                assert!(
                    installed(),
                    "`npm ci` succeeded but {} or a package of the peer is missing",
                    node_binary().display()
                );
            }
            let version = Command::new(node_binary())
                .arg("--version")
                .output()
                .await
                .expect("run the Node binary of tests/fedify");
            let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
            assert!(
                version.starts_with("v22."),
                "{} is Node {version}, not 22",
                node_binary().display()
            );
        })
        .await;
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(REQUEST)
        .build()
        .unwrap()
}

/// One instance of ours at http://localhost:PORT (a host name, not an IP: Fedify's URLs and
/// ours must have domains), with its own database, on the real clock (Fedify checks the dates
/// of our signatures).
async fn start_us() -> Instance {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_test_writer()
        .try_init();
    Setup::host("localhost").system_clock().spawn().await
}

/// The Fedify peer, a child process killed when this is dropped.
struct Peer {
    base: String,
    info: Value,
    client: reqwest::Client,
    stderr: Arc<Mutex<String>>,
    _child: Child,
}

impl Peer {
    /// Starts the peer; `https://localhost:PORT` of our instance is sent to it as plain http.
    async fn start(instance: &Instance) -> Peer {
        ensure_node_packages().await;
        let mut child = Command::new(node_binary())
            .arg("peer.mjs")
            .args(["--port", "0"])
            .args(["--plain-http", &format!("localhost:{}", instance.port)])
            .current_dir(peer_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the Fedify peer");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut errors = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = errors.next_line().await {
                let mut all = sink.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(PEER_START, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(port) = line.strip_prefix("READY ") {
                    return port.trim().parse::<u16>().ok();
                }
            }
            None
        })
        .await;
        let port = match ready {
            Ok(Some(port)) => port,
            other => panic!(
                "the Fedify peer did not start ({other:?}):\n{}",
                stderr.lock().unwrap()
            ),
        };
        let base = format!("http://127.0.0.1:{port}");
        let client = client();
        let info: Value = client
            .get(format!("{base}/control/info"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            info["node"]
                .as_str()
                .unwrap_or_default()
                .starts_with("v22."),
            "the peer runs on Node 22: {info}"
        );
        Peer {
            base,
            info,
            client,
            stderr,
            _child: child,
        }
    }

    fn field(&self, name: &str) -> String {
        self.info[name].as_str().unwrap().to_owned()
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    async fn control(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    async fn received(&self) -> Value {
        self.client
            .get(format!("{}/control/received", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

fn self_link(jrd: &Value) -> Option<&str> {
    jrd["links"].as_array()?.iter().find_map(|link| {
        (link["rel"] == "self" && link["type"] == "application/activity+json")
            .then(|| link["href"].as_str())
            .flatten()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fedify_peer_finds_our_user_by_webfinger_with_the_public_key_to_verify_her() {
    let us = start_us().await;
    us.sign_up("alice").await;
    let peer = Peer::start(&us).await;
    let actor = us.url("/users/alice");

    let (status, found) = peer
        .control(
            "/control/lookup",
            &json!({"handle": format!("@alice@localhost:{}", us.port), "actor": actor}),
        )
        .await;
    assert_eq!(status, 200, "{found}\n{}", peer.log());

    // acct: WebFinger, as Fedify asks it (over https, sent to us as http by the peer).
    let webfinger = &found["webfinger"];
    assert_eq!(webfinger["subject"], "acct:alice@localhost", "{found}");
    assert_eq!(self_link(webfinger), Some(actor.as_str()), "{found}");
    // WebFinger by the actor's http URL, which Fedify asks over plain http.
    assert_eq!(
        self_link(&found["webfingerByUrl"]),
        Some(actor.as_str()),
        "{found}"
    );
    // The handle resolved to our actor, parsed by Fedify's vocabulary, key and all.
    let person = &found["actor"];
    assert_eq!(person["id"], actor.as_str(), "{found}\n{}", peer.log());
    assert_eq!(person["type"], "Person", "{found}");
    assert_eq!(person["isActor"], true, "{found}");
    assert_eq!(person["preferredUsername"], "alice", "{found}");
    assert_eq!(person["inbox"], format!("{actor}/inbox"), "{found}");
    assert_eq!(person["sharedInbox"], us.url("/inbox"), "{found}");
    assert_eq!(
        person["publicKey"]["id"],
        format!("{actor}#main-key"),
        "{found}"
    );
    assert_eq!(person["publicKey"]["owner"], actor.as_str(), "{found}");
    assert_eq!(
        person["publicKey"]["algorithm"], "RSASSA-PKCS1-v1_5",
        "{found}"
    );

    // The acct: questions (asked for https, sent as http) reached our WebFinger endpoint and
    // were answered with 200.
    let received = peer.received().await;
    let webfinger_requests: Vec<&Value> = received["outgoing"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["url"]
                .as_str()
                .unwrap_or_default()
                .starts_with(&us.url("/.well-known/webfinger?resource=acct"))
        })
        .collect();
    assert!(!webfinger_requests.is_empty(), "{received}");
    assert!(
        webfinger_requests
            .iter()
            .all(|r| r["status"] == 200 && r["rewrittenFromHttps"] == true),
        "{received}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fedify_peer_receives_and_verifies_the_signed_like_our_user_sends_for_its_note() {
    let us = start_us().await;
    let alice = us.sign_up("alice").await;
    let peer = Peer::start(&us).await;
    let note = peer.field("note");

    // Flattring the Note resolves it (and carol) on the peer and queues a Like.
    let response = us.flattr_url(&alice, &note).await;
    let status = response.status().as_u16();
    let flattr: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 201, "{flattr}\n{}", peer.log());
    assert_eq!(flattr["thing"]["url"], note.as_str(), "{flattr}");
    // Fedify's NodeInfo says nothing of fedflattr: a plain Like, which costs nothing.
    assert_eq!(flattr["charged"], false, "{flattr}");

    let report = us.deliver().await;
    let rows = delivery::list(&us.state).await.unwrap();
    assert_eq!(
        report,
        delivery::RunReport {
            delivered: 1,
            ..Default::default()
        },
        "{rows:?}\n{}",
        peer.log()
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row.state, "delivered", "{rows:?}");
    assert!(
        row.last_status.is_some_and(|s| (200..300).contains(&s)),
        "{rows:?}"
    );
    assert_eq!(row.inbox, peer.field("sharedInbox"), "{rows:?}");

    // The peer answers only signed GETs: we read the Note and carol with draft-cavage
    // signatures of our instance actor, which Fedify verified (else it would have said 401).
    let received = peer.received().await;
    let served = received["served"].as_array().unwrap();
    for path in [
        url::Url::parse(&note).unwrap().path().to_owned(),
        "/users/carol".to_owned(),
    ] {
        let get = served
            .iter()
            .find(|g| g["path"] == path.as_str())
            .unwrap_or_else(|| panic!("no GET of {path}: {received}"));
        assert_eq!(get["spec"], "draft-cavage", "{received}");
        assert_eq!(get["keyId"], us.url("/actor#main-key"), "{received}");
        assert_eq!(get["headers"], "(request-target) date host", "{received}");
        assert_eq!(get["status"], 200, "{received}");
    }
    let unsigned = client()
        .get(&note)
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401, "the peer requires signed fetches");

    // Fedify calls inbox listeners only for activities whose signatures it verified.
    let received = peer.received().await;
    let verified = received["verified"].as_array().unwrap();
    assert_eq!(verified.len(), 1, "{received}\n{}", peer.log());
    let like = &verified[0];
    assert_eq!(like["type"], "Like", "{received}");
    assert_eq!(like["id"], row.activity_id.as_str(), "{received}");
    assert_eq!(like["actor"], us.url("/users/alice"), "{received}");
    assert_eq!(like["object"], note.as_str(), "{received}");
    assert_eq!(received["unverified"], json!([]), "{received}");
    // It was verified by its HTTP signature: draft-cavage, with alice's key.
    let requests = received["inboxRequests"].as_array().unwrap();
    assert_eq!(requests.len(), 1, "{received}");
    assert_eq!(requests[0]["spec"], "draft-cavage", "{received}");
    assert_eq!(
        requests[0]["keyId"],
        us.url("/users/alice#main-key"),
        "{received}"
    );
    assert_eq!(requests[0]["status"], 202, "{received}");

    // And it does check: a Like in alice's name signed with another key is turned away.
    let inbox = url::Url::parse(&peer.field("sharedInbox")).unwrap();
    let alice_actor = url::Url::parse(&us.url("/users/alice")).unwrap();
    let forged = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": us.url("/users/alice/likes/999"),
        "type": "Like",
        "actor": alice_actor,
        "object": note,
    });
    let other_key = fedflattr::federation::actors::generate_keys().private_key;
    let client = client();
    let request = signing::signed_post(
        &client,
        &inbox,
        &alice_actor,
        &other_key,
        forged.to_string(),
    )
    .await
    .unwrap();
    let status = client.execute(request).await.unwrap().status();
    assert_eq!(status, 401, "{}", peer.log());
    let received = peer.received().await;
    assert_eq!(
        received["verified"].as_array().unwrap().len(),
        1,
        "{received}"
    );
    let refused = received["unverified"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{received}");
    assert_eq!(
        refused[0]["id"],
        us.url("/users/alice/likes/999"),
        "{received}"
    );
    assert_eq!(refused[0]["reason"], "invalidSignature", "{received}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_like_from_a_fedify_peer_is_a_received_flattr_until_its_undo() {
    let us = start_us().await;
    let bob = us.sign_up("bob").await;
    let thing_id = us
        .create_thing(&bob, "https://blog.example/2026/hello", "Hello")
        .await;
    let thing_url = us.thing_url(thing_id);
    let peer = Peer::start(&us).await;
    let bob_actor = us.url("/users/bob");
    let carol = peer.field("actor");

    let (status, sent) = peer
        .control(
            "/control/like",
            &json!({"actor": bob_actor, "object": thing_url}),
        )
        .await;
    assert_eq!(status, 200, "{sent}\n{}", peer.log());
    assert_eq!(sent["inbox"], format!("{bob_actor}/inbox"), "{sent}");
    let like_id = sent["id"].as_str().unwrap().to_owned();

    let received = us
        .get_json("/api/v1/user/received_flattrs", Some(&bob))
        .await;
    assert_eq!(
        received,
        json!([{
            "thing_id": thing_id,
            "thing_title": "Hello",
            "actor": carol,
            "period": received[0]["period"].as_str().filter(|p| p.len() == 7 && p.as_bytes()[4] == b'-'),
            "flattr": false,
            "undone": false,
            "received_at": received[0]["received_at"],
        }]),
        "{}",
        peer.log()
    );
    let thing = us
        .get_json(&format!("/api/v1/things/{thing_id}"), Some(&bob))
        .await;
    assert_eq!(thing["remote_flattrs"], 1, "{thing}");

    // Fedify knocks first with an RFC 9421 signature, which we verify and accept: one request,
    // no fallback to draft-cavage needed.
    let log = peer.received().await;
    let posts: Vec<(String, u64)> = log["outgoing"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "POST" && r["url"] == format!("{bob_actor}/inbox"))
        .map(|r| {
            (
                r["spec"].as_str().unwrap_or_default().to_owned(),
                r["status"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(posts, vec![("rfc9421".to_owned(), 202)], "{log}");

    // carol takes it back.
    let (status, undo) = peer
        .control(
            "/control/undo",
            &json!({"actor": bob_actor, "like": {"id": like_id, "object": thing_url}}),
        )
        .await;
    assert_eq!(status, 200, "{undo}\n{}", peer.log());
    let received = us
        .get_json("/api/v1/user/received_flattrs", Some(&bob))
        .await;
    assert_eq!(received[0]["undone"], true, "{received}");
    let thing = us
        .get_json(&format!("/api/v1/things/{thing_id}"), Some(&bob))
        .await;
    assert_eq!(thing["remote_flattrs"], 0, "{thing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_with_two_types_is_flattred_and_a_peer_that_refuses_us_is_reported_as_fetch_refused()
{
    let us = start_us().await;
    let alice = us.sign_up("alice").await;
    let peer = Peer::start(&us).await;
    let article = peer.field("article");

    // `"type": ["Note", "Article"]`, read with our signed fetch: flattrable.
    let response = us.flattr_url(&alice, &article).await;
    let status = response.status().as_u16();
    let flattr: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 201, "{flattr}\n{}", peer.log());
    assert_eq!(
        flattr["thing"]["title"], "An article that is also a note",
        "{flattr}"
    );
    let report = us.deliver().await;
    assert_eq!(report.delivered, 1, "{report:?}\n{}", peer.log());
    let received = peer.received().await;
    assert_eq!(
        received["verified"][0]["object"],
        article.as_str(),
        "{received}"
    );

    // The peer now refuses every GET, signed or not: the refusal is reported as what it is.
    let (status, refused) = peer
        .control("/control/refuse", &json!({"refuse": true}))
        .await;
    assert_eq!((status, &refused["refuse"]), (200, &json!(true)));
    let note = peer.field("note");
    let (status, code, reason) = error_of(us.flattr_url(&alice, &note).await).await;
    assert_eq!((status, code.as_str()), (502, "fetch_refused"), "{reason}");
    assert_eq!(reason, format!("{note} answered 401 Unauthorized"));
}
