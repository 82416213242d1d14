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
//! [`WAL_AUTOCHECKPOINT_PAGES`](crate::store::WAL_AUTOCHECKPOINT_PAGES) pages instead.
//!
//! This module decides *when* and *where* a run is written (database now,
//! or the spool beside it for later, see `spool`); *how* is the store's
//! (`store::write`). It runs no SQL of its own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::record::RunRecord;
use crate::store::{Store, StoreError, block_on, now_ms};

/// Records `run` in the database at `db_path` (creating it if needed) and
/// enforces the retention and size limits; blocks until done.
///
/// Meant for the run path of a process that exits right afterwards: to stay
/// within the run's overhead budget it does not close the connection, which
/// would checkpoint the WAL into the database and delete it (two fsyncs and
/// a file re-created by the next run). The connection is released when the
/// process exits, as after any exit; every committed run is already in the
/// WAL, and the next open rebuilds the WAL index from it. SQLite's
/// auto-checkpoint ([`WAL_AUTOCHECKPOINT_PAGES`](crate::store::WAL_AUTOCHECKPOINT_PAGES)) keeps the WAL small. A
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

/// Appends `run` to `spool` now; true when that made the spool due to be
/// moved into the database ([`crate::spool::Appended::is_due`]).
fn append_is_due(spool: &Path, run: &RunRecord) -> Result<bool, StoreError> {
    let now = now_ms();
    Ok(crate::spool::append(spool, run, now)?.is_due(now))
}

/// Records a run that ended before its database was opened (see
/// `run::LONG_RUN`): the run goes to the spool, and only when that
/// makes the spool due ([`crate::spool::Appended::is_due`]: 4 MiB, or a run
/// waiting for a minute) is the database opened, the spool moved in and the
/// limits enforced before returning.
pub fn spool_run(
    db_path: &Path,
    run: &RunRecord,
    retention_days: u32,
    max_db_size_mb: u64,
) -> Result<Recorded, StoreError> {
    let spool = crate::spool::spool_path(db_path);
    if !append_is_due(&spool, run)? {
        return Ok(Recorded::Spool);
    }
    block_on(async {
        let store = Store::open(db_path).await?;
        let result = store
            .ingest_spool_and_enforce_limits(&spool, retention_days, max_db_size_mb)
            .await;
        store.leave_open_until_exit();
        result.map(|()| Recorded::Database)
    })
}

/// Records a run with the database work moved off the run's critical path:
/// [`Recorder::start`] opens the database, moves the spool in and enforces
/// the limits on a thread of its own while the command runs. At exit,
/// [`Recorder::finish`] writes the run in one transaction (see there for
/// the few cases that spool it instead).
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
    /// Move in what was spooled since the database opened (by other runs),
    /// then write this run: the order of the runs is kept.
    Record(Box<RunRecord>),
    /// Move the spool in (this run is already in it).
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

/// A run that lasted at least this long is in the database when earlyexit
/// exits (unless the database cannot be written): at exit it waits up to
/// [`BATCH_WAIT`] for the database if it is not open yet. Shorter runs
/// never wait for it; 100 ms is where the few milliseconds of a write stop
/// being a noticeable share of the run.
pub const ALWAYS_STORED_AFTER: Duration = Duration::from_millis(100);

/// Runs shorter than [`ALWAYS_STORED_AFTER`] with more match events than
/// this are spooled even when the database is ready: inserting thousands
/// of rows takes longer than the append, and the next run that opens the
/// database moves them in.
pub const DIRECT_WRITE_MAX_MATCHES: usize = 64;

/// The longest a run waits at exit for its database to open (it is usually
/// open long before; it may be locked by another process for a moment).
pub const BATCH_WAIT: Duration = Duration::from_secs(5);

impl Recorder {
    /// Starts opening the database at `db_path` (creating it if needed),
    /// moving the spool in (one transaction) and enforcing the limits (as
    /// [`Store::enforce_limits`]) in the background. Errors are reported by
    /// [`Recorder::finish`].
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
                        .ingest_spool_and_enforce_limits(
                            &thread_spool,
                            retention_days,
                            max_db_size_mb,
                        )
                        .await;
                    let failed = prepared.is_err();
                    // Fails only when the Recorder was dropped: nobody to tell.
                    let _ = thread_ready.send(prepared);
                    let done = if failed {
                        Ok(())
                    } else {
                        match job_rx.await {
                            Ok(Job::Record(run)) => match store.ingest_spool(&thread_spool).await {
                                Ok(_) => store.record_run(&run).await,
                                Err(e) => Err(e),
                            },
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

    /// Records `run`, which lasted `runtime`:
    ///
    /// * database ready: the run is written now, after whatever other runs
    ///   spooled meanwhile (they are moved in first, keeping the order);
    ///   only a run shorter than [`ALWAYS_STORED_AFTER`] with more than
    ///   [`DIRECT_WRITE_MAX_MATCHES`] match events is spooled instead;
    /// * database not ready yet: a run of [`ALWAYS_STORED_AFTER`] or more
    ///   waits for it (at most [`BATCH_WAIT`]) and is written; a shorter
    ///   one is spooled without waiting, unless that makes the spool due.
    ///
    /// When the database is unusable the run is kept in the spool and the
    /// error returned.
    pub fn finish(self, run: RunRecord) -> Result<Recorded, StoreError> {
        use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
        let stopped = || StoreError::WriterStopped {
            spool: self.spool.clone(),
        };
        let keep = |run: &RunRecord| {
            let _ = crate::spool::append(&self.spool, run, now_ms());
        };
        let lasted = Duration::try_from_secs_f64(run.execution.total_runtime).unwrap_or_default();
        let must_store = lasted >= ALWAYS_STORED_AFTER;
        let direct = must_store || run.matches.len() <= DIRECT_WRITE_MAX_MATCHES;
        let ready = match self.ready.try_recv() {
            Ok(ready) => Some(ready),
            Err(TryRecvError::Empty) if must_store => match self.ready.recv_timeout(BATCH_WAIT) {
                Ok(ready) => Some(ready),
                // Still not open (locked elsewhere): keep it for the next run.
                Err(RecvTimeoutError::Timeout) => {
                    crate::spool::append(&self.spool, &run, now_ms())?;
                    return Ok(Recorded::Spool);
                }
                Err(RecvTimeoutError::Disconnected) => {
                    keep(&run);
                    return Err(stopped());
                }
            },
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                keep(&run);
                return Err(stopped());
            }
        };
        match ready {
            Some(Ok(())) if direct => self
                .run_job(Job::Record(Box::new(run)))
                .map(|()| Recorded::Database),
            Some(Err(e)) => {
                // Keep the run for when the database is usable again.
                keep(&run);
                Err(e)
            }
            // Ready, but a short run with many events: spool it, and move
            // the spool in only when it is due.
            Some(Ok(())) => {
                if append_is_due(&self.spool, &run)? {
                    return self.run_job(Job::IngestSpool).map(|()| Recorded::Database);
                }
                Ok(Recorded::Spool)
            }
            // Not ready and a short run: never wait, unless the spool is due.
            None => {
                if !append_is_due(&self.spool, &run)? {
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

impl Store {
    /// What every run that opens the database does first: move the spool
    /// in (one transaction), then enforce the limits, so the spooled runs
    /// count towards them.
    async fn ingest_spool_and_enforce_limits(
        &self,
        spool: &Path,
        retention_days: u32,
        max_db_size_mb: u64,
    ) -> Result<(), StoreError> {
        self.ingest_spool(spool).await?;
        self.enforce_limits(retention_days, max_db_size_mb)
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests_support::sample_run;
    use crate::record::{MatchEvent, RunRecord};
    use crate::store::test_support::*;
    use crate::store::*;
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    #[test]
    fn a_recorder_opens_early_and_records_at_finish() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("home").join(crate::config::DEFAULT_DB_FILE);
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
        let db = dir.path().join(crate::config::DEFAULT_DB_FILE);
        let spool = crate::spool::spool_path(&db);
        let runs: Vec<RunRecord> = (0..3).map(|i| sample_run(now_ms() - i)).collect();
        for run in &runs {
            crate::spool::append(&spool, run, now_ms()).unwrap();
        }
        // No database yet, but spooled runs count: opening creates it.
        let store = block_on(Store::open_existing(&db)).unwrap();
        assert_eq!(crate::spool::size(&spool), 0);
        let totals = block_on(store.run_totals(i64::MIN)).unwrap();
        assert_eq!(totals.runs, 3);
        // A crash between commit and clear re-spools stored runs: skipped.
        crate::spool::append(&spool, &runs[0], now_ms()).unwrap();
        crate::spool::append(&spool, &sample_run(now_ms()), now_ms()).unwrap();
        assert_eq!(block_on(store.ingest_spool(&spool)).unwrap(), 1);
        assert_eq!(block_on(store.run_totals(i64::MIN)).unwrap().runs, 4);
    }

    /// `sample_run` with `matches` match events, lasting `seconds`.
    fn run_with(matches: usize, seconds: f64) -> RunRecord {
        let mut run = sample_run(now_ms());
        let event = run.matches[0].clone();
        run.matches = (0..matches)
            .map(|i| MatchEvent {
                match_number: i as i64 + 1,
                ..event.clone()
            })
            .collect();
        run.execution.match_count = matches as i64;
        run.execution.total_runtime = seconds;
        run
    }

    fn stored_runs(db: &Path) -> i64 {
        block_on(async {
            let store = Store::open(db).await?;
            let runs = count(&store, "SELECT count(*) FROM executions").await;
            store.close().await;
            Ok::<_, StoreError>(runs)
        })
        .unwrap()
    }

    #[test]
    fn a_recorder_moves_the_spool_in_as_soon_as_it_opens() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(crate::config::DEFAULT_DB_FILE);
        let spool = crate::spool::spool_path(&db);
        for _ in 0..3 {
            crate::spool::append(&spool, &run_with(1, 0.001), now_ms()).unwrap();
        }
        let recorder = Recorder::start(&db, 90, 100);
        let deadline = Instant::now() + Duration::from_secs(10);
        while crate::spool::size(&spool) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            crate::spool::size(&spool),
            0,
            "moved in before the run ends"
        );
        assert_eq!(
            recorder.finish(run_with(1, 0.15)).unwrap(),
            Recorded::Database
        );
        assert_eq!(stored_runs(&db), 4);
    }

    #[test]
    fn a_long_run_is_stored_at_exit_whatever_its_size_a_short_busy_one_is_spooled() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(crate::config::DEFAULT_DB_FILE);
        let ready = |recorder: &Recorder| {
            // Let the database open, as it does while a command runs.
            std::thread::sleep(Duration::from_millis(300));
            let _ = recorder;
        };
        let recorder = Recorder::start(&db, 90, 100);
        ready(&recorder);
        let many = DIRECT_WRITE_MAX_MATCHES * 20;
        assert_eq!(
            recorder.finish(run_with(many, 0.02)).unwrap(),
            Recorded::Spool,
            "a 20 ms run with {many} events does not wait for their insert"
        );
        let recorder = Recorder::start(&db, 90, 100);
        ready(&recorder);
        assert_eq!(
            recorder.finish(run_with(many, 0.15)).unwrap(),
            Recorded::Database
        );
        // The spooled run went in first, with the long one.
        assert_eq!(stored_runs(&db), 2);
        assert_eq!(crate::spool::size(&crate::spool::spool_path(&db)), 0);
    }

    #[test]
    fn a_long_run_waits_for_a_database_that_is_still_busy_a_short_one_does_not() {
        for (seconds, want) in [(0.02, Recorded::Spool), (0.15, Recorded::Database)] {
            let dir = tempfile::tempdir().unwrap();
            let db = dir.path().join(crate::config::DEFAULT_DB_FILE);
            block_on(async {
                Store::open(&db).await?.close().await;
                Ok::<_, StoreError>(())
            })
            .unwrap();
            // A spooled run, so the recorder needs the write lock to get ready.
            let spool = crate::spool::spool_path(&db);
            crate::spool::append(&spool, &run_with(1, 0.001), now_ms()).unwrap();
            // Another process holds the write lock for 400 ms.
            let (locked_tx, locked_rx) = std::sync::mpsc::channel();
            let holder_db = db.clone();
            let holder = std::thread::spawn(move || {
                block_on(async {
                    let store = Store::open(&holder_db).await?;
                    let tx = store.begin_write().await.unwrap();
                    locked_tx.send(()).unwrap();
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    tx.rollback().await.unwrap();
                    store.close().await;
                    Ok::<_, StoreError>(())
                })
            });
            locked_rx.recv().unwrap();
            let recorder = Recorder::start(&db, 90, 100);
            assert_eq!(
                recorder.finish(run_with(1, seconds)).unwrap(),
                want,
                "{seconds}"
            );
            holder.join().unwrap().unwrap();
            let stored = if want == Recorded::Database { 2 } else { 0 };
            assert_eq!(stored_runs(&db), stored, "{seconds}");
        }
    }

    #[test]
    fn a_short_run_moves_in_a_spool_that_waited_a_minute() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(crate::config::DEFAULT_DB_FILE);
        let spool = crate::spool::spool_path(&db);
        let recently = now_ms() - 1_000;
        crate::spool::append(&spool, &run_with(1, 0.001), recently).unwrap();
        assert_eq!(
            spool_run(&db, &run_with(1, 0.001), 90, 100).unwrap(),
            Recorded::Spool
        );
        assert!(!db.exists(), "a fresh spool does not open the database");
        // The same spool, its first run spooled a minute ago.
        std::fs::remove_file(&spool).unwrap();
        let long_ago = now_ms() - crate::spool::SPOOL_MAX_AGE.as_millis() as i64;
        crate::spool::append(&spool, &run_with(1, 0.001), long_ago).unwrap();
        crate::spool::append(&spool, &run_with(1, 0.001), now_ms()).unwrap();
        assert_eq!(
            spool_run(&db, &run_with(1, 0.001), 90, 100).unwrap(),
            Recorded::Database
        );
        assert_eq!(stored_runs(&db), 3);
        assert_eq!(crate::spool::size(&spool), 0);
    }

    #[test]
    fn a_recorder_reports_an_unusable_database_at_finish() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_dir = dir.path().join("file");
        std::fs::write(&not_a_dir, "x").unwrap();
        let recorder = Recorder::start(&not_a_dir.join(crate::config::DEFAULT_DB_FILE), 90, 100);
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
        let db = dir.path().join(crate::config::DEFAULT_DB_FILE);
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
