//! The API tests' view of the shared harness (tests/common): `spawn_app()` starts one instance
//! on 127.0.0.1 with its own database and a clock at 2026-10-15 12:00 UTC.

use fedflattr::config::Config;

// Re-exported for the tests' `use crate::helpers::…`, whichever they need.
#[allow(unused_imports)]
pub use crate::common::{at, error_code, error_of, fresh_database_url, period};

/// One instance alone, on 127.0.0.1.
pub type TestApp = crate::common::Instance;

/// Starts an instance on 127.0.0.1 whose clock stands at 2026-10-15 12:00 UTC, in period
/// 2026-10.
pub async fn spawn_app() -> TestApp {
    TestApp::on_loopback().spawn().await
}

/// Starts an instance like [`spawn_app`], with a change to its configuration.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::on_loopback().configure(configure).spawn().await
}
