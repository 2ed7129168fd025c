//! The durable-write floor of this machine: how long one `fsync` of a 4 KiB write takes in the
//! temporary directory the bench's databases live in. Every batch of the group-commit writer
//! waits for one such flush before it answers, so `wrk -cN` connections, each waiting for its
//! own request's commit, can have at most about N ÷ (one flush) requests per second answered
//! (fewer when a request misses a batch and waits for the next). Printed beside the clicks and
//! the inbox so that their rates can be read against the disk they ran on; on PostgreSQL, the
//! server's own commit rate beside it (`report_postgres`).

use std::io::Write;
use std::os::unix::fs::FileExt;

/// How many flushes are timed.
const FLUSHES: usize = 200;

/// The median and 90th percentile of one 4 KiB write and its `fsync`, in milliseconds.
pub fn measure() -> (f64, f64) {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(&[0u8; 16 * 4096]).unwrap();
    file.as_file().sync_all().unwrap();
    let mut took = Vec::with_capacity(FLUSHES);
    for n in 0..FLUSHES {
        let started = std::time::Instant::now();
        file.as_file()
            .write_all_at(&[n as u8; 4096], (n % 16) as u64 * 4096)
            .unwrap();
        file.as_file().sync_data().unwrap();
        took.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    took.sort_by(f64::total_cmp);
    (took[FLUSHES / 2], took[FLUSHES * 9 / 10])
}

/// Prints the floor for `connections` connections waiting for their commits.
pub fn report(connections: u32) {
    let (median, p90) = measure();
    println!(
        "{:<50} {median:.2} ms (p90 {p90:.2} ms): at most ~{:.0}/s for {connections} connections each waiting for a flush",
        "flush floor (4 KiB write + fdatasync, same disk)",
        f64::from(connections) * 1000.0 / median,
    );
}

/// PostgreSQL's own durable floor, in the run's database: `connections` clients, each
/// committing one-row `INSERT`s (one WAL flush per commit, as every batch of ours waits for)
/// as fast as it can for two seconds, as `pgbench` would with a one-insert script. Prints the
/// commits per second and their median latency: a rate of our durable writes below this is
/// bound by the server's flushes, not by our code. Nothing on SQLite (its floor is the flush
/// above).
pub async fn report_postgres(database_url: &str, connections: u32) {
    if !database_url.starts_with("postgres") {
        return;
    }
    // PostgreSQL's default allows 100 connections: more clients than that share them.
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(connections.min(64))
        .connect(database_url)
        .await
        .unwrap();
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS commit_floor
         (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, actor TEXT NOT NULL, at BIGINT NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let clients: Vec<_> = (0..connections)
        .map(|client| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut took = Vec::new();
                while std::time::Instant::now() < until {
                    let started = std::time::Instant::now();
                    sqlx::query("INSERT INTO commit_floor (actor, at) VALUES ($1, $2)")
                        .bind(format!("https://floor.example/{client}"))
                        .bind(took.len() as i64)
                        .execute(&pool)
                        .await
                        .unwrap();
                    took.push(started.elapsed().as_secs_f64() * 1000.0);
                }
                took
            })
        })
        .collect();
    let mut took = Vec::new();
    for client in clients {
        took.extend(client.await.unwrap());
    }
    took.sort_by(f64::total_cmp);
    println!(
        "{:<50} {:.0}/s, p50 {:.2} ms: PostgreSQL's own durable floor for {connections} clients",
        "commit floor (one-row INSERT per commit)",
        took.len() as f64 / 2.0,
        took[took.len() / 2],
    );
    sqlx::query("DROP TABLE commit_floor")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}
