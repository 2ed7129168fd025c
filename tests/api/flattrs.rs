//! Flattring: by id, by URL, by auto-submit URL; Flattr's refusals; undo; lists.

use serde_json::{Value, json};

use crate::helpers::{error_code, spawn_app};

#[tokio::test]
async fn a_reader_flattrs_a_thing_and_its_count_goes_up() {
    let app = spawn_app().await;
    let alice = app.funded("alice", "5.00").await;
    let bob = app.sign_up("bob").await;
    let id = app
        .create_thing(&bob, "https://bob.example/post", "Post")
        .await;

    let response = app.flattr(&alice, id).await;
    assert_eq!(response.status(), 201);
    let flattr: Value = response.json().await.unwrap();
    assert_eq!(flattr["thing"]["id"], id);
    assert_eq!(flattr["period"], "2026-10");
    assert_eq!(
        app.get_json(&format!("/api/v1/things/{id}"), None).await["flattrs"],
        1
    );
}

#[tokio::test]
async fn flattr_once_flattr_owner_and_no_means_are_refused_with_flattrs_names() {
    let app = spawn_app().await;
    let alice = app.funded("alice", "5.00").await;
    let bob = app.funded("bob", "5.00").await;
    let poor = app.sign_up("poor").await;
    let id = app
        .create_thing(&bob, "https://bob.example/post", "Post")
        .await;

    assert_eq!(app.flattr(&alice, id).await.status(), 201);
    assert_eq!(
        error_code(app.flattr(&alice, id).await).await,
        (409, "flattr_once".into())
    );
    assert_eq!(
        error_code(app.flattr(&bob, id).await).await,
        (403, "flattr_owner".into())
    );
    assert_eq!(
        error_code(app.flattr(&poor, id).await).await,
        (402, "no_means".into())
    );
    assert_eq!(
        error_code(app.flattr(&alice, 999_999).await).await,
        (404, "not_found".into())
    );
    assert_eq!(
        app.get_json(&format!("/api/v1/things/{id}"), None).await["flattrs"],
        1
    );
}

#[tokio::test]
async fn a_click_needs_a_token_we_issued_to_a_user_who_is_not_disabled() {
    // The click checks its bearer token in the statement that records it (no read before):
    // every token it must refuse is refused there, and nothing is recorded.
    let app = spawn_app().await;
    let alice = app.funded("alice", "5.00").await;
    let carol = app.funded("carol", "5.00").await;
    let bob = app.sign_up("bob").await;
    let post = app
        .create_thing(&bob, "https://bob.example/post", "Post")
        .await;
    let other = app
        .create_thing(&bob, "https://bob.example/other", "Other")
        .await;
    let path = format!("/api/v1/things/{post}/flattr");

    assert_eq!(
        error_code(app.post(&path, None, &json!({})).await).await,
        (401, "unauthorized".into())
    );
    assert_eq!(
        error_code(app.flattr("forged", post).await).await,
        (401, "unauthorized".into())
    );
    assert_eq!(app.flattr(&carol, post).await.status(), 201);

    // Logged out: the token is gone.
    assert_eq!(
        app.delete("/api/v1/tokens/current", &alice).await.status(),
        204
    );
    assert_eq!(
        error_code(app.flattr(&alice, post).await).await,
        (401, "unauthorized".into())
    );
    // Disabled by another process (as `fedflattr admin user disable` does): the token stays
    // but its user may no longer flattr.
    sqlx::query("UPDATE users SET disabled_at = 1 WHERE username = 'carol'")
        .execute(app.state.store.pool())
        .await
        .unwrap();
    assert_eq!(
        error_code(app.flattr(&carol, other).await).await,
        (401, "unauthorized".into())
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM flattrs").await, 1);
}

#[tokio::test]
async fn the_same_thing_can_be_flattred_again_next_period() {
    let app = spawn_app().await;
    let alice = app.funded("alice", "5.00").await;
    let bob = app.sign_up("bob").await;
    let id = app
        .create_thing(&bob, "https://bob.example/post", "Post")
        .await;
    assert_eq!(app.flattr(&alice, id).await.status(), 201);
    app.set_time("2026-11-02T00:00:00Z");
    let next: Value = app.flattr(&alice, id).await.json().await.unwrap();
    assert_eq!(next["period"], "2026-11");
    let october = app
        .get_json("/api/v1/user/flattrs?period=2026-10", Some(&alice))
        .await;
    let november = app
        .get_json("/api/v1/user/flattrs?period=2026-11", Some(&alice))
        .await;
    let all = app.get_json("/api/v1/user/flattrs", Some(&alice)).await;
    assert_eq!(october.as_array().unwrap().len(), 1);
    assert_eq!(november.as_array().unwrap().len(), 1);
    assert_eq!(all.as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clicks_on_one_thing_make_exactly_one_flattr() {
    let app = spawn_app().await;
    let alice = app.funded("alice", "5.00").await;
    let bob = app.sign_up("bob").await;
    let id = app
        .create_thing(&bob, "https://bob.example/post", "Post")
        .await;
    // Eight requests in flight at once, each on its own task.
    let clicks: Vec<_> = (0..8)
        .map(|_| {
            let request = app
                .client
                .post(app.url(&format!("/api/v1/things/{id}/flattr")))
                .bearer_auth(&alice)
                .json(&json!({}));
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for click in clicks {
        statuses.push(click.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(
        app.get_json(&format!("/api/v1/things/{id}"), None).await["flattrs"],
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clicks_in_flight_together_are_each_recorded_or_refused_for_their_own_reason() {
    let app = spawn_app().await;
    let alice = app.funded("alice", "5.00").await;
    let bob = app.funded("bob", "5.00").await;
    let poor = app.sign_up("poor").await;
    let mut things = Vec::new();
    for n in 0..6 {
        things.push(
            app.create_thing(
                &bob,
                &format!("https://bob.example/{n}"),
                &format!("Post {n}"),
            )
            .await,
        );
    }
    // Alice's six clicks, and the same again; the poor reader's and the owner's: in flight
    // together, so that they share batches of the writer, where each is checked on its own.
    let mut clicks = Vec::new();
    for (who, token) in [
        ("alice", &alice),
        ("alice", &alice),
        ("poor", &poor),
        ("bob", &bob),
    ] {
        for thing in &things {
            let request = app
                .client
                .post(app.url(&format!("/api/v1/things/{thing}/flattr")))
                .bearer_auth(token);
            let thing = *thing;
            clicks.push(tokio::spawn(async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap();
                (who, thing, status, body)
            }));
        }
    }
    let mut answers = Vec::new();
    for click in clicks {
        answers.push(click.await.unwrap());
    }
    for thing in &things {
        let of = |who: &str| {
            let mut codes: Vec<(u16, String)> = answers
                .iter()
                .filter(|(w, t, _, _)| *w == who && t == thing)
                .map(|(_, _, status, body)| {
                    let code = body["error"].as_str().unwrap_or("").to_owned();
                    (*status, code)
                })
                .collect();
            codes.sort();
            codes
        };
        assert_eq!(
            of("alice"),
            vec![(201, String::new()), (409, "flattr_once".into())],
            "{answers:?}"
        );
        assert_eq!(of("poor"), vec![(402, "no_means".into())]);
        assert_eq!(of("bob"), vec![(403, "flattr_owner".into())]);
    }
    // Each recorded click answered with its own flattr, as the lists read it back.
    let listed = app.get_json("/api/v1/user/flattrs", Some(&alice)).await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 6);
    for (_, thing, status, body) in answers.iter().filter(|a| a.2 == 201) {
        assert_eq!(*status, 201);
        assert_eq!(body["thing"]["id"], *thing);
        let same = listed.iter().find(|l| l["id"] == body["id"]).unwrap();
        assert_eq!(same, body);
        assert_eq!(
            body["thing"]["title"],
            format!("Post {}", things.iter().position(|t| t == thing).unwrap())
        );
        assert_eq!(body["period"], "2026-10");
        assert_eq!(body["charged"], true);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM flattrs").await, 6);
}

#[tokio::test]
async fn a_url_flattr_finds_registered_things_and_the_instances_own_thing_pages() {
    let app = spawn_app().await;
    let alice = app.funded("alice", "5.00").await;
    let bob = app.sign_up("bob").await;
    let first = app
        .create_thing(&bob, "https://bob.example/one", "One")
        .await;
    let second = app
        .create_thing(&bob, "https://bob.example/two", "Two")
        .await;

    let by_url = app
        .post(
            "/api/v1/flattr",
            Some(&alice),
            &json!({"url": "https://bob.example/one"}),
        )
        .await;
    assert_eq!(by_url.status(), 201);
    assert_eq!(by_url.json::<Value>().await.unwrap()["thing"]["id"], first);

    let page = app.url(&format!("/things/{second}"));
    let by_page = app
        .post("/api/v1/flattr", Some(&alice), &json!({"url": page}))
        .await;
    assert_eq!(by_page.status(), 201);
    assert_eq!(
        by_page.json::<Value>().await.unwrap()["thing"]["id"],
        second
    );

    // Not ours, not registered, and not reachable (outside development mode a host that does
    // not resolve to a public address is never fetched): nothing to flattr.
    let unknown = app
        .post(
            "/api/v1/flattr",
            Some(&alice),
            &json!({"url": "https://nobody.example/x"}),
        )
        .await;
    assert_eq!(error_code(unknown).await, (422, "url_refused".into()));
    let missing_local = app
        .post(
            "/api/v1/flattr",
            Some(&alice),
            &json!({"url": app.url("/things/999")}),
        )
        .await;
    assert_eq!(error_code(missing_local).await, (404, "not_found".into()));
}

#[tokio::test]
async fn the_first_flattr_of_an_auto_submit_url_creates_the_thing_for_its_owner() {
    let app = spawn_app().await;
    let alice = app.sign_up("alice").await;
    let carol = app.sign_up("carol").await;
    app.sign_up("bob").await;
    // Auto-submit creates things only under a domain their owner verified.
    app.vouch_domain("bob", "bob.example").await;
    app.deposit("alice", "5.00").await;
    app.deposit("carol", "5.00").await;
    let auto = app.url(
        "/submit/auto?user_id=bob&url=https%3A%2F%2Fbob.example%2Fnew&title=Brand%20new&category=text&tags=a,b",
    );
    let first = app
        .post("/api/v1/flattr", Some(&alice), &json!({"url": auto}))
        .await;
    assert_eq!(first.status(), 201);
    let thing_id = first.json::<Value>().await.unwrap()["thing"]["id"]
        .as_i64()
        .unwrap();
    let thing = app
        .get_json(&format!("/api/v1/things/{thing_id}"), None)
        .await;
    assert_eq!(thing["owner"]["username"], "bob");
    assert_eq!(thing["url"], "https://bob.example/new");
    assert_eq!(thing["title"], "Brand new");

    // The second flattr finds the same thing instead of creating another.
    let second = app
        .post("/api/v1/flattr", Some(&carol), &json!({"url": auto}))
        .await;
    assert_eq!(
        second.json::<Value>().await.unwrap()["thing"]["id"],
        thing_id
    );

    let unknown_owner = app.url("/submit/auto?user_id=nobody&url=https%3A%2F%2Fx.example%2F");
    let response = app
        .post(
            "/api/v1/flattr",
            Some(&alice),
            &json!({"url": unknown_owner}),
        )
        .await;
    assert_eq!(error_code(response).await, (404, "not_found".into()));
    assert!(
        app.get("/api/v1/things/lookup?url=https%3A%2F%2Fx.example%2F", None)
            .await
            .status()
            == 404
    );
}

#[tokio::test]
async fn a_flattr_is_undone_before_close_but_not_after() {
    let app = spawn_app().await;
    let alice = app.funded("alice", "5.00").await;
    let bob = app.sign_up("bob").await;
    let one = app.create_thing(&bob, "https://bob.example/1", "One").await;
    let two = app.create_thing(&bob, "https://bob.example/2", "Two").await;
    let first: Value = app.flattr(&alice, one).await.json().await.unwrap();
    let second: Value = app.flattr(&alice, two).await.json().await.unwrap();

    let undo = app
        .delete(&format!("/api/v1/flattrs/{}", first["id"]), &alice)
        .await;
    assert_eq!(undo.status(), 204);
    assert_eq!(
        app.get_json(&format!("/api/v1/things/{one}"), None).await["flattrs"],
        0
    );
    // Undone, it can be flattred again.
    assert_eq!(app.flattr(&alice, one).await.status(), 201);

    // Someone else's flattr is not theirs to undo.
    let stranger = app
        .delete(&format!("/api/v1/flattrs/{}", second["id"]), &bob)
        .await;
    assert_eq!(error_code(stranger).await, (404, "not_found".into()));

    app.set_time("2026-11-01T00:00:05Z");
    app.close("2026-10").await;
    let late = app
        .delete(&format!("/api/v1/flattrs/{}", second["id"]), &alice)
        .await;
    assert_eq!(error_code(late).await, (409, "period_closed".into()));
}

#[tokio::test]
async fn outside_development_mode_no_url_on_this_machine_or_a_private_network_is_fetched() {
    let app = spawn_app().await;
    let alice = app.funded("alice", "5.00").await;
    for url in [
        "https://127.0.0.1:9/things/1".to_owned(),
        "https://[::1]/x".to_owned(),
        "https://10.0.0.1/post".to_owned(),
        "https://localhost/post".to_owned(),
        "http://example.org/post".to_owned(),
    ] {
        let response = app
            .post("/api/v1/flattr", Some(&alice), &json!({"url": url}))
            .await;
        assert_eq!(
            error_code(response).await,
            (422, "url_refused".into()),
            "{url}"
        );
    }
    let flattrs = app.get_json("/api/v1/user/flattrs", Some(&alice)).await;
    assert_eq!(flattrs, json!([]));
}

#[tokio::test]
async fn an_undone_flattr_pays_nothing_at_the_close() {
    let app = spawn_app().await;
    let alice = app.funded("alice", "5.00").await;
    let bob = app.sign_up("bob").await;
    let carol = app.sign_up("carol").await;
    let bobs = app.create_thing(&bob, "https://bob.example/1", "One").await;
    let carols = app
        .create_thing(&carol, "https://carol.example/1", "One")
        .await;
    let undone = app.flattred(&alice, bobs).await;
    app.flattred(&alice, carols).await;
    assert_eq!(app.undo(&alice, undone).await.status(), 204);

    app.set_time("2026-11-01T00:00:05Z");
    app.close("2026-10").await;
    // alice's budget (2.00) goes to carol alone: 10 % fee, 1.80 to carol, nothing to bob.
    assert_eq!(app.wallet("alice").await, 30_000);
    assert_eq!(app.earnings("bob").await, 0);
    assert_eq!(app.earnings("carol").await, 18_000);
    assert_eq!(app.fees().await, 2_000);
    app.assert_books_balance().await;
}

#[tokio::test]
async fn undoing_the_only_flattr_of_a_period_leaves_the_wallet_whole() {
    let app = spawn_app().await;
    let alice = app.funded("alice", "5.00").await;
    let bob = app.sign_up("bob").await;
    let thing = app.create_thing(&bob, "https://bob.example/1", "One").await;
    let undone = app.flattred(&alice, thing).await;
    assert_eq!(app.undo(&alice, undone).await.status(), 204);

    app.set_time("2026-11-01T00:00:05Z");
    app.close("2026-10").await;
    assert_eq!(app.wallet("alice").await, 50_000);
    assert_eq!(app.earnings("bob").await, 0);
    assert_eq!(app.fees().await, 0);
    app.assert_books_balance().await;
}
