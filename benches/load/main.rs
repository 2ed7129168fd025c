//! The hot paths under load, each next to its floor measured in the same run (issue 10):
//!
//! - `inbox`: signed Likes from many remote actors (`FEDFLATTR_BENCH_ACTORS` on ten origins,
//!   served by a sink in this process) into the shared inbox, driven by Debian's `wrk` replaying
//!   pre-signed requests; floor: an axum handler that parses the Like, checks its digest and
//!   verifies its RSA-2048 signature with ring, without a database.
//! - `clicks`: `POST /api/v1/things/{id}/flattr` with bearer tokens, wrk with 16 connections,
//!   every click a new (user, thing) pair.
//! - `deliveries`: the persistent queue sending signed Likes to a sink, against the raw
//!   signing rate.
//! - `rest`: the `fedflattr serve` binary's time to ready (new and migrated database) and its
//!   idle memory; and around each run above, this process's memory before and after it and
//!   its peak (`VmRSS`, `VmHWM` from /proc; the instance under test runs in this process).
//!
//! Data are seeded (`FEDFLATTR_BENCH_SEED`) and generated before anything is timed. Each
//! figure is the median of `FEDFLATTR_BENCH_RUNS` runs (default 3) of
//! `FEDFLATTR_BENCH_SECONDS` (default 4) with the spread. `FEDFLATTR_BENCH_ONLY=inbox` (or
//! `clicks`, `deliveries`, `rest`) runs one; `FEDFLATTR_BENCH_DATABASE_URL` runs on that PostgreSQL
//! server (a fresh `fedflattr_test_*` database per instance). `FEDFLATTR_BENCH_SMOKE=1` is the
//! small size `.ci/run` uses so the bench never rots. `FEDFLATTR_BENCH_INBOX_CONNECTIONS` (32)
//! and `FEDFLATTR_BENCH_CLICK_CONNECTIONS` (16) set wrk's connections: how many senders wait
//! for their answers at once, which bounds a durable rate at connections ÷ latency.
//!
//! Run: `bash benches/run` (both backends when PostgreSQL is given) or `cargo bench --bench load`.

// Test and bench code: a failed unwrap is a failed run with its reason.
#![allow(clippy::unwrap_used)]

#[path = "../../tests/common/mod.rs"]
mod common;

mod clicks;
mod deliveries;
mod flush;
mod inbox;
mod rest;
mod wrk;

/// The bench's sizes, from the environment.
pub struct Options {
    seed: u64,
    runs: usize,
    seconds: u32,
    actors: usize,
    likes: usize,
    clicks: usize,
    deliveries: usize,
    /// wrk's connections for the inbox (and its floor) and for the clicks.
    inbox_connections: u32,
    click_connections: u32,
}

fn var<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if let Ok(server) = std::env::var("FEDFLATTR_BENCH_DATABASE_URL") {
        // SAFETY: set before the runtime or any other thread starts.
        unsafe { std::env::set_var(common::database::TEST_DATABASE_VAR, server) };
    }
    let smoke = std::env::var("FEDFLATTR_BENCH_SMOKE").is_ok_and(|v| v == "1");
    let options = Options {
        seed: var("FEDFLATTR_BENCH_SEED", 10),
        runs: var("FEDFLATTR_BENCH_RUNS", if smoke { 1 } else { 3 }),
        seconds: var("FEDFLATTR_BENCH_SECONDS", if smoke { 1 } else { 4 }),
        actors: var("FEDFLATTR_BENCH_ACTORS", if smoke { 20 } else { 1_000 }),
        likes: var("FEDFLATTR_BENCH_LIKES", if smoke { 15_000 } else { 80_000 }),
        clicks: var(
            "FEDFLATTR_BENCH_CLICKS",
            if smoke { 30_000 } else { 100_000 },
        ),
        deliveries: var(
            "FEDFLATTR_BENCH_DELIVERIES",
            if smoke { 200 } else { 4_000 },
        ),
        inbox_connections: var("FEDFLATTR_BENCH_INBOX_CONNECTIONS", 32),
        click_connections: var("FEDFLATTR_BENCH_CLICK_CONNECTIONS", 16),
    };
    // RUST_LOG=... shows the server's own logs (e.g. `fedflattr::store::writer=debug`, a line
    // per batch with its size and timings), to see where a run's time goes.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let only = std::env::var("FEDFLATTR_BENCH_ONLY").unwrap_or_default();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        if only.is_empty() || only == "rest" {
            rest::bench(&options).await;
        }
        if only.is_empty() || only == "inbox" {
            let memory = rest::Memory::start();
            inbox::bench(&options).await;
            memory.report("inbox");
        }
        if only.is_empty() || only == "clicks" {
            let memory = rest::Memory::start();
            clicks::bench(&options).await;
            memory.report("clicks");
        }
        if only.is_empty() || only == "deliveries" {
            let memory = rest::Memory::start();
            deliveries::bench(&options).await;
            memory.report("deliveries");
        }
    });
}
