//! Builds the running instance: connects and migrates the database, assembles the router,
//! starts background work (the automatic close and the delivery queue), and serves until told
//! to stop. Tests call the same functions with a listener on port 0.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::clock::Clock;
use crate::config::Settings;
use crate::federation::{self, Federation, delivery};
use crate::http;
use crate::settle::scheduler;
use crate::state::AppState;
use crate::store::{Store, StoreError};

/// A built instance: the state every handler shares and the federation configuration.
#[derive(Clone)]
pub struct App {
    /// The handles every handler shares.
    pub state: AppState,
    /// The activitypub_federation configuration (signing, the instance actor, the URL checks).
    pub federation: Federation,
}

/// Opens (and on first start creates) the database, applies migrations, creates the instance
/// actor's keys, and returns the instance ready to serve.
pub async fn build(settings: Settings, clock: Clock) -> Result<App, StoreError> {
    let store = Store::connect(&settings.database_url).await?;
    store.migrate().await?;
    let keys = federation::actors::instance_keys(&store).await?;
    let client = federation::client::build(&settings);
    let instance_actor = federation::actors::instance_actor_url(&settings.base_url);
    let signer = federation::signing::FetchSigner::new(&instance_actor, &keys.private_key)
        .map_err(|e| StoreError::Conflict(format!("the instance actor's key: {e}")))?;
    let fetcher = federation::client::fetcher(client.clone(), signer);
    let state = AppState::new(crate::state::Shared {
        store,
        limits: Arc::new(crate::limits::Limits::new(&settings)),
        metrics: crate::metrics::Metrics::new(),
        keys: Arc::default(),
        settings: Arc::new(settings),
        clock,
        client,
        fetcher,
    });
    let federation = federation::client::configure(state.clone()).await;
    Ok(App { state, federation })
}

/// Serves HTTP on `listener` and runs the background work until `shutdown` completes; then
/// stops accepting, finishes requests in flight and stops the background work.
///
/// The accept loop is ours rather than `axum::serve`'s because that one gives hyper no timer,
/// so a client that sends half a request header holds its connection forever (slowloris);
/// here the headers must arrive within `header_timeout_secs`. Each request carries its
/// connection's peer address (`ConnectInfo`), which the per-address rate limits use.
pub async fn serve(
    app: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = app.state.clone();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut background = Vec::new();
    if state.settings.auto_close {
        background.push(tokio::spawn(scheduler::run(
            state.store.clone(),
            crate::settle::close::CloseRules {
                fee_rate: state.settings.fee_rate,
                held_periods: state.settings.held_periods,
            },
            state.clock.clone(),
            state.metrics.clone(),
            Duration::from_secs(state.settings.close_interval_secs),
            stop_rx.clone(),
        )));
    }
    background.push(tokio::spawn(delivery::run(
        state.clone(),
        Duration::from_secs(state.settings.delivery_interval_secs),
        stop_rx,
    )));
    let header_timeout = Duration::from_secs(state.settings.header_timeout_secs);
    let router = http::router(state, app.federation, crate::web::router());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = router
            .clone()
            .map_request(move |request: axum::http::Request<Incoming>| {
                let mut request = request.map(axum::body::Body::new);
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout);
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    let _ = stop_tx.send(true);
    for task in background {
        let _ = task.await;
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM, the signals a terminal or a service manager sends.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
