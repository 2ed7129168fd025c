//! The HTTP client for other servers and the federation configuration built around it.
//!
//! Every GET goes through the middleware of [`fetcher`] (`SignedFetch`): it is signed by the
//! instance actor (servers in Mastodon's secure mode answer nothing else), and a 401 or 403
//! answer becomes a typed [`FetchRefused`] error instead of a body that fails to parse.
//!
//! Outside development mode every connection goes through the library's validating resolver,
//! which refuses host names that resolve to loopback, private or link-local addresses; URLs
//! with literal IP addresses never reach a resolver, so [`guard`] checks them before any
//! fetch or delivery.

mod read;

use std::net::SocketAddr;
use std::time::Duration;

use activitypub_federation::config::{FederationConfig, UrlVerifier};
use activitypub_federation::resolver::ValidatingDnsResolver;
use axum::http::StatusCode;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::Policy;
use reqwest_middleware::ClientWithMiddleware;
use url::Url;

pub use read::{JSON_LIMIT, PAGE_LIMIT, ReadError, get_json, read_limited, read_prefix};

use super::signing::FetchSigner;
use super::{Federation, FederationError};
use crate::config::Settings;
use crate::state::AppState;

const TIMEOUT: Duration = Duration::from_secs(10);

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

/// A server answered one of our GETs with 401 or 403: it does not let us read the document
/// (it may require signatures we do not have, or block us).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{url} answered {status}")]
pub struct FetchRefused {
    /// The URL that was refused.
    pub url: Url,
    /// The peer's answer, 401 or 403.
    pub status: StatusCode,
}

impl FetchRefused {
    /// The refusal behind a library error, if that is what it is.
    pub fn in_library_error(error: &activitypub_federation::error::Error) -> Option<&FetchRefused> {
        match error {
            activitypub_federation::error::Error::ReqwestMiddleware(e) => Self::in_client_error(e),
            _ => None,
        }
    }

    /// The refusal behind an error of the fetching client, if that is what it is.
    pub fn in_client_error(error: &reqwest_middleware::Error) -> Option<&FetchRefused> {
        match error {
            reqwest_middleware::Error::Middleware(e) => e.downcast_ref::<FetchRefused>(),
            reqwest_middleware::Error::Reqwest(_) => None,
        }
    }
}

impl From<FetchRefused> for FederationError {
    /// The other server's refusal, said as it is: a bad gateway for us, never a parse failure.
    fn from(refused: FetchRefused) -> Self {
        FederationError::refused(
            StatusCode::BAD_GATEWAY,
            "fetch_refused",
            refused.to_string(),
        )
    }
}

/// Signs every GET with the instance actor's key and turns a 401/403 answer into
/// [`FetchRefused`].
struct SignedFetch {
    signer: FetchSigner,
}

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for SignedFetch {
    async fn handle(
        &self,
        mut request: reqwest::Request,
        extensions: &mut axum::http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        if request.method() != reqwest::Method::GET {
            return next.run(request, extensions).await;
        }
        if !request.headers().contains_key("signature") {
            self.signer
                .sign_get(&mut request)
                .map_err(reqwest_middleware::Error::middleware)?;
        }
        let url = request.url().clone();
        let response = next.run(request, extensions).await?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(reqwest_middleware::Error::middleware(FetchRefused {
                url,
                status,
            }));
        }
        Ok(response)
    }
}

/// The client for fetching documents of other servers: [`build`]'s client with signed GETs.
pub fn fetcher(client: reqwest::Client, signer: FetchSigner) -> ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(client)
        .with(SignedFetch { signer })
        .build()
}

/// Refuses, before any request, URLs of servers the admin blocked: the library asks it for
/// every activity id and every URL it fetches.
#[derive(Clone)]
struct BlockList {
    settings: std::sync::Arc<Settings>,
}

/// The reason a blocked server's URL is refused (the library's verifier speaks `&'static str`).
pub const BLOCKED: &str = "the server is blocked by this instance";

#[async_trait::async_trait]
impl UrlVerifier for BlockList {
    async fn verify(&self, url: &Url) -> Result<(), activitypub_federation::error::Error> {
        if url
            .host_str()
            .is_some_and(|host| self.settings.is_blocked_host(host))
        {
            return Err(activitypub_federation::error::Error::UrlVerificationError(
                BLOCKED,
            ));
        }
        Ok(())
    }
}

/// The library's configuration for this instance. Its "domain" is `host[:port]` of the public
/// URL, which is how the library tells local URLs from remote ones.
pub async fn configure(state: AppState) -> Federation {
    let domain = host_and_port(&state.settings.base_url);
    let development = state.settings.development_mode;
    let client = state.fetcher.clone();
    FederationConfig::builder()
        .domain(domain)
        .client(client)
        .debug(development)
        .allow_http_urls(development)
        .http_signature_compat(true)
        .url_verifier(Box::new(BlockList {
            settings: state.settings.clone(),
        }))
        .app_data(state)
        .build()
        .await
        .expect("every field of the federation configuration has a value")
}

/// `host` or `host:port` of `url` (the port only when it is not the scheme's default), as in
/// a `Host` header.
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
    if url
        .host_str()
        .is_some_and(|host| settings.is_blocked_host(host))
    {
        return Err(FederationError::refused(
            axum::http::StatusCode::FORBIDDEN,
            "blocked",
            format!("{url}: {BLOCKED}"),
        ));
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
