//! The admin's month in the browser: log in, record a deposit for a reader, close the ended
//! period, see the creator's payout waiting; the amounts are read on the pages and in the
//! ledger.

use serde_json::json;

use crate::Browser;
use crate::common::Instance;

#[tokio::test]
async fn the_admin_records_a_deposit_closes_the_month_and_sees_the_payout() {
    let alpha = Instance::named("alpha").spawn().await;
    alpha.sign_up("root").await;
    sqlx::query("UPDATE users SET is_admin = 1 WHERE username = 'root'")
        .execute(alpha.state.store.pool())
        .await
        .unwrap();
    let reader = alpha.sign_up("reader").await;
    let bob = alpha.sign_up("bob").await;
    alpha
        .patch("/api/v1/user", &reader, &json!({"budget": "20.00"}))
        .await;
    let thing = alpha
        .create_thing(&bob, "https://bob.example/1", "One")
        .await;

    let browser = Browser::start().await;
    browser.go(&alpha.url("/admin")).await;
    browser.wait_for_url(&alpha.url("/login")).await;
    browser.fill_credentials("root").await;
    browser.wait_for_url(&alpha.url("/admin")).await;
    assert_eq!(browser.text("#audit-result").await, "The books balance.");
    browser.screenshot("admin-overview").await;

    // The reader's bank transfer arrives: 25.00 with its reference.
    browser.click("nav.admin-nav a[href='/admin/users']").await;
    browser.fill("#deposit-username", "reader").await;
    browser.fill("#deposit-amount", "25.00").await;
    browser.fill("#deposit-reference", "bank-0001").await;
    browser.click("form[action='/admin/deposits'] button").await;
    browser
        .wait_for_url(&alpha.url("/admin/users?q=reader&done=deposit"))
        .await;
    assert_eq!(browser.text("#user-reader .wallet").await, "25.00 EUR");
    assert_eq!(alpha.wallet("reader").await, 250_000);
    browser.screenshot("admin-deposit").await;

    alpha.flattr(&reader, thing).await;
    alpha.set_time("2026-11-01T00:00:00Z");

    browser
        .click("nav.admin-nav a[href='/admin/periods']")
        .await;
    assert_eq!(browser.text("#period-2026-10 .stage").await, "open");
    browser
        .click("form[action='/admin/periods/2026-10/close'] button")
        .await;
    browser
        .wait_for_url(&alpha.url("/admin/periods?done=closed"))
        .await;
    assert_eq!(browser.text("#period-2026-10 .stage").await, "closed");
    assert_eq!(alpha.earnings("bob").await, 180_000);
    assert_eq!(alpha.wallet("reader").await, 50_000);
    browser.screenshot("admin-period-closed").await;

    let payout = alpha
        .post(
            "/api/v1/user/payouts",
            Some(&bob),
            &json!({"amount": "18.00"}),
        )
        .await;
    assert_eq!(payout.status(), 201);
    browser
        .click("nav.admin-nav a[href='/admin/payouts']")
        .await;
    assert_eq!(browser.text("#requested-total").await, "18.00");
    assert!(browser.text("table").await.contains("bob"));
    browser.screenshot("admin-payouts").await;
    alpha.assert_books_balance().await;
    browser.close().await;
}
