//! Object integrity proofs (FEP-8b32, `eddsa-jcs-2022`) both ways with Fedify: its
//! `verifyObject` (what a Fedify inbox runs on a document with a proof) accepts a document our
//! instance actor signed, and our `proof::verify` accepts a Note Fedify's `signObject` signed.
//! Each side also refuses the document once one character of it changed.

use fedflattr::federation::{instance_keys, proof, vocab};
use serde_json::{Value, json};

use super::{Peer, start_us};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fedify_peer_verifies_the_proof_our_instance_actor_put_on_an_offer() {
    let us = start_us().await;
    let peer = Peer::start(&us).await;
    let actor = us.url("/actor");
    // A statement as we send them, with our settlement context and one line.
    let id = us.url("/settlement/statements/example/2026-10/v1");
    let offer = json!({
        "@context": vocab::settlement_context(),
        "id": id,
        "type": "Offer",
        "actor": actor,
        "to": [peer.field("actor")],
        "object": {
            "id": format!("{id}#statement"),
            "type": ["Object", "Statement"],
            "attributedTo": actor,
            "flattr:payee": peer.field("actor"),
            "flattr:period": "2026-10",
            "flattr:version": 1,
            "flattr:currency": "EUR",
            "flattr:scale": 4,
            "flattr:lineCount": 1,
            "flattr:total": "1.80",
            "flattr:lines": [{
                "flattr:like": us.url("/users/alice/likes/0123456789abcdef"),
                "flattr:thing": peer.field("note"),
                "flattr:value": "1.80",
                "flattr:likeDigest": "00",
            }],
        },
    });
    let now = chrono::Utc::now();
    let key = instance_keys::signing_key(&us.state.store, &us.state.settings.base_url, now)
        .await
        .unwrap();
    let signed = proof::sign(&offer, &key, now).unwrap();
    assert_eq!(
        signed["proof"]["verificationMethod"],
        format!("{actor}#ed25519-key-1")
    );

    let (status, answer) = peer
        .control("/control/verify", &json!({"document": signed}))
        .await;
    assert_eq!(status, 200, "{answer}\n{}", peer.log());
    assert_eq!(
        answer,
        json!({"verified": true, "type": "Offer", "id": offer["id"]}),
        "{}",
        peer.log()
    );

    let mut changed = signed.clone();
    changed["to"] = json!(us.url("/users/mallory"));
    let (_, answer) = peer
        .control("/control/verify", &json!({"document": changed}))
        .await;
    assert_eq!(answer["verified"], false, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_verify_a_note_a_fedify_peer_signed_and_refuse_it_once_changed() {
    let us = start_us().await;
    let peer = Peer::start(&us).await;
    let (status, signed) = peer
        .control("/control/sign", &json!({"content": "worth a flattr"}))
        .await;
    assert_eq!(status, 200, "{signed}\n{}", peer.log());
    let document: Value = signed["document"].clone();
    assert_eq!(
        document["proof"]["cryptosuite"], "eddsa-jcs-2022",
        "{signed}"
    );
    assert_eq!(
        document["proof"]["verificationMethod"], signed["keyId"],
        "{signed}"
    );

    let data = us.federation.to_request_data();
    let signer = proof::verify(&document, &data).await;
    assert_eq!(
        signer.as_ref().map(url::Url::as_str),
        Ok(peer.field("actor").as_str()),
        "{document}\n{}",
        peer.log()
    );

    let mut changed = document.clone();
    changed["content"] = json!("worth two flattrs");
    assert_eq!(
        proof::verify(&changed, &data).await,
        Err(proof::ProofError::Signature)
    );
}
