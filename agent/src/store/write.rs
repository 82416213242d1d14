//! Writing a run: every row of a [`RunRecord`] — the execution, its match
//! events, samples, metrics, its pending outbox row and its share of
//! `pattern_effectiveness` — in one transaction, and moving the runs of the
//! spool into the database.
//!
//! # Cost on the run path
//!
//! All of a run's inserts go to SQLite as one batch of statements (one
//! round trip to the connection's thread), because on the run path each
//! round trip costs more than the inserts. What a run pays in all is
//! measured by `recorder::tests::bench_record_run_in_fresh_processes` (in the crate's `recorder`).
//!
//! Deleting runs is [`super::limits`]' job; reading them back is
//! [`super::export`]'s.

use std::collections::HashSet;
use std::path::Path;

use sqlx::{AssertSqlSafe, Row};

use super::SqliteQuery;
use super::effectiveness::{PatternTotals, UPSERT_PATTERN_SQL};
use super::{Store, StoreError, now_ms, rfc3339_now};
use crate::record::{Execution, RunRecord};

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
         telemetry_level, earlyexit_version, suppressed_matches, fp_filter) VALUES (\
         ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \
         ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \
         ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);";

/// Inserts a run's `match_events` from one JSON array of arrays (binds: the
/// execution id, the array); the element order is the column order below.
const INSERT_MATCH_EVENTS_JSON_SQL: &str = "INSERT INTO match_events (event_id, execution_id, \
     match_number, timestamp_offset, stream_source, line_number, line_content, \
     matched_substring, match_position_start, match_position_end, context_before, \
     context_after, kind, is_error, confidence, suppressed) \
     SELECT e.value ->> 0, ?, e.value ->> 1, e.value ->> 2, e.value ->> 3, e.value ->> 4, \
     e.value ->> 5, e.value ->> 6, e.value ->> 7, e.value ->> 8, e.value ->> 9, \
     e.value ->> 10, e.value ->> 11, e.value ->> 12, e.value ->> 13, e.value ->> 14 \
     FROM json_each(?) AS e;";

/// Inserts `output_samples` rows (9 binds each).
const INSERT_OUTPUT_SAMPLES_SQL: &str = "INSERT INTO output_samples (sample_id, execution_id, \
     sample_type, stream_source, timestamp_offset, content, content_hash, is_error, \
     confidence) VALUES ";

/// Inserts `performance_metrics` rows (5 binds each).
const INSERT_METRICS_SQL: &str = "INSERT INTO performance_metrics (metric_id, execution_id, \
     metric_name, metric_value, timestamp_offset) VALUES ";

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

    async fn fetch_strings(&mut self, query: SqliteQuery<'_>) -> Result<Vec<String>, sqlx::Error> {
        match self.0.as_mut() {
            Some(conn) => {
                let rows = query.fetch_all(&mut **conn).await?;
                rows.iter().map(|row| row.try_get(0)).collect()
            }
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

/// The statements that store every row of `run`, with their binds; inside
/// `BEGIN IMMEDIATE; … COMMIT;` when `own_transaction`, else for a
/// transaction the caller holds. `now` is the RFC 3339 time written to
/// `pattern_effectiveness`.
fn insert_run<'q>(run: &'q RunRecord, now: &'q str, own_transaction: bool) -> SqliteQuery<'q> {
    let e = &run.execution;
    let mut sql = String::with_capacity(4096);
    if own_transaction {
        sql.push_str("BEGIN IMMEDIATE;");
    }
    sql.push_str(INSERT_EXECUTION_SQL);
    let outbox_level = super::outbox::sendable_level(&e.telemetry_level);
    if outbox_level.is_some() {
        sql.push_str(super::outbox::INSERT_PENDING_SQL);
    }
    if !run.matches.is_empty() {
        sql.push_str(INSERT_MATCH_EVENTS_JSON_SQL);
    }
    push_values_rows(&mut sql, INSERT_OUTPUT_SAMPLES_SQL, 9, run.samples.len());
    push_values_rows(&mut sql, INSERT_METRICS_SQL, 5, run.metrics.len());
    if !e.pattern.is_empty() {
        sql.push_str(UPSERT_PATTERN_SQL);
    }
    if own_transaction {
        sql.push_str("COMMIT;");
    }

    // Binds in the order of the statements above.
    let mut query = bind_execution(sqlx::query(AssertSqlSafe(sql)), e)
        .bind(run.fp.suppressed())
        .bind(run.fp.mode.as_deref());
    if let Some(level) = outbox_level {
        query = query.bind(&e.execution_id).bind(level).bind(now_ms());
    }
    if !run.matches.is_empty() {
        // All events as one JSON array: one statement of fixed shape
        // whatever their number, unpacked by SQLite (json_each).
        let events: Vec<serde_json::Value> = run
            .matches
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let verdict = run.fp.verdict(i);
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
                    verdict.map(|v| i64::from(v.is_error)),
                    verdict.map(|v| v.confidence),
                    i64::from(run.fp.is_suppressed(i)),
                ])
            })
            .collect();
        query = query
            .bind(&e.execution_id)
            .bind(serde_json::Value::Array(events).to_string());
    }
    for (i, s) in run.samples.iter().enumerate() {
        // Sample i of type match_context is cut around match i (see
        // `record::FpRecord`).
        let verdict = (s.sample_type == "match_context")
            .then(|| run.fp.verdict(i))
            .flatten();
        query = query
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(&e.execution_id)
            .bind(s.sample_type.as_str())
            .bind(&s.stream_source)
            .bind(s.timestamp_offset)
            .bind(&s.content)
            .bind(&s.content_hash)
            .bind(verdict.map(|v| v.is_error))
            .bind(verdict.map(|v| v.confidence));
    }
    for m in &run.metrics {
        query = query
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(&e.execution_id)
            .bind(m.metric_name.as_str())
            .bind(m.metric_value)
            .bind(m.timestamp_offset);
    }
    if !e.pattern.is_empty() {
        query = PatternTotals::of_run(e).bind_upsert(query, now);
    }
    query
}

impl Store {
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
        let now = rfc3339_now();
        let query = insert_run(run, &now, true);
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

    /// Moves every run waiting in the spool at `spool` into the database in
    /// ONE transaction, then empties the spool; runs already stored (a crash
    /// between an earlier commit and the clear) are skipped. Returns how
    /// many runs were added. The spool stays locked throughout, so no run is
    /// appended half-way; when the transaction fails, the spool is left as
    /// it was and nothing of it is stored. Cancel-safe like
    /// [`Store::record_run`].
    pub async fn ingest_spool(&self, spool: &Path) -> Result<usize, StoreError> {
        let Some(batch) = crate::spool::take(spool)? else {
            return Ok(0);
        };
        let now = rfc3339_now();
        let mut conn = OwnTransaction(Some(self.pool.acquire().await.map_err(self.sql_err())?));
        let result = async {
            conn.execute(sqlx::query("BEGIN IMMEDIATE")).await?;
            let ids: Vec<&str> = batch
                .runs
                .iter()
                .map(|r| r.execution.execution_id.as_str())
                .collect();
            let mut stored: HashSet<String> = conn
                .fetch_strings(
                    sqlx::query(
                        "SELECT execution_id FROM executions \
                         WHERE execution_id IN (SELECT value FROM json_each(?))",
                    )
                    .bind(serde_json::Value::from(ids).to_string()),
                )
                .await?
                .into_iter()
                .collect();
            let mut added = 0;
            for run in &batch.runs {
                // Also skips a second copy of one run within the spool.
                if stored.insert(run.execution.execution_id.clone()) {
                    conn.execute(insert_run(run, &now, false)).await?;
                    added += 1;
                }
            }
            conn.execute(sqlx::query("COMMIT")).await?;
            Ok::<_, sqlx::Error>(added)
        }
        .await;
        if result.is_err() {
            let _ = conn.execute(sqlx::query("ROLLBACK")).await;
        }
        conn.done();
        let added = result.map_err(self.sql_err())?;
        batch.clear()?;
        Ok(added)
    }
}

#[cfg(test)]
#[path = "tests/write.rs"]
mod tests;
