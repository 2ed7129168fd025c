//! The flattr button for any page, and the flattr page behind it.
//!
//! - `/button.js`: the one-line embed (a script that renders a link with the count);
//!   `/button.svg?url=`: the same as an image, for `<a><img></a>` without JavaScript;
//!   `/button/count?url=`: the count as JSON. All three are anonymous, cached for a minute and
//!   readable from any origin (CORS `*`): no cookie is read or set, so nothing leaks.
//! - `/flattr?url=`: what a button links to, opened at top level. A logged-in visitor confirms
//!   with one POST and is sent back to the page; others log in first (and come back here), or
//!   give their handle on another instance and are sent to flattr it from there (remote
//!   interaction, like Mastodon's `authorize_interaction`). `/submit/auto?…`, Flattr's
//!   auto-submit URL, is the same page for a thing created on its first flattr.
//!
//! Files: this one serves the button (script, image, count) and builds the embed code;
//! [`page`] is the flattr page behind it, [`remote`] remote interaction.
//!
//! Nothing here is framed: the button is a plain link in the embedding page, so the flattr
//! itself always happens on our page under `frame-ancestors 'none'` (no clickjacking).

pub mod page;
pub mod remote;

use activitypub_federation::config::Data;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{PageError, Query};
use crate::domain::thing::ThingUrl;
use crate::state::AppState;
use crate::store::things;

/// How long browsers and caches may keep a count (seconds): a minute old is fresh enough for
/// a button, and a popular page's readers then cost one request a minute each at most.
const COUNT_MAX_AGE: &str = "public, max-age=60";

/// The query of `/flattr`.
#[derive(Deserialize)]
pub struct UrlQuery {
    #[serde(default)]
    url: String,
}

/// The count of the thing registered for `url` (0 when none is).
async fn count_of(state: &AppState, url: &str) -> Result<i64, PageError> {
    let url = ThingUrl::parse(url)?;
    Ok(things::by_url(state.store.pool(), url.as_str())
        .await?
        .map_or(0, |t| t.flattrs + t.remote_flattrs))
}

fn embeddable(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(COUNT_MAX_AGE),
    );
    response
}

/// GET /button/count?url=: `{"url", "count"}` for the script.
pub async fn count(
    data: Data<AppState>,
    Query(query): Query<UrlQuery>,
) -> Result<Response, PageError> {
    let count = count_of(&data, &query.url).await?;
    Ok(embeddable(
        axum::Json(serde_json::json!({"url": query.url, "count": count})).into_response(),
    ))
}

/// The button as an SVG image: "Flattr" and the count.
pub fn svg(count: i64) -> String {
    let digits = count.to_string();
    // About 8 px per digit at 13 px; the count box grows with it.
    let count_width = 16 + 8 * i64::try_from(digits.len()).unwrap_or(1);
    let width = 60 + count_width;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"24\" role=\"img\" \
         aria-label=\"Flattr: {digits} flattrs\"><title>Flattr: {digits} flattrs</title>\
         <rect width=\"{width}\" height=\"24\" rx=\"4\" fill=\"#1d6b2a\"/>\
         <rect x=\"58\" y=\"3\" width=\"{inner}\" height=\"18\" rx=\"3\" fill=\"#fff\"/>\
         <g font-family=\"system-ui,sans-serif\" font-size=\"13\">\
         <text x=\"8\" y=\"17\" fill=\"#fff\" font-weight=\"bold\">Flattr</text>\
         <text x=\"{middle}\" y=\"17\" fill=\"#1a1a1a\" text-anchor=\"middle\">{digits}</text></g></svg>",
        inner = count_width - 2,
        middle = 58 + (count_width - 2) / 2,
    )
}

/// GET /button.svg?url=: the button without JavaScript.
pub async fn image(
    data: Data<AppState>,
    Query(query): Query<UrlQuery>,
) -> Result<Response, PageError> {
    let count = count_of(&data, &query.url).await?;
    Ok(embeddable(
        ([(header::CONTENT_TYPE, "image/svg+xml")], svg(count)).into_response(),
    ))
}

/// GET /button.js: the embed script, the same for every page (cached for an hour).
pub async fn script() -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../../templates/button.js"),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// `text` made safe inside a double-quoted HTML attribute: `&`, `<`, `>` and both quotes as
/// entities. (askama escapes templates the same way; the embed code is built outside one.)
fn attribute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The HTML a creator pastes under a post: the script, and the image link for readers
/// without JavaScript; `owner` makes it an auto-submit button. Every value in an attribute
/// is escaped: a page's URL may hold `&` (a query) or even a quote.
pub fn embed_code(base: &url::Url, page: &str, owner: Option<&str>) -> String {
    let origin = attribute(base.as_str().trim_end_matches('/'));
    let enc = |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let target = match owner {
        Some(owner) => format!(
            "{}/submit/auto?user_id={}&url={}",
            base.as_str().trim_end_matches('/'),
            enc(owner),
            enc(page)
        ),
        None => page.to_owned(),
    };
    let owner_attr = owner.map_or(String::new(), |o| {
        format!(" data-owner=\"{}\"", attribute(o))
    });
    format!(
        "<script async src=\"{origin}/button.js\" data-url=\"{page}\"{owner_attr}></script>\n\
         <noscript><a href=\"{origin}/flattr?url={target}\"><img src=\"{origin}/button.svg?url={page_enc}\" \
         alt=\"Flattr this\" width=\"84\" height=\"24\"></a></noscript>",
        page = attribute(page),
        target = enc(&target),
        page_enc = enc(page),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embed_code_escapes_ampersands_and_quotes_of_the_url_in_its_attributes() {
        let base = url::Url::parse("https://flattr.example").unwrap();
        let page = "https://blog.example/post?id=1&lang=en\"><script>alert(1)</script>";
        let code = embed_code(&base, page, Some("al\"ice"));
        assert!(
            code.contains(
                "data-url=\"https://blog.example/post?id=1&amp;lang=en&quot;&gt;&lt;script&gt;\
                 alert(1)&lt;/script&gt;\""
            ),
            "{code}"
        );
        assert!(code.contains("data-owner=\"al&quot;ice\""), "{code}");
        // Nothing typed reaches the markup raw: the only tags are the embed's own.
        assert_eq!(code.matches('<').count(), 7, "{code}");
        assert!(!code.contains("id=1&lang"), "{code}");
        // The fallback's links carry the URL percent-encoded.
        assert!(
            code.contains("button.svg?url=https%3A%2F%2Fblog.example%2Fpost%3Fid%3D1%26lang%3Den"),
            "{code}"
        );
    }
}
