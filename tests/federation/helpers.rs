//! `Instance`: a fedflattr server with its own database, host name and port, which a test can
//! stop and start again on the same port and database.

use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use fedflattr::app::App;
use fedflattr::clock::Clock;
use fedflattr::config::Config;
use fedflattr::domain::money::Money;
use fedflattr::federation::delivery::{self, RunReport};
use fedflattr::state::AppState;
use rand::RngCore;

pub use crate::database::fresh_database_url;
use serde_json::{Value, json};

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// A client that reaches every `*.test` instance on this machine.
pub fn client(instances: &[&Instance]) -> reqwest::Client {
    let mut builder = reqwest::Client::builder();
    for instance in instances {
        builder = builder.resolve(
            &instance.host,
            SocketAddr::from(([127, 0, 0, 1], instance.port)),
        );
    }
    builder.build().unwrap()
}

pub struct Instance {
    pub host: String,
    pub port: u16,
    pub base: String,
    pub state: AppState,
    pub client: reqwest::Client,
    database_url: String,
    clock: Clock,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

async fn start(
    host: &str,
    port: u16,
    database_url: &str,
    clock: Clock,
    configure: &dyn Fn(&mut Config),
) -> App {
    let mut config = Config {
        domain: host.to_owned(),
        port,
        public_url: Some(format!("http://{host}:{port}")),
        database_url: database_url.to_owned(),
        development_mode: true,
        auto_close: false,
        // The tests run the queue themselves, at the moments they choose.
        delivery_interval_secs: 3600,
        ..Config::default()
    };
    configure(&mut config);
    fedflattr::app::build(config.settings().unwrap(), clock)
        .await
        .unwrap()
}

impl Instance {
    /// Starts `NAME.test` with its clock in 2026-10.
    pub async fn spawn(name: &str) -> Instance {
        Self::spawn_with(name, |_| {}).await
    }

    pub async fn spawn_with(name: &str, configure: impl Fn(&mut Config) + 'static) -> Instance {
        let dir = tempfile::tempdir().unwrap();
        let database_url = fresh_database_url(dir.path()).await;
        let host = format!("{name}.test");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let clock = Clock::fixed(at("2026-10-15T12:00:00Z"));
        let configure: Box<dyn Fn(&mut Config)> = Box::new(configure);
        let app = start(
            &host,
            port,
            &database_url,
            clock.clone(),
            configure.as_ref(),
        )
        .await;
        let mut instance = Instance {
            base: format!("http://{host}:{port}"),
            client: reqwest::Client::new(),
            state: app.state.clone(),
            host,
            port,
            database_url,
            clock,
            stop: None,
            task: None,
            _dir: dir,
        };
        instance.client = client(&[&instance]);
        instance.run(app, listener);
        instance
    }

    fn run(&mut self, app: App, listener: tokio::net::TcpListener) {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        self.task = Some(tokio::spawn(fedflattr::app::serve(
            app,
            listener,
            async move {
                let _ = stopped.await;
            },
        )));
        self.stop = Some(stop);
    }

    /// Stops the server (as a crash or an upgrade would), keeping its database.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    /// Starts the server again on the same port over the same database: a restart.
    pub async fn restart(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        let app = start(
            &self.host,
            self.port,
            &self.database_url,
            self.clock.clone(),
            &|_| {},
        )
        .await;
        self.state = app.state.clone();
        self.run(app, listener);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn set_time(&self, text: &str) {
        self.clock.set(at(text));
    }

    pub async fn sign_up(&self, name: &str) -> String {
        let response = self
            .client
            .post(self.url("/api/v1/users"))
            .json(&json!({"username": name, "password": "correct horse"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn deposit(&self, name: &str, amount: &str) {
        let user = fedflattr::store::users::by_name(self.state.store.pool(), name)
            .await
            .unwrap();
        let mut tx = self.state.store.begin().await.unwrap();
        let mut reference = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut reference);
        fedflattr::ledger::deposit(
            &mut tx,
            user.id,
            Money::parse_payable("amount", amount).unwrap(),
            &hex::encode(reference),
            self.state.clock.now(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }

    pub async fn create_thing(&self, token: &str, url: &str) -> i64 {
        let response = self
            .client
            .post(self.url("/api/v1/things"))
            .bearer_auth(token)
            .json(&json!({"url": url, "title": "A post", "category": "text"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.json::<Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap()
    }

    pub async fn post_api(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str, token: Option<&str>) -> Value {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// Closes `period` at the instance's current time.
    pub async fn close(&self, period: &str) -> fedflattr::settle::close::CloseReport {
        fedflattr::settle::close::close(
            &self.state.store,
            fedflattr::domain::period::Period::parse(period).unwrap(),
            self.state.settings.fee_rate,
            self.state.clock.now(),
            Default::default(),
        )
        .await
        .unwrap()
    }

    /// GETs `path` as a server would (`Accept: application/activity+json`).
    pub async fn get_activity_json(&self, path: &str) -> Value {
        let response = self
            .client
            .get(self.url(path))
            .header("accept", "application/activity+json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    pub async fn deliver(&self) -> RunReport {
        delivery::deliver_due(&self.state).await.unwrap()
    }

    /// The private key of a local user, to forge or replay requests with.
    pub async fn private_key(&self, name: &str) -> String {
        fedflattr::store::users::by_name(self.state.store.pool(), name)
            .await
            .unwrap()
            .private_key
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(self.state.store.pool())
            .await
            .unwrap()
    }
}

/// Signs a POST of `body` to `inbox` with `private_key_pem` under `key_id`, draft-cavage as
/// Mastodon does, with an optional `Date` of the forger's choosing. Returns the request so a
/// test can tamper with it or send it twice.
pub async fn signed_request(
    client: &reqwest::Client,
    inbox: &str,
    key_id: &str,
    private_key_pem: &str,
    body: &Value,
    date: Option<std::time::SystemTime>,
) -> reqwest::Request {
    use base64::Engine;
    use http_signature_normalization_reqwest::prelude::{Config, SignExt};
    use rsa::pkcs8::DecodePrivateKey;
    use sha2::{Digest, Sha256};

    let key = rsa::RsaPrivateKey::from_pkcs8_pem(private_key_pem).unwrap();
    let client = reqwest_middleware::ClientWithMiddleware::from(client.clone());
    let mut builder = client
        .post(inbox)
        .header("content-type", "application/activity+json");
    if let Some(date) = date {
        builder = builder.header("date", httpdate(date));
    }
    let config: Config = Config::new().mastodon_compat();
    builder
        .signature_with_digest(
            config,
            key_id.to_owned(),
            Sha256::new(),
            body.to_string(),
            move |signing_string| {
                let signature = key
                    .sign(
                        rsa::Pkcs1v15Sign::new::<Sha256>(),
                        &Sha256::digest(signing_string.as_bytes()),
                    )
                    .unwrap();
                Ok::<_, fedflattr::federation::signing::SignError>(
                    base64::engine::general_purpose::STANDARD.encode(signature),
                )
            },
        )
        .await
        .unwrap()
}

fn httpdate(time: std::time::SystemTime) -> String {
    let time: DateTime<Utc> = time.into();
    time.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Sends a request and returns its status and JSON error code (if any).
pub async fn send(client: &reqwest::Client, request: reqwest::Request) -> (u16, String) {
    let (status, code, _) = send_explained(client, request).await;
    (status, code)
}

/// Sends a request and returns its status, JSON error code and the reason given.
pub async fn send_explained(
    client: &reqwest::Client,
    request: reqwest::Request,
) -> (u16, String, String) {
    let response = client.execute(request).await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let text = |key: &str| body[key].as_str().unwrap_or_default().to_owned();
    (status, text("error"), text("error_description"))
}

/// Builds an RFC 9421-signed POST (as Fedify signs: `rsa-v1_5-sha256` over `@method`,
/// `@target-uri`, `@authority`, `host`, `date` and `content-digest`), with the components
/// and `created` time of the test's choosing.
pub fn rfc9421_request(
    client: &reqwest::Client,
    inbox: &str,
    key_id: &str,
    private_key_pem: &str,
    body: &Value,
    components: &[&str],
    created: i64,
) -> reqwest::Request {
    use base64::Engine;
    use rsa::pkcs8::DecodePrivateKey;
    use sha2::{Digest, Sha256};

    let engine = base64::engine::general_purpose::STANDARD;
    let body = body.to_string();
    let uri = url::Url::parse(inbox).unwrap();
    let host = format!("{}:{}", uri.host_str().unwrap(), uri.port().unwrap());
    let date = httpdate(std::time::SystemTime::now());
    let digest = format!(
        "sha-256=:{}:",
        engine.encode(Sha256::digest(body.as_bytes()))
    );
    let list = components
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(" ");
    let input =
        format!("sig1=({list});alg=\"rsa-v1_5-sha256\";keyid=\"{key_id}\";created={created}");
    let header = |name: &str| match name {
        "host" => Some(host.clone()),
        "date" => Some(date.clone()),
        "content-digest" => Some(digest.clone()),
        _ => None,
    };
    let mut signature = fedflattr::federation::rfc9421::parse(&input, "sig1=:AA==:").unwrap();
    let target = fedflattr::federation::rfc9421::Target {
        method: "POST",
        uri: &uri,
        header: &header,
    };
    let base = fedflattr::federation::rfc9421::base(&signature, &target).unwrap();
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(private_key_pem).unwrap();
    signature.signature = key
        .sign(
            rsa::Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(base.as_bytes()),
        )
        .unwrap();
    client
        .post(inbox)
        .header("content-type", "application/activity+json")
        .header("date", &date)
        .header("content-digest", &digest)
        .header("signature-input", &input)
        .header(
            "signature",
            format!("sig1=:{}:", engine.encode(&signature.signature)),
        )
        .body(body)
        .build()
        .unwrap()
}
