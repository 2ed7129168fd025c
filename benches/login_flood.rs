//! How much memory a flood of wrong-password log-ins costs the real server.
//!
//! Starts the `fedflattr` binary as a child process (SQLite in a temporary directory), signs
//! up one user, then keeps `FEDFLATTR_BENCH_CONNECTIONS` (default 200) log-ins with a wrong
//! password in flight until `FEDFLATTR_BENCH_REQUESTS` (default 4 000) were answered. Prints
//! the answers by status and the server's resident memory (`VmRSS`, and the peak `VmHWM`)
//! from /proc before and after. Runs twice: with the default settings (the per-address log-in
//! limit answers most of the flood with 429 before any hashing), and with that limit off, so
//! that only the bound on concurrent hashing (one per core) keeps memory flat.
//! Run: `cargo bench --bench login_flood`.

// Test and bench code: a failed unwrap is a failed run with its reason, which is what we want
// here; `allow-unwrap-in-tests` covers only `#[test]` functions, not the shared helpers.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `kB` value of `field` in /proc/PID/status.
fn memory_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(extra: &[(&str, &str)]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let binary = std::env::var("FEDFLATTR_BENCH_BINARY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_fedflattr").to_owned());
    let errors = dir.path().join("serve.log");
    let mut command = Command::new(binary);
    command.arg("serve").current_dir(dir.path());
    // The server reads every `FEDFLATTR_*` variable as a setting and refuses unknown ones: the
    // bench's own (`FEDFLATTR_BENCH_REQUESTS`, …) or a developer's must not reach it.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("FEDFLATTR_") {
            command.env_remove(name);
        }
    }
    command
        .env("FEDFLATTR_PORT", port.to_string())
        .env("FEDFLATTR_AUTO_CLOSE", "false")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&errors).unwrap());
    for (name, value) in extra {
        command.env(name, value);
    }
    let mut server = Server {
        child: command.spawn().expect("start fedflattr serve"),
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    // A request that connects while the server is still migrating waits for it, but never
    // longer than this.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let why = |server: &Server| {
        let errors = std::fs::read_to_string(&errors).unwrap_or_default();
        format!("{} (its errors: {errors:?})", server.base)
    };
    for _ in 0..600 {
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!("fedflattr serve exited with {status}: {}", why(&server));
        }
        if client
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not come up: {}", why(&server));
}

async fn flood(label: &str, extra: &[(&str, &str)]) {
    let connections = setting("FEDFLATTR_BENCH_CONNECTIONS", 200);
    let requests = setting("FEDFLATTR_BENCH_REQUESTS", 4_000);
    let server = start(extra).await;
    let pid = server.child.id();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap();
    let signed_up = client
        .post(format!("{}/api/v1/users", server.base))
        .json(&json!({"username": "alice", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 201);
    let before = memory_kb(pid, "VmRSS:");

    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..connections {
        let client = client.clone();
        let url = format!("{}/api/v1/tokens", server.base);
        let next = next.clone();
        workers.push(tokio::spawn(async move {
            let mut statuses = BTreeMap::<String, usize>::new();
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let status = match client
                    .post(&url)
                    .json(&json!({"username": "alice", "password": "wrong horse"}))
                    .send()
                    .await
                {
                    Ok(response) => response.status().as_u16().to_string(),
                    Err(_) => "error".to_owned(),
                };
                *statuses.entry(status).or_default() += 1;
            }
            statuses
        }));
    }
    let mut statuses = BTreeMap::<String, usize>::new();
    for worker in workers {
        for (status, count) in worker.await.unwrap() {
            *statuses.entry(status).or_default() += count;
        }
    }
    let elapsed = started.elapsed();
    let after = memory_kb(pid, "VmRSS:");
    let peak = memory_kb(pid, "VmHWM:");
    println!(
        "{label}: {requests} wrong-password log-ins, {connections} in flight, answered in {:.1} s",
        elapsed.as_secs_f64()
    );
    println!("  answers: {statuses:?}");
    println!(
        "  server memory: {:.1} MB before, {:.1} MB after, peak {:.1} MB (VmHWM)",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        peak as f64 / 1024.0
    );
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        flood("default settings", &[]).await;
        flood(
            "per-address limit off (hashing bound only)",
            &[("FEDFLATTR_LOGIN_PER_MINUTE", "0")],
        )
        .await;
    });
}
