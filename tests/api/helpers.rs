//! `spawn_app()`: one instance with its own database, listening on 127.0.0.1 port 0, with a
//! clock the test controls.

use chrono::{DateTime, Utc};
use fedflattr::clock::Clock;
use fedflattr::config::Config;
use fedflattr::domain::money::Money;
use fedflattr::domain::period::Period;
use fedflattr::http::AppState;
use fedflattr::ledger::{self, audit};
use fedflattr::settle::close::{self, CloseOptions, CloseReport};
use fedflattr::store::users;

pub use crate::database::fresh_database_url;
use serde_json::{Value, json};

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub database_url: String,
    deposits: std::sync::atomic::AtomicU64,
    _dir: tempfile::TempDir,
}

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

pub fn period(text: &str) -> Period {
    Period::parse(text).unwrap()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts an instance whose clock stands at 2026-10-15 12:00 UTC, in period 2026-10.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database_url(dir.path()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let mut config = Config {
        port,
        public_url: Some(base.clone()),
        database_url: database_url.clone(),
        auto_close: false,
        ..Config::default()
    };
    configure(&mut config);
    let settings = config.settings().unwrap();
    let app = fedflattr::app::build(settings, Clock::fixed(at("2026-10-15T12:00:00Z")))
        .await
        .unwrap();
    let state = app.state.clone();
    tokio::spawn(fedflattr::app::serve(app, listener, std::future::pending()));
    TestApp {
        base,
        client: reqwest::Client::new(),
        state,
        database_url,
        deposits: std::sync::atomic::AtomicU64::new(0),
        _dir: dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn set_time(&self, text: &str) {
        self.state.clock.set(at(text));
    }

    /// Signs up `name` and returns the bearer token.
    pub async fn sign_up(&self, name: &str) -> String {
        let response = self
            .post(
                "/api/v1/users",
                None,
                &json!({"username": name, "password": "correct horse"}),
            )
            .await;
        assert_eq!(response.status(), 201, "sign-up of {name}");
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn delete(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str, token: Option<&str>) -> Value {
        let response = self.get(path, token).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// Records a deposit the way `fedflattr admin deposit` does.
    pub async fn deposit(&self, name: &str, amount: &str) {
        let user = users::by_name(self.state.store.pool(), name).await.unwrap();
        let amount = Money::parse_payable("amount", amount).unwrap();
        let mut tx = self.state.store.begin().await.unwrap();
        // Deterministic references, so that two apps fed the same story have equal ledgers.
        let n = self
            .deposits
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        ledger::deposit(
            &mut tx,
            user.id,
            amount,
            &format!("test-{n}"),
            self.state.clock.now(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }

    /// Registers a thing owned by the token's user and returns its id.
    pub async fn create_thing(&self, token: &str, url: &str, title: &str) -> i64 {
        let response = self
            .post(
                "/api/v1/things",
                Some(token),
                &json!({"url": url, "title": title, "category": "text"}),
            )
            .await;
        assert_eq!(response.status(), 201, "create thing {url}");
        response.json::<Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap()
    }

    pub async fn flattr(&self, token: &str, thing: i64) -> reqwest::Response {
        self.post(
            &format!("/api/v1/things/{thing}/flattr"),
            Some(token),
            &json!({}),
        )
        .await
    }

    pub async fn close(&self, name: &str) -> CloseReport {
        let now = self.state.clock.now();
        close::close(
            &self.state.store,
            period(name),
            self.state.settings.fee_rate,
            now,
            CloseOptions::default(),
        )
        .await
        .unwrap()
    }

    pub async fn assert_books_balance(&self) {
        let report = audit::run(self.state.store.pool()).await.unwrap();
        assert!(report.ok, "audit failed: {report:#?}");
    }

    /// Every posting, in order, as (transaction reference, account name, amount): the ledger
    /// to compare between runs.
    pub async fn ledger_lines(&self) -> Vec<(String, String, i64)> {
        sqlx::query_as(
            "SELECT t.reference, a.name, p.amount FROM postings p
             JOIN ledger_transactions t ON t.id = p.transaction_id
             JOIN accounts a ON a.id = p.account_id
             ORDER BY t.reference, a.name, p.amount",
        )
        .fetch_all(self.state.store.pool())
        .await
        .unwrap()
    }

    pub async fn balance(&self, account: &str) -> i64 {
        sqlx::query_scalar::<_, i64>("SELECT balance FROM accounts WHERE name = $1")
            .bind(account)
            .fetch_optional(self.state.store.pool())
            .await
            .unwrap()
            .unwrap_or(0)
    }

    pub async fn user_id(&self, name: &str) -> i64 {
        users::by_name(self.state.store.pool(), name)
            .await
            .unwrap()
            .id
    }
}

pub async fn error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("error bodies are JSON");
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}
