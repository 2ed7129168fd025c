//! Object integrity proofs (FEP-8b32) with the `eddsa-jcs-2022` cryptosuite of the W3C
//! vc-di-eddsa specification: the durable signature on every settlement document.
//!
//! An HTTP signature authenticates one delivery and is gone once the request is answered; a
//! proof stays inside the document, so anyone holding a statement can check later, and
//! without us, what its instance stated. The suite:
//!
//! 1. the proof options are `type: DataIntegrityProof`, `cryptosuite: eddsa-jcs-2022`,
//!    `verificationMethod` (the key's id), `proofPurpose: assertionMethod` and `created`
//!    (written `YYYY-MM-DDTHH:MM:SSZ`), plus the document's `@context`;
//! 2. both the options and the document without `proof` are canonicalised with JCS (RFC 8785)
//!    and hashed with SHA-256; the data signed is `hash(options) ‖ hash(document)`;
//! 3. the Ed25519 signature is written as `proofValue`, multibase base58btc (`z…`).
//!
//! Verifying reverses this, and then asks who the key belongs to: the document at the key id
//! (without its fragment) is fetched, and must be an actor that lists the key, as a `Multikey`
//! whose `controller` is that very actor, in its `assertionMethod` (FEP-521a). A key that
//! names a controller which does not list it proves nothing.

use std::future::Future;

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use url::Url;

/// The proof type of FEP-8b32 (W3C Data Integrity).
pub const PROOF_TYPE: &str = "DataIntegrityProof";
/// The one cryptosuite we sign with and accept.
pub const CRYPTOSUITE: &str = "eddsa-jcs-2022";
/// The one proof purpose we sign with and accept.
pub const PURPOSE: &str = "assertionMethod";
/// The multicodec prefix of an Ed25519 public key (0xed, varint-encoded).
const ED25519_PUBLIC: [u8; 2] = [0xed, 0x01];

/// Why a proof does not hold. Every variant is answered as `proof_invalid`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The document has no `proof`.
    #[error("the document carries no proof")]
    Missing,
    /// The proof is not one we accept: its shape, type, cryptosuite or purpose.
    #[error("the proof is not acceptable: {0}")]
    Unacceptable(String),
    /// The key the proof names cannot be found, read or trusted.
    #[error("the proof's key cannot be trusted: {0}")]
    Key(String),
    /// The signature does not verify over the document as it is.
    #[error(
        "the proof's signature does not verify: the document was changed or not signed with this key"
    )]
    Signature,
}

/// A public key as an actor publishes it in `assertionMethod` (FEP-521a).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Multikey {
    /// The key's id, `ACTOR#…`: what a proof's `verificationMethod` names.
    pub id: Url,
    /// `Multikey`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The actor the key belongs to.
    pub controller: Url,
    /// The key, multibase: for Ed25519 `z` + base58btc(0xed01 ‖ 32 bytes).
    pub public_key_multibase: String,
}

impl Multikey {
    /// The `Multikey` of an Ed25519 public key.
    pub fn ed25519(id: Url, controller: Url, key: &VerifyingKey) -> Multikey {
        Multikey {
            id,
            kind: "Multikey".to_owned(),
            controller,
            public_key_multibase: encode_public_key(key),
        }
    }
}

/// `z` + base58btc(0xed01 ‖ key): the multibase form of an Ed25519 public key.
pub fn encode_public_key(key: &VerifyingKey) -> String {
    let mut bytes = ED25519_PUBLIC.to_vec();
    bytes.extend_from_slice(key.as_bytes());
    format!("z{}", bs58::encode(bytes).into_string())
}

/// Reads a multibase Ed25519 public key; anything else (another key type, another base) is
/// refused.
pub fn decode_public_key(multibase: &str) -> Result<VerifyingKey, ProofError> {
    let bytes = decode_base58btc(multibase)
        .ok_or_else(|| ProofError::Key("the key is not multibase base58btc".to_owned()))?;
    let key = bytes
        .strip_prefix(&ED25519_PUBLIC)
        .and_then(|key| <[u8; 32]>::try_from(key).ok())
        .ok_or_else(|| ProofError::Key("the key is not an Ed25519 key".to_owned()))?;
    VerifyingKey::from_bytes(&key)
        .map_err(|_| ProofError::Key("the key is not a valid Ed25519 point".to_owned()))
}

fn decode_base58btc(multibase: &str) -> Option<Vec<u8>> {
    bs58::decode(multibase.strip_prefix('z')?).into_vec().ok()
}

/// A key that signs proofs, with the id verifiers find it under.
#[derive(Clone)]
pub struct ProofKey {
    /// The key's id (`BASE/actor#ed25519-key-N`), written as the proof's `verificationMethod`.
    pub id: Url,
    key: SigningKey,
}

impl ProofKey {
    /// A signing key from its 32-byte secret seed.
    pub fn new(id: Url, seed: &[u8; 32]) -> ProofKey {
        ProofKey {
            id,
            key: SigningKey::from_bytes(seed),
        }
    }

    /// The public half, to publish.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }
}

impl std::fmt::Debug for ProofKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofKey")
            .field("id", &self.id.as_str())
            .finish()
    }
}

/// `created` as Fedify reads and rewrites it: whole seconds, `Z`. Another spelling of the same
/// instant (fractions, `+00:00`) would make Fedify hash other bytes than we signed.
fn created_text(created: DateTime<Utc>) -> String {
    created.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn canonical(value: &Map<String, Value>) -> Result<Vec<u8>, ProofError> {
    serde_json_canonicalizer::to_vec(value)
        .map_err(|e| ProofError::Unacceptable(format!("the document cannot be canonicalised: {e}")))
}

/// SHA-256 (lowercase hex) of the JCS form of `value`: how settlement names "this exact
/// document" (a Like as sent, a statement without its proof). Key order and spacing do not
/// change it; any change of content does.
pub fn digest(value: &Value) -> Result<String, ProofError> {
    let bytes = serde_json_canonicalizer::to_vec(value).map_err(|e| {
        ProofError::Unacceptable(format!("the document cannot be canonicalised: {e}"))
    })?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

/// `SHA-256(JCS(options + the document's @context)) ‖ SHA-256(JCS(document))`: what the
/// signature covers.
fn signed_data(
    unsecured: &Map<String, Value>,
    options: &Map<String, Value>,
) -> Result<Vec<u8>, ProofError> {
    let mut config = options.clone();
    if let Some(context) = unsecured.get("@context") {
        config.insert("@context".to_owned(), context.clone());
    }
    let mut data = Sha256::digest(canonical(&config)?).to_vec();
    data.extend_from_slice(&Sha256::digest(canonical(unsecured)?));
    Ok(data)
}

/// Returns `document` with an `eddsa-jcs-2022` proof by `key`, created at `created`. A proof
/// the document already had is replaced.
pub fn sign(document: &Value, key: &ProofKey, created: DateTime<Utc>) -> Result<Value, ProofError> {
    let Value::Object(document) = document else {
        return Err(ProofError::Unacceptable(
            "only a JSON object can be signed".to_owned(),
        ));
    };
    let mut unsecured = document.clone();
    unsecured.remove("proof");
    let mut options = Map::new();
    options.insert("type".to_owned(), PROOF_TYPE.into());
    options.insert("cryptosuite".to_owned(), CRYPTOSUITE.into());
    options.insert("verificationMethod".to_owned(), key.id.as_str().into());
    options.insert("proofPurpose".to_owned(), PURPOSE.into());
    options.insert("created".to_owned(), created_text(created).into());
    let signature = key.key.sign(&signed_data(&unsecured, &options)?);
    options.insert(
        "proofValue".to_owned(),
        format!("z{}", bs58::encode(signature.to_bytes()).into_string()).into(),
    );
    let mut secured = unsecured;
    secured.insert("proof".to_owned(), Value::Object(options));
    Ok(Value::Object(secured))
}

/// A proof read from a document, before its key is known.
#[derive(Debug, Clone)]
pub struct ParsedProof {
    verification_method: String,
    created: String,
    options: Map<String, Value>,
    signature: Signature,
    unsecured: Map<String, Value>,
}

/// Reads the proof of `document` and checks that it is one we accept: one proof, of type
/// `DataIntegrityProof`, cryptosuite `eddsa-jcs-2022`, purpose `assertionMethod`, with a
/// `created` time and a multibase Ed25519 signature.
pub fn parse(document: &Value) -> Result<ParsedProof, ProofError> {
    let Value::Object(document) = document else {
        return Err(ProofError::Missing);
    };
    let mut unsecured = document.clone();
    let proof = match unsecured.remove("proof") {
        None | Some(Value::Null) => return Err(ProofError::Missing),
        Some(Value::Object(proof)) => proof,
        Some(_) => {
            return Err(ProofError::Unacceptable(
                "the proof must be one JSON object".to_owned(),
            ));
        }
    };
    let text = |name: &str| proof.get(name).and_then(Value::as_str);
    let expect = |name: &str, wanted: &str| match text(name) {
        Some(found) if found == wanted => Ok(()),
        found => Err(ProofError::Unacceptable(format!(
            "{name} must be {wanted}, not {}",
            found.unwrap_or("missing")
        ))),
    };
    expect("type", PROOF_TYPE)?;
    expect("cryptosuite", CRYPTOSUITE)?;
    expect("proofPurpose", PURPOSE)?;
    let verification_method = text("verificationMethod")
        .ok_or_else(|| ProofError::Unacceptable("the proof names no verificationMethod".into()))?
        .to_owned();
    let created = text("created")
        .filter(|c| DateTime::parse_from_rfc3339(c).is_ok())
        .ok_or_else(|| ProofError::Unacceptable("the proof has no valid created time".into()))?
        .to_owned();
    // A proof may repeat the document's @context (the W3C vectors do); it must then be the
    // document's own, since the verifier hashes the options with the document's.
    if let Some(context) = proof.get("@context")
        && Some(context) != unsecured.get("@context")
    {
        return Err(ProofError::Unacceptable(
            "the proof's @context is not the document's".to_owned(),
        ));
    }
    let signature = text("proofValue")
        .and_then(decode_base58btc)
        .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
        .map(|bytes| Signature::from_bytes(&bytes))
        .ok_or_else(|| {
            ProofError::Unacceptable("proofValue is not a multibase Ed25519 signature".into())
        })?;
    let mut options = proof;
    options.remove("proofValue");
    options.remove("@context");
    Ok(ParsedProof {
        verification_method,
        created,
        options,
        signature,
        unsecured,
    })
}

impl ParsedProof {
    /// The id of the key the proof says signed it.
    pub fn verification_method(&self) -> &str {
        &self.verification_method
    }

    /// When the proof says it was made (RFC 3339, as written).
    pub fn created(&self) -> &str {
        &self.created
    }

    /// Checks the signature with `key` (strict Ed25519: no malleable signatures, no weak keys).
    pub fn verify_with(&self, key: &VerifyingKey) -> Result<(), ProofError> {
        let data = signed_data(&self.unsecured, &self.options)?;
        key.verify_strict(&data, &self.signature)
            .map_err(|_| ProofError::Signature)
    }
}

/// Fetches the actor document a key id points to (the key id without its fragment).
pub trait ActorFetcher {
    /// The JSON of the actor at `id`, whose own `id` must be `id`.
    fn fetch_actor(&self, id: &Url) -> impl Future<Output = Result<Value, ProofError>> + Send;
}

/// Verifies the proof of `document`: its form, then its key, which must be an Ed25519
/// `Multikey` in the `assertionMethod` of the actor the key id names, controlled by that
/// actor, then the signature. Returns the actor that signed.
pub async fn verify(document: &Value, fetcher: &impl ActorFetcher) -> Result<Url, ProofError> {
    let proof = parse(document)?;
    let key_id = Url::parse(proof.verification_method())
        .ok()
        .filter(|url| matches!(url.scheme(), "https" | "http"))
        .ok_or_else(|| ProofError::Key("verificationMethod is not an http(s) URL".to_owned()))?;
    let mut actor_id = key_id.clone();
    actor_id.set_fragment(None);
    let actor = fetcher.fetch_actor(&actor_id).await?;
    if actor.get("id").and_then(Value::as_str) != Some(actor_id.as_str()) {
        return Err(ProofError::Key(format!(
            "{actor_id} is not the actor it was fetched as"
        )));
    }
    let key = published_key(&actor, &actor_id, &key_id)?;
    proof.verify_with(&key)?;
    Ok(actor_id)
}

/// The Ed25519 key `key_id` as `actor` publishes it in `assertionMethod`.
fn published_key(actor: &Value, actor_id: &Url, key_id: &Url) -> Result<VerifyingKey, ProofError> {
    let methods: Vec<&Value> = match actor.get("assertionMethod") {
        Some(Value::Array(methods)) => methods.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    let entry = methods
        .into_iter()
        .find(|m| m.get("id").and_then(Value::as_str) == Some(key_id.as_str()))
        .ok_or_else(|| {
            ProofError::Key(format!(
                "{actor_id} does not list {key_id} in its assertionMethod"
            ))
        })?;
    let multikey: Multikey = serde_json::from_value(entry.clone())
        .map_err(|e| ProofError::Key(format!("{key_id} is not a Multikey: {e}")))?;
    if multikey.kind != "Multikey" {
        return Err(ProofError::Key(format!("{key_id} is not a Multikey")));
    }
    if multikey.controller != *actor_id {
        return Err(ProofError::Key(format!(
            "{key_id} is controlled by {}, not by {actor_id}",
            multikey.controller
        )));
    }
    decode_public_key(&multikey.public_key_multibase)
}

impl ActorFetcher for activitypub_federation::config::Data<crate::state::AppState> {
    /// A signed fetch (the library checks the content type and that the document's id is on
    /// the origin asked), behind our SSRF guard and blocklist.
    async fn fetch_actor(&self, id: &Url) -> Result<Value, ProofError> {
        super::client::guard(&self.settings, id)
            .await
            .map_err(|e| ProofError::Key(e.to_string()))?;
        let fetched = activitypub_federation::fetch::fetch_object_http::<
            crate::state::AppState,
            Value,
        >(id, self)
        .await
        .map_err(|e| ProofError::Key(format!("{id} cannot be fetched: {e}")))?;
        Ok(fetched.object)
    }
}

impl From<ProofError> for super::FederationError {
    /// Every failed proof is the sender's fault: 401 `proof_invalid`, with the reason.
    fn from(error: ProofError) -> Self {
        super::FederationError::refused(
            axum::http::StatusCode::UNAUTHORIZED,
            "proof_invalid",
            error.to_string(),
        )
    }
}

#[cfg(test)]
#[path = "proof_tests.rs"]
mod tests;
