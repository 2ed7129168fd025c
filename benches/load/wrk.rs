//! Driving Debian's `wrk` (a load generator nobody here wrote) with a Lua script, reading its
//! figures back, and the medians and spreads of several runs.

use std::path::Path;
use std::process::Command;

/// What one wrk run reported.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// Requests per second over the run.
    pub rate: f64,
    /// Total requests answered.
    pub requests: u64,
    /// Answers that were not 2xx or 3xx.
    pub non_2xx: u64,
    /// Latency percentiles, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
}

/// Runs `wrk` against `url` with `script` and `args` (after `--`).
pub fn run(url: &str, script: &Path, connections: u32, seconds: u32, args: &[String]) -> Run {
    let output = Command::new("wrk")
        .arg("-t2")
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("--latency")
        .arg("-s")
        .arg(script)
        .arg(url)
        .arg("--")
        .args(args)
        .output()
        .expect("wrk runs (apt-get install wrk)");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "wrk failed: {text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let number_after = |label: &str| -> Option<f64> {
        let line = text.lines().find(|l| l.trim_start().starts_with(label))?;
        let value = line.trim_start()[label.len()..].split_whitespace().next()?;
        Some(parse_quantity(value))
    };
    Run {
        rate: number_after("Requests/sec:").unwrap_or(0.0),
        requests: text
            .lines()
            .find(|l| l.contains("requests in"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        non_2xx: number_after("Non-2xx or 3xx responses:").unwrap_or(0.0) as u64,
        p50_ms: number_after("50%").unwrap_or(f64::NAN),
        p99_ms: number_after("99%").unwrap_or(f64::NAN),
    }
}

/// `12.5ms`, `1.2s`, `850us`, `3.4k` as milliseconds (durations) or plain numbers.
fn parse_quantity(text: &str) -> f64 {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => number / 1000.0,
        "ms" | "" => number,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        "k" => number * 1000.0,
        _ => number,
    }
}

/// The median and the spread (min–max) of `values`.
pub fn median(values: &[f64]) -> (f64, f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    let median = if sorted.len().is_multiple_of(2) && !sorted.is_empty() {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted.get(mid).copied().unwrap_or(f64::NAN)
    };
    (
        median,
        sorted.first().copied().unwrap_or(f64::NAN),
        sorted.last().copied().unwrap_or(f64::NAN),
    )
}

/// One line of the report: `name: median/s (min–max), p99 median ms`.
pub fn report(name: &str, runs: &[Run]) -> (f64, f64) {
    let (rate, low, high) = median(&runs.iter().map(|r| r.rate).collect::<Vec<_>>());
    let (p99, p99_low, p99_high) = median(&runs.iter().map(|r| r.p99_ms).collect::<Vec<_>>());
    let (p50, ..) = median(&runs.iter().map(|r| r.p50_ms).collect::<Vec<_>>());
    let non_2xx: u64 = runs.iter().map(|r| r.non_2xx).sum();
    println!(
        "{name:<46} {rate:>9.0}/s (spread {low:.0}–{high:.0}, {} runs), p50 {p50:.2} ms, p99 {p99:.2} ms ({p99_low:.2}–{p99_high:.2}), non-2xx {non_2xx}",
        runs.len()
    );
    (rate, p99)
}

/// The Lua script that replays pre-made raw requests from `file` (`LENGTH\n` + that many
/// bytes each), each wrk thread taking every n-th one, round and round.
pub const REPLAY_LUA: &str = r#"
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  requests = {}
  local f = assert(io.open(args[1], "rb"))
  local threads = tonumber(args[2])
  local i = 0
  while true do
    local line = f:read("*l")
    if not line then break end
    local body = f:read(tonumber(line))
    if i % threads == tid then requests[#requests + 1] = body end
    i = i + 1
  end
  f:close()
  n = 0
end
function request()
  n = n + 1
  if n > #requests then n = 1 end
  return requests[n]
end
"#;

/// Writes raw requests in the format [`REPLAY_LUA`] reads.
pub fn write_requests(path: &Path, requests: &[Vec<u8>]) {
    use std::io::Write;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for request in requests {
        writeln!(file, "{}", request.len()).unwrap();
        file.write_all(request).unwrap();
    }
    file.flush().unwrap();
}
