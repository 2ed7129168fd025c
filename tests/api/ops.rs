//! What an operator reads: `/metrics` counts requests by route pattern and status and the
//! inbox's activities by outcome, and is readable only by the instance's own scraper.

use crate::helpers::{TestApp, error_code, spawn_app, spawn_app_with};

/// The value of the sample `name` (labels included, exactly as rendered).
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

async fn scrape(app: &TestApp) -> String {
    let response = app.get("/metrics", None).await;
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_and_inbox_activities_by_outcome() {
    let app = spawn_app().await;
    for _ in 0..2 {
        assert_eq!(app.get("/healthz", None).await.status(), 200);
    }
    assert_eq!(app.get("/api/v1/things/9999", None).await.status(), 404);
    assert_eq!(app.get("/api/v1/things/9998", None).await.status(), 404);
    assert_eq!(app.get("/no/such/route", None).await.status(), 404);
    let refused = app
        .client
        .post(app.url("/inbox"))
        .header("content-type", "application/activity+json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert!(refused.status().is_client_error(), "{}", refused.status());
    let inbox_status = refused.status().as_u16();

    let metrics = scrape(&app).await;
    let count = |name: &str| sample(&metrics, name);
    assert_eq!(
        count(r#"fedflattr_http_requests_total{method="GET",route="/healthz",status="200"}"#),
        Some(2.0),
        "{metrics}"
    );
    // Two different ids, one series: the pattern, not the path.
    assert_eq!(
        count(
            r#"fedflattr_http_requests_total{method="GET",route="/api/v1/things/{id}",status="404"}"#
        ),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        count(r#"fedflattr_http_requests_total{method="GET",route="unmatched",status="404"}"#),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        count(&format!(
            r#"fedflattr_http_requests_total{{method="POST",route="/inbox",status="{inbox_status}"}}"#
        )),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        count(r#"fedflattr_inbox_activities_total{outcome="refused"}"#),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        count("fedflattr_delivery_queue_depth"),
        Some(0.0),
        "{metrics}"
    );
    assert_eq!(
        count(r#"fedflattr_http_request_duration_seconds_count{route="/healthz"}"#),
        Some(2.0),
        "{metrics}"
    );
}

#[tokio::test]
async fn metrics_are_refused_through_a_proxy_and_without_the_metrics_token() {
    let app = spawn_app().await;
    // A reverse proxy on the same host connects from loopback too; its forwarding header
    // shows the request came from outside.
    let proxied = app
        .client
        .get(app.url("/metrics"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(proxied).await, (403, "forbidden".to_owned()));

    let token = "a-long-scraper-secret-0123";
    let app = spawn_app_with(|c| c.metrics_token = Some(token.into())).await;
    assert_eq!(app.get("/metrics", None).await.status(), 403);
    assert_eq!(
        app.get("/metrics", Some("a-long-scraper-secret-0124"))
            .await
            .status(),
        403
    );
    let allowed = app.get("/metrics", Some(token)).await;
    assert_eq!(allowed.status(), 200);
    assert!(
        allowed
            .text()
            .await
            .unwrap()
            .contains("fedflattr_delivery_queue_depth")
    );
}

#[tokio::test]
async fn a_short_metrics_token_is_refused_at_start_naming_the_setting() {
    let config = fedflattr::config::Config {
        metrics_token: Some("short".into()),
        ..Default::default()
    };
    let error = config.settings().unwrap_err().to_string();
    assert!(error.contains("metrics_token"), "{error}");
}
