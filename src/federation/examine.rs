//! What a URL a user wants to register is, and what it says about its owner: an ActivityPub
//! object of another server (never registered here), a web page and its `rel="payment"`
//! links, or nothing we could read. Also reads a domain's verification file. Every fetch goes
//! through the SSRF guard and the signing client, and reads a bounded amount; a failure is
//! described, never an error of ours (the caller decides what an unreadable URL means).

use std::sync::LazyLock;

use activitypub_federation::config::Data;
use activitypub_federation::error::Error as LibraryError;
use activitypub_federation::fetch::fetch_object_http;
use regex::Regex;
use serde_json::Value;
use url::Url;

use super::client::{FetchRefused, PAGE_LIMIT, guard, read_limited, read_prefix};
use crate::state::AppState;

/// The most we read of a domain's `.well-known/fedflattr` file: a token and some whitespace.
const TOKEN_FILE_LIMIT: usize = 4096;

/// What a URL turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Examined {
    /// It answers ActivityPub JSON: an object (or actor) of the server at that URL.
    Object,
    /// A web page, with the targets of its `rel="payment"` links (`<link>` and `<a>`).
    Page {
        /// The links' targets, resolved against the page's URL.
        payment_links: Vec<Url>,
    },
    /// Nothing readable: refused by the guard, unreachable, an error status, a timeout.
    Unreadable(String),
}

/// Looks at `url` the way a fediverse server would first (asking for ActivityPub JSON), then
/// as a browser would (its HTML, first [`PAGE_LIMIT`] bytes).
pub async fn examine(data: &Data<AppState>, url: &Url) -> Examined {
    if let Err(refused) = guard(&data.settings, url).await {
        return Examined::Unreadable(refused.to_string());
    }
    match fetch_object_http::<AppState, Value>(url, data).await {
        // The library has checked the ActivityPub content type; a different id (another URL
        // of the object) still means the URL serves an ActivityPub document.
        Ok(_) | Err(LibraryError::FetchWrongId(_)) => return Examined::Object,
        // Not ActivityPub JSON (a web page, or a body larger than any object we accept):
        // looked at as a page below.
        Err(
            LibraryError::FetchInvalidContentType(_)
            | LibraryError::ParseFetchedObject(..)
            | LibraryError::ResponseBodyLimit
            | LibraryError::Utf8(_),
        ) => {}
        Err(error) => {
            return Examined::Unreadable(match FetchRefused::in_library_error(&error) {
                Some(refused) => refused.to_string(),
                None => error.to_string(),
            });
        }
    }
    let response = match data
        .fetcher
        .get(url.clone())
        .header("accept", "text/html")
        .send()
        .await
    {
        Ok(response) => response,
        Err(error) => {
            return Examined::Unreadable(match FetchRefused::in_client_error(&error) {
                Some(refused) => refused.to_string(),
                None => error.to_string(),
            });
        }
    };
    if !response.status().is_success() {
        return Examined::Unreadable(format!("the page answered {}", response.status()));
    }
    match read_prefix(response, PAGE_LIMIT).await {
        Ok(body) => Examined::Page {
            payment_links: payment_links(&String::from_utf8_lossy(&body), url),
        },
        Err(error) => Examined::Unreadable(error.to_string()),
    }
}

/// Reads the verification file at `url` (a domain's `.well-known/fedflattr`): its text, or why
/// it could not be read.
pub async fn read_token_file(state: &AppState, url: &Url) -> Result<String, String> {
    guard(&state.settings, url)
        .await
        .map_err(|e| e.to_string())?;
    let response = state
        .fetcher
        .get(url.clone())
        .header("accept", "text/plain")
        .send()
        .await
        .map_err(|e| match FetchRefused::in_client_error(&e) {
            Some(refused) => refused.to_string(),
            None => format!("{url} could not be read: {e}"),
        })?;
    if !response.status().is_success() {
        return Err(format!("{url} answered {}", response.status()));
    }
    let body = read_limited(response, TOKEN_FILE_LIMIT)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    String::from_utf8(body).map_err(|_| format!("{url} is not text"))
}

static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<(?:link|a)\b[^>]*>").expect("a valid regex"));
static ATTRIBUTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)([a-z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))"#)
        .expect("a valid regex")
});

/// The targets of a page's `<link rel="payment" href>` and `<a rel="payment" href>` (`rel` may
/// list more relations), resolved against `base`.
pub fn payment_links(html: &str, base: &Url) -> Vec<Url> {
    let mut links = Vec::new();
    for tag in TAG.find_iter(html) {
        let mut rel = String::new();
        let mut href = None;
        for cap in ATTRIBUTE.captures_iter(tag.as_str()) {
            let value = cap
                .get(2)
                .or_else(|| cap.get(3))
                .or_else(|| cap.get(4))
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default();
            match cap[1].to_ascii_lowercase().as_str() {
                "rel" => rel = value.to_ascii_lowercase(),
                "href" => href = Some(value.replace("&amp;", "&")),
                _ => {}
            }
        }
        if rel.split_whitespace().any(|r| r == "payment")
            && let Some(href) = href.and_then(|h| base.join(h.trim()).ok())
        {
            links.push(href);
        }
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_links_are_found_in_link_and_anchor_tags() {
        let base = Url::parse("https://blog.example/2026/post").unwrap();
        let html = r#"<html><head>
            <link rel="stylesheet" href="/style.css">
            <link href='https://ff.example/users/bob' rel='me payment'>
        </head><body>
            <a rel=payment href="/support">support me</a>
            <a href="https://elsewhere.example/">not a payment link</a>
        </body></html>"#;
        let links: Vec<String> = payment_links(html, &base)
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            links,
            vec![
                "https://ff.example/users/bob",
                "https://blog.example/support"
            ]
        );
        assert!(payment_links("<p>nothing</p>", &base).is_empty());
    }
}
