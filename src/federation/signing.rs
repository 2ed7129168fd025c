//! Signing outgoing requests with HTTP Signatures, draft-cavage as Mastodon does it:
//! `(request-target) host date digest`, RSA-SHA256, `keyId` = `ACTOR#main-key` for POSTs, and
//! `(request-target) host date` by the instance actor for every GET ("signed fetch", which
//! servers in Mastodon's secure mode require).

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha2::{Digest, Sha256};
use url::Url;

use super::vocab::ACTIVITY_JSON;

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

/// Builds a signed POST of `body` to `inbox` on behalf of `actor` (parses the key each time;
/// the delivery queue keeps a [`PostSigner`] instead).
pub async fn signed_post(
    client: &reqwest::Client,
    inbox: &Url,
    actor: &Url,
    private_key_pem: &str,
    body: String,
) -> Result<reqwest::Request, SignError> {
    PostSigner::new(actor, private_key_pem)?.sign(client, inbox, body)
}

/// An actor's private key, parsed once, that signs POSTs draft-cavage as Mastodon does:
/// `(request-target) host date digest`, RSASSA-PKCS1-v1_5 SHA-256 (with `ring`, which signs
/// several times faster than the `rsa` crate; parsing a key costs about as much as a
/// signature, hence one signer per actor per delivery run).
pub struct PostSigner {
    key_id: String,
    key: ring::signature::RsaKeyPair,
}

impl PostSigner {
    /// A signer for `actor`'s key, given as PKCS#8 PEM.
    pub fn new(actor: &Url, private_key_pem: &str) -> Result<PostSigner, SignError> {
        let der = RsaPrivateKey::from_pkcs8_pem(private_key_pem)
            .and_then(|key| key.to_pkcs8_der())
            .map_err(|e| SignError::Key(e.to_string()))?;
        let key = ring::signature::RsaKeyPair::from_pkcs8(der.as_bytes())
            .map_err(|e| SignError::Key(e.to_string()))?;
        Ok(PostSigner {
            key_id: format!("{actor}#main-key"),
            key,
        })
    }

    /// A POST of `body` to `inbox` with `Date`, `Digest` and the `Signature` over them. The
    /// date is the real time, not the instance's business clock (see [`FetchSigner::sign_get`]).
    pub fn sign(
        &self,
        client: &reqwest::Client,
        inbox: &Url,
        body: String,
    ) -> Result<reqwest::Request, SignError> {
        let host = match (inbox.host_str(), inbox.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(SignError::Sign(format!("{inbox} has no host"))),
        };
        let target = match inbox.query() {
            Some(query) => format!("{}?{query}", inbox.path()),
            None => inbox.path().to_owned(),
        };
        let digest = format!("SHA-256={}", BASE64.encode(Sha256::digest(body.as_bytes())));
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let signing_string = format!(
            "(request-target): post {target}\nhost: {host}\ndate: {date}\ndigest: {digest}"
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                signing_string.as_bytes(),
                &mut signature,
            )
            .map_err(|e| SignError::Sign(e.to_string()))?;
        let header = format!(
            "keyId=\"{}\",algorithm=\"hs2019\",headers=\"(request-target) host date digest\",signature=\"{}\"",
            self.key_id,
            BASE64.encode(&signature)
        );
        Ok(client
            .post(inbox.as_str())
            .header("content-type", ACTIVITY_JSON)
            .header("accept", ACTIVITY_JSON)
            .header("date", date)
            .header("digest", digest)
            .header("signature", header)
            .body(body)
            .build()?)
    }
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
