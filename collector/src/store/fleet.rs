//! Reading the fleet's runs back: the query columns stored beside each
//! record's body (migration 0004), for `earlyexit-collector runs`, the
//! dashboard and the JSON API.
//!
//! Owns the SQL of those reads, written once for both backends (the same
//! text runs on SQLite and PostgreSQL: `$n` parameters, `CAST` to `BIGINT`
//! and `DOUBLE PRECISION` so both return the same Rust types). Every read
//! is scoped to one org, except [`Store::runs`] without an org, which only
//! the admin command line uses. Must never write: ingest fills the columns
//! (`records.rs`).
//!
//! Rows stored before migration 0004 have NULL in the new columns (their
//! bodies are protobuf, which SQL cannot decode); they count as runs
//! everywhere, and as "unknown" wherever a new column is grouped on.

use serde::Serialize;

use super::{Store, StoreError};

/// A run failed when earlyexit stopped it on an error pattern, a timeout
/// or its own error, or when it ran to the end and the child exited
/// non-zero. Success patterns and interruptions are not failures.
pub const FAILED_SQL: &str = "(exit_reason IN ('match', 'timeout_overall', 'timeout_idle', \
     'timeout_first_output', 'stuck', 'error') \
     OR (exit_reason = 'completed' AND child_exit_code <> 0))";

/// One stored run, as `runs` and `/api/v1/runs` show it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct StoredRun {
    /// The org it belongs to.
    pub org: String,
    /// The agent that sent it.
    pub agent_id: String,
    /// The run's id, unique per agent.
    pub execution_id: String,
    /// When it started, milliseconds since the epoch.
    pub started_at_ms: i64,
    /// When the collector stored it.
    pub received_at_ms: i64,
    /// The program's name (never the full command line).
    pub program: Option<String>,
    /// Detected command category (`build`, `test`, …).
    pub command_category: String,
    /// Detected project type (`rust`, `node`, …).
    pub project_type: Option<String>,
    /// Why the run ended.
    pub exit_reason: String,
    /// The child's own exit code, when it exited by itself.
    pub child_exit_code: Option<i64>,
    /// Wall-clock seconds.
    pub runtime_s: Option<f64>,
    /// Seconds from start to the first match.
    pub first_match_s: Option<f64>,
    /// Lines that matched.
    pub match_count: Option<i64>,
    /// Output bytes read.
    pub bytes: Option<i64>,
    /// Bundles the agent ran with (`patterns:7,models:3`).
    pub bundle_version: Option<String>,
    /// The agent's earlyexit version.
    pub agent_version: Option<String>,
    /// Privacy level it was sent at.
    pub telemetry_level: String,
}

/// Totals over a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, sqlx::FromRow)]
pub struct Summary {
    /// Runs started in the window.
    pub runs: i64,
    /// Of them, failed ([`FAILED_SQL`]).
    pub failed: i64,
    /// Of them, stopped early on an error pattern (`match`).
    pub early_exits: i64,
    /// Agents that sent them.
    pub agents: i64,
    /// Wall-clock seconds of all of them.
    pub runtime_s: f64,
}

/// Runs of one exit reason in one time bucket.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ReasonCount {
    /// Start of the bucket, milliseconds since the epoch.
    pub bucket_ms: i64,
    /// The exit reason.
    pub exit_reason: String,
    /// Runs.
    pub runs: i64,
}

/// One command (program and category) over a window.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct CommandStats {
    /// The program (`unknown` for rows stored before migration 0004).
    pub program: String,
    /// The command category.
    pub command_category: String,
    /// Runs.
    pub runs: i64,
    /// Failed runs ([`FAILED_SQL`]).
    pub failed: i64,
    /// Mean wall-clock seconds.
    pub mean_runtime_s: f64,
    /// Longest wall-clock seconds.
    pub max_runtime_s: f64,
}

/// Time early exits saved, by command.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct TimeSaved {
    /// The program.
    pub program: String,
    /// The command category.
    pub command_category: String,
    /// Runs stopped early on an error pattern.
    pub early_exits: i64,
    /// Estimated seconds saved: the early exits times the mean runtime of
    /// the same command's runs that completed, minus the early exits' own
    /// runtime (never below 0; 0 for a command with no completed run).
    pub saved_s: f64,
}

/// An agent as the collector has seen it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AgentSeen {
    /// The agent id.
    pub agent_id: String,
    /// When its last record arrived, milliseconds since the epoch.
    pub last_seen_ms: i64,
    /// Records stored from it in the window.
    pub runs: i64,
    /// The newest earlyexit version its records name.
    pub version: Option<String>,
}

/// One bundle version and the runs that named it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct BundleUse {
    /// What the records name (`patterns:7,models:3`).
    pub bundle_version: String,
    /// Runs in the window.
    pub runs: i64,
    /// Of them, failed.
    pub failed: i64,
}

/// Which runs [`Store::runs`] reads.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only this org (None: every org).
    pub org_id: Option<i64>,
    /// Only runs started at or after this time, milliseconds since the epoch.
    pub since_ms: Option<i64>,
    /// At most this many, newest first.
    pub limit: i64,
}

const RUN_COLUMNS: &str = "o.name AS org, r.agent_id, r.execution_id, r.started_at_ms, \
     r.received_at_ms, r.program, r.command_category, r.project_type, r.exit_reason, \
     r.child_exit_code, r.runtime_s, r.first_match_s, r.match_count, r.bytes, \
     r.bundle_version, r.agent_version, r.telemetry_level";

impl Store {
    /// Stored runs, newest first.
    pub async fn runs(&self, filter: &RunFilter) -> Result<Vec<StoredRun>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM records r JOIN orgs o ON o.id = r.org_id \
             WHERE (CAST($1 AS BIGINT) IS NULL OR r.org_id = $1) \
             AND (CAST($2 AS BIGINT) IS NULL OR r.started_at_ms >= $2) \
             ORDER BY r.started_at_ms DESC, r.agent_id, r.execution_id LIMIT $3"
        );
        Ok(on_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(
            sql.as_str()
        ))
        .bind(filter.org_id)
        .bind(filter.since_ms)
        .bind(filter.limit)
        .fetch_all(p)
        .await)?)
    }

    /// Totals of an org's runs started at or after `since_ms`.
    pub async fn summary(&self, org_id: i64, since_ms: i64) -> Result<Summary, StoreError> {
        let sql = format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS runs, \
             CAST(COALESCE(SUM(CASE WHEN {FAILED_SQL} THEN 1 ELSE 0 END), 0) AS BIGINT) AS failed, \
             CAST(COALESCE(SUM(CASE WHEN exit_reason = 'match' THEN 1 ELSE 0 END), 0) AS BIGINT) AS early_exits, \
             CAST(COUNT(DISTINCT agent_id) AS BIGINT) AS agents, \
             CAST(COALESCE(SUM(runtime_s), 0) AS DOUBLE PRECISION) AS runtime_s \
             FROM records WHERE org_id = $1 AND started_at_ms >= $2"
        );
        Ok(on_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(
            sql.as_str()
        ))
        .bind(org_id)
        .bind(since_ms)
        .fetch_one(p)
        .await)?)
    }

    /// Runs per `bucket_ms` and exit reason, oldest bucket first.
    pub async fn runs_over_time(
        &self,
        org_id: i64,
        since_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<ReasonCount>, StoreError> {
        let sql = "SELECT CAST((started_at_ms / $3) * $3 AS BIGINT) AS bucket_ms, exit_reason, \
                   CAST(COUNT(*) AS BIGINT) AS runs FROM records \
                   WHERE org_id = $1 AND started_at_ms >= $2 \
                   GROUP BY 1, 2 ORDER BY 1, 2";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(org_id)
            .bind(since_ms)
            .bind(bucket_ms.max(1))
            .fetch_all(p)
            .await)?)
    }

    /// Commands of an org's window, `order`ed (slowest by mean runtime, or
    /// most failed runs first), at most `limit`.
    pub async fn commands(
        &self,
        org_id: i64,
        since_ms: i64,
        order: CommandOrder,
        limit: i64,
    ) -> Result<Vec<CommandStats>, StoreError> {
        let order_by = match order {
            CommandOrder::Slowest => "mean_runtime_s DESC, runs DESC",
            CommandOrder::MostFailing => "failed DESC, runs DESC",
        };
        let having = match order {
            CommandOrder::Slowest => String::new(),
            CommandOrder::MostFailing => {
                format!(" HAVING SUM(CASE WHEN {FAILED_SQL} THEN 1 ELSE 0 END) > 0")
            }
        };
        let sql = format!(
            "SELECT COALESCE(program, 'unknown') AS program, command_category, \
             CAST(COUNT(*) AS BIGINT) AS runs, \
             CAST(SUM(CASE WHEN {FAILED_SQL} THEN 1 ELSE 0 END) AS BIGINT) AS failed, \
             CAST(COALESCE(AVG(runtime_s), 0) AS DOUBLE PRECISION) AS mean_runtime_s, \
             CAST(COALESCE(MAX(runtime_s), 0) AS DOUBLE PRECISION) AS max_runtime_s \
             FROM records WHERE org_id = $1 AND started_at_ms >= $2 \
             GROUP BY COALESCE(program, 'unknown'), command_category{having} \
             ORDER BY {order_by}, program, command_category LIMIT $3"
        );
        Ok(on_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(
            sql.as_str()
        ))
        .bind(org_id)
        .bind(since_ms)
        .bind(limit)
        .fetch_all(p)
        .await)?)
    }

    /// Time saved by early exits in an org's window, by command, most first.
    pub async fn time_saved(
        &self,
        org_id: i64,
        since_ms: i64,
        limit: i64,
    ) -> Result<Vec<TimeSaved>, StoreError> {
        // One pass, no join (a join of the runs with their commands' means
        // was planned as a nested loop by PostgreSQL on a fresh table: 71 s
        // over 100,000 runs).
        let sql = "SELECT program, command_category, early_exits, \
                   CAST(CASE WHEN saved > 0 THEN saved ELSE 0 END AS DOUBLE PRECISION) AS saved_s \
                   FROM (SELECT program, command_category, \
                     CAST(SUM(CASE WHEN exit_reason = 'match' THEN 1 ELSE 0 END) AS BIGINT) \
                       AS early_exits, \
                     CASE WHEN SUM(CASE WHEN exit_reason = 'completed' THEN 1 ELSE 0 END) = 0 \
                       THEN 0 \
                       ELSE SUM(CASE WHEN exit_reason = 'match' THEN 1 ELSE 0 END) \
                         * (SUM(CASE WHEN exit_reason = 'completed' THEN runtime_s ELSE 0 END) \
                            / SUM(CASE WHEN exit_reason = 'completed' THEN 1 ELSE 0 END)) \
                         - SUM(CASE WHEN exit_reason = 'match' THEN runtime_s ELSE 0 END) \
                     END AS saved \
                   FROM records WHERE org_id = $1 AND started_at_ms >= $2 \
                   AND program IS NOT NULL AND exit_reason IN ('match', 'completed') \
                   GROUP BY program, command_category) t \
                   WHERE early_exits > 0 \
                   ORDER BY saved_s DESC, early_exits DESC, program LIMIT $3";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(org_id)
            .bind(since_ms)
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }

    /// Agents with records in an org's window, most recently seen first.
    pub async fn agents_seen(
        &self,
        org_id: i64,
        since_ms: i64,
        limit: i64,
    ) -> Result<Vec<AgentSeen>, StoreError> {
        let sql = "SELECT agent_id, CAST(MAX(received_at_ms) AS BIGINT) AS last_seen_ms, \
                   CAST(COUNT(*) AS BIGINT) AS runs, MAX(agent_version) AS version \
                   FROM records WHERE org_id = $1 AND started_at_ms >= $2 \
                   GROUP BY agent_id ORDER BY last_seen_ms DESC, agent_id LIMIT $3";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(org_id)
            .bind(since_ms)
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }

    /// The bundle versions runs of an org's window name, most used first.
    pub async fn bundle_use(
        &self,
        org_id: i64,
        since_ms: i64,
        limit: i64,
    ) -> Result<Vec<BundleUse>, StoreError> {
        let sql = format!(
            "SELECT bundle_version, CAST(COUNT(*) AS BIGINT) AS runs, \
             CAST(SUM(CASE WHEN {FAILED_SQL} THEN 1 ELSE 0 END) AS BIGINT) AS failed \
             FROM records WHERE org_id = $1 AND started_at_ms >= $2 \
             AND bundle_version IS NOT NULL \
             GROUP BY bundle_version ORDER BY runs DESC, bundle_version LIMIT $3"
        );
        Ok(on_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(
            sql.as_str()
        ))
        .bind(org_id)
        .bind(since_ms)
        .bind(limit)
        .fetch_all(p)
        .await)?)
    }
}

/// How [`Store::commands`] orders commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandOrder {
    /// Highest mean runtime first.
    Slowest,
    /// Most failed runs first (commands with no failure left out).
    MostFailing,
}
