//! The web pages over plain HTTP (the browser walks are in tests/browser): CSRF tokens,
//! cookies, the log-in flood's 429 page, and the headers of the button and the pages.

use reqwest::header;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// The value of `name="csrf"` in a page's first form.
fn csrf_of(html: &str) -> String {
    let start = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a token")
        + 19;
    html[start..start + 64].to_owned()
}

/// The `NAME=VALUE` of the cookie `name` a response sets.
fn cookie_of(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

/// A browser without redirects and without a cookie jar: the test carries the cookies.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn post_form(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    body: &str,
) -> reqwest::Response {
    let mut request = client
        .post(app.url(path))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.send().await.unwrap()
}

/// Logs `name` in through the log-in form; returns the session cookie.
async fn log_in(client: &reqwest::Client, app: &TestApp, name: &str) -> String {
    let page = client.get(app.url("/login")).send().await.unwrap();
    let anonymous = cookie_of(&page, "ff_csrf").expect("an anonymous CSRF cookie");
    let token = csrf_of(&page.text().await.unwrap());
    let response = post_form(
        client,
        app,
        "/login",
        Some(&anonymous),
        &format!("csrf={token}&username={name}&password=correct+horse&next=%2Fme"),
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()[header::LOCATION], "/me");
    let set = response.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "not on an http:// instance: {set}");
    cookie_of(&response, "ff_session").expect("a session cookie")
}

#[tokio::test]
async fn a_form_without_its_session_s_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    app.sign_up("reader").await;
    let client = browser();

    // The log-in form needs the anonymous cookie its token came with.
    let page = client.get(app.url("/login")).send().await.unwrap();
    let token = csrf_of(&page.text().await.unwrap());
    let response = post_form(
        &client,
        &app,
        "/login",
        None,
        &format!("csrf={token}&username=reader&password=correct+horse"),
    )
    .await;
    assert_eq!(response.status(), 403);
    assert_eq!(app.count("SELECT COUNT(*) FROM web_sessions").await, 0);

    let session = log_in(&client, &app, "reader").await;
    // Another site's form: the browser sends the cookie, but the token is not this session's.
    let forged = "a".repeat(64);
    let response = post_form(
        &client,
        &app,
        "/me/budget",
        Some(&session),
        &format!("csrf={forged}&budget=9.00"),
    )
    .await;
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap().contains("another site"));
    let response = post_form(&client, &app, "/me/budget", Some(&session), "budget=9.00").await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        app.count("SELECT budget FROM users WHERE username = 'reader'")
            .await,
        20_000
    );

    // The session's own token, read from its page, works.
    let me = client
        .get(app.url("/me"))
        .header(header::COOKIE, &session)
        .send()
        .await
        .unwrap();
    let me = me.text().await.unwrap();
    // The title is the page's name alone; the subscriptions are listed once, in the page.
    assert!(me.contains("<title>My flattrs · "), "{me}");
    assert_eq!(me.matches("id=\"subs\"").count(), 1, "{me}");
    let token = csrf_of(&me);
    let response = post_form(
        &client,
        &app,
        "/me/budget",
        Some(&session),
        &format!("csrf={token}&budget=9.00"),
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        app.count("SELECT budget FROM users WHERE username = 'reader'")
            .await,
        90_000
    );

    // Logged out, the same cookie opens nothing.
    let response = post_form(
        &client,
        &app,
        "/logout",
        Some(&session),
        &format!("csrf={token}"),
    )
    .await;
    assert_eq!(response.status(), 303);
    let me = client
        .get(app.url("/me"))
        .header(header::COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 303);
    assert_eq!(me.headers()[header::LOCATION], "/login?next=%2Fme");
}

#[tokio::test]
async fn a_log_in_flood_through_the_form_gets_a_429_page_with_retry_after() {
    let app = spawn_app_with(|c| c.login_per_minute = 2).await;
    app.sign_up("reader").await;
    let client = browser();
    let page = client.get(app.url("/login")).send().await.unwrap();
    let anonymous = cookie_of(&page, "ff_csrf").unwrap();
    let token = csrf_of(&page.text().await.unwrap());
    let body = format!("csrf={token}&username=reader&password=wrong+horse");
    for _ in 0..2 {
        let response = post_form(&client, &app, "/login", Some(&anonymous), &body).await;
        assert_eq!(response.status(), 401);
        let html = response.text().await.unwrap();
        assert!(html.contains("wrong username or password"));
        assert!(html.contains("value=\"reader\""), "what was typed stays");
    }
    let response = post_form(&client, &app, "/login", Some(&anonymous), &body).await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn the_button_is_cacheable_from_any_origin_and_pages_may_not_be_framed() {
    let app = spawn_app().await;
    let alice = app.sign_up("alice").await;
    let post = "https://blog.example/post";
    let thing = app.create_thing(&alice, post, "A post").await;
    let reader = app.sign_up("reader").await;
    app.deposit("reader", "10.00").await;
    assert_eq!(app.flattr(&reader, thing).await.status(), 201);

    let client = browser();
    let image = client
        .get(app.url("/button.svg?url=https%3A%2F%2Fblog.example%2Fpost"))
        .header(header::ORIGIN, "https://blog.example")
        .send()
        .await
        .unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()[header::CONTENT_TYPE], "image/svg+xml");
    assert_eq!(image.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert_eq!(image.headers()[header::CACHE_CONTROL], "public, max-age=60");
    assert!(image.text().await.unwrap().contains("Flattr: 1 flattrs"));

    let count: serde_json::Value = client
        .get(app.url("/button/count?url=https%3A%2F%2Fblog.example%2Fpost"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(count["count"], 1);
    let none: serde_json::Value = client
        .get(app.url("/button/count?url=https%3A%2F%2Fblog.example%2Fother"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(none["count"], 0);
    let bad = client
        .get(app.url("/button.svg?url=not-a-url"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422, "bad input is a 4xx, never a 500");

    let script = client.get(app.url("/button.js")).send().await.unwrap();
    assert_eq!(script.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert!(
        script.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );

    for path in ["/", &format!("/things/{thing}"), "/users/alice", "/login"] {
        let page = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(page.status(), 200, "{path}");
        let policy = page.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(policy.contains("style-src 'self'"), "{path}: {policy}");
    }
    // The ActivityPub side of the same URL is the federation's answer, with its own policy.
    let person = app.get_activity("/users/alice").await;
    assert_eq!(person.headers()[header::VARY], "Accept");
    assert_eq!(
        person.headers()[header::CONTENT_SECURITY_POLICY],
        fedflattr::http::CONTENT_SECURITY_POLICY
    );
    let json: serde_json::Value = person.json().await.unwrap();
    assert_eq!(json["type"], "Person");
}

#[tokio::test]
async fn an_error_page_names_the_instance_and_shows_the_visitor_s_navigation() {
    let app = spawn_app().await;
    app.sign_up("reader").await;
    let client = browser();
    let domain = app.state.settings.domain.clone();
    assert!(!domain.is_empty());

    let page = client.get(app.url("/things/999999")).send().await.unwrap();
    assert_eq!(page.status(), 404);
    assert!(
        page.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{:?}",
        page.headers()
    );
    assert!(page.headers().contains_key(header::CONTENT_SECURITY_POLICY));
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("<title>Not Found · {domain}</title>")),
        "{html}"
    );
    assert!(
        html.contains(&format!("<a class=\"brand\" href=\"/\">{domain}</a>")),
        "{html}"
    );

    // A logged-in visitor keeps their navigation on an error page (a user who is no admin).
    let session = log_in(&client, &app, "reader").await;
    let page = client
        .get(app.url("/admin"))
        .header(header::COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("<title>Forbidden · {domain}</title>")),
        "{html}"
    );
    assert!(
        html.contains("<a href=\"/users/reader\">@reader</a>"),
        "{html}"
    );
    assert!(html.contains("only an instance admin"), "{html}");
}

#[tokio::test]
async fn the_edit_page_changes_tags_and_language_by_the_api_s_rules() {
    let app = spawn_app().await;
    let alice = app.sign_up("alice").await;
    let thing = app
        .create_thing(&alice, "https://alice.example/post", "Post")
        .await;
    let patched = app
        .patch(
            &format!("/api/v1/things/{thing}"),
            &alice,
            &serde_json::json!({"tags": ["old"], "language": "en"}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let client = browser();
    let session = log_in(&client, &app, "alice").await;
    let edit = format!("/me/things/{thing}/edit");
    let page = client
        .get(app.url(&edit))
        .header(header::COOKIE, &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("name=\"tags\" value=\"old\""), "{page}");
    assert!(page.contains("name=\"language\" value=\"en\""), "{page}");
    let token = csrf_of(&page);
    let form = |tags: &str, language: &str| {
        let mut body = url::form_urlencoded::Serializer::new(String::new());
        body.append_pair("csrf", &token)
            .append_pair("title", "Post")
            .append_pair("description", "")
            .append_pair("category", "text")
            .append_pair("tags", tags)
            .append_pair("language", language);
        body.finish()
    };

    // Tags separated by commas, trimmed and lower-cased; `pt_BR` written `pt-BR`: the API's rules.
    let response = post_form(
        &client,
        &app,
        &edit,
        Some(&session),
        &form("Rust, Federation ,", "pt_BR"),
    )
    .await;
    assert_eq!(response.status(), 303);
    let seen = app.get_json(&format!("/api/v1/things/{thing}"), None).await;
    assert_eq!(
        seen["tags"],
        serde_json::json!(["rust", "federation"]),
        "{seen}"
    );
    assert_eq!(seen["language"], "pt-BR", "{seen}");

    // A language that is none: refused next to its field, as the API refuses it, with what
    // was typed; nothing changes.
    let api = app
        .patch(
            &format!("/api/v1/things/{thing}"),
            &alice,
            &serde_json::json!({"language": "english!"}),
        )
        .await;
    let response = post_form(
        &client,
        &app,
        &edit,
        Some(&session),
        &form("rust", "english!"),
    )
    .await;
    assert_eq!(response.status(), api.status());
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"language-error\""), "{html}");
    assert!(
        html.contains("name=\"language\" value=\"english!\""),
        "{html}"
    );
    // A tag longer than 50 characters: refused next to the tags field.
    let long = "x".repeat(51);
    let response = post_form(&client, &app, &edit, Some(&session), &form(&long, "")).await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("id=\"tags-error\""));
    let seen = app.get_json(&format!("/api/v1/things/{thing}"), None).await;
    assert_eq!(
        seen["tags"],
        serde_json::json!(["rust", "federation"]),
        "{seen}"
    );
    assert_eq!(seen["language"], "pt-BR", "{seen}");
}
