//! The proof suite against the W3C vc-di-eddsa `eddsa-jcs-2022` test vectors
//! (tests/fixtures/eddsa-jcs-2022, see its README), and every refusal of `verify`.

use serde_json::json;

use super::*;

const UNSIGNED: &str = include_str!("../../tests/fixtures/eddsa-jcs-2022/unsigned.json");
const SIGNED: &str = include_str!("../../tests/fixtures/eddsa-jcs-2022/signedJCS.json");
const PROOF_CONFIG: &str = include_str!("../../tests/fixtures/eddsa-jcs-2022/proofConfigJCS.json");
const KEY_PAIR: &str = include_str!("../../tests/fixtures/eddsa-jcs-2022/keyPair.json");
const PROOF_VALUE: &str = include_str!("../../tests/fixtures/eddsa-jcs-2022/sigBTC58JCS.txt");
const CANON_DOC: &str = include_str!("../../tests/fixtures/eddsa-jcs-2022/canonDocJCS.txt");
const CANON_PROOF: &str = include_str!("../../tests/fixtures/eddsa-jcs-2022/proofCanonJCS.txt");
const COMBINED_HASH: &str = include_str!("../../tests/fixtures/eddsa-jcs-2022/combinedHashJCS.txt");

/// The vectors' key: `privateKeyMultibase` is `z` + base58btc(0x8026 ‖ 32-byte seed).
fn vector_key() -> (ProofKey, VerifyingKey) {
    let pair: Value = serde_json::from_str(KEY_PAIR).unwrap();
    let private = decode_base58btc(pair["privateKeyMultibase"].as_str().unwrap()).unwrap();
    assert_eq!(
        &private[..2],
        &[0x80, 0x26],
        "an Ed25519 private key multicodec"
    );
    let seed: [u8; 32] = private[2..].try_into().unwrap();
    let public = decode_public_key(pair["publicKeyMultibase"].as_str().unwrap()).unwrap();
    let signed: Value = serde_json::from_str(SIGNED).unwrap();
    let id = Url::parse(signed["proof"]["verificationMethod"].as_str().unwrap()).unwrap();
    (ProofKey::new(id, &seed), public)
}

fn vector_created() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2023-02-24T23:36:38Z")
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn the_w3c_vector_key_pair_is_one_key_in_multibase() {
    let (key, public) = vector_key();
    assert_eq!(key.verifying_key(), public);
    let pair: Value = serde_json::from_str(KEY_PAIR).unwrap();
    assert_eq!(encode_public_key(&public), pair["publicKeyMultibase"]);
}

#[test]
fn signing_the_w3c_unsigned_credential_gives_the_vectors_canonical_forms_and_proof_value() {
    let unsigned: Value = serde_json::from_str(UNSIGNED).unwrap();
    let unsigned_map = unsigned.as_object().unwrap().clone();
    assert_eq!(
        String::from_utf8(canonical(&unsigned_map).unwrap()).unwrap(),
        CANON_DOC.trim()
    );
    let (key, _) = vector_key();
    let signed = sign(&unsigned, &key, vector_created()).unwrap();
    let proof = signed["proof"].as_object().unwrap();
    let mut options = proof.clone();
    options.remove("proofValue");
    options.insert("@context".into(), unsigned["@context"].clone());
    let config: Value = serde_json::from_str(PROOF_CONFIG).unwrap();
    assert_eq!(Value::Object(options.clone()), config);
    assert_eq!(
        String::from_utf8(canonical(&options).unwrap()).unwrap(),
        CANON_PROOF.trim()
    );
    options.remove("@context");
    assert_eq!(
        hex::encode(signed_data(&unsigned_map, &options).unwrap()),
        COMBINED_HASH.trim()
    );
    // Ed25519 is deterministic: the same bytes signed with the same key give the same value.
    assert_eq!(proof["proofValue"], PROOF_VALUE.trim());
}

#[test]
fn the_w3c_signed_credential_verifies_and_fails_once_one_byte_changes() {
    let (_, public) = vector_key();
    let signed: Value = serde_json::from_str(SIGNED).unwrap();
    parse(&signed).unwrap().verify_with(&public).unwrap();

    let mut changed = signed.clone();
    changed["credentialSubject"]["alumniOf"] = json!("The School of Exampled");
    assert_eq!(
        parse(&changed).unwrap().verify_with(&public),
        Err(ProofError::Signature)
    );

    let value = signed["proof"]["proofValue"].as_str().unwrap();
    let mut bytes = decode_base58btc(value).unwrap();
    bytes[10] ^= 0x01;
    let mut flipped = signed.clone();
    flipped["proof"]["proofValue"] = json!(format!("z{}", bs58::encode(bytes).into_string()));
    assert_eq!(
        parse(&flipped).unwrap().verify_with(&public),
        Err(ProofError::Signature)
    );
}

#[test]
fn created_is_written_in_whole_seconds_with_z() {
    let (key, _) = vector_key();
    let created = vector_created() + chrono::Duration::milliseconds(250);
    let signed = sign(&json!({"a": 1}), &key, created).unwrap();
    assert_eq!(signed["proof"]["created"], "2023-02-24T23:36:38Z");
    assert!(signed["proof"].get("@context").is_none());
}

#[test]
fn a_missing_proof_or_another_type_suite_or_purpose_is_refused() {
    let (key, _) = vector_key();
    let signed = sign(&json!({"id": "x"}), &key, vector_created()).unwrap();
    assert_eq!(parse(&json!({"id": "x"})).err(), Some(ProofError::Missing));
    for (field, value) in [
        ("type", "Ed25519Signature2020"),
        ("cryptosuite", "eddsa-rdfc-2022"),
        ("proofPurpose", "authentication"),
    ] {
        let mut other = signed.clone();
        other["proof"][field] = json!(value);
        assert!(
            matches!(parse(&other), Err(ProofError::Unacceptable(_))),
            "{field}"
        );
    }
    let mut two = signed.clone();
    two["proof"] = json!([signed["proof"], signed["proof"]]);
    assert!(matches!(parse(&two), Err(ProofError::Unacceptable(_))));
}

/// Serves one actor document, whatever is asked.
struct OneActor(Value);

impl ActorFetcher for OneActor {
    async fn fetch_actor(&self, _id: &Url) -> Result<Value, ProofError> {
        Ok(self.0.clone())
    }
}

const ACTOR: &str = "https://alpha.example/actor";

fn signed_by_alpha() -> (Value, Multikey) {
    let id = Url::parse(&format!("{ACTOR}#ed25519-key-1")).unwrap();
    let key = ProofKey::new(id.clone(), &[7; 32]);
    let multikey = Multikey::ed25519(id, Url::parse(ACTOR).unwrap(), &key.verifying_key());
    let document = json!({"id": "https://alpha.example/s/1", "type": "Offer", "actor": ACTOR});
    (sign(&document, &key, vector_created()).unwrap(), multikey)
}

fn actor_listing(keys: Value) -> OneActor {
    OneActor(json!({"id": ACTOR, "type": "Application", "assertionMethod": keys}))
}

#[tokio::test]
async fn a_proof_verifies_with_the_key_its_actor_lists_in_assertion_method() {
    let (document, multikey) = signed_by_alpha();
    let signer = verify(&document, &actor_listing(json!([multikey])))
        .await
        .unwrap();
    assert_eq!(signer.as_str(), ACTOR);
    // One key alone, not in a list, is read too.
    verify(&document, &actor_listing(json!(multikey)))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_key_the_actor_does_not_list_or_does_not_control_is_refused() {
    let (document, multikey) = signed_by_alpha();
    let refused = verify(&document, &actor_listing(json!([]))).await;
    assert!(matches!(refused, Err(ProofError::Key(ref r)) if r.contains("does not list")));

    let mut elsewhere = multikey.clone();
    elsewhere.controller = Url::parse("https://mallory.example/actor").unwrap();
    let refused = verify(&document, &actor_listing(json!([elsewhere]))).await;
    assert!(matches!(refused, Err(ProofError::Key(ref r)) if r.contains("controlled by")));

    let other_key = ProofKey::new(multikey.id.clone(), &[8; 32]);
    let mut wrong = multikey.clone();
    wrong.public_key_multibase = encode_public_key(&other_key.verifying_key());
    let refused = verify(&document, &actor_listing(json!([wrong]))).await;
    assert_eq!(refused, Err(ProofError::Signature));

    let impostor =
        OneActor(json!({"id": "https://alpha.example/other", "assertionMethod": [multikey]}));
    let refused = verify(&document, &impostor).await;
    assert!(matches!(refused, Err(ProofError::Key(ref r)) if r.contains("fetched as")));
}
