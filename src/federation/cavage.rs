//! Verifying draft-cavage HTTP Signatures (`Signature: keyId=…,headers=…,signature=…`), as
//! Mastodon and most of the fediverse send them, and the `Digest` header of the body.
//!
//! Ours rather than the federation library's because the library re-reads the actor from the
//! database and re-parses its PEM key with the `rsa` crate on every request, which made
//! signature checking the inbox's bottleneck; here the key comes parsed from `keys::KeyCache`
//! and is verified with `ring`. What is checked is the library's: the digest of the body,
//! then the signature over the covered headers with the key of the activity's actor. Which
//! headers must be covered, and the signature's time, are `signature_policy`'s.

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

use super::signature_policy::cavage_parameters;
use crate::keys::ActorKey;

/// A parsed `Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The `keyId`: the URL of the signer's key.
    pub key_id: String,
    /// The covered headers, lower case, in order (`(request-target) host date digest`).
    pub headers: Vec<String>,
    /// The `(created)` parameter, when given.
    pub created: Option<String>,
    /// The `(expires)` parameter, when given.
    pub expires: Option<String>,
    /// The signature bytes.
    pub signature: Vec<u8>,
}

impl Signature {
    /// Reads a `Signature` header.
    pub fn parse(header: &str) -> Result<Signature, String> {
        let parameters = cavage_parameters(header);
        let parameter = |name: &str| {
            parameters
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let signature = parameter("signature").ok_or("the Signature has no signature")?;
        Ok(Signature {
            key_id: parameter("keyid").ok_or("the Signature has no keyId")?,
            // Without `headers`, draft-cavage says only `Date` is signed.
            headers: parameter("headers")
                .unwrap_or_else(|| "date".to_owned())
                .split_whitespace()
                .map(str::to_ascii_lowercase)
                .collect(),
            created: parameter("created"),
            expires: parameter("expires"),
            signature: BASE64
                .decode(signature)
                .map_err(|_| "the signature is not base64")?,
        })
    }

    /// The signing string of draft-cavage §2.3 for a request with this `method`, path and
    /// query, and `headers`; `host` stands in for a missing `Host` header (HTTP/2, proxies).
    pub fn signing_string(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &HeaderMap,
        host: &str,
    ) -> Result<String, String> {
        let mut lines = Vec::with_capacity(self.headers.len());
        for name in &self.headers {
            let value = match name.as_str() {
                "(request-target)" => {
                    format!("{} {path_and_query}", method.to_ascii_lowercase())
                }
                "(created)" => self.created.clone().ok_or("(created) is not given")?,
                "(expires)" => self.expires.clone().ok_or("(expires) is not given")?,
                header => {
                    let values: Vec<&str> = headers
                        .get_all(header)
                        .iter()
                        .map(|v| v.to_str().map(str::trim))
                        .collect::<Result<_, _>>()
                        .map_err(|_| format!("the header {header} is not text"))?;
                    if values.is_empty() {
                        if header == "host" {
                            host.to_owned()
                        } else {
                            return Err(format!("the signed header {header} is missing"));
                        }
                    } else {
                        values.join(", ")
                    }
                }
            };
            lines.push(format!("{name}: {value}"));
        }
        Ok(lines.join("\n"))
    }

    /// Verifies the signature over `signing_string` with `key`.
    pub fn verify(&self, signing_string: &str, key: &ActorKey) -> bool {
        key.verifies(signing_string.as_bytes(), &self.signature)
    }
}

/// Checks the `Digest` header against the body: every `ALG=VALUE` part must be the body's
/// SHA-256 in base64 (as the federation library checked it).
pub fn check_digest(header: Option<&str>, body: &[u8]) -> Result<(), String> {
    let header = header.ok_or("no Digest header: the body's digest is missing")?;
    let expected = BASE64.encode(Sha256::digest(body));
    let parts: Vec<&str> = header
        .split(';')
        .next()
        .unwrap_or_default()
        .split(',')
        .filter_map(|part| part.split_once('=').map(|(_, value)| value))
        .collect();
    if parts.is_empty() {
        return Err("the Digest header has no digest".into());
    }
    if parts.iter().all(|value| *value == expected) {
        Ok(())
    } else {
        Err("the digest of the body does not match its Digest header".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    use rsa::{Pkcs1v15Sign, RsaPrivateKey};

    #[test]
    fn a_mastodon_signature_verifies_over_its_signing_string_and_any_change_breaks_it() {
        let private = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let key = ActorKey::from_pem(
            &private
                .to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .unwrap(),
        )
        .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("host", "us.example".parse().unwrap());
        headers.insert("date", "Sat, 21 Nov 2026 12:00:00 GMT".parse().unwrap());
        headers.insert("digest", "SHA-256=abc".parse().unwrap());
        let expected = "(request-target): post /inbox\nhost: us.example\ndate: Sat, 21 Nov 2026 12:00:00 GMT\ndigest: SHA-256=abc";
        let signature = private
            .sign(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(expected.as_bytes()),
            )
            .unwrap();
        let header = format!(
            r#"keyId="https://peer.example/users/a#main-key",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="{}""#,
            BASE64.encode(&signature)
        );
        let parsed = Signature::parse(&header).unwrap();
        assert_eq!(parsed.key_id, "https://peer.example/users/a#main-key");
        let text = parsed
            .signing_string("POST", "/inbox", &headers, "fallback")
            .unwrap();
        assert_eq!(text, expected);
        assert!(parsed.verify(&text, &key));
        let other = parsed
            .signing_string("POST", "/users/a/inbox", &headers, "fallback")
            .unwrap();
        assert!(!parsed.verify(&other, &key));
        headers.remove("host");
        let without_host = parsed
            .signing_string("POST", "/inbox", &headers, "us.example")
            .unwrap();
        assert!(parsed.verify(&without_host, &key));
    }

    #[test]
    fn the_digest_must_be_the_bodys_sha256() {
        let body = b"{}";
        let good = format!("SHA-256={}", BASE64.encode(Sha256::digest(body)));
        assert_eq!(check_digest(Some(&good), body), Ok(()));
        assert!(check_digest(Some(&good), b"{ }").is_err());
        assert!(check_digest(None, body).is_err());
        assert!(check_digest(Some("SHA-256="), body).is_err());
    }
}
