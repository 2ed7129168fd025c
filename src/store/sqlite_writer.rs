//! The SQLite group-commit writer for the hot writes whose shape it knows (a click on a local
//! thing, a received Like): a thread of its own with its own connection to the database file,
//! which runs a whole batch — `BEGIN IMMEDIATE`, every job in a savepoint, `COMMIT` — through
//! rusqlite without leaving the thread.
//!
//! Why: sqlx's SQLite driver runs each connection on a worker thread and sends it every
//! statement as a message, then wakes the caller with the answer. A job of a few statements
//! paid several thread hand-offs, serially, and under load each hand-off waits for a CPU: the
//! profile of the clicks showed the server waiting, not computing (docs/benchmarks.md). Here a
//! statement is a function call; the only hand-offs left are one per request (the job in, the
//! answer out after the commit).
//!
//! The connection is the same file's (WAL, `synchronous = FULL`, foreign keys, the same busy
//! timeout as the pool), so durability is the pool's: every answer is sent after its batch's
//! `COMMIT` returned, and a batch that fails to commit answers every job with the error (none
//! of it was written). A job that fails is rolled back to its savepoint alone. rusqlite links
//! the same libsqlite3-sys as sqlx, so the process has one SQLite.
//!
//! The writer does not checkpoint the log itself; a second thread does, beside it
//! (`Checkpointer`), so that no batch waits for a checkpoint.
//!
//! Other writes (the generic jobs of `store::writer`, every other transaction) take SQLite's
//! write lock from the pool's connections as before and wait for it with the busy timeout.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

use super::flattrs::{self, FlattrRow, NewClick};
use super::received_likes::{self, Outcome, Received};

/// The most jobs one transaction carries (as `store::writer`).
const MAX_BATCH: usize = 256;

/// How long a batch waits for SQLite's write lock held by another connection (the pool's).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A job and where its answer goes. Errors travel as text: the database's message.
enum Job {
    Click(NewClick, oneshot::Sender<Result<Option<FlattrRow>, String>>),
    Like(Received, oneshot::Sender<Result<Outcome, String>>),
}

/// A job's answer, held until the batch's commit is known.
enum Answer {
    Click(
        Result<Option<FlattrRow>, String>,
        oneshot::Sender<Result<Option<FlattrRow>, String>>,
    ),
    Like(
        Result<Outcome, String>,
        oneshot::Sender<Result<Outcome, String>>,
    ),
}

impl Answer {
    /// Sends the job's result, or the commit's error in its place.
    fn send(self, commit: &Result<(), String>) {
        // A caller that went away (a client that hung up) is not told.
        match self {
            Answer::Click(result, to) => {
                let _ = to.send(commit.clone().and(result));
            }
            Answer::Like(result, to) => {
                let _ = to.send(commit.clone().and(result));
            }
        }
    }
}

/// The handle that submits jobs to the writer thread; cheap to clone. The thread ends when
/// every handle is dropped.
#[derive(Clone)]
pub(super) struct SqliteWriter {
    jobs: mpsc::UnboundedSender<Job>,
}

impl SqliteWriter {
    /// Opens a connection to the database file at `path` and starts the thread that owns it.
    pub(super) fn start(path: &Path) -> Result<SqliteWriter, String> {
        let connection = open(path).map_err(|e| e.to_string())?;
        // The writer does not checkpoint: a checkpoint copies the log back into the database
        // and flushes it, tens of milliseconds that the batch committing when the log reached
        // its limit (SQLite's automatic checkpoint) would add to every request in it. A
        // thread of its own checkpoints instead, told by the writer (see `Checkpointer`).
        connection
            .pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(|e| e.to_string())?;
        let checkpointer = Checkpointer::start(open(path).map_err(|e| e.to_string())?)?;
        let (jobs, receiver) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(connection, receiver, checkpointer))
            .map_err(|e| e.to_string())?;
        Ok(SqliteWriter { jobs })
    }

    /// Records `click` if Flattr's rules allow it (`flattrs::CLICK`); returns after the commit.
    pub(super) async fn click(&self, click: NewClick) -> Result<Option<FlattrRow>, String> {
        let (answer, result) = oneshot::channel();
        self.submit(Job::Click(click, answer))?;
        result.await.map_err(|_| stopped())?
    }

    /// Records a received Like (`received_likes::receive`); returns after the commit.
    pub(super) async fn like(&self, like: Received) -> Result<Outcome, String> {
        let (answer, result) = oneshot::channel();
        self.submit(Job::Like(like, answer))?;
        result.await.map_err(|_| stopped())?
    }

    fn submit(&self, job: Job) -> Result<(), String> {
        self.jobs.send(job).map_err(|_| stopped())
    }
}

/// The writer's connection, set as the pool's connections are (`store::Store::open`): WAL so
/// that readers work while a batch commits, FULL so that every acknowledged write survives a
/// power cut.
fn open(path: &Path) -> Result<Connection, rusqlite::Error> {
    let connection = Connection::open(path)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    Ok(connection)
}

/// What a caller is told when its job never ran: the writer stopped, or the transaction of
/// its batch failed before it (nothing of it was written either way).
fn stopped() -> String {
    "the write did not run: its batch failed or the writer stopped".into()
}

/// The thread: takes the first waiting job, then every other one waiting (up to
/// [`MAX_BATCH`]), runs them in one transaction and answers them after its commit.
fn run(
    mut connection: Connection,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    mut checkpointer: Checkpointer,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = jobs.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (answers, commit) = commit_batch(&mut connection, &mut batch);
        if let Err(error) = &commit {
            tracing::error!(%error, "a batch of writes failed");
        }
        for answer in answers {
            answer.send(&commit);
        }
        checkpointer.committed();
    }
}

/// How often at most the writer asks for a checkpoint while it commits: SQLite's automatic
/// checkpoint comes every 1 000 pages of log, which the hot writes fill in about a second.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// A thread with a connection of its own that runs `PRAGMA wal_checkpoint(PASSIVE)` when the
/// writer asks. A passive checkpoint never waits for the writer nor blocks it (WAL lets a
/// checkpoint run beside a write), so the log is copied back while batches keep committing.
/// The thread ends with the writer.
struct Checkpointer {
    wake: std::sync::mpsc::SyncSender<()>,
    last: std::time::Instant,
}

impl Checkpointer {
    fn start(connection: Connection) -> Result<Checkpointer, String> {
        // One request waiting is enough: a checkpoint copies whatever the log holds by then.
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while woken.recv().is_ok() {
                    if let Err(error) =
                        connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(%error, "a checkpoint of the SQLite log failed");
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(Checkpointer {
            wake,
            last: std::time::Instant::now(),
        })
    }

    /// A batch committed: asks for a checkpoint when none was asked for lately.
    fn committed(&mut self) {
        if self.last.elapsed() >= CHECKPOINT_EVERY {
            self.last = std::time::Instant::now();
            // Full: a checkpoint is asked for already.
            let _ = self.wake.try_send(());
        }
    }
}

/// Runs `batch` (emptied) in one transaction. Returns the answers of the jobs that ran and how
/// the commit went; the jobs that never ran (the transaction failed before them) are dropped,
/// which tells their callers that nothing of them was written.
fn commit_batch(
    connection: &mut Connection,
    batch: &mut Vec<Job>,
) -> (Vec<Answer>, Result<(), String>) {
    let mut answers = Vec::with_capacity(batch.len());
    let mut tx = match connection.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            batch.clear();
            return (answers, Err(e.to_string()));
        }
    };
    for job in batch.drain(..) {
        let (answer, failed) = run_job(&mut tx, job);
        answers.push(answer);
        if let Some(error) = failed {
            return (answers, Err(error));
        }
    }
    let commit = tx.commit().map_err(|e| e.to_string());
    (answers, commit)
}

/// Runs one job in a savepoint: released when the job succeeded, rolled back when it failed
/// or refused (a Like refused as `flattr_once` leaves its id unseen). With the job's answer,
/// the error of the savepoint itself when it failed, which fails the batch.
fn run_job(tx: &mut Transaction<'_>, job: Job) -> (Answer, Option<String>) {
    let savepoint = match tx.savepoint() {
        Ok(savepoint) => savepoint,
        Err(e) => {
            let error = e.to_string();
            let answer = match job {
                Job::Click(_, to) => Answer::Click(Err(error.clone()), to),
                Job::Like(_, to) => Answer::Like(Err(error.clone()), to),
            };
            return (answer, Some(error));
        }
    };
    let (answer, keep) = match job {
        Job::Click(click, to) => {
            let result = click_in(&savepoint, &click).map_err(|e| e.to_string());
            let keep = matches!(result, Ok(Some(_)));
            (Answer::Click(result, to), keep)
        }
        Job::Like(like, to) => {
            let result = like_in(&savepoint, &like).map_err(|e| e.to_string());
            let keep = result == Ok(Outcome::Recorded);
            (Answer::Like(result, to), keep)
        }
    };
    // Dropped unreleased, a savepoint rolls back (rusqlite's default): `finish` does that.
    let end = if keep {
        savepoint.commit()
    } else {
        savepoint.finish()
    };
    (answer, end.err().map(|e| e.to_string()))
}

/// `flattrs::click` on this connection.
fn click_in(db: &Connection, click: &NewClick) -> rusqlite::Result<Option<FlattrRow>> {
    let id: Option<i64> = db
        .prepare_cached(flattrs::CLICK)?
        .query_row(click.params(), |row| row.get(0))
        .optional()?;
    let Some(id) = id else {
        return Ok(None);
    };
    db.prepare_cached(flattrs::SELECT_BY_ID)?
        .query_row([id], |row| {
            Ok(FlattrRow {
                id: row.get(0)?,
                public_id: row.get(1)?,
                user_id: row.get(2)?,
                thing_id: row.get(3)?,
                thing_url: row.get(4)?,
                thing_title: row.get(5)?,
                period: row.get(6)?,
                subscription_id: row.get(7)?,
                charged: row.get(8)?,
                thing_ap_id: row.get(9)?,
                created_at: row.get(10)?,
            })
        })
        .map(Some)
}

/// `received_likes::receive` on this connection.
fn like_in(db: &Connection, like: &Received) -> rusqlite::Result<Outcome> {
    let seen: Option<String> = db
        .prepare_cached(received_likes::SEEN)?
        .query_row(
            params![
                like.activity_id,
                like.actor,
                like.received_at,
                like.thing_id,
                like.peer
            ],
            |row| row.get(0),
        )
        .optional()?;
    if seen.is_none() {
        let (thing_ours, blocked) = db
            .prepare_cached(received_likes::WHY_NOT)?
            .query_row(params![like.thing_id, like.peer], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?;
        return Ok(received_likes::why_not(thing_ours, blocked));
    }
    let inserted = db.prepare_cached(received_likes::RECORD)?.execute(params![
        like.activity_id,
        like.actor,
        like.received_at,
        like.thing_id,
        like.period,
        like.currency,
        like.digest,
    ])?;
    Ok(if inserted == 1 {
        Outcome::Recorded
    } else {
        Outcome::FlattrOnce
    })
}
