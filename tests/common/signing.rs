//! Requests signed the way other servers sign them, to send to an inbox as a peer, a forger or
//! a replayer would: draft-cavage HTTP Signatures as Mastodon signs, and RFC 9421 HTTP Message
//! Signatures as Fedify signs, with every part the test wants to forge left to the test.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Signs a POST of `body` to `inbox` with `private_key_pem` under `key_id`, draft-cavage as
/// Mastodon does, with an optional `Date` of the forger's choosing. Returns the request so a
/// test can tamper with it or send it twice.
pub async fn signed_request(
    client: &reqwest::Client,
    inbox: &str,
    key_id: &str,
    private_key_pem: &str,
    body: &Value,
    date: Option<std::time::SystemTime>,
) -> reqwest::Request {
    use base64::Engine;
    use http_signature_normalization_reqwest::prelude::{Config, SignExt};
    use rsa::pkcs8::DecodePrivateKey;
    use sha2::{Digest, Sha256};

    let key = rsa::RsaPrivateKey::from_pkcs8_pem(private_key_pem).expect("a PKCS#8 PEM key");
    let client = reqwest_middleware::ClientWithMiddleware::from(client.clone());
    let mut builder = client
        .post(inbox)
        .header("content-type", "application/activity+json");
    if let Some(date) = date {
        builder = builder.header("date", httpdate(date));
    }
    let config: Config = Config::new().mastodon_compat();
    builder
        .signature_with_digest(
            config,
            key_id.to_owned(),
            Sha256::new(),
            body.to_string(),
            move |signing_string| {
                let signature = key
                    .sign(
                        rsa::Pkcs1v15Sign::new::<Sha256>(),
                        &Sha256::digest(signing_string.as_bytes()),
                    )
                    .expect("RSA signing of a digest succeeds");
                Ok::<_, fedflattr::federation::signing::SignError>(
                    base64::engine::general_purpose::STANDARD.encode(signature),
                )
            },
        )
        .await
        .expect("the request signs")
}

/// An HTTP date (`Sat, 21 Nov 2026 15:00:00 GMT`).
pub fn httpdate(time: std::time::SystemTime) -> String {
    let time: DateTime<Utc> = time.into();
    time.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Sends a request and returns its status and JSON error code (if any).
pub async fn send(client: &reqwest::Client, request: reqwest::Request) -> (u16, String) {
    let (status, code, _) = send_explained(client, request).await;
    (status, code)
}

/// Sends a request and returns its status, JSON error code and the reason given.
pub async fn send_explained(
    client: &reqwest::Client,
    request: reqwest::Request,
) -> (u16, String, String) {
    let response = client.execute(request).await.expect("the server answers");
    super::error_of(response).await
}

/// Builds an RFC 9421-signed POST (as Fedify signs: `rsa-v1_5-sha256` over `@method`,
/// `@target-uri`, `@authority`, `host`, `date` and `content-digest`), with the components
/// and `created` time of the test's choosing.
pub fn rfc9421_request(
    client: &reqwest::Client,
    inbox: &str,
    key_id: &str,
    private_key_pem: &str,
    body: &Value,
    components: &[&str],
    created: i64,
) -> reqwest::Request {
    use base64::Engine;
    use sha2::{Digest, Sha256};

    let body = body.to_string();
    let digest = format!(
        "sha-256=:{}:",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body.as_bytes()))
    );
    let signed = rfc9421_sign(
        "POST",
        inbox,
        key_id,
        private_key_pem,
        components,
        created,
        Some(&digest),
    );
    client
        .post(inbox)
        .header("content-type", "application/activity+json")
        .header("date", &signed.date)
        .header("content-digest", &digest)
        .header("signature-input", &signed.input)
        .header("signature", &signed.signature)
        .body(body)
        .build()
        .expect("the request builds")
}

/// Builds an RFC 9421-signed GET of `url` for ActivityPub JSON (a signed fetch as a server
/// that signs with RFC 9421 makes it), over the components and `created` time given.
pub fn rfc9421_get(
    client: &reqwest::Client,
    url: &str,
    key_id: &str,
    private_key_pem: &str,
    components: &[&str],
    created: i64,
) -> reqwest::Request {
    let signed = rfc9421_sign(
        "GET",
        url,
        key_id,
        private_key_pem,
        components,
        created,
        None,
    );
    client
        .get(url)
        .header("accept", "application/activity+json")
        .header("date", &signed.date)
        .header("signature-input", &signed.input)
        .header("signature", &signed.signature)
        .build()
        .expect("the request builds")
}

/// The headers an RFC 9421 signature adds: `Date`, `Signature-Input`, `Signature`.
struct Rfc9421Headers {
    date: String,
    input: String,
    signature: String,
}

/// Signs `method url` (`rsa-v1_5-sha256`) over `components`, whose header values are `host`,
/// `date` and, when given, `content-digest`.
fn rfc9421_sign(
    method: &str,
    url: &str,
    key_id: &str,
    private_key_pem: &str,
    components: &[&str],
    created: i64,
    digest: Option<&str>,
) -> Rfc9421Headers {
    use base64::Engine;
    use rsa::pkcs8::DecodePrivateKey;
    use sha2::{Digest, Sha256};

    let uri = url::Url::parse(url).expect("the target is a URL");
    let host = format!(
        "{}:{}",
        uri.host_str().expect("the target has a host"),
        uri.port().expect("the target has a port")
    );
    let date = httpdate(std::time::SystemTime::now());
    let list = components
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(" ");
    let input =
        format!("sig1=({list});alg=\"rsa-v1_5-sha256\";keyid=\"{key_id}\";created={created}");
    let header = |name: &str| match name {
        "host" => Some(host.clone()),
        "date" => Some(date.clone()),
        "content-digest" => digest.map(str::to_owned),
        _ => None,
    };
    let signature = fedflattr::federation::rfc9421::parse(&input, "sig1=:AA==:")
        .expect("the signature input parses");
    let target = fedflattr::federation::rfc9421::Target {
        method,
        uri: &uri,
        header: &header,
    };
    let base = fedflattr::federation::rfc9421::base(&signature, &target)
        .expect("the signature base builds");
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(private_key_pem).expect("a PKCS#8 PEM key");
    let bytes = key
        .sign(
            rsa::Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(base.as_bytes()),
        )
        .expect("RSA signing of a digest succeeds");
    Rfc9421Headers {
        date,
        input,
        signature: format!(
            "sig1=:{}:",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ),
    }
}

/// A GET of `url` for ActivityPub JSON, signed draft-cavage as Mastodon signs its fetches
/// (`rsa-sha256` over `(request-target) host date`), under any `key_id`: with a fragment as
/// Mastodon's, or without one.
pub fn signed_get(
    client: &reqwest::Client,
    url: &str,
    key_id: &str,
    private_key_pem: &str,
) -> reqwest::Request {
    use base64::Engine;
    use rsa::pkcs8::DecodePrivateKey;
    use sha2::{Digest, Sha256};

    let uri = url::Url::parse(url).expect("the target is a URL");
    let host = format!(
        "{}:{}",
        uri.host_str().expect("the target has a host"),
        uri.port().expect("the target has a port")
    );
    let date = httpdate(std::time::SystemTime::now());
    let headers = std::collections::BTreeMap::from([
        ("host".to_owned(), host),
        ("date".to_owned(), date.clone()),
    ]);
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(private_key_pem).expect("a PKCS#8 PEM key");
    let signed = http_signature_normalization::Config::new()
        .mastodon_compat()
        .begin_sign("GET", uri.path(), headers)
        .expect("the request line signs")
        .sign(key_id.to_owned(), move |signing_string| {
            let signature = key
                .sign(
                    rsa::Pkcs1v15Sign::new::<Sha256>(),
                    &Sha256::digest(signing_string.as_bytes()),
                )
                .expect("RSA signing of a digest succeeds");
            Ok::<_, std::convert::Infallible>(
                base64::engine::general_purpose::STANDARD.encode(signature),
            )
        })
        .expect("the signature is made");
    client
        .get(url)
        .header("accept", "application/activity+json")
        .header("date", date)
        .header("signature", signed.signature_header())
        .build()
        .expect("the request builds")
}
