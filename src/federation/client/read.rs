//! Bounded reads of what other servers send: at most a limit of any body, however long the
//! server keeps sending and whatever its `Content-Length` says.

use reqwest_middleware::ClientWithMiddleware;
use url::Url;

/// The most we read of a JSON document another server sends us (NodeInfo and its links): the
/// same 1 MiB the library allows for the actors and objects it fetches itself.
pub const JSON_LIMIT: usize = 1024 * 1024;
/// The most we read of a web page while looking for its links (they sit in `<head>`).
pub const PAGE_LIMIT: usize = 512 * 1024;

/// Reads at most `limit` bytes of `response`'s body. Stops at the limit, so a hostile server
/// sending gigabytes costs us `limit` bytes of memory and the time to read them, no more.
/// `Err` carries how much was read when the body is larger than the limit.
pub async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, ReadError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(ReadError::TooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ReadError::Http(e.into()))?
    {
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads the first `limit` bytes of `response`'s body and drops the rest unread (the
/// connection is closed): enough for a web page's `<head>`.
pub async fn read_prefix(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == limit {
            break;
        }
    }
    Ok(body)
}

/// Fetches `url` as JSON with `client` (the signing fetcher), reading at most [`JSON_LIMIT`]
/// bytes.
pub async fn get_json(
    client: &ClientWithMiddleware,
    url: Url,
) -> Result<serde_json::Value, ReadError> {
    let response = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(ReadError::Http)?;
    let body = read_limited(response, JSON_LIMIT).await?;
    serde_json::from_slice(&body).map_err(ReadError::Json)
}

/// Why a bounded read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The body was larger than the limit (the limit, in bytes).
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    /// The request or the body's transfer failed.
    #[error("{0}")]
    Http(reqwest_middleware::Error),
    /// The body is not JSON.
    #[error("not JSON: {0}")]
    Json(serde_json::Error),
}
