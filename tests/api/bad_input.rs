//! Bad input gets a 4xx with a JSON body naming the problem, and changes nothing.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// Everything a bad request could have touched.
async fn state_of(app: &TestApp) -> (Vec<(String, String, i64)>, i64, i64, i64) {
    let pool = app.state.store.pool();
    let count = |table: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(pool)
            .await
            .unwrap()
    };
    (
        app.ledger_lines().await,
        count("things").await,
        count("flattrs").await,
        count("users").await,
    )
}

async fn assert_json_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["error"], code, "{body}");
    assert!(!body["error_description"].as_str().unwrap().is_empty());
    body
}

#[tokio::test]
async fn malformed_oversized_and_mistyped_bodies_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let alice = app.sign_up("alice").await;
    app.deposit("alice", "5.00").await;
    let before = state_of(&app).await;
    let post_raw = |path: &str, body: Vec<u8>, content_type: &str| {
        app.client
            .post(app.url(path))
            .bearer_auth(&alice)
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let malformed = post_raw("/api/v1/things", b"{\"url\": ".to_vec(), "application/json")
        .await
        .unwrap();
    assert_json_error(malformed, 400, "invalid_request").await;
    let not_json = post_raw(
        "/api/v1/things",
        b"url=x".to_vec(),
        "application/x-www-form-urlencoded",
    )
    .await
    .unwrap();
    assert_json_error(not_json, 415, "invalid_request").await;
    let huge = format!(
        "{{\"url\": \"https://x.example/\", \"title\": \"{}\"}}",
        "a".repeat(200_000)
    );
    let huge = post_raw("/api/v1/things", huge.into_bytes(), "application/json")
        .await
        .unwrap();
    assert_json_error(huge, 413, "invalid_request").await;
    let mistyped = app
        .post(
            "/api/v1/things",
            Some(&alice),
            &json!({"url": 5, "title": "x"}),
        )
        .await;
    let body = assert_json_error(mistyped, 422, "invalid_parameters").await;
    assert!(body["error_description"].as_str().unwrap().contains("url"));
    let unknown_field = app
        .post(
            "/api/v1/things",
            Some(&alice),
            &json!({"url": "https://x.example/", "title": "x", "price": 3}),
        )
        .await;
    assert_json_error(unknown_field, 422, "invalid_parameters").await;
    let bad_url = app
        .post(
            "/api/v1/things",
            Some(&alice),
            &json!({"url": "javascript:alert(1)", "title": "x"}),
        )
        .await;
    let body = assert_json_error(bad_url, 422, "invalid_parameters").await;
    assert_eq!(body["field"], "url");
    let bad_category = app
        .post(
            "/api/v1/things",
            Some(&alice),
            &json!({"url": "https://x.example/", "title": "x", "category": "memes"}),
        )
        .await;
    assert_json_error(bad_category, 422, "invalid_parameters").await;
    let empty_title = app
        .post(
            "/api/v1/things",
            Some(&alice),
            &json!({"url": "https://x.example/", "title": "  "}),
        )
        .await;
    assert_json_error(empty_title, 422, "invalid_parameters").await;

    assert_eq!(state_of(&app).await, before);
}

#[tokio::test]
async fn negative_over_precise_numeric_and_huge_amounts_are_refused() {
    let app = spawn_app().await;
    let alice = app.sign_up("alice").await;
    let before = state_of(&app).await;
    for budget in [
        json!("-2.00"),
        json!("2.001"),
        json!(2.5),
        json!("1e3"),
        json!("99999999999"),
        json!(""),
    ] {
        let response = app
            .patch("/api/v1/user", &alice, &json!({"budget": budget}))
            .await;
        assert_json_error(response, 422, "invalid_parameters").await;
    }
    for amount in [json!("-10.00"), json!("10.001"), json!(10)] {
        let response = app
            .post(
                "/api/v1/user/payouts",
                Some(&alice),
                &json!({"amount": amount}),
            )
            .await;
        assert_json_error(response, 422, "invalid_parameters").await;
    }
    assert_eq!(
        app.get_json("/api/v1/user", Some(&alice)).await["budget"],
        "2.00"
    );
    assert_eq!(state_of(&app).await, before);
}

#[tokio::test]
async fn bad_periods_unknown_ids_and_unknown_routes_get_json_errors() {
    let app = spawn_app().await;
    let alice = app.sign_up("alice").await;
    for query in ["2026-13", "2026-1", "last month", "2026-10-01"] {
        let response = app
            .get(
                &format!("/api/v1/user/flattrs?period={query}"),
                Some(&alice),
            )
            .await;
        let body = assert_json_error(response, 422, "invalid_parameters").await;
        assert_eq!(body["field"], "period");
    }
    assert_json_error(
        app.get("/api/v1/things/424242", None).await,
        404,
        "not_found",
    )
    .await;
    assert_json_error(
        app.get("/api/v1/things/abc", None).await,
        400,
        "invalid_parameters",
    )
    .await;
    assert_json_error(
        app.get("/api/v1/things/99999999999999999999999", None)
            .await,
        400,
        "invalid_parameters",
    )
    .await;
    assert_json_error(
        app.delete("/api/v1/flattrs/424242", &alice).await,
        404,
        "not_found",
    )
    .await;
    assert_json_error(
        app.delete("/api/v1/user/subscriptions/424242", &alice)
            .await,
        404,
        "not_found",
    )
    .await;
    assert_json_error(app.get("/api/v2/nothing", None).await, 404, "not_found").await;
    let wrong_method = app
        .client
        .put(app.url("/api/v1/user"))
        .send()
        .await
        .unwrap();
    assert_json_error(wrong_method, 405, "method_not_allowed").await;
    let lookup = app
        .get("/api/v1/things/lookup?url=not%20a%20url", None)
        .await;
    assert_json_error(lookup, 422, "invalid_parameters").await;
    let missing_query = app.get("/api/v1/things/lookup", None).await;
    assert_json_error(missing_query, 400, "invalid_parameters").await;
}
