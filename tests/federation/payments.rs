//! Payment notices between real instances that must be refused (issue 8.6): a forged or
//! changed notice, one of the wrong amount, one for a period never netted, and another notice
//! for a period already announced; a replayed notice changes nothing; and the same for the
//! receipt that comes back.

use fedflattr::federation::{instance_keys, payments, proof};
use serde_json::{Value, json};

use crate::admin_peers::admin_json;
use crate::netting::{position, ten_against_seven};
use crate::settlement::{Pair, origin, send_as_alpha};

/// `document` changed by `change` and signed again with alpha's own key: the payer's word,
/// but not the payment it made.
async fn resigned_by_alpha(p: &Pair, document: &Value, change: impl FnOnce(&mut Value)) -> Value {
    let mut changed = document.clone();
    changed.as_object_mut().unwrap().remove("proof");
    change(&mut changed);
    let now = p.alpha.state.clock.now();
    let key =
        instance_keys::signing_key(&p.alpha.state.store, &p.alpha.state.settings.base_url, now)
            .await
            .unwrap();
    proof::sign(&changed, &key, now).unwrap()
}

#[tokio::test]
async fn forged_changed_and_misdirected_payment_notices_are_refused_and_change_nothing() {
    let p = ten_against_seven().await;
    let (a, b) = (origin(&p.alpha), origin(&p.beta));
    admin_json(
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
    payments::prepare_due(&p.alpha.state).await.unwrap();
    let document: String =
        sqlx::query_scalar("SELECT payment_document FROM settlement_nets WHERE period = '2026-10'")
            .fetch_one(p.alpha.state.store.pool())
            .await
            .unwrap();
    let document: Value = serde_json::from_str(&document).unwrap();
    assert_eq!(document["object"]["flattr:amount"], "3.00");
    let before = p.beta.ledger_lines().await;

    let mut flipped = document.clone();
    let value = flipped["proof"]["proofValue"].as_str().unwrap().to_owned();
    let mut bytes = value.into_bytes();
    bytes[20] = if bytes[20] == b'A' { b'B' } else { b'A' };
    flipped["proof"]["proofValue"] = json!(String::from_utf8(bytes).unwrap());
    let (status, code, reason) = send_as_alpha(&p, &flipped).await;
    assert_eq!((status, code.as_str()), (401, "proof_invalid"), "{reason}");

    let more = resigned_by_alpha(&p, &document, |d| {
        d["object"]["flattr:amount"] = json!("3.01")
    })
    .await;
    let (status, code, reason) = send_as_alpha(&p, &more).await;
    assert_eq!(
        (status, code.as_str()),
        (422, "amount_mismatch"),
        "{reason}"
    );

    let september = resigned_by_alpha(&p, &document, |d| {
        let id = d["id"].as_str().unwrap().replace("2026-10", "2026-09");
        d["id"] = json!(id);
        d["object"]["flattr:period"] = json!("2026-09");
    })
    .await;
    let (status, code, reason) = send_as_alpha(&p, &september).await;
    assert_eq!((status, code.as_str()), (404, "unknown_period"), "{reason}");

    let elsewhere = resigned_by_alpha(&p, &document, |d| {
        d["object"]["flattr:payee"] = json!("http://gamma.test:1/actor");
    })
    .await;
    let (status, code, reason) = send_as_alpha(&p, &elsewhere).await;
    assert_eq!(
        (status, code.as_str()),
        (422, "invalid_payment"),
        "{reason}"
    );
    assert_eq!(p.beta.ledger_lines().await, before);
    assert_eq!(position(&p.beta, &a, "2026-10")["state"], "netted");

    // The genuine notice is taken; the same again changes nothing; another is a conflict.
    p.settle().await;
    assert_eq!(position(&p.beta, &a, "2026-10")["state"], "paid");
    let (status, code, reason) = send_as_alpha(&p, &document).await;
    assert_eq!(status, 202, "{code}: {reason}");
    let other = resigned_by_alpha(&p, &document, |d| {
        d["object"]["flattr:reference"] = json!("SEPA-2")
    })
    .await;
    let (status, code, reason) = send_as_alpha(&p, &other).await;
    assert_eq!(
        (status, code.as_str()),
        (409, "payment_conflict"),
        "{reason}"
    );
    assert_eq!(
        p.beta.ledger_lines().await,
        before,
        "a notice moves no money; the receipt does"
    );
    p.alpha.assert_books_balance().await;
    p.beta.assert_books_balance().await;
}

/// Posts `document` to alpha's inbox signed (HTTP) by beta's instance actor.
async fn send_as_beta(p: &Pair, document: &Value) -> (u16, String, String) {
    let key = fedflattr::federation::actors::instance_keys(&p.beta.state.store)
        .await
        .unwrap();
    let request = crate::helpers::signed_request(
        &p.beta.client,
        &p.alpha.url("/inbox"),
        &format!("{}#main-key", p.beta.url("/actor")),
        &key.private_key,
        document,
        None,
    )
    .await;
    crate::helpers::send_explained(&p.beta.client, request).await
}

#[tokio::test]
async fn a_replayed_receipt_changes_nothing_and_a_forged_or_changed_one_is_refused() {
    let p = ten_against_seven().await;
    p.pay_and_confirm("2026-10", "3.00").await;
    let receipt: String =
        sqlx::query_scalar("SELECT receipt_document FROM settlement_nets WHERE period = '2026-10'")
            .fetch_one(p.beta.state.store.pool())
            .await
            .unwrap();
    let receipt: Value = serde_json::from_str(&receipt).unwrap();
    assert_eq!(receipt["result"]["flattr:amount"], "3.00");
    let books = p.alpha.ledger_lines().await;

    let (status, code, reason) = send_as_beta(&p, &receipt).await;
    assert_eq!(status, 202, "{code}: {reason}");
    let mut flipped = receipt.clone();
    let value = flipped["proof"]["proofValue"].as_str().unwrap().to_owned();
    let mut bytes = value.into_bytes();
    bytes[20] = if bytes[20] == b'A' { b'B' } else { b'A' };
    flipped["proof"]["proofValue"] = json!(String::from_utf8(bytes).unwrap());
    let (status, code, _) = send_as_beta(&p, &flipped).await;
    assert_eq!((status, code.as_str()), (401, "proof_invalid"));
    let mut changed = receipt.clone();
    changed.as_object_mut().unwrap().remove("proof");
    changed["result"]["flattr:amount"] = json!("30.00");
    let now = p.beta.state.clock.now();
    let key = instance_keys::signing_key(&p.beta.state.store, &p.beta.state.settings.base_url, now)
        .await
        .unwrap();
    let changed = proof::sign(&changed, &key, now).unwrap();
    let (status, code, _) = send_as_beta(&p, &changed).await;
    assert_eq!((status, code.as_str()), (422, "invalid_receipt"));
    assert_eq!(p.alpha.ledger_lines().await, books);
    p.alpha.assert_books_balance().await;
}
