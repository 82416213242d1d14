//! Outcome labels on recorded runs: reads the runs the rules of
//! [`crate::learn::outcome`] judge, writes the labels they give
//! (`executions.outcome_label`, `outcome_evidence`) and moves the change
//! into `pattern_effectiveness`, in one transaction.
//!
//! Labels are only ever added, never guessed at here: the rules decide,
//! and a run with feedback on it is never a candidate. It never prompts and
//! never runs on the run path (`analyze` and `feedback` call it).

use serde::Serialize;
use sqlx::Row;

use super::effectiveness::{replace_totals, totals_of_runs};
use super::{Store, StoreError};
use crate::learn::outcome::{CleanRun, Evidence, MatchPlace, MatchedRun, likely_false_positives};

/// What one labelling pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LabelReport {
    /// Runs newly labelled by the later-success rule.
    pub later_success: u64,
    /// Runs newly labelled by the delay-exit rule.
    pub delay_exit: u64,
}

impl Store {
    /// Applies the outcome rules to every run that ended by a match, has no
    /// label yet and no feedback on whether it should have exited, and
    /// labels the ones the rules call likely false positives.
    pub async fn label_outcomes(&self) -> Result<LabelReport, StoreError> {
        let err = self.sql_err();
        let matched_rows = sqlx::query(
            "SELECT e.execution_id, e.command_hash, e.started_at_ms, e.delay_exit, \
             e.child_exit_code, e.child_signal, e.time_from_match_to_exit, \
             m.stream_source, m.line_number \
             FROM executions e LEFT JOIN match_events m ON m.event_id = ( \
               SELECT event_id FROM match_events f WHERE f.execution_id = e.execution_id \
               AND f.kind = 'error' ORDER BY f.match_number LIMIT 1) \
             WHERE e.exit_reason = 'match' AND e.outcome_label IS NULL \
             AND e.false_positive_flag = 0 AND e.should_have_exited IS NULL",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        if matched_rows.is_empty() {
            return Ok(LabelReport::default());
        }
        let matched = matched_rows
            .iter()
            .map(|r| {
                let stream: Option<String> = r.try_get(7)?;
                let line: Option<i64> = r.try_get(8)?;
                Ok(MatchedRun {
                    execution_id: r.try_get(0)?,
                    command_hash: r.try_get(1)?,
                    started_at_ms: r.try_get(2)?,
                    delay_exit: r.try_get(3)?,
                    child_exit_code: r.try_get(4)?,
                    child_signal: r.try_get(5)?,
                    time_from_match_to_exit: r.try_get(6)?,
                    first_match: stream.zip(line).map(|(stream, line_number)| MatchPlace {
                        stream,
                        line_number,
                    }),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(err)?;
        let clean = sqlx::query_as::<_, (String, String, i64, i64, i64, i64)>(
            // Only the clean runs that can be evidence: those of a command
            // with a candidate, started after its earliest candidate.
            "WITH pending AS (SELECT command_hash, min(started_at_ms) AS since \
               FROM executions WHERE exit_reason = 'match' AND outcome_label IS NULL \
               AND false_positive_flag = 0 AND should_have_exited IS NULL \
               GROUP BY command_hash) \
             SELECT e.execution_id, e.command_hash, e.started_at_ms, e.stdout_lines, \
             e.stderr_lines, e.fd_lines FROM pending p JOIN executions e \
             ON e.command_hash = p.command_hash AND e.started_at_ms > p.since \
             WHERE e.exit_reason = 'completed' AND e.child_exit_code = 0 \
             AND e.child_signal IS NULL AND e.match_count = 0",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(err)?
        .into_iter()
        .map(
            |(execution_id, command_hash, started_at_ms, stdout_lines, stderr_lines, fd_lines)| {
                CleanRun {
                    execution_id,
                    command_hash,
                    started_at_ms,
                    stdout_lines,
                    stderr_lines,
                    fd_lines,
                }
            },
        )
        .collect();
        let labels = likely_false_positives(&matched, clean);
        if labels.is_empty() {
            return Ok(LabelReport::default());
        }
        let mut report = LabelReport::default();
        let mut ids = Vec::with_capacity(labels.len());
        let mut pairs = Vec::with_capacity(labels.len());
        for (id, evidence) in &labels {
            match evidence {
                Evidence::LaterSuccess { .. } => report.later_success += 1,
                Evidence::DelayExit { .. } => report.delay_exit += 1,
            }
            ids.push(serde_json::Value::from(id.as_str()));
            pairs.push(serde_json::json!([id, evidence.describe()]));
        }
        let ids = serde_json::Value::Array(ids).to_string();
        let mut tx = self.begin_write().await?;
        let before = totals_of_runs(&mut tx, &ids).await.map_err(err)?;
        sqlx::query(
            "UPDATE executions SET outcome_label = 'likely_false_positive', \
             outcome_evidence = l.value ->> 1 FROM json_each(?) AS l \
             WHERE executions.execution_id = l.value ->> 0 \
             AND executions.outcome_label IS NULL \
             AND executions.false_positive_flag = 0 AND executions.should_have_exited IS NULL",
        )
        .bind(serde_json::Value::Array(pairs).to_string())
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        let after = totals_of_runs(&mut tx, &ids).await.map_err(err)?;
        replace_totals(&mut tx, before, &after).await.map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(report)
    }
}
