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
