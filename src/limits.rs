//! What a flood can cost: password hashing and key generation run a few at a time (about one
//! per core; the rest wait briefly, then are told to come back), and rate limits per client
//! address (log-in, sign-up) and per origin (inbox deliveries, resolving remote URLs).
//!
//! Without them, 160 parallel wrong-password logins held 160 argon2 computations of 19 MiB
//! each at once (2.9 GB). See docs/security.md for the settings.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Settings;

type Keyed<K> = RateLimiter<K, governor::state::keyed::DefaultKeyedStateStore<K>, DefaultClock>;

/// Keys are forgotten once their limit has fully recovered; past this many the limiter sweeps
/// them, so a flood from many addresses cannot grow the table without end.
const SWEEP_ABOVE: usize = 10_000;

/// Why a request was not served now; either way the client may retry after `retry_after`
/// seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// Every hashing slot stayed busy for the whole wait (503).
    Busy {
        /// Seconds to wait before trying again.
        retry_after: u64,
    },
    /// This client or origin used its quota (429).
    TooMany {
        /// Seconds until the quota allows another request.
        retry_after: u64,
    },
}

/// A rate limit per key: `per_minute` requests, all of which may come at once.
pub struct Limiter<K: Hash + Eq + Clone> {
    limiter: Option<Keyed<K>>,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// `0` turns the limit off.
    fn per_minute(per_minute: u32) -> Self {
        Limiter {
            limiter: NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
        }
    }

    fn per_hour(per_hour: u32) -> Self {
        Limiter {
            limiter: NonZeroU32::new(per_hour).map(|n| RateLimiter::keyed(Quota::per_hour(n))),
        }
    }

    /// Counts one request of `key`; refuses it when the key's quota is used up.
    pub fn check(&self, key: &K) -> Result<(), Limited> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if limiter.len() > SWEEP_ABOVE {
            limiter.retain_recent();
        }
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Limited::TooMany {
                retry_after: wait.as_secs() + 1,
            }
        })
    }
}

/// One piece of heavy work, sent to the hashing threads.
type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads that run the heavy work, fed by a bounded channel.
///
/// Why not `spawn_blocking`: each thread hashes in its own argon2 memory block (19 MiB), kept
/// from its first hash to its end (see `domain::password`), so that no hash allocates and frees
/// 19 MiB — glibc kept such freed buffers resident, 151 MB after a 200-connection log-in flood.
/// Tokio's blocking threads come and go, each would allocate its own block; these threads live
/// as long as the instance, so exactly `slots` blocks exist at most.
struct HashPool {
    jobs: std::sync::mpsc::SyncSender<Job>,
}

impl HashPool {
    /// Starts `threads` threads; they end when the pool is dropped.
    fn start(threads: usize) -> HashPool {
        // The semaphore lets at most `threads` jobs exist at once, so this capacity is never
        // reached; a full channel is answered as busy all the same.
        let (jobs, receiver) = std::sync::mpsc::sync_channel::<Job>(threads);
        let receiver = Arc::new(std::sync::Mutex::new(receiver));
        for n in 0..threads {
            let receiver = receiver.clone();
            let started = std::thread::Builder::new()
                .name(format!("fedflattr-hash-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job, never while one
                        // runs; a closed channel (the pool was dropped) ends the thread.
                        let job = match receiver.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        // A panicking job answers its caller as busy (its result sender is
                        // dropped) and must not take the thread with it.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                });
            if let Err(e) = started {
                // Fewer threads only means less concurrency; with none, every job waits for
                // its slot's timeout and is answered busy.
                tracing::error!(error = %e, "cannot start a hashing thread");
            }
        }
        HashPool { jobs }
    }
}

/// The limits of one running instance, shared by every request.
pub struct Limits {
    heavy: Arc<Semaphore>,
    pool: HashPool,
    slots: u32,
    heavy_wait: Duration,
    /// Log-in attempts per client address.
    pub login: Limiter<IpAddr>,
    /// Sign-ups per client address.
    pub sign_up: Limiter<IpAddr>,
    /// Inbox deliveries per sending origin.
    pub inbox: Limiter<String>,
    /// Remote URLs resolved per origin.
    pub resolve: Limiter<String>,
}

impl Limits {
    /// The hashing bound and the rate limits as the settings configure them.
    pub fn new(settings: &Settings) -> Limits {
        let slots = match settings.hash_concurrency {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        // More slots than this would only mean more memory in use at once.
        let slots = u32::try_from(slots.min(1024)).unwrap_or(1024);
        Limits {
            heavy: Arc::new(Semaphore::new(slots as usize)),
            pool: HashPool::start(slots as usize),
            slots,
            heavy_wait: Duration::from_millis(settings.hash_wait_ms),
            login: Limiter::per_minute(settings.login_per_minute),
            sign_up: Limiter::per_hour(settings.signups_per_hour),
            inbox: Limiter::per_minute(settings.inbox_per_minute),
            resolve: Limiter::per_minute(settings.resolve_per_minute),
        }
    }

    /// Runs CPU- and memory-heavy `work` (argon2, RSA key generation) on one of the instance's
    /// hashing threads once one of the slots is free; gives up with [`Limited::Busy`] when none
    /// frees up within the configured wait. There is one thread per slot and each hashes in
    /// one argon2 block of its own (19 MiB), so memory is bounded by the number of slots, not
    /// by the number of requests.
    pub async fn heavy<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Limited> {
        let busy = Limited::Busy {
            retry_after: self.heavy_wait.as_secs().max(1),
        };
        let permit =
            match tokio::time::timeout(self.heavy_wait, self.heavy.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                _ => return Err(busy),
            };
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // The slot is free again only once the work is done.
            let _permit = permit;
            let _ = answer.send(work());
        });
        self.pool.jobs.try_send(job).map_err(|_| busy)?;
        answered.await.map_err(|_| busy)
    }

    /// Takes every slot and holds them until the returned permit is dropped: what a flood
    /// does, for tests that need the slots busy without racing one.
    pub async fn occupy_all_slots(&self) -> OwnedSemaphorePermit {
        self.heavy
            .clone()
            .acquire_many_owned(self.slots)
            .await
            .expect("the semaphore is never closed")
    }
}
