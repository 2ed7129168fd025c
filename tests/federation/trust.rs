//! Trust controls between real instances (issue 8.7): an admin blocks a peer at run time
//! (its Likes are refused at the inbox and nothing is credited; our users cannot flattr its
//! things) and limits what we may owe it (past the limit our users' flattrs of its things are
//! refused with `peer_limit`), from the command line and through the admin API.

use serde_json::json;

use crate::admin_peers::admin_json;
use crate::helpers::error_of;
use crate::settlement::{origin, pair};

#[tokio::test]
async fn a_blocked_peer_s_like_is_refused_and_changes_nothing_until_it_is_unblocked() {
    let p = pair().await;
    let a = origin(&p.alpha);
    assert_eq!(
        admin_json(&p.beta, &["peer", "block", &a]),
        json!({"peer": a, "blocked": true, "limit": null})
    );
    let bob_url = p.beta.thing_url(p.bob_thing);
    assert_eq!(p.alpha.flattr_url(&p.alice, &bob_url).await.status(), 201);
    let report = p.alpha.deliver().await;
    assert_eq!((report.delivered, report.rejected), (0, 1), "{report:?}");
    assert_eq!(
        p.alpha
            .count("SELECT COUNT(*) FROM delivery_attempts WHERE status = 403")
            .await,
        1
    );
    assert_eq!(p.beta.count("SELECT COUNT(*) FROM received_likes").await, 0);
    assert!(admin_json(&p.beta, &["peers"])[0]["blocked"] == true);

    admin_json(&p.beta, &["peer", "unblock", &a]);
    let alan = p.alpha.sign_up("alan3").await;
    p.alpha.deposit("alan3", "10.00").await;
    assert_eq!(p.alpha.flattr_url(&alan, &bob_url).await.status(), 201);
    let report = p.alpha.deliver().await;
    assert_eq!((report.delivered, report.rejected), (1, 0), "{report:?}");
    assert_eq!(p.beta.count("SELECT COUNT(*) FROM received_likes").await, 1);
    p.beta.assert_books_balance().await;
}

#[tokio::test]
async fn a_peer_blocked_from_another_process_after_its_likes_were_accepted_gets_no_more_in() {
    // Beta accepted alice's first Like, so it holds her key: her next Like is checked against
    // the block by the statement that would record it, not by a read before. The block comes
    // from the command line, another process, as an admin would do it.
    let p = pair().await;
    let a = origin(&p.alpha);
    let bob_url = p.beta.thing_url(p.bob_thing);
    assert_eq!(p.alpha.flattr_url(&p.alice, &bob_url).await.status(), 201);
    let report = p.alpha.deliver().await;
    assert_eq!((report.delivered, report.rejected), (1, 0), "{report:?}");

    admin_json(&p.beta, &["peer", "block", &a]);
    let bree = p.beta.sign_up("bree").await;
    let bree_thing = p
        .beta
        .create_thing(&bree, "https://bree.example/post")
        .await;
    let bree_url = p.beta.thing_url(bree_thing);
    assert_eq!(p.alpha.flattr_url(&p.alice, &bree_url).await.status(), 201);
    let report = p.alpha.deliver().await;
    assert_eq!((report.delivered, report.rejected), (0, 1), "{report:?}");
    assert_eq!(
        p.alpha
            .count("SELECT COUNT(*) FROM delivery_attempts WHERE status = 403")
            .await,
        1
    );
    assert_eq!(p.beta.count("SELECT COUNT(*) FROM received_likes").await, 1);
    assert_eq!(
        p.beta
            .count("SELECT COUNT(*) FROM inbox_activities WHERE kind = 'Like'")
            .await,
        1,
        "the refused Like is not recorded as seen"
    );
    p.beta.assert_books_balance().await;
}

#[tokio::test]
async fn our_users_cannot_flattr_the_things_of_a_peer_we_blocked() {
    let p = pair().await;
    let b = origin(&p.beta);
    let bob_url = p.beta.thing_url(p.bob_thing);
    admin_json(&p.alpha, &["peer", "block", &b]);
    let (status, code, _) = error_of(p.alpha.flattr_url(&p.alice, &bob_url).await).await;
    assert_eq!((status, code.as_str()), (403, "peer_blocked"));
    assert_eq!(p.alpha.count("SELECT COUNT(*) FROM flattrs").await, 0);
    admin_json(&p.alpha, &["peer", "unblock", &b]);
    assert_eq!(p.alpha.flattr_url(&p.alice, &bob_url).await.status(), 201);
}

#[tokio::test]
async fn past_the_limit_of_what_we_owe_a_peer_flattrs_of_its_things_are_refused() {
    let p = pair().await;
    let b = origin(&p.beta);
    let bob_url = p.beta.thing_url(p.bob_thing);
    assert_eq!(p.alpha.flattr_url(&p.alice, &bob_url).await.status(), 201);
    p.close_and_settle().await;
    assert_eq!(p.alpha.payable(&b).await, 18_000, "alpha owes beta 1.80");

    // November: alpha owes 1.80, over a limit of 1.00.
    p.alpha.set_time("2026-11-02T12:00:00Z");
    assert_eq!(
        admin_json(&p.alpha, &["peer", "limit", &b, "1.00"]),
        json!({"peer": b, "blocked": false, "limit": "1.00"})
    );
    let (status, code, description) = error_of(p.alpha.flattr_url(&p.alice, &bob_url).await).await;
    assert_eq!(
        (status, code.as_str()),
        (403, "peer_limit"),
        "{description}"
    );
    assert!(description.contains("1.80"), "{description}");
    assert_eq!(
        p.alpha
            .count("SELECT COUNT(*) FROM flattrs WHERE period = '2026-11'")
            .await,
        0
    );

    // Under a limit of 2.00 it goes through.
    admin_json(&p.alpha, &["peer", "limit", &b, "2.00"]);
    assert_eq!(p.alpha.flattr_url(&p.alice, &bob_url).await.status(), 201);
    admin_json(&p.alpha, &["peer", "limit", &b, "none"]);
    assert_eq!(admin_json(&p.alpha, &["peers"])[0]["limit"], json!(null));
    p.alpha.assert_books_balance().await;
}

#[tokio::test]
async fn an_admin_blocks_and_limits_a_peer_through_the_api_too() {
    let p = pair().await;
    let b = origin(&p.beta);
    let admin = crate::admin_peers::admin_token(&p.alpha, "root").await;
    let set = |body: serde_json::Value| {
        let (alpha, admin) = (&p.alpha, admin.clone());
        async move {
            alpha
                .post_api("/api/v1/admin/peer-controls", &admin, &body)
                .await
        }
    };
    let response = set(json!({"peer": b, "blocked": true})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        json!({"peer": b, "blocked": true, "limit": null})
    );
    let bob_url = p.beta.thing_url(p.bob_thing);
    let (status, code, _) = error_of(p.alpha.flattr_url(&p.alice, &bob_url).await).await;
    assert_eq!((status, code.as_str()), (403, "peer_blocked"));

    // Unblocked with a limit of 0.00 in one call: the limit is kept, the block lifted.
    let response = set(json!({"peer": b, "blocked": false, "limit": "0.00"})).await;
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        json!({"peer": b, "blocked": false, "limit": "0.00"})
    );
    assert_eq!(admin_json(&p.alpha, &["peers"])[0]["limit"], "0.00");
    assert_eq!(p.alpha.flattr_url(&p.alice, &bob_url).await.status(), 201);
    let response = set(json!({"peer": b, "limit": "none"})).await;
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["limit"],
        json!(null)
    );

    // Bad input is a 4xx naming the field; only admins may.
    let (status, code, _) = error_of(set(json!({"peer": "nope", "blocked": true})).await).await;
    assert_eq!((status, code.as_str()), (422, "invalid_parameters"));
    let (status, code, _) = error_of(set(json!({"peer": b, "limit": "-1"})).await).await;
    assert_eq!((status, code.as_str()), (422, "invalid_parameters"));
    let (status, code, _) = error_of(
        p.alpha
            .post_api(
                "/api/v1/admin/peer-controls",
                &p.alice,
                &json!({"peer": b, "blocked": true}),
            )
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (403, "forbidden"));
}
