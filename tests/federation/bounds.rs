//! What comes from outside is bounded: documents other servers send us are read up to a limit,
//! whatever they claim or keep sending.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use fedflattr::config::Config;
use fedflattr::federation::client::{self, JSON_LIMIT, ReadError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A hostile server: answers any request with a JSON document that never ends (no
/// Content-Length, so nothing tells the client in advance) and counts what it managed to send.
async fn endless_json_server() -> (url::Url, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = [0u8; 4096];
        let _ = socket.read(&mut head).await;
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{\"links\": [")
            .await;
        let chunk = vec![b' '; 64 * 1024];
        // Stops when the client hangs up; the cap only keeps a broken client from hanging the
        // test.
        while counter.load(Ordering::Relaxed) < 256 * 1024 * 1024 {
            if socket.write_all(&chunk).await.is_err() {
                break;
            }
            counter.fetch_add(chunk.len(), Ordering::Relaxed);
        }
    });
    let url = url::Url::parse(&format!("http://hostile.test:{port}/nodeinfo/2.1")).unwrap();
    (url, sent, task)
}

#[tokio::test]
async fn a_document_that_never_ends_is_read_up_to_the_limit_and_no_further() {
    let settings = Config {
        development_mode: true,
        ..Config::default()
    }
    .settings()
    .unwrap();
    let (url, sent, server) = endless_json_server().await;
    let result = client::get_json(&client::build(&settings), url).await;
    assert!(
        matches!(result, Err(ReadError::TooLarge(JSON_LIMIT))),
        "{result:?}"
    );
    server.await.unwrap();
    // What the server pushed beyond the limit sat in socket buffers, not in our memory; it
    // stopped because we hung up.
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent < 64 * 1024 * 1024, "the server sent {sent} bytes");
}
