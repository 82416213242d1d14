//! The history of one command, as `suggest` and `--auto` learn from it:
//! its most recent runs (timings, outcome, the pattern and delay they ran
//! with, the end of the first match's context) and the recorded
//! effectiveness of the patterns it ran with.
//!
//! Read only, and bounded: at most [`HISTORY_LIMIT`] runs of one command,
//! found through the `command_hash` index. Deciding what the history
//! means is `learn`'s job, never this module's.

use serde::Serialize;

use super::{Store, StoreError};

/// The most recent runs of a command that are read (the suggestion is
/// about how the command behaves now; older runs add little).
pub const HISTORY_LIMIT: u32 = 1000;

/// One recorded run of the command, as far as learning needs it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct HistoryRun {
    /// The run's id.
    pub execution_id: String,
    /// Start, ms since the epoch.
    pub started_at_ms: i64,
    /// The error pattern it ran with (`''` when none).
    pub pattern: String,
    /// JSON array of its `--exclude` patterns.
    pub exclude_patterns: String,
    /// Why it ended (`ExitReason::as_str`).
    pub exit_reason: String,
    /// The child's exit code, when it exited normally.
    pub child_exit_code: Option<i64>,
    /// The signal that ended the child, when one did.
    pub child_signal: Option<i64>,
    /// Start to exit, seconds.
    pub total_runtime: f64,
    /// Start to the first output byte, seconds.
    pub time_to_first_output: Option<f64>,
    /// The longest gap between output bytes, seconds.
    pub longest_idle_period: f64,
    /// Start to the first counted match, seconds.
    pub time_to_first_match: Option<f64>,
    /// First counted match to the end of the run, seconds.
    pub time_from_match_to_exit: Option<f64>,
    /// `--delay-exit` in effect, seconds.
    pub delay_exit: f64,
    /// Flagged as a false positive by feedback.
    pub false_positive_flag: bool,
    /// The context recorded after the first error match (`\n`-joined).
    pub first_match_after: Option<String>,
}

impl Store {
    /// The [`HISTORY_LIMIT`] most recent runs whose `command_hash` is
    /// `command_hash` or the hash of the text `command` (a command line
    /// typed differently from how runs record it), newest first. Both go
    /// through the `command_hash` index.
    pub async fn command_history(
        &self,
        command_hash: &str,
        command: &str,
    ) -> Result<Vec<HistoryRun>, StoreError> {
        let text_hash = super::sha256_hex(command);
        sqlx::query_as(
            "SELECT e.execution_id, e.started_at_ms, e.pattern, e.exclude_patterns, \
             e.exit_reason, e.child_exit_code, e.child_signal, e.total_runtime + 0.0 AS total_runtime, \
             e.time_to_first_output + 0.0 AS time_to_first_output, \
             e.longest_idle_period + 0.0 AS longest_idle_period, \
             e.time_to_first_match + 0.0 AS time_to_first_match, \
             e.time_from_match_to_exit + 0.0 AS time_from_match_to_exit, \
             e.delay_exit + 0.0 AS delay_exit, e.false_positive_flag, \
             (SELECT m.context_after FROM match_events m WHERE m.execution_id = e.execution_id \
              AND m.kind = 'error' ORDER BY m.match_number LIMIT 1) AS first_match_after \
             FROM executions e WHERE e.command_hash IN (?, ?) \
             ORDER BY e.started_at_ms DESC, e.execution_id DESC LIMIT ?",
        )
        .bind(command_hash)
        .bind(text_hash)
        .bind(i64::from(HISTORY_LIMIT))
        .fetch_all(&self.pool)
        .await
        .map_err(self.sql_err())
    }
}
