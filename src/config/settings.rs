//! The configuration after parsing (`Settings`): the typed values the rest of the program
//! reads, built from `Config` by `Config::settings`.

use std::net::IpAddr;

use url::Url;

use crate::domain::money::{Currency, FeeRate, Money};

/// The configuration after parsing: what the rest of the program uses.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The instance's domain name, as in handles (`alice@DOMAIN`).
    pub domain: String,
    /// The address the server listens on.
    pub bind: IpAddr,
    /// The port the server listens on.
    pub port: u16,
    /// The public URL every link and ActivityPub id is built from (`public_url` or derived).
    pub base_url: Url,
    /// Where the database is: `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
    /// The one currency every amount on this instance is in.
    pub currency: Currency,
    /// The instance's share of every spend.
    pub fee_rate: FeeRate,
    /// The smallest monthly budget a user may set.
    pub min_budget: Money,
    /// The smallest payout a user may request.
    pub payout_minimum: Money,
    /// Whether `serve` closes ended periods by itself.
    pub auto_close: bool,
    /// Seconds between the scheduler's checks for periods to close (at least 1).
    pub close_interval_secs: u64,
    /// The largest request body accepted (413 above it), the inbox included.
    pub max_body_bytes: usize,
    /// `text` or `json`.
    pub log_format: String,
    /// Plain http, loopback peers and `*.test` names allowed: for development and tests only.
    pub development_mode: bool,
    /// Seconds between runs of the delivery queue (at least 1).
    pub delivery_interval_secs: u64,
    /// Our ActivityPub documents answer only signed GETs from servers we do not block.
    pub authorized_fetch: bool,
    /// Lower-case host names, without a trailing dot.
    pub blocked_domains: Vec<String>,
    /// Seconds a delivery claim lasts without renewal (at least 2).
    pub delivery_claim_secs: u64,
    /// Whether anyone may sign up through the API.
    pub registrations_open: bool,
    /// Password hashes and key generations at once; 0 means one per CPU core.
    pub hash_concurrency: usize,
    /// How long a request waits for a hashing slot before it gets 503.
    pub hash_wait_ms: u64,
    /// Log-in attempts per client address and minute (0: no limit).
    pub login_per_minute: u32,
    /// Sign-ups per client address and hour (0: no limit).
    pub signups_per_hour: u32,
    /// Inbox deliveries per sending origin and minute (0: no limit).
    pub inbox_per_minute: u32,
    /// Remote URLs resolved per origin and minute (0: no limit).
    pub resolve_per_minute: u32,
    /// Seconds a client has to send a request's headers (at least 1).
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a request's body (at least 1).
    pub body_timeout_secs: u64,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpAddr>,
    /// Periods a share of an unproven thing stays held before it goes back to its payer.
    pub held_periods: u32,
    /// The bearer token that opens `GET /metrics` from anywhere (never empty when set).
    pub metrics_token: Option<String>,
}

impl Settings {
    /// True when `host` is a blocked domain or a subdomain of one.
    pub fn is_blocked_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.blocked_domains.iter().any(|blocked| {
            host == *blocked
                || host
                    .strip_suffix(blocked.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        })
    }
}
