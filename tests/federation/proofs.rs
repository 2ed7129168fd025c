//! The instance actor's Ed25519 keys and the proofs they make, between real instances: a peer
//! verifies what we signed by fetching our actor, keys are rotated by adding, and a statement
//! signed with an old key still verifies after a rotation.

use fedflattr::federation::{instance_keys, proof};
use serde_json::json;

use crate::helpers::{Instance, federate};

#[tokio::test]
async fn a_rotated_key_signs_from_then_on_and_proofs_of_the_old_one_still_verify() {
    let mut alpha = Instance::spawn("alpha").await;
    let mut beta = Instance::spawn("beta").await;
    federate(&mut [&mut alpha, &mut beta]);
    let (store, base, now) = (
        &alpha.state.store,
        &alpha.state.settings.base_url,
        alpha.state.clock.now(),
    );
    let document =
        json!({"id": alpha.url("/settlement/x"), "type": "Offer", "actor": alpha.url("/actor")});

    let old = instance_keys::signing_key(store, base, now).await.unwrap();
    let signed_before = proof::sign(&document, &old, now).unwrap();
    assert_eq!(instance_keys::rotate(store, now).await.unwrap(), 2);
    let new = instance_keys::signing_key(store, base, now).await.unwrap();
    assert_eq!(
        new.id.as_str(),
        format!("{}#ed25519-key-2", alpha.url("/actor"))
    );
    let signed_after = proof::sign(&document, &new, now).unwrap();

    // The actor publishes both, as Multikeys it controls, beside its RSA key.
    let actor = alpha.get_activity_json("/actor").await;
    let methods = actor["assertionMethod"].as_array().unwrap();
    assert_eq!(methods.len(), 2, "{actor}");
    assert_eq!(methods[0]["id"], old.id.as_str());
    assert_eq!(methods[1]["type"], "Multikey");
    assert_eq!(methods[1]["controller"], alpha.url("/actor"));
    assert!(
        methods[1]["publicKeyMultibase"]
            .as_str()
            .unwrap()
            .starts_with("z6Mk")
    );
    assert_eq!(
        actor["publicKey"]["id"],
        format!("{}#main-key", alpha.url("/actor"))
    );

    let data = beta.federation.to_request_data();
    for signed in [&signed_before, &signed_after] {
        let signer = proof::verify(signed, &data).await.unwrap();
        assert_eq!(signer.as_str(), alpha.url("/actor"));
    }

    // Keys are never removed: the database refuses it.
    let deleted = sqlx::query("DELETE FROM instance_signing_keys WHERE id = 1")
        .execute(store.pool())
        .await;
    assert!(deleted.is_err(), "{deleted:?}");
}
