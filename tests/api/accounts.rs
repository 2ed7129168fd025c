//! Sign-up, log-in, budgets and the money a user sees.

use serde_json::{Value, json};

use crate::helpers::{error_code, spawn_app};

#[tokio::test]
async fn a_new_user_signs_up_logs_in_and_sees_an_empty_wallet_at_the_minimum_budget() {
    let app = spawn_app().await;
    let token = app.sign_up("Alice").await;
    let me = app.get_json("/api/v1/user", Some(&token)).await;
    assert_eq!(me["username"], "alice");
    assert_eq!(me["handle"], "alice@localhost");
    assert_eq!(me["wallet"], "0.00");
    assert_eq!(me["budget"], "2.00");
    assert_eq!(me["currency"], "EUR");

    let login = app
        .post(
            "/api/v1/tokens",
            None,
            &json!({"username": "alice", "password": "correct horse"}),
        )
        .await;
    assert_eq!(login.status(), 201);
    let second: Value = login.json().await.unwrap();
    let second = second["access_token"].as_str().unwrap();
    assert_ne!(second, token);
    assert_eq!(
        app.get_json("/api/v1/user", Some(second)).await["username"],
        "alice"
    );
}

#[tokio::test]
async fn a_wrong_password_or_unknown_user_gets_invalid_credentials() {
    let app = spawn_app().await;
    app.sign_up("alice").await;
    for (name, password) in [("alice", "not the one"), ("nobody", "correct horse")] {
        let response = app
            .post(
                "/api/v1/tokens",
                None,
                &json!({"username": name, "password": password}),
            )
            .await;
        assert_eq!(
            error_code(response).await,
            (401, "invalid_credentials".into())
        );
    }
}

#[tokio::test]
async fn a_taken_username_is_a_conflict_whatever_its_case() {
    let app = spawn_app().await;
    app.sign_up("alice").await;
    let response = app
        .post(
            "/api/v1/users",
            None,
            &json!({"username": "ALICE", "password": "correct horse"}),
        )
        .await;
    assert_eq!(error_code(response).await, (409, "conflict".into()));
}

#[tokio::test]
async fn usernames_must_be_fediverse_handles_and_passwords_long_enough() {
    let app = spawn_app().await;
    for (name, password, field) in [
        ("alice@example.org", "correct horse", "username"),
        ("a b", "correct horse", "username"),
        ("", "correct horse", "username"),
        ("alice", "short", "password"),
    ] {
        let response = app
            .post(
                "/api/v1/users",
                None,
                &json!({"username": name, "password": password}),
            )
            .await;
        assert_eq!(response.status(), 422, "{name}/{password}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_parameters");
        assert_eq!(body["field"], field);
    }
}

#[tokio::test]
async fn the_api_needs_a_valid_bearer_token_and_log_out_revokes_it() {
    let app = spawn_app().await;
    let token = app.sign_up("alice").await;
    assert_eq!(
        error_code(app.get("/api/v1/user", None).await).await,
        (401, "unauthorized".into())
    );
    assert_eq!(
        error_code(app.get("/api/v1/user", Some("forged")).await).await,
        (401, "unauthorized".into())
    );
    assert_eq!(
        app.delete("/api/v1/tokens/current", &token).await.status(),
        204
    );
    assert_eq!(app.get("/api/v1/user", Some(&token)).await.status(), 401);
}

#[tokio::test]
async fn a_user_sets_a_budget_at_or_above_the_instance_minimum() {
    let app = spawn_app().await;
    let token = app.sign_up("alice").await;
    let response = app
        .patch("/api/v1/user", &token, &json!({"budget": "5.50"}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["budget"], "5.50");
    for budget in ["1.99", "-3", "2.001", "lots"] {
        let response = app
            .patch("/api/v1/user", &token, &json!({"budget": budget}))
            .await;
        assert_eq!(
            error_code(response).await,
            (422, "invalid_parameters".into()),
            "{budget}"
        );
    }
    assert_eq!(
        app.get_json("/api/v1/user", Some(&token)).await["budget"],
        "5.50"
    );
}

#[tokio::test]
async fn the_current_period_shows_what_it_will_cost_and_what_each_flattr_gets() {
    let app = spawn_app().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    app.deposit("alice", "10.00").await;
    let first = app.create_thing(&bob, "https://bob.example/1", "One").await;
    let second = app.create_thing(&bob, "https://bob.example/2", "Two").await;
    let third = app
        .create_thing(&bob, "https://bob.example/3", "Three")
        .await;

    let me = app.get_json("/api/v1/user", Some(&alice)).await;
    assert_eq!(me["wallet"], "10.00");
    assert_eq!(
        me["current_period"]["cost"], "0.00",
        "nothing flattred, nothing spent"
    );

    for thing in [first, second, third] {
        assert_eq!(app.flattr(&alice, thing).await.status(), 201);
    }
    let me = app.get_json("/api/v1/user", Some(&alice)).await;
    assert_eq!(me["current_period"]["period"], "2026-10");
    assert_eq!(me["current_period"]["flattrs"], 3);
    assert_eq!(me["current_period"]["cost"], "2.00");
    assert_eq!(me["current_period"]["per_flattr"], "0.60");
}

#[tokio::test]
async fn a_public_profile_shows_the_handle_and_no_money() {
    let app = spawn_app().await;
    app.sign_up("alice").await;
    let profile = app.get_json("/api/v1/users/alice", None).await;
    assert_eq!(profile["handle"], "alice@localhost");
    assert!(profile.get("wallet").is_none());
    assert_eq!(
        error_code(app.get("/api/v1/users/nobody", None).await).await,
        (404, "not_found".into())
    );
}

#[tokio::test]
async fn health_and_openapi_are_served() {
    let app = spawn_app().await;
    assert_eq!(app.get_json("/healthz", None).await["status"], "ok");
    let doc = app.get_json("/api/v1/openapi.json", None).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/flattr",
        "/api/v1/things/{id}/flattr",
        "/api/v1/user/subscriptions",
        "/api/v1/user/payouts",
        "/api/v1/things/{id}/prove",
        "/api/v1/user/domains",
        "/api/v1/user/domains/{domain}/verify",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
    assert!(doc["components"]["securitySchemes"].get("bearer").is_some());
}
