//! Who owns a URL (issue 7.2): objects of other servers and pages of this instance are never
//! registered here; a blog post is its owner's once its page links back with rel="payment" or
//! its domain is verified; auto-submit creates things only under a verified domain. The blogs
//! are real web servers on `*.test` host names.

use serde_json::{Value, json};

use crate::common::{Blog, error_of};
use crate::helpers::{Instance, federate};

/// alpha and beta, each reaching the other at its host name.
async fn alpha_and_beta() -> (Instance, Instance) {
    let mut alpha = Instance::spawn("alpha").await;
    let mut beta = Instance::spawn("beta").await;
    federate(&mut [&mut alpha, &mut beta]);
    (alpha, beta)
}

/// POST /api/v1/things as the token's user: (status, error, description, field).
async fn try_register(alpha: &Instance, token: &str, url: &str) -> (u16, Value) {
    let response = alpha
        .post_api(
            "/api/v1/things",
            token,
            &json!({"url": url, "title": "Mine now"}),
        )
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_thing_of_another_instance_is_refused_as_a_remote_object_and_flattring_it_pays_its_owner_there()
 {
    let (alpha, beta) = alpha_and_beta().await;
    let bob = beta.sign_up("bob").await;
    let thing = beta.create_thing(&bob, "https://bob.example/post").await;
    let mallory = alpha.sign_up("mallory").await;
    let alice = alpha.sign_up("alice").await;
    alpha.deposit("alice", "10.00").await;

    // beta's /things/N and bob's profile (a Mastodon-like status and actor) are objects of
    // another server.
    for url in [beta.thing_url(thing), beta.url("/users/bob")] {
        let (status, body) = try_register(&alpha, &mallory, &url).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"], "remote_object");
        assert_eq!(body["field"], "url");
    }
    assert_eq!(
        alpha
            .count("SELECT COUNT(*) FROM things WHERE owner_id IS NOT NULL")
            .await,
        0
    );

    // Flattring the URL reaches its real owner: a remote thing, owed to beta at close.
    let flattr = alpha.flattr_url(&alice, &beta.thing_url(thing)).await;
    assert_eq!(flattr.status(), 201);
    let flattr: Value = flattr.json().await.unwrap();
    assert_eq!(flattr["charged"], true);
    let seen = alpha
        .get_json(&format!("/api/v1/things/{}", flattr["thing"]["id"]), None)
        .await;
    assert_eq!(seen["remote"], true);
    assert_eq!(seen["owner"]["username"], beta.url("/users/bob"));
    assert_eq!(seen["proven"], true);
}

#[tokio::test]
async fn a_page_or_profile_of_this_instance_is_refused_at_registration() {
    let alpha = Instance::spawn("alpha").await;
    let bob = alpha.sign_up("bob").await;
    let thing = alpha.create_thing(&bob, "https://bob.example/post").await;
    let mallory = alpha.sign_up("mallory").await;
    for url in [alpha.thing_url(thing), alpha.url("/users/bob")] {
        let (status, body) = try_register(&alpha, &mallory, &url).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (422, Some("instance_url"))
        );
        assert_eq!(body["field"], "url");
    }
}

#[tokio::test]
async fn a_page_without_a_link_back_stays_unproven_and_says_why() {
    let alpha = Instance::spawn("alpha").await;
    let blog = Blog::spawn("bobsblog").await;
    let bob = alpha.sign_up("bob").await;
    blog.post("/post", "");
    let id = alpha
        .create_unproven_thing(&bob, &blog.url("/post"), "Post")
        .await;
    let thing = alpha.get_json(&format!("/api/v1/things/{id}"), None).await;
    let expected = format!(
        "no rel=payment link to {} or {} found on the page",
        alpha.url("/users/bob"),
        alpha.thing_url(id)
    );
    assert_eq!(thing["proven"], false);
    assert_eq!(thing["unproven_reason"], expected);
    assert_eq!(thing["held"], "0.00");

    // A payment link to somebody else proves nothing.
    blog.post_linking_to("/post", &alpha.url("/users/mallory"));
    let checked = alpha
        .post_api(&format!("/api/v1/things/{id}/prove"), &bob, &json!({}))
        .await;
    assert_eq!(checked.status(), 200);
    let checked: Value = checked.json().await.unwrap();
    assert_eq!(checked["proven"], false);
    assert_eq!(checked["unproven_reason"], expected);

    // Only the owner may ask; a page that is gone is a reason too.
    let mallory = alpha.sign_up("mallory").await;
    let (status, code, _) = error_of(
        alpha
            .post_api(&format!("/api/v1/things/{id}/prove"), &mallory, &json!({}))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    let gone = alpha
        .create_unproven_thing(&bob, &blog.url("/gone"), "Gone")
        .await;
    let gone = alpha
        .get_json(&format!("/api/v1/things/{gone}"), None)
        .await;
    assert!(
        gone["unproven_reason"]
            .as_str()
            .unwrap()
            .starts_with("the page could not be read: the page answered 404"),
        "{gone}"
    );
}

#[tokio::test]
async fn a_page_that_links_back_to_its_owner_or_its_thing_proves_it() {
    let alpha = Instance::spawn("alpha").await;
    let blog = Blog::spawn("bobsblog").await;
    let bob = alpha.sign_up("bob").await;
    // At registration: a link to bob's profile (the actor URL).
    blog.post_linking_to("/one", &alpha.url("/users/bob"));
    let one = alpha.register_thing(&bob, &blog.url("/one"), "One").await;
    assert_eq!(one["proven"], true, "{one}");
    assert_eq!(one["proof"], "payment_link");
    assert_eq!(one["unproven_reason"], Value::Null);

    // After registration: an <a rel="payment"> to the thing's own page here.
    blog.post("/two", "");
    let two = alpha
        .create_unproven_thing(&bob, &blog.url("/two"), "Two")
        .await;
    blog.post(
        "/two",
        &format!(
            r#"</head><body><a href="{}" rel="payment">flattr</a>"#,
            alpha.thing_url(two)
        ),
    );
    let proven: Value = alpha
        .post_api(&format!("/api/v1/things/{two}/prove"), &bob, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(proven["proven"], true, "{proven}");
    assert_eq!(proven["proof"], "payment_link");
}

#[tokio::test]
async fn a_domain_is_verified_through_its_well_known_file_and_a_wrong_token_is_not_enough() {
    let alpha = Instance::spawn("alpha").await;
    let blog = Blog::spawn("bobsblog").await;
    let bob = alpha.sign_up("bob").await;
    blog.post("/before", "");
    let before = alpha
        .create_unproven_thing(&bob, &blog.url("/before"), "Before")
        .await;

    let claim = alpha
        .post_api(
            "/api/v1/user/domains",
            &bob,
            &json!({"domain": blog.domain()}),
        )
        .await;
    assert_eq!(claim.status(), 201);
    let claim: Value = claim.json().await.unwrap();
    let token = claim["token"].as_str().unwrap().to_owned();
    assert_eq!(claim["verified"], false);
    assert_eq!(
        claim["verification_url"],
        blog.url("/.well-known/fedflattr"),
        "a URL with a port works"
    );
    // Asking again gives the same token.
    let again: Value = alpha
        .post_api(
            "/api/v1/user/domains",
            &bob,
            &json!({"domain": blog.domain()}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["token"], token.as_str());

    let verify = format!("/api/v1/user/domains/{}/verify", blog.domain());
    let (status, code, reason) = error_of(alpha.post_api(&verify, &bob, &json!({})).await).await;
    assert_eq!(
        (status, code.as_str()),
        (422, "verification_failed"),
        "{reason}"
    );
    assert!(reason.contains("404"), "{reason}");
    blog.publish_token("0123456789abcdef0123456789abcdef");
    let (status, code, _) = error_of(alpha.post_api(&verify, &bob, &json!({})).await).await;
    assert_eq!((status, code.as_str()), (422, "verification_failed"));
    let listed = alpha.get_json("/api/v1/user/domains", Some(&bob)).await;
    assert_eq!(listed[0]["verified"], false);

    blog.publish_token(&token);
    let verified = alpha.post_api(&verify, &bob, &json!({})).await;
    assert_eq!(verified.status(), 200);
    let listed = alpha.get_json("/api/v1/user/domains", Some(&bob)).await;
    assert_eq!(listed[0]["domain"], blog.domain());
    assert_eq!(listed[0]["verified"], true);
    assert_eq!(listed[0]["verified_by"], "well_known");

    // The thing registered before is proven now, and a new one at once, without any link.
    let before = alpha
        .get_json(&format!("/api/v1/things/{before}"), None)
        .await;
    assert_eq!(
        (before["proven"].as_bool(), before["proof"].as_str()),
        (Some(true), Some("verified_domain"))
    );
    blog.post("/after", "");
    let after = alpha
        .register_thing(&bob, &blog.url("/after"), "After")
        .await;
    assert_eq!(after["proof"], "verified_domain");
    // This instance's own domain is nobody's.
    let own = format!("alpha.test:{}", alpha.port);
    let (status, code, _) = error_of(
        alpha
            .post_api("/api/v1/user/domains", &bob, &json!({"domain": own}))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (422, "instance_url"));
}

#[tokio::test]
async fn a_domain_verified_by_one_user_is_refused_to_another() {
    let alpha = Instance::spawn("alpha").await;
    let blog = Blog::spawn("bobsblog").await;
    alpha.sign_up("bob").await;
    let carol = alpha.sign_up("carol").await;
    // carol asks first, bob verifies first.
    let carols: Value = alpha
        .post_api(
            "/api/v1/user/domains",
            &carol,
            &json!({"domain": blog.domain()}),
        )
        .await
        .json()
        .await
        .unwrap();
    alpha.vouch_domain("bob", &blog.domain()).await;
    // carol's token on the blog changes nothing: the domain is bob's.
    blog.publish_token(carols["token"].as_str().unwrap());
    let verify = format!("/api/v1/user/domains/{}/verify", blog.domain());
    let (status, code, _) = error_of(alpha.post_api(&verify, &carol, &json!({})).await).await;
    assert_eq!((status, code.as_str()), (409, "domain_taken"));
    let (status, code, _) = error_of(
        alpha
            .post_api(
                "/api/v1/user/domains",
                &carol,
                &json!({"domain": blog.domain()}),
            )
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (409, "domain_taken"));
    let domain = fedflattr::domain::proof::Domain::parse(&blog.domain()).unwrap();
    let vouched = fedflattr::proving::vouch_domain(
        &alpha.state.store,
        alpha.user_id("carol").await,
        &domain,
        alpha.state.clock.now(),
    )
    .await;
    assert!(
        matches!(
            vouched,
            Err(fedflattr::proving::ProvingError::DomainTaken(_))
        ),
        "{vouched:?}"
    );
    // A thing carol registers there stays unproven.
    blog.post("/post", "");
    alpha
        .create_unproven_thing(&carol, &blog.url("/post"), "Not mine")
        .await;
}

/// The auto-submit URL on `alpha` for `url`, owned by bob.
fn auto_submit(alpha: &Instance, url: &str) -> String {
    let mut auto = url::Url::parse(&alpha.url("/submit/auto")).unwrap();
    auto.query_pairs_mut()
        .append_pair("user_id", "bob")
        .append_pair("url", url)
        .append_pair("title", "Auto");
    auto.to_string()
}

#[tokio::test]
async fn auto_submit_under_an_unverified_domain_is_refused_and_works_under_a_verified_one() {
    let alpha = Instance::spawn("alpha").await;
    let blog = Blog::spawn("bobsblog").await;
    alpha.sign_up("bob").await;
    let alice = alpha.sign_up("alice").await;
    alpha.deposit("alice", "10.00").await;
    blog.post("/new", "");
    let auto = auto_submit(&alpha, &blog.url("/new"));

    let (status, code, reason) = error_of(alpha.flattr_url(&alice, &auto).await).await;
    assert_eq!(
        (status, code.as_str()),
        (403, "unverified_domain"),
        "{reason}"
    );
    assert_eq!(alpha.count("SELECT COUNT(*) FROM things").await, 0);

    alpha.vouch_domain("bob", &blog.domain()).await;
    let flattr = alpha.flattr_url(&alice, &auto).await;
    assert_eq!(flattr.status(), 201);
    let flattr: Value = flattr.json().await.unwrap();
    let thing = alpha
        .get_json(&format!("/api/v1/things/{}", flattr["thing"]["id"]), None)
        .await;
    assert_eq!(thing["owner"]["username"], "bob");
    assert_eq!(thing["url"], blog.url("/new"));
    assert_eq!(thing["proof"], "verified_domain");

    // Even under a verified domain, an ActivityPub object is its server's, never registered.
    let note = blog.url("/notes/1");
    blog.put(
        "/notes/1",
        "application/activity+json",
        &json!({"@context": "https://www.w3.org/ns/activitystreams", "id": note,
                "type": "Note", "attributedTo": blog.url("/users/someone")})
        .to_string(),
    );
    let (status, code, _) =
        error_of(alpha.flattr_url(&alice, &auto_submit(&alpha, &note)).await).await;
    assert_eq!((status, code.as_str()), (422, "remote_object"));
    let bob = alpha.sign_up("bobby").await;
    let (status, body) = try_register(&alpha, &bob, &note).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("remote_object"))
    );
}

#[tokio::test]
async fn outside_development_mode_a_blog_on_a_loopback_address_is_not_fetched() {
    let app = crate::common::Instance::on_loopback().spawn().await;
    let blog = Blog::spawn("bobsblog").await;
    blog.post_linking_to("/post", &app.url("/users/bob"));
    let bob = app.sign_up("bob").await;
    let url = format!("https://127.0.0.1:{}/post", blog.port);
    let id = app.create_unproven_thing(&bob, &url, "Post").await;
    let thing = app.get_json(&format!("/api/v1/things/{id}"), None).await;
    let reason = thing["unproven_reason"].as_str().unwrap();
    assert!(reason.contains("loopback or private"), "{reason}");
}
