//! Signing outgoing requests with HTTP Signatures, draft-cavage as Mastodon does it:
//! `(request-target) host date digest`, RSA-SHA256, `keyId` = `ACTOR#main-key` for POSTs, and
//! `(request-target) host date` by the instance actor for every GET ("signed fetch", which
//! servers in Mastodon's secure mode require).

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

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

/// Why a request could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The PEM is not a PKCS#8 RSA private key.
    #[error("the private key cannot be read: {0}")]
    Key(String),
    /// Making the signature failed.
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

/// The instance actor's key, which signs every GET we make to another server.
#[derive(Clone)]
pub struct FetchSigner {
    key_id: String,
    key: Arc<RsaPrivateKey>,
}

impl FetchSigner {
    /// A signer for `instance_actor`'s key, given as PKCS#8 PEM.
    pub fn new(instance_actor: &Url, private_key_pem: &str) -> Result<Self, SignError> {
        let key = RsaPrivateKey::from_pkcs8_pem(private_key_pem)
            .map_err(|e| SignError::Key(e.to_string()))?;
        Ok(FetchSigner {
            key_id: format!("{instance_actor}#main-key"),
            key: Arc::new(key),
        })
    }

    /// Adds `Date` and a draft-cavage `Signature` over `(request-target) host date` to a GET,
    /// as Mastodon signs its own fetches. The date is the real time, not the instance's
    /// business clock (which tests move between periods): the receiver checks it against its
    /// own clock.
    pub fn sign_get(&self, request: &mut reqwest::Request) -> Result<(), SignError> {
        let url = request.url();
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(SignError::Sign(format!("{url} has no host"))),
        };
        let target = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let headers =
            BTreeMap::from([("host".to_owned(), host), ("date".to_owned(), date.clone())]);
        let key = self.key.clone();
        let signed = http_signature_normalization::Config::new()
            .mastodon_compat()
            .begin_sign(request.method().as_str(), &target, headers)
            .map_err(|e| SignError::Sign(e.to_string()))?
            .sign(self.key_id.clone(), move |signing_string| {
                let signature = key
                    .sign(
                        Pkcs1v15Sign::new::<Sha256>(),
                        &Sha256::digest(signing_string.as_bytes()),
                    )
                    .map_err(|e| SignError::Sign(e.to_string()))?;
                Ok::<_, SignError>(BASE64.encode(signature))
            })?;
        let value = |text: String| {
            reqwest::header::HeaderValue::try_from(text).map_err(|e| SignError::Sign(e.to_string()))
        };
        request.headers_mut().insert("date", value(date)?);
        request
            .headers_mut()
            .insert("signature", value(signed.signature_header())?);
        Ok(())
    }
}
