//! Typed configuration: defaults, then `fedflattr.toml` (optional), then `FEDFLATTR_*`
//! environment variables. Loaded once in `main` and passed down; there are no globals.

mod read;
mod settings;

use std::net::IpAddr;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use url::Url;

pub use read::DecimalText;
use read::{decimal_environment, describe};
pub use settings::Settings;

use crate::domain::ParseError;
use crate::domain::money::{Currency, FeeRate, Money};

/// The configuration as written by the admin.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The instance's domain name: it appears in handles (`alice@DOMAIN`) and URLs.
    pub domain: String,
    /// Address to listen on.
    pub bind: IpAddr,
    /// Port to listen on.
    pub port: u16,
    /// The URL people and peers reach the instance at. Default: `http://localhost:PORT` for the
    /// domain `localhost`, `https://DOMAIN` otherwise (behind a TLS-terminating proxy).
    pub public_url: Option<String>,
    /// `sqlite://PATH` (the default, created on first start) or `postgres://…`.
    pub database_url: String,
    /// ISO 4217 code of the one currency the instance keeps its books in, e.g. `EUR`.
    pub currency: String,
    /// The instance's share of every spend, between 0 and 1.
    pub fee_rate: DecimalText,
    /// The smallest monthly budget a user may set.
    pub min_budget: DecimalText,
    /// The smallest payout a user may request (Flattr's was 10.00).
    pub payout_minimum: DecimalText,
    /// Close ended periods automatically while serving.
    pub auto_close: bool,
    /// Seconds between checks for periods to close.
    pub close_interval_secs: u64,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// `text` for people, `json` for log collectors.
    pub log_format: String,
    /// For development and tests only: allows plain http, loopback and private addresses for
    /// federation, and resolves `*.test` host names to 127.0.0.1.
    pub development_mode: bool,
    /// Seconds between runs of the delivery queue.
    pub delivery_interval_secs: u64,
    /// Answer the ActivityPub documents of users, things, likes and outboxes only to GETs
    /// signed by an actor of a server we do not block (Mastodon's "secure mode").
    pub authorized_fetch: bool,
    /// Servers we do not talk to: their signed GETs and inbox activities are refused (403) and
    /// nothing is fetched from or delivered to them. A name blocks its subdomains too.
    pub blocked_domains: Vec<String>,
    /// Seconds a worker's claim on a delivery lasts without renewal. The worker renews it
    /// every third of that while it sends; a worker that died loses it after this long.
    pub delivery_claim_secs: u64,
    /// Whether anyone may sign up (`POST /api/v1/users`); admins can always create users.
    pub registrations_open: bool,
    /// Password hashes and key generations computed at once; 0 means one per CPU core.
    pub hash_concurrency: usize,
    /// How long a log-in or sign-up waits for a free hashing slot before it is answered 503.
    pub hash_wait_ms: u64,
    /// Log-in attempts per client address and minute (0: no limit).
    pub login_per_minute: u32,
    /// Sign-ups per client address and hour (0: no limit).
    pub signups_per_hour: u32,
    /// Deliveries to our inboxes per sending origin and minute (0: no limit).
    pub inbox_per_minute: u32,
    /// Remote URLs resolved per origin and minute when users flattr them (0: no limit).
    pub resolve_per_minute: u32,
    /// Seconds a client has to send a request's headers.
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a request's body.
    pub body_timeout_secs: u64,
    /// Peers (reverse proxies) whose `X-Forwarded-For` names the client; empty: the client is
    /// always the connection's peer address.
    pub trusted_proxies: Vec<IpAddr>,
    /// Periods a share of a flattr of an unproven thing stays held before it goes back to the
    /// payer's wallet (a share of P is returned by the close of P + `held_periods`).
    pub held_periods: u32,
    /// The bearer token that opens `GET /metrics` from anywhere; unset, only a direct local
    /// connection (loopback, no forwarding header) may read it.
    pub metrics_token: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            domain: "localhost".into(),
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 8080,
            public_url: None,
            database_url: "sqlite://data/fedflattr.db".into(),
            currency: "EUR".into(),
            fee_rate: DecimalText(Decimal::new(10, 2)),
            min_budget: DecimalText(Decimal::new(200, 2)),
            payout_minimum: DecimalText(Decimal::new(1000, 2)),
            auto_close: true,
            close_interval_secs: 60,
            max_body_bytes: 64 * 1024,
            log_format: "text".into(),
            development_mode: false,
            delivery_interval_secs: 5,
            authorized_fetch: false,
            blocked_domains: Vec::new(),
            delivery_claim_secs: 120,
            registrations_open: true,
            hash_concurrency: 0,
            hash_wait_ms: 2000,
            login_per_minute: 10,
            signups_per_hour: 10,
            inbox_per_minute: 600,
            resolve_per_minute: 60,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            trusted_proxies: Vec::new(),
            held_periods: 3,
            metrics_token: None,
        }
    }
}

/// Why the configuration cannot be used; the message is meant for the admin.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value that cannot be read, described with its key, its value and where it came from.
    #[error("configuration: {0}")]
    Read(String),
    #[error(
        "configuration file {0} does not exist (named by --config or FEDFLATTR_CONFIG); \
         without either, ./fedflattr.toml is read when present"
    )]
    /// The file named by `--config` or `FEDFLATTR_CONFIG` is not there.
    MissingFile(String),
    /// A value that was read but is not allowed (a fee above 1, an unknown currency, …).
    #[error("configuration: {0}")]
    Invalid(#[from] ParseError),
}

impl Config {
    /// Reads defaults, then the file (`path`, or `fedflattr.toml` when present), then the
    /// environment.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        // A file the admin named must be there: silently running on defaults would point the
        // admin commands at another database.
        if let Some(path) = path.filter(|p| !p.is_file()) {
            let shown = std::path::absolute(path).unwrap_or_else(|_| path.into());
            return Err(ConfigError::MissingFile(shown.display().to_string()));
        }
        let file = path.unwrap_or_else(|| Path::new("fedflattr.toml"));
        let figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            // FEDFLATTR_CONFIG names the file itself (see cli.rs); FEDFLATTR_TEST_DATABASE_URL
            // belongs to the test suite. Neither is a setting.
            .merge(Env::prefixed("FEDFLATTR_").ignore(&[
                "CONFIG",
                "TEST_DATABASE_URL",
                "FEE_RATE",
                "MIN_BUDGET",
                "PAYOUT_MINIMUM",
            ]))
            .merge(decimal_environment());
        figment
            .extract()
            .map_err(|e| ConfigError::Read(describe(&figment, e)))
    }

    /// Checks every value and derives the rest (the public URL, lower-case blocked domains,
    /// the floors of the intervals).
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let base_url = match &self.public_url {
            Some(url) => {
                Url::parse(url).map_err(|e| ParseError::new("public_url", e.to_string()))?
            }
            None if self.domain == "localhost" => {
                Url::parse(&format!("http://localhost:{}", self.port))
                    .map_err(|e| ParseError::new("port", e.to_string()))?
            }
            None => Url::parse(&format!("https://{}", self.domain))
                .map_err(|e| ParseError::new("domain", e.to_string()))?,
        };
        // Ten years: the held shares' cutoff is counted back period by period at each close.
        if self.held_periods > 120 {
            return Err(ParseError::new("held_periods", "must be at most 120 (periods)").into());
        }
        if self
            .metrics_token
            .as_ref()
            .is_some_and(|t| !t.is_empty() && t.len() < 16)
        {
            return Err(ParseError::new("metrics_token", "must be at least 16 characters").into());
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(ParseError::new("log_format", "must be text or json").into());
        }
        Ok(Settings {
            domain: self.domain.clone(),
            bind: self.bind,
            port: self.port,
            base_url,
            database_url: self.database_url.clone(),
            currency: Currency::parse(&self.currency)?,
            fee_rate: FeeRate::parse("fee_rate", self.fee_rate.0)?,
            min_budget: Money::from_payable_decimal("min_budget", self.min_budget.0)?,
            payout_minimum: Money::from_payable_decimal("payout_minimum", self.payout_minimum.0)?,
            auto_close: self.auto_close,
            close_interval_secs: self.close_interval_secs.max(1),
            max_body_bytes: self.max_body_bytes,
            log_format: self.log_format.clone(),
            development_mode: self.development_mode,
            delivery_interval_secs: self.delivery_interval_secs.max(1),
            authorized_fetch: self.authorized_fetch,
            blocked_domains: self
                .blocked_domains
                .iter()
                .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
                .filter(|d| !d.is_empty())
                .collect(),
            // Claims are kept in whole seconds: below 2 a renewal could come too late.
            delivery_claim_secs: self.delivery_claim_secs.max(2),
            registrations_open: self.registrations_open,
            hash_concurrency: self.hash_concurrency,
            hash_wait_ms: self.hash_wait_ms,
            login_per_minute: self.login_per_minute,
            signups_per_hour: self.signups_per_hour,
            inbox_per_minute: self.inbox_per_minute,
            resolve_per_minute: self.resolve_per_minute,
            header_timeout_secs: self.header_timeout_secs.max(1),
            body_timeout_secs: self.body_timeout_secs.max(1),
            trusted_proxies: self.trusted_proxies.clone(),
            held_periods: self.held_periods,
            metrics_token: self.metrics_token.clone().filter(|t| !t.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_a_working_local_instance() {
        let settings = Config::default().settings().unwrap();
        assert_eq!(settings.base_url.as_str(), "http://localhost:8080/");
        assert_eq!(settings.fee_rate.parts(), 1000);
        assert_eq!(settings.min_budget.to_string(), "2.00");
        assert_eq!(settings.currency.as_str(), "EUR");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own large error type
    fn the_file_and_the_environment_override_defaults_exactly() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "fedflattr.toml",
                "domain = \"flattr.example\"\nfee_rate = \"0.075\"",
            )?;
            jail.set_env("FEDFLATTR_MIN_BUDGET", "5.5");
            jail.set_env("FEDFLATTR_PORT", "9000");
            jail.set_env("FEDFLATTR_PAYOUT_MINIMUM", "12.34");
            let settings = Config::load(None).unwrap().settings().unwrap();
            assert_eq!(settings.base_url.as_str(), "https://flattr.example/");
            assert_eq!(settings.fee_rate.parts(), 750);
            assert_eq!(settings.min_budget.to_string(), "5.50");
            assert_eq!(settings.port, 9000);
            assert_eq!(settings.payout_minimum.to_string(), "12.34");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own large error type
    fn decimals_written_as_toml_floats_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("fedflattr.toml", "fee_rate = 0.075")?;
            let error = Config::load(None).unwrap_err().to_string();
            assert!(error.contains("as a string"), "{error}");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own large error type
    fn blocked_domains_come_from_the_file_or_the_environment_and_cover_subdomains() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("fedflattr.toml", "blocked_domains = [\"Spam.Example.\"]")?;
            let settings = Config::load(None).unwrap().settings().unwrap();
            assert!(settings.is_blocked_host("spam.example"));
            assert!(settings.is_blocked_host("www.spam.example"));
            assert!(!settings.is_blocked_host("notspam.example"));
            assert!(!settings.authorized_fetch);
            jail.set_env(
                "FEDFLATTR_BLOCKED_DOMAINS",
                "[\"a.example\", \"b.example\"]",
            );
            jail.set_env("FEDFLATTR_AUTHORIZED_FETCH", "true");
            let settings = Config::load(None).unwrap().settings().unwrap();
            assert!(settings.is_blocked_host("b.example"));
            assert!(!settings.is_blocked_host("spam.example"));
            assert!(settings.authorized_fetch);
            Ok(())
        });
    }

    #[test]
    fn a_fee_above_one_is_refused() {
        let config = Config {
            fee_rate: DecimalText(Decimal::new(15, 1)),
            ..Config::default()
        };
        assert!(config.settings().is_err());
    }
}
