//! The one test harness: every integration test binary and both benches include this module
//! (`#[path = "../common/mod.rs"] mod common;`). It starts real instances over fresh databases
//! ([`Instance`]), drives them through typed helpers (sign up, deposit, things, flattrs, close,
//! balances, audit), and signs requests the way other servers do ([`signing`]).

// Each binary uses a different part of the harness.
#![allow(dead_code, unused_imports)]

pub mod blog;
pub mod books;
pub mod database;
pub mod instance;
pub mod peer;
pub mod signing;
pub mod users;

use chrono::{DateTime, Utc};
use fedflattr::domain::period::Period;
use serde_json::Value;

pub use blog::Blog;
pub use database::fresh_database_url;
pub use instance::{Instance, Setup, client};
pub use users::User;

/// The moment an RFC 3339 text names: `at("2026-11-01T00:00:00Z")`.
pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("a test's time is RFC 3339")
        .with_timezone(&Utc)
}

/// The period a `YYYY-MM` text names.
pub fn period(text: &str) -> Period {
    Period::parse(text).expect("a test's period is YYYY-MM")
}

/// A response's status and JSON `error` code.
pub async fn error_code(response: reqwest::Response) -> (u16, String) {
    let (status, code, _) = error_of(response).await;
    (status, code)
}

/// A response's status, JSON `error` code and `error_description`: the reason of a refusal.
pub async fn error_of(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let text = |key: &str| body[key].as_str().unwrap_or_default().to_owned();
    (status, text("error"), text("error_description"))
}
