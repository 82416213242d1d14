//! The local telemetry database: `~/.earlyexit/telemetry.db` (SQLite, sqlx).
//!
//! This module owns the file and everything in it. One file per job, each
//! with the SQL of that job beside its code:
//!
//! | file | owns |
//! |---|---|
//! | [`error`] | [`StoreError`]: every failure, with what to do about it |
//! | [`open`] | creating the file privately (directory 0700, file 0600), the connection settings (WAL, `synchronous=NORMAL`, foreign keys, busy timeout), the embedded migrations (`agent/migrations/`) |
//! | [`write`](mod@write) | a run's rows in one transaction; moving the spool in |
//! | [`limits`] | retention, the size cap, `clear-data`'s deletes |
//! | [`effectiveness`] | `pattern_effectiveness`, kept in step with every write and delete |
//! | [`stats`] | the read queries behind `stats` |
//! | [`feedback`] | finding a run by id, prefix or `--last`; recording feedback on it |
//! | [`outcome`] | applying the outcome rules (`learn::outcome`) as labels on runs |
//! | [`analysis`] | the read queries behind `analyze`; `training_sessions` |
//! | [`history`] | one command's recent runs, for `suggest` and `--auto` |
//! | [`export`] | paging runs out for `export` and reading them back for sync |
//! | [`outbox`] | the `outbox` and `sync_state` tables: pending, acknowledged, rejected and dropped runs |
//! | [`triage`] | a run's recorded output as one log, and that of the successful runs of its command, for `triage` |
//!
//! It never touches the child process or the network, and it is never on the
//! per-line hot path: the run path calls it once, at exit, with a finished
//! [`RunRecord`](crate::record::RunRecord).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::sqlite::SqlitePool;

pub mod analysis;
pub mod bundles;
pub mod effectiveness;
pub mod error;
pub mod export;
pub mod feedback;
pub mod history;
pub mod limits;
pub mod open;
pub mod outbox;
pub mod outcome;
pub mod stats;
pub mod triage;
pub mod write;

pub use bundles::{Bundle, KeptBundle};
pub use effectiveness::{PatternEffectiveness, effectiveness_score};
pub use error::StoreError;
pub use export::{Cell, Column, ColumnKind, ExportedRun, RunPages};
pub use feedback::{Feedback, FeedbackError, FeedbackTarget, RunRef};
pub use history::{HISTORY_LIMIT, HistoryRun};
pub use limits::{
    AGE_PRUNE_INTERVAL, DeleteCounts, PRUNE_BATCH, PRUNE_TIME_BUDGET, PruneReport,
    SIZE_CAP_TARGET_PERCENT,
};
pub use open::{BUSY_TIMEOUT, JOURNAL_SIZE_LIMIT_BYTES, WAL_AUTOCHECKPOINT_PAGES};
pub use stats::{CommandStats, ReasonCount, RecentRun, RunTotals};
pub use triage::{HISTORY_RUNS, RecordedOutput};

/// The local telemetry database. Open it once per process; every method
/// takes `&self`.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    path: PathBuf,
}

/// Runs `future` on a current-thread runtime made for the purpose: the
/// blocking entry point of the run path and the subcommands. Any error type
/// that a [`StoreError`] converts into works (`StoreError`, `anyhow::Error`).
pub fn block_on<T, E: From<StoreError>>(
    future: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| E::from(StoreError::Runtime(e)))?
        .block_on(future)
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The time `age` before `now_ms` (both in ms since the epoch), never
/// overflowing: the cutoff of `--since` and `--older-than`.
pub fn ms_before(now_ms: i64, age: std::time::Duration) -> i64 {
    now_ms.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX))
}

/// `ms` since the epoch as RFC 3339 UTC with milliseconds.
pub fn rfc3339_ms(ms: i64) -> String {
    let time = if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH
    };
    humantime::format_rfc3339_millis(time).to_string()
}

pub(super) fn rfc3339_now() -> String {
    rfc3339_ms(now_ms())
}

/// A statement with its values bound, as the write path builds them.
pub(crate) type SqliteQuery<'q> =
    sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

/// Hex SHA-256 (how `command_hash` and `pattern_hash` are made).
pub(crate) use earlyexit_scrub::sha256_hex;

impl Store {
    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Begins a write transaction, taking the write lock at once (`BEGIN
    /// IMMEDIATE`), so it waits for other writers up to the busy timeout
    /// instead of failing half-way when it first writes.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(self.sql_err())
    }

    /// Closes the connection cleanly (checkpointing the WAL when this is the
    /// last connection to the database).
    pub async fn close(self) {
        self.pool.close().await;
    }

    /// Leaves the connection open until the process exits, skipping the
    /// checkpoint that closing it would do (see `recorder::record_run_blocking`).
    pub(crate) fn leave_open_until_exit(self) {
        std::mem::forget(self.pool);
    }

    /// Classifies a sqlx error on this database (see [`StoreError`]), as
    /// a function for `map_err`.
    pub(crate) fn sql_err(&self) -> impl Fn(sqlx::Error) -> StoreError + Copy + '_ {
        |e| StoreError::from_sqlx(&self.path, e)
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use sqlx::AssertSqlSafe;
    use std::os::unix::fs::MetadataExt;

    /// A new database in a temporary directory (kept while the `TempDir` lives).
    pub(crate) async fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(crate::config::DEFAULT_DB_FILE))
            .await
            .unwrap();
        (dir, store)
    }

    pub(crate) const DAY_MS: i64 = 86_400_000;

    pub(crate) fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o777
    }

    pub(crate) async fn count(store: &Store, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&store.pool)
            .await
            .unwrap()
    }

    pub(crate) async fn count_for(store: &Store, table: &str, execution_id: &str) -> i64 {
        sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE execution_id = ?"
        )))
        .bind(execution_id)
        .fetch_one(&store.pool)
        .await
        .unwrap()
    }
}
