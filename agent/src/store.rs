//! The local telemetry database: `~/.earlyexit/telemetry.db` (SQLite, sqlx).
//!
//! This module owns the file and everything in it: creating it privately
//! (directory 0700, file 0600), the connection settings (WAL,
//! `synchronous=NORMAL`, foreign keys, busy timeout), the embedded schema
//! migrations (`agent/migrations/`), writing a run's rows in one
//! transaction, retention and the size cap, and the read queries behind
//! `stats`, `export` and `clear-data`.
//!
//! It never touches the child process or the network, and it is never on the
//! per-line hot path: the run path calls it once, at exit, with a finished
//! [`RunRecord`].
//!
//! # Limits (what happens at the bound)
//!
//! [`Store::enforce_limits`] runs after every recorded run and is bounded in
//! time ([`PRUNE_TIME_BUDGET`]) so it can never hold up a run for long:
//!
//! * **Retention** — runs older than `retention_days` are deleted, oldest
//!   first, in batches of [`PRUNE_BATCH`]. This check runs at most once per
//!   [`AGE_PRUNE_INTERVAL`] (the time is kept in the `meta` table); when the
//!   time budget runs out first, the time is not recorded, so the next run
//!   carries on where this one stopped.
//! * **Size cap** — checked on every run from the page counts (a header
//!   read, no scan). When the pages in use exceed `max_db_size_mb`, the
//!   oldest runs are deleted until the pages in use are below
//!   [`SIZE_CAP_TARGET_PERCENT`] of the cap (the headroom keeps the next
//!   runs from pruning again one by one), then the freed pages are returned
//!   to the file system (`PRAGMA incremental_vacuum` and a WAL checkpoint),
//!   so the file really shrinks. The WAL itself is bounded by SQLite's
//!   auto-checkpoint and by [`JOURNAL_SIZE_LIMIT_BYTES`].
//! * `0` for either limit disables it.
//!
//! Deleting a run deletes its match events, samples, metrics and feedback
//! (`ON DELETE CASCADE`) and subtracts it from `pattern_effectiveness`, so
//! the summary always describes exactly the runs that are kept. What was
//! deleted is returned in a [`PruneReport`].
//!
//! # Cost on the run path
//!
//! A run pays for opening the database and one write transaction (measured
//! by `tests::bench_record_run_in_fresh_processes`). To keep that small:
//! the schema check is one read when the schema is current; all of a run's
//! inserts go to SQLite as one batch of statements; the limits check is one
//! read when nothing is due; and [`record_run_blocking`] leaves the
//! connection to the process exit instead of closing it, because closing the
//! last connection checkpoints the WAL and deletes it (fsyncs, and a new WAL
//! for the next run). Checkpoints happen every [`WAL_AUTOCHECKPOINT_PAGES`]
//! pages instead.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::future::Future;
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, TypeInfo, ValueRef};

use crate::record::{Execution, ExitReason, RunRecord};
use crate::sync::outbox::DropCause;

/// The database file name inside the earlyexit home directory.
pub const DB_FILE_NAME: &str = "telemetry.db";

/// How long a writer waits for another earlyexit process holding the write
/// lock before giving up with [`StoreError::Locked`]. A run's transaction
/// takes well under a millisecond, so waiting longer than this means
/// something is wrong (a stuck process, a network file system).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(1);

/// Runs deleted per statement when pruning. Each batch is its own short
/// transaction, so a concurrent run waits for one batch at most.
pub const PRUNE_BATCH: i64 = 1000;

/// The most time one [`Store::enforce_limits`] call spends deleting. What is
/// left over is deleted by the next runs.
pub const PRUNE_TIME_BUDGET: Duration = Duration::from_millis(200);

/// The retention check runs at most this often (per database).
pub const AGE_PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

/// When over the size cap, prune until the pages in use are below this share
/// of the cap (percent).
pub const SIZE_CAP_TARGET_PERCENT: u64 = 90;

/// SQLite truncates the WAL file back to this size after a checkpoint, so an
/// occasional large transaction (a prune) does not leave a large file behind.
pub const JOURNAL_SIZE_LIMIT_BYTES: u64 = 4 * 1024 * 1024;

/// Checkpoint the WAL into the database once it holds this many pages
/// (SQLite's default is 1000). A run adds about 20 pages; the run path does
/// not checkpoint on exit (see [`record_run_blocking`]), so the next open
/// re-reads the WAL to rebuild its index, and a small WAL keeps that cheap,
/// while a checkpoint (two fsyncs) is paid only every few runs.
pub const WAL_AUTOCHECKPOINT_PAGES: u32 = 128;

/// The `meta` key holding the time (ms since the epoch) of the last complete
/// retention check.
const META_LAST_AGE_PRUNE: &str = "last_age_prune_ms";

/// Columns of `executions` and `match_events` whose TEXT holds JSON.
const JSON_COLUMNS: &[&str] = &[
    "environment_vars",
    "exclude_patterns",
    "success_patterns",
    "fd_patterns",
    "monitored_fds",
    "match_line_numbers",
];

/// Rows per page when exporting.
const EXPORT_PAGE_SIZE: i64 = 500;

/// The schema, embedded at compile time from `agent/migrations/`.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// What to tell the user to do when the database cannot be written.
const WHERE_ELSE: &str = "pass --db PATH, set EARLYEXIT_HOME, or use --no-telemetry";

/// A failure of the local database, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file does not exist (read-only commands never create it).
    #[error("no telemetry recorded yet at {}", path.display())]
    NotFound {
        /// The database path.
        path: PathBuf,
    },
    /// The directory for the database could not be created.
    #[error("cannot create telemetry directory {}: {source}; {WHERE_ELSE}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The file system error.
        source: io::Error,
    },
    /// The file system (or the file) is read-only.
    #[error("cannot write telemetry database {}: read-only ({detail}); {WHERE_ELSE}", path.display())]
    ReadOnly {
        /// The database path.
        path: PathBuf,
        /// What the system said.
        detail: String,
    },
    /// The user may not create or write the file.
    #[error(
        "cannot open telemetry database {}: permission denied ({detail}); fix the owner or mode of the file and its directory, or {WHERE_ELSE}",
        path.display()
    )]
    PermissionDenied {
        /// The database path.
        path: PathBuf,
        /// What the system said.
        detail: String,
    },
    /// SQLite could not open the file (missing directory, not a regular file, …).
    #[error("cannot open telemetry database {}: {detail}; {WHERE_ELSE}", path.display())]
    CannotOpen {
        /// The database path.
        path: PathBuf,
        /// What SQLite said.
        detail: String,
    },
    /// Another process held the write lock for longer than [`BUSY_TIMEOUT`].
    #[error(
        "telemetry database {} is locked by another process (waited {}s); retry, or pass --db PATH to use another file",
        path.display(),
        BUSY_TIMEOUT.as_secs()
    )]
    Locked {
        /// The database path.
        path: PathBuf,
    },
    /// The file is not a SQLite database or is damaged.
    #[error(
        "telemetry database {p} is corrupt or not a SQLite database ({detail}); move it aside (mv {p} {p}.bad) and a new one is started on the next run, or pass --db PATH",
        p = path.display()
    )]
    Corrupt {
        /// The database path.
        path: PathBuf,
        /// What SQLite said.
        detail: String,
    },
    /// The disk is full.
    #[error(
        "cannot write telemetry database {}: disk full; free some space, lower max_db_size_mb, or use --no-telemetry",
        path.display()
    )]
    DiskFull {
        /// The database path.
        path: PathBuf,
    },
    /// The database was written by a newer earlyexit with a schema this one does not know.
    #[error(
        "telemetry database {} was written by a newer earlyexit (schema version {version} is unknown to this one); upgrade earlyexit, or pass --db PATH to use another file",
        path.display()
    )]
    TooNew {
        /// The database path.
        path: PathBuf,
        /// The unknown migration version found in the file.
        version: i64,
    },
    /// The schema could not be brought up to date for another reason.
    #[error(
        "cannot update the schema of telemetry database {}: {source}; move the file aside to start a new one, or pass --db PATH",
        path.display()
    )]
    Migrate {
        /// The database path.
        path: PathBuf,
        /// The migration error.
        source: MigrateError,
    },
    /// Another file system error on the database file or its directory.
    #[error("cannot use telemetry database {}: {source}; {WHERE_ELSE}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Any other database error (a bug, most likely: please report it).
    #[error("telemetry database {}: {source}", path.display())]
    Sqlite {
        /// The database path.
        path: PathBuf,
        /// The sqlx error.
        source: sqlx::Error,
    },
    /// The async runtime used to talk to the database could not start.
    #[error("cannot start the runtime for the telemetry database: {0}; use --no-telemetry")]
    Runtime(#[source] io::Error),
    /// The write-behind spool could not be used.
    #[error(transparent)]
    Spool(#[from] crate::spool::SpoolError),
}

impl StoreError {
    /// Classifies a sqlx error by what the user can do about it.
    fn from_sqlx(path: &Path, source: sqlx::Error) -> StoreError {
        let (code, detail) = match source {
            sqlx::Error::Io(io) => return StoreError::from_io(path, io),
            sqlx::Error::PoolTimedOut => {
                return StoreError::Locked {
                    path: path.to_path_buf(),
                };
            }
            sqlx::Error::Database(ref db) => (
                db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0) & 0xff,
                db.message().to_string(),
            ),
            _ => (0, String::new()),
        };
        let path = path.to_path_buf();
        // Primary SQLite result codes: https://www.sqlite.org/rescode.html
        match code {
            5 | 6 => StoreError::Locked { path },
            8 => StoreError::ReadOnly { path, detail },
            11 | 26 => StoreError::Corrupt { path, detail },
            13 => StoreError::DiskFull { path },
            14 => StoreError::CannotOpen { path, detail },
            23 => StoreError::PermissionDenied { path, detail },
            _ => StoreError::Sqlite { path, source },
        }
    }

    /// Classifies a file system error on `path`.
    fn from_io(path: &Path, source: io::Error) -> StoreError {
        let path = path.to_path_buf();
        match source.kind() {
            io::ErrorKind::ReadOnlyFilesystem => StoreError::ReadOnly {
                path,
                detail: source.to_string(),
            },
            io::ErrorKind::PermissionDenied => StoreError::PermissionDenied {
                path,
                detail: source.to_string(),
            },
            io::ErrorKind::StorageFull => StoreError::DiskFull { path },
            _ => StoreError::Io { path, source },
        }
    }

    fn from_migrate(path: &Path, source: MigrateError) -> StoreError {
        match source {
            MigrateError::VersionMissing(version) => StoreError::TooNew {
                path: path.to_path_buf(),
                version,
            },
            MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => {
                match StoreError::from_sqlx(path, e) {
                    StoreError::Sqlite { path, source } => StoreError::Migrate {
                        path,
                        source: MigrateError::Execute(source),
                    },
                    classified => classified,
                }
            }
            source => StoreError::Migrate {
                path: path.to_path_buf(),
                source,
            },
        }
    }
}

/// Rows deleted from each table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeleteCounts {
    /// `executions` rows (runs).
    pub runs: u64,
    /// `match_events` rows.
    pub match_events: u64,
    /// `output_samples` rows.
    pub output_samples: u64,
    /// `performance_metrics` rows.
    pub performance_metrics: u64,
    /// `feedback` rows.
    pub feedback: u64,
    /// Runs among `runs` that were still waiting to be sent to the
    /// collector (pending in the outbox): lost to the collector, and
    /// counted in `sync_state` (see `earlyexit sync --status`).
    pub unsent: u64,
}

impl DeleteCounts {
    fn add(&mut self, other: DeleteCounts) {
        self.runs += other.runs;
        self.unsent += other.unsent;
        self.match_events += other.match_events;
        self.output_samples += other.output_samples;
        self.performance_metrics += other.performance_metrics;
        self.feedback += other.feedback;
    }
}

/// What [`Store::enforce_limits`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    /// The retention check ran (it runs at most once per [`AGE_PRUNE_INTERVAL`]).
    pub age_checked: bool,
    /// Deleted because they were older than the retention period.
    pub expired: DeleteCounts,
    /// Deleted (oldest first) because the database was over its size cap.
    pub over_size_cap: DeleteCounts,
    /// Bytes of pages in use before pruning.
    pub used_bytes_before: u64,
    /// Bytes of pages in use after pruning.
    pub used_bytes_after: u64,
    /// The time budget ran out before the limits were met; later runs carry on.
    pub incomplete: bool,
}

/// Totals of the runs of one pattern, as kept in `pattern_effectiveness`.
#[derive(Debug, Default, Clone, PartialEq)]
struct PatternTotals {
    pattern: String,
    total_uses: i64,
    successful_exits: i64,
    false_positives: i64,
    missed_errors: i64,
    runs_with_match: i64,
    sum_time_to_match: f64,
    sum_total_runtime: f64,
    rated_runs: i64,
    sum_user_rating: i64,
}

/// The aggregate over `executions` that yields [`PatternTotals`]; the
/// definitions must agree with [`PatternTotals::of_run`].
macro_rules! pattern_totals_sql {
    ($where:literal) => {
        concat!(
            "SELECT pattern, count(*), ",
            "coalesce(sum(exit_reason = 'match'), 0), ",
            "coalesce(sum(false_positive_flag = 1), 0), ",
            "coalesce(sum((exit_reason = 'completed' AND (coalesce(child_exit_code, 0) <> 0 ",
            "OR child_signal IS NOT NULL)) OR (coalesce(should_have_exited, 0) = 1 ",
            "AND exit_reason <> 'match')), 0), ",
            "count(time_to_first_match), total(time_to_first_match), total(total_runtime), ",
            "count(user_rating), coalesce(sum(user_rating), 0) ",
            "FROM executions WHERE pattern <> '' AND ",
            $where,
            " GROUP BY pattern"
        )
    };
}

impl PatternTotals {
    /// The contribution of one freshly recorded run (no feedback yet).
    fn of_run(e: &Execution) -> PatternTotals {
        let child_failed = e.child_exit_code.unwrap_or(0) != 0 || e.child_signal.is_some();
        PatternTotals {
            pattern: e.pattern.clone(),
            total_uses: 1,
            successful_exits: i64::from(e.exit_reason == ExitReason::Match),
            false_positives: 0,
            missed_errors: i64::from(e.exit_reason == ExitReason::Completed && child_failed),
            runs_with_match: i64::from(e.time_to_first_match.is_some()),
            sum_time_to_match: e.time_to_first_match.unwrap_or(0.0),
            sum_total_runtime: e.total_runtime,
            rated_runs: 0,
            sum_user_rating: 0,
        }
    }

    fn from_row(row: &SqliteRow) -> Result<PatternTotals, sqlx::Error> {
        Ok(PatternTotals {
            pattern: row.try_get(0)?,
            total_uses: row.try_get(1)?,
            successful_exits: row.try_get(2)?,
            false_positives: row.try_get(3)?,
            missed_errors: row.try_get(4)?,
            runs_with_match: row.try_get(5)?,
            sum_time_to_match: row.try_get(6)?,
            sum_total_runtime: row.try_get(7)?,
            rated_runs: row.try_get(8)?,
            sum_user_rating: row.try_get(9)?,
        })
    }

    fn negated(self) -> PatternTotals {
        PatternTotals {
            total_uses: -self.total_uses,
            successful_exits: -self.successful_exits,
            false_positives: -self.false_positives,
            missed_errors: -self.missed_errors,
            runs_with_match: -self.runs_with_match,
            sum_time_to_match: -self.sum_time_to_match,
            sum_total_runtime: -self.sum_total_runtime,
            rated_runs: -self.rated_runs,
            sum_user_rating: -self.sum_user_rating,
            pattern: self.pattern,
        }
    }

    /// Binds the values of [`UPSERT_PATTERN_SQL`].
    fn bind_upsert<'q>(&self, query: SqliteQuery<'q>, now: &str) -> SqliteQuery<'q> {
        query
            .bind(sha256_hex(&self.pattern))
            .bind(self.pattern.clone())
            .bind(self.total_uses)
            .bind(self.successful_exits)
            .bind(self.false_positives)
            .bind(self.missed_errors)
            .bind(self.runs_with_match)
            .bind(self.sum_time_to_match)
            .bind(self.sum_total_runtime)
            .bind(self.rated_runs)
            .bind(self.sum_user_rating)
            .bind(now.to_string())
    }

    /// Adds these totals to the pattern's row (creating it), and drops the
    /// row when no run of the pattern is left.
    async fn apply(&self, conn: &mut SqliteConnection, now: &str) -> Result<(), sqlx::Error> {
        self.bind_upsert(sqlx::query(UPSERT_PATTERN_SQL), now)
            .execute(&mut *conn)
            .await?;
        if self.total_uses < 0 {
            sqlx::query(
                "DELETE FROM pattern_effectiveness WHERE pattern_hash = ? AND total_uses <= 0",
            )
            .bind(sha256_hex(&self.pattern))
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

/// One row of `pattern_effectiveness`.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct PatternEffectiveness {
    /// SHA-256 (hex) of the pattern.
    pub pattern_hash: String,
    /// The pattern.
    pub pattern: String,
    /// Runs with this pattern.
    pub total_uses: i64,
    /// Runs that ended by a match.
    pub successful_exits: i64,
    /// Runs flagged as false positives by feedback.
    pub false_positives: i64,
    /// Runs that failed without the pattern stopping them.
    pub missed_errors: i64,
    /// Mean time to the first match, seconds, over runs that matched.
    pub avg_time_to_match: Option<f64>,
    /// Mean runtime, seconds.
    pub avg_total_runtime: Option<f64>,
    /// Mean user rating (1–5), when any run was rated.
    pub user_rating_avg: Option<f64>,
    /// F1 score of catching failing runs, 0..1; `None` without evidence.
    pub effectiveness_score: Option<f64>,
    /// When the row last changed, RFC 3339.
    pub last_updated: String,
}

/// One line of `stats`' recent-runs table.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct RecentRun {
    /// The run's id.
    pub execution_id: String,
    /// Start, ms since the epoch.
    pub started_at_ms: i64,
    /// The command line.
    pub command: String,
    /// Why it ended (`ExitReason::as_str`).
    pub exit_reason: String,
    /// earlyexit's exit code.
    pub exit_code: i64,
    /// Runtime, seconds.
    pub total_runtime: f64,
    /// Counted matches.
    pub match_count: i64,
}

/// Runs per exit reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ReasonCount {
    /// The exit reason.
    pub exit_reason: String,
    /// Runs that ended that way.
    pub runs: i64,
}

/// Run count and runtime percentiles of one command.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandStats {
    /// SHA-256 (hex) of the command.
    pub command_hash: String,
    /// The command line (of its latest run).
    pub command: String,
    /// Runs of the command.
    pub runs: i64,
    /// Median runtime, seconds (nearest rank).
    pub median_runtime: f64,
    /// 95th percentile runtime, seconds (nearest rank).
    pub p95_runtime: f64,
}

/// Totals over all runs in a time window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunTotals {
    /// Runs.
    pub runs: i64,
    /// Runs with at least one counted match.
    pub runs_with_match: i64,
}

/// How a column's values should be rendered when exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Declared `BOOLEAN`: 0/1 rendered as false/true.
    Boolean,
    /// Declared `REAL`: always rendered as a floating point number.
    Real,
    /// TEXT holding a JSON document.
    Json,
    /// Anything else: rendered as stored.
    Plain,
}

/// A column of an exported table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The column name.
    pub name: String,
    /// How to render it.
    pub kind: ColumnKind,
}

/// One stored value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// A `BOOLEAN` column's value.
    Bool(bool),
    /// An INTEGER.
    Integer(i64),
    /// A REAL.
    Real(f64),
    /// TEXT (BLOBs are decoded lossily).
    Text(String),
}

/// One run as exported: its `executions` row and its `match_events` rows.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedRun {
    /// Values in the order of [`RunPages::execution_columns`].
    pub execution: Vec<Cell>,
    /// One entry per match event, values in the order of
    /// [`RunPages::match_columns`], in match order.
    pub match_events: Vec<Vec<Cell>>,
}

impl Cell {
    /// The value as plain JSON (TEXT stays a string, even when it holds JSON).
    fn to_json(&self) -> serde_json::Value {
        match self {
            Cell::Null => serde_json::Value::Null,
            Cell::Bool(b) => serde_json::Value::Bool(*b),
            Cell::Integer(i) => serde_json::Value::from(*i),
            Cell::Real(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Cell::Text(t) => serde_json::Value::String(t.clone()),
        }
    }
}

fn row_object(columns: &[Column], cells: &[Cell]) -> serde_json::Value {
    serde_json::Value::Object(
        columns
            .iter()
            .zip(cells)
            .map(|(c, cell)| (c.name.clone(), cell.to_json()))
            .collect(),
    )
}

impl ExportedRun {
    /// The run as a [`RunRecord`] with its execution and match events
    /// (output samples and metrics are not part of an export page: add them
    /// with [`Store::run_samples_and_metrics`]).
    pub fn to_record(&self, pages: &RunPages<'_>) -> Result<RunRecord, serde_json::Error> {
        let execution =
            serde_json::from_value(row_object(pages.execution_columns(), &self.execution))?;
        let matches = self
            .match_events
            .iter()
            .map(|event| serde_json::from_value(row_object(pages.match_columns(), event)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RunRecord {
            execution,
            matches,
            samples: Vec::new(),
            metrics: Vec::new(),
        })
    }
}

/// Pages through the runs to export, oldest first, a bounded number at a
/// time (each page is its own short read, so a slow reader of the export
/// never holds the database).
pub struct RunPages<'a> {
    store: &'a Store,
    since_ms: i64,
    after: Option<(i64, String)>,
    execution_columns: Vec<Column>,
    match_columns: Vec<Column>,
    execution_sql: String,
    match_sql: String,
    id_index: usize,
    done: bool,
}

impl RunPages<'_> {
    /// The exported `executions` columns, in table order.
    pub fn execution_columns(&self) -> &[Column] {
        &self.execution_columns
    }

    /// The exported `match_events` columns (all but `execution_id`).
    pub fn match_columns(&self) -> &[Column] {
        &self.match_columns
    }

    /// The next page of runs; `None` after the last one.
    pub async fn next_page(&mut self) -> Result<Option<Vec<ExportedRun>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let path = &self.store.path;
        let err = |e| StoreError::from_sqlx(path, e);
        let (after_ms, after_id) = self.after.clone().unwrap_or((i64::MIN, String::new()));
        let rows = sqlx::query(AssertSqlSafe(self.execution_sql.as_str()))
            .bind(self.since_ms)
            .bind(after_ms)
            .bind(after_id)
            .bind(EXPORT_PAGE_SIZE)
            .fetch_all(&self.store.pool)
            .await
            .map_err(err)?;
        if rows.len() < EXPORT_PAGE_SIZE as usize {
            self.done = true;
        }
        if rows.is_empty() {
            return Ok(None);
        }
        let mut runs = Vec::with_capacity(rows.len());
        let mut ids = Vec::with_capacity(rows.len());
        for row in &rows {
            let cells = row_cells(row, &self.execution_columns).map_err(err)?;
            ids.push(text_cell(&cells[self.id_index]).to_string());
            runs.push(ExportedRun {
                execution: cells,
                match_events: Vec::new(),
            });
        }
        if let (Some(last), Some(last_id)) = (rows.last(), ids.last()) {
            self.after = Some((last.try_get("started_at_ms").map_err(err)?, last_id.clone()));
        }
        let id_list = serde_json::to_string(&ids).unwrap_or_default();
        let event_rows = sqlx::query(AssertSqlSafe(self.match_sql.as_str()))
            .bind(id_list)
            .fetch_all(&self.store.pool)
            .await
            .map_err(err)?;
        let position: HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        for row in &event_rows {
            let id: String = row.try_get("execution_id").map_err(err)?;
            if let Some(&i) = position.get(id.as_str()) {
                runs[i]
                    .match_events
                    .push(row_cells(row, &self.match_columns).map_err(err)?);
            }
        }
        Ok(Some(runs))
    }
}

/// `"a", "b"`: the quoted column names for a SELECT list.
fn column_list(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| format!("\"{}\"", c.name.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn text_cell(cell: &Cell) -> &str {
    match cell {
        Cell::Text(text) => text,
        _ => "",
    }
}

/// Decodes the given columns of `row` (by name) into cells.
fn row_cells(row: &SqliteRow, columns: &[Column]) -> Result<Vec<Cell>, sqlx::Error> {
    columns
        .iter()
        .map(|column| {
            let raw = row.try_get_raw(column.name.as_str())?;
            if raw.is_null() {
                return Ok(Cell::Null);
            }
            let cell = match raw.type_info().name() {
                "INTEGER" => {
                    let value: i64 = row.try_get(column.name.as_str())?;
                    match column.kind {
                        ColumnKind::Boolean => Cell::Bool(value != 0),
                        // SQLite may store an integral REAL as an INTEGER.
                        ColumnKind::Real => Cell::Real(value as f64),
                        _ => Cell::Integer(value),
                    }
                }
                "REAL" => Cell::Real(row.try_get(column.name.as_str())?),
                "TEXT" => Cell::Text(row.try_get(column.name.as_str())?),
                _ => {
                    let bytes: Vec<u8> = row.try_get(column.name.as_str())?;
                    Cell::Text(String::from_utf8_lossy(&bytes).into_owned())
                }
            };
            Ok(cell)
        })
        .collect()
}

/// The local telemetry database. Open it once per process; every method
/// takes `&self`.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    path: PathBuf,
}

impl Store {
    /// Opens the database at `path`, creating it (and its directory) when
    /// missing, and brings the schema up to date.
    ///
    /// A new directory gets mode 0700 and a new file mode 0600, whatever the
    /// umask. Existing directories and files are left as they are.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let is_new = create_private_file(path)?;
        Store::connect(path, is_new, BUSY_TIMEOUT).await
    }

    /// Opens an existing database for the read and maintenance commands;
    /// [`StoreError::NotFound`] when there is none (it is never created).
    pub async fn open_existing(path: &Path) -> Result<Store, StoreError> {
        let spool = crate::spool::spool_path(path);
        let store = match std::fs::metadata(path) {
            Ok(_) => Store::connect(path, false, BUSY_TIMEOUT).await?,
            // Runs may so far all sit in the spool.
            Err(e) if e.kind() == io::ErrorKind::NotFound && crate::spool::size(&spool) > 0 => {
                Store::open(path).await?
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound {
                    path: path.to_path_buf(),
                });
            }
            Err(e) => return Err(StoreError::from_io(path, e)),
        };
        // The read and maintenance commands see every run, spooled ones too.
        store.ingest_spool(&spool).await?;
        Ok(store)
    }

    /// Moves the runs waiting in the spool at `spool` into the database and
    /// empties it; runs already stored (a crash between commit and clear)
    /// are skipped. Returns how many runs were added.
    pub async fn ingest_spool(&self, spool: &Path) -> Result<usize, StoreError> {
        let Some(batch) = crate::spool::take(spool)? else {
            return Ok(0);
        };
        let mut added = 0;
        for run in &batch.runs {
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM executions WHERE execution_id = ?")
                    .bind(&run.execution.execution_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(self.sql_err())?;
            if exists.is_none() {
                self.record_run(run).await?;
                added += 1;
            }
        }
        batch.clear()?;
        Ok(added)
    }

    async fn connect(path: &Path, is_new: bool, busy: Duration) -> Result<Store, StoreError> {
        let mut options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(false)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(busy)
            .pragma("journal_size_limit", JOURNAL_SIZE_LIMIT_BYTES.to_string())
            .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string());
        if is_new {
            // Only takes effect before the first table exists; lets the size
            // cap give pages back to the file system.
            options = options.auto_vacuum(SqliteAutoVacuum::Incremental);
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .test_before_acquire(false)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(busy + Duration::from_secs(1))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::from_sqlx(path, e))?;
        let store = Store {
            pool,
            path: path.to_path_buf(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection pool, for the modules that own tables of their own in
    /// this database (`sync::outbox`).
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Classifies a sqlx error on this database (see [`StoreError`]).
    pub(crate) fn error(&self, e: sqlx::Error) -> StoreError {
        StoreError::from_sqlx(&self.path, e)
    }

    /// Closes the connection cleanly (checkpointing the WAL when this is the
    /// last connection to the database).
    pub async fn close(self) {
        self.pool.close().await;
    }

    /// Leaves the connection open until the process exits, skipping the
    /// checkpoint that closing it would do (see [`record_run_blocking`]).
    pub(crate) fn leave_open_until_exit(self) {
        std::mem::forget(self.pool);
    }

    fn sql_err(&self) -> impl Fn(sqlx::Error) -> StoreError + '_ {
        |e| StoreError::from_sqlx(&self.path, e)
    }

    /// Applies pending migrations. The common case (schema current) is one
    /// read; otherwise the migrations run under the write lock, so processes
    /// opening a new database at the same time apply them once.
    async fn migrate(&self) -> Result<(), StoreError> {
        if self.schema_is_current().await? {
            return Ok(());
        }
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(self.sql_err())?;
        MIGRATOR
            .run(&mut *tx)
            .await
            .map_err(|e| StoreError::from_migrate(&self.path, e))?;
        tx.commit().await.map_err(self.sql_err())
    }

    async fn schema_is_current(&self) -> Result<bool, StoreError> {
        let applied: Vec<(i64, Vec<u8>)> = match sqlx::query_as(
            "SELECT version, checksum FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await
        {
            Ok(rows) => rows,
            Err(sqlx::Error::Database(e)) if e.message().starts_with("no such table") => {
                return Ok(false);
            }
            Err(e) => return Err(StoreError::from_sqlx(&self.path, e)),
        };
        let mut known = MIGRATOR
            .iter()
            .filter(|m| !m.migration_type.is_down_migration());
        let mut applied = applied.iter();
        loop {
            match (known.next(), applied.next()) {
                (None, None) => return Ok(true),
                (Some(k), Some((version, checksum)))
                    if k.version == *version && *k.checksum == **checksum => {}
                _ => return Ok(false),
            }
        }
    }

    /// Writes every row of `run` — the execution, its match events (with new
    /// UUIDv7 ids), samples and metrics, and at a sending telemetry level
    /// (`anonymous`, `full`) its pending outbox row — and adds it to the pattern's
    /// `pattern_effectiveness` row (unless the pattern is empty), all in one
    /// transaction: either everything is stored or nothing is.
    ///
    /// The transaction and its inserts go to SQLite as one batch of
    /// statements (`BEGIN IMMEDIATE; INSERT …; COMMIT`: one round trip to
    /// the connection's thread), because on the run path each round trip
    /// costs more than the inserts. Cancel-safe: when the future is dropped
    /// half-way, the connection is closed, which rolls the transaction back.
    pub async fn record_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        let e = &run.execution;
        let mut sql = String::with_capacity(4096);
        sql.push_str("BEGIN IMMEDIATE;");
        sql.push_str(INSERT_EXECUTION_SQL);
        let outbox_level = crate::sync::outbox::sendable_level(&e.telemetry_level);
        if outbox_level.is_some() {
            sql.push_str(crate::sync::outbox::INSERT_PENDING_SQL);
        }
        if !run.matches.is_empty() {
            sql.push_str(INSERT_MATCH_EVENTS_JSON_SQL);
        }
        push_values_rows(&mut sql, INSERT_OUTPUT_SAMPLES_SQL, 7, run.samples.len());
        push_values_rows(&mut sql, INSERT_METRICS_SQL, 5, run.metrics.len());
        if !e.pattern.is_empty() {
            sql.push_str(UPSERT_PATTERN_SQL);
        }
        sql.push_str("COMMIT;");

        // Binds in the order of the statements above.
        let mut query = bind_execution(sqlx::query(AssertSqlSafe(sql)), e);
        if let Some(level) = outbox_level {
            query = query.bind(&e.execution_id).bind(level).bind(now_ms());
        }
        if !run.matches.is_empty() {
            // All events as one JSON array: one statement of fixed shape
            // whatever their number, unpacked by SQLite (json_each).
            let events: Vec<serde_json::Value> = run
                .matches
                .iter()
                .map(|m| {
                    serde_json::json!([
                        uuid::Uuid::now_v7().to_string(),
                        m.match_number,
                        m.timestamp_offset,
                        m.stream_source,
                        m.line_number,
                        m.line_content,
                        m.matched_substring,
                        m.match_position_start,
                        m.match_position_end,
                        m.context_before,
                        m.context_after,
                        m.kind,
                    ])
                })
                .collect();
            query = query
                .bind(&e.execution_id)
                .bind(serde_json::Value::Array(events).to_string());
        }
        for s in &run.samples {
            query = query
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(&e.execution_id)
                .bind(s.sample_type.as_str())
                .bind(&s.stream_source)
                .bind(s.timestamp_offset)
                .bind(&s.content)
                .bind(&s.content_hash);
        }
        for m in &run.metrics {
            query = query
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(&e.execution_id)
                .bind(m.metric_name.as_str())
                .bind(m.metric_value)
                .bind(m.timestamp_offset);
        }
        let now = rfc3339_now();
        if !e.pattern.is_empty() {
            query = PatternTotals::of_run(e).bind_upsert(query, &now);
        }

        let mut conn = OwnTransaction(Some(self.pool.acquire().await.map_err(self.sql_err())?));
        let result = conn.execute(query).await;
        if result.is_err() {
            // The statements before the failing one ran inside the open
            // transaction: undo them. (Fails harmlessly if BEGIN failed.)
            let _ = conn.execute(sqlx::query("ROLLBACK")).await;
        }
        conn.done();
        result.map_err(self.sql_err())
    }

    /// Deletes runs older than `retention_days` and, when the database is
    /// bigger than `max_db_size_mb`, the oldest runs until it fits (see the
    /// module documentation for the exact policy and its bounds). `0`
    /// disables a limit.
    pub async fn enforce_limits(
        &self,
        retention_days: u32,
        max_db_size_mb: u64,
    ) -> Result<PruneReport, StoreError> {
        self.enforce_limits_at(now_ms(), retention_days, max_db_size_mb, PRUNE_TIME_BUDGET)
            .await
    }

    async fn enforce_limits_at(
        &self,
        now_ms: i64,
        retention_days: u32,
        max_db_size_mb: u64,
        budget: Duration,
    ) -> Result<PruneReport, StoreError> {
        let deadline = Instant::now() + budget;
        // The common case — nothing due, under the cap — costs this one query.
        let (last_age_prune, mut used): (Option<String>, i64) = sqlx::query_as(
            "SELECT (SELECT value FROM meta WHERE key = ?), \
             (p.page_count - f.freelist_count) * s.page_size \
             FROM pragma_page_count() AS p, pragma_freelist_count() AS f, \
             pragma_page_size() AS s",
        )
        .bind(META_LAST_AGE_PRUNE)
        .fetch_one(&self.pool)
        .await
        .map_err(self.sql_err())?;
        let mut report = PruneReport {
            used_bytes_before: used.max(0) as u64,
            used_bytes_after: used.max(0) as u64,
            ..PruneReport::default()
        };
        let interval = AGE_PRUNE_INTERVAL.as_millis() as i64;
        let age_due = retention_days > 0
            && match last_age_prune.and_then(|v| v.parse::<i64>().ok()) {
                // A clock that went backwards also triggers a check.
                Some(last) => now_ms < last || now_ms - last >= interval,
                None => true,
            };
        let cap = i64::try_from(max_db_size_mb.saturating_mul(1024 * 1024)).unwrap_or(i64::MAX);
        let over_cap = max_db_size_mb > 0 && used > cap;
        if !age_due && !over_cap {
            return Ok(report);
        }

        if age_due {
            report.age_checked = true;
            let cutoff = now_ms.saturating_sub(i64::from(retention_days) * 86_400_000);
            loop {
                let batch = self
                    .delete_oldest(cutoff, PRUNE_BATCH, DropCause::Expired)
                    .await?;
                report.expired.add(batch);
                if batch.runs < PRUNE_BATCH as u64 {
                    self.set_meta(META_LAST_AGE_PRUNE, &now_ms.to_string())
                        .await?;
                    break;
                }
                if Instant::now() >= deadline {
                    report.incomplete = true;
                    break;
                }
            }
            used = self.page_bytes().await?.0;
        }

        let target = cap / 100 * SIZE_CAP_TARGET_PERCENT as i64;
        if max_db_size_mb > 0 && used > cap {
            while used > target {
                if Instant::now() >= deadline {
                    report.incomplete = true;
                    break;
                }
                let runs = self.count_runs().await?;
                if runs == 0 {
                    break;
                }
                // Estimate how many of the oldest runs free enough space.
                let per_run = (used / runs).max(1);
                let limit = ((used - target) / per_run + 1).clamp(1, PRUNE_BATCH);
                let batch = self
                    .delete_oldest(i64::MAX, limit, DropCause::SizeCap)
                    .await?;
                report.over_size_cap.add(batch);
                if batch.runs == 0 {
                    break;
                }
                used = self.page_bytes().await?.0;
            }
        }

        if report.over_size_cap.runs > 0 || report.expired.runs > 0 {
            let (in_use, total) = self.page_bytes().await?;
            // Freed pages are reused by later runs anyway; give them back to
            // the file system when the cap was hit or they are a lot.
            if report.over_size_cap.runs > 0 || total - in_use > (total / 10).max(1024 * 1024) {
                self.reclaim_space().await?;
            }
            used = self.page_bytes().await?.0;
        }
        report.used_bytes_after = used.max(0) as u64;
        Ok(report)
    }

    async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await
            .map_err(self.sql_err())?;
        Ok(())
    }

    /// Bytes of pages in use and bytes of all pages (file size as seen by
    /// SQLite, including changes still in the WAL). Reads the header only.
    async fn page_bytes(&self) -> Result<(i64, i64), StoreError> {
        sqlx::query_as(
            "SELECT (p.page_count - f.freelist_count) * s.page_size, p.page_count * s.page_size \
             FROM pragma_page_count() AS p, pragma_freelist_count() AS f, pragma_page_size() AS s",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(self.sql_err())
    }

    async fn count_runs(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT count(*) FROM executions")
            .fetch_one(&self.pool)
            .await
            .map_err(self.sql_err())
    }

    /// Deletes up to `limit` of the oldest runs started before `before_ms`,
    /// with all their rows, and subtracts them from `pattern_effectiveness`,
    /// in one transaction.
    async fn delete_oldest(
        &self,
        before_ms: i64,
        limit: i64,
        cause: crate::sync::outbox::DropCause,
    ) -> Result<DeleteCounts, StoreError> {
        let err = self.sql_err();
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(&err)?;
        let rowids: Vec<i64> = sqlx::query_scalar(
            "SELECT rowid FROM executions WHERE started_at_ms < ? \
             ORDER BY started_at_ms, rowid LIMIT ?",
        )
        .bind(before_ms)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(&err)?;
        if rowids.is_empty() {
            return Ok(DeleteCounts::default());
        }
        let batch = serde_json::to_string(&rowids).unwrap_or_default();
        let totals = sqlx::query(pattern_totals_sql!(
            "rowid IN (SELECT value FROM json_each(?))"
        ))
        .bind(&batch)
        .fetch_all(&mut *tx)
        .await
        .map_err(&err)?;
        let totals = totals
            .iter()
            .map(PatternTotals::from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        let (match_events, output_samples, performance_metrics, feedback, unsent): (
            i64,
            i64,
            i64,
            i64,
            i64,
        ) = sqlx::query_as(
            "WITH batch AS (SELECT execution_id FROM executions \
                 WHERE rowid IN (SELECT value FROM json_each(?))) \
                 SELECT (SELECT count(*) FROM match_events WHERE execution_id IN batch), \
                 (SELECT count(*) FROM output_samples WHERE execution_id IN batch), \
                 (SELECT count(*) FROM performance_metrics WHERE execution_id IN batch), \
                 (SELECT count(*) FROM feedback WHERE execution_id IN batch), \
                 (SELECT count(*) FROM outbox WHERE state = 'pending' AND execution_id IN batch)",
        )
        .bind(&batch)
        .fetch_one(&mut *tx)
        .await
        .map_err(&err)?;
        let deleted =
            sqlx::query("DELETE FROM executions WHERE rowid IN (SELECT value FROM json_each(?))")
                .bind(&batch)
                .execute(&mut *tx)
                .await
                .map_err(&err)?
                .rows_affected();
        let now = rfc3339_now();
        for t in totals {
            t.negated().apply(&mut tx, &now).await.map_err(&err)?;
        }
        crate::sync::outbox::count_dropped(&mut tx, cause, unsent)
            .await
            .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        Ok(DeleteCounts {
            runs: deleted,
            match_events: match_events as u64,
            output_samples: output_samples as u64,
            performance_metrics: performance_metrics as u64,
            feedback: feedback as u64,
            unsent: unsent as u64,
        })
    }

    /// Returns free pages to the file system and truncates the WAL.
    async fn reclaim_space(&self) -> Result<(), StoreError> {
        sqlx::query("PRAGMA incremental_vacuum")
            .execute(&self.pool)
            .await
            .map_err(self.sql_err())?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
            .map_err(self.sql_err())?;
        Ok(())
    }

    /// Deletes every run started before `before_ms` (all of them with
    /// `i64::MAX`), with all their rows, keeping `pattern_effectiveness`
    /// consistent; returns what was deleted. Not time-bounded: for
    /// `clear-data`, not for the run path.
    pub async fn delete_runs_before(&self, before_ms: i64) -> Result<DeleteCounts, StoreError> {
        let mut total = DeleteCounts::default();
        loop {
            let batch = self
                .delete_oldest(before_ms, PRUNE_BATCH, DropCause::Cleared)
                .await?;
            total.add(batch);
            if batch.runs < PRUNE_BATCH as u64 {
                break;
            }
        }
        if total.runs > 0 {
            self.reclaim_space().await?;
        }
        Ok(total)
    }

    /// Deletes every run and everything derived from them, then rebuilds the
    /// file (`VACUUM`) so it takes no more space than an empty database.
    pub async fn delete_all(&self) -> Result<DeleteCounts, StoreError> {
        let err = self.sql_err();
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(&err)?;
        let (runs, match_events, output_samples, performance_metrics, feedback, unsent): (
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
        ) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM executions), (SELECT count(*) FROM match_events), \
             (SELECT count(*) FROM output_samples), (SELECT count(*) FROM performance_metrics), \
             (SELECT count(*) FROM feedback), \
             (SELECT count(*) FROM outbox WHERE state = 'pending')",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(&err)?;
        crate::sync::outbox::count_dropped(&mut tx, DropCause::Cleared, unsent)
            .await
            .map_err(&err)?;
        for sql in [
            "DELETE FROM outbox",
            "DELETE FROM feedback",
            "DELETE FROM performance_metrics",
            "DELETE FROM output_samples",
            "DELETE FROM match_events",
            "DELETE FROM executions",
            "DELETE FROM pattern_effectiveness",
        ] {
            sqlx::query(sql).execute(&mut *tx).await.map_err(&err)?;
        }
        tx.commit().await.map_err(&err)?;
        sqlx::query("VACUUM")
            .execute(&self.pool)
            .await
            .map_err(&err)?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
            .map_err(&err)?;
        Ok(DeleteCounts {
            runs: runs as u64,
            match_events: match_events as u64,
            output_samples: output_samples as u64,
            performance_metrics: performance_metrics as u64,
            feedback: feedback as u64,
            unsent: unsent as u64,
        })
    }

    /// Recomputes `pattern_effectiveness` from `executions`, e.g. after
    /// feedback changed a run's false-positive flag or rating.
    pub async fn rebuild_pattern_effectiveness(&self) -> Result<(), StoreError> {
        let err = self.sql_err();
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(&err)?;
        sqlx::query("DELETE FROM pattern_effectiveness")
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        let rows = sqlx::query(pattern_totals_sql!("1"))
            .fetch_all(&mut *tx)
            .await
            .map_err(&err)?;
        let now = rfc3339_now();
        for row in &rows {
            PatternTotals::from_row(row)
                .map_err(&err)?
                .apply(&mut tx, &now)
                .await
                .map_err(&err)?;
        }
        tx.commit().await.map_err(&err)
    }

    /// Every `pattern_effectiveness` row, most used first.
    pub async fn pattern_effectiveness(&self) -> Result<Vec<PatternEffectiveness>, StoreError> {
        sqlx::query_as(
            // `+ 0.0`: SQLite hands back integral values of REAL generated
            // columns as INTEGER after a sort; an expression keeps them REAL.
            "SELECT pattern_hash, pattern, total_uses, successful_exits, false_positives, \
             missed_errors, avg_time_to_match + 0.0 AS avg_time_to_match, \
             avg_total_runtime + 0.0 AS avg_total_runtime, \
             user_rating_avg + 0.0 AS user_rating_avg, \
             effectiveness_score + 0.0 AS effectiveness_score, last_updated \
             FROM pattern_effectiveness ORDER BY total_uses DESC, pattern",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(self.sql_err())
    }

    /// The output samples and performance metrics of one run, in the order
    /// they were recorded (for [`ExportedRun::to_record`] users that need
    /// the whole run, such as `export --as-sent`).
    pub async fn run_samples_and_metrics(
        &self,
        execution_id: &str,
    ) -> Result<
        (
            Vec<crate::record::OutputSample>,
            Vec<crate::record::PerformanceMetric>,
        ),
        StoreError,
    > {
        let samples: Vec<(String, String, f64, String, String)> = sqlx::query_as(
            "SELECT sample_type, stream_source, timestamp_offset, content, content_hash \
             FROM output_samples WHERE execution_id = ? ORDER BY rowid",
        )
        .bind(execution_id)
        .fetch_all(&self.pool)
        .await
        .map_err(self.sql_err())?;
        let metrics: Vec<(String, f64, f64)> = sqlx::query_as(
            "SELECT metric_name, metric_value, timestamp_offset FROM performance_metrics \
             WHERE execution_id = ? ORDER BY rowid",
        )
        .bind(execution_id)
        .fetch_all(&self.pool)
        .await
        .map_err(self.sql_err())?;
        Ok((
            samples
                .into_iter()
                .map(
                    |(sample_type, stream_source, timestamp_offset, content, content_hash)| {
                        crate::record::OutputSample {
                            sample_type,
                            stream_source,
                            timestamp_offset,
                            content,
                            content_hash,
                        }
                    },
                )
                .collect(),
            metrics
                .into_iter()
                .map(|(metric_name, metric_value, timestamp_offset)| {
                    crate::record::PerformanceMetric {
                        metric_name,
                        metric_value,
                        timestamp_offset,
                    }
                })
                .collect(),
        ))
    }

    /// The `limit` most recent runs started at or after `since_ms`, newest first.
    pub async fn recent_runs(
        &self,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<RecentRun>, StoreError> {
        sqlx::query_as(
            "SELECT execution_id, started_at_ms, command, exit_reason, exit_code, \
             total_runtime, match_count FROM executions WHERE started_at_ms >= ? \
             ORDER BY started_at_ms DESC, execution_id DESC LIMIT ?",
        )
        .bind(since_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(self.sql_err())
    }

    /// Run count and runs with a match since `since_ms`.
    pub async fn run_totals(&self, since_ms: i64) -> Result<RunTotals, StoreError> {
        let (runs, runs_with_match): (i64, i64) = sqlx::query_as(
            "SELECT count(*), coalesce(sum(match_count > 0), 0) FROM executions \
             WHERE started_at_ms >= ?",
        )
        .bind(since_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(self.sql_err())?;
        Ok(RunTotals {
            runs,
            runs_with_match,
        })
    }

    /// Runs per exit reason since `since_ms`, most frequent first.
    pub async fn exit_reason_counts(&self, since_ms: i64) -> Result<Vec<ReasonCount>, StoreError> {
        sqlx::query_as(
            "SELECT exit_reason, count(*) AS runs FROM executions WHERE started_at_ms >= ? \
             GROUP BY exit_reason ORDER BY runs DESC, exit_reason",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(self.sql_err())
    }

    /// The `limit` most run commands since `since_ms` with their run count
    /// and median and 95th percentile runtime (nearest-rank, read from the
    /// database without loading the runs).
    pub async fn command_stats(
        &self,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<CommandStats>, StoreError> {
        let groups: Vec<(String, i64)> = sqlx::query_as(
            "SELECT command_hash, count(*) AS runs FROM executions WHERE started_at_ms >= ? \
             GROUP BY command_hash ORDER BY runs DESC, max(started_at_ms) DESC LIMIT ?",
        )
        .bind(since_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(self.sql_err())?;
        let mut stats = Vec::with_capacity(groups.len());
        for (command_hash, runs) in groups {
            let command: String = sqlx::query_scalar(
                "SELECT command FROM executions WHERE command_hash = ? \
                 ORDER BY started_at_ms DESC LIMIT 1",
            )
            .bind(&command_hash)
            .fetch_one(&self.pool)
            .await
            .map_err(self.sql_err())?;
            let median_runtime = self
                .runtime_at_rank(&command_hash, since_ms, runs, 50)
                .await?;
            let p95_runtime = self
                .runtime_at_rank(&command_hash, since_ms, runs, 95)
                .await?;
            stats.push(CommandStats {
                command_hash,
                command,
                runs,
                median_runtime,
                p95_runtime,
            });
        }
        Ok(stats)
    }

    /// The nearest-rank `percent`th percentile runtime of one command's runs.
    async fn runtime_at_rank(
        &self,
        command_hash: &str,
        since_ms: i64,
        runs: i64,
        percent: i64,
    ) -> Result<f64, StoreError> {
        let rank = (percent * runs).div_euclid(100) + i64::from((percent * runs) % 100 != 0);
        sqlx::query_scalar(
            "SELECT total_runtime FROM executions WHERE command_hash = ? AND started_at_ms >= ? \
             ORDER BY total_runtime LIMIT 1 OFFSET ?",
        )
        .bind(command_hash)
        .bind(since_ms)
        .bind((rank - 1).max(0))
        .fetch_one(&self.pool)
        .await
        .map_err(self.sql_err())
    }

    /// Pages through the runs started at or after `since_ms`, oldest first,
    /// with their match events, for export.
    pub async fn export_runs(&self, since_ms: i64) -> Result<RunPages<'_>, StoreError> {
        let execution_columns = self.columns("executions").await?;
        let match_columns: Vec<Column> = self
            .columns("match_events")
            .await?
            .into_iter()
            .filter(|c| c.name != "execution_id")
            .collect();
        let list = column_list;
        let id_index = execution_columns
            .iter()
            .position(|c| c.name == "execution_id")
            .unwrap_or(0);
        Ok(RunPages {
            store: self,
            since_ms,
            after: None,
            execution_sql: format!(
                "SELECT {} FROM executions WHERE started_at_ms >= ? \
                 AND (started_at_ms, execution_id) > (?, ?) \
                 ORDER BY started_at_ms, execution_id LIMIT ?",
                list(&execution_columns)
            ),
            match_sql: format!(
                "SELECT execution_id, {} FROM match_events \
                 WHERE execution_id IN (SELECT value FROM json_each(?)) \
                 ORDER BY execution_id, match_number",
                list(&match_columns)
            ),
            execution_columns,
            match_columns,
            id_index,
            done: false,
        })
    }

    /// The complete recorded runs with these ids — execution, match events,
    /// output samples and metrics, as [`Store::record_run`] stored them — in
    /// the order of `ids`. Ids with no run are left out. One read per table,
    /// whatever the number of ids (the sync path reads a batch at a time).
    pub async fn runs_by_id(&self, ids: &[String]) -> Result<Vec<RunRecord>, StoreError> {
        let err = self.sql_err();
        let decode = |e: serde_json::Error| self.error(sqlx::Error::Decode(Box::new(e)));
        let execution_columns = self.columns("executions").await?;
        let match_columns: Vec<Column> = self
            .columns("match_events")
            .await?
            .into_iter()
            .filter(|c| c.name != "execution_id")
            .collect();
        let id_list = serde_json::to_string(ids).unwrap_or_default();
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM executions WHERE execution_id IN (SELECT value FROM json_each(?))",
            column_list(&execution_columns)
        )))
        .bind(&id_list)
        .fetch_all(&self.pool)
        .await
        .map_err(&err)?;
        let mut runs: HashMap<String, RunRecord> = HashMap::with_capacity(rows.len());
        for row in &rows {
            let cells = row_cells(row, &execution_columns).map_err(&err)?;
            let execution: Execution =
                serde_json::from_value(row_object(&execution_columns, &cells)).map_err(decode)?;
            runs.insert(
                execution.execution_id.clone(),
                RunRecord {
                    execution,
                    matches: Vec::new(),
                    samples: Vec::new(),
                    metrics: Vec::new(),
                },
            );
        }
        let event_rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT execution_id, {} FROM match_events \
             WHERE execution_id IN (SELECT value FROM json_each(?)) \
             ORDER BY execution_id, match_number",
            column_list(&match_columns)
        )))
        .bind(&id_list)
        .fetch_all(&self.pool)
        .await
        .map_err(&err)?;
        for row in &event_rows {
            let id: String = row.try_get("execution_id").map_err(&err)?;
            if let Some(run) = runs.get_mut(&id) {
                let cells = row_cells(row, &match_columns).map_err(&err)?;
                run.matches.push(
                    serde_json::from_value(row_object(&match_columns, &cells)).map_err(decode)?,
                );
            }
        }
        let samples: Vec<(String, String, String, f64, String, String)> = sqlx::query_as(
            "SELECT execution_id, sample_type, stream_source, timestamp_offset, content, \
             content_hash FROM output_samples \
             WHERE execution_id IN (SELECT value FROM json_each(?)) ORDER BY rowid",
        )
        .bind(&id_list)
        .fetch_all(&self.pool)
        .await
        .map_err(&err)?;
        for (id, sample_type, stream_source, timestamp_offset, content, content_hash) in samples {
            if let Some(run) = runs.get_mut(&id) {
                run.samples.push(crate::record::OutputSample {
                    sample_type,
                    stream_source,
                    timestamp_offset,
                    content,
                    content_hash,
                });
            }
        }
        let metrics: Vec<(String, String, f64, f64)> = sqlx::query_as(
            "SELECT execution_id, metric_name, metric_value, timestamp_offset \
             FROM performance_metrics \
             WHERE execution_id IN (SELECT value FROM json_each(?)) ORDER BY rowid",
        )
        .bind(&id_list)
        .fetch_all(&self.pool)
        .await
        .map_err(&err)?;
        for (id, metric_name, metric_value, timestamp_offset) in metrics {
            if let Some(run) = runs.get_mut(&id) {
                run.metrics.push(crate::record::PerformanceMetric {
                    metric_name,
                    metric_value,
                    timestamp_offset,
                });
            }
        }
        Ok(ids.iter().filter_map(|id| runs.remove(id)).collect())
    }

    /// The columns of `table` in order (generated columns included).
    async fn columns(&self, table: &'static str) -> Result<Vec<Column>, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT name, type FROM pragma_table_xinfo(?) ORDER BY cid")
                .bind(table)
                .fetch_all(&self.pool)
                .await
                .map_err(self.sql_err())?;
        Ok(rows
            .into_iter()
            .map(|(name, declared)| {
                let kind = if declared.eq_ignore_ascii_case("BOOLEAN") {
                    ColumnKind::Boolean
                } else if declared.eq_ignore_ascii_case("REAL") {
                    ColumnKind::Real
                } else if JSON_COLUMNS.contains(&name.as_str()) {
                    ColumnKind::Json
                } else {
                    ColumnKind::Plain
                };
                Column { name, kind }
            })
            .collect())
    }
}

/// Inserts one `executions` row; binds come from [`bind_execution`].
const INSERT_EXECUTION_SQL: &str = "INSERT INTO executions (execution_id, started_at_ms, mode, command, command_hash, \
         program, working_directory, environment_vars, pattern, pattern_type, case_insensitive, \
         invert_match, word_regexp, line_regexp, max_count, exclude_patterns, success_patterns, \
         match_mode, fd_patterns, monitored_fds, pty, overall_timeout, idle_timeout, \
         first_output_timeout, delay_exit, delay_exit_after_lines, max_repeat, kill_grace, \
         exit_code, exit_reason, child_exit_code, child_signal, error_message, total_runtime, \
         time_to_first_output, time_to_first_match, time_from_match_to_exit, idle_periods_count, \
         longest_idle_period, match_count, match_line_numbers, total_lines_processed, \
         stdout_lines, stderr_lines, fd_lines, bytes_processed, stdout_bytes, stderr_bytes, \
         project_type, command_category, load_avg_1m, mem_available_mb, disk_free_mb, \
         telemetry_level, earlyexit_version) VALUES (\
         ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \
         ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \
         ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);";

/// Inserts a run's `match_events` from one JSON array of arrays (binds: the
/// execution id, the array); the element order is the column order below.
const INSERT_MATCH_EVENTS_JSON_SQL: &str = "INSERT INTO match_events (event_id, execution_id, \
     match_number, timestamp_offset, stream_source, line_number, line_content, \
     matched_substring, match_position_start, match_position_end, context_before, \
     context_after, kind) \
     SELECT e.value ->> 0, ?, e.value ->> 1, e.value ->> 2, e.value ->> 3, e.value ->> 4, \
     e.value ->> 5, e.value ->> 6, e.value ->> 7, e.value ->> 8, e.value ->> 9, \
     e.value ->> 10, e.value ->> 11 FROM json_each(?) AS e;";

/// Inserts `output_samples` rows (7 binds each).
const INSERT_OUTPUT_SAMPLES_SQL: &str = "INSERT INTO output_samples (sample_id, execution_id, \
     sample_type, stream_source, timestamp_offset, content, content_hash) VALUES ";

/// Inserts `performance_metrics` rows (5 binds each).
const INSERT_METRICS_SQL: &str = "INSERT INTO performance_metrics (metric_id, execution_id, \
     metric_name, metric_value, timestamp_offset) VALUES ";

/// Adds a run's [`PatternTotals`] to its pattern's row, creating it; binds
/// from [`PatternTotals::bind_upsert`].
const UPSERT_PATTERN_SQL: &str = "INSERT INTO pattern_effectiveness (pattern_hash, pattern, \
     total_uses, successful_exits, false_positives, missed_errors, runs_with_match, \
     sum_time_to_match, sum_total_runtime, rated_runs, sum_user_rating, last_updated) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
     ON CONFLICT (pattern_hash) DO UPDATE SET \
     total_uses = total_uses + excluded.total_uses, \
     successful_exits = successful_exits + excluded.successful_exits, \
     false_positives = false_positives + excluded.false_positives, \
     missed_errors = missed_errors + excluded.missed_errors, \
     runs_with_match = runs_with_match + excluded.runs_with_match, \
     sum_time_to_match = sum_time_to_match + excluded.sum_time_to_match, \
     sum_total_runtime = sum_total_runtime + excluded.sum_total_runtime, \
     rated_runs = rated_runs + excluded.rated_runs, \
     sum_user_rating = sum_user_rating + excluded.sum_user_rating, \
     last_updated = excluded.last_updated;";

/// Rows per multi-row INSERT statement: keeps each statement well under
/// SQLite's limit of 32766 bound parameters.
const ROWS_PER_INSERT: usize = 1000;

/// Appends INSERT statements (`insert` followed by tuples of `width`
/// placeholders) for `rows` rows; nothing when `rows` is 0.
fn push_values_rows(sql: &mut String, insert: &str, width: usize, rows: usize) {
    let mut left = rows;
    while left > 0 {
        let chunk = left.min(ROWS_PER_INSERT);
        left -= chunk;
        sql.push_str(insert);
        for row in 0..chunk {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for column in 0..width {
                sql.push_str(if column == 0 { "?" } else { ", ?" });
            }
            sql.push(')');
        }
        sql.push(';');
    }
}

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

/// Binds the values of [`INSERT_EXECUTION_SQL`].
fn bind_execution<'q>(query: SqliteQuery<'q>, e: &'q Execution) -> SqliteQuery<'q> {
    query
        .bind(&e.execution_id)
        .bind(e.started_at_ms)
        .bind(e.mode.as_str())
        .bind(&e.command)
        .bind(&e.command_hash)
        .bind(&e.program)
        .bind(&e.working_directory)
        .bind(&e.environment_vars)
        .bind(&e.pattern)
        .bind(e.pattern_type.as_str())
        .bind(e.case_insensitive)
        .bind(e.invert_match)
        .bind(e.word_regexp)
        .bind(e.line_regexp)
        .bind(e.max_count)
        .bind(&e.exclude_patterns)
        .bind(&e.success_patterns)
        .bind(e.match_mode.as_str())
        .bind(&e.fd_patterns)
        .bind(&e.monitored_fds)
        .bind(e.pty)
        .bind(e.overall_timeout)
        .bind(e.idle_timeout)
        .bind(e.first_output_timeout)
        .bind(e.delay_exit)
        .bind(e.delay_exit_after_lines)
        .bind(e.max_repeat)
        .bind(e.kill_grace)
        .bind(e.exit_code)
        .bind(e.exit_reason.as_str())
        .bind(e.child_exit_code)
        .bind(e.child_signal)
        .bind(&e.error_message)
        .bind(e.total_runtime)
        .bind(e.time_to_first_output)
        .bind(e.time_to_first_match)
        .bind(e.time_from_match_to_exit)
        .bind(e.idle_periods_count)
        .bind(e.longest_idle_period)
        .bind(e.match_count)
        .bind(&e.match_line_numbers)
        .bind(e.total_lines_processed)
        .bind(e.stdout_lines)
        .bind(e.stderr_lines)
        .bind(e.fd_lines)
        .bind(e.bytes_processed)
        .bind(e.stdout_bytes)
        .bind(e.stderr_bytes)
        .bind(&e.project_type)
        .bind(&e.command_category)
        .bind(e.load_avg_1m)
        .bind(e.mem_available_mb)
        .bind(e.disk_free_mb)
        .bind(e.telemetry_level.as_str())
        .bind(e.earlyexit_version.as_str())
}

/// Creates the parent directory of `path` with mode 0700 when it is missing.
pub(crate) fn create_private_parent(path: &Path) -> Result<(), StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        crate::spool::create_private_dir(dir).map_err(|source| {
            match StoreError::from_io(dir, source) {
                StoreError::Io { path, source } => StoreError::CreateDir { path, source },
                other => other,
            }
        })?;
    }
    Ok(())
}

/// Creates `path` (and a missing parent directory) privately; returns true
/// when the database file is new or empty.
fn create_private_file(path: &Path) -> Result<bool, StoreError> {
    create_private_parent(path)?;
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(file) => {
            // The mode above is filtered by the umask; make it exact.
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| StoreError::from_io(path, e))?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let meta = std::fs::metadata(path).map_err(|e| StoreError::from_io(path, e))?;
            Ok(meta.len() == 0)
        }
        Err(e) => Err(StoreError::from_io(path, e)),
    }
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

/// Records `run` in the database at `db_path` (creating it if needed) and
/// enforces the retention and size limits; blocks until done.
///
/// Meant for the run path of a process that exits right afterwards: to stay
/// within the run's overhead budget it does not close the connection, which
/// would checkpoint the WAL into the database and delete it (two fsyncs and
/// a file re-created by the next run). The connection is released when the
/// process exits, as after any exit; every committed run is already in the
/// WAL, and the next open rebuilds the WAL index from it. SQLite's
/// auto-checkpoint ([`WAL_AUTOCHECKPOINT_PAGES`]) keeps the WAL small. A
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
        let stopped = || {
            StoreError::Runtime(io::Error::other(
                "the telemetry thread stopped without an answer",
            ))
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
        let _ = self.jobs.send(job);
        self.done.recv().unwrap_or_else(|_| {
            Err(StoreError::Runtime(io::Error::other(
                "the telemetry thread stopped without an answer",
            )))
        })
    }
}

/// A pooled connection running a batch that begins and ends its own
/// transaction. Unless [`OwnTransaction::done`] is called — the batch
/// committed or was rolled back — the connection may still be inside the
/// transaction (the future was dropped half-way), so it is closed, which
/// rolls back, instead of going back to the pool.
struct OwnTransaction(Option<sqlx::pool::PoolConnection<sqlx::Sqlite>>);

impl OwnTransaction {
    async fn execute(&mut self, query: SqliteQuery<'_>) -> Result<(), sqlx::Error> {
        match self.0.as_mut() {
            Some(conn) => query.execute(&mut **conn).await.map(drop),
            None => Err(sqlx::Error::PoolClosed),
        }
    }

    fn done(mut self) {
        drop(self.0.take());
    }
}

impl Drop for OwnTransaction {
    fn drop(&mut self) {
        if let Some(conn) = self.0.as_mut() {
            conn.close_on_drop();
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
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

fn rfc3339_now() -> String {
    rfc3339_ms(now_ms())
}

/// Hex SHA-256 of `text` (how `command_hash` and `pattern_hash` are made).
pub(crate) fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        hex.push(char::from_digit(u32::from(byte & 0xf), 16).unwrap_or('0'));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::MatchEvent;
    use crate::record::tests_support::{completed_run, sample_run};
    use std::os::unix::fs::MetadataExt;

    const DAY_MS: i64 = 86_400_000;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o777
    }

    async fn count(store: &Store, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&store.pool)
            .await
            .unwrap()
    }

    async fn count_for(store: &Store, table: &str, execution_id: &str) -> i64 {
        sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE execution_id = ?"
        )))
        .bind(execution_id)
        .fetch_one(&store.pool)
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn open_creates_private_directory_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home").join(".earlyexit");
        let db = home.join(DB_FILE_NAME);
        let store = Store::open(&db).await.unwrap();
        store.record_run(&sample_run(now_ms())).await.unwrap();
        assert_eq!(mode(&home), 0o700);
        assert_eq!(mode(&db), 0o600);
        // SQLite gives the WAL the database file's mode.
        let wal = db.with_extension("db-wal");
        assert!(wal.exists(), "WAL journal mode is on");
        assert_eq!(mode(&wal), 0o600);
        store.close().await;
    }

    /// Run by `open_is_private_under_a_permissive_umask` in a child process
    /// whose umask is 000; does nothing on its own.
    #[tokio::test]
    async fn open_in_child_process() {
        if let Ok(db) = std::env::var("EARLYEXIT_TEST_CHILD_DB") {
            let store = Store::open(Path::new(&db)).await.unwrap();
            store.record_run(&sample_run(now_ms())).await.unwrap();
            store.close().await;
        }
    }

    #[test]
    fn open_is_private_under_a_permissive_umask() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("new-home");
        let db = home.join(DB_FILE_NAME);
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg("umask 000 && exec \"$0\" \"$@\"")
            .arg(std::env::current_exe().unwrap())
            .args(["--exact", "store::tests::open_in_child_process", "--quiet"])
            .env("EARLYEXIT_TEST_CHILD_DB", &db)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        assert!(db.exists(), "the child process created the database");
        assert_eq!(mode(&home), 0o700);
        assert_eq!(mode(&db), 0o600);
    }

    #[tokio::test]
    async fn reopening_keeps_data_and_applies_migrations_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(DB_FILE_NAME);
        let store = Store::open(&db).await.unwrap();
        store.record_run(&sample_run(now_ms())).await.unwrap();
        store.close().await;
        let store = Store::open(&db).await.unwrap();
        assert_eq!(count(&store, "SELECT count(*) FROM executions").await, 1);
        assert_eq!(
            count(&store, "SELECT count(*) FROM _sqlx_migrations").await,
            MIGRATOR.iter().count() as i64
        );
        store.record_run(&sample_run(now_ms())).await.unwrap();
        assert_eq!(count(&store, "SELECT count(*) FROM executions").await, 2);
        let auto_vacuum: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(auto_vacuum, 2, "new databases use incremental auto-vacuum");
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(journal, "wal");
    }

    #[tokio::test]
    async fn concurrent_first_opens_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(DB_FILE_NAME);
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let db = db.clone();
                std::thread::spawn(move || record_run_blocking(&db, &sample_run(now_ms()), 90, 100))
            })
            .collect();
        for handle in handles {
            handle.join().unwrap().unwrap();
        }
        let store = Store::open_existing(&db).await.unwrap();
        assert_eq!(count(&store, "SELECT count(*) FROM executions").await, 6);
    }

    #[tokio::test]
    async fn record_run_writes_every_row_of_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(DB_FILE_NAME)).await.unwrap();
        let run = sample_run(now_ms());
        store.record_run(&run).await.unwrap();
        let id = &run.execution.execution_id;
        assert_eq!(count_for(&store, "executions", id).await, 1);
        assert_eq!(count_for(&store, "match_events", id).await, 2);
        assert_eq!(count_for(&store, "output_samples", id).await, 1);
        assert_eq!(count_for(&store, "performance_metrics", id).await, 2);

        let (command, reason, pattern_type, case_insensitive, ts): (
            String,
            String,
            String,
            bool,
            String,
        ) = sqlx::query_as(
            "SELECT command, exit_reason, pattern_type, case_insensitive, timestamp \
                 FROM executions WHERE execution_id = ?",
        )
        .bind(id)
        .fetch_one(&store.pool)
        .await
        .unwrap();
        assert_eq!(command, "cargo test --workspace");
        assert_eq!(reason, "match");
        assert_eq!(pattern_type, "regex");
        assert!(!case_insensitive);
        assert_eq!(ts, rfc3339_ms(run.execution.started_at_ms));

        let events: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT event_id, match_number, matched_substring FROM match_events \
             WHERE execution_id = ? ORDER BY match_number",
        )
        .bind(id)
        .fetch_all(&store.pool)
        .await
        .unwrap();
        assert_eq!(events[0].1, 1);
        assert_eq!(events[1].2, "FAIL");
        assert_ne!(events[0].0, events[1].0);
        for (event_id, _, _) in &events {
            let uuid = uuid::Uuid::parse_str(event_id).unwrap();
            assert_eq!(uuid.get_version_num(), 7);
        }

        let pe = store.pattern_effectiveness().await.unwrap();
        assert_eq!(pe.len(), 1);
        assert_eq!(pe[0].pattern, "error|FAIL");
        assert_eq!(pe[0].pattern_hash, sha256_hex("error|FAIL"));
        assert_eq!((pe[0].total_uses, pe[0].successful_exits), (1, 1));
        assert_eq!(pe[0].avg_time_to_match, Some(4.0));
        assert_eq!(pe[0].effectiveness_score, Some(1.0));
    }

    #[tokio::test]
    async fn a_run_with_thousands_of_matches_is_stored_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(DB_FILE_NAME)).await.unwrap();
        let mut run = sample_run(now_ms());
        let template = run.matches[0].clone();
        run.matches = (1..=2500)
            .map(|n| MatchEvent {
                match_number: n,
                line_number: n * 2,
                ..template.clone()
            })
            .collect();
        store.record_run(&run).await.unwrap();
        let id = &run.execution.execution_id;
        assert_eq!(count_for(&store, "match_events", id).await, 2500);
        let last: i64 =
            sqlx::query_scalar("SELECT max(line_number) FROM match_events WHERE execution_id = ?")
                .bind(id)
                .fetch_one(&store.pool)
                .await
                .unwrap();
        assert_eq!(last, 5000);
    }

    #[tokio::test]
    async fn a_database_from_a_newer_version_is_refused_with_advice() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(DB_FILE_NAME);
        let store = Store::open(&db).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (99990101000000, 'future', 1, x'00', 0)",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        store.close().await;
        let err = Store::open(&db).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::TooNew {
                    version: 99990101000000,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("upgrade earlyexit"), "{err}");
    }

    #[tokio::test]
    async fn runs_without_a_pattern_leave_pattern_effectiveness_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(DB_FILE_NAME)).await.unwrap();
        let mut run = completed_run(now_ms(), "make", 0, 1.0);
        run.execution.pattern.clear();
        store.record_run(&run).await.unwrap();
        assert_eq!(count(&store, "SELECT count(*) FROM executions").await, 1);
        assert!(store.pattern_effectiveness().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_failing_insert_stores_nothing_of_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(DB_FILE_NAME)).await.unwrap();
        store.record_run(&sample_run(now_ms())).await.unwrap();
        // Make the last insert of the next run fail, after the execution,
        // match event and sample rows were written.
        sqlx::query(
            "CREATE TRIGGER fail_metrics BEFORE INSERT ON performance_metrics \
             WHEN (SELECT count(*) FROM executions) > 1 \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        let run = sample_run(now_ms());
        let err = store.record_run(&run).await.unwrap_err();
        assert!(err.to_string().contains("injected failure"), "{err}");
        let id = &run.execution.execution_id;
        for table in [
            "executions",
            "match_events",
            "output_samples",
            "performance_metrics",
        ] {
            assert_eq!(count_for(&store, table, id).await, 0, "{table}");
        }
        assert_eq!(count(&store, "SELECT count(*) FROM match_events").await, 2);
        let pe = store.pattern_effectiveness().await.unwrap();
        assert_eq!(pe[0].total_uses, 1, "the failed run is not counted");
        // The store is still usable.
        sqlx::query("DROP TRIGGER fail_metrics")
            .execute(&store.pool)
            .await
            .unwrap();
        store.record_run(&run).await.unwrap();
        assert_eq!(count_for(&store, "executions", id).await, 1);
    }

    #[tokio::test]
    async fn retention_deletes_old_runs_with_their_rows_at_most_hourly() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(DB_FILE_NAME)).await.unwrap();
        let now = now_ms();
        let old = sample_run(now - 100 * DAY_MS);
        let recent = sample_run(now - DAY_MS);
        store.record_run(&old).await.unwrap();
        store.record_run(&recent).await.unwrap();
        sqlx::query("INSERT INTO feedback (feedback_id, execution_id, rating) VALUES ('f1', ?, 2)")
            .bind(&old.execution.execution_id)
            .execute(&store.pool)
            .await
            .unwrap();

        let report = store
            .enforce_limits_at(now, 90, 0, PRUNE_TIME_BUDGET)
            .await
            .unwrap();
        assert!(report.age_checked);
        assert_eq!(
            report.expired,
            DeleteCounts {
                runs: 1,
                match_events: 2,
                output_samples: 1,
                performance_metrics: 2,
                feedback: 1,
                unsent: 0,
            }
        );
        let old_id = &old.execution.execution_id;
        for table in [
            "executions",
            "match_events",
            "output_samples",
            "performance_metrics",
            "feedback",
        ] {
            assert_eq!(count_for(&store, table, old_id).await, 0, "{table}");
        }
        assert_eq!(
            count_for(&store, "executions", &recent.execution.execution_id).await,
            1
        );
        assert_eq!(
            count_for(&store, "match_events", &recent.execution.execution_id).await,
            2
        );
        assert_eq!(
            store.pattern_effectiveness().await.unwrap()[0].total_uses,
            1
        );

        // Within the hour the check does not run again...
        let older = sample_run(now - 200 * DAY_MS);
        store.record_run(&older).await.unwrap();
        let report = store
            .enforce_limits_at(now + 60_000, 90, 0, PRUNE_TIME_BUDGET)
            .await
            .unwrap();
        assert!(!report.age_checked);
        assert_eq!(
            count_for(&store, "executions", &older.execution.execution_id).await,
            1
        );
        // ...and an hour later it does.
        let report = store
            .enforce_limits_at(now + 3_600_000, 90, 0, PRUNE_TIME_BUDGET)
            .await
            .unwrap();
        assert!(report.age_checked);
        assert_eq!(report.expired.runs, 1);
        assert_eq!(count(&store, "SELECT count(*) FROM executions").await, 1);
    }

    #[tokio::test]
    async fn zero_limits_delete_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(DB_FILE_NAME)).await.unwrap();
        store
            .record_run(&sample_run(now_ms() - 1000 * DAY_MS))
            .await
            .unwrap();
        let report = store.enforce_limits(0, 0).await.unwrap();
        assert_eq!(report.expired.runs + report.over_size_cap.runs, 0);
        assert_eq!(count(&store, "SELECT count(*) FROM executions").await, 1);
    }

    /// A run carrying about 20 KiB of output samples.
    fn bulky_run(started_at_ms: i64) -> RunRecord {
        let mut run = sample_run(started_at_ms);
        let line = "E 2024-01-01 worker[42]: connection reset by peer, retrying\n";
        run.samples[0].content = line.repeat(20 * 1024 / line.len());
        run
    }

    #[tokio::test]
    async fn size_cap_deletes_oldest_runs_and_shrinks_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(DB_FILE_NAME);
        let store = Store::open(&db).await.unwrap();
        let now = now_ms();
        let runs: Vec<RunRecord> = (0..120)
            .map(|i| bulky_run(now - (120 - i) * 60_000))
            .collect();
        for run in &runs {
            store.record_run(run).await.unwrap();
        }
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&store.pool)
            .await
            .unwrap();
        let before = std::fs::metadata(&db).unwrap().len();
        assert!(
            before > 2 * 1024 * 1024,
            "test data is over the cap: {before}"
        );

        let report = store
            .enforce_limits_at(now, 0, 1, PRUNE_TIME_BUDGET)
            .await
            .unwrap();
        assert!(!report.incomplete);
        let deleted = report.over_size_cap.runs as usize;
        assert!(deleted > 60 && deleted < 120, "deleted {deleted}");
        assert!(report.used_bytes_after <= 1024 * 1024);
        // The oldest runs went first; the newest are all kept.
        for (i, run) in runs.iter().enumerate() {
            let kept = count_for(&store, "executions", &run.execution.execution_id).await;
            assert_eq!(kept, i64::from(i >= deleted), "run {i}");
        }
        let after = std::fs::metadata(&db).unwrap().len();
        let wal = std::fs::metadata(db.with_extension("db-wal")).map_or(0, |m| m.len());
        assert!(
            after + wal <= 1024 * 1024,
            "file shrank: {before} -> {after} + wal {wal}"
        );
        assert_eq!(
            store.pattern_effectiveness().await.unwrap()[0].total_uses,
            (120 - deleted) as i64
        );

        // Under the cap now: the next run prunes nothing.
        let report = store
            .enforce_limits_at(now, 0, 1, PRUNE_TIME_BUDGET)
            .await
            .unwrap();
        assert_eq!(report.over_size_cap.runs, 0);
    }

    #[tokio::test]
    async fn size_pruning_stops_at_the_time_budget_and_resumes_later() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(DB_FILE_NAME)).await.unwrap();
        let now = now_ms();
        for i in 0..80 {
            store.record_run(&bulky_run(now - i * 1000)).await.unwrap();
        }
        let report = store
            .enforce_limits_at(now, 0, 1, Duration::ZERO)
            .await
            .unwrap();
        assert!(report.incomplete);
        assert_eq!(report.over_size_cap.runs, 0);
        let report = store
            .enforce_limits_at(now, 0, 1, PRUNE_TIME_BUDGET)
            .await
            .unwrap();
        assert!(!report.incomplete);
        assert!(report.over_size_cap.runs > 0);
    }

    #[tokio::test]
    async fn pattern_effectiveness_matches_a_rebuild_after_records_and_prunes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(DB_FILE_NAME)).await.unwrap();
        let now = now_ms();
        for i in 0..30 {
            let at = now - i * DAY_MS;
            let run = match i % 3 {
                0 => sample_run(at),
                1 => completed_run(at, "pytest -x", 1, 2.0 + i as f64),
                _ => completed_run(at, "pytest -x", 0, 1.5),
            };
            store.record_run(&run).await.unwrap();
        }
        store
            .delete_runs_before(now - 20 * DAY_MS + 1)
            .await
            .unwrap();
        let incremental = store.pattern_effectiveness().await.unwrap();
        store.rebuild_pattern_effectiveness().await.unwrap();
        let rebuilt = store.pattern_effectiveness().await.unwrap();
        assert_eq!(incremental.len(), 1);
        let (a, b) = (&incremental[0], &rebuilt[0]);
        assert_eq!(a.total_uses, 20);
        assert_eq!(
            (
                a.total_uses,
                a.successful_exits,
                a.missed_errors,
                a.false_positives
            ),
            (
                b.total_uses,
                b.successful_exits,
                b.missed_errors,
                b.false_positives
            )
        );
        assert_eq!(a.successful_exits, 7);
        assert_eq!(a.missed_errors, 7);
        let close = |x: Option<f64>, y: Option<f64>| (x.unwrap() - y.unwrap()).abs() < 1e-9;
        assert!(close(a.avg_total_runtime, b.avg_total_runtime));
        assert!(close(a.avg_time_to_match, b.avg_time_to_match));
        assert!(close(a.effectiveness_score, b.effectiveness_score));
        // 7 caught, 7 missed: F1 = 14 / 21.
        assert!(close(a.effectiveness_score, Some(14.0 / 21.0)));
    }

    #[tokio::test]
    async fn feedback_is_reflected_after_a_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(DB_FILE_NAME)).await.unwrap();
        let run = sample_run(now_ms());
        store.record_run(&run).await.unwrap();
        store.record_run(&sample_run(now_ms())).await.unwrap();
        sqlx::query(
            "UPDATE executions SET false_positive_flag = 1, user_rating = 2 WHERE execution_id = ?",
        )
        .bind(&run.execution.execution_id)
        .execute(&store.pool)
        .await
        .unwrap();
        store.rebuild_pattern_effectiveness().await.unwrap();
        let pe = &store.pattern_effectiveness().await.unwrap()[0];
        assert_eq!(pe.false_positives, 1);
        assert_eq!(pe.user_rating_avg, Some(2.0));
        // 1 true positive, 1 false positive: F1 = 2 / 3.
        assert!((pe.effectiveness_score.unwrap() - 2.0 / 3.0).abs() < 1e-9);
    }

    #[tokio::test]
    async fn a_corrupt_file_is_an_error_that_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(DB_FILE_NAME);
        std::fs::write(&db, vec![0x5a; 8192]).unwrap();
        let err = Store::open(&db).await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains("move it aside"), "{err}");
    }

    #[tokio::test]
    async fn a_held_write_lock_is_a_locked_error() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(DB_FILE_NAME);
        let holder = Store::open(&db).await.unwrap();
        let mut tx = holder.pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
        sqlx::query("INSERT INTO meta (key, value) VALUES ('x', 'y')")
            .execute(&mut *tx)
            .await
            .unwrap();
        let waiter = Store::connect(&db, false, Duration::from_millis(100))
            .await
            .unwrap();
        let err = waiter.record_run(&sample_run(now_ms())).await.unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
        assert!(
            err.to_string().contains("locked by another process"),
            "{err}"
        );
        tx.rollback().await.unwrap();
        waiter.record_run(&sample_run(now_ms())).await.unwrap();
    }

    #[test]
    fn an_unusable_location_is_an_error_naming_the_alternatives() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_dir = dir.path().join("file");
        std::fs::write(&not_a_dir, "x").unwrap();
        let err = block_on(Store::open(&not_a_dir.join("sub").join(DB_FILE_NAME))).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("--db PATH") && text.contains("--no-telemetry"),
            "{text}"
        );
        let err = record_run_blocking(&not_a_dir.join(DB_FILE_NAME), &sample_run(0), 90, 100)
            .unwrap_err();
        assert!(err.to_string().contains("--no-telemetry"), "{err}");
    }

    #[tokio::test]
    async fn open_existing_never_creates_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("none").join(DB_FILE_NAME);
        let err = Store::open_existing(&db).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }));
        assert_eq!(
            err.to_string(),
            format!("no telemetry recorded yet at {}", db.display())
        );
        assert!(!db.parent().unwrap().exists());
    }

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

    #[tokio::test]
    async fn stats_queries_report_recent_runs_reasons_and_percentiles() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(DB_FILE_NAME)).await.unwrap();
        let now = now_ms();
        for i in 1..=20 {
            let run = completed_run(now - (30 - i) * 1000, "npm test", 0, i as f64);
            store.record_run(&run).await.unwrap();
        }
        store.record_run(&sample_run(now)).await.unwrap();
        store
            .record_run(&sample_run(now - 10 * DAY_MS))
            .await
            .unwrap();

        let recent = store.recent_runs(0, 3).await.unwrap();
        assert_eq!(recent.len(), 3);
        assert_eq!(recent[0].command, "cargo test --workspace");
        assert_eq!(recent[1].total_runtime, 20.0);

        let totals = store.run_totals(0).await.unwrap();
        assert_eq!(
            totals,
            RunTotals {
                runs: 22,
                runs_with_match: 2
            }
        );
        let reasons = store.exit_reason_counts(0).await.unwrap();
        assert_eq!(
            reasons[0],
            ReasonCount {
                exit_reason: "completed".into(),
                runs: 20
            }
        );
        assert_eq!(
            reasons[1],
            ReasonCount {
                exit_reason: "match".into(),
                runs: 2
            }
        );

        let commands = store.command_stats(0, 10).await.unwrap();
        assert_eq!(commands[0].command, "npm test");
        assert_eq!(commands[0].runs, 20);
        assert_eq!(commands[0].median_runtime, 10.0);
        assert_eq!(commands[0].p95_runtime, 19.0);
        assert_eq!(commands[1].runs, 2);

        let since = now - DAY_MS;
        assert_eq!(store.run_totals(since).await.unwrap().runs, 21);
        assert_eq!(store.command_stats(since, 10).await.unwrap()[1].runs, 1);
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
    /// `cargo test --release -p earlyexit --lib store::tests::bench_record -- --ignored --nocapture`
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
                    "store::tests::bench_child",
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
