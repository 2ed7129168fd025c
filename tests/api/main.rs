//! The HTTP API and the admin commands, end to end: a real server on port 0 over a fresh
//! database per test (SQLite by default, PostgreSQL when FEDFLATTR_TEST_DATABASE_URL is set).

// Test and bench code: a failed unwrap is a failed run with its reason, which is what we want
// here; `allow-unwrap-in-tests` covers only `#[test]` functions, not the shared helpers.
#![allow(clippy::unwrap_used)]

mod accounts;
mod admin_pages;
mod bad_input;
mod cli;
mod close;
mod close_itemised;
mod close_race;
mod close_rollback;
#[path = "../common/mod.rs"]
mod common;
mod deliveries_once;
mod flattrs;
mod helpers;
mod limits;
mod ops;
mod payouts;
mod plans;
mod schema;
mod subscriptions;
mod things;
mod web;
