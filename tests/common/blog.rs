//! `Blog`: a small web server standing in for somebody's blog, on 127.0.0.1 port 0 under a
//! `NAME.test` host name (which instances in development mode resolve to 127.0.0.1). A test
//! puts pages and files on it (a post with or without a `rel="payment"` link back, the
//! domain's `/.well-known/fedflattr` token, an ActivityPub object) and instances fetch them
//! over real HTTP.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

type Files = Arc<Mutex<HashMap<String, (String, String)>>>;

/// A running blog.
pub struct Blog {
    /// `NAME.test`.
    pub host: String,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    files: Files,
    task: tokio::task::JoinHandle<()>,
}

async fn serve_file(State(files): State<Files>, uri: Uri) -> Response {
    let found = files
        .lock()
        .expect("the blog's files")
        .get(uri.path())
        .cloned();
    match found {
        Some((content_type, body)) => {
            ([(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such page").into_response(),
    }
}

impl Blog {
    /// Starts an empty blog at `http://NAME.test:PORT`.
    pub async fn spawn(name: &str) -> Blog {
        let files: Files = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port on 127.0.0.1");
        let port = listener.local_addr().expect("a bound address").port();
        let app = axum::Router::new()
            .fallback(serve_file)
            .with_state(files.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Blog {
            host: format!("{name}.test"),
            port,
            files,
            task,
        }
    }

    /// The domain a user verifies for this blog: `NAME.test:PORT`.
    pub fn domain(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The blog's URL of `path` (`/2026/post`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.domain())
    }

    /// Serves `body` at `path` with `content_type`.
    pub fn put(&self, path: &str, content_type: &str, body: &str) {
        self.files
            .lock()
            .expect("the blog's files")
            .insert(path.to_owned(), (content_type.to_owned(), body.to_owned()));
    }

    /// Serves an HTML post at `path` whose head has `extra_head` (e.g. a payment link).
    pub fn post(&self, path: &str, extra_head: &str) {
        self.put(
            path,
            "text/html; charset=utf-8",
            &format!(
                "<!doctype html><html><head><title>A post</title>{extra_head}</head>\
                 <body><p>Hello.</p></body></html>"
            ),
        );
    }

    /// Serves an HTML post at `path` that links back with `<link rel="payment" href="HREF">`.
    pub fn post_linking_to(&self, path: &str, href: &str) {
        self.post(path, &format!(r#"<link rel="payment" href="{href}">"#));
    }

    /// Publishes `token` at `/.well-known/fedflattr`.
    pub fn publish_token(&self, token: &str) {
        self.put(
            "/.well-known/fedflattr",
            "text/plain",
            &format!("{token}\n"),
        );
    }
}

impl Drop for Blog {
    fn drop(&mut self) {
        self.task.abort();
    }
}
