//! Discovery: WebFinger (`acct:NAME@DOMAIN` → the actor) and NodeInfo 2.1, whose `metadata`
//! tells peers that this server speaks fedflattr, in which currency and at which fee.

use activitypub_federation::config::Data;
use axum::extract::Query;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::FederationError;
use super::actors::user_url;
use super::client::host_and_port;
use super::vocab::{NAMESPACE, PROTOCOL_VERSION};
use crate::state::AppState;
use crate::store::users;

/// The query string of `/.well-known/webfinger`.
#[derive(Deserialize)]
pub struct WebfingerQuery {
    resource: String,
}

/// The user a WebFinger resource names: `acct:NAME@DOMAIN` (the domain with or without the
/// port of the public URL) or the actor's URL itself.
fn requested_name(state: &AppState, resource: &str) -> Option<String> {
    if let Some(acct) = resource.strip_prefix("acct:") {
        let (name, domain) = acct.rsplit_once('@')?;
        let ours = [
            state.settings.domain.to_ascii_lowercase(),
            host_and_port(&state.settings.base_url).to_ascii_lowercase(),
        ];
        return ours
            .contains(&domain.to_ascii_lowercase())
            .then(|| name.trim_start_matches('@').to_owned());
    }
    let prefix = state.settings.base_url.join("users/").ok()?;
    resource.strip_prefix(prefix.as_str()).map(str::to_owned)
}

/// GET /.well-known/webfinger?resource=acct:NAME@DOMAIN
pub async fn webfinger(
    data: Data<AppState>,
    Query(query): Query<WebfingerQuery>,
) -> Result<Response, FederationError> {
    let Some(name) = requested_name(&data, &query.resource) else {
        return Err(FederationError::refused(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{} is not an account here", query.resource),
        ));
    };
    let user = users::by_name(data.store.pool(), &name).await?;
    let id = user_url(&data, &user.username);
    let body = json!({
        "subject": format!("acct:{}@{}", user.username, data.settings.domain),
        "aliases": [id],
        "links": [
            {"rel": "self", "type": "application/activity+json", "href": id},
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": id},
            // Remote interaction, as Mastodon's: another site sends our user here to flattr
            // the object `{uri}` (see `web::button`).
            {"rel": SUBSCRIBE_REL, "template": interaction_template(&data)},
        ],
    });
    Ok((
        [(header::CONTENT_TYPE, "application/jrd+json")],
        axum::Json(body),
    )
        .into_response())
}

/// The WebFinger link relation of the remote-interaction template (OStatus' name, which
/// Mastodon and others use for "interact with this object from your home server").
pub const SUBSCRIBE_REL: &str = "http://ostatus.org/schema/1.0/subscribe";

/// Our template: the flattr page of `{uri}`.
fn interaction_template(state: &AppState) -> String {
    format!(
        "{}/flattr?url={{uri}}",
        state.settings.base_url.as_str().trim_end_matches('/')
    )
}

/// Where the owner of `handle` (`NAME@HOST`, `@NAME@HOST:PORT`) interacts with `object` on
/// their home server: its WebFinger answer's remote-interaction template, filled in. The
/// fetch goes through the SSRF guard like every other.
pub async fn interaction_url(
    data: &Data<AppState>,
    handle: &str,
    object: &str,
) -> Result<Url, FederationError> {
    let bad = |why: &str| {
        FederationError::refused(StatusCode::UNPROCESSABLE_ENTITY, "invalid_handle", why)
    };
    let handle = handle.trim().trim_start_matches('@');
    let (name, host) = handle
        .rsplit_once('@')
        .ok_or_else(|| bad("a handle looks like name@instance.example"))?;
    let host_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    if name.is_empty() || host.is_empty() || !host.chars().all(host_ok) || name.contains('/') {
        return Err(bad("a handle looks like name@instance.example"));
    }
    let scheme = if data.settings.development_mode {
        "http"
    } else {
        "https"
    };
    let mut url = Url::parse(&format!("{scheme}://{host}/.well-known/webfinger"))
        .map_err(|_| bad("a handle looks like name@instance.example"))?;
    url.query_pairs_mut()
        .append_pair("resource", &format!("acct:{name}@{host}"));
    super::client::guard(&data.settings, &url).await?;
    let unreachable = |why: String| {
        FederationError::refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "handle_unreachable",
            format!("{host} did not tell where {name} can flattr: {why}"),
        )
    };
    let answer = super::client::get_json(&data.fetcher, url)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let template = answer["links"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|link| link["rel"] == SUBSCRIBE_REL)
        .and_then(|link| link["template"].as_str())
        .ok_or_else(|| unreachable("it offers no remote interaction".into()))?;
    let encoded: String = url::form_urlencoded::byte_serialize(object.as_bytes()).collect();
    let there = Url::parse(&template.replace("{uri}", &encoded))
        .map_err(|_| unreachable("its interaction template is not a URL".into()))?;
    if !matches!(there.scheme(), "https" | "http") {
        return Err(unreachable(
            "its interaction template is not a web page".into(),
        ));
    }
    Ok(there)
}

/// GET /.well-known/nodeinfo: where the NodeInfo document is.
pub async fn nodeinfo_links(data: Data<AppState>) -> Response {
    let href = data
        .settings
        .base_url
        .join("nodeinfo/2.1")
        .expect("static path");
    axum::Json(json!({"links": [{"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": href}]})).into_response()
}

/// GET /nodeinfo/2.1
pub async fn nodeinfo(data: Data<AppState>) -> Result<Response, FederationError> {
    let pool = data.store.pool();
    let users = users::count(pool).await?;
    let things = crate::store::things::count_local(pool).await?;
    let body = json!({
        "version": "2.1",
        "software": {"name": "fedflattr", "version": env!("CARGO_PKG_VERSION")},
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": data.settings.registrations_open,
        "usage": {"users": {"total": users}, "localPosts": things},
        "metadata": {
            "nodeName": data.settings.domain,
            "flattr": {
                "protocol": PROTOCOL_VERSION,
                "namespace": NAMESPACE,
                "currency": data.settings.currency.as_str(),
                "fee": data.settings.fee_rate.to_decimal().to_string(),
                "minBudget": data.settings.min_budget.to_string(),
                // The instance actor: where statements and claims go (docs/settlement.md).
                "actor": super::actors::instance_url(&data),
            },
        },
    });
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.1#\"",
        )],
        axum::Json(body),
    )
        .into_response())
}
