//! Resolving a URL of another server into something our users can flattr: the ActivityPub
//! object (or a web page that links to one), its owner, and whether the owner's server speaks
//! fedflattr (then the flattr is paid) or not (then it is a plain Like and costs nothing).

use activitypub_federation::config::Data;
use activitypub_federation::fetch::fetch_object_http;
use activitypub_federation::fetch::object_id::ObjectId;
use activitypub_federation::traits::Actor;
use axum::http::StatusCode;
use serde_json::Value;
use url::Url;

use super::actors::RemoteActor;
use super::client::{FetchRefused, PAGE_LIMIT, get_json, guard, read_prefix};
use super::objects::{FLATTRABLE, RemoteObject};
use super::{FederationError, origin, same_origin};
use crate::state::AppState;
use crate::store::things::RemoteThing;

fn unresolvable(url: &Url, reason: impl std::fmt::Display) -> FederationError {
    FederationError::refused(
        StatusCode::UNPROCESSABLE_ENTITY,
        "unresolvable",
        format!("{url}: {reason}"),
    )
}

/// A failed fetch of `url`: the other server's refusal (401/403) as it is, anything else as
/// "unresolvable" with the reason.
fn fetch_failed(url: &Url, error: activitypub_federation::error::Error) -> FederationError {
    match FetchRefused::in_library_error(&error) {
        Some(refused) => refused.clone().into(),
        None => unresolvable(url, error),
    }
}

/// Resolves `url` to a thing of another server.
pub async fn resolve_thing(
    data: &Data<AppState>,
    url: &Url,
) -> Result<RemoteThing, FederationError> {
    guard(&data.settings, url).await?;
    let object = match fetch_object_http::<AppState, Value>(url, data).await {
        Ok(response) => response.object,
        // Not ActivityPub JSON (a web page, which the library may fail to parse before it
        // looks at the content type).
        Err(
            activitypub_federation::error::Error::FetchInvalidContentType(_)
            | activitypub_federation::error::Error::ParseFetchedObject(..),
        ) => {
            // A web page: follow its rel="payment" or rel="alternate" ActivityPub link.
            let linked = linked_object(data, url).await?;
            guard(&data.settings, &linked).await?;
            fetch_object_http::<AppState, Value>(&linked, data)
                .await
                .map_err(|e| fetch_failed(&linked, e))?
                .object
        }
        Err(e) => return Err(fetch_failed(url, e)),
    };
    let object: RemoteObject = serde_json::from_value(object)
        .map_err(|e| unresolvable(url, format!("not a flattrable object: {e}")))?;
    if !object.kind.any_of(FLATTRABLE) {
        return Err(unresolvable(
            url,
            format!("a {} cannot be flattred", object.kind),
        ));
    }
    let owner_id = object
        .owner()
        .ok_or_else(|| unresolvable(url, "the object names no creator"))?;
    if !same_origin(&owner_id, &object.id) {
        return Err(unresolvable(
            url,
            "the object and its creator are on different servers",
        ));
    }
    let owner: RemoteActor = ObjectId::<RemoteActor>::from(owner_id.clone())
        .dereference(data)
        .await
        .map_err(|e| match e {
            // The owner's server refused us or is blocked: say so, as it is.
            FederationError::Refused {
                code: "fetch_refused" | "blocked",
                ..
            } => e,
            other => unresolvable(&owner_id, other),
        })?;
    // The library follows an actor document's `id` to another URL of the same server; the
    // creator must be the actor named, not whichever one its document points to.
    if owner.ap_id.0 != owner_id {
        return Err(unresolvable(
            &owner_id,
            format!("{owner_id} is not the actor it was fetched as"),
        ));
    }
    let (fedflattr, currency) = speaks_fedflattr(data, &owner_id).await;
    if fedflattr && currency.as_deref() != Some(data.settings.currency.as_str()) {
        return Err(FederationError::refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "currency_mismatch",
            format!(
                "{} settles in {}, this instance in {}: flattrs between different currencies are not possible",
                origin(&owner_id),
                currency.unwrap_or_default(),
                data.settings.currency
            ),
        ));
    }
    Ok(RemoteThing {
        title: object.title(),
        url: object.id.to_string(),
        ap_id: object.id.to_string(),
        owner: owner_id.to_string(),
        inbox: owner.shared_inbox_or_inbox().to_string(),
        origin: origin(&owner_id),
        fedflattr,
    })
}

/// Asks the NodeInfo of `actor`'s server whether it speaks fedflattr, and in which currency.
/// Any failure means "no": we never charge for a flattr nobody is known to be able to claim.
pub async fn speaks_fedflattr(data: &Data<AppState>, actor: &Url) -> (bool, Option<String>) {
    let probe = async {
        let well_known = actor.join("/.well-known/nodeinfo").ok()?;
        guard(&data.settings, &well_known).await.ok()?;
        let links = get_json(&data.fetcher, well_known).await.ok()?;
        let href = links["links"].as_array()?.iter().find_map(|l| {
            let rel = l["rel"].as_str()?;
            rel.ends_with("/schema/2.1")
                .then(|| l["href"].as_str())
                .flatten()
                .or_else(|| {
                    rel.ends_with("/schema/2.0")
                        .then(|| l["href"].as_str())
                        .flatten()
                })
        })?;
        let href = Url::parse(href).ok()?;
        if !same_origin(&href, actor) {
            return None;
        }
        guard(&data.settings, &href).await.ok()?;
        let info = get_json(&data.fetcher, href).await.ok()?;
        let flattr = info["metadata"]["flattr"].as_object()?;
        flattr.get("protocol")?.as_str()?;
        Some(
            flattr
                .get("currency")
                .and_then(Value::as_str)
                .map(str::to_owned),
        )
    };
    match probe.await {
        Some(currency) => (true, currency),
        None => (false, None),
    }
}

/// The ActivityPub object a web page points to.
async fn linked_object(data: &Data<AppState>, url: &Url) -> Result<Url, FederationError> {
    let response = data
        .fetcher
        .get(url.clone())
        .header("accept", "text/html")
        .send()
        .await
        .map_err(|e| match FetchRefused::in_client_error(&e) {
            Some(refused) => refused.clone().into(),
            None => unresolvable(url, e),
        })?;
    if !response.status().is_success() {
        return Err(unresolvable(
            url,
            format!("the page answered {}", response.status()),
        ));
    }
    // The links sit in <head>: a longer page is searched in its first part only.
    let body = read_prefix(response, PAGE_LIMIT)
        .await
        .map_err(|e| unresolvable(url, e))?;
    let html = String::from_utf8_lossy(&body);
    find_link(&html, url).ok_or_else(|| {
        unresolvable(
            url,
            "the page links to no ActivityPub object or payment link",
        )
    })
}

/// Finds `<link rel="payment" href>` or `<link rel="alternate" type="application/activity+json" href>`.
pub fn find_link(html: &str, base: &Url) -> Option<Url> {
    let tag = regex::Regex::new(r"(?is)<link\b[^>]*>").expect("valid regex");
    let attribute =
        regex::Regex::new(r#"(?is)([a-z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')"#).expect("valid regex");
    let mut alternate = None;
    for link in tag.find_iter(html) {
        let mut rel = String::new();
        let mut kind = String::new();
        let mut href = None;
        for cap in attribute.captures_iter(link.as_str()) {
            let value = cap
                .get(2)
                .or_else(|| cap.get(3))
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default();
            match cap[1].to_ascii_lowercase().as_str() {
                "rel" => rel = value.to_ascii_lowercase(),
                "type" => kind = value.to_ascii_lowercase(),
                "href" => href = Some(value.replace("&amp;", "&")),
                _ => {}
            }
        }
        let Some(href) = href.and_then(|h| base.join(&h).ok()) else {
            continue;
        };
        let rels: Vec<&str> = rel.split_whitespace().collect();
        if rels.contains(&"payment") {
            return Some(href);
        }
        if rels.contains(&"alternate")
            && (kind.contains("activity+json") || kind.contains("ld+json"))
        {
            alternate.get_or_insert(href);
        }
    }
    alternate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_payment_link_wins_over_its_alternate_link() {
        let base = Url::parse("https://blog.example/post").unwrap();
        let html = r#"<html><head>
            <link rel="alternate" type="application/activity+json" href="https://blog.example/ap/post">
            <link href='/flattr/thing' rel='payment'>
        </head></html>"#;
        assert_eq!(
            find_link(html, &base).unwrap().as_str(),
            "https://blog.example/flattr/thing"
        );
        let only_alternate = r#"<link rel="alternate" type="application/activity+json" href="https://blog.example/ap/post">"#;
        assert_eq!(
            find_link(only_alternate, &base).unwrap().as_str(),
            "https://blog.example/ap/post"
        );
        assert_eq!(find_link("<link rel=stylesheet href=x.css>", &base), None);
    }
}
