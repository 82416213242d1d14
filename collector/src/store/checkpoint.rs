//! SQLite WAL checkpoints off the commit path.
//!
//! By default SQLite checkpoints inside the `COMMIT` that takes the WAL
//! past `wal_autocheckpoint`: that commit, and every batch queued behind
//! it, waits while the WAL is copied into the database and both files are
//! synced. On a shared disk that took the slowest 1 % of acknowledgements
//! to 80–400 ms (docs/BENCHMARKS.md). The record writer's connection turns
//! that off, and a [`Checkpointer`] task runs `PRAGMA
//! wal_checkpoint(PASSIVE)` on a connection of its own whenever the writer
//! has committed [`super::SQLITE_CHECKPOINT_BYTES`] of rows since the last
//! one. In WAL mode a passive checkpoint runs beside a writer without
//! blocking it. Durability is unchanged: a commit is durable once its WAL
//! frames are synced (`synchronous=FULL`); a checkpoint only moves durable
//! pages into the main file.
//!
//! Never blocks the writer: the signal is a one-slot channel, and a signal
//! sent while a checkpoint runs is folded into the next one.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::sqlite::SqlitePool;
use tokio::sync::mpsc;

/// Starts checkpoints for one record writer; dropping it lets the task end
/// after the checkpoint it may be running.
#[derive(Debug)]
pub struct Checkpointer {
    /// Row bytes committed since the last checkpoint was asked for.
    since_last: AtomicU64,
    every: u64,
    wake: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Spawns the checkpoint task on `pool`, asked to run every `every`
    /// bytes of committed rows.
    pub fn start(pool: SqlitePool, every: u64) -> Checkpointer {
        let (wake, mut asked) = mpsc::channel::<()>(1);
        tokio::spawn(async move {
            while asked.recv().await.is_some() {
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&pool)
                    .await
                {
                    eprintln!(
                        "earlyexit-collector: WAL checkpoint failed ({e}); the next one retries, the WAL grows until then"
                    );
                }
            }
        });
        Checkpointer {
            since_last: AtomicU64::new(0),
            every: every.max(1),
            wake,
        }
    }

    /// The writer committed `bytes` of rows; asks for a checkpoint when
    /// enough have gone into the WAL since the last.
    pub fn committed(&self, bytes: u64) {
        let total = self.since_last.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if total >= self.every && self.wake.try_send(()).is_ok() {
            self.since_last.store(0, Ordering::Relaxed);
        }
    }
}
