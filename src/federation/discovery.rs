//! Discovery: WebFinger (`acct:NAME@DOMAIN` → the actor) and NodeInfo 2.1, whose `metadata`
//! tells peers that this server speaks fedflattr, in which currency and at which fee.

use activitypub_federation::config::Data;
use axum::extract::Query;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

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
        ],
    });
    Ok((
        [(header::CONTENT_TYPE, "application/jrd+json")],
        axum::Json(body),
    )
        .into_response())
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
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(pool)
        .await?;
    let things: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM things WHERE owner_id IS NOT NULL AND deleted_at IS NULL",
    )
    .fetch_one(pool)
    .await?;
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
