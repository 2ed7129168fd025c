//! Who owns a URL: the pure rules of proofs. A local thing pays its owner only once proven —
//! its page links back with `rel="payment"` to the owner's profile or to the thing's page here,
//! or its URL is under a domain the owner verified. No I/O here; fetching the page and the
//! `.well-known` file is `federation::examine`'s, deciding and recording is `proving`'s.

use url::{Host, Url};

use super::ParseError;

/// Where a user publishes the token that verifies a domain: `SCHEME://DOMAIN/.well-known/fedflattr`.
pub const WELL_KNOWN_PATH: &str = "/.well-known/fedflattr";

/// How a thing was proven, as stored in `things.proof` and shown in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// Its page links back with `rel="payment"` to the owner or to the thing's page here.
    PaymentLink,
    /// Its URL is under a domain its owner verified.
    VerifiedDomain,
}

impl Proof {
    /// The name stored and shown: `payment_link` or `verified_domain`.
    pub fn as_str(self) -> &'static str {
        match self {
            Proof::PaymentLink => "payment_link",
            Proof::VerifiedDomain => "verified_domain",
        }
    }
}

/// A domain a user may verify: a lower-case host name with at least one dot (no IP address,
/// no user, no path), optionally with a port (`blog.example`, `blog.test:8080`). A thing's URL
/// is under it when the URL's host and explicit port are exactly these (no subdomains: each
/// host is verified on its own, as each may be somebody else's).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Domain(String);

impl Domain {
    /// Parses what a user typed (`Blog.Example`, `blog.example:8443`), refusing anything that
    /// is not just a host name and an optional port.
    pub fn parse(text: &str) -> Result<Domain, ParseError> {
        let text = text.trim().trim_end_matches('.');
        let invalid = || {
            ParseError::new(
                "domain",
                format!(
                    "{text:?} is not a domain name such as blog.example (optionally with :PORT)"
                ),
            )
        };
        if text.is_empty() || text.len() > 253 || text.contains(['/', '@', '?', '#', '\\']) {
            return Err(invalid());
        }
        let url = Url::parse(&format!("http://{text}/")).map_err(|_| invalid())?;
        Domain::of_url(&url).ok_or_else(invalid)
    }

    /// The domain of a URL's host and explicit port, when its host is a name (not an address)
    /// with at least one dot.
    pub fn of_url(url: &Url) -> Option<Domain> {
        let Some(Host::Domain(host)) = url.host() else {
            return None;
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let labels_ok = host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        if !host.contains('.') || !labels_ok {
            return None;
        }
        Some(Domain(match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        }))
    }

    /// The domain as text: `host` or `host:port`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where the verification token must be published. https, except in development mode
    /// (tests and local trials serve plain http).
    pub fn well_known_url(&self, development_mode: bool) -> Result<Url, ParseError> {
        let scheme = if development_mode { "http" } else { "https" };
        Url::parse(&format!("{scheme}://{}{WELL_KNOWN_PATH}", self.0))
            .map_err(|e| ParseError::new("domain", e.to_string()))
    }

    /// The prefixes of every URL under this domain, http and https (`https://blog.example/`):
    /// how the database finds the things a verification proves.
    pub fn url_prefixes(&self) -> [String; 2] {
        [
            format!("https://{}/", self.0),
            format!("http://{}/", self.0),
        ]
    }

    /// True when `url` is under this domain.
    pub fn covers(&self, url: &Url) -> bool {
        Domain::of_url(url).as_ref() == Some(self)
    }
}

impl std::fmt::Display for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// True when the published `body` is the `token` (surrounding whitespace aside).
pub fn token_matches(body: &str, token: &str) -> bool {
    !token.is_empty() && body.trim() == token
}

/// True when one of a page's `rel="payment"` links names one of `owners` — the owner's profile
/// (`BASE/users/NAME`, which is also the actor id) or the thing's page here
/// (`thing::page_url`). A trailing slash and a fragment are ignored.
pub fn links_back(links: &[Url], owners: &[Url]) -> bool {
    fn normal(url: &Url) -> String {
        let mut url = url.clone();
        url.set_fragment(None);
        url.as_str().trim_end_matches('/').to_owned()
    }
    links
        .iter()
        .any(|link| owners.iter().any(|owner| normal(link) == normal(owner)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_is_a_host_name_with_an_optional_port() {
        assert_eq!(
            Domain::parse("Blog.Example.").unwrap().as_str(),
            "blog.example"
        );
        assert_eq!(
            Domain::parse("blog.test:8080").unwrap().as_str(),
            "blog.test:8080"
        );
        for bad in [
            "",
            "localhost",
            "127.0.0.1",
            "[::1]",
            "https://blog.example",
            "blog.example/x",
            "me@blog.example",
            "bad_name.example",
        ] {
            assert!(Domain::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn a_domain_covers_urls_of_its_host_and_port_only() {
        let domain = Domain::parse("blog.example").unwrap();
        for url in [
            "https://blog.example/a",
            "http://BLOG.example/b?c",
            "https://blog.example:443/",
        ] {
            assert!(domain.covers(&Url::parse(url).unwrap()), "{url}");
        }
        for url in [
            "https://www.blog.example/a",
            "https://blog.example:8443/a",
            "https://blog.example.evil/a",
        ] {
            assert!(!domain.covers(&Url::parse(url).unwrap()), "{url}");
        }
        assert_eq!(
            domain.well_known_url(false).unwrap().as_str(),
            "https://blog.example/.well-known/fedflattr"
        );
    }

    #[test]
    fn a_payment_link_proves_only_when_it_names_the_owner_or_the_thing() {
        let owner = Url::parse("https://ff.example/users/bob").unwrap();
        let thing = Url::parse("https://ff.example/things/7").unwrap();
        let owners = [owner, thing];
        let link = |u: &str| vec![Url::parse(u).unwrap()];
        assert!(links_back(&link("https://ff.example/users/bob/"), &owners));
        assert!(links_back(&link("https://ff.example/things/7#x"), &owners));
        assert!(!links_back(
            &link("https://ff.example/users/mallory"),
            &owners
        ));
        assert!(!links_back(&link("https://ff.example/things/8"), &owners));
        assert!(!links_back(&[], &owners));
    }

    #[test]
    fn the_token_must_be_all_the_file_says() {
        assert!(token_matches("  abc\n", "abc"));
        assert!(!token_matches("abcd", "abc"));
        assert!(!token_matches("", ""));
    }
}
