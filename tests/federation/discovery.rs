//! What other servers see first: WebFinger, actors with their keys, NodeInfo, things.

use serde_json::Value;

use crate::helpers::Instance;

#[tokio::test]
async fn webfinger_finds_a_user_whose_actor_carries_its_key_in_the_security_context() {
    let alpha = Instance::spawn("alpha").await;
    alpha.sign_up("alice").await;
    let jrd: Value = alpha
        .client
        .get(alpha.url("/.well-known/webfinger?resource=acct:alice@alpha.test"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jrd["subject"], "acct:alice@alpha.test");
    let self_link = jrd["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "self")
        .unwrap();
    assert_eq!(self_link["type"], "application/activity+json");
    let actor_url = self_link["href"].as_str().unwrap();
    assert_eq!(actor_url, alpha.url("/users/alice"));

    let response = alpha
        .client
        .get(actor_url)
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/activity+json"
    );
    let actor: Value = response.json().await.unwrap();
    assert_eq!(actor["type"], "Person");
    assert_eq!(actor["inbox"], alpha.url("/users/alice/inbox"));
    assert_eq!(actor["endpoints"]["sharedInbox"], alpha.url("/inbox"));
    assert!(
        actor["@context"]
            .as_array()
            .unwrap()
            .contains(&Value::from("https://w3id.org/security/v1"))
    );
    assert_eq!(actor["publicKey"]["owner"], actor_url);
    assert!(
        actor["publicKey"]["publicKeyPem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    let payment = &actor["attachment"][0];
    assert_eq!(payment["rel"], "payment");

    let port_handle = alpha
        .client
        .get(alpha.url(&format!(
            "/.well-known/webfinger?resource=acct:alice@alpha.test:{}",
            alpha.port
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(port_handle.status(), 200);
    let unknown = alpha
        .client
        .get(alpha.url("/.well-known/webfinger?resource=acct:nobody@alpha.test"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let foreign = alpha
        .client
        .get(alpha.url("/.well-known/webfinger?resource=acct:alice@beta.test"))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 404);
}

#[tokio::test]
async fn nodeinfo_advertises_the_flattr_protocol_currency_and_fee() {
    let alpha = Instance::spawn("alpha").await;
    let links: Value = alpha.get_json("/.well-known/nodeinfo", None).await;
    let href = links["links"][0]["href"].as_str().unwrap().to_owned();
    assert_eq!(
        links["links"][0]["rel"],
        "http://nodeinfo.diaspora.software/ns/schema/2.1"
    );
    let info: Value = alpha
        .client
        .get(&href)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["version"], "2.1");
    assert_eq!(info["software"]["name"], "fedflattr");
    assert_eq!(info["openRegistrations"], true);
    assert_eq!(info["metadata"]["flattr"]["protocol"], "0.1");
    assert_eq!(info["metadata"]["flattr"]["currency"], "EUR");
    assert_eq!(info["metadata"]["flattr"]["fee"], "0.1");
}

#[tokio::test]
async fn a_thing_is_an_object_for_servers_and_a_page_for_people() {
    let alpha = Instance::spawn("alpha").await;
    let alice = alpha.sign_up("alice").await;
    let id = alpha
        .create_thing(&alice, "https://alice.example/post")
        .await;
    let object: Value = alpha.get_activity_json(&format!("/things/{id}")).await;
    assert_eq!(object["type"], "Page");
    assert_eq!(object["id"], alpha.url(&format!("/things/{id}")));
    assert_eq!(object["attributedTo"], alpha.url("/users/alice"));
    assert_eq!(object["url"], "https://alice.example/post");
    assert_eq!(object["attachment"][0]["rel"], "payment");

    let html = alpha
        .client
        .get(alpha.url(&format!("/things/{id}")))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert!(
        html.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = html.text().await.unwrap();
    assert!(html.contains("<h1>A post</h1>"));
    assert!(html.contains("rel=\"alternate\" type=\"application/activity+json\""));
}

#[tokio::test]
async fn the_instance_actor_is_an_application_with_a_key_and_users_have_an_outbox() {
    let alpha = Instance::spawn("alpha").await;
    alpha.sign_up("alice").await;
    let actor: Value = alpha.get_activity_json("/actor").await;
    assert_eq!(actor["type"], "Application");
    assert_eq!(actor["id"], alpha.url("/actor"));
    assert_eq!(actor["inbox"], alpha.url("/inbox"));
    assert_eq!(actor["publicKey"]["owner"], alpha.url("/actor"));
    assert!(
        actor["publicKey"]["publicKeyPem"]
            .as_str()
            .unwrap()
            .contains("PUBLIC KEY")
    );
    let outbox: Value = alpha.get_json("/users/alice/outbox", None).await;
    assert_eq!(outbox["type"], "OrderedCollection");
    assert_eq!(outbox["totalItems"], 0);
}
