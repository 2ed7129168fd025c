//! A payer's statement checked whole between real instances (issue 8, point 1 and 2): one
//! flipped byte in its proof, or a proof by a third instance in the payer's name, is refused
//! and credits nothing (the genuine statement is then claimed); only the payee's instance may
//! fetch it.

use fedflattr::federation::{actors, statements};
use fedflattr::settle::statements::Direction;
use serde_json::{Value, json};

use crate::helpers::{Instance, client, send_explained, signed_request};
use crate::settlement::{origin, pair, send_as_alpha, statements_of};

#[tokio::test]
async fn a_flipped_byte_in_a_statements_proof_is_refused_and_the_genuine_one_then_claimed() {
    let p = pair().await;
    p.alice_flattrs_bob().await;
    p.settle().await;
    p.close_both().await;
    statements::prepare_due(&p.alpha.state).await.unwrap();
    let sent = statements_of(&p.alpha, Direction::Sent).await.remove(0);
    let document: Value = serde_json::from_str(&sent.document).unwrap();

    let mut flipped = document.clone();
    let value = flipped["proof"]["proofValue"].as_str().unwrap().to_owned();
    let mut bytes = value.into_bytes();
    bytes[20] = if bytes[20] == b'A' { b'B' } else { b'A' };
    flipped["proof"]["proofValue"] = json!(String::from_utf8(bytes).unwrap());
    let (status, code, reason) = send_as_alpha(&p, &flipped).await;
    assert_eq!((status, code.as_str()), (401, "proof_invalid"), "{reason}");
    assert!(statements_of(&p.beta, Direction::Received).await.is_empty());
    assert_eq!(
        p.beta
            .balance(&format!("receivable:{}", origin(&p.alpha)))
            .await,
        0
    );

    p.settle().await;
    let received = statements_of(&p.beta, Direction::Received).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].state, "claimed");
    assert_eq!(
        p.beta
            .balance(&format!("receivable:{}", origin(&p.alpha)))
            .await,
        -18_000
    );
}

#[tokio::test]
async fn a_statement_in_alphas_name_signed_by_a_third_instance_is_refused() {
    let p = pair().await;
    let gamma = Instance::spawn("gamma").await;
    p.alice_flattrs_bob().await;
    p.settle().await;
    p.close_both().await;
    statements::prepare_due(&p.alpha.state).await.unwrap();
    let sent = statements_of(&p.alpha, Direction::Sent).await.remove(0);
    let document: Value = serde_json::from_str(&sent.document).unwrap();

    // gamma's key signs the proof; the document says it is alpha's.
    let mut forged = document.clone();
    forged["object"]["flattr:lines"][0]["flattr:value"] = json!("9.00");
    forged["object"]["flattr:total"] = json!("9.00");
    let gamma_key = fedflattr::federation::instance_keys::signing_key(
        &gamma.state.store,
        &gamma.state.settings.base_url,
        gamma.state.clock.now(),
    )
    .await
    .unwrap();
    let forged =
        fedflattr::federation::proof::sign(&forged, &gamma_key, gamma.state.clock.now()).unwrap();

    // Delivered by gamma: its HTTP signature is not alpha's.
    let gamma_actor = actors::instance_keys(&gamma.state.store).await.unwrap();
    let shared = client(&[&p.alpha, &p.beta, &gamma]);
    let request = signed_request(
        &shared,
        &p.beta.url("/inbox"),
        &format!("{}#main-key", gamma.url("/actor")),
        &gamma_actor.private_key,
        &forged,
        None,
    )
    .await;
    let (status, code, reason) = send_explained(&shared, request).await;
    assert!(status == 401 || status == 403, "{status} {code}: {reason}");

    // Even carried by alpha's own HTTP signature (a relay that holds alpha's transport key),
    // the proof is gamma's, not alpha's.
    let (status, code, reason) = send_as_alpha(&p, &forged).await;
    assert_eq!((status, code.as_str()), (401, "proof_invalid"), "{reason}");
    assert!(statements_of(&p.beta, Direction::Received).await.is_empty());
    p.beta.assert_books_balance().await;
}

#[tokio::test]
async fn only_the_payees_instance_may_fetch_a_statement() {
    let p = pair().await;
    let gamma = Instance::spawn("gamma").await;
    p.alice_flattrs_bob().await;
    p.settle().await;
    p.close_both().await;
    statements::prepare_due(&p.alpha.state).await.unwrap();
    let sent = statements_of(&p.alpha, Direction::Sent).await.remove(0);
    let url = url::Url::parse(&sent.ap_id).unwrap();

    let fetched = fedflattr::federation::client::get_json(&p.beta.state.fetcher, url.clone())
        .await
        .unwrap();
    assert_eq!(
        fetched,
        serde_json::from_str::<Value>(&sent.document).unwrap()
    );

    let unsigned = p.alpha.client.get(url.as_str()).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    let by_gamma = fedflattr::federation::client::get_json(&gamma.state.fetcher, url).await;
    assert!(
        by_gamma
            .as_ref()
            .is_err_and(|e| e.to_string().contains("403")),
        "{by_gamma:?}"
    );
}
