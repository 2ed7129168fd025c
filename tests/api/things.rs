//! Registering, finding, editing and deleting things.

use serde_json::{Value, json};

use crate::helpers::{error_code, spawn_app};

#[tokio::test]
async fn an_owner_registers_a_thing_and_anyone_finds_it_by_url_or_id() {
    let app = spawn_app().await;
    let bob = app.sign_up("bob").await;
    let response = app
        .post(
            "/api/v1/things",
            Some(&bob),
            &json!({"url": "https://bob.example/post#top", "title": " Hello ", "description": "A post",
                    "tags": ["Rust", "rust", "web"], "language": "en_GB", "category": "text"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let thing: Value = response.json().await.unwrap();
    assert_eq!(thing["url"], "https://bob.example/post");
    assert_eq!(thing["title"], "Hello");
    assert_eq!(thing["tags"], json!(["rust", "web"]));
    assert_eq!(thing["language"], "en-GB");
    assert_eq!(thing["owner"]["username"], "bob");
    assert_eq!(thing["flattrs"], 0);

    let id = thing["id"].as_i64().unwrap();
    let found = app
        .get_json(
            "/api/v1/things/lookup?url=https%3A%2F%2Fbob.example%2Fpost",
            None,
        )
        .await;
    assert_eq!(found["id"], id);
    assert_eq!(
        app.get_json(&format!("/api/v1/things/{id}"), None).await["title"],
        "Hello"
    );
    let missing = app
        .get(
            "/api/v1/things/lookup?url=https%3A%2F%2Fnowhere.example%2F",
            None,
        )
        .await;
    assert_eq!(error_code(missing).await, (404, "not_found".into()));
}

#[tokio::test]
async fn one_url_is_one_thing() {
    let app = spawn_app().await;
    let bob = app.sign_up("bob").await;
    let carol = app.sign_up("carol").await;
    app.create_thing(&bob, "https://bob.example/post", "Mine")
        .await;
    let response = app
        .post(
            "/api/v1/things",
            Some(&carol),
            &json!({"url": "https://bob.example/post", "title": "Also mine"}),
        )
        .await;
    assert_eq!(error_code(response).await, (409, "conflict".into()));
}

#[tokio::test]
async fn only_the_owner_edits_or_deletes_a_thing() {
    let app = spawn_app().await;
    let bob = app.sign_up("bob").await;
    let carol = app.sign_up("carol").await;
    let id = app
        .create_thing(&bob, "https://bob.example/post", "Old")
        .await;
    let path = format!("/api/v1/things/{id}");

    let stranger = app
        .patch(&path, &carol, &json!({"title": "Hijacked"}))
        .await;
    assert_eq!(error_code(stranger).await, (403, "forbidden".into()));
    assert_eq!(
        error_code(app.delete(&path, &carol).await).await,
        (403, "forbidden".into())
    );

    let edited = app
        .patch(&path, &bob, &json!({"title": "New", "hidden": true}))
        .await;
    assert_eq!(edited.status(), 200);
    let edited: Value = edited.json().await.unwrap();
    assert_eq!(edited["title"], "New");
    assert_eq!(edited["hidden"], true);
    assert_eq!(
        edited["url"], "https://bob.example/post",
        "the URL is the thing's identity"
    );

    assert_eq!(app.delete(&path, &bob).await.status(), 204);
    assert_eq!(app.get(&path, None).await.status(), 404);
    // The URL is free again.
    app.create_thing(&bob, "https://bob.example/post", "Again")
        .await;
}

#[tokio::test]
async fn hidden_things_are_listed_only_to_their_owner() {
    let app = spawn_app().await;
    let bob = app.sign_up("bob").await;
    let carol = app.sign_up("carol").await;
    app.create_thing(&bob, "https://bob.example/a", "Public")
        .await;
    app.post(
        "/api/v1/things",
        Some(&bob),
        &json!({"url": "https://bob.example/b", "title": "Secret", "hidden": true}),
    )
    .await;
    let for_owner = app.get_json("/api/v1/users/bob/things", Some(&bob)).await;
    let for_others = app.get_json("/api/v1/users/bob/things", Some(&carol)).await;
    let anonymous = app.get_json("/api/v1/users/bob/things", None).await;
    assert_eq!(for_owner.as_array().unwrap().len(), 2);
    assert_eq!(for_others.as_array().unwrap().len(), 1);
    assert_eq!(anonymous, for_others);
}

#[tokio::test]
async fn deleting_a_thing_withdraws_its_open_flattrs() {
    let app = spawn_app().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    app.deposit("alice", "5.00").await;
    let id = app
        .create_thing(&bob, "https://bob.example/post", "Post")
        .await;
    assert_eq!(app.flattr(&alice, id).await.status(), 201);
    app.delete(&format!("/api/v1/things/{id}"), &bob).await;
    let flattrs = app.get_json("/api/v1/user/flattrs", Some(&alice)).await;
    assert_eq!(flattrs, json!([]));
}

#[tokio::test]
async fn a_deleted_thing_cannot_be_flattred_and_the_wallet_is_not_counted_for_it() {
    let app = spawn_app().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    app.deposit("alice", "5.00").await;
    let id = app
        .create_thing(&bob, "https://bob.example/post", "Post")
        .await;
    let deleted = app.delete(&format!("/api/v1/things/{id}"), &bob).await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        crate::helpers::error_code(app.flattr(&alice, id).await).await,
        (404, "not_found".into())
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM flattrs").await, 0);
    // Nothing to split the budget over: the close leaves alice's wallet whole.
    app.set_time("2026-11-01T00:00:05Z");
    app.close("2026-10").await;
    assert_eq!(app.wallet("alice").await, 50_000);
    app.assert_books_balance().await;
}

#[tokio::test]
async fn a_deleted_thing_earns_nothing_at_the_close_and_its_share_goes_to_the_rest() {
    let app = spawn_app().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let carol = app.sign_up("carol").await;
    app.deposit("alice", "5.00").await;
    let gone = app
        .create_thing(&bob, "https://bob.example/post", "Post")
        .await;
    let kept = app
        .create_thing(&carol, "https://carol.example/post", "Post")
        .await;
    assert_eq!(app.flattr(&alice, gone).await.status(), 201);
    assert_eq!(app.flattr(&alice, kept).await.status(), 201);
    let deleted = app.delete(&format!("/api/v1/things/{gone}"), &bob).await;
    assert_eq!(deleted.status(), 204);

    app.set_time("2026-11-01T00:00:05Z");
    app.close("2026-10").await;
    // alice's budget (2.00) is spent on carol's thing alone: 10 % fee, 1.80 to carol.
    assert_eq!(app.wallet("alice").await, 30_000);
    assert_eq!(app.earnings("bob").await, 0);
    assert_eq!(app.earnings("carol").await, 18_000);
    assert_eq!(app.fees().await, 2_000);
    app.assert_books_balance().await;
}
