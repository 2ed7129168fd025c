//! The writer's jobs: what a job is (a closure over the batch's transaction and the answer it
//! sends once the commit is known), the two hot writes known by shape, and how what was
//! queued becomes a batch's jobs — on PostgreSQL the batch's clicks and its Likes each one
//! set-based statement (`flattrs::click_many`, `received_likes::receive_many`) with a fallback
//! one by one, elsewhere one job each. `store::writer` runs them.

use std::future::Future;
use std::pin::Pin;

use sqlx::AnyConnection;
use tokio::sync::oneshot;

use super::super::flattrs::{self, FlattrRow, NewClick};
use super::super::received_likes::{self, Outcome, Received};
use super::super::{Backend, StoreError, Tx};

/// A boxed future borrowing the batch's transaction.
pub type JobFuture<'t, T> = Pin<Box<dyn Future<Output = T> + Send + 't>>;

/// What a job does in the batch's transaction; `true` when it succeeded (its savepoint is
/// released) and the answer to send once the batch's commit is known.
pub(super) type Job = Box<dyn for<'t> FnOnce(&'t mut Tx) -> JobFuture<'t, (bool, Answer)> + Send>;

/// Sends a job's result to its caller, given how the commit went.
pub(super) type Answer = Box<dyn FnOnce(Result<(), String>) + Send>;

/// What waits in the writers' queue: any write, or one of the two the writer knows by shape,
/// which PostgreSQL runs set-based (a statement for all the batch's clicks, one for all its
/// Likes) and an in-memory SQLite one by one.
pub(super) enum Queued {
    Job(Job),
    Click(NewClick, ClickTo),
    Like(Received, LikeTo),
}

/// Where a click's result goes.
pub(super) type ClickTo = oneshot::Sender<Result<Option<FlattrRow>, StoreError>>;

/// Where a received Like's outcome goes.
pub(super) type LikeTo = oneshot::Sender<Result<Outcome, StoreError>>;

/// Gives a closure the higher-ranked signature of a [`Job`] (inference cannot see it through
/// `Box::new`).
pub(super) fn job_of<F>(f: F) -> F
where
    F: for<'t> FnOnce(&'t mut Tx) -> JobFuture<'t, (bool, Answer)> + Send,
{
    f
}

/// Runs savepoint statements, several in one round trip (`raw_sql`: PostgreSQL takes several
/// statements only through its simple query protocol).
pub(super) async fn savepoint(tx: &mut Tx, statements: &'static str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(statements)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// What a writer runs for what it took from the queue.
pub(super) enum Batch {
    /// Jobs, each in a savepoint of one transaction.
    Jobs(Vec<Job>),
    /// One set statement and nothing else (PostgreSQL, a batch of only Likes or only clicks):
    /// run without `BEGIN`, `SAVEPOINT` or `COMMIT`, one round trip instead of three. One
    /// statement is atomic, and PostgreSQL answers it only after its commit (flushed, with
    /// `synchronous_commit` on), so each caller is still answered after its write is durable.
    Alone(SetWrite),
}

/// The batch's Likes, or its clicks, for one set statement.
pub(super) enum SetWrite {
    Likes(Vec<(Received, LikeTo)>),
    Clicks(Vec<(NewClick, ClickTo)>),
}

impl SetWrite {
    /// Runs the set statement on its own connection, outside any transaction, and returns
    /// the callers' answers. When it fails (a database error: the statement changed
    /// nothing), the set is given back to run as a job of a transaction, which retries the
    /// statement and falls back to one write at a time.
    pub(super) async fn alone(self, db: &mut AnyConnection) -> Result<Vec<Answer>, SetWrite> {
        match self {
            SetWrite::Likes(likes) => {
                let all: Vec<Received> = likes.iter().map(|(like, _)| like.clone()).collect();
                match received_likes::receive_many(db, &all).await {
                    Ok(outcomes) => Ok(likes
                        .into_iter()
                        .zip(outcomes)
                        .map(|((_, to), outcome)| answer_with(Ok(outcome), to))
                        .collect()),
                    Err(error) => {
                        tracing::warn!(%error, "a set of Likes failed alone; it runs again in a transaction");
                        Err(SetWrite::Likes(likes))
                    }
                }
            }
            SetWrite::Clicks(clicks) => {
                let all: Vec<NewClick> = clicks.iter().map(|(click, _)| click.clone()).collect();
                match flattrs::click_many(db, &all).await {
                    Ok(rows) => Ok(clicks
                        .into_iter()
                        .zip(rows)
                        .map(|((_, to), row)| answer_with(Ok(row), to))
                        .collect()),
                    Err(error) => {
                        tracing::warn!(%error, "a set of clicks failed alone; it runs again in a transaction");
                        Err(SetWrite::Clicks(clicks))
                    }
                }
            }
        }
    }

    /// The same writes as a job of a transaction.
    pub(super) fn into_job(self) -> Job {
        match self {
            SetWrite::Likes(likes) => likes_job(likes),
            SetWrite::Clicks(clicks) => clicks_job(clicks),
        }
    }
}

/// Turns what was queued into what a writer runs. On PostgreSQL the clicks become one set
/// statement (`flattrs::click_many`) and so do the Likes (`received_likes::receive_many`; a
/// Like whose id is already in the batch runs on its own after, so that it sees the first as
/// seen); a batch that is only one such statement runs alone ([`Batch::Alone`]). Elsewhere each
/// is a job of its own.
pub(super) fn units(backend: Backend, queued: Vec<Queued>) -> Batch {
    let mut jobs = Vec::with_capacity(queued.len());
    let mut clicks = Vec::new();
    let mut likes = Vec::new();
    let mut again = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for item in queued {
        match item {
            Queued::Job(job) => jobs.push(job),
            Queued::Click(click, answer) if backend == Backend::Postgres => {
                clicks.push((click, answer));
            }
            Queued::Like(like, answer) if backend == Backend::Postgres => {
                if ids.insert(like.activity_id.clone()) {
                    likes.push((like, answer));
                } else {
                    again.push(like_job(like, answer));
                }
            }
            Queued::Click(click, answer) => jobs.push(click_job(click, answer)),
            Queued::Like(like, answer) => jobs.push(like_job(like, answer)),
        }
    }
    if jobs.is_empty() && again.is_empty() {
        match (clicks.is_empty(), likes.is_empty()) {
            (false, true) => return Batch::Alone(SetWrite::Clicks(clicks)),
            (true, false) => return Batch::Alone(SetWrite::Likes(likes)),
            _ => {}
        }
    }
    if !clicks.is_empty() {
        jobs.push(clicks_job(clicks));
    }
    if !likes.is_empty() {
        jobs.push(likes_job(likes));
    }
    jobs.extend(again);
    Batch::Jobs(jobs)
}

/// The answer that sends `result` to `to`, or the commit's error in its place.
fn answer_with<T: Send + 'static>(
    result: Result<T, StoreError>,
    to: oneshot::Sender<Result<T, StoreError>>,
) -> Answer {
    Box::new(move |commit: Result<(), String>| {
        let result = match commit {
            Ok(()) => result,
            Err(error) => Err(StoreError::Batch(error)),
        };
        // The caller may have gone (a client that hung up): nothing to tell.
        let _ = to.send(result);
    })
}

/// One click as a job of its own.
fn click_job(click: NewClick, to: ClickTo) -> Job {
    Box::new(job_of(move |tx: &mut Tx| {
        Box::pin(async move {
            let result = flattrs::click(tx, &click).await;
            (result.is_ok(), answer_with(result, to))
        })
    }))
}

/// One received Like as a job of its own; refused (`flattr_once`), it fails, so that its
/// savepoint takes its id back.
fn like_job(like: Received, to: LikeTo) -> Job {
    Box::new(job_of(move |tx: &mut Tx| {
        Box::pin(async move {
            let result = received_likes::receive(tx, &like).await;
            let kept = matches!(result, Ok(Outcome::Recorded | Outcome::Seen));
            (kept, answer_with(result, to))
        })
    }))
}

/// All the batch's clicks in one statement. Should it fail (a database error), each click
/// runs again on its own in a savepoint, so that one bad click fails alone.
fn clicks_job(clicks: Vec<(NewClick, ClickTo)>) -> Job {
    Box::new(job_of(move |tx: &mut Tx| {
        Box::pin(async move {
            let all: Vec<NewClick> = clicks.iter().map(|(click, _)| click.clone()).collect();
            let results: Vec<Result<Option<FlattrRow>, StoreError>> =
                match flattrs::click_many(tx, &all).await {
                    Ok(rows) => rows.into_iter().map(Ok).collect(),
                    Err(error) => {
                        tracing::warn!(%error, "a set of clicks failed; each runs on its own");
                        let mut results = Vec::with_capacity(all.len());
                        let retried = one_by_one(tx, all, |tx, click| {
                            Box::pin(async move {
                                let result = flattrs::click(tx, &click).await;
                                let ok = result.is_ok();
                                (ok, result)
                            })
                        });
                        match retried.await {
                            Ok(each) => results.extend(each),
                            Err(error) => return (false, fail_all(clicks, error)),
                        }
                        results
                    }
                };
            let answers: Vec<Answer> = clicks
                .into_iter()
                .zip(results)
                .map(|((_, to), result)| answer_with(result, to))
                .collect();
            (true, fan_out(answers))
        })
    }))
}

/// All the batch's Likes (distinct ids) in one statement, with the same fallback.
fn likes_job(likes: Vec<(Received, LikeTo)>) -> Job {
    Box::new(job_of(move |tx: &mut Tx| {
        Box::pin(async move {
            let all: Vec<Received> = likes.iter().map(|(like, _)| like.clone()).collect();
            let results: Vec<Result<Outcome, StoreError>> =
                match received_likes::receive_many(tx, &all).await {
                    Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
                    Err(error) => {
                        tracing::warn!(%error, "a set of Likes failed; each runs on its own");
                        let retried = one_by_one(tx, all, |tx, like| {
                            Box::pin(async move {
                                let result = received_likes::receive(tx, &like).await;
                                let kept = matches!(result, Ok(Outcome::Recorded | Outcome::Seen));
                                (kept, result)
                            })
                        });
                        match retried.await {
                            Ok(each) => each,
                            Err(error) => return (false, fail_all(likes, error)),
                        }
                    }
                };
            let answers: Vec<Answer> = likes
                .into_iter()
                .zip(results)
                .map(|((_, to), result)| answer_with(result, to))
                .collect();
            (true, fan_out(answers))
        })
    }))
}

/// Runs `run` for each item in a savepoint of its own (nested in the job's), kept when it
/// says so. `Err` when a savepoint statement itself failed.
async fn one_by_one<I, T, F>(
    tx: &mut Tx,
    items: Vec<I>,
    run: F,
) -> Result<Vec<Result<T, StoreError>>, String>
where
    F: for<'t> Fn(&'t mut Tx, I) -> JobFuture<'t, (bool, Result<T, StoreError>)>,
{
    // The set statement failed: its changes go (on PostgreSQL the transaction is unusable
    // until then).
    savepoint(tx, "ROLLBACK TO SAVEPOINT job")
        .await
        .map_err(|e| e.to_string())?;
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        savepoint(tx, "SAVEPOINT one")
            .await
            .map_err(|e| e.to_string())?;
        let (keep, result) = run(tx, item).await;
        let end = if keep {
            "RELEASE SAVEPOINT one"
        } else {
            "ROLLBACK TO SAVEPOINT one; RELEASE SAVEPOINT one"
        };
        savepoint(tx, end).await.map_err(|e| e.to_string())?;
        results.push(result);
    }
    Ok(results)
}

/// Every caller of a set gets `error`.
fn fail_all<I, T: Send + 'static>(
    items: Vec<(I, oneshot::Sender<Result<T, StoreError>>)>,
    error: String,
) -> Answer {
    fan_out(
        items
            .into_iter()
            .map(|(_, to)| answer_with(Err(StoreError::Batch(error.clone())), to))
            .collect(),
    )
}

/// One answer that sends many.
fn fan_out(answers: Vec<Answer>) -> Answer {
    Box::new(move |commit: Result<(), String>| {
        for answer in answers {
            answer(commit.clone());
        }
    })
}
