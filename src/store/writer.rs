//! Group commit: the hot writes (a received Like, a flattr click) go through writer tasks
//! that run many requests' writes in one transaction and answer each request only after that
//! transaction committed.
//!
//! Why: with `synchronous = FULL` every SQLite commit waits for an `fsync`, and SQLite has one
//! writer at a time, so one transaction per request caps the inbox and the clicks at the
//! disk's flush rate, and requests queue for the write lock (the p99 of a click was 733 ms).
//! One writer task that takes whatever jobs are waiting and commits them together pays one
//! flush for all of them.
//!
//! Each job runs inside a savepoint of the batch's transaction, so a job that fails (a
//! refusal such as `flattr_once`, or a statement error, which would otherwise abort the whole
//! transaction on PostgreSQL) leaves nothing behind and does not disturb the others: every
//! job sees exactly what it would have seen alone, with the jobs before it committed. A job's
//! answer is sent only after the commit; when the commit fails, every job of the batch gets
//! the error (nothing of it was written).
//!
//! SQLite has one writer task (it has one write lock anyway); PostgreSQL has several, each
//! committing its own batches, so round trips to the server overlap.
//!
//! Two kinds of job: a closure over the batch's transaction ([`Writer::write`], any write),
//! and the two hot writes the writer knows by shape, a click on a local thing
//! ([`Writer::click`]) and a received Like ([`Writer::receive_like`]), each a statement or two
//! with Flattr's checks folded into the insert. On a SQLite file those run on a thread of
//! their own through rusqlite (`store::sqlite_writer`: no thread hand-off per statement); on
//! PostgreSQL (and an in-memory SQLite) they are closures like the rest.
//!
//! Between two jobs the writer pays one round trip (`RELEASE SAVEPOINT job; SAVEPOINT job`,
//! or `ROLLBACK TO SAVEPOINT job`, which keeps the savepoint for the next job), not two.
//!
//! Only work that must see the database under the write lock belongs in a job: callers parse
//! their input, authenticate and verify signatures before they submit one.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sqlx::AnyPool;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::flattrs::{self, FlattrRow, NewClick};
use super::received_likes::{self, Outcome, Received};
use super::sqlite_writer::SqliteWriter;
use super::{Backend, StoreError, Tx};

/// A boxed future borrowing the batch's transaction.
pub type JobFuture<'t, T> = Pin<Box<dyn Future<Output = T> + Send + 't>>;

/// What a job does in the batch's transaction; `true` when it succeeded (its savepoint is
/// released) and the answer to send once the batch's commit is known.
type Job = Box<dyn for<'t> FnOnce(&'t mut Tx) -> JobFuture<'t, (bool, Answer)> + Send>;

/// Sends a job's result to its caller, given how the commit went.
type Answer = Box<dyn FnOnce(Result<(), String>) + Send>;

/// What waits in the writers' queue: any write, or one of the two the writer knows by shape,
/// which PostgreSQL runs set-based (a statement for all the batch's clicks, one for all its
/// Likes) and an in-memory SQLite one by one.
enum Queued {
    Job(Job),
    Click(NewClick, ClickTo),
    Like(Received, LikeTo),
}

/// Where a click's result goes.
type ClickTo = oneshot::Sender<Result<Option<FlattrRow>, StoreError>>;

/// Where a received Like's outcome goes.
type LikeTo = oneshot::Sender<Result<Outcome, StoreError>>;

/// The most jobs one transaction carries: enough to amortise a flush, few enough that the
/// first job of a batch is not kept waiting long.
const MAX_BATCH: usize = 256;

/// How many writer tasks PostgreSQL gets (SQLite: one).
const POSTGRES_WRITERS: usize = 4;

/// The handle that submits jobs to the writer tasks; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::UnboundedSender<Queued>,
    /// The thread that runs the known jobs on a SQLite file.
    sqlite: Option<SqliteWriter>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    /// Starts the writer tasks on `pool` (they end when every handle is dropped), with the
    /// thread for the known jobs on a SQLite file when there is one.
    pub(super) fn start(pool: AnyPool, backend: Backend, sqlite: Option<SqliteWriter>) -> Writer {
        let (sender, receiver) = mpsc::unbounded_channel::<Queued>();
        // The writers take turns at the queue: whoever holds it takes a whole batch.
        let receiver = Arc::new(Mutex::new(receiver));
        let tasks = match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => POSTGRES_WRITERS,
        };
        for _ in 0..tasks {
            tokio::spawn(run(pool.clone(), backend, receiver.clone()));
        }
        Writer {
            jobs: sender,
            sqlite,
        }
    }

    /// Records `click` if Flattr's rules allow it, in one statement (`flattrs::CLICK`), and
    /// returns once its batch committed; `None` when nothing was recorded (the caller takes
    /// the full path, which says why).
    pub async fn click(&self, click: NewClick) -> Result<Option<FlattrRow>, StoreError> {
        if let Some(sqlite) = &self.sqlite {
            return sqlite.click(click).await.map_err(StoreError::Batch);
        }
        let (answer, result) = oneshot::channel();
        self.jobs
            .send(Queued::Click(click, answer))
            .map_err(|_| stopped())?;
        result.await.map_err(|_| stopped())?
    }

    /// Records a received Like and its id as seen (`received_likes::receive`), and returns
    /// once its batch committed. On [`Outcome::FlattrOnce`] nothing was written.
    pub async fn receive_like(&self, like: Received) -> Result<Outcome, StoreError> {
        if let Some(sqlite) = &self.sqlite {
            return sqlite.like(like).await.map_err(StoreError::Batch);
        }
        let (answer, result) = oneshot::channel();
        self.jobs
            .send(Queued::Like(like, answer))
            .map_err(|_| stopped())?;
        result.await.map_err(|_| stopped())?
    }

    /// Runs `job` in a batch's transaction and returns its result once that transaction
    /// committed. An `Err` of the job leaves nothing of it in the database.
    pub async fn write<T, E, F>(&self, job: F) -> Result<T, E>
    where
        F: for<'t> FnOnce(&'t mut Tx) -> JobFuture<'t, Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (answer, result) = oneshot::channel::<Result<T, E>>();
        let boxed: Job = Box::new(job_of(move |tx: &mut Tx| {
            Box::pin(async move {
                let outcome = job(tx).await;
                let ok = outcome.is_ok();
                let send: Answer = Box::new(move |commit: Result<(), String>| {
                    let result = match (outcome, commit) {
                        (Ok(value), Ok(())) => Ok(value),
                        (Ok(_), Err(error)) => Err(E::from(StoreError::Batch(error))),
                        (Err(error), _) => Err(error),
                    };
                    // The caller may have gone (a client that hung up): nothing to tell.
                    let _ = answer.send(result);
                });
                (ok, send)
            })
        }));
        self.jobs
            .send(Queued::Job(boxed))
            .map_err(|_| E::from(stopped()))?;
        result.await.map_err(|_| E::from(stopped()))?
    }
}

/// What a caller is told when its job never ran (the writer stopped, or the transaction of
/// its batch failed before it): nothing of it was written.
fn stopped() -> StoreError {
    StoreError::Batch("the write did not run: its batch failed or the writer stopped".into())
}

/// Gives a closure the higher-ranked signature of a [`Job`] (inference cannot see it through
/// `Box::new`).
fn job_of<F>(f: F) -> F
where
    F: for<'t> FnOnce(&'t mut Tx) -> JobFuture<'t, (bool, Answer)> + Send,
{
    f
}

/// One writer task: takes the first waiting job, then every other one waiting (up to
/// [`MAX_BATCH`]), runs them in one transaction and answers them after its commit.
async fn run(pool: AnyPool, backend: Backend, jobs: Arc<Mutex<mpsc::UnboundedReceiver<Queued>>>) {
    loop {
        let mut queued = Vec::new();
        {
            let mut queue = jobs.lock().await;
            if queue.recv_many(&mut queued, MAX_BATCH).await == 0 {
                // Every handle is gone: the store was dropped.
                return;
            }
        }
        let batch = units(backend, queued);
        let answers = match commit_batch(&pool, backend, batch).await {
            Ok(answers) => answers.into_iter().map(|a| (a, Ok(()))).collect(),
            Err((answers, error)) => {
                tracing::error!(%error, "a batch of writes failed");
                answers
                    .into_iter()
                    .map(|a| (a, Err(error.clone())))
                    .collect::<Vec<_>>()
            }
        };
        for (answer, commit) in answers {
            answer(commit);
        }
    }
}

/// Runs `batch` in one transaction, each job in its own savepoint. On failure, returns the
/// answers of the jobs that ran, with the error; the jobs that did not run are dropped, which
/// tells their callers the same.
async fn commit_batch(
    pool: &AnyPool,
    backend: Backend,
    batch: Vec<Job>,
) -> Result<Vec<Answer>, (Vec<Answer>, String)> {
    let mut answers = Vec::with_capacity(batch.len());
    let begun = match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => pool.begin().await,
    };
    let mut tx = match begun {
        Ok(tx) => tx,
        Err(e) => return Err(fail_rest((Vec::new(), e.to_string()), batch)),
    };
    if let Err(e) = savepoint(&mut tx, "SAVEPOINT job").await {
        return Err(fail_rest((answers, e.to_string()), batch));
    }
    let mut jobs = batch.into_iter().peekable();
    while let Some(job) = jobs.next() {
        let (ok, answer) = job(&mut tx).await;
        answers.push(answer);
        // One round trip between two jobs. A failed job's changes are undone and its savepoint
        // stays for the next job; a successful one's are kept and a new savepoint begins. The
        // last job's savepoint is committed with the transaction.
        let last = jobs.peek().is_none();
        let end = match (ok, last) {
            (true, true) => Ok(()),
            (true, false) => savepoint(&mut tx, "RELEASE SAVEPOINT job; SAVEPOINT job").await,
            (false, _) => savepoint(&mut tx, "ROLLBACK TO SAVEPOINT job").await,
        };
        if let Err(e) = end {
            return Err(fail_rest((answers, e.to_string()), jobs.collect()));
        }
    }
    match tx.commit().await {
        Ok(()) => Ok(answers),
        Err(e) => Err((answers, e.to_string())),
    }
}

/// Answers the jobs that never ran with the batch's error, and passes the rest on.
fn fail_rest((answers, error): (Vec<Answer>, String), rest: Vec<Job>) -> (Vec<Answer>, String) {
    // Dropping a job that never ran drops its answer channel: its caller gets an error and
    // nothing of it was written.
    drop(rest);
    (answers, error)
}

/// Runs savepoint statements, several in one round trip (`raw_sql`: PostgreSQL takes several
/// statements only through its simple query protocol).
async fn savepoint(tx: &mut Tx, statements: &'static str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(statements)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Turns what was queued into the batch's jobs. On PostgreSQL the clicks become one job (one
/// statement for all of them, `flattrs::click_many`) and so do the Likes
/// (`received_likes::receive_many`; a Like whose id is already in the batch runs on its own
/// after, so that it sees the first as seen). Elsewhere each is a job of its own.
fn units(backend: Backend, queued: Vec<Queued>) -> Vec<Job> {
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
    if !clicks.is_empty() {
        jobs.push(clicks_job(clicks));
    }
    if !likes.is_empty() {
        jobs.push(likes_job(likes));
    }
    jobs.extend(again);
    jobs
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
