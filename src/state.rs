//! What every request handler and background task can reach: the database, the settings, the
//! clock, the HTTP client for other servers, the limits and the metrics.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Settings;
use crate::keys::KeyCache;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::store::Store;

/// The handles every request handler and worker shares: one pointer, so cloning it per
/// request (axum's `State`, the federation library's `Data`, which clones its whole
/// configuration for every request) is one atomic increment rather than a dozen, with the
/// allocations of the HTTP clients' middleware lists — a few per cent of the inbox's CPU in the
/// profile (docs/benchmarks.md).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// The state made of `shared`.
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    /// The database.
    pub store: Store,
    /// The parsed configuration.
    pub settings: Arc<Settings>,
    /// The instance's notion of now (fixed and movable in tests).
    pub clock: Clock,
    /// The client for every request to another server: no redirects, timeouts, and (outside
    /// development mode) no connections to loopback or private addresses.
    pub client: reqwest::Client,
    /// The same client for GETs: each is signed by the instance actor, and a 401/403 answer is
    /// an error of its own (`federation::client::FetchRefused`).
    pub fetcher: reqwest_middleware::ClientWithMiddleware,
    /// The bound on hashing and the rate limits, shared by every request.
    pub limits: Arc<Limits>,
    /// This instance's counters, rendered at `GET /metrics`.
    pub metrics: Metrics,
    /// Remote actors' public keys, parsed once (see `keys`).
    pub keys: Arc<KeyCache>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("base_url", &self.settings.base_url.as_str())
            .finish()
    }
}
