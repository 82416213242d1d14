//! The run path's way into the database: [`Recorder`] opens it on a thread
//! of its own while the command runs, [`spool_run`] appends a run that ended
//! before the database was worth opening, and [`record_run_blocking`] is the
//! plain blocking write.
//!
//! # Cost on the run path
//!
//! A run pays for opening the database and one write transaction. To keep
//! that small the limits check is one read when nothing is due, and the
//! connection is left to the process exit instead of being closed, because
//! closing the last connection checkpoints the WAL and deletes it (fsyncs,
//! and a new WAL for the next run). Checkpoints happen every
//! [`WAL_AUTOCHECKPOINT_PAGES`](super::WAL_AUTOCHECKPOINT_PAGES) pages instead.
//!
//! This file decides *where* a run goes; the SQL is in [`super::write`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Store, StoreError, block_on};
use crate::record::RunRecord;

/// Records `run` in the database at `db_path` (creating it if needed) and
/// enforces the retention and size limits; blocks until done.
///
/// Meant for the run path of a process that exits right afterwards: to stay
/// within the run's overhead budget it does not close the connection, which
/// would checkpoint the WAL into the database and delete it (two fsyncs and
/// a file re-created by the next run). The connection is released when the
/// process exits, as after any exit; every committed run is already in the
/// WAL, and the next open rebuilds the WAL index from it. SQLite's
/// auto-checkpoint ([`WAL_AUTOCHECKPOINT_PAGES`](super::WAL_AUTOCHECKPOINT_PAGES)) keeps the WAL small. A
/// long-lived process should use [`Store`] and [`Store::close`] instead.
pub fn record_run_blocking(
    db_path: &Path,
    run: &RunRecord,
    retention_days: u32,
    max_db_size_mb: u64,
) -> Result<(), StoreError> {
    block_on(async {
        let store = Store::open(db_path).await?;
        let result = match store.record_run(run).await {
            Ok(()) => store
                .enforce_limits(retention_days, max_db_size_mb)
                .await
                .map(drop),
            Err(e) => Err(e),
        };
        store.leave_open_until_exit();
        result
    })
}

/// Records a run that ended before its database was opened (see
/// [`crate::run::LONG_RUN`]): the run goes to the spool, and only when that
/// makes the spool due for a batch is the database opened, pruned and the
/// batch moved in before returning.
pub fn spool_run(
    db_path: &Path,
    run: &RunRecord,
    retention_days: u32,
    max_db_size_mb: u64,
) -> Result<Recorded, StoreError> {
    let spool = crate::spool::spool_path(db_path);
    let size = crate::spool::append(&spool, run)?;
    if size < crate::spool::SPOOL_INGEST_BYTES {
        return Ok(Recorded::Spool);
    }
    block_on(async {
        let store = Store::open(db_path).await?;
        let result = async {
            store.enforce_limits(retention_days, max_db_size_mb).await?;
            store.ingest_spool(&spool).await
        }
        .await;
        store.leave_open_until_exit();
        result.map(|_| Recorded::Database)
    })
}

/// Records a run with the database work moved off the run's critical path:
/// [`Recorder::start`] opens the database and enforces the limits on a
/// thread of its own while the command runs. At exit, [`Recorder::finish`]
/// writes the run in one transaction when the database is ready by then and
/// no older runs wait in the spool; otherwise it appends the run to the
/// spool (see [`crate::spool`]) without waiting — unless the spool is due
/// for a batch, which is then moved in before exit.
///
/// Dropping a `Recorder` without finishing records nothing. Like
/// [`record_run_blocking`], it is meant for a process that exits after the
/// run: its connection is left to the process exit.
#[derive(Debug)]
pub struct Recorder {
    jobs: tokio::sync::oneshot::Sender<Job>,
    /// One message: the database is open and the spool moved in, or why not.
    ready: std::sync::mpsc::Receiver<Result<(), StoreError>>,
    /// One message: the job's result.
    done: std::sync::mpsc::Receiver<Result<(), StoreError>>,
    spool: PathBuf,
}

/// What the recorder thread does once the database is ready.
#[derive(Debug)]
enum Job {
    Record(Box<RunRecord>),
    IngestSpool,
}

/// Where [`Recorder::finish`] put the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Committed to the database.
    Database,
    /// Appended to the spool; it reaches the database with a later batch.
    Spool,
}

/// Runs with more match events than this are spooled even when the
/// database is ready: inserting thousands of rows takes longer than the
/// append, and the batch moves them in later.
pub const DIRECT_WRITE_MAX_MATCHES: usize = 64;

/// How long a run whose spool is due for a batch waits for the database.
pub const BATCH_WAIT: Duration = Duration::from_secs(5);

impl Recorder {
    /// Starts opening the database at `db_path` (creating it if needed) and
    /// enforcing the limits (as [`Store::enforce_limits`]) in the
    /// background. Errors are reported by [`Recorder::finish`].
    pub fn start(db_path: &Path, retention_days: u32, max_db_size_mb: u64) -> Recorder {
        let (job_tx, job_rx) = tokio::sync::oneshot::channel::<Job>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let path = db_path.to_path_buf();
        let spool = crate::spool::spool_path(db_path);
        let thread_spool = spool.clone();
        let thread_ready = ready_tx.clone();
        let spawned = std::thread::Builder::new()
            .name("earlyexit-store".into())
            .spawn(move || {
                let result = block_on(async {
                    let store = match Store::open(&path).await {
                        Ok(store) => store,
                        Err(e) => {
                            let _ = thread_ready.send(Err(e));
                            return Ok(());
                        }
                    };
                    let prepared = store
                        .enforce_limits(retention_days, max_db_size_mb)
                        .await
                        .map(drop);
                    let failed = prepared.is_err();
                    // Fails only when the Recorder was dropped: nobody to tell.
                    let _ = thread_ready.send(prepared);
                    let done = if failed {
                        Ok(())
                    } else {
                        match job_rx.await {
                            Ok(Job::Record(run)) => store.record_run(&run).await,
                            Ok(Job::IngestSpool) => {
                                store.ingest_spool(&thread_spool).await.map(drop)
                            }
                            // Dropped without a job: nothing to record.
                            Err(_) => Ok(()),
                        }
                    };
                    // As in record_run_blocking: no checkpoint at exit.
                    store.leave_open_until_exit();
                    done
                });
                let _ = done_tx.send(result);
            });
        if let Err(e) = spawned {
            let _ = ready_tx.send(Err(StoreError::Runtime(e)));
        }
        Recorder {
            jobs: job_tx,
            ready: ready_rx,
            done: done_rx,
            spool,
        }
    }

    /// Records `run`: in the database when it is ready and the spool empty,
    /// else in the spool.
    /// Waits only for a ready database's transaction, or (bounded by
    /// [`BATCH_WAIT`]) when the spool is due for a batch. When the database
    /// is unusable the run is kept in the spool and the error returned.
    pub fn finish(self, run: RunRecord) -> Result<Recorded, StoreError> {
        use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
        let stopped = || StoreError::WriterStopped {
            spool: self.spool.clone(),
        };
        // A run with many match events costs more to insert than to spool:
        // it waits for the next batch instead of delaying this exit.
        let direct =
            run.matches.len() <= DIRECT_WRITE_MAX_MATCHES && crate::spool::size(&self.spool) == 0;
        match self.ready.try_recv() {
            Ok(Ok(())) if direct => {
                return self
                    .run_job(Job::Record(Box::new(run)))
                    .map(|()| Recorded::Database);
            }
            // Ready, but runs are waiting in the spool (queue behind them),
            // or this run is large.
            Ok(Ok(())) => {
                let size = crate::spool::append(&self.spool, &run)?;
                if size < crate::spool::SPOOL_INGEST_BYTES {
                    return Ok(Recorded::Spool);
                }
                return self.run_job(Job::IngestSpool).map(|()| Recorded::Database);
            }
            Ok(Err(e)) => {
                // Keep the run for when the database is usable again.
                let _ = crate::spool::append(&self.spool, &run);
                return Err(e);
            }
            Err(TryRecvError::Disconnected) => {
                let _ = crate::spool::append(&self.spool, &run);
                return Err(stopped());
            }
            Err(TryRecvError::Empty) => {}
        }
        let size = crate::spool::append(&self.spool, &run)?;
        if size < crate::spool::SPOOL_INGEST_BYTES {
            return Ok(Recorded::Spool);
        }
        match self.ready.recv_timeout(BATCH_WAIT) {
            Ok(Ok(())) => self.run_job(Job::IngestSpool).map(|()| Recorded::Database),
            Ok(Err(e)) => Err(e),
            // Still not open: the runs wait in the spool for the next batch.
            Err(RecvTimeoutError::Timeout) => Ok(Recorded::Spool),
            Err(RecvTimeoutError::Disconnected) => Err(stopped()),
        }
    }

    fn run_job(self, job: Job) -> Result<(), StoreError> {
        let spool = self.spool.clone();
        let _ = self.jobs.send(job);
        self.done
            .recv()
            .unwrap_or(Err(StoreError::WriterStopped { spool }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RunRecord;
    use crate::record::tests_support::sample_run;
    use crate::store::test_support::*;
    use crate::store::*;
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    #[test]
    fn a_recorder_opens_early_and_records_at_finish() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("home").join(DB_FILE_NAME);
        let recorder = Recorder::start(&db, 90, 100);
        let run = sample_run(now_ms());
        // A command long enough for the database to be ready: written directly.
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(recorder.finish(run.clone()).unwrap(), Recorded::Database);
        assert_eq!(crate::spool::size(&crate::spool::spool_path(&db)), 0);
        let runs_and_events = |store: &Store| {
            block_on(async {
                let runs = store.run_totals(i64::MIN).await?.runs;
                let events = count_for(store, "match_events", &run.execution.execution_id).await;
                Ok::<_, StoreError>((runs, events))
            })
            .unwrap()
        };
        let store = block_on(Store::open_existing(&db)).unwrap();
        assert_eq!(runs_and_events(&store), (1, 2));

        // Dropped unfinished: nothing more is recorded, nothing hangs.
        drop(Recorder::start(&db, 90, 100));
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(runs_and_events(&store), (1, 2));
    }

    #[test]
    fn spooled_runs_reach_the_database_once_when_it_is_opened() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(DB_FILE_NAME);
        let spool = crate::spool::spool_path(&db);
        let runs: Vec<RunRecord> = (0..3).map(|i| sample_run(now_ms() - i)).collect();
        for run in &runs {
            crate::spool::append(&spool, run).unwrap();
        }
        // No database yet, but spooled runs count: opening creates it.
        let store = block_on(Store::open_existing(&db)).unwrap();
        assert_eq!(crate::spool::size(&spool), 0);
        let totals = block_on(store.run_totals(i64::MIN)).unwrap();
        assert_eq!(totals.runs, 3);
        // A crash between commit and clear re-spools stored runs: skipped.
        crate::spool::append(&spool, &runs[0]).unwrap();
        crate::spool::append(&spool, &sample_run(now_ms())).unwrap();
        assert_eq!(block_on(store.ingest_spool(&spool)).unwrap(), 1);
        assert_eq!(block_on(store.run_totals(i64::MIN)).unwrap().runs, 4);
    }

    #[test]
    fn a_recorder_reports_an_unusable_database_at_finish() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_dir = dir.path().join("file");
        std::fs::write(&not_a_dir, "x").unwrap();
        let recorder = Recorder::start(&not_a_dir.join(DB_FILE_NAME), 90, 100);
        let err = recorder.finish(sample_run(now_ms())).unwrap_err();
        assert!(err.to_string().contains("--no-telemetry"), "{err}");
    }

    /// One run's telemetry in a fresh process, as the `earlyexit` binary
    /// does it; started by `bench_record_run_in_fresh_processes`.
    #[test]
    #[ignore = "benchmark helper"]
    fn bench_child() {
        let Ok(db) = std::env::var("EARLYEXIT_BENCH_DB") else {
            return;
        };
        let db = PathBuf::from(db);
        let run = sample_run(now_ms());
        if std::env::var("EARLYEXIT_BENCH_RECORDER").is_ok() {
            // Opened while a (simulated, 5 ms) command runs; what is left at exit.
            let recorder = Recorder::start(&db, 90, 100);
            std::thread::sleep(Duration::from_millis(5));
            let start = Instant::now();
            recorder.finish(run).unwrap();
            println!("BENCH {}", start.elapsed().as_micros());
            return;
        }
        if std::env::var("EARLYEXIT_BENCH_PARTS").is_err() {
            let start = Instant::now();
            record_run_blocking(&db, &run, 90, 100).unwrap();
            println!("BENCH {}", start.elapsed().as_micros());
            return;
        }
        // The same steps as record_run_blocking, timed one by one.
        let start = Instant::now();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let built = start.elapsed();
        let (open, record, limits) = runtime.block_on(async {
            let t = Instant::now();
            let store = Store::open(&db).await.unwrap();
            let open = t.elapsed();
            let t = Instant::now();
            store.record_run(&run).await.unwrap();
            let record = t.elapsed();
            let t = Instant::now();
            store.enforce_limits(90, 100).await.unwrap();
            let limits = t.elapsed();
            store.leave_open_until_exit();
            (open, record, limits)
        });
        println!(
            "BENCH {} {} {} {}",
            built.as_micros(),
            open.as_micros(),
            record.as_micros(),
            limits.as_micros()
        );
    }

    /// What a run pays for telemetry: `record_run_blocking` on an existing
    /// database, each time in a new process (cold, as the binary runs).
    /// `cargo test --release -p earlyexit --lib store::recorder::tests::bench_record -- --ignored --nocapture`
    #[test]
    #[ignore = "benchmark; run by hand"]
    fn bench_record_run_in_fresh_processes() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(DB_FILE_NAME);
        let now = now_ms();
        block_on(async {
            let store = Store::open(&db).await?;
            for i in 0..500 {
                store.record_run(&sample_run(now - i * 60_000)).await?;
            }
            store.close().await;
            Ok::<_, StoreError>(())
        })
        .unwrap();
        let child = |mode: Option<&str>| -> Vec<u64> {
            let mut command = std::process::Command::new(std::env::current_exe().unwrap());
            command
                .args([
                    "--exact",
                    "store::recorder::tests::bench_child",
                    "--ignored",
                    "--nocapture",
                ])
                .env("EARLYEXIT_BENCH_DB", &db);
            if let Some(mode) = mode {
                command.env(mode, "1");
            }
            let out = command.output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text.lines().find(|l| l.starts_with("BENCH")).unwrap();
            line.split_whitespace()
                .skip(1)
                .map(|v| v.parse().unwrap())
                .collect()
        };
        for _ in 0..20 {
            child(None); // warm up: file cache, WAL at its steady size
        }
        let mut totals: Vec<u64> = (0..100).map(|_| child(None)[0]).collect();
        let parts: Vec<Vec<u64>> = (0..100)
            .map(|_| child(Some("EARLYEXIT_BENCH_PARTS")))
            .collect();
        let at_exit: Vec<u64> = (0..100)
            .map(|_| child(Some("EARLYEXIT_BENCH_RECORDER"))[0])
            .collect();
        totals.sort_unstable();
        let median = |mut v: Vec<u64>| {
            v.sort_unstable();
            v[v.len() / 2]
        };
        println!(
            "record_run_blocking in a fresh process, 100 runs: median {} us, p90 {} us, min {} us",
            totals[totals.len() / 2],
            totals[totals.len() * 9 / 10],
            totals[0]
        );
        println!(
            "Recorder::finish after a 5 ms command (open and limits done meanwhile): median {} us",
            median(at_exit)
        );
        let names = ["runtime", "open", "record_run", "enforce_limits"];
        for (i, name) in names.iter().enumerate() {
            println!(
                "  {name}: median {} us",
                median(parts.iter().map(|p| p[i]).collect())
            );
        }
    }
}
