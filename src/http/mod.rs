//! The JSON API under `/api/v1`, shaped after Flattr's API v2: one router per resource, thin
//! handlers that parse input into domain types and call the layer that owns the rule. The
//! OpenAPI document is generated from the handlers' annotations.

pub mod admin;
pub mod admin_settlement;
pub mod domains;
pub mod earnings;
pub mod error;
pub mod extract;
pub mod flattrs;
pub mod ops;
pub mod subscriptions;
pub mod things;
pub mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use error::ApiError;

pub use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "fedflattr API",
        description = "A federated Flattr: the Like button with money. Amounts are decimal strings in the instance currency.",
        license(name = "AGPL-3.0-or-later")
    ),
    modifiers(&BearerAuth),
    components(schemas(error::ErrorBody))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API router and its OpenAPI document.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(
            "/api/v1",
            OpenApiRouter::new()
                .merge(users::router())
                .merge(things::router())
                .merge(flattrs::router())
                .merge(subscriptions::router())
                .merge(earnings::router())
                .merge(domains::router())
                .merge(admin::router()),
        )
        .split_for_parts()
}

/// The whole HTTP surface: API, OpenAPI document, health check, the federation routes, the
/// web pages (`pages`, which `app` hands in: `web` sits beside `http`, not below it), JSON
/// fallbacks. The federation middleware wraps it all, so API handlers and pages can fetch
/// from other servers too.
pub fn router(
    state: AppState,
    federation: crate::federation::Federation,
    pages: Router<AppState>,
) -> Router {
    let (api, openapi) = api();
    let api = api
        .merge(crate::federation::router(federation.clone()))
        .merge(pages);
    let openapi = Arc::new(openapi);
    let max_body = state.settings.max_body_bytes;
    let body_timeout = std::time::Duration::from_secs(state.settings.body_timeout_secs);
    api.route(
        "/api/v1/openapi.json",
        get(move || {
            let openapi = openapi.clone();
            async move { axum::Json((*openapi).clone()) }
        }),
    )
    .route("/healthz", get(healthz))
    .route("/metrics", get(ops::metrics))
    .fallback(|| async { ApiError::not_found("this route") })
    .method_not_allowed_fallback(|| async {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this route does not accept that method",
        )
    })
    .layer(DefaultBodyLimit::max(max_body))
    // A client that starts a body must finish it in time, or it holds a connection and a
    // handler for as long as it likes.
    .layer(RequestBodyTimeoutLayer::new(body_timeout))
    // Browsers must not guess types (a JSON answer is never run as a script) and nothing may
    // frame our pages (clickjacking of a flattr). The web pages set their own policy (they
    // load our stylesheet), which is kept; the button is a link, never framed.
    .layer(SetResponseHeaderLayer::overriding(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ))
    .layer(SetResponseHeaderLayer::if_not_present(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    ))
    .layer(CatchPanicLayer::custom(|_| {
        axum::response::IntoResponse::into_response(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "something went wrong on our side; it has been logged",
        ))
    }))
    .layer(TraceLayer::new_for_http())
    // Outside the panic catcher, so a panic's 500 is counted and logged like any answer.
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        ops::observe,
    ))
    .layer(activitypub_federation::config::FederationMiddleware::new(
        federation,
    ))
    .with_state(state)
}

/// What our pages may load: nothing but their own inline-free HTML; no framing anywhere.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Ready when the database answers.
async fn healthz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    sqlx::query("SELECT 1").execute(state.store.pool()).await?;
    Ok(axum::Json(serde_json::json!({"status": "ok"})))
}
