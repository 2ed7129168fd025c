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
//! On PostgreSQL a batch that is only Likes (or only clicks) is one set statement, and runs
//! without a transaction around it: one round trip, answered after its commit, instead of
//! `BEGIN; SAVEPOINT`, the statement and `COMMIT` (three round trips, each of them time every
//! request of the batch waits; docs/benchmarks.md, "fourth pass").
//!
//! Only work that must see the database under the write lock belongs in a job: callers parse
//! their input and verify signatures before they submit one. What a hot job must check in the
//! database (the click's bearer token, the Like's thing and its peer's block) is a condition of
//! its own statement, not a read before it (docs/architecture.md, "No read before the write").

use std::sync::Arc;

use sqlx::AnyPool;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::flattrs::{FlattrRow, NewClick};
use super::received_likes::{Outcome, Received};
use super::sqlite_writer::SqliteWriter;
use super::{Backend, StoreError, Tx};

mod jobs;

pub use jobs::JobFuture;
use jobs::{Answer, Batch, Job, Queued, SetWrite, job_of, savepoint, units};

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
        let size = queued.len();
        let started = std::time::Instant::now();
        let result = match units(backend, queued) {
            Batch::Jobs(jobs) => commit_batch(&pool, backend, jobs).await,
            Batch::Alone(set) => alone(&pool, backend, set).await,
        };
        tracing::debug!(
            jobs = size,
            micros = started.elapsed().as_micros() as u64,
            ok = result.is_ok(),
            "batch"
        );
        let answers = match result {
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

/// Runs a batch that is one set statement on a connection of its own, outside a transaction
/// ([`Batch::Alone`]); should the statement fail, the same writes run as a transaction's job.
async fn alone(
    pool: &AnyPool,
    backend: Backend,
    set: SetWrite,
) -> Result<Vec<Answer>, (Vec<Answer>, String)> {
    let mut db = match pool.acquire().await {
        Ok(db) => db,
        // No connection now: the transaction path waits for one, or fails and says so.
        Err(_) => return commit_batch(pool, backend, vec![set.into_job()]).await,
    };
    match set.alone(&mut db).await {
        Ok(answers) => Ok(answers),
        Err(set) => {
            drop(db);
            commit_batch(pool, backend, vec![set.into_job()]).await
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
    // The transaction and the first job's savepoint in one round trip (sent as one simple
    // query): on PostgreSQL every round trip of a batch is time every request in it waits.
    let begun = match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE; SAVEPOINT job").await,
        Backend::Postgres => pool.begin_with("BEGIN; SAVEPOINT job").await,
    };
    let mut tx = match begun {
        Ok(tx) => tx,
        Err(e) => return Err(fail_rest((answers, e.to_string()), batch)),
    };
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
