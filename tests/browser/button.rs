//! The flattr button embedded on a blog of another origin: with JavaScript (the script, an
//! auto-submit button under the owner's verified domain) and without (the image link), each
//! through log-in and back, with undo; the money is checked in the ledger after the close.

use fedflattr::web::button::embed_code;

use crate::Browser;
use crate::common::{Blog, Instance};

/// A post on the blog with the embed code of `alpha` under it.
fn post_with_button(blog: &Blog, alpha: &Instance, path: &str, owner: Option<&str>) -> String {
    let url = blog.url(path);
    let base = url::Url::parse(&alpha.base).unwrap();
    blog.put(
        path,
        "text/html; charset=utf-8",
        &format!(
            "<!doctype html><html><head><title>Hello from the blog</title></head><body>\
             <h1>Hello</h1><p>A post worth a flattr.</p>{}</body></html>",
            embed_code(&base, &url, owner)
        ),
    );
    url
}

#[tokio::test]
async fn the_script_button_on_a_blog_flattrs_through_log_in_and_the_close_pays_its_owner() {
    let alpha = Instance::named("alpha").spawn().await;
    let blog = Blog::spawn("bobsblog").await;
    alpha.sign_up("alice").await;
    alpha.vouch_domain("alice", &blog.domain()).await;
    alpha.sign_up("reader").await;
    alpha.deposit("reader", "10.00").await;
    // Nobody registered the post: the button auto-submits it for alice.
    let post = post_with_button(&blog, &alpha, "/2026/hello", Some("alice"));

    let browser = Browser::start().await;
    browser.go(&post).await;
    let count = browser.find("a.fedflattr-button .fedflattr-count").await;
    wait_for_text(&count, "0").await;
    browser.screenshot("blog-button-before").await;
    browser.click("a.fedflattr-button").await;
    browser.wait_for_url(&alpha.url("/flattr?url=")).await;
    browser.screenshot("flattr-page-anonymous").await;
    browser.click("a.button").await;
    browser.wait_for_url(&alpha.url("/login")).await;
    browser.fill_credentials("reader").await;
    browser.wait_for_url(&alpha.url("/flattr?url=")).await;
    browser.click("button.flattr").await;
    // Back on the post, whose button now counts the flattr.
    browser.wait_for_url(&post).await;
    let count = browser.find("a.fedflattr-button .fedflattr-count").await;
    wait_for_text(&count, "1").await;
    browser.screenshot("blog-button-after").await;

    let thing = alpha
        .get_json(
            &format!("/api/v1/things/lookup?url={}", urlencode(&post)),
            None,
        )
        .await;
    assert_eq!(thing["owner"]["username"], "alice");
    assert_eq!(thing["flattrs"], 1);
    assert_eq!(thing["proven"], true);

    alpha.set_time("2026-11-01T00:00:10Z");
    alpha.close("2026-10").await;
    assert_eq!(
        alpha.wallet("reader").await,
        80_000,
        "10.00 less the 2.00 budget"
    );
    assert_eq!(
        alpha.earnings("alice").await,
        18_000,
        "2.00 less the 10 % fee"
    );
    alpha.assert_books_balance().await;
    browser.close().await;
}

#[tokio::test]
async fn without_javascript_the_image_link_flattrs_and_an_undone_flattr_costs_nothing() {
    let alpha = Instance::named("alpha").spawn().await;
    let blog = Blog::spawn("bobsblog").await;
    let alice = alpha.sign_up("alice").await;
    let first = post_with_button(&blog, &alpha, "/first", None);
    let second = post_with_button(&blog, &alpha, "/second", None);
    let first_id = alpha.create_thing(&alice, &first, "First").await;
    let second_id = alpha.create_thing(&alice, &second, "Second").await;

    let browser = Browser::without_javascript().await;
    browser.sign_up(&alpha.base, "reader").await;
    browser.wait_for_url(&alpha.url("/me")).await;
    alpha.deposit("reader", "10.00").await;

    for post in [&first, &second] {
        browser.go(post).await;
        // Without JavaScript the script renders nothing; the <noscript> image link is there.
        assert!(
            browser
                .client
                .find(fantoccini::Locator::Css("a.fedflattr-button"))
                .await
                .is_err()
        );
        browser.click("a img[alt='Flattr this']").await;
        browser.wait_for_url(&alpha.url("/flattr?url=")).await;
        browser.click("button.flattr").await;
        browser.wait_for_url(post).await;
    }
    browser.screenshot("blog-without-javascript").await;
    for id in [first_id, second_id] {
        let thing = alpha.get_json(&format!("/api/v1/things/{id}"), None).await;
        assert_eq!(thing["flattrs"], 1, "{thing}");
    }

    // Undo the second on "my flattrs".
    browser.go(&alpha.url("/me")).await;
    assert_eq!(browser.text("#cost").await.split(' ').next(), Some("2"));
    browser
        .click("form[action^='/me/flattrs/'] button[aria-label='Undo the flattr of Second']")
        .await;
    browser.wait_for_url(&alpha.url("/me?done=undo")).await;
    browser.screenshot("after-undo").await;
    let thing = alpha
        .get_json(&format!("/api/v1/things/{second_id}"), None)
        .await;
    assert_eq!(thing["flattrs"], 0);

    alpha.set_time("2026-11-01T00:00:10Z");
    alpha.close("2026-10").await;
    assert_eq!(alpha.wallet("reader").await, 80_000);
    assert_eq!(
        alpha.earnings("alice").await,
        18_000,
        "the whole 1.80 goes to the one flattr left"
    );
    alpha.assert_books_balance().await;
    browser.close().await;
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Waits (bounded) until the element's text is `expected`: the script fills it in after a
/// fetch.
async fn wait_for_text(element: &fantoccini::elements::Element, expected: &str) {
    let deadline = std::time::Instant::now() + crate::WAIT;
    loop {
        let text = element.text().await.unwrap();
        if text == expected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the count shows {text:?}, not {expected:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
