//! Accessible and responsive, measured in chromium: every page a user meets fits a phone
//! (375 px wide) without sideways scrolling and with its main control in view, every form
//! control has a label, text contrast is at least 4.5:1 (WCAG AA) by the browser's computed
//! colours, and a reader signs up, sets a budget and flattrs with the keyboard alone, the focus
//! always on the expected control and visibly outlined.

use fantoccini::key::Key;
use serde_json::{Value, json};

use crate::Browser;
use crate::common::{Blog, Instance};

/// The phone the pages are measured on (an iPhone SE's CSS width).
const PHONE: (u32, u32) = (375, 800);

/// WCAG 2's AA minimum for normal text.
const MIN_CONTRAST: f64 = 4.5;

/// How wide the document is against the window: more means sideways scrolling.
const WIDTHS: &str = "return {scroll: document.documentElement.scrollWidth, \
     inner: window.innerWidth};";

/// Where the element `arguments[0]` is: a visible box inside the window's width.
const IN_VIEW: &str = r#"
const e = document.querySelector(arguments[0]);
if (!e) { return 'missing'; }
const r = e.getBoundingClientRect();
const s = getComputedStyle(e);
if (s.visibility === 'hidden' || s.display === 'none' || r.width === 0 || r.height === 0) {
  return 'hidden';
}
if (r.left < 0 || r.right > window.innerWidth) {
  return 'outside the window: ' + r.left + '..' + r.right + ' of ' + window.innerWidth;
}
return 'ok';
"#;

/// Every form control a person can reach, without a name: a `<label>` (for= or around it),
/// `aria-label`, `aria-labelledby`, or a button's own text.
const UNLABELLED: &str = r#"
const missing = [];
for (const e of document.querySelectorAll('input, select, textarea, button')) {
  if (e.type === 'hidden') { continue; }
  const label = Array.from(e.labels || []).some(l => l.textContent.trim() !== '');
  const aria = (e.getAttribute('aria-label') || '').trim() !== ''
    || (e.getAttribute('aria-labelledby') || '').split(/\s+/)
         .some(id => id && document.getElementById(id));
  const own = e.tagName === 'BUTTON' && e.textContent.trim() !== '';
  if (!(label || aria || own)) { missing.push(e.outerHTML.slice(0, 160)); }
}
return missing;
"#;

/// The contrast ratio (WCAG 2) of every element that shows text of its own, and of every
/// field's typed text: its computed colour against the background it is painted on (the
/// first opaque background of it or an ancestor, translucent ones blended over it).
const CONTRASTS: &str = r#"
function rgba(text) {
  const m = text.match(/rgba?\(([^)]+)\)/);
  if (!m) { return null; }
  const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
  return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
}
function over(top, bottom) {
  const mix = k => top[k] * top.a + bottom[k] * (1 - top.a);
  return {r: mix('r'), g: mix('g'), b: mix('b'), a: 1};
}
function background(e) {
  const layers = [];
  for (let n = e; n; n = n.parentElement) {
    const c = rgba(getComputedStyle(n).backgroundColor);
    if (c && c.a > 0) { layers.push(c); if (c.a >= 1) { break; } }
  }
  let bg = {r: 255, g: 255, b: 255, a: 1};
  for (let i = layers.length - 1; i >= 0; i--) { bg = over(layers[i], bg); }
  return bg;
}
function luminance(c) {
  const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
}
function name(e) {
  let n = e.tagName.toLowerCase();
  if (e.id) { n += '#' + e.id; }
  for (const c of e.classList) { n += '.' + c; }
  return n;
}
const out = [];
const seen = new Set();
const elements = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  if (walker.currentNode.textContent.trim() === '') { continue; }
  elements.push(walker.currentNode.parentElement);
}
for (const e of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
  elements.push(e);
}
for (const e of elements) {
  if (seen.has(e) || e.closest('svg, script, style, noscript, title')) { continue; }
  seen.add(e);
  const s = getComputedStyle(e);
  if (s.display === 'none' || s.visibility === 'hidden') { continue; }
  const bg = background(e);
  const fg = over(rgba(s.color), bg);
  const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
  out.push({what: name(e), text: (e.textContent || e.value || '').trim().slice(0, 40),
            ratio: (hi + 0.05) / (lo + 0.05)});
}
return out;
"#;

/// What the focused element is: whether it matches `arguments[0]`, and how its focus shows.
const FOCUSED: &str = r#"
const e = document.activeElement;
const s = getComputedStyle(e);
const r = e.getBoundingClientRect();
return {matches: e.matches(arguments[0]), what: e.outerHTML.slice(0, 120),
        focus_visible: e.matches(':focus-visible'), outline: s.outlineStyle,
        width: parseFloat(s.outlineWidth), in_view: r.width > 0 && r.left >= 0
          && r.right <= window.innerWidth};
"#;

/// One contrast measured: which element, its text, the ratio.
struct Contrast {
    what: String,
    text: String,
    ratio: f64,
}

/// Checks the page the browser is on: no sideways scrolling, `control` in view, every control
/// labelled; adds its contrasts to `measured` and saves a screenshot `phone-NAME`.
async fn check_page(browser: &Browser, name: &str, control: &str, measured: &mut Vec<Contrast>) {
    browser.find(control).await;
    let here = browser.url().await;
    let widths = browser.client.execute(WIDTHS, vec![]).await.unwrap();
    assert!(
        widths["scroll"].as_i64().unwrap() <= widths["inner"].as_i64().unwrap(),
        "{here} scrolls sideways on a phone: {widths}"
    );
    let view = browser
        .client
        .execute(IN_VIEW, vec![json!(control)])
        .await
        .unwrap();
    assert_eq!(view, json!("ok"), "{control} on {here} on a phone");
    let unlabelled = browser.client.execute(UNLABELLED, vec![]).await.unwrap();
    assert_eq!(unlabelled, json!([]), "controls without a label on {here}");
    let contrasts = browser.client.execute(CONTRASTS, vec![]).await.unwrap();
    for c in contrasts.as_array().unwrap() {
        measured.push(Contrast {
            what: format!("{} on {here}", c["what"].as_str().unwrap()),
            text: c["text"].as_str().unwrap_or_default().to_owned(),
            ratio: c["ratio"].as_f64().unwrap(),
        });
    }
    browser.screenshot(&format!("phone-{name}")).await;
}

#[tokio::test]
async fn every_page_fits_a_phone_with_labelled_controls_and_readable_contrast() {
    let alpha = Instance::named("alpha").spawn().await;
    let blog = Blog::spawn("a-blog-with-a-rather-long-name-for-a-phone").await;
    let alice = alpha.sign_up("alice").await;
    sqlx::query("UPDATE users SET is_admin = 1 WHERE username = 'alice'")
        .execute(alpha.state.store.pool())
        .await
        .unwrap();
    // Long URLs and titles are what push a page sideways on a phone.
    let post = blog.url("/2026/11/a-post-whose-address-goes-on-and-on-without-a-single-break");
    blog.post(
        "/2026/11/a-post-whose-address-goes-on-and-on-without-a-single-break",
        "",
    );
    let thing = alpha
        .create_thing(
            &alice,
            &post,
            "A post with a title long enough to wrap twice on a phone",
        )
        .await;
    alpha
        .create_unproven_thing(
            &alice,
            "https://unproven-and-very-long-domain-name.example/posts/2026/not-yet-mine",
            "Not proven yet",
        )
        .await;
    let reader = alpha.sign_up("reader").await;
    alpha.deposit("reader", "30.00").await;
    alpha
        .patch("/api/v1/user", &reader, &json!({"budget": "20.00"}))
        .await;
    assert_eq!(alpha.flattr(&reader, thing).await.status(), 201);
    alpha.set_time("2026-11-01T00:00:10Z");
    alpha.close("2026-10").await;
    let payout = alpha
        .post(
            "/api/v1/user/payouts",
            Some(&alice),
            &json!({"amount": "10.00"}),
        )
        .await;
    assert_eq!(payout.status(), 201);
    assert_eq!(alpha.flattr(&reader, thing).await.status(), 201);

    let browser = Browser::start().await;
    browser
        .client
        .set_window_size(PHONE.0, PHONE.1)
        .await
        .unwrap();
    let inner = browser
        .client
        .execute("return window.innerWidth", vec![])
        .await
        .unwrap();
    assert_eq!(inner, json!(PHONE.0), "the window is a phone's width");
    let mut measured = Vec::new();
    let flattr_page = format!(
        "/flattr?url={}",
        url::form_urlencoded::byte_serialize(alpha.thing_url(thing).as_bytes()).collect::<String>()
    );

    // What a visitor meets before logging in.
    let anonymous = [
        ("front", "/", "a[href='/signup']"),
        ("log-in", "/login", "form button[type=submit]"),
        ("thing", &format!("/things/{thing}"), "a.flattr"),
        ("user", "/users/alice", "main a[href^='/things/']"),
        ("flattr-anonymous", &flattr_page, "#handle"),
        ("not-found", "/things/999999", "main a[href='/']"),
        ("sign-up", "/signup", "form button[type=submit]"),
    ];
    for (name, path, control) in anonymous {
        browser.go(&alpha.url(path)).await;
        check_page(&browser, name, control, &mut measured).await;
    }
    // A refused form: the error next to the field must be readable too.
    browser.fill("#username", "not a name!").await;
    browser.fill("#password", "correct horse").await;
    browser.click("form button[type=submit]").await;
    check_page(
        &browser,
        "sign-up-refused",
        "#username-error",
        &mut measured,
    )
    .await;

    browser.go(&alpha.url("/login")).await;
    browser.fill_credentials("alice").await;
    browser.wait_for_url(&alpha.url("/me")).await;
    let pages = [
        ("my-flattrs", "/me", "form[action='/me/budget'] button"),
        (
            "my-things",
            "/me/things",
            "form[action='/me/things'] button",
        ),
        (
            "my-earnings",
            "/me/earnings",
            "form[action='/me/payouts'] button",
        ),
        (
            "edit-thing",
            &format!("/me/things/{thing}/edit"),
            "form button[type=submit]",
        ),
        ("flattr", &flattr_page, "button.flattr"),
        ("admin", "/admin", "nav.admin-nav a[href='/admin/users']"),
        (
            "admin-users",
            "/admin/users",
            "form[action='/admin/deposits'] button",
        ),
        ("admin-periods", "/admin/periods", "main table"),
        ("admin-peers", "/admin/peers", "main h1"),
        (
            "admin-payouts",
            "/admin/payouts",
            "form[action='/admin/payouts/export'] button",
        ),
    ];
    for (name, path, control) in pages {
        browser.go(&alpha.url(path)).await;
        check_page(&browser, name, control, &mut measured).await;
    }
    // A domain claimed shows its long token to publish: it must wrap, not widen the page.
    browser.go(&alpha.url("/me/things")).await;
    browser
        .fill("#domain-input", "another-rather-long-domain-name.example")
        .await;
    browser.click("form[action='/me/domains'] button").await;
    check_page(
        &browser,
        "my-things-claimed",
        "div.domain code",
        &mut measured,
    )
    .await;
    // Refused next to its field on a logged-in page.
    browser.go(&alpha.url("/me")).await;
    browser.fill("#budget-input", "one euro").await;
    browser.click("form[action='/me/budget'] button").await;
    check_page(&browser, "budget-refused", "#budget-error", &mut measured).await;

    let low: Vec<String> = measured
        .iter()
        .filter(|c| c.ratio < MIN_CONTRAST)
        .map(|c| format!("{:.2}:1 {} ({:?})", c.ratio, c.what, c.text))
        .collect();
    assert!(low.is_empty(), "text below {MIN_CONTRAST}:1: {low:#?}");
    // Body text, links, buttons and error messages were all among what was measured.
    let tag = |c: &Contrast| {
        c.what
            .split(['#', '.', ' '])
            .next()
            .unwrap_or("")
            .to_owned()
    };
    for kind in ["p", "a", "button"] {
        assert!(
            measured.iter().any(|c| tag(c) == kind),
            "no {kind} was measured"
        );
    }
    assert!(
        measured.iter().any(|c| c.what.contains(".field-error")),
        "no error message was measured"
    );
    let lowest = measured
        .iter()
        .min_by(|a, b| a.ratio.total_cmp(&b.ratio))
        .unwrap();
    println!(
        "{} texts measured; the lowest contrast is {:.2}:1 ({})",
        measured.len(),
        lowest.ratio,
        lowest.what
    );
    browser.close().await;
}

/// Asserts that the focused element matches `css` and shows its focus: `:focus-visible`
/// matches, with an outline of at least 2 px, inside the window.
async fn assert_focus(browser: &Browser, css: &str) {
    let focused: Value = browser
        .client
        .execute(FOCUSED, vec![json!(css)])
        .await
        .unwrap();
    assert_eq!(
        focused["matches"],
        true,
        "expected the focus on {css} at {}, it is on {}",
        browser.url().await,
        focused["what"]
    );
    assert_eq!(focused["focus_visible"], true, "{focused}");
    assert_ne!(focused["outline"], "none", "no focus outline: {focused}");
    assert!(
        focused["width"].as_f64().unwrap() >= 2.0,
        "a thin focus outline: {focused}"
    );
    assert_eq!(
        focused["in_view"], true,
        "the focus is off screen: {focused}"
    );
}

/// Tabs to the next control and asserts it is `css`, visibly focused.
async fn tab_to(browser: &Browser, css: &str) {
    browser.press(Key::Tab).await;
    assert_focus(browser, css).await;
}

/// From the top of a page: Tab to the skip link, follow it, and Tab to `first`, the first
/// control of the page's content (the navigation is skipped).
async fn skip_to(browser: &Browser, first: &str) {
    tab_to(browser, "a.skip[href='#main']").await;
    browser.press(Key::Enter).await;
    tab_to(browser, first).await;
}

#[tokio::test]
async fn a_reader_signs_up_sets_a_budget_and_flattrs_with_the_keyboard_alone() {
    let alpha = Instance::named("alpha").spawn().await;
    let alice = alpha.sign_up("alice").await;
    let post = "https://alice.example/2026/keyboard";
    let thing = alpha.create_thing(&alice, post, "Keyboards").await;
    let browser = Browser::start().await;

    browser.go(&alpha.url("/signup")).await;
    skip_to(&browser, "#username").await;
    browser.type_text("reader").await;
    tab_to(&browser, "#password").await;
    browser.type_text(crate::common::users::PASSWORD).await;
    browser.screenshot("keyboard-sign-up").await;
    browser.press_to_leave(Key::Enter).await;
    browser.wait_for_url(&alpha.url("/me")).await;
    assert_eq!(alpha.count("SELECT COUNT(*) FROM users").await, 2);

    // Tabbing into a field selects what it holds: typing replaces the budget shown.
    skip_to(&browser, "#budget-input").await;
    browser.type_text("5.00").await;
    browser.press_to_leave(Key::Enter).await;
    browser.wait_for_url(&alpha.url("/me?done=budget")).await;
    assert_eq!(
        alpha
            .count("SELECT budget FROM users WHERE username = 'reader'")
            .await,
        50_000
    );
    alpha.deposit("reader", "10.00").await;

    browser.go(&alpha.url(&format!("/things/{thing}"))).await;
    skip_to(&browser, &format!("main a[href='{post}']")).await;
    tab_to(&browser, "main a[href='/users/alice']").await;
    tab_to(&browser, "main button.flattr").await;
    browser.screenshot("keyboard-flattr").await;
    browser.press_to_leave(Key::Enter).await;
    browser
        .wait_for_url(&alpha.url(&format!("/things/{thing}")))
        .await;
    assert_eq!(browser.text("#flattr-count").await, "1");
    assert_eq!(
        alpha
            .count("SELECT COUNT(*) FROM flattrs f JOIN users u ON u.id = f.user_id WHERE u.username = 'reader'")
            .await,
        1
    );
    browser.close().await;
}
