//! Sending a claimed batch: each signer's key parsed once per run, Likes concurrently (a
//! bounded number per inbox host), every other activity one by one in queue order.

use std::collections::HashMap;
use std::sync::Arc;

use url::Url;

use super::claim::Claimed;
use crate::federation::actors::{instance_keys, instance_url, user_url};
use crate::federation::client::guard;
use crate::federation::signing::PostSigner;
use crate::state::AppState;
use crate::store::{StoreError, users};

/// The most sends in flight to one host.
const PER_HOST: usize = 8;

/// Each signer's key, parsed once per run (`None`: the instance actor).
#[derive(Default)]
pub(super) struct Signers {
    keys: HashMap<Option<i64>, Result<Arc<PostSigner>, String>>,
}

impl Signers {
    /// Parses `user_id`'s key unless it was parsed already in this run.
    pub(super) async fn prepare(&mut self, state: &AppState, user_id: Option<i64>) {
        if self.keys.contains_key(&user_id) {
            return;
        }
        let signer = match signer(state, user_id).await {
            Ok((actor, key)) => PostSigner::new(&actor, &key)
                .map(Arc::new)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        self.keys.insert(user_id, signer);
    }

    fn get(&self, user_id: Option<i64>) -> Result<Arc<PostSigner>, String> {
        self.keys
            .get(&user_id)
            .cloned()
            .unwrap_or_else(|| Err("no signer".to_owned()))
    }
}

/// What an attempt got: the status code, or the error when there was no answer.
pub(super) type Attempted = (Option<u16>, Option<String>);

/// Sends the batch `rows` (Likes concurrently, then the rest in order) and returns each
/// row's result, in the order of `rows`.
pub(super) async fn send_batch(
    state: &AppState,
    rows: &[Claimed],
    signers: &Signers,
) -> Vec<Attempted> {
    let mut results: Vec<Option<Attempted>> = vec![None; rows.len()];
    let mut hosts: HashMap<String, Arc<tokio::sync::Semaphore>> = HashMap::new();
    let mut likes = tokio::task::JoinSet::new();
    for (index, row) in rows.iter().enumerate() {
        if !is_like(&row.body) {
            continue;
        }
        let host = Url::parse(&row.inbox)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let slots = hosts
            .entry(host)
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(PER_HOST)))
            .clone();
        let (state, row, signer) = (state.clone(), row.clone(), signers.get(row.signer_user_id));
        likes.spawn(async move {
            let _slot = slots.acquire_owned().await;
            (index, attempt(&state, &row, signer).await)
        });
    }
    while let Some(done) = likes.join_next().await {
        match done {
            Ok((index, result)) => results[index] = Some(result),
            Err(e) => tracing::error!(error = %e, "a delivery task failed"),
        }
    }
    for (index, row) in rows.iter().enumerate() {
        if results[index].is_none() && !is_like(&row.body) {
            results[index] = Some(attempt(state, row, signers.get(row.signer_user_id)).await);
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or((None, Some("the send did not finish".to_owned()))))
        .collect()
}

/// True for a `Like`: Likes do not depend on one another, so they may go out concurrently.
fn is_like(body: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Kind {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_str::<Kind>(body).is_ok_and(|k| k.kind == "Like")
}

/// One signed POST; the status code, or the error when there was no answer.
async fn attempt(
    state: &AppState,
    row: &Claimed,
    signer: Result<Arc<PostSigner>, String>,
) -> Attempted {
    let inbox = match Url::parse(&row.inbox) {
        Ok(inbox) => inbox,
        Err(e) => return (None, Some(format!("bad inbox URL: {e}"))),
    };
    if let Err(e) = guard(&state.settings, &inbox).await {
        return (None, Some(e.to_string()));
    }
    let signer = match signer {
        Ok(signer) => signer,
        Err(e) => return (None, Some(e)),
    };
    let request = match signer.sign(&state.client, &inbox, row.body.clone()) {
        Ok(request) => request,
        Err(e) => return (None, Some(e.to_string())),
    };
    match state.client.execute(request).await {
        Ok(response) => (Some(response.status().as_u16()), None),
        Err(e) => (None, Some(e.to_string())),
    }
}

async fn signer(state: &AppState, user_id: Option<i64>) -> Result<(Url, String), StoreError> {
    match user_id {
        Some(id) => {
            let user = users::by_id(state.store.pool(), id).await?;
            Ok((user_url(state, &user.username), user.private_key))
        }
        None => Ok((
            instance_url(state),
            instance_keys(&state.store).await?.private_key,
        )),
    }
}
