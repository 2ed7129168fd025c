//! A reader in the browser: sign up, budget, refused forms that keep what was typed, log out.

use crate::Browser;
use crate::common::Instance;

#[tokio::test]
async fn a_reader_signs_up_sets_a_budget_and_refused_forms_keep_what_was_typed() {
    let alpha = Instance::named("alpha").spawn().await;
    let browser = Browser::start().await;

    browser.go(&alpha.url("/")).await;
    assert_eq!(browser.text("#count-users").await, "0");
    browser.screenshot("front-page").await;

    // A name that is not one: the error sits next to the field, and the name stays typed.
    browser.go(&alpha.url("/signup")).await;
    browser.fill("#username", "not a name!").await;
    browser.fill("#password", "correct horse").await;
    browser.click("form button[type=submit]").await;
    let error = browser.text("#username-error").await;
    assert!(!error.is_empty());
    assert_eq!(browser.value("#username").await, "not a name!");
    assert_eq!(
        browser
            .find("#username")
            .await
            .attr("aria-invalid")
            .await
            .unwrap(),
        Some("true".into())
    );
    browser.screenshot("sign-up-refused").await;

    browser.fill_credentials("reader").await;
    browser.wait_for_url(&alpha.url("/me")).await;
    assert_eq!(alpha.count("SELECT COUNT(*) FROM users").await, 1);

    // A budget that is no amount: refused next to the field, what was typed kept.
    browser.fill("#budget-input", "two euros").await;
    browser.click("form[action='/me/budget'] button").await;
    assert!(!browser.text("#budget-error").await.is_empty());
    assert_eq!(browser.value("#budget-input").await, "two euros");
    assert_eq!(
        alpha
            .count("SELECT budget FROM users WHERE username = 'reader'")
            .await,
        20_000,
        "still the instance minimum, 2.00"
    );
    browser.screenshot("budget-refused").await;

    // Below the minimum: refused the same way.
    browser.fill("#budget-input", "1.50").await;
    browser.click("form[action='/me/budget'] button").await;
    assert!(browser.text("#budget-error").await.contains("2.00"));

    browser.fill("#budget-input", "5.00").await;
    browser.click("form[action='/me/budget'] button").await;
    browser.wait_for_url(&alpha.url("/me?done=budget")).await;
    assert_eq!(browser.text("#budget").await, "5.00 EUR");
    assert_eq!(
        alpha
            .count("SELECT budget FROM users WHERE username = 'reader'")
            .await,
        50_000
    );
    browser.screenshot("my-flattrs").await;

    // Log out: the session ends in the database too.
    browser.click("header form button").await;
    browser.wait_for_url(&alpha.url("/")).await;
    browser.find("a[href='/login']").await;
    assert_eq!(alpha.count("SELECT COUNT(*) FROM web_sessions").await, 0);
    browser.go(&alpha.url("/me")).await;
    browser.wait_for_url(&alpha.url("/login")).await;
    browser.close().await;
}
