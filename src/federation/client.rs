//! The HTTP client for other servers and the federation configuration built around it.
//!
//! Outside development mode every connection goes through the library's validating resolver,
//! which refuses host names that resolve to loopback, private or link-local addresses; URLs
//! with literal IP addresses never reach a resolver, so [`guard`] checks them before any
//! fetch or delivery.

use std::net::SocketAddr;
use std::time::Duration;

use activitypub_federation::config::FederationConfig;
use activitypub_federation::resolver::ValidatingDnsResolver;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::Policy;
use url::Url;

use super::{Federation, FederationError};
use crate::config::Settings;
use crate::state::AppState;

const TIMEOUT: Duration = Duration::from_secs(10);

/// The most we read of a JSON document another server sends us (NodeInfo and its links): the
/// same 1 MiB the library allows for the actors and objects it fetches itself.
pub const JSON_LIMIT: usize = 1024 * 1024;
/// The most we read of a web page while looking for its links (they sit in `<head>`).
pub const PAGE_LIMIT: usize = 512 * 1024;

/// Reads at most `limit` bytes of `response`'s body. Stops at the limit, so a hostile server
/// sending gigabytes costs us `limit` bytes of memory and the time to read them, no more.
/// `Err` carries how much was read when the body is larger than the limit.
pub async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, ReadError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(ReadError::TooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Http)? {
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads the first `limit` bytes of `response`'s body and drops the rest unread (the
/// connection is closed): enough for a web page's `<head>`.
pub async fn read_prefix(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == limit {
            break;
        }
    }
    Ok(body)
}

/// Fetches `url` as JSON, reading at most [`JSON_LIMIT`] bytes.
pub async fn get_json(client: &reqwest::Client, url: Url) -> Result<serde_json::Value, ReadError> {
    let response = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(ReadError::Http)?;
    let body = read_limited(response, JSON_LIMIT).await?;
    serde_json::from_slice(&body).map_err(ReadError::Json)
}

/// Why a bounded read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Http(reqwest::Error),
    #[error("not JSON: {0}")]
    Json(serde_json::Error),
}

/// Development mode's resolver: `*.test` names (reserved for testing by RFC 2606) are this
/// machine, so several instances can run side by side under distinct host names without
/// editing /etc/hosts; other names resolve normally.
struct DevelopmentResolver;

impl Resolve for DevelopmentResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = if host.ends_with(".test") || host == "test" {
                vec![SocketAddr::from(([127, 0, 0, 1], 0))]
            } else {
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect()
            };
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The client every outgoing request uses: no redirects (they could not be validated), short
/// timeouts, and the SSRF guard.
pub fn build(settings: &Settings) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .redirect(Policy::none())
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .user_agent(concat!("fedflattr/", env!("CARGO_PKG_VERSION")));
    let builder = if settings.development_mode {
        builder.dns_resolver(DevelopmentResolver)
    } else {
        builder.dns_resolver(ValidatingDnsResolver::new(Vec::new(), true))
    };
    builder
        .build()
        .expect("a client with a resolver and timeouts builds")
}

/// The library's configuration for this instance. Its "domain" is `host[:port]` of the public
/// URL, which is how the library tells local URLs from remote ones.
pub async fn configure(state: AppState) -> Federation {
    let domain = host_and_port(&state.settings.base_url);
    let development = state.settings.development_mode;
    let client = state.client.clone();
    FederationConfig::builder()
        .domain(domain)
        .client(client.into())
        .debug(development)
        .allow_http_urls(development)
        .http_signature_compat(true)
        .app_data(state)
        .build()
        .await
        .expect("every field of the federation configuration has a value")
}

pub fn host_and_port(url: &Url) -> String {
    match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    }
}

/// Refuses a URL we are about to fetch or deliver to when it is not http(s), or (outside
/// development mode) not https or pointing at loopback or private addresses.
pub async fn guard(settings: &Settings, url: &Url) -> Result<(), FederationError> {
    let refuse = |reason: &str| {
        FederationError::refused(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "url_refused",
            format!("{url}: {reason}"),
        )
    };
    match url.scheme() {
        "https" => {}
        "http" if settings.development_mode => {}
        _ => return Err(refuse("only https URLs can be fetched")),
    }
    if settings.development_mode {
        return Ok(());
    }
    let host = url
        .host_str()
        .ok_or_else(|| refuse("the URL has no host"))?;
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|_| refuse("the host does not resolve"))?
        .collect();
    if addresses.is_empty() || addresses.iter().any(|a| is_private(a.ip())) {
        return Err(refuse("the host is a loopback or private address"));
    }
    Ok(())
}

/// Loopback, private, link-local, unspecified, shared (CGNAT), unique-local and documentation
/// ranges: nothing a public fediverse server lives on.
pub fn is_private(ip: std::net::IpAddr) -> bool {
    match ip.to_canonical() {
        std::net::IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || (a == 100 && (64..128).contains(&b))
                || a == 0
        }
        std::net::IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn loopback_private_and_link_local_addresses_are_private() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.4",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "fe80::1",
            "0.0.0.0",
            "100.64.0.1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn outside_development_mode_no_fetch_reaches_loopback_or_private_addresses() {
        let settings = Config::default().settings().unwrap();
        for url in [
            "http://127.0.0.1/x",
            "https://127.0.0.1/x",
            "https://[::1]/x",
            "https://10.0.0.1/",
            "https://localhost:8080/",
            "file:///etc/passwd",
        ] {
            assert!(
                guard(&settings, &Url::parse(url).unwrap()).await.is_err(),
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn development_mode_allows_local_http_explicitly() {
        let settings = Config {
            development_mode: true,
            ..Config::default()
        }
        .settings()
        .unwrap();
        assert!(
            guard(
                &settings,
                &Url::parse("http://alpha.test:8000/users/a").unwrap()
            )
            .await
            .is_ok()
        );
        assert!(
            guard(&settings, &Url::parse("ftp://alpha.test/").unwrap())
                .await
                .is_err()
        );
    }
}
