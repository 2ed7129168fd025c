//! Users and things at their stable URLs: ActivityPub JSON for servers
//! (`Accept: application/activity+json`; signed GETs only under authorized fetch), a small
//! HTML page for people (always public).

use activitypub_federation::config::Data;
use axum::extract::Path;
use axum::response::{Html, IntoResponse, Response};

use super::FederationError;
use super::actors::{activity_json, person_json, user_url};
use super::authorized::FetchRequest;
use super::objects::{page_json, thing_url};
use super::vocab::ACTIVITY_JSON;
use crate::state::AppState;
use crate::store::{StoreError, things, users};

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn page(title: &str, alternate: &str, body: &str) -> Response {
    Html(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>\
         <link rel=\"alternate\" type=\"{ACTIVITY_JSON}\" href=\"{alternate}\">\
         <link rel=\"payment\" href=\"{alternate}\"></head>\
         <body>{body}</body></html>",
        title = escape(title),
        alternate = escape(alternate),
    ))
    .into_response()
}

/// GET /users/{name}
pub async fn user(
    data: Data<AppState>,
    request: FetchRequest,
    Path(name): Path<String>,
) -> Result<Response, FederationError> {
    let user = users::by_name(data.store.pool(), &name).await?;
    if request.wants_activity_json() {
        request.authorize(&data).await?;
        return Ok(activity_json(person_json(&data, &user)));
    }
    let id = user_url(&data, &user.username);
    let handle = format!("@{}@{}", user.username, data.settings.domain);
    Ok(page(
        &handle,
        id.as_str(),
        &format!(
            "<h1>{}</h1><p>Flattr {0}'s things on fedflattr.</p>",
            escape(&handle)
        ),
    ))
}

/// GET /things/{id}
pub async fn thing(
    data: Data<AppState>,
    request: FetchRequest,
    Path(id): Path<i64>,
) -> Result<Response, FederationError> {
    let thing = things::by_id(data.store.pool(), id).await?;
    if thing.owner_id.is_none() {
        // A thing of another server: it is served there, not here.
        return Err(StoreError::NotFound("thing").into());
    }
    if request.wants_activity_json() {
        request.authorize(&data).await?;
        return Ok(activity_json(page_json(&data, &thing)));
    }
    let id = thing_url(&data, thing.id);
    let flattrs = thing.flattrs + thing.remote_flattrs;
    Ok(page(
        &thing.title,
        id.as_str(),
        &format!(
            "<h1>{title}</h1><p>{description}</p><p><a href=\"{url}\">{url}</a></p>\
             <p>by {owner} · {flattrs} flattrs</p>",
            title = escape(&thing.title),
            description = escape(&thing.description),
            url = escape(&thing.url),
            owner = escape(&thing.owner),
        ),
    ))
}
