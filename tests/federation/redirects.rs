//! An actor URL that leads to another actor: the federation library follows one redirect (and
//! the id a document names), so a signature made with the key of the actor at the end would
//! pass for the actor the activity names, unless the actor fetched must be that very one.

use fedflattr::federation::actors::generate_keys;
use serde_json::json;

use crate::common::peer::{self, Reply};
use crate::helpers::{Instance, client, rfc9421_request, send_explained, signed_request};

#[tokio::test]
async fn a_like_whose_actor_url_redirects_to_another_actor_is_refused_on_both_signature_schemes() {
    let mut beta = Instance::spawn("beta").await;
    beta.client = client(&[&beta]);
    let bob = beta.sign_up("bob").await;
    let thing = beta.create_thing(&bob, "https://bob.example/post").await;
    // eve's URL (on victim.test) redirects to mallory's actor (on evil.test), whose key signs.
    let mallory = generate_keys();
    let port = peer::serve(|port| {
        let mallory_url = format!("http://evil.test:{port}/users/mallory");
        vec![
            ("/users/eve", Reply::Redirect(mallory_url.clone())),
            (
                "/users/mallory",
                Reply::Document(peer::actor(
                    &mallory_url,
                    &format!("{mallory_url}#main-key"),
                    &mallory.public_key,
                )),
            ),
        ]
    })
    .await;
    let eve = format!("http://victim.test:{port}/users/eve");
    let inbox = beta.url("/inbox");
    for scheme in ["draft-cavage", "RFC 9421"] {
        let like = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("http://victim.test:{port}/likes/{}", scheme.len()),
            "type": "Like", "actor": eve, "object": beta.url(&format!("/things/{thing}")),
            "flattr:period": "2026-10", "flattr:currency": "EUR",
        });
        let key_id = format!("{eve}#main-key");
        let request = if scheme == "draft-cavage" {
            signed_request(
                &beta.client,
                &inbox,
                &key_id,
                &mallory.private_key,
                &like,
                None,
            )
            .await
        } else {
            rfc9421_request(
                &beta.client,
                &inbox,
                &key_id,
                &mallory.private_key,
                &like,
                &["@method", "@target-uri", "@authority", "content-digest"],
                chrono::Utc::now().timestamp(),
            )
        };
        let (status, code, reason) = send_explained(&beta.client, request).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_actor"),
            "{scheme}: {reason}"
        );
        assert!(
            reason.contains(&eve) && reason.contains("is not the actor it was fetched as"),
            "{scheme}: {reason}"
        );
    }
    assert_eq!(beta.count("SELECT COUNT(*) FROM received_likes").await, 0);
    assert_eq!(beta.count("SELECT COUNT(*) FROM inbox_activities").await, 0);
}
