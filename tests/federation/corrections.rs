//! Corrected statements between real instances (issue 8.4) and remote flattrs of unproven
//! things (issue 8, point 4): a line for a thing not proven its owner's is disputed
//! `unproven_thing`; once proven, the payer's admin restates the period and version 2 replaces
//! version 1 on both sides (books reversed and reposted); a late version 1 changes nothing; a
//! changed copy under a known id is refused and shown to the admin.

use fedflattr::federation::statements;
use fedflattr::settle::statements::Direction;
use serde_json::{Value, json};

use crate::admin_peers::{admin_json, admin_token};
use crate::helpers::error_of;
use crate::settlement::{origin, pair, send_as_alpha, statements_of};

#[tokio::test]
async fn a_flattr_of_an_unproven_thing_is_disputed_then_restated_and_accepted_once_proven() {
    let p = pair().await;
    let (a, b) = (origin(&p.alpha), origin(&p.beta));
    let cleo = p.beta.sign_up("cleo").await;
    let unproven = p
        .beta
        .create_unproven_thing(&cleo, "https://cleo.example/post", "A post")
        .await;
    let bob_url = p.beta.thing_url(p.bob_thing);
    assert_eq!(p.alpha.flattr_url(&p.alice, &bob_url).await.status(), 201);
    let cleo_url = p.beta.thing_url(unproven);
    assert_eq!(p.alpha.flattr_url(&p.alice, &cleo_url).await.status(), 201);
    p.close_and_settle().await;

    // Version 1: bob's line accepted, cleo's disputed; her 0.90 stays with alpha, disputed.
    let sent = statements_of(&p.alpha, Direction::Sent).await.remove(0);
    assert_eq!(sent.version, 1);
    let statements = admin_json(&p.alpha, &["statements", "--peer", &b]);
    let ours = statements
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["direction"] == "sent")
        .unwrap();
    assert_eq!(ours["disputes"][0]["reason"], "unproven_thing", "{ours}");
    assert_eq!(p.alpha.payable(&b).await, 9_000);
    assert_eq!(p.alpha.balance(&format!("disputed:{b}")).await, 9_000);
    let cleo_id = p.beta.user_id("cleo").await;
    assert_eq!(p.beta.balance(&format!("pending:{cleo_id}")).await, 0);

    // cleo proves her domain; alpha's admin restates October (through the API).
    p.beta.vouch_domain("cleo", "cleo.example").await;
    let admin = admin_token(&p.alpha, "root").await;
    let response = p
        .alpha
        .post_api(
            "/api/v1/admin/restatements",
            &admin,
            &json!({"peer": b, "period": "2026-10"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let restating: Value = response.json().await.unwrap();
    assert_eq!(restating["version"], 2);
    p.settle().await;

    // Version 2 replaced version 1 on both sides: everything accepted, nothing disputed.
    let sent = statements_of(&p.alpha, Direction::Sent).await;
    assert_eq!(sent.len(), 2);
    assert_eq!((sent[0].version, sent[0].state.as_str()), (2, "claimed"));
    assert_eq!(sent[0].supersedes.as_deref(), Some(sent[1].ap_id.as_str()));
    assert!(sent[1].superseded_at.is_some());
    let document: Value = serde_json::from_str(&sent[0].document).unwrap();
    assert_eq!(
        document["object"]["flattr:supersedes"],
        sent[1].ap_id.as_str()
    );
    assert_eq!(p.alpha.payable(&b).await, 18_000);
    assert_eq!(p.alpha.balance(&format!("disputed:{b}")).await, 0);
    let bob = p.beta.user_id("bob").await;
    assert_eq!(p.beta.balance(&format!("pending:{bob}")).await, 9_000);
    assert_eq!(p.beta.balance(&format!("pending:{cleo_id}")).await, 9_000);
    assert_eq!(p.beta.balance(&format!("receivable:{a}")).await, -18_000);
    let received = statements_of(&p.beta, Direction::Received).await;
    assert!(received[1].superseded_at.is_some() && received[0].superseded_at.is_none());

    // Netted again from version 2, the same on both sides: alpha pays 1.80.
    let on_alpha = crate::netting::position(&p.alpha, &b, "2026-10");
    let on_beta = crate::netting::position(&p.beta, &a, "2026-10");
    assert_eq!(
        (on_alpha["net"].as_str(), on_beta["net"].as_str()),
        (Some("1.80"), Some("1.80"))
    );

    // Once paid, a restatement replaces nothing: it asks for adjustment lines of a later
    // period (docs/settlement.md 4.1), none here since every line counts already.
    admin_json(
        &p.alpha,
        &[
            "payment",
            "record",
            &b,
            "2026-10",
            "1.80",
            "--date",
            "2026-11-05",
            "--reference",
            "R1",
        ],
    );
    let later = admin_json(&p.alpha, &["restate", &b, "2026-10"]);
    assert_eq!(later["adjustments"], json!([]), "{later}");
    assert_eq!(later["adjusts"], sent[0].ap_id.as_str(), "{later}");
    p.alpha.assert_books_balance().await;
    p.beta.assert_books_balance().await;
}

#[tokio::test]
async fn a_late_first_version_after_the_second_changes_nothing() {
    let p = pair().await;
    let b = origin(&p.beta);
    let bob_url = p.beta.thing_url(p.bob_thing);
    assert_eq!(p.alpha.flattr_url(&p.alice, &bob_url).await.status(), 201);
    p.settle().await;
    p.close_both().await;
    statements::prepare_due(&p.alpha.state).await.unwrap();
    // Version 1 is held up on the way; alpha restates meanwhile and version 2 arrives first.
    sqlx::query("DELETE FROM deliveries WHERE activity_id LIKE '%/v1'")
        .execute(p.alpha.state.store.pool())
        .await
        .unwrap();
    admin_json(&p.alpha, &["restate", &b, "2026-10"]);
    p.settle().await;
    let received = statements_of(&p.beta, Direction::Received).await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        (received[0].version, received[0].state.as_str()),
        (2, "claimed")
    );
    let books = p.beta.ledger_lines().await;

    let v1 = statements_of(&p.alpha, Direction::Sent).await.remove(1);
    assert_eq!(v1.version, 1);
    let (status, code, reason) =
        send_as_alpha(&p, &serde_json::from_str::<Value>(&v1.document).unwrap()).await;
    assert_eq!(status, 202, "{code}: {reason}");
    assert_eq!(p.beta.ledger_lines().await, books);
    assert_eq!(statements_of(&p.beta, Direction::Received).await.len(), 1);
    let bob = p.beta.user_id("bob").await;
    assert_eq!(p.beta.balance(&format!("pending:{bob}")).await, 18_000);
    p.beta.assert_books_balance().await;
}

#[tokio::test]
async fn a_changed_copy_under_a_known_id_is_refused_and_shown_to_the_admin() {
    let p = pair().await;
    let a = origin(&p.alpha);
    p.alice_flattrs_bob().await;
    p.close_and_settle().await;
    let sent = statements_of(&p.alpha, Direction::Sent).await.remove(0);
    let mut changed: Value = serde_json::from_str(&sent.document).unwrap();
    changed.as_object_mut().unwrap().remove("proof");
    changed["object"]["flattr:lines"][0]["flattr:value"] = json!("1.90");
    changed["object"]["flattr:total"] = json!("1.90");
    let now = p.alpha.state.clock.now();
    let key = fedflattr::federation::instance_keys::signing_key(
        &p.alpha.state.store,
        &p.alpha.state.settings.base_url,
        now,
    )
    .await
    .unwrap();
    let resigned = fedflattr::federation::proof::sign(&changed, &key, now).unwrap();
    let (status, code, _) = send_as_alpha(&p, &resigned).await;
    assert_eq!((status, code.as_str()), (409, "statement_conflict"));

    let admin = admin_token(&p.beta, "root").await;
    let listed = p
        .beta
        .get_json(&format!("/api/v1/admin/statements?peer={a}"), Some(&admin))
        .await;
    let theirs = &listed[0];
    assert_eq!(theirs["state"], "claimed");
    assert_eq!(theirs["conflicts"].as_array().unwrap().len(), 1, "{theirs}");
    assert_ne!(theirs["conflicts"][0], json!(sent.digest));
    let (status, code, _) = error_of(
        p.beta
            .post_api(
                "/api/v1/admin/restatements",
                &admin,
                &json!({"peer": a, "period": "2026-09"}),
            )
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "unknown_period"));
}
