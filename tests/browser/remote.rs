//! Remote interaction: a visitor whose account is on another instance gives their handle on
//! the flattr page and flattrs from home; the Like reaches the thing's instance.

use crate::Browser;
use crate::common::{Blog, Instance};

#[tokio::test]
async fn a_visitor_from_another_instance_flattrs_from_home_by_giving_their_handle() {
    let alpha = Instance::named("alpha").spawn().await;
    let beta = Instance::named("beta").spawn().await;
    let blog = Blog::spawn("bobsblog").await;
    let alice = alpha.sign_up("alice").await;
    let post = blog.url("/post");
    blog.post("/post", "");
    let thing = alpha.create_thing(&alice, &post, "A post").await;
    beta.sign_up("carol").await;
    beta.deposit("carol", "10.00").await;

    let browser = Browser::start().await;
    let page = alpha.url(&format!("/things/{thing}"));
    browser.go(&page).await;
    browser.click("a.flattr").await;
    browser.wait_for_url(&alpha.url("/flattr?url=")).await;
    // A handle that names no server answers next to the field, and stays typed.
    browser.fill("#handle", "carol").await;
    browser.click("form[action='/flattr/remote'] button").await;
    assert!(!browser.text("#handle-error").await.is_empty());
    assert_eq!(browser.value("#handle").await, "carol");

    browser
        .fill("#handle", &format!("carol@beta.test:{}", beta.port))
        .await;
    browser.screenshot("remote-handle").await;
    browser.click("form[action='/flattr/remote'] button").await;
    browser.wait_for_url(&beta.url("/flattr?url=")).await;
    browser.click("a.button").await;
    browser.wait_for_url(&beta.url("/login")).await;
    browser.fill_credentials("carol").await;
    browser.wait_for_url(&beta.url("/flattr?url=")).await;
    browser.screenshot("remote-flattr-at-home").await;
    browser.click("button.flattr").await;
    browser.wait_for_url(&page).await;

    let report = beta.deliver().await;
    assert_eq!(report.delivered, 1, "{report:?}");
    let seen = alpha
        .get_json(&format!("/api/v1/things/{thing}"), None)
        .await;
    assert_eq!(seen["remote_flattrs"], 1, "{seen}");

    beta.set_time("2026-11-01T00:00:10Z");
    beta.close("2026-10").await;
    assert_eq!(beta.wallet("carol").await, 80_000);
    assert_eq!(
        beta.payable(&format!("http://alpha.test:{}", alpha.port))
            .await,
        18_000,
        "beta owes alpha carol's 2.00 less beta's fee"
    );
    browser.close().await;
}

#[tokio::test]
async fn a_visitor_from_another_instance_flattrs_a_page_not_registered_here_from_home() {
    let alpha = Instance::named("alpha").spawn().await;
    let beta = Instance::named("beta").spawn().await;
    let blog = Blog::spawn("bobsblog").await;
    alpha.sign_up("alice").await;
    alpha.vouch_domain("alice", &blog.domain()).await;
    let post = blog.url("/2026/new");
    blog.post("/2026/new", "");
    beta.sign_up("carol").await;
    beta.deposit("carol", "10.00").await;
    let browser = Browser::start().await;

    // A page nobody registered anywhere: the handle form is there too.
    let unregistered = blog.url("/2026/nobody-registered-it");
    let encode =
        |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    browser
        .go(&alpha.url(&format!("/flattr?url={}", encode(&unregistered))))
        .await;
    browser.find("form[action='/flattr/remote'] #handle").await;

    // An auto-submit button's page, not registered yet: giving a handle registers it for its
    // owner (as a first flattr would) and sends the visitor home to flattr it there.
    let auto = alpha.url(&format!(
        "/submit/auto?user_id=alice&url={}&title=New",
        encode(&post)
    ));
    browser
        .go(&alpha.url(&format!("/flattr?url={}", encode(&auto))))
        .await;
    assert_eq!(alpha.count("SELECT COUNT(*) FROM things").await, 0);
    browser
        .fill("#handle", &format!("carol@beta.test:{}", beta.port))
        .await;
    browser.click("form[action='/flattr/remote'] button").await;
    browser.wait_for_url(&beta.url("/flattr?url=")).await;
    let thing = alpha.get_json("/api/v1/users/alice/things", None).await[0]["id"]
        .as_i64()
        .unwrap();
    assert!(
        browser
            .url()
            .await
            .contains(&encode(&alpha.thing_url(thing))),
        "beta's page flattrs alpha's thing by its id: {}",
        browser.url().await
    );
    browser.click("a.button").await;
    browser.wait_for_url(&beta.url("/login")).await;
    browser.fill_credentials("carol").await;
    browser.wait_for_url(&beta.url("/flattr?url=")).await;
    browser.click("button.flattr").await;

    let report = beta.deliver().await;
    assert_eq!(report.delivered, 1, "{report:?}");
    let seen = alpha
        .get_json(&format!("/api/v1/things/{thing}"), None)
        .await;
    assert_eq!(seen["remote_flattrs"], 1, "{seen}");
    assert_eq!(seen["url"], post.as_str(), "{seen}");
    browser.close().await;
}
