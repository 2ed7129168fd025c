//! Builds the running instance: connects and migrates the database, assembles the router,
//! starts background work, and serves until told to stop. Tests call the same functions with
//! a listener on port 0.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::config::Settings;
use crate::http::{self, AppState};
use crate::settle::scheduler;
use crate::store::{Store, StoreError};

/// Opens (and on first start creates) the database, applies migrations, and returns the state
/// every handler shares.
pub async fn build(settings: Settings, clock: Clock) -> Result<AppState, StoreError> {
    let store = Store::connect(&settings.database_url).await?;
    store.migrate().await?;
    Ok(AppState {
        store,
        settings: Arc::new(settings),
        clock,
    })
}

/// Serves HTTP on `listener` and runs the automatic close until `shutdown` completes; then
/// stops accepting, finishes requests in flight and stops the background work.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let background = state.settings.auto_close.then(|| {
        tokio::spawn(scheduler::run(
            state.store.clone(),
            state.settings.fee_rate,
            state.clock.clone(),
            Duration::from_secs(state.settings.close_interval_secs),
            stop_rx,
        ))
    });
    let router = http::router(state);
    let result = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop_tx.send(true);
    if let Some(task) = background {
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
