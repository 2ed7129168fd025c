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
    use rsa::pkcs8::DecodePrivateKey;
    use sha2::{Digest, Sha256};

    let engine = base64::engine::general_purpose::STANDARD;
    let body = body.to_string();
    let uri = url::Url::parse(inbox).expect("the inbox is a URL");
    let host = format!(
        "{}:{}",
        uri.host_str().expect("the inbox has a host"),
        uri.port().expect("the inbox has a port")
    );
    let date = httpdate(std::time::SystemTime::now());
    let digest = format!(
        "sha-256=:{}:",
        engine.encode(Sha256::digest(body.as_bytes()))
    );
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
        "content-digest" => Some(digest.clone()),
        _ => None,
    };
    let mut signature = fedflattr::federation::rfc9421::parse(&input, "sig1=:AA==:")
        .expect("the signature input parses");
    let target = fedflattr::federation::rfc9421::Target {
        method: "POST",
        uri: &uri,
        header: &header,
    };
    let base = fedflattr::federation::rfc9421::base(&signature, &target)
        .expect("the signature base builds");
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(private_key_pem).expect("a PKCS#8 PEM key");
    signature.signature = key
        .sign(
            rsa::Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(base.as_bytes()),
        )
        .expect("RSA signing of a digest succeeds");
    client
        .post(inbox)
        .header("content-type", "application/activity+json")
        .header("date", &date)
        .header("content-digest", &digest)
        .header("signature-input", &input)
        .header(
            "signature",
            format!("sig1=:{}:", engine.encode(&signature.signature)),
        )
        .body(body)
        .build()
        .expect("the request builds")
}
