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
//! Only work that must see the database under the write lock belongs in a job: callers parse
//! their input, authenticate and verify signatures before they submit one.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sqlx::AnyPool;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::{Backend, StoreError, Tx};

/// A boxed future borrowing the batch's transaction.
pub type JobFuture<'t, T> = Pin<Box<dyn Future<Output = T> + Send + 't>>;

/// What a job does in the batch's transaction; `true` when it succeeded (its savepoint is
/// released) and the answer to send once the batch's commit is known.
type Job = Box<dyn for<'t> FnOnce(&'t mut Tx) -> JobFuture<'t, (bool, Answer)> + Send>;

/// Sends a job's result to its caller, given how the commit went.
type Answer = Box<dyn FnOnce(Result<(), String>) + Send>;

/// The most jobs one transaction carries: enough to amortise a flush, few enough that the
/// first job of a batch is not kept waiting long.
const MAX_BATCH: usize = 256;

/// How many writer tasks PostgreSQL gets (SQLite: one).
const POSTGRES_WRITERS: usize = 4;

/// The handle that submits jobs to the writer tasks; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::UnboundedSender<Job>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    /// Starts the writer tasks on `pool` (they end when every handle is dropped).
    pub(super) fn start(pool: AnyPool, backend: Backend) -> Writer {
        let (sender, receiver) = mpsc::unbounded_channel::<Job>();
        // The writers take turns at the queue: whoever holds it takes a whole batch.
        let receiver = Arc::new(Mutex::new(receiver));
        let tasks = match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => POSTGRES_WRITERS,
        };
        for _ in 0..tasks {
            tokio::spawn(run(pool.clone(), backend, receiver.clone()));
        }
        Writer { jobs: sender }
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
            .send(boxed)
            .map_err(|_| E::from(StoreError::Batch("the writer has stopped".into())))?;
        result
            .await
            .map_err(|_| E::from(StoreError::Batch("the writer has stopped".into())))?
    }
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
async fn run(pool: AnyPool, backend: Backend, jobs: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>) {
    loop {
        let mut batch = Vec::new();
        {
            let mut queue = jobs.lock().await;
            if queue.recv_many(&mut batch, MAX_BATCH).await == 0 {
                // Every handle is gone: the store was dropped.
                return;
            }
        }
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
    let mut jobs = batch.into_iter();
    while let Some(job) = jobs.next() {
        if let Err(e) = savepoint(&mut tx, "SAVEPOINT job").await {
            return Err(fail_rest((answers, e.to_string()), jobs.collect()));
        }
        let (ok, answer) = job(&mut tx).await;
        answers.push(answer);
        let end = if ok {
            savepoint(&mut tx, "RELEASE SAVEPOINT job").await
        } else {
            match savepoint(&mut tx, "ROLLBACK TO SAVEPOINT job").await {
                Ok(()) => savepoint(&mut tx, "RELEASE SAVEPOINT job").await,
                Err(e) => Err(e),
            }
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

async fn savepoint(tx: &mut Tx, statement: &'static str) -> Result<(), sqlx::Error> {
    sqlx::query(statement).execute(&mut **tx).await.map(|_| ())
}
