//! A creator in the browser: registers a page (a refused URL keeps what was typed), proves it
//! by verifying the blog's domain, copies the embed code, and reads the month's earnings with
//! their chart after the close.

use fedflattr::web::button::embed_code;

use crate::Browser;
use crate::common::{Blog, Instance};

#[tokio::test]
async fn a_creator_registers_and_proves_a_post_and_reads_its_earnings_after_the_close() {
    let alpha = Instance::named("alpha").spawn().await;
    let blog = Blog::spawn("bobsblog").await;
    let post = blog.url("/2026/hello");
    blog.post("/2026/hello", "");
    let browser = Browser::start().await;
    browser.sign_up(&alpha.base, "alice").await;
    browser.wait_for_url(&alpha.url("/me")).await;
    browser.go(&alpha.url("/me/things")).await;

    // A URL that is none: refused next to the field, with what was typed.
    browser.fill("#thing-url", "blog post").await;
    browser.fill("#thing-title", "Hello").await;
    browser.click("form[action='/me/things'] button").await;
    assert!(!browser.text("#url-error").await.is_empty());
    assert_eq!(browser.value("#thing-url").await, "blog post");
    assert_eq!(browser.value("#thing-title").await, "Hello");

    // Claim the blog's domain, publish its token, verify.
    browser.fill("#domain-input", &blog.domain()).await;
    browser.click("form[action='/me/domains'] button").await;
    browser
        .wait_for_url(&alpha.url("/me/things?done=claimed"))
        .await;
    let token = browser.text("div.domain code").await;
    blog.publish_token(&token);
    browser
        .click("form[action='/me/domains/verify'] button")
        .await;
    browser
        .wait_for_url(&alpha.url("/me/things?done=verified"))
        .await;

    browser.fill("#thing-url", &post).await;
    browser.fill("#thing-title", "Hello").await;
    browser.click("form[action='/me/things'] button").await;
    browser
        .wait_for_url(&alpha.url("/me/things?done=registered"))
        .await;
    browser.find("article.thing p.proven").await;
    let base = url::Url::parse(&alpha.base).unwrap();
    let embed = browser.value("article.thing textarea").await;
    assert_eq!(embed, embed_code(&base, &post, None));
    browser.screenshot("my-things").await;

    let reader = alpha.sign_up("reader").await;
    alpha.deposit("reader", "10.00").await;
    let thing = alpha.get_json("/api/v1/users/alice/things", None).await[0]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(alpha.flattr(&reader, thing).await.status(), 201);
    alpha.set_time("2026-11-01T00:00:10Z");
    alpha.close("2026-10").await;

    browser.go(&alpha.url("/me/earnings")).await;
    assert_eq!(browser.text("#balance").await, "1.80 EUR");
    browser.find("#by-thing svg rect").await;
    assert!(browser.text("#by-period table").await.contains("2026-10"));
    // A payout below the minimum: refused next to the field, the amount kept.
    browser.fill("#amount-input", "1.00").await;
    browser.click("form[action='/me/payouts'] button").await;
    assert!(!browser.text("#amount-error").await.is_empty());
    assert_eq!(browser.value("#amount-input").await, "1.00");
    browser.screenshot("my-earnings").await;
    assert_eq!(alpha.earnings("alice").await, 18_000);
    browser.close().await;
}
