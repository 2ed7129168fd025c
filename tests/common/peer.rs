//! A fediverse server that is not one of ours, for what a real peer can do and our instances
//! never do: serve any document under any path, and redirect. It listens on 127.0.0.1 and
//! answers every host name, so `http://NAME.test:PORT/…` reaches it from an instance in
//! development mode under any `NAME`.

use serde_json::{Value, json};

/// What the peer answers on one path.
#[derive(Clone)]
pub enum Reply {
    /// The document, as `application/activity+json`.
    Document(Value),
    /// `302 Found` to this URL.
    Redirect(String),
}

/// Starts the peer with `routes(port)` (path → reply; 404 for the rest) and returns its port.
pub async fn serve(routes: impl FnOnce(u16) -> Vec<(&'static str, Reply)>) -> u16 {
    use axum::response::IntoResponse;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port on 127.0.0.1");
    let port = listener.local_addr().expect("a bound address").port();
    let mut router = axum::Router::new();
    for (path, reply) in routes(port) {
        let answer = move || {
            let response = match &reply {
                Reply::Document(document) => (
                    [("content-type", "application/activity+json")],
                    document.to_string(),
                )
                    .into_response(),
                Reply::Redirect(location) => (
                    axum::http::StatusCode::FOUND,
                    [("location", location.clone())],
                )
                    .into_response(),
            };
            async move { response }
        };
        router = router.route(path, axum::routing::get(answer));
    }
    tokio::spawn(async move { axum::serve(listener, router).await });
    port
}

/// A `Person` at `id` whose key (`key_id`, owned by the actor) is `public_key_pem`.
pub fn actor(id: &str, key_id: &str, public_key_pem: &str) -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": id, "type": "Person", "preferredUsername": "peer",
        "inbox": format!("{id}/inbox"),
        "publicKey": {"id": key_id, "owner": id, "publicKeyPem": public_key_pem},
    })
}
