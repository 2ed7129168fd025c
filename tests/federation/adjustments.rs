//! Corrections of a paid period between real instances (issue 8.4, docs/settlement.md 4.1):
//! once October is paid and confirmed, alpha's restatement of it becomes adjustment lines in
//! its November statement — an addition for a line beta disputed and would now accept, a
//! take-back for a flattr found bogus — which beta reconciles and both sides net with
//! November, to the cent; October's books stay as they were, both audits pass, and replays
//! change nothing. Adjustments that correct nothing of ours are disputed.

use fedflattr::settle::adjustments;
use fedflattr::settle::statements::{Direction, StatementRow};
use serde_json::{Value, json};

use crate::admin_peers::{admin_json, admin_token};
use crate::helpers::Instance;
use crate::netting::position;
use crate::settlement::{Pair, origin, pair, send_as_alpha, statements_of};

/// The latest sent or received statement of `period` on `instance`.
async fn statement(instance: &Instance, direction: Direction, period: &str) -> StatementRow {
    statements_of(instance, direction)
        .await
        .into_iter()
        .find(|s| s.period == period)
        .unwrap_or_else(|| panic!("no {direction:?} statement for {period}"))
}

/// The adjustment lines of `row` as (like, amount, outcome).
async fn adjustment_lines(instance: &Instance, row: &StatementRow) -> Vec<(String, i64, String)> {
    adjustments::of_statement(instance.state.store.pool(), row.id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.like_id, a.amount, a.outcome.unwrap_or_default()))
        .collect()
}

/// Moves both clocks into November.
fn november(p: &Pair) {
    for instance in [&p.alpha, &p.beta] {
        instance.set_time("2026-11-10T12:00:00Z");
    }
}

/// The postings of `after` that are not in `before` (the ledger only grows).
fn new_postings(
    before: &[(String, String, i64)],
    after: Vec<(String, String, i64)>,
) -> Vec<(String, String, i64)> {
    let mut left = before.to_vec();
    let mut new = Vec::new();
    for line in after {
        match left.iter().position(|l| *l == line) {
            Some(index) => {
                left.remove(index);
            }
            None => new.push(line),
        }
    }
    assert_eq!(left, [], "postings disappeared");
    new
}

/// Signs `value` with alpha's instance key, as alpha's own statement.
async fn signed_by_alpha(p: &Pair, value: Value) -> Value {
    let now = p.alpha.state.clock.now();
    let key = fedflattr::federation::instance_keys::signing_key(
        &p.alpha.state.store,
        &p.alpha.state.settings.base_url,
        now,
    )
    .await
    .unwrap();
    fedflattr::federation::proof::sign(&value, &key, now).unwrap()
}

/// The audit passes on both sides.
async fn audits_pass(p: &Pair) {
    p.alpha.assert_books_balance().await;
    p.beta.assert_books_balance().await;
}

#[tokio::test]
async fn a_paid_period_restated_adds_the_line_now_accepted_to_the_next_statement_and_both_net_it() {
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
    // October: bob's 0.90 accepted, cleo's 0.90 disputed (unproven); alpha pays 0.90.
    p.pay_and_confirm("2026-10", "0.90").await;
    let october = statement(&p.alpha, Direction::Sent, "2026-10").await;
    let cleo_like = fedflattr::settle::statements::lines(p.alpha.state.store.pool(), october.id)
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.outcome.as_deref() == Some("unproven_thing"))
        .unwrap()
        .like_id;
    let alpha_books = p.alpha.ledger_lines().await;
    let beta_books = p.beta.ledger_lines().await;
    let october_on_alpha = position(&p.alpha, &b, "2026-10");

    // cleo proves her domain; alpha's admin restates the paid October (through the API).
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
    assert_eq!(
        restating,
        json!({"restates": october.ap_id, "adjustments": [{"like": cleo_like, "value": "0.90"}]})
    );
    // Asking again while the correction waits asks nothing more.
    let again = admin_json(&p.alpha, &["restate", &b, "2026-10"]);
    assert_eq!(again["adjustments"], json!([]), "{again}");

    // November: alice flattrs bob once (1.80); the statement carries the addition.
    november(&p);
    assert_eq!(p.alpha.flattr_url(&p.alice, &bob_url).await.status(), 201);
    p.close_period_and_settle("2026-11", "2026-12-01T00:00:10Z")
        .await;
    let sent = statement(&p.alpha, Direction::Sent, "2026-11").await;
    let document: Value = serde_json::from_str(&sent.document).unwrap();
    let adjustment = &document["object"]["flattr:adjustments"][0];
    assert_eq!(adjustment["flattr:value"], "0.90", "{document}");
    assert_eq!(adjustment["flattr:adjusts"], october.ap_id.as_str());
    assert_eq!(adjustment["flattr:adjustsPeriod"], "2026-10");
    assert_eq!(document["object"]["flattr:adjustmentTotal"], "0.90");
    assert_eq!(document["object"]["flattr:total"], "1.80");
    let claim: Value = serde_json::from_str(sent.claim.as_deref().unwrap()).unwrap();
    assert_eq!(claim["result"]["flattr:adjustedTotal"], "0.90", "{claim}");
    assert_eq!(
        claim["result"]["flattr:adjustments"][0]["flattr:like"],
        cleo_like.as_str()
    );
    let accepted = vec![(cleo_like.clone(), 9_000, "accepted".to_owned())];
    assert_eq!(adjustment_lines(&p.alpha, &sent).await, accepted);
    let received = statement(&p.beta, Direction::Received, "2026-11").await;
    assert_eq!(adjustment_lines(&p.beta, &received).await, accepted);

    // Both sides net November to 2.70 (1.80 + 0.90), alpha paying.
    let on_alpha = position(&p.alpha, &b, "2026-11");
    let on_beta = position(&p.beta, &a, "2026-11");
    assert_eq!(
        (on_alpha["net"].as_str(), on_alpha["debtor"].as_str()),
        (Some("2.70"), Some("us"))
    );
    assert_eq!(
        (on_beta["net"].as_str(), on_beta["debtor"].as_str()),
        (Some("2.70"), Some("peer"))
    );
    // The admins see it: November's figures count the adjustment, and November's statement
    // lists it with what it corrects.
    assert_eq!(on_alpha["payable"], "2.70", "{on_alpha}");
    assert_eq!(on_beta["receivable"], "2.70", "{on_beta}");
    for (instance, direction, peer) in [(&p.alpha, "sent", &b), (&p.beta, "received", &a)] {
        let listed = admin_json(
            instance,
            &["statements", "--peer", peer, "--period", "2026-11"],
        );
        let november = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["direction"] == direction)
            .unwrap_or_else(|| panic!("no {direction} statement in {listed}"));
        assert_eq!(november["adjusted"], "0.90", "{november}");
        assert_eq!(
            november["adjustments"],
            json!([{
                "like": cleo_like, "thing": november["adjustments"][0]["thing"],
                "adjusts": october.ap_id, "adjusts_period": "2026-10",
                "amount": "0.90", "outcome": "accepted"
            }]),
            "{november}"
        );
    }
    // October's books are untouched: every posting is still there, and none added since
    // is October's.
    for (instance, books) in [(&p.alpha, &alpha_books), (&p.beta, &beta_books)] {
        let new = new_postings(books, instance.ledger_lines().await);
        assert!(
            new.iter().all(|(r, _, _)| !r.contains("2026-10")),
            "{new:?}"
        );
        assert!(
            new.iter().any(|(r, _, _)| r.starts_with("adjust:")),
            "{new:?}"
        );
    }
    assert_eq!(position(&p.alpha, &b, "2026-10"), october_on_alpha);
    assert_eq!(p.alpha.balance(&format!("disputed:{b}")).await, 0);
    let cleo_id = p.beta.user_id("cleo").await;
    assert_eq!(p.beta.balance(&format!("pending:{cleo_id}")).await, 9_000);
    audits_pass(&p).await;

    // Replays: the November statement and its claim again, and the delivery runs again.
    let before = (p.alpha.ledger_lines().await, p.beta.ledger_lines().await);
    let (status, code, reason) = send_as_alpha(&p, &document).await;
    assert_eq!(status, 202, "{code}: {reason}");
    p.settle().await;
    p.alpha.close("2026-11").await;
    p.settle().await;
    assert_eq!(
        (p.alpha.ledger_lines().await, p.beta.ledger_lines().await),
        before
    );
    assert_eq!(statements_of(&p.alpha, Direction::Sent).await.len(), 2);

    // Paid and confirmed, cleo's 0.90 is withdrawable; a restatement now corrects nothing.
    p.pay_and_confirm("2026-11", "2.70").await;
    assert_eq!(p.beta.earnings("cleo").await, 9_000);
    assert_eq!(p.beta.earnings("bob").await, 9_000 + 18_000);
    let nothing = admin_json(&p.alpha, &["restate", &b, "2026-10"]);
    assert_eq!(nothing["adjustments"], json!([]), "{nothing}");
    audits_pass(&p).await;
}

#[tokio::test]
async fn a_bogus_flattr_of_a_paid_period_is_taken_back_in_the_next_and_refunded_to_its_flattrer() {
    let p = pair().await;
    let (a, b) = (origin(&p.alpha), origin(&p.beta));
    p.alice_flattrs_bob().await;
    p.close_and_settle().await;
    p.pay_and_confirm("2026-10", "1.80").await;
    let october = statement(&p.alpha, Direction::Sent, "2026-10").await;
    let like = fedflattr::settle::statements::lines(p.alpha.state.store.pool(), october.id)
        .await
        .unwrap()
        .remove(0)
        .like_id;
    let alice = p.alpha.user_id("alice").await;
    let wallet = p.alpha.balance(&format!("wallet:{alice}")).await;
    assert_eq!(wallet, 80_000);

    // A take-back of a period not paid is refused; of a Like not stated, too.
    let refused = crate::netting::fedflattr_admin(
        &p.alpha,
        &[
            "restate",
            &b,
            "2026-10",
            "--take-back",
            "https://x.test/likes/1",
        ],
    );
    assert!(refused.contains("unknown_line"), "{refused}");
    let taken = admin_json(&p.alpha, &["restate", &b, "2026-10", "--take-back", &like]);
    assert_eq!(
        taken["adjustments"],
        json!([{"like": like, "value": "-1.80"}]),
        "{taken}"
    );

    // November: alice flattrs bob again; the take-back rides along and is covered by bob's
    // November credit, so the two cancel: nothing to pay, both books close at once.
    november(&p);
    p.alice_flattrs_bob().await;
    p.close_period_and_settle("2026-11", "2026-12-01T00:00:10Z")
        .await;
    let sent = statement(&p.alpha, Direction::Sent, "2026-11").await;
    assert_eq!(
        adjustment_lines(&p.alpha, &sent).await,
        [(like.clone(), -18_000, "accepted".to_owned())]
    );
    for (instance, peer) in [(&p.alpha, &b), (&p.beta, &a)] {
        let november = position(instance, peer, "2026-11");
        assert_eq!(
            (november["net"].as_str(), november["state"].as_str()),
            (Some("0.00"), Some("closed")),
            "{november}"
        );
        // 1.80 stated, 1.80 taken back: what the admins see per period is what was netted.
        let figure = if instance.base == p.alpha.base {
            "payable"
        } else {
            "receivable"
        };
        assert_eq!(november[figure], "0.00", "{november}");
    }
    // alice has the bogus 1.80 back; bob keeps October's 1.80 and nets nothing for November.
    assert_eq!(
        p.alpha.balance(&format!("wallet:{alice}")).await,
        wallet - 20_000 + 18_000
    );
    assert_eq!(p.alpha.balance(&format!("pending:{alice}")).await, 0);
    assert_eq!(p.beta.earnings("bob").await, 18_000);
    let bob = p.beta.user_id("bob").await;
    assert_eq!(p.beta.balance(&format!("pending:{bob}")).await, 0);
    audits_pass(&p).await;

    // Taken back once, it is not taken back again.
    let again = admin_json(&p.alpha, &["restate", &b, "2026-10", "--take-back", &like]);
    assert_eq!(again["adjustments"], json!([]), "{again}");
}

#[tokio::test]
async fn a_take_back_the_creator_has_no_credit_for_is_disputed_and_moves_nothing() {
    let p = pair().await;
    let b = origin(&p.beta);
    p.alice_flattrs_bob().await;
    p.close_and_settle().await;
    p.pay_and_confirm("2026-10", "1.80").await;
    let october = statement(&p.alpha, Direction::Sent, "2026-10").await;
    let like = fedflattr::settle::statements::lines(p.alpha.state.store.pool(), october.id)
        .await
        .unwrap()
        .remove(0)
        .like_id;
    admin_json(&p.alpha, &["restate", &b, "2026-10", "--take-back", &like]);
    let books = (p.alpha.ledger_lines().await, p.beta.ledger_lines().await);

    // No flattr of bob's in November: alpha's statement carries the take-back alone, and bob
    // has no November credit to cover it (his October 1.80 may be withdrawn already).
    november(&p);
    p.close_period_and_settle("2026-11", "2026-12-01T00:00:10Z")
        .await;
    let sent = statement(&p.alpha, Direction::Sent, "2026-11").await;
    assert_eq!(sent.line_count, 0);
    assert_eq!(
        adjustment_lines(&p.alpha, &sent).await,
        [(like, -18_000, "not_covered".to_owned())]
    );
    assert_eq!(p.beta.earnings("bob").await, 18_000);
    let alice = p.alpha.user_id("alice").await;
    assert_eq!(p.alpha.balance(&format!("wallet:{alice}")).await, 80_000);
    // Nothing moved for the dispute (and November had nothing else to settle).
    assert_eq!(new_postings(&books.0, p.alpha.ledger_lines().await), []);
    assert_eq!(new_postings(&books.1, p.beta.ledger_lines().await), []);
    audits_pass(&p).await;
}

#[tokio::test]
async fn adjustments_that_correct_nothing_of_ours_are_disputed_and_move_nothing() {
    let p = pair().await;
    p.alice_flattrs_bob().await;
    p.close_and_settle().await;
    let october = statement(&p.alpha, Direction::Sent, "2026-10").await;
    let document: Value = serde_json::from_str(&october.document).unwrap();
    let line = document["object"]["flattr:lines"][0].clone();
    // November statements, signed by alpha, whose adjustments: take back October's line
    // before October is paid (a restatement's business), then (once paid) add a line beta
    // already counts, take back a line of a statement that is not alpha's, and correct the
    // same line twice.
    let november = |adjustments: Vec<Value>, version: u32| {
        let mut forged = document.clone();
        forged.as_object_mut().unwrap().remove("proof");
        let id = october
            .ap_id
            .replace("2026-10/v1", &format!("2026-11/v{version}"));
        forged["id"] = json!(id);
        forged["object"]["id"] = json!(format!("{id}#statement"));
        forged["object"]["flattr:period"] = json!("2026-11");
        forged["object"]["flattr:version"] = json!(version);
        if version > 1 {
            forged["object"]["flattr:supersedes"] =
                json!(october.ap_id.replace("2026-10/v1", "2026-11/v1"));
        }
        forged["object"]["flattr:lines"] = json!([]);
        forged["object"]["flattr:lineCount"] = json!(0);
        forged["object"]["flattr:total"] = json!("0.00");
        let total: i64 = adjustments
            .iter()
            .map(|a| {
                let v = a["flattr:value"].as_str().unwrap();
                let cents: i64 = v.replace(['-', '.'], "").parse().unwrap();
                if v.starts_with('-') { -cents } else { cents }
            })
            .sum();
        forged["object"]["flattr:adjustmentTotal"] = json!(format!(
            "{}{}.{:02}",
            if total < 0 { "-" } else { "" },
            total.abs() / 100,
            total.abs() % 100
        ));
        forged["object"]["flattr:adjustments"] = json!(adjustments);
        forged
    };
    let adjustment = |value: &str, adjusts: &str| {
        json!({
            "flattr:like": line["flattr:like"],
            "flattr:thing": line["flattr:thing"],
            "flattr:value": value,
            "flattr:likeDigest": line["flattr:likeDigest"],
            "flattr:adjusts": adjusts,
            "flattr:adjustsPeriod": "2026-10",
        })
    };
    let books = p.beta.ledger_lines().await;
    let early = signed_by_alpha(&p, november(vec![adjustment("-1.80", &october.ap_id)], 1)).await;
    let (status, code, reason) = send_as_alpha(&p, &early).await;
    assert_eq!(status, 202, "{code}: {reason}");
    let received = statement(&p.beta, Direction::Received, "2026-11").await;
    let outcomes: Vec<String> = adjustment_lines(&p.beta, &received)
        .await
        .into_iter()
        .map(|(_, _, outcome)| outcome)
        .collect();
    assert_eq!(outcomes, ["unmatched_adjustment"]);
    assert_eq!(p.beta.ledger_lines().await, books);

    p.pay_and_confirm("2026-10", "1.80").await;
    let books = p.beta.ledger_lines().await;
    let foreign = october.ap_id.replace("alpha.test", "gamma.test");
    let later = signed_by_alpha(
        &p,
        november(
            vec![
                adjustment("1.80", &october.ap_id),
                adjustment("-1.80", &foreign),
                adjustment("-1.80", &october.ap_id),
            ],
            2,
        ),
    )
    .await;
    let (status, code, reason) = send_as_alpha(&p, &later).await;
    assert_eq!(status, 202, "{code}: {reason}");
    let received = statement(&p.beta, Direction::Received, "2026-11").await;
    assert_eq!(received.version, 2);
    let outcomes: Vec<String> = adjustment_lines(&p.beta, &received)
        .await
        .into_iter()
        .map(|(_, _, outcome)| outcome)
        .collect();
    // The third corrects the line the first did: a line is corrected once per statement.
    assert_eq!(
        outcomes,
        ["unmatched_adjustment", "unmatched_adjustment", "duplicate"]
    );
    assert_eq!(p.beta.ledger_lines().await, books);
    assert_eq!(p.beta.earnings("bob").await, 18_000);
    p.beta.assert_books_balance().await;
}
