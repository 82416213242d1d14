//! The read queries behind `earlyexit stats`: recent runs, totals, runs per
//! exit reason, runtime percentiles per command.
//!
//! Read only; every query is bounded by a time window or a row limit.

use serde::Serialize;

use super::{Store, StoreError};

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
    /// Matches `fp_filter: enforce` ignored (the line classifier called
    /// them noise), over all runs.
    pub suppressed_matches: i64,
    /// Runs with a suppressed match that failed anyway (the child exited
    /// non-zero or by a signal, or a timeout stopped it).
    pub suppressed_then_failed: i64,
}

impl Store {
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
        let (runs, runs_with_match, suppressed_matches, suppressed_then_failed): (
            i64,
            i64,
            i64,
            i64,
        ) = sqlx::query_as(
            "SELECT count(*), coalesce(sum(match_count > 0), 0), \
             coalesce(sum(suppressed_matches), 0), \
             coalesce(sum(suppressed_matches > 0 AND (coalesce(child_exit_code, 0) <> 0 \
             OR child_signal IS NOT NULL OR exit_reason LIKE 'timeout%')), 0) \
             FROM executions WHERE started_at_ms >= ?",
        )
        .bind(since_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(self.sql_err())?;
        Ok(RunTotals {
            runs,
            runs_with_match,
            suppressed_matches,
            suppressed_then_failed,
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

    /// The runtimes (seconds) of one command's `limit` latest runs started
    /// at or after `since_ms`, oldest first: what `stats` draws as a sparkline.
    pub async fn recent_runtimes(
        &self,
        command_hash: &str,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<f64>, StoreError> {
        let mut runtimes: Vec<f64> = sqlx::query_scalar(
            "SELECT total_runtime FROM executions WHERE command_hash = ? AND started_at_ms >= ? \
             ORDER BY started_at_ms DESC, execution_id DESC LIMIT ?",
        )
        .bind(command_hash)
        .bind(since_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(self.sql_err())?;
        runtimes.reverse();
        Ok(runtimes)
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
}

#[cfg(test)]
#[path = "tests/stats.rs"]
mod tests;
