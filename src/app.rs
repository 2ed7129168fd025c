//! Builds the running instance: connects and migrates the database, assembles the router,
//! starts background work (the automatic close and the delivery queue), and serves until told
//! to stop. Tests call the same functions with a listener on port 0.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

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
    pub state: AppState,
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
    let state = AppState {
        store,
        settings: Arc::new(settings),
        clock,
        client,
        fetcher,
    };
    let federation = federation::client::configure(state.clone()).await;
    Ok(App { state, federation })
}

/// Serves HTTP on `listener` and runs the background work until `shutdown` completes; then
/// stops accepting, finishes requests in flight and stops the background work.
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
            state.settings.fee_rate,
            state.clock.clone(),
            Duration::from_secs(state.settings.close_interval_secs),
            stop_rx.clone(),
        )));
    }
    background.push(tokio::spawn(delivery::run(
        state.clone(),
        Duration::from_secs(state.settings.delivery_interval_secs),
        stop_rx,
    )));
    let router = http::router(state, app.federation);
    let result = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop_tx.send(true);
    for task in background {
        let _ = task.await;
    }
    result
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
