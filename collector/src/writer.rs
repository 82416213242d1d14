//! The ingest queue: Push handlers hand their rows to writer tasks, which
//! commit them in group transactions and answer each handler once its rows
//! are durable.
//!
//! The queue is bounded by bytes ([`crate::config::Limits::max_inflight_bytes`]):
//! a batch that does not fit is refused at once with [`SubmitError::Busy`]
//! (RESOURCE_EXHAUSTED to the agent, which backs off) instead of being
//! buffered, so memory stays flat under overload. Group commit: a writer
//! takes every batch already waiting (up to `group_commit_rows`) into one
//! transaction, so one durable sync acknowledges many batches.
//!
//! Never acknowledges before the commit returns, and never retries a failed
//! transaction itself: the agents re-send (their records are idempotent).
//!
//! After answering a group the writer lets its store checkpoint (SQLite's
//! WAL; [`RecordWriter::checkpoint`]), told whether batches are waiting, so
//! a checkpoint is never between a batch and its acknowledgement.
//!
//! Each answer says where the batch's time went ([`WriteTiming`]), so the
//! handler can report it (`server-timing`) and the bench can break its
//! acknowledgement latency down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;

use crate::health::StoreHealth;
use crate::store::{Backend, RecordRow, RecordWriter, Store, StoreError};

/// Writer tasks per backend. SQLite has one writer at a time, so more tasks
/// would only queue on its lock; PostgreSQL commits in parallel.
fn writer_tasks(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 1,
        Backend::Postgres => 4,
    }
}

/// Batches that may wait in the channel at once; the byte semaphore is the
/// real bound, this only caps bookkeeping.
const QUEUE_SLOTS: usize = 4096;

type Reply = oneshot::Sender<Result<Stored, WriteFailure>>;

struct Job {
    rows: Vec<RecordRow>,
    reply: Reply,
    permit: OwnedSemaphorePermit,
    queued_at: Instant,
}

/// Where a batch's time in the writer went.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WriteTiming {
    /// Waiting in the queue until a writer took it into a group.
    pub queued: Duration,
    /// The part of `queued` the writer spent checkpointing the WAL.
    pub checkpoint: Duration,
    /// The group's statements, before the commit.
    pub statements: Duration,
    /// The commit: the durable sync.
    pub commit: Duration,
    /// Rows in the group transaction the batch went in with.
    pub group_rows: usize,
}

/// A stored batch: per row whether it was new, and where the time went.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Per row: new (`true`) or already stored.
    pub new: Vec<bool>,
    /// Where the batch's time went.
    pub timing: WriteTiming,
}

/// A group transaction that failed; every batch in it gets a copy.
#[derive(Debug, Clone, thiserror::Error)]
#[error("storing the batch failed: {message}")]
pub struct WriteFailure {
    /// The store's error, in words.
    pub message: String,
    /// Whether the store may work again soon (restarting, busy, unreachable).
    pub transient: bool,
}

impl From<&StoreError> for WriteFailure {
    fn from(e: &StoreError) -> Self {
        WriteFailure {
            message: e.to_string(),
            transient: e.is_transient(),
        }
    }
}

/// Why rows were not stored.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The queue is full; nothing was stored.
    #[error("the collector is busy ({0} bytes of batches waiting); retry with backoff")]
    Busy(usize),
    /// The store failed; nothing of this batch was stored.
    #[error("{0}")]
    Store(#[from] WriteFailure),
    /// The collector is shutting down.
    #[error("the collector is shutting down; retry against another replica or later")]
    Closed,
}

/// The sending side of the ingest queue; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    inflight: Arc<Semaphore>,
    capacity: usize,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("capacity", &self.capacity)
            .field("available", &self.inflight.available_permits())
            .finish()
    }
}

impl Writer {
    /// Starts the writer tasks. They end when every [`Writer`] clone is
    /// dropped and the queue is empty; `tasks` resolves then. A failed
    /// checkpoint is told to `health` (a failed commit reaches it through
    /// the handler that hears of it).
    pub fn start(
        store: Store,
        max_inflight_bytes: usize,
        group_commit_rows: usize,
        health: Arc<StoreHealth>,
    ) -> (Writer, JoinSet<()>) {
        let (tx, rx) = mpsc::channel::<Job>(QUEUE_SLOTS);
        let rx = Arc::new(Mutex::new(rx));
        let mut tasks = JoinSet::new();
        for _ in 0..writer_tasks(store.backend()) {
            let rx = Arc::clone(&rx);
            let store = store.clone();
            let health = Arc::clone(&health);
            tasks.spawn(async move { write_loop(store, rx, group_commit_rows, &health).await });
        }
        let capacity = max_inflight_bytes.min(Semaphore::MAX_PERMITS);
        let writer = Writer {
            tx,
            inflight: Arc::new(Semaphore::new(capacity)),
            capacity,
        };
        (writer, tasks)
    }

    /// Queues `rows` (about `bytes` big) and waits until they are durable.
    /// Returns per row whether it was new, and where the time went.
    /// Refuses at once when the queue is full.
    ///
    /// Cancel-safe in the sense that matters: if the caller goes away the
    /// rows may still be committed, and a re-send is then a duplicate.
    pub async fn submit(&self, rows: Vec<RecordRow>, bytes: usize) -> Result<Stored, SubmitError> {
        if rows.is_empty() {
            return Ok(Stored {
                new: Vec::new(),
                timing: WriteTiming::default(),
            });
        }
        let want = u32::try_from(bytes.clamp(1, self.capacity)).unwrap_or(u32::MAX);
        let permit = Arc::clone(&self.inflight)
            .try_acquire_many_owned(want)
            .map_err(|e| match e {
                tokio::sync::TryAcquireError::Closed => SubmitError::Closed,
                tokio::sync::TryAcquireError::NoPermits => SubmitError::Busy(self.capacity),
            })?;
        let (reply, answer) = oneshot::channel();
        self.tx
            .try_send(Job {
                rows,
                reply,
                permit,
                queued_at: Instant::now(),
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => SubmitError::Busy(self.capacity),
                mpsc::error::TrySendError::Closed(_) => SubmitError::Closed,
            })?;
        match answer.await {
            Ok(result) => Ok(result?),
            Err(_) => Err(SubmitError::Closed),
        }
    }

    /// Bytes currently queued or being written.
    pub fn queued_bytes(&self) -> usize {
        self.capacity - self.inflight.available_permits()
    }

    /// Batches waiting in the queue (not yet taken into a transaction).
    pub fn queued_batches(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// The queue's bound, bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

async fn write_loop(
    store: Store,
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    group_commit_rows: usize,
    health: &StoreHealth,
) {
    let mut records = store.record_writer();
    // When the writer's last checkpoint ran, so the batches that waited
    // for it can say so.
    let mut last_checkpoint: Option<(Instant, Instant)> = None;
    loop {
        let mut jobs = Vec::new();
        {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            let mut rows = first.rows.len();
            jobs.push(first);
            while rows < group_commit_rows {
                match rx.try_recv() {
                    Ok(job) => {
                        rows += job.rows.len();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
        }
        commit(&mut records, jobs, last_checkpoint).await;
        // After the answers: a checkpoint is never on a batch's path to its
        // acknowledgement, and waits for a moment when none is queued.
        // The receiver's lock held by another writer task means that task
        // waits in `recv` for a batch: nothing is queued.
        let idle = rx.try_lock().map_or(true, |rx| rx.is_empty());
        let started = Instant::now();
        match records.checkpoint(idle).await {
            Ok(Some(_)) => last_checkpoint = Some((started, Instant::now())),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "WAL checkpoint failed; the writer retries after its next commit"
                );
                health.background_failed(&e).await;
            }
        }
    }
}

/// One transaction for all `jobs`; each job gets its slice of the result,
/// and its timing with the part of its wait spent in `last_checkpoint`.
async fn commit(
    records: &mut RecordWriter,
    jobs: Vec<Job>,
    last_checkpoint: Option<(Instant, Instant)>,
) {
    let taken = Instant::now();
    let group_rows = jobs.iter().map(|j| j.rows.len()).sum();
    let mut rows = Vec::with_capacity(group_rows);
    let mut waiting: Vec<(usize, Reply, OwnedSemaphorePermit, Duration, Duration)> =
        Vec::with_capacity(jobs.len());
    for job in jobs {
        let queued = taken.saturating_duration_since(job.queued_at);
        let checkpoint = last_checkpoint.map_or(Duration::ZERO, |(start, end)| {
            end.min(taken)
                .saturating_duration_since(start.max(job.queued_at))
        });
        waiting.push((job.rows.len(), job.reply, job.permit, queued, checkpoint));
        rows.extend(job.rows);
    }
    let result = records.insert(rows).await;
    let commit = records.last_commit();
    let statements = taken.elapsed().saturating_sub(commit);
    let mut at = 0;
    for (n, reply, permit, queued, checkpoint) in waiting {
        let answer = match &result {
            Ok(flags) => Ok(Stored {
                new: flags[at..at + n].to_vec(),
                timing: WriteTiming {
                    queued,
                    checkpoint,
                    statements,
                    commit,
                    group_rows,
                },
            }),
            Err(e) => Err(WriteFailure::from(e)),
        };
        at += n;
        // The bytes are free before the handler hears back.
        drop(permit);
        let _ = reply.send(answer);
    }
}
