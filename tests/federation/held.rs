//! Held money (issue 7.2): at close, the shares of flattrs of an unproven thing go to its held
//! account; they go to the owner once the thing is proven, or back to the payers after
//! `held_periods` periods — once, whatever reruns and crashes happen.

use fedflattr::ledger::Account;
use fedflattr::settle::close::{CloseError, CloseOptions, Stage};
use serde_json::{Value, json};

use crate::common::Blog;
use crate::helpers::Instance;

/// alpha with `held_periods = 2`; bob's unproven blog post `held` (no link back yet) and his
/// proven thing `paid`; alice flattrs both, carol flattrs `held`; both have 10.00 and a 2.00
/// budget. So October's close holds 0.90 (alice) + 1.80 (carol) = 2.70 for `held` and pays
/// bob 0.90 for `paid`.
struct Story {
    alpha: Instance,
    blog: Blog,
    bob: String,
    held: i64,
}

async fn story() -> Story {
    let alpha = Instance::spawn_with("alpha", |config| config.held_periods = 2).await;
    let blog = Blog::spawn("bobsblog").await;
    let bob = alpha.sign_up("bob").await;
    let alice = alpha.funded("alice", "10.00").await;
    let carol = alpha.funded("carol", "10.00").await;
    blog.post("/post", "");
    let held = alpha
        .create_unproven_thing(&bob, &blog.url("/post"), "Held")
        .await;
    let paid = alpha.create_thing(&bob, "https://bob.example/paid").await;
    alpha.flattred(&alice, held).await;
    alpha.flattred(&alice, paid).await;
    alpha.flattred(&carol, held).await;
    Story {
        alpha,
        blog,
        bob,
        held,
    }
}

impl Story {
    async fn close_october(&self) {
        let report = self.alpha.close_october().await;
        assert_eq!(report.held.to_string(), "2.70");
        self.assert_october_closed().await;
    }

    async fn assert_october_closed(&self) {
        let alpha = &self.alpha;
        assert_eq!(alpha.wallet("alice").await, 80_000);
        assert_eq!(alpha.wallet("carol").await, 80_000);
        assert_eq!(alpha.fees().await, 4_000);
        assert_eq!(alpha.earnings("bob").await, 9_000);
        assert_eq!(alpha.account(&Account::Held(self.held)).await, 27_000);
        alpha.assert_books_balance().await;
    }

    async fn thing(&self) -> Value {
        self.alpha
            .get_json(&format!("/api/v1/things/{}", self.held), None)
            .await
    }

    async fn prove(&self) -> Value {
        self.blog
            .post_linking_to("/post", &self.alpha.url("/users/bob"));
        let response = self
            .alpha
            .post_api(
                &format!("/api/v1/things/{}/prove", self.held),
                &self.bob,
                &json!({}),
            )
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

#[tokio::test]
async fn a_page_with_a_payment_link_proves_the_thing_and_its_held_shares_of_an_earlier_close_move_to_earnings()
 {
    let story = story().await;
    story.close_october().await;
    let thing = story.thing().await;
    assert_eq!(
        (thing["proven"].as_bool(), thing["held"].as_str()),
        (Some(false), Some("2.70"))
    );
    let earned = |body: Value| body["by_period"][0]["amount"].clone();
    let bobs = story
        .alpha
        .get_json("/api/v1/user/earnings", Some(&story.bob))
        .await;
    assert_eq!(earned(bobs), "0.90", "the held shares are not earnings yet");

    let proven = story.prove().await;
    assert_eq!(proven["proven"], true);
    assert_eq!(proven["held"], "0.00");
    let alpha = &story.alpha;
    assert_eq!(alpha.earnings("bob").await, 9_000 + 27_000);
    let bobs = alpha
        .get_json("/api/v1/user/earnings", Some(&story.bob))
        .await;
    assert_eq!(earned(bobs), "3.60");
    assert_eq!(alpha.account(&Account::Held(story.held)).await, 0);
    alpha.assert_books_balance().await;

    // Once: proving again, and the next closes, move nothing more.
    let ledger = alpha.ledger_lines().await;
    story.prove().await;
    assert_eq!(alpha.ledger_lines().await, ledger);
    alpha.set_time("2027-02-01T00:00:00Z");
    alpha.close("2027-01").await;
    assert_eq!(alpha.earnings("bob").await, 36_000);
    alpha.assert_books_balance().await;
}

#[tokio::test]
async fn verifying_the_domain_releases_what_was_held_for_its_things() {
    let story = story().await;
    story.close_october().await;
    story.alpha.vouch_domain("bob", &story.blog.domain()).await;
    assert_eq!(story.alpha.earnings("bob").await, 36_000);
    assert_eq!(story.thing().await["proof"], "verified_domain");
    story.alpha.assert_books_balance().await;
}

#[tokio::test]
async fn held_money_returns_to_the_payers_after_held_periods_and_a_rerun_changes_nothing() {
    let story = story().await;
    story.close_october().await;
    let alpha = &story.alpha;

    // One period later it is still held…
    alpha.set_time("2026-12-01T00:00:00Z");
    alpha.close("2026-11").await;
    story.assert_october_closed().await;

    // …and two periods later it goes back, even through a crash before the held stage.
    alpha.set_time("2027-01-01T00:00:00Z");
    let crashed = alpha
        .try_close(
            "2026-12",
            CloseOptions {
                fail_after: Some(Stage::Renew),
                ..CloseOptions::default()
            },
        )
        .await;
    assert!(
        matches!(crashed, Err(CloseError::Injected { .. })),
        "{crashed:?}"
    );
    story.assert_october_closed().await;
    let report = alpha.close("2026-12").await;
    assert!(!report.already_closed);
    assert_eq!(alpha.wallet("alice").await, 80_000 + 9_000);
    assert_eq!(alpha.wallet("carol").await, 80_000 + 18_000);
    assert_eq!(alpha.account(&Account::Held(story.held)).await, 0);
    assert_eq!(
        alpha.earnings("bob").await,
        9_000,
        "the owner gets none of it"
    );
    assert_eq!(alpha.fees().await, 4_000, "the fee is not returned");
    assert_eq!(story.thing().await["held"], "0.00");
    alpha.assert_books_balance().await;

    let ledger = alpha.ledger_lines().await;
    assert!(alpha.close("2026-12").await.already_closed);
    alpha.set_time("2027-02-01T00:00:00Z");
    alpha.close("2027-01").await;
    // A proof after the money went back finds nothing to release.
    assert_eq!(story.prove().await["proven"], true);
    assert_eq!(alpha.ledger_lines().await, ledger);
    assert_eq!(
        alpha
            .count("SELECT COUNT(*) FROM held_shares WHERE state = 'returned'")
            .await,
        2
    );
}

#[tokio::test]
async fn deleting_an_unproven_thing_keeps_its_held_money_until_it_goes_back_to_the_payers() {
    let story = story().await;
    story.close_october().await;
    let alpha = &story.alpha;
    let path = format!("/api/v1/things/{}", story.held);
    assert_eq!(alpha.delete(&path, &story.bob).await.status(), 204);
    let prove = alpha
        .post_api(&format!("{path}/prove"), &story.bob, &json!({}))
        .await;
    assert_eq!(prove.status(), 404);
    assert_eq!(alpha.account(&Account::Held(story.held)).await, 27_000);
    alpha.assert_books_balance().await;

    alpha.set_time("2027-01-01T00:00:00Z");
    alpha.close("2026-12").await;
    assert_eq!(alpha.wallet("alice").await, 89_000);
    assert_eq!(alpha.wallet("carol").await, 98_000);
    assert_eq!(alpha.account(&Account::Held(story.held)).await, 0);
    alpha.assert_books_balance().await;
}

#[tokio::test]
async fn the_audit_finds_a_held_account_that_disagrees_with_its_shares() {
    let story = story().await;
    story.close_october().await;
    let alpha = &story.alpha;
    // A bug that marked a share released without moving its money.
    sqlx::query("UPDATE held_shares SET state = 'released' WHERE user_id = $1")
        .bind(alpha.user_id("carol").await)
        .execute(alpha.state.store.pool())
        .await
        .unwrap();
    let report = alpha.audit().await;
    assert!(!report.ok);
    let problems: Vec<&String> = report.checks.iter().flat_map(|c| &c.problems).collect();
    assert_eq!(
        problems,
        vec![&format!(
            "account held:{} holds 27000 but its held shares total 9000",
            story.held
        )]
    );
}

#[tokio::test]
async fn a_squatter_s_unproven_thing_goes_with_its_held_money_to_the_creator_who_proves_the_url() {
    let alpha = Instance::spawn("alpha").await;
    let blog = Blog::spawn("bobsblog").await;
    let mallory = alpha.sign_up("mallory").await;
    let bob = alpha.sign_up("bob").await;
    let alice = alpha.funded("alice", "10.00").await;
    blog.post("/post", "");
    let squatted = alpha
        .create_unproven_thing(&mallory, &blog.url("/post"), "Mine, says mallory")
        .await;
    alpha.flattred(&alice, squatted).await;
    alpha.close_october().await;
    assert_eq!(alpha.account(&Account::Held(squatted)).await, 18_000);
    assert_eq!(alpha.earnings("mallory").await, 0);
    let mallorys = alpha
        .get_json("/api/v1/user/earnings", Some(&mallory))
        .await;
    assert_eq!(
        mallorys["by_period"],
        json!([]),
        "held money is nobody's earnings yet"
    );

    // bob's page links to bob: registering the URL gives him the thing and what it held.
    blog.post_linking_to("/post", &alpha.url("/users/bob"));
    let taken = alpha
        .register_thing(&bob, &blog.url("/post"), "My post")
        .await;
    assert_eq!(taken["id"], squatted);
    assert_eq!(taken["owner"]["username"], "bob");
    assert_eq!(taken["title"], "My post");
    assert_eq!(taken["proven"], true);
    assert_eq!(alpha.earnings("bob").await, 18_000);
    assert_eq!(alpha.earnings("mallory").await, 0);
    let bobs = alpha.get_json("/api/v1/user/earnings", Some(&bob)).await;
    assert_eq!(bobs["by_period"][0]["amount"], "1.80");
    alpha.assert_books_balance().await;

    // A proven thing is not taken over.
    let (status, code, _) = crate::common::error_of(
        alpha
            .post_api(
                "/api/v1/things",
                &mallory,
                &json!({"url": blog.url("/post"), "title": "Mine again"}),
            )
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (409, "conflict"));
}

#[tokio::test]
async fn a_second_release_of_the_same_thing_moves_nothing() {
    let story = story().await;
    story.close_october().await;
    story.prove().await;
    let alpha = &story.alpha;
    let ledger = alpha.ledger_lines().await;
    // As a proof racing the close's held stage would: the rows are no longer `held`.
    let mut tx = alpha.state.store.begin().await.unwrap();
    let released =
        fedflattr::settle::held::release_thing(&mut tx, story.held, alpha.state.clock.now())
            .await
            .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(released, fedflattr::domain::money::Money::ZERO);
    assert_eq!(alpha.ledger_lines().await, ledger);
    assert_eq!(alpha.earnings("bob").await, 36_000);
}
