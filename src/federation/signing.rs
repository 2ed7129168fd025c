//! Signing outgoing requests with HTTP Signatures, draft-cavage as Mastodon does it:
//! `(request-target) host date digest`, RSA-SHA256, `keyId` = `ACTOR#main-key`.

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use http_signature_normalization_reqwest::DefaultSpawner;
use http_signature_normalization_reqwest::prelude::{Config, SignExt};
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha2::{Digest, Sha256};
use url::Url;

use super::vocab::ACTIVITY_JSON;

/// Mastodon-compatible: no `(created)`/`(expires)` pseudo-headers, which older servers reject.
static CONFIG: LazyLock<Config<DefaultSpawner>> = LazyLock::new(|| Config::new().mastodon_compat());

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("the private key cannot be read: {0}")]
    Key(String),
    #[error("signing failed: {0}")]
    Sign(String),
}

impl From<http_signature_normalization_reqwest::SignError> for SignError {
    fn from(e: http_signature_normalization_reqwest::SignError) -> Self {
        SignError::Sign(e.to_string())
    }
}

impl From<reqwest::Error> for SignError {
    fn from(e: reqwest::Error) -> Self {
        SignError::Sign(e.to_string())
    }
}

/// Builds a signed POST of `body` to `inbox` on behalf of `actor`.
pub async fn signed_post(
    client: &reqwest::Client,
    inbox: &Url,
    actor: &Url,
    private_key_pem: &str,
    body: String,
) -> Result<reqwest::Request, SignError> {
    let key = RsaPrivateKey::from_pkcs8_pem(private_key_pem)
        .map_err(|e| SignError::Key(e.to_string()))?;
    let client = reqwest_middleware::ClientWithMiddleware::from(client.clone());
    let builder = client
        .post(inbox.as_str())
        .header("content-type", ACTIVITY_JSON)
        .header("accept", ACTIVITY_JSON);
    let key_id = format!("{actor}#main-key");
    builder
        .signature_with_digest(
            CONFIG.clone(),
            key_id,
            Sha256::new(),
            body,
            move |signing_string| {
                let signature = key
                    .sign(
                        Pkcs1v15Sign::new::<Sha256>(),
                        &Sha256::digest(signing_string.as_bytes()),
                    )
                    .map_err(|e| SignError::Sign(e.to_string()))?;
                Ok::<_, SignError>(BASE64.encode(signature))
            },
        )
        .await
}
