//! At rest and under stress (issue 10.5): the `fedflattr serve` binary's time to ready and
//! idle memory, and this bench process's memory around each hot-path run.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Options, common, wrk};

/// A `kB` line of /proc/PID/status (`VmRSS:`, `VmHWM:`) in MB; `None` once the process is gone.
fn memory_mb(pid: &str, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix(field))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// This process's resident memory before a hot-path run, with its peak reset so that the
/// peak read by [`Memory::report`] is the run's own.
pub struct Memory {
    before: f64,
}

impl Memory {
    /// Reads the resident memory now and resets the peak (`VmHWM`) to it.
    pub fn start() -> Memory {
        let before = memory_mb("self", "VmRSS:").unwrap_or(0.0);
        // Writing 5 to clear_refs resets the peak to the current RSS (Linux ≥ 4.0).
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        Memory { before }
    }

    /// Prints the resident memory before the run, after it, and its peak in between.
    pub fn report(self, run: &str) {
        println!(
            "memory ({run}): bench process VmRSS {:.1} MB before, {:.1} MB after, peak VmHWM {:.1} MB",
            self.before,
            memory_mb("self", "VmRSS:").unwrap_or(0.0),
            memory_mb("self", "VmHWM:").unwrap_or(0.0),
        );
    }
}

/// A `fedflattr serve` child process on its own port and database.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(dir: &std::path::Path, database_url: &str, port: u16) -> Server {
    let binary = std::env::var("FEDFLATTR_BENCH_BINARY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_fedflattr").to_owned());
    let mut command = Command::new(binary);
    command.arg("serve").current_dir(dir);
    // The server refuses unknown `FEDFLATTR_*` settings: the bench's own must not reach it.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("FEDFLATTR_") {
            command.env_remove(name);
        }
    }
    command
        .env("FEDFLATTR_PORT", port.to_string())
        .env("FEDFLATTR_DATABASE_URL", database_url)
        .env("FEDFLATTR_AUTO_CLOSE", "false")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Server {
        child: command.spawn().expect("start fedflattr serve"),
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// Starts the server and polls `/healthz` (which answers once the database does) every
/// 5 ms; the time from spawning the process to the first 200.
async fn start(dir: &std::path::Path, database_url: &str) -> (Server, Duration) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let started = Instant::now();
    let mut server = spawn(dir, database_url, port);
    while started.elapsed() < Duration::from_secs(60) {
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!("fedflattr serve exited with {status}");
        }
        let health = client.get(format!("{}/healthz", server.base)).send().await;
        if health.is_ok_and(|r| r.status().is_success()) {
            return (server, started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("fedflattr serve did not become ready within 60 s");
}

/// The binary's time to ready on a new database (migrations included) and on the same
/// database again, and its idle memory two seconds after it became ready.
pub async fn bench(options: &Options) {
    let (mut fresh, mut again, mut idle, mut peak) = (vec![], vec![], vec![], vec![]);
    let server_url = common::database::postgres_server();
    let mut backend = "SQLite";
    for _ in 0..options.runs {
        let dir = tempfile::tempdir().unwrap();
        let url = common::database::fresh_database_on(server_url.as_deref(), dir.path()).await;
        if url.starts_with("postgres") {
            backend = "PostgreSQL";
        }
        let (server, ready) = start(dir.path(), &url).await;
        fresh.push(ready.as_secs_f64() * 1000.0);
        drop(server);
        let (server, ready) = start(dir.path(), &url).await;
        again.push(ready.as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let pid = server.child.id().to_string();
        idle.push(memory_mb(&pid, "VmRSS:").unwrap_or(0.0));
        peak.push(memory_mb(&pid, "VmHWM:").unwrap_or(0.0));
        drop(server);
        if let Some(server_url) = &server_url {
            crate::common::database::drop_database(server_url, &url).await;
        }
    }
    println!("at rest: the fedflattr serve binary, {backend}");
    let line = |name: &str, values: &[f64], unit: &str| {
        let (median, low, high) = wrk::median(values);
        println!(
            "{name:<46} {median:>9.1} {unit} (spread {low:.1}–{high:.1}, {} runs)",
            values.len()
        );
    };
    line("time to ready, new database (migrations)", &fresh, "ms");
    line("time to ready, migrated database", &again, "ms");
    line("idle VmRSS, 2 s after ready", &idle, "MB");
    line("peak VmHWM by then", &peak, "MB");
}
