//! Netting, payment and receipt between real instances (issue 8, points 5 and 6): both sides
//! net a period by themselves and agree to the cent; the debtor's admin records the transfer
//! (a signed notice goes to the peer), the creditor's admin confirms it (a signed receipt comes
//! back), the creators' pending earnings become withdrawable and both books close the period.

use serde_json::{Value, json};

use crate::admin_peers::{admin_json, admin_token};
use crate::helpers::error_of;
use crate::settlement::{Pair, origin, pair, pair_with};

/// The period's position of `peer` in `instance`'s `admin peers`.
pub fn position(instance: &crate::helpers::Instance, peer: &str, period: &str) -> Value {
    let peers = admin_json(instance, &["peers"]);
    let found = peers
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["peer"] == peer)
        .unwrap_or_else(|| panic!("{peer} is not in {peers}"));
    found["periods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["period"] == period)
        .unwrap_or_else(|| panic!("{period} is not in {found}"))
        .clone()
}

/// A pair without fee, alice's budget 10.00 and bea's 7.00: alice flattrs bob (alpha owes
/// beta 10.00), bea flattrs alan (beta owes alpha 7.00); both close and settle.
pub async fn ten_against_seven() -> Pair {
    let p = pair_with(|c| c.fee_rate = fedflattr::config::DecimalText(rust_decimal::Decimal::ZERO))
        .await;
    for (instance, token, budget) in [(&p.alpha, &p.alice, "10.00"), (&p.beta, &p.bea, "7.00")] {
        let response = instance
            .patch("/api/v1/user", token, &json!({"budget": budget}))
            .await;
        assert_eq!(response.status(), 200);
    }
    p.alice_flattrs_bob().await;
    p.bea_flattrs_alan().await;
    p.close_and_settle().await;
    p
}

#[tokio::test]
async fn alpha_owing_ten_and_beta_owing_seven_nets_to_alpha_paying_three_on_both_sides() {
    let p = ten_against_seven().await;
    let (a, b) = (origin(&p.alpha), origin(&p.beta));
    let on_alpha = position(&p.alpha, &b, "2026-10");
    let on_beta = position(&p.beta, &a, "2026-10");
    assert_eq!(on_alpha["state"], "netted", "{on_alpha}");
    assert_eq!(on_beta["state"], "netted", "{on_beta}");
    assert_eq!(
        (on_alpha["net"].as_str(), on_alpha["debtor"].as_str()),
        (Some("3.00"), Some("us"))
    );
    assert_eq!(
        (on_beta["net"].as_str(), on_beta["debtor"].as_str()),
        (Some("3.00"), Some("peer"))
    );
    assert_eq!(
        (on_alpha["carried"].as_str(), on_beta["carried"].as_str()),
        (Some("0.00"), Some("0.00"))
    );

    // alpha's admin has 3.00 to pay; beta's has nothing to confirm until alpha announces it.
    let due = admin_json(&p.alpha, &["payments"]);
    assert_eq!(due["to_make"][0]["amount"], "3.00", "{due}");
    assert_eq!(due["to_make"][0]["peer"], b);
    assert_eq!(due["to_confirm"], json!([]));
    let admin = admin_token(&p.beta, "root").await;
    let beta_due = p
        .beta
        .get_json("/api/v1/admin/payments", Some(&admin))
        .await;
    assert_eq!(beta_due, json!({"to_make": [], "to_confirm": []}));
    p.alpha.assert_books_balance().await;
    p.beta.assert_books_balance().await;
}

#[tokio::test]
async fn a_recorded_payment_and_a_confirmed_receipt_close_both_books_and_make_earnings_withdrawable()
 {
    let p = ten_against_seven().await;
    let (a, b) = (origin(&p.alpha), origin(&p.beta));
    let bob = p.beta.user_id("bob").await;
    let alan = p.alpha.user_id("alan").await;

    // A wrong amount is refused, and so is paying what beta owes.
    let wrong = fedflattr_admin(
        &p.alpha,
        &[
            "payment",
            "record",
            &b,
            "2026-10",
            "2.99",
            "--date",
            "2026-11-05",
            "--reference",
            "SEPA-1",
        ],
    );
    assert!(wrong.contains("amount_mismatch"), "{wrong}");
    let wrong = fedflattr_admin(
        &p.beta,
        &[
            "payment",
            "record",
            &a,
            "2026-10",
            "3.00",
            "--date",
            "2026-11-05",
            "--reference",
            "SEPA-1",
        ],
    );
    assert!(wrong.contains("not_debtor"), "{wrong}");
    let recorded = admin_json(
        &p.alpha,
        &[
            "payment",
            "record",
            &b,
            "2026-10",
            "3.00",
            "--date",
            "2026-11-05",
            "--reference",
            "SEPA-1",
        ],
    );
    assert_eq!(recorded["state"], "paid", "{recorded}");
    // alpha's books of October settle: 10.00 owed, 7.00 owed back, 3.00 left the bank.
    assert_eq!(p.alpha.payable(&b).await, 0);
    assert_eq!(p.alpha.balance(&format!("receivable:{b}")).await, 0);
    assert_eq!(
        p.alpha.balance(&format!("pending:{alan}")).await,
        70_000,
        "until beta confirms"
    );

    p.settle().await;
    assert_eq!(position(&p.beta, &a, "2026-10")["state"], "paid");
    let admin = admin_token(&p.beta, "root").await;
    let due = p
        .beta
        .get_json("/api/v1/admin/payments", Some(&admin))
        .await;
    assert_eq!(due["to_confirm"][0]["amount"], "3.00", "{due}");
    assert_eq!(due["to_confirm"][0]["reference"], "SEPA-1");

    // Confirming something never announced is refused; the announced payment is confirmed.
    let response = p
        .beta
        .post_api(
            "/api/v1/admin/receipts",
            &admin,
            &json!({"peer": a, "period": "2026-09", "date": "2026-11-06"}),
        )
        .await;
    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (404, "unknown_period"));
    let response = p
        .beta
        .post_api(
            "/api/v1/admin/receipts",
            &admin,
            &json!({"peer": a, "period": "2026-10", "date": "2026-11-06"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        p.beta.earnings("bob").await,
        100_000,
        "bob's 10.00 is withdrawable"
    );
    assert_eq!(p.beta.balance(&format!("pending:{bob}")).await, 0);
    assert_eq!(p.beta.payable(&a).await, 0);
    assert_eq!(p.beta.balance(&format!("receivable:{a}")).await, 0);
    // Received: beta's books of October are closed; its signed receipt is still to send.
    assert_eq!(position(&p.beta, &a, "2026-10")["state"], "received");

    p.settle().await;
    assert_eq!(position(&p.beta, &a, "2026-10")["state"], "closed");
    let on_alpha = position(&p.alpha, &b, "2026-10");
    assert_eq!(on_alpha["state"], "closed", "{on_alpha}");
    assert_eq!(on_alpha["received_on"], "2026-11-06");
    assert_eq!(
        p.alpha.earnings("alan").await,
        70_000,
        "alan's 7.00 is withdrawable"
    );
    assert_eq!(p.alpha.balance(&format!("pending:{alan}")).await, 0);
    // The bank: alpha paid 3.00 out, beta took 3.00 in (besides the deposits).
    assert_eq!(p.alpha.balance("world").await, -100_000 + 30_000);
    assert_eq!(p.beta.balance("world").await, -100_000 - 30_000);

    // Creators can be paid out of what became withdrawable.
    let login = p
        .beta
        .post(
            "/api/v1/tokens",
            None,
            &json!({"username": "bob", "password": crate::common::users::PASSWORD}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let bob_token = login["access_token"].as_str().unwrap();
    let payout = p
        .beta
        .post_api(
            "/api/v1/user/payouts",
            bob_token,
            &json!({"amount": "10.00"}),
        )
        .await;
    assert_eq!(payout.status(), 201, "{:?}", payout.text().await);
    p.alpha.assert_books_balance().await;
    p.beta.assert_books_balance().await;
}

#[tokio::test]
async fn a_sub_cent_rest_is_carried_to_the_next_netting_on_both_sides() {
    let p = pair().await;
    let (a, b) = (origin(&p.alpha), origin(&p.beta));
    // alice's 1.80 split over seven flattrs: 18 000 / 7 = 2 571 rest 3, so her first three
    // flattrs get 0.2572; bob's thing is her first.
    let bob_url = p.beta.thing_url(p.bob_thing);
    assert_eq!(p.alpha.flattr_url(&p.alice, &bob_url).await.status(), 201);
    let alan = p.alpha.sign_up("alan9").await;
    for n in 0..6 {
        let thing = p
            .alpha
            .create_thing(&alan, &format!("https://alan9.example/{n}"))
            .await;
        p.alpha.flattred(&p.alice, thing).await;
    }
    p.close_and_settle().await;
    let on_alpha = position(&p.alpha, &b, "2026-10");
    let on_beta = position(&p.beta, &a, "2026-10");
    assert_eq!(on_alpha["payable"], "0.2572");
    assert_eq!(
        (on_alpha["net"].as_str(), on_alpha["debtor"].as_str()),
        (Some("0.25"), Some("us"))
    );
    assert_eq!(
        (on_beta["net"].as_str(), on_beta["debtor"].as_str()),
        (Some("0.25"), Some("peer"))
    );
    assert_eq!(on_alpha["carried"], "0.0072", "{on_alpha}");
    assert_eq!(on_beta["carried"], "-0.0072", "{on_beta}");

    p.pay_and_confirm("2026-10", "0.25").await;
    // The rest is in both books, mirrored, until the next netting takes it.
    assert_eq!(p.alpha.balance(&format!("carry:{b}")).await, 72);
    assert_eq!(p.beta.balance(&format!("carry:{a}")).await, -72);
    let peers = admin_json(&p.alpha, &["peers"]);
    assert_eq!(peers[0]["carried"], "0.0072", "{peers}");

    // November: alice flattrs bob once more (1.80); with the rest, alpha owes 1.8072 and pays
    // 1.80, carrying 0.0072 again.
    for instance in [&p.alpha, &p.beta] {
        instance.set_time("2026-11-10T12:00:00Z");
    }
    assert_eq!(p.alpha.flattr_url(&p.alice, &bob_url).await.status(), 201);
    p.settle().await;
    for instance in [&p.alpha, &p.beta] {
        instance.set_time("2026-12-01T00:00:10Z");
        instance.close("2026-11").await;
    }
    p.settle().await;
    let november = position(&p.alpha, &b, "2026-11");
    assert_eq!(
        (november["net"].as_str(), november["carried"].as_str()),
        (Some("1.80"), Some("0.0072"))
    );
    assert_eq!(position(&p.beta, &a, "2026-11")["net"], "1.80");
    p.alpha.assert_books_balance().await;
    p.beta.assert_books_balance().await;
}

/// Runs `fedflattr admin ARGS` on `instance`'s database, expecting it to fail; its stderr.
pub fn fedflattr_admin(instance: &crate::helpers::Instance, args: &[&str]) -> String {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_fedflattr"));
    command.arg("admin").args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("FEDFLATTR_") {
            command.env_remove(name);
        }
    }
    command.env("FEDFLATTR_DATABASE_URL", &instance.database_url);
    let dir = tempfile::tempdir().unwrap();
    let output = command.current_dir(dir.path()).output().unwrap();
    assert!(
        !output.status.success(),
        "fedflattr admin {args:?} succeeded"
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}
