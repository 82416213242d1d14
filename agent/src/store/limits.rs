//! Retention, the size cap and the deletes of `clear-data`.
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
//!   auto-checkpoint and by [`JOURNAL_SIZE_LIMIT_BYTES`](super::JOURNAL_SIZE_LIMIT_BYTES).
//! * `0` for either limit disables it.
//!
//! Deleting a run deletes its match events, samples, metrics and feedback
//! (`ON DELETE CASCADE`), counts its pending outbox row as dropped, and
//! subtracts it from `pattern_effectiveness`, so the summary always
//! describes exactly the runs that are kept. What was deleted is returned
//! in a [`PruneReport`].

use std::time::{Duration, Instant};

use serde::Serialize;

use super::effectiveness::{PatternTotals, pattern_totals_sql};
use super::outbox::DropCause;
use super::{Store, StoreError, now_ms, rfc3339_now};

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

/// The `meta` key holding the time (ms since the epoch) of the last complete
/// retention check.
const META_LAST_AGE_PRUNE: &str = "last_age_prune_ms";

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

/// The bytes of the pages in use (all pages but the free list), an SQL
/// expression over `pages_from_sql!`.
macro_rules! used_bytes_sql {
    () => {
        "(p.page_count - f.freelist_count) * s.page_size"
    };
}

/// The `FROM` clause the page counts and page size are read from (the
/// database header only).
macro_rules! pages_from_sql {
    () => {
        " FROM pragma_page_count() AS p, pragma_freelist_count() AS f, pragma_page_size() AS s"
    };
}

/// The rows of runs, match events, output samples, performance metrics,
/// feedback and pending outbox entries, as `count_rows_sql!` counts them.
type RowCounts = (i64, i64, i64, i64, i64, i64);

/// `SELECT`s the `RowCounts` of the runs `scope` selects (a condition on
/// `execution_id`, `1` for all), after `with` (a `WITH` clause or `""`).
macro_rules! count_rows_sql {
    ($with:literal, $scope:literal) => {
        concat!(
            $with,
            "SELECT (SELECT count(*) FROM executions WHERE ",
            $scope,
            "), ",
            "(SELECT count(*) FROM match_events WHERE ",
            $scope,
            "), ",
            "(SELECT count(*) FROM output_samples WHERE ",
            $scope,
            "), ",
            "(SELECT count(*) FROM performance_metrics WHERE ",
            $scope,
            "), ",
            "(SELECT count(*) FROM feedback WHERE ",
            $scope,
            "), ",
            "(SELECT count(*) FROM outbox WHERE state = 'pending' AND ",
            $scope,
            ")"
        )
    };
}

impl From<RowCounts> for DeleteCounts {
    fn from(
        (runs, match_events, output_samples, performance_metrics, feedback, unsent): RowCounts,
    ) -> Self {
        let n = |count: i64| count.max(0) as u64;
        DeleteCounts {
            runs: n(runs),
            match_events: n(match_events),
            output_samples: n(output_samples),
            performance_metrics: n(performance_metrics),
            feedback: n(feedback),
            unsent: n(unsent),
        }
    }
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

impl Store {
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
        let (last_age_prune, mut used): (Option<String>, i64) = sqlx::query_as(concat!(
            "SELECT (SELECT value FROM meta WHERE key = ?), ",
            used_bytes_sql!(),
            pages_from_sql!()
        ))
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
        sqlx::query_as(concat!(
            "SELECT ",
            used_bytes_sql!(),
            ", p.page_count * s.page_size",
            pages_from_sql!()
        ))
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
        cause: crate::store::outbox::DropCause,
    ) -> Result<DeleteCounts, StoreError> {
        let err = self.sql_err();
        let mut tx = self.begin_write().await?;
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
        let counts: RowCounts = sqlx::query_as(count_rows_sql!(
            "WITH batch AS (SELECT execution_id FROM executions \
             WHERE rowid IN (SELECT value FROM json_each(?))) ",
            "execution_id IN batch"
        ))
        .bind(&batch)
        .fetch_one(&mut *tx)
        .await
        .map_err(&err)?;
        sqlx::query("DELETE FROM executions WHERE rowid IN (SELECT value FROM json_each(?))")
            .bind(&batch)
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        let now = rfc3339_now();
        for t in totals {
            t.negated().apply(&mut tx, &now).await.map_err(&err)?;
        }
        let counts = DeleteCounts::from(counts);
        crate::store::outbox::count_dropped(&mut tx, cause, counts.unsent as i64)
            .await
            .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        Ok(counts)
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
        let mut tx = self.begin_write().await?;
        let counts: RowCounts = sqlx::query_as(count_rows_sql!("", "1"))
            .fetch_one(&mut *tx)
            .await
            .map_err(&err)?;
        let counts = DeleteCounts::from(counts);
        crate::store::outbox::count_dropped(&mut tx, DropCause::Cleared, counts.unsent as i64)
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
        Ok(counts)
    }
}

#[cfg(test)]
#[path = "tests/limits.rs"]
mod tests;
