//! One wire format: what we send (Person, Application, Page, Like, Undo) is built from the same
//! serde types that read what others send, so each of our documents parses back into its type
//! and serializes to exactly what was served — no field exists on one side only.

use fedflattr::federation::activities::like::Like;
use fedflattr::federation::activities::undo::Undo;
use fedflattr::federation::actors::ActorJson;
use fedflattr::federation::objects::RemoteObject;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::helpers::{Instance, federate};

/// Parses `served` into `T` and checks that serializing it again gives `served` back.
fn round_trip<T: DeserializeOwned + Serialize>(what: &str, served: &Value) -> T {
    let parsed: T = serde_json::from_value(served.clone())
        .unwrap_or_else(|e| panic!("{what} does not parse into our wire type: {e}\n{served}"));
    assert_eq!(
        &serde_json::to_value(&parsed).unwrap(),
        served,
        "{what} changes on its way through our wire type"
    );
    parsed
}

#[tokio::test]
async fn what_we_send_parses_back_into_the_types_that_read_what_others_send() {
    let mut alpha = Instance::spawn("alpha").await;
    let mut beta = Instance::spawn("beta").await;
    federate(&mut [&mut alpha, &mut beta]);
    let alice = alpha.sign_up("alice").await;
    alpha.deposit("alice", "10.00").await;
    let bob = beta.sign_up("bob").await;
    let thing = beta.create_thing(&bob, "https://bob.example/post").await;

    let person: ActorJson =
        round_trip("our Person", &alpha.get_activity_json("/users/alice").await);
    assert_eq!(person.kind.to_string(), "Person");
    assert_eq!(person.attachment[0].rel.as_deref(), Some("payment"));
    let application: ActorJson =
        round_trip("our Application", &alpha.get_activity_json("/actor").await);
    assert_eq!(application.kind.to_string(), "Application");
    let page: RemoteObject = round_trip(
        "our Page",
        &beta.get_activity_json(&format!("/things/{thing}")).await,
    );
    assert_eq!(page.kind.to_string(), "Page");
    assert_eq!(page.owner().unwrap().as_str(), beta.url("/users/bob"));

    let response = alpha
        .post_api(
            "/api/v1/flattr",
            &alice,
            &json!({"url": beta.url(&format!("/things/{thing}"))}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let flattr: Value = response.json().await.unwrap();
    // The Like a peer may fetch later is the one that is sent; it is published under the
    // flattr's public id, never its row id.
    let public_id =
        fedflattr::store::flattrs::by_id(alpha.state.store.pool(), flattr["id"].as_i64().unwrap())
            .await
            .unwrap()
            .public_id;
    let served = alpha
        .get_activity_json(&format!("/users/alice/likes/{public_id}"))
        .await;
    let undo = alpha
        .client
        .delete(alpha.url(&format!("/api/v1/flattrs/{}", flattr["id"])))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(undo.status(), 204);
    let bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM deliveries ORDER BY id")
        .fetch_all(alpha.state.store.pool())
        .await
        .unwrap();
    assert_eq!(bodies.len(), 2);
    let like: Like = round_trip("our Like", &serde_json::from_str(&bodies[0]).unwrap());
    assert_eq!(served, serde_json::from_str::<Value>(&bodies[0]).unwrap());
    assert_eq!(like.period.as_deref(), Some("2026-10"));
    assert_eq!(like.currency.as_deref(), Some("EUR"));
    assert_eq!(like.to[0].as_str(), beta.url("/users/bob"));
    let undo: Undo = round_trip("our Undo", &serde_json::from_str(&bodies[1]).unwrap());
    assert_eq!(undo.object.id(), &like.id);
}
