//! How fast the month close is, against its floor measured in the same run, and how much
//! memory it takes.
//!
//! For each shape — N paying users × K flattrs each over T things (`seed.rs`; the data is
//! seeded and reproducible, its generation is not timed) — and each run, on a fresh database:
//! - the floor (issue 10.4): set-based SQL in the same database computing every paying user's
//!   spend and fee and every thing's earnings (`seed::FLOOR`); the bench's earlier floor, a
//!   bare join writing one row per flattr, is timed and printed beside it;
//! - the real close (`settle::close::close`, all six stages, ledger postings included), whose
//!   peak resident memory is measured by resetting the process's `VmHWM` just before it (the
//!   SQLite engine runs inside this process; PostgreSQL's runs in the server);
//! - checks, untimed: every spend, fee and thing's earnings equals the floor's, and the audit
//!   passes.
//!
//! It prints each run and, per shape, the medians with their spread and the ratio of the
//! medians. Options (environment): `FEDFLATTR_BENCH_USERS` (default 100 000),
//! `FEDFLATTR_BENCH_THINGS` (default 200 000), `FEDFLATTR_BENCH_FLATTRS` (flattrs per user, a
//! comma-separated list of shapes, default `1,3,50`), `FEDFLATTR_BENCH_RUNS` (default 3),
//! `FEDFLATTR_BENCH_SEED` (default 1), `FEDFLATTR_BENCH_DATABASE_URL` (a PostgreSQL server on
//! which each run creates, and then drops, its own `fedflattr_test_*` database; default a fresh
//! SQLite file per run). `FEDFLATTR_BENCH_SEED_ONLY=PATH` seeds the first shape into the SQLite
//! file PATH and stops (to look at plans, or to start `fedflattr serve` on it). Run:
//! `cargo bench --bench close`; `.ci/run` runs a smoke size.

// Test and bench code: a failed unwrap is a failed run with its reason, which is what we want
// here; `allow-unwrap-in-tests` covers only `#[test]` functions, not the shared helpers.
#![allow(clippy::unwrap_used)]

#[path = "../../tests/common/mod.rs"]
mod common;
mod seed;

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use fedflattr::domain::money::FeeRate;
use fedflattr::domain::period::Period;
use fedflattr::ledger::audit;
use fedflattr::settle::close::{CloseOptions, CloseRules, close};
use fedflattr::store::Store;
use rust_decimal::Decimal;
use seed::Shape;

/// What one run measured.
struct Run {
    bare_join: Duration,
    floor: Duration,
    close: Duration,
    /// This process's CPU time (user + system) in the floor and in the close: on SQLite the
    /// engine runs in this process, and on a shared machine its CPU time is the steadier
    /// measure (zero-ish on PostgreSQL, whose work is the server's).
    floor_cpu: f64,
    close_cpu: f64,
    /// The process's resident memory just before the close, in MB.
    rss_before: f64,
    /// Its peak during the close (`VmHWM`, reset before it), in MB.
    rss_peak: f64,
}

fn option(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} must be a number"))
        })
        .unwrap_or(default)
}

fn main() {
    let users = option("FEDFLATTR_BENCH_USERS", 100_000);
    let things = option("FEDFLATTR_BENCH_THINGS", 200_000);
    let runs = option("FEDFLATTR_BENCH_RUNS", 3);
    let seed = option("FEDFLATTR_BENCH_SEED", 1);
    let shapes: Vec<i64> = std::env::var("FEDFLATTR_BENCH_FLATTRS")
        .unwrap_or_else(|_| "1,3,50".into())
        .split(',')
        .map(|k| k.trim().parse().expect("FEDFLATTR_BENCH_FLATTRS: numbers"))
        .collect();
    let server = std::env::var("FEDFLATTR_BENCH_DATABASE_URL").ok();
    if std::env::var("RUST_LOG").is_ok() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if let Ok(path) = std::env::var("FEDFLATTR_BENCH_SEED_ONLY") {
        let shape = Shape {
            users,
            things,
            per_user: shapes[0],
            seed,
        };
        runtime.block_on(async {
            let store = Store::connect(&format!("sqlite://{path}")).await.unwrap();
            store.migrate().await.unwrap();
            seed::seed(&store, shape).await;
        });
        return;
    }
    let mut summary = Vec::new();
    for per_user in shapes {
        let shape = Shape {
            users,
            things,
            per_user,
            seed,
        };
        let mut results = Vec::new();
        for _ in 0..runs {
            results.push(runtime.block_on(one_run(server.as_deref(), shape)));
        }
        summary.push((shape, results));
    }
    println!();
    println!(
        "| shape | bare join | floor | close | close/floor | CPU floor / close (this process) | RSS before → peak in the close |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (shape, results) in &summary {
        let floor = spread(results.iter().map(|r| r.floor.as_secs_f64()));
        let close = spread(results.iter().map(|r| r.close.as_secs_f64()));
        let before = spread(results.iter().map(|r| r.rss_before));
        let peak = spread(results.iter().map(|r| r.rss_peak));
        let floor_cpu = spread(results.iter().map(|r| r.floor_cpu));
        let close_cpu = spread(results.iter().map(|r| r.close_cpu));
        println!(
            "| {} × {} over {} things, {} runs | {} | {} | {} | {:.2} | {} / {} | {} → {} MB |",
            shape.users,
            shape.per_user,
            shape.things,
            results.len(),
            seconds(&spread(results.iter().map(|r| r.bare_join.as_secs_f64()))),
            seconds(&floor),
            seconds(&close),
            close.median / floor.median,
            seconds(&floor_cpu),
            seconds(&close_cpu),
            megabytes(&before),
            megabytes(&peak),
        );
    }
}

/// The median of some measurements and their range.
struct Spread {
    median: f64,
    min: f64,
    max: f64,
}

fn spread(values: impl Iterator<Item = f64>) -> Spread {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    let median = if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    };
    Spread {
        median,
        min: values[0],
        max: values[values.len() - 1],
    }
}

fn seconds(s: &Spread) -> String {
    format!("{:.3} s ({:.3}–{:.3})", s.median, s.min, s.max)
}

fn megabytes(s: &Spread) -> String {
    format!("{:.1} ({:.1}–{:.1})", s.median, s.min, s.max)
}

async fn one_run(server: Option<&str>, shape: Shape) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let url = common::database::fresh_database_on(server, dir.path()).await;
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let started = Instant::now();
    seed::seed(&store, shape).await;
    println!(
        "{}: {} paying users × {} flattrs over {} things; seeded in {:.1?}",
        store.backend_name(),
        shape.users,
        shape.per_user,
        shape.things,
        started.elapsed()
    );

    let bare_join = time(|| execute(&store, &[seed::BARE_JOIN])).await;
    let cpu = cpu_seconds();
    let floor = time(|| execute(&store, &seed::FLOOR)).await;
    let floor_cpu = cpu_seconds() - cpu;

    let rate = FeeRate::parse("fee", Decimal::new(1, 1)).unwrap();
    let period = Period::parse("2026-10").unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 1, 0, 1, 0).unwrap();
    let rules = CloseRules {
        fee_rate: rate,
        held_periods: 3,
    };
    let rss_before = memory("VmRSS");
    // Writing 5 to clear_refs resets the peak (VmHWM) to the current RSS (Linux ≥ 4.0).
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let cpu = cpu_seconds();
    let started = Instant::now();
    let report = close(&store, period, rules, now, CloseOptions::default())
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let close_cpu = cpu_seconds() - cpu;
    let rss_peak = memory("VmHWM");

    assert_eq!(report.users_charged, shape.users);
    assert_eq!(report.flattrs, shape.users * shape.per_user);
    for sql in seed::DISAGREEMENTS {
        let wrong: i64 = sqlx::query_scalar(sql)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(wrong, 0, "the close and the floor disagree: {sql}");
    }
    let audit = audit::run(store.pool()).await.unwrap();
    assert!(audit.ok, "{audit:?}");
    println!(
        "  bare join {bare_join:.2?}, floor {floor:.2?}, close {elapsed:.2?} ({:.2}× the floor), \
         spent {}, fees {}, held {}; CPU floor {floor_cpu:.2} s, close {close_cpu:.2} s; \
         RSS {rss_before:.1} MB → peak {rss_peak:.1} MB",
        elapsed.as_secs_f64() / floor.as_secs_f64(),
        report.spent,
        report.fees,
        report.held,
    );
    store.close().await;
    if let Some(server) = server {
        // A 5 000 000-flattr database per run would fill the disk.
        common::database::drop_database(server, &url).await;
    }
    Run {
        bare_join,
        floor,
        close: elapsed,
        floor_cpu,
        close_cpu,
        rss_before,
        rss_peak,
    }
}

async fn execute(store: &Store, statements: &[&str]) {
    for sql in statements {
        sqlx::query(sqlx::AssertSqlSafe(*sql))
            .execute(store.pool())
            .await
            .unwrap();
    }
}

/// This process's CPU time so far, user and system (`/proc/self/stat`, in clock ticks of
/// 1/100 s on Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// A line of `/proc/self/status` (`VmRSS`, `VmHWM`) in MB.
fn memory(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kb: f64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

async fn time<F, Fut>(f: F) -> Duration
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = Instant::now();
    f().await;
    started.elapsed()
}
