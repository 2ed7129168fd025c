//! Verifying RFC 9421 HTTP Message Signatures (`Signature-Input` + `Signature`), as Fedify
//! sends them on its first attempt: `rsa-v1_5-sha256` over `@method`, `@target-uri`,
//! `@authority`, headers and `content-digest` (RFC 9530).
//!
//! Only what is needed to accept such a request: one signature label, derived components
//! `@method`, `@target-uri`, `@authority`, `@scheme`, `@request-target`, `@path`, `@query`,
//! plain header components, and the RSA PKCS#1 v1.5 SHA-256 algorithm. Anything else is
//! refused, which sends a double-knocking peer back to draft-cavage.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

use crate::keys::ActorKey;

/// One parsed signature: the covered components, its parameters, and the signature bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The covered components, in order (`@method`, `content-digest`, …).
    pub components: Vec<String>,
    /// The serialized inner list with parameters, exactly as received: the
    /// `@signature-params` line is built from it.
    pub params: String,
    /// The `keyid` parameter: the URL of the signer's key.
    pub key_id: String,
    /// The `created` parameter, Unix seconds.
    pub created: Option<i64>,
    /// The `expires` parameter, Unix seconds.
    pub expires: Option<i64>,
    /// The `alg` parameter, when the signer named one.
    pub alg: Option<String>,
    /// The signature bytes, decoded from base64.
    pub signature: Vec<u8>,
}

/// What the verifier knows about the request as the sender addressed it.
pub struct Target<'a> {
    /// The request's method, upper case.
    pub method: &'a str,
    /// `scheme://authority/path?query` as the sender used it (our public URL + the path).
    pub uri: &'a url::Url,
    /// Looks a request header up by its lower-case name.
    pub header: &'a dyn Fn(&str) -> Option<String>,
}

/// Splits a structured-field dictionary at its top-level commas (not inside quotes or
/// parentheses) into `(key, value)` members.
fn members(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0usize);
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' if i == 0 || bytes[i - 1] != b'\\' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth -= 1,
            b',' if !quoted && depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out.into_iter()
        .filter_map(|m| {
            let (key, value) = m.trim().split_once('=')?;
            Some((key.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

fn unquote(value: &str) -> Option<String> {
    let inner = value.strip_prefix('"')?.strip_suffix('"')?;
    Some(inner.replace("\\\"", "\"").replace("\\\\", "\\"))
}

/// A header's value as a signature base holds it: every line of the field, trimmed, joined
/// with `, ` (RFC 9421 §2.1); `None` when the request has no such header.
pub fn field(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::trim)
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// Parses the first signature of `Signature-Input` and its bytes from `Signature`.
pub fn parse(signature_input: &str, signature: &str) -> Result<Signature, String> {
    let (label, params) = members(signature_input)
        .into_iter()
        .next()
        .ok_or("Signature-Input names no signature")?;
    let bytes = members(signature)
        .into_iter()
        .find(|(l, _)| *l == label)
        .ok_or_else(|| format!("Signature has no value for {label}"))?
        .1;
    let bytes = bytes
        .strip_prefix(':')
        .and_then(|b| b.strip_suffix(':'))
        .ok_or("the signature is not a byte sequence")?;
    let signature = BASE64
        .decode(bytes)
        .map_err(|_| "the signature is not base64")?;
    let close = params
        .find(')')
        .ok_or("Signature-Input has no component list")?;
    let list = params
        .strip_prefix('(')
        .ok_or("Signature-Input has no component list")?;
    let components = list[..close - 1]
        .split_whitespace()
        .map(|c| unquote(c).ok_or_else(|| format!("component {c} is not a string")))
        .collect::<Result<Vec<_>, _>>()?;
    let (mut key_id, mut created, mut expires, mut alg) = (None, None, None, None);
    for param in params[close + 1..].split(';').filter(|p| !p.is_empty()) {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        match name.trim() {
            "keyid" => key_id = unquote(value),
            "alg" => alg = unquote(value),
            "created" => created = value.parse().ok(),
            "expires" => expires = value.parse().ok(),
            _ => {}
        }
    }
    Ok(Signature {
        components,
        key_id: key_id.ok_or("the signature has no keyid")?,
        params,
        created,
        expires,
        alg,
        signature,
    })
}

/// The signature base of RFC 9421 §2.5 for `sig` over the request `target`.
pub fn base(sig: &Signature, target: &Target<'_>) -> Result<String, String> {
    let uri = target.uri;
    let authority = match uri.port() {
        Some(port) => format!("{}:{port}", uri.host_str().unwrap_or_default()),
        None => uri.host_str().unwrap_or_default().to_owned(),
    };
    let mut lines = Vec::with_capacity(sig.components.len() + 1);
    for component in &sig.components {
        let value = match component.as_str() {
            "@method" => target.method.to_ascii_uppercase(),
            "@target-uri" => uri.to_string(),
            "@authority" => authority.to_ascii_lowercase(),
            "@scheme" => uri.scheme().to_owned(),
            "@path" => uri.path().to_owned(),
            "@query" => format!("?{}", uri.query().unwrap_or_default()),
            "@request-target" => match uri.query() {
                Some(query) => format!("{}?{query}", uri.path()),
                None => uri.path().to_owned(),
            },
            derived if derived.starts_with('@') => {
                return Err(format!("unsupported component {derived}"));
            }
            header => (target.header)(header)
                .ok_or_else(|| format!("the covered header {header} is missing"))?,
        };
        lines.push(format!("\"{component}\": {value}"));
    }
    lines.push(format!("\"@signature-params\": {}", sig.params));
    Ok(lines.join("\n"))
}

/// Refuses a signature made with an algorithm other than `rsa-v1_5-sha256` (when it names one).
pub fn check_algorithm(sig: &Signature) -> Result<(), String> {
    match sig.alg.as_deref() {
        Some(alg) if alg != "rsa-v1_5-sha256" => Err(format!("unsupported algorithm {alg}")),
        _ => Ok(()),
    }
}

/// Verifies `sig` over `base` with an actor's RSA key.
pub fn verify(sig: &Signature, base: &str, key: &ActorKey) -> Result<(), String> {
    check_algorithm(sig)?;
    if key.verifies(base.as_bytes(), &sig.signature) {
        Ok(())
    } else {
        Err("the signature does not verify".to_owned())
    }
}

/// Checks a `Content-Digest` header (RFC 9530) against the body: a `sha-256` member must be
/// there and match.
pub fn check_content_digest(header: Option<&str>, body: &[u8]) -> Result<(), String> {
    let header = header.ok_or("no Content-Digest header")?;
    let expected = BASE64.encode(Sha256::digest(body));
    let sha = members(header)
        .into_iter()
        .find(|(alg, _)| alg.eq_ignore_ascii_case("sha-256"))
        .ok_or("Content-Digest has no sha-256")?
        .1;
    if sha.trim_matches(':') == expected {
        Ok(())
    } else {
        Err("Content-Digest does not match the body".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    use rsa::{Pkcs1v15Sign, RsaPrivateKey};

    const INPUT: &str = r#"sig1=("@method" "@target-uri" "@authority" "host" "date" "content-digest");alg="rsa-v1_5-sha256";keyid="https://peer.example/users/carol#main-key";created=1763700000"#;

    #[test]
    fn a_fedify_style_signature_input_parses_into_its_components_and_parameters() {
        let sig = parse(INPUT, "sig1=:AAEC:").unwrap();
        assert_eq!(
            sig.components,
            [
                "@method",
                "@target-uri",
                "@authority",
                "host",
                "date",
                "content-digest"
            ]
        );
        assert_eq!(sig.key_id, "https://peer.example/users/carol#main-key");
        assert_eq!(sig.created, Some(1_763_700_000));
        assert_eq!(sig.signature, vec![0, 1, 2]);
        assert!(sig.params.starts_with("(\"@method\""));
    }

    #[test]
    fn a_signature_over_the_base_verifies_and_any_change_breaks_it() {
        let private = RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap();
        let public = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let uri = url::Url::parse("http://us.example:8080/inbox").unwrap();
        let header = |name: &str| match name {
            "host" => Some("us.example:8080".to_owned()),
            "date" => Some("Fri, 21 Nov 2026 06:00:00 GMT".to_owned()),
            "content-digest" => {
                Some("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:".to_owned())
            }
            _ => None,
        };
        let mut sig = parse(INPUT, "sig1=:AA==:").unwrap();
        let target = Target {
            method: "post",
            uri: &uri,
            header: &header,
        };
        let text = base(&sig, &target).unwrap();
        assert!(text.starts_with("\"@method\": POST\n\"@target-uri\": http://us.example:8080/inbox\n\"@authority\": us.example:8080\n"));
        assert!(text.ends_with(&format!("\"@signature-params\": {}", &INPUT[5..])));
        sig.signature = private
            .sign(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(text.as_bytes()),
            )
            .unwrap();
        let key = ActorKey::from_pem(&public).unwrap();
        assert_eq!(verify(&sig, &text, &key), Ok(()));
        assert!(verify(&sig, &text.replace("POST", "GET"), &key).is_err());
    }

    #[test]
    fn the_content_digest_must_match_the_body() {
        let body = b"{}";
        let good = format!("sha-256=:{}:", BASE64.encode(Sha256::digest(body)));
        assert_eq!(check_content_digest(Some(&good), body), Ok(()));
        assert!(check_content_digest(Some(&good), b"{ }").is_err());
        assert!(check_content_digest(None, body).is_err());
        assert!(check_content_digest(Some("sha-512=:AA==:"), body).is_err());
    }
}
