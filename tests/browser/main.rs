//! The web pages and the flattr button in a real browser: Debian's `chromium`, driven headless
//! through `chromedriver` (WebDriver) by fantoccini. Each test starts its own chromedriver on a
//! free port with its own profile directory, and real instances and blogs on 127.0.0.x
//! (`*.test` names map to 127.0.0.1 in the browser as in development mode). Screenshots land in
//! `target/browser-screenshots/`. Without chromium or chromedriver the tests fail: they never
//! skip (`.ci/run` installs both).

// Test code: a failed unwrap is a failed run with its reason.
#![allow(clippy::unwrap_used)]

mod access;
mod admin;
mod button;
#[path = "../common/mod.rs"]
mod common;
mod creator;
mod reader;
mod remote;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// Where chromium and its driver are on Debian.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long an element may take to appear (the page loads, a script runs).
const WAIT: Duration = Duration::from_secs(10);

/// A headless chromium with its own chromedriver and profile, ended when dropped.
pub struct Browser {
    /// The WebDriver session, for what the helpers do not cover.
    pub client: Client,
    driver: Child,
    /// Whether pages may run scripts (WebDriver's own scripts cannot run either without).
    javascript: bool,
    _profile: tempfile::TempDir,
}

/// A port nobody listens on right now, for chromedriver.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl Browser {
    /// A browser with JavaScript on.
    pub async fn start() -> Browser {
        Browser::launch(true).await
    }

    /// A browser with JavaScript off, as some readers have it.
    pub async fn without_javascript() -> Browser {
        Browser::launch(false).await
    }

    async fn launch(javascript: bool) -> Browser {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(program).exists(),
                "{program} is missing: install Debian's chromium and chromium-driver \
                 (apt-get install -y chromium chromium-driver); the browser tests do not skip"
            );
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=900,1000".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
            // Instances and blogs listen on 127.0.0.1 under *.test names.
            "--host-resolver-rules=MAP *.test 127.0.0.1".to_owned(),
        ];
        if !javascript {
            args.push("--blink-settings=scriptEnabled=false".to_owned());
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"binary": CHROMIUM, "args": args}),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let url = format!("http://127.0.0.1:{port}");
        // chromedriver needs a moment to listen: wait for it (bounded), then connect once.
        let deadline = Instant::now() + WAIT;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on port {port} within {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&url)
            .await
            .expect("chromium starts under chromedriver");
        Browser {
            client,
            driver,
            javascript,
            _profile: profile,
        }
    }

    /// Opens `url`.
    pub async fn go(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The element `css` once it is there.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => panic!("no {css} on {}: {e}", self.url().await),
        }
    }

    /// The text of the element `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// Types `text` into the field `css` (emptied first).
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Clicks the element `css` and waits until the page the click leads to has loaded: every
    /// click in these tests follows a link or sends a form. Without the wait, the next `find`
    /// could still see the page being left: a refused form re-renders the same fields, so the
    /// old error message was read, or went stale mid-read, while the new page was on its way.
    pub async fn click(&self, css: &str) {
        let leaving = self.client.find(Locator::Css("html")).await.unwrap();
        self.find(css).await.click().await.unwrap();
        self.wait_until_left(leaving, &format!("clicking {css}"))
            .await;
    }

    /// Presses `key` on the focused element, as a keyboard does (no wait).
    pub async fn press(&self, key: fantoccini::key::Key) {
        let focused = self.client.active_element().await.unwrap();
        focused.send_keys(&key.to_string()).await.unwrap();
    }

    /// Types `text` into the focused element.
    pub async fn type_text(&self, text: &str) {
        let focused = self.client.active_element().await.unwrap();
        focused.send_keys(text).await.unwrap();
    }

    /// Presses `key` on the focused element and waits, as [`Browser::click`] does, for the
    /// page it leads to (Enter on a form's field or button sends the form).
    pub async fn press_to_leave(&self, key: fantoccini::key::Key) {
        let leaving = self.client.find(Locator::Css("html")).await.unwrap();
        self.press(key).await;
        self.wait_until_left(leaving, &format!("pressing {key:?}"))
            .await;
    }

    /// Waits until the page whose root is `leaving` has been replaced and the next one loaded.
    async fn wait_until_left(&self, leaving: fantoccini::elements::Element, what: &str) {
        let deadline = Instant::now() + WAIT;
        // The old document's root goes stale once the browser has replaced the page.
        loop {
            match leaving.tag_name().await {
                Err(e) if e.is_stale_element_reference() => break,
                outcome => assert!(
                    Instant::now() < deadline,
                    "{what} on {} did not lead to another page within {WAIT:?} \
                     (last answer: {outcome:?})",
                    self.url().await
                ),
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.wait_until_loaded().await;
    }

    /// Waits until the current document has finished loading (scripts included).
    async fn wait_until_loaded(&self) {
        if !self.javascript {
            return;
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let state = self
                .client
                .execute("return document.readyState", vec![])
                .await;
            if matches!(&state, Ok(serde_json::Value::String(s)) if s == "complete") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not finish loading within {WAIT:?} (readyState: {state:?})",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The current address.
    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// The value of the field `css`.
    pub async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    /// Waits until the address starts with `prefix`.
    pub async fn wait_for_url(&self, prefix: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let now = self.url().await;
            if now.starts_with(prefix) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "expected to be at {prefix}…, still at {now}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves a screenshot as `target/browser-screenshots/NAME.png`, the tests' artifact.
    pub async fn screenshot(&self, name: &str) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Signs up NAME through the sign-up page (password `correct horse`), ending on "my
    /// flattrs" or wherever the page was headed.
    pub async fn sign_up(&self, base: &str, name: &str) {
        self.go(&format!("{base}/signup")).await;
        self.fill_credentials(name).await;
    }

    /// Fills the log-in or sign-up form on the current page and sends it.
    pub async fn fill_credentials(&self, name: &str) {
        self.fill("#username", name).await;
        self.fill("#password", common::users::PASSWORD).await;
        self.click("form button[type=submit]").await;
    }

    /// Ends the browser and its driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A failed test does not reach `close`: its driver (and chromium) end here.
        let _ = self.driver.kill();
    }
}
