//! Deliveries are sent once (issue 7.8): two `serve` processes share the queue, and the
//! receiver is slower than a claim lasts. Each activity must arrive exactly once.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// How long the sink takes to answer: longer than a claim lasts (2 s) without renewal.
const SINK_DELAY: Duration = Duration::from_millis(3_000);
const ACTIVITIES: usize = 6;

/// A receiver that notes every activity id on arrival and answers 202 only after SINK_DELAY.
async fn slow_sink() -> (String, Arc<Mutex<Vec<String>>>) {
    let arrived = Arc::new(Mutex::new(Vec::new()));
    async fn inbox(State(arrived): State<Arc<Mutex<Vec<String>>>>, body: String) -> StatusCode {
        let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        arrived.lock().unwrap().push(id);
        tokio::time::sleep(SINK_DELAY).await;
        StatusCode::ACCEPTED
    }
    let router = Router::new()
        .route("/inbox", post(inbox))
        .with_state(arrived.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/inbox", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, arrived)
}

fn serve(app: &TestApp, dir: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_fedflattr"))
        .arg("serve")
        .current_dir(dir)
        .env_remove("FEDFLATTR_CONFIG")
        .env("FEDFLATTR_DATABASE_URL", &app.database_url)
        .env("FEDFLATTR_PORT", "0")
        .env("FEDFLATTR_AUTO_CLOSE", "false")
        .env("FEDFLATTR_DEVELOPMENT_MODE", "true")
        .env("FEDFLATTR_DELIVERY_INTERVAL_SECS", "1")
        .env("FEDFLATTR_DELIVERY_CLAIM_SECS", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start fedflattr serve")
}

#[tokio::test]
async fn two_servers_send_each_slow_delivery_exactly_once() {
    let app = spawn_app().await;
    let (sink, arrived) = slow_sink().await;
    let now = chrono::Utc::now().timestamp();
    for n in 0..ACTIVITIES {
        let id = format!("{}/activities/{n}", app.base);
        let body = json!({"id": id, "type": "Create", "actor": app.url("/actor")}).to_string();
        sqlx::query(
            "INSERT INTO deliveries (activity_id, inbox, body, state, next_attempt_at, created_at)
             VALUES ($1, $2, $3, 'pending', $4, $4)",
        )
        .bind(&id)
        .bind(&sink)
        .bind(body)
        .bind(now)
        .execute(app.state.store.pool())
        .await
        .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let mut first = serve(&app, dir.path());
    let mut second = serve(&app, dir.path());
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let delivered: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'")
                .fetch_one(app.state.store.pool())
                .await
                .unwrap();
        if delivered == ACTIVITIES as i64 {
            break;
        }
        assert!(Instant::now() < deadline, "only {delivered} delivered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    first.kill().unwrap();
    second.kill().unwrap();
    first.wait().unwrap();
    second.wait().unwrap();

    let mut arrived = arrived.lock().unwrap().clone();
    arrived.sort();
    let mut expected: Vec<String> = (0..ACTIVITIES)
        .map(|n| format!("{}/activities/{n}", app.base))
        .collect();
    expected.sort();
    assert_eq!(arrived, expected, "each activity arrived exactly once");
    let attempts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM delivery_attempts")
        .fetch_one(app.state.store.pool())
        .await
        .unwrap();
    assert_eq!(attempts, ACTIVITIES as i64, "one attempt each");
}
