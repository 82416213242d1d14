//! Reading recorded output back for `earlyexit triage --last | --id ID`:
//! a run's output samples as one log, and the samples of the successful
//! runs of the same command (the history that tells noise from news).
//!
//! Owns these reads only. It never writes, and never scores a line: the
//! aggregator's triage does that.

use super::{Store, StoreError};

/// How many successful runs of the same command are read as history (the
/// most recent first): enough to know the command's usual output, few
/// enough to stay fast.
pub const HISTORY_RUNS: u32 = 10;

/// A recorded run's output, as triage reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedOutput {
    /// The run's id.
    pub execution_id: String,
    /// The command as recorded.
    pub command: String,
    /// SHA-256 of the command: runs of the same command share it.
    pub command_hash: String,
    /// Why the run ended (`match`, `completed`, `timeout_idle`, …).
    pub exit_reason: String,
    /// The command's own exit code, when it exited.
    pub child_exit_code: Option<i64>,
    /// The recorded output: the tail of each stream when the run failed
    /// (what a failed run records), else its match-context blocks; empty
    /// when nothing was recorded.
    pub text: String,
}

impl Store {
    /// The id of the most recently started run, if any.
    pub async fn latest_run_id(&self) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT execution_id FROM executions ORDER BY started_at_ms DESC, execution_id DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(self.sql_err())
    }

    /// The run `execution_id` and its recorded output; `None` when there
    /// is no such run.
    pub async fn recorded_output(
        &self,
        execution_id: &str,
    ) -> Result<Option<RecordedOutput>, StoreError> {
        let row: Option<(String, String, String, String, Option<i64>)> = sqlx::query_as(
            "SELECT execution_id, command, command_hash, exit_reason, child_exit_code \
             FROM executions WHERE execution_id = ?",
        )
        .bind(execution_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(self.sql_err())?;
        let Some((execution_id, command, command_hash, exit_reason, child_exit_code)) = row else {
            return Ok(None);
        };
        let text = self.output_text(&execution_id).await?;
        Ok(Some(RecordedOutput {
            execution_id,
            command,
            command_hash,
            exit_reason,
            child_exit_code,
            text,
        }))
    }

    /// The recorded output of up to `limit` successful runs (the command
    /// exited 0, or a success pattern matched) of the command with
    /// `command_hash`, newest first, leaving out `except` and runs that
    /// recorded no output.
    pub async fn passing_outputs(
        &self,
        command_hash: &str,
        except: &str,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT e.execution_id FROM executions e \
             WHERE e.command_hash = ? AND e.execution_id <> ? \
             AND ((e.exit_reason = 'completed' AND e.child_exit_code = 0) \
                  OR e.exit_reason = 'success_pattern') \
             AND EXISTS (SELECT 1 FROM output_samples s WHERE s.execution_id = e.execution_id) \
             ORDER BY e.started_at_ms DESC LIMIT ?",
        )
        .bind(command_hash)
        .bind(except)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(self.sql_err())?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.output_text(&id).await?);
        }
        Ok(out)
    }

    /// A run's samples as one log: its `tail` samples when it has any (they
    /// hold the match context too), else its `match_context` blocks, in the
    /// order they were recorded.
    async fn output_text(&self, execution_id: &str) -> Result<String, StoreError> {
        let samples: Vec<(String, String)> = sqlx::query_as(
            "SELECT sample_type, content FROM output_samples WHERE execution_id = ? ORDER BY rowid",
        )
        .bind(execution_id)
        .fetch_all(&self.pool)
        .await
        .map_err(self.sql_err())?;
        let has_tail = samples.iter().any(|(t, _)| t == "tail");
        let mut text = String::new();
        for (kind, content) in &samples {
            if has_tail && kind != "tail" {
                continue;
            }
            text.push_str(content);
            if !content.ends_with('\n') {
                text.push('\n');
            }
        }
        Ok(text)
    }
}

#[cfg(test)]
#[path = "tests/triage.rs"]
mod tests;
