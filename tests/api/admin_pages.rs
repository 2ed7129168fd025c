//! The admin's pages over HTTP, as a browser without script sends them: cookies and forms by
//! hand, no redirect followed. Each action must land in the books with its exact amount, need
//! an admin (403 otherwise) and the form's CSRF token (403 without).

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

/// A browser's session with one instance: its cookie and the CSRF token of its forms.
struct Web {
    client: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

/// The value of the first `name="csrf"` field of a page.
fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("the page has a form");
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// The `name=value` of the cookie `name` a response sets.
fn cookie_set(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie set"))
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

fn form(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

impl Web {
    /// Logs `name` in through the log-in page.
    async fn log_in(app: &TestApp, name: &str) -> Web {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut web = Web {
            client,
            base: app.base.clone(),
            cookie: String::new(),
            csrf: String::new(),
        };
        let page = web.get("/login").await;
        web.cookie = cookie_set(&page, "ff_csrf");
        let token = csrf_of(&page.text().await.unwrap());
        let answer = web
            .post(
                "/login",
                &[
                    ("csrf", &token),
                    ("username", name),
                    ("password", crate::common::users::PASSWORD),
                ],
            )
            .await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "log-in of {name}");
        web.cookie = cookie_set(&answer, "ff_session");
        web.csrf = csrf_of(&web.page("/me").await);
        web
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
    }

    /// The HTML of `path`, asserting a 200.
    async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.text().await.unwrap()
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(fields))
            .send()
            .await
            .unwrap()
    }

    /// POSTs a form with this session's CSRF token and the fields given.
    async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }
}

/// Where a redirect leads.
fn location(response: &reqwest::Response) -> &str {
    response.headers()["location"].to_str().unwrap()
}

/// An instance with an admin, `root`, logged in on the web.
async fn with_admin() -> (TestApp, Web) {
    let app = spawn_app().await;
    app.sign_up("root").await;
    sqlx::query("UPDATE users SET is_admin = 1 WHERE username = 'root'")
        .execute(app.state.store.pool())
        .await
        .unwrap();
    let web = Web::log_in(&app, "root").await;
    (app, web)
}

const PAGES: [&str; 5] = [
    "/admin",
    "/admin/users",
    "/admin/periods",
    "/admin/peers",
    "/admin/payouts",
];

#[tokio::test]
async fn the_admin_pages_send_strangers_to_log_in_and_refuse_users_who_are_no_admin() {
    let (app, admin) = with_admin().await;
    app.sign_up("alice").await;
    let anonymous = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let alice = Web::log_in(&app, "alice").await;
    for path in PAGES {
        let stranger = anonymous.get(app.url(path)).send().await.unwrap();
        assert_eq!(stranger.status(), StatusCode::SEE_OTHER, "{path}");
        let next: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
        assert_eq!(location(&stranger), format!("/login?next={next}"));
        assert_eq!(
            alice.get(path).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
        admin.page(path).await;
    }
    // A user who is no admin cannot act either, even with a valid token of their own.
    let deposit = alice
        .submit(
            "/admin/deposits",
            &[
                ("username", "alice"),
                ("amount", "5.00"),
                ("reference", "r"),
            ],
        )
        .await;
    assert_eq!(deposit.status(), StatusCode::FORBIDDEN);
    let close = alice.submit("/admin/periods/2026-09/close", &[]).await;
    assert_eq!(close.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.wallet("alice").await, 0);
    // The admin's layout links the admin's pages; alice's does not.
    assert!(admin.page("/me").await.contains("href=\"/admin\""));
    assert!(!alice.page("/me").await.contains("href=\"/admin\""));
}

#[tokio::test]
async fn the_overview_shows_the_settings_the_counts_and_the_audit() {
    let (app, admin) = with_admin().await;
    app.sign_up("alice").await;
    let html = admin.page("/admin").await;
    assert!(html.contains("<dd id=\"currency\">EUR</dd>"), "{html}");
    assert!(html.contains("<dd id=\"fee\">10 %</dd>"));
    assert!(html.contains("<dd id=\"min-budget\">2.00 EUR</dd>"));
    assert!(html.contains("<dd id=\"payout-minimum\">10.00 EUR</dd>"));
    assert!(html.contains("<dd id=\"count-users\">2</dd>"));
    assert!(html.contains("The books balance."));
    assert!(html.contains("every transaction is balanced"));

    // A posting that breaks the books shows as a failed check.
    sqlx::query(
        "UPDATE accounts SET balance = balance + 1 WHERE id = (SELECT MIN(id) FROM accounts)",
    )
    .execute(app.state.store.pool())
    .await
    .unwrap();
    let html = admin.page("/admin").await;
    assert!(html.contains("The books do NOT balance."));
    assert!(html.contains("<strong>FAIL</strong>: every balance equals its postings"));
}

#[tokio::test]
async fn a_deposit_from_the_page_lands_in_the_ledger_once_with_its_exact_amount() {
    let (app, admin) = with_admin().await;
    app.sign_up("alice").await;
    let fields = [
        ("username", "alice"),
        ("amount", "12.34"),
        ("reference", "bank-2026-10-0001"),
    ];

    let forged = admin.post("/admin/deposits", &fields).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "no CSRF token");
    let mut wrong = vec![("csrf", "0".repeat(64))];
    wrong.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        admin.post("/admin/deposits", &wrong).await.status(),
        StatusCode::FORBIDDEN,
        "another token"
    );
    assert_eq!(app.wallet("alice").await, 0);

    let done = admin.submit("/admin/deposits", &fields).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/admin/users?q=alice&done=deposit");
    assert_eq!(app.wallet("alice").await, 123_400);
    let html = admin.page(location(&done)).await;
    assert!(html.contains("The deposit is recorded."));
    assert!(
        html.contains("<td class=\"wallet\">12.34 EUR</td>"),
        "{html}"
    );

    // The same form sent again: the bank reference makes it count once.
    let again = admin.submit("/admin/deposits", &fields).await;
    assert_eq!(location(&again), "/admin/users?q=alice&done=deposit-again");
    assert_eq!(app.wallet("alice").await, 123_400);

    // Refused input: the form comes back with the error next to its field and what was typed.
    let refused = admin
        .submit(
            "/admin/deposits",
            &[
                ("username", "alice"),
                ("amount", "1.234"),
                ("reference", "bank-2"),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(html.contains("id=\"amount-error\""));
    assert!(html.contains("value=\"1.234\""));
    let no_reference = admin
        .submit(
            "/admin/deposits",
            &[
                ("username", "alice"),
                ("amount", "1.00"),
                ("reference", " "),
            ],
        )
        .await;
    assert_eq!(no_reference.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        no_reference
            .text()
            .await
            .unwrap()
            .contains("id=\"reference-error\"")
    );
    let nobody = admin
        .submit(
            "/admin/deposits",
            &[
                ("username", "nobody"),
                ("amount", "1.00"),
                ("reference", "bank-3"),
            ],
        )
        .await;
    assert_eq!(nobody.status(), StatusCode::NOT_FOUND);
    assert!(
        nobody
            .text()
            .await
            .unwrap()
            .contains("id=\"username-error\"")
    );
    assert_eq!(app.wallet("alice").await, 123_400);
    app.assert_books_balance().await;
}

#[tokio::test]
async fn the_users_list_is_searched_and_paged() {
    let (app, admin) = with_admin().await;
    for n in 0..55 {
        app.sign_up(&format!("user{n:02}")).await;
    }
    let first = admin.page("/admin/users").await;
    assert!(first.contains("id=\"user-root\"") || !first.contains("id=\"user-user49\""));
    assert!(first.contains("offset=50\">Next page</a>"));
    let second = admin.page("/admin/users?offset=50").await;
    assert!(second.contains("id=\"user-user54\""));
    assert!(!second.contains("Next page"));
    let found = admin.page("/admin/users?q=user1").await;
    assert_eq!(
        found.matches("<tr id=\"user-").count(),
        10,
        "user10 … user19"
    );
    // `_` and `%` are letters in a search, not wildcards.
    let none = admin.page("/admin/users?q=%25").await;
    assert_eq!(none.matches("<tr id=\"user-").count(), 0);
}

#[tokio::test]
async fn a_disabled_user_can_neither_log_in_nor_use_a_token_or_session_until_enabled() {
    let (app, admin) = with_admin().await;
    let alice = app.sign_up_user("alice").await;
    let session = Web::log_in(&app, "alice").await;

    let forged = admin
        .post(&format!("/admin/users/{}/disable", alice.id), &[])
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "no CSRF token");
    let done = admin
        .submit(&format!("/admin/users/{}/disable", alice.id), &[])
        .await;
    assert_eq!(location(&done), "/admin/users?q=alice&done=disabled");
    assert!(
        admin
            .page("/admin/users?q=alice")
            .await
            .contains(">disabled</span>")
    );

    // Her token, her browser session and a new log-in are all refused.
    assert_eq!(
        app.get("/api/v1/user", Some(&alice.token)).await.status(),
        401
    );
    let me = session.get("/me").await;
    assert_eq!(me.status(), StatusCode::SEE_OTHER);
    assert!(location(&me).starts_with("/login"));
    let token = app
        .post(
            "/api/v1/tokens",
            None,
            &json!({"username": "alice", "password": crate::common::users::PASSWORD}),
        )
        .await;
    assert_eq!(
        crate::common::error_code(token).await,
        (403, "account_disabled".into())
    );
    // A wrong password still says only that: being disabled is told to the password's holder.
    let wrong = app
        .post(
            "/api/v1/tokens",
            None,
            &json!({"username": "alice", "password": "wrong horse"}),
        )
        .await;
    assert_eq!(wrong.status(), 401);

    // An admin cannot be disabled (the last one would lock the instance out).
    let root = app.user_id("root").await;
    let refused = admin
        .submit(&format!("/admin/users/{root}/disable"), &[])
        .await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);

    admin
        .submit(&format!("/admin/users/{}/enable", alice.id), &[])
        .await;
    assert_eq!(
        app.get("/api/v1/user", Some(&alice.token)).await.status(),
        200
    );
    session.page("/me").await;
}

/// alice (budget 20.00) flattrs bob's thing in 2026-10; the clock moves to November.
async fn alice_flattred_bob(app: &TestApp) -> String {
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    app.deposit("alice", "100.00").await;
    app.patch("/api/v1/user", &alice, &json!({"budget": "20.00"}))
        .await;
    let thing = app.create_thing(&bob, "https://bob.example/1", "One").await;
    app.flattr(&alice, thing).await;
    app.set_time("2026-11-01T00:00:00Z");
    bob
}

#[tokio::test]
async fn closing_a_period_from_the_page_credits_the_creator_and_a_second_click_is_harmless() {
    let (app, admin) = with_admin().await;
    alice_flattred_bob(&app).await;
    let html = admin.page("/admin/periods").await;
    assert!(html.contains("action=\"/admin/periods/2026-10/close\""));
    assert!(
        !html.contains("action=\"/admin/periods/2026-11/close\""),
        "not ended"
    );

    let forged = admin.post("/admin/periods/2026-10/close", &[]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "no CSRF token");
    assert_eq!(app.earnings("bob").await, 0);

    let done = admin.submit("/admin/periods/2026-10/close", &[]).await;
    assert_eq!(location(&done), "/admin/periods?done=closed");
    assert_eq!(
        app.earnings("bob").await,
        180_000,
        "20.00 less the 10 % fee"
    );
    assert_eq!(app.wallet("alice").await, 800_000);
    assert_eq!(app.fees().await, 20_000);
    let ledger = app.ledger_lines().await;

    let again = admin.submit("/admin/periods/2026-10/close", &[]).await;
    assert_eq!(location(&again), "/admin/periods?done=already-closed");
    assert_eq!(
        app.ledger_lines().await,
        ledger,
        "the second close changed nothing"
    );
    let html = admin.page("/admin/periods?done=already-closed").await;
    assert!(html.contains("<td class=\"stage\">closed</td>"));
    assert!(!html.contains("action=\"/admin/periods/2026-10/close\""));

    // A period that has not ended is refused, and says why.
    let open = admin.submit("/admin/periods/2026-11/close", &[]).await;
    assert!(open.status().is_client_error(), "{}", open.status());
    let bad = admin.submit("/admin/periods/2026-13/close", &[]).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    app.assert_books_balance().await;
}

#[tokio::test]
async fn payouts_are_listed_exported_as_csv_and_a_batch_confirmed_as_paid() {
    let (app, admin) = with_admin().await;
    let bob = alice_flattred_bob(&app).await;
    app.close("2026-10").await;
    let requested = app
        .post(
            "/api/v1/user/payouts",
            Some(&bob),
            &json!({"amount": "12.50"}),
        )
        .await;
    assert_eq!(requested.status(), 201);

    let html = admin.page("/admin/payouts").await;
    assert!(
        html.contains("<td class=\"amount\">12.50 EUR</td>"),
        "{html}"
    );
    assert!(html.contains("<span id=\"requested-total\">12.50</span>"));

    let forged = admin.post("/admin/payouts/export", &[]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "no CSRF token");
    let csv = admin.submit("/admin/payouts/export", &[]).await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = csv.text().await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        lines[0],
        "payout_id,username,amount,currency,requested_at,batch"
    );
    assert_eq!(lines.len(), 2);
    assert!(lines[1].contains(",bob,12.50,EUR,"), "{body}");
    let batch = lines[1].rsplit(',').next().unwrap().to_owned();

    let html = admin.page("/admin/payouts").await;
    assert!(html.contains(&format!("id=\"batch-{batch}\"")));
    assert!(html.contains("<td class=\"state\">exported</td>"));
    let payouts_account = app.balance("payouts").await;
    assert_eq!(payouts_account, 125_000);

    let confirmed = admin
        .submit("/admin/payouts/confirm", &[("batch", &batch)])
        .await;
    assert_eq!(location(&confirmed), "/admin/payouts?done=confirmed");
    assert_eq!(app.balance("payouts").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM payouts WHERE state = 'paid'")
            .await,
        1
    );
    assert!(
        admin
            .page("/admin/payouts")
            .await
            .contains("No payout is waiting.")
    );
    let empty = admin
        .submit("/admin/payouts/confirm", &[("batch", "")])
        .await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    app.assert_books_balance().await;
}
