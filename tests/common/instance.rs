//! `Instance`: a real fedflattr server in this process, with its own database, host name, port
//! and clock, which a test can stop and start again on the same port and database; and the
//! HTTP verbs to talk to it.
//!
//! [`Setup`] says how to start one: on 127.0.0.1 as a plain single instance
//! ([`Instance::on_loopback`]), or on a host name such as `alpha.test` in development mode
//! ([`Instance::named`], which maps `*.test` to 127.0.0.1 so instances can federate), with a
//! fixed clock at 2026-10-15 12:00 UTC unless told otherwise, and config tweaks.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;

use fedflattr::app::App;
use fedflattr::clock::Clock;
use fedflattr::config::Config;
use fedflattr::state::AppState;
use serde_json::Value;

use super::at;
use super::database::fresh_database_url;

/// Where the fixed clock of a new instance stands: mid-period 2026-10.
pub const START: &str = "2026-10-15T12:00:00Z";

/// A client that reaches every instance given at its host name (`alpha.test` → 127.0.0.1), and
/// ignores any proxy of the environment.
pub fn client(instances: &[&Instance]) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().no_proxy();
    for instance in instances {
        builder = builder.resolve(
            &instance.host,
            SocketAddr::from(([127, 0, 0, 1], instance.port)),
        );
    }
    builder
        .build()
        .expect("a client without TLS settings builds")
}

/// A change to the configuration of an instance before it starts.
type Tweak<'a> = Box<dyn FnOnce(&mut Config) + 'a>;

/// How to start an instance: its host, its clock, tweaks of its configuration.
pub struct Setup<'a> {
    host: String,
    domain: String,
    development_mode: bool,
    clock: Clock,
    tweaks: Vec<Tweak<'a>>,
    postgres: bool,
}

impl<'a> Setup<'a> {
    /// An instance at `http://HOST:PORT` in development mode (plain http, loopback peers);
    /// `localhost` and `*.test` resolve to 127.0.0.1.
    pub fn host(host: &str) -> Setup<'a> {
        Setup {
            host: host.to_owned(),
            domain: host.to_owned(),
            development_mode: true,
            clock: Clock::fixed(at(START)),
            tweaks: Vec::new(),
            postgres: false,
        }
    }

    /// Puts this instance on PostgreSQL when a server is at hand (the environment's, else a
    /// local one: `database::reachable_postgres`), whatever the other instances run on; on
    /// SQLite when there is none.
    pub fn postgres_when_reachable(mut self) -> Self {
        self.postgres = true;
        self
    }

    /// Runs on the real time instead of the fixed clock (for peers that check signature dates).
    pub fn system_clock(mut self) -> Self {
        self.clock = Clock::system();
        self
    }

    /// Changes the configuration before the instance starts (it is kept for restarts).
    pub fn configure(mut self, tweak: impl FnOnce(&mut Config) + 'a) -> Self {
        self.tweaks.push(Box::new(tweak));
        self
    }

    /// Creates the database, starts the server on a free port and returns it running.
    pub async fn spawn(self) -> Instance {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let database_url = if self.postgres {
            let server = super::database::reachable_postgres().await;
            super::database::fresh_database_on(server.as_deref(), dir.path()).await
        } else {
            fresh_database_url(dir.path()).await
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port on 127.0.0.1");
        let port = listener.local_addr().expect("a bound address").port();
        let base = format!("http://{}:{port}", self.host);
        let mut config = Config {
            domain: self.domain,
            port,
            public_url: Some(base.clone()),
            database_url: database_url.clone(),
            development_mode: self.development_mode,
            // Tests close periods themselves, at the moments they choose…
            auto_close: false,
            // …and run the delivery queue themselves too.
            delivery_interval_secs: 3600,
            // Every test client is 127.0.0.1 and every test peer one origin: the per-address
            // and per-origin limits would count a whole test as one visitor. The tests of the
            // limits (tests/api/limits.rs) set their own.
            login_per_minute: 0,
            signups_per_hour: 0,
            inbox_per_minute: 0,
            ..Config::default()
        };
        for tweak in self.tweaks {
            tweak(&mut config);
        }
        let app = build(&config, self.clock.clone()).await;
        let mut instance = Instance {
            host: self.host,
            port,
            base,
            state: app.state.clone(),
            federation: app.federation.clone(),
            client: reqwest::Client::new(),
            database_url,
            config,
            clock: self.clock,
            deposits: AtomicU64::new(0),
            server: None,
            _dir: dir,
        };
        instance.client = client(&[&instance]);
        instance.serve(app, listener);
        instance
    }
}

async fn build(config: &Config, clock: Clock) -> App {
    let settings = config.settings().expect("the test configuration is valid");
    fedflattr::app::build(settings, clock)
        .await
        .expect("the instance starts")
}

/// A running (or stopped) instance of fedflattr.
pub struct Instance {
    /// `127.0.0.1`, `alpha.test`, `localhost`…
    pub host: String,
    pub port: u16,
    /// `http://HOST:PORT`, the instance's public URL.
    pub base: String,
    /// The running server's state: its store, settings and clock.
    pub state: AppState,
    /// The running server's federation configuration (`federation.to_request_data()` for the
    /// functions that fetch from other servers).
    pub federation: fedflattr::federation::Federation,
    /// A client that reaches this instance at its host name.
    pub client: reqwest::Client,
    pub database_url: String,
    /// The configuration it was started with (and is restarted with).
    pub config: Config,
    clock: Clock,
    /// How many deposits the harness made: their bank references are `test-0`, `test-1`… so
    /// two instances fed the same story have equal ledgers.
    pub(super) deposits: AtomicU64,
    server: Option<Server>,
    _dir: tempfile::TempDir,
}

struct Server {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Instance {
    /// An instance at `http://127.0.0.1:PORT`, not in development mode: one server alone. Its
    /// domain, in handles, is the default `localhost`.
    pub fn on_loopback<'a>() -> Setup<'a> {
        Setup {
            development_mode: false,
            domain: Config::default().domain,
            ..Setup::host("127.0.0.1")
        }
    }

    /// `NAME.test` in development mode, ready to federate with the other `*.test` instances.
    pub fn named<'a>(name: &str) -> Setup<'a> {
        Setup::host(&format!("{name}.test"))
    }

    fn serve(&mut self, app: App, listener: tokio::net::TcpListener) {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(fedflattr::app::serve(app, listener, async move {
            let _ = stopped.await;
        }));
        self.server = Some(Server { stop, task });
    }

    /// Stops the server (as a crash or an upgrade would), keeping its database.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.stop.send(());
            server
                .task
                .await
                .expect("the server task ends")
                .expect("the server stops cleanly");
        }
    }

    /// Starts the server again on the same port, database, clock and configuration.
    pub async fn restart(&mut self) {
        self.stop().await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind the instance's port again");
        let app = build(&self.config, self.clock.clone()).await;
        self.state = app.state.clone();
        self.federation = app.federation.clone();
        self.serve(app, listener);
    }

    /// Stops the server and starts it again with a changed configuration (an admin's edit).
    pub async fn restart_with(&mut self, tweak: impl FnOnce(&mut Config)) {
        tweak(&mut self.config);
        self.restart().await;
    }

    /// The instance's URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sets the instance's clock to an RFC 3339 time.
    pub fn set_time(&self, text: &str) {
        self.clock.set(at(text));
    }

    /// The instance's clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// POSTs JSON, with a bearer token if given.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("the instance answers")
    }

    /// POSTs JSON as the token's user.
    pub async fn post_api(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.post(path, Some(token), body).await
    }

    /// PATCHes JSON as the token's user.
    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("the instance answers")
    }

    /// GETs `path`, with a bearer token if given.
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("the instance answers")
    }

    /// DELETEs `path` as the token's user.
    pub async fn delete(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("the instance answers")
    }

    /// GETs `path` and returns its JSON, asserting a 200.
    pub async fn get_json(&self, path: &str, token: Option<&str>) -> Value {
        let response = self.get(path, token).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("a JSON body")
    }

    /// GETs `path` as a server would (`Accept: application/activity+json`).
    pub async fn get_activity(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("accept", "application/activity+json")
            .send()
            .await
            .expect("the instance answers")
    }

    /// GETs `path` as a server would and returns its JSON, asserting a 200.
    pub async fn get_activity_json(&self, path: &str) -> Value {
        let response = self.get_activity(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("a JSON body")
    }

    /// A count (or any single integer) from the instance's database.
    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(self.state.store.pool())
            .await
            .expect("the query runs")
    }
}
