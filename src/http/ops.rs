//! What an operator reads: `GET /metrics` in the Prometheus (OpenMetrics) text format, and the
//! access log — one line per answered request at `info` — written by the same middleware that
//! counts requests.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use crate::federation::delivery;

/// Counts the request in the metrics and writes its access-log line once it is answered.
///
/// The line names the route's pattern and the path without its query: a query can carry the
/// URL somebody flattred, which an access log has no need to keep.
pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let response = next.run(request).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    state
        .metrics
        .request(method.as_str(), route.as_deref(), status, took);
    tracing::info!(
        target: "fedflattr::access",
        method = %method,
        path = %path,
        status,
        ms = took.as_secs_f64() * 1000.0,
        client = client.map(|c| c.to_string()).unwrap_or_default(),
        "request"
    );
    response
}

/// The metrics, for a scraper that may read them: one with `Authorization: Bearer
/// METRICS_TOKEN` when `metrics_token` is set; otherwise only a direct local connection
/// (a loopback peer with no forwarding header, so a reverse proxy on the same host does not
/// open them to the world).
pub async fn metrics(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if !may_read(&state, peer, request.headers()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the metrics are for the instance's own scraper: set metrics_token and send it as a bearer token",
        ));
    }
    let depth = delivery::depth(&state.store).await?;
    let body = state.metrics.render(depth);
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        body,
    )
        .into_response())
}

fn may_read(state: &AppState, peer: Option<SocketAddr>, headers: &HeaderMap) -> bool {
    if let Some(expected) = &state.settings.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        return constant_time_eq(given.as_bytes(), expected.as_bytes());
    }
    let forwarded = ["x-forwarded-for", "forwarded", "x-real-ip"]
        .iter()
        .any(|h| headers.contains_key(*h));
    peer.is_some_and(|p| p.ip().to_canonical().is_loopback()) && !forwarded
}

/// Compares without stopping at the first difference, so the answer's timing does not tell
/// how much of a guessed token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
