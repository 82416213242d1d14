//! The read queries behind `earlyexit analyze`, and the `training_sessions`
//! table.
//!
//! Per-pattern counts come from the same aggregate that keeps
//! `pattern_effectiveness` (`pattern_totals_sql!` in [`super::effectiveness`]),
//! so `analyze patterns` over every run and the table always agree; the
//! score is [`effectiveness_score`], the formula of the table's generated
//! column. Everything that needs more than one run (a command's typical
//! runtime, quantiles, history) is computed here in Rust from a few
//! indexed scans, never with one query per run.
//!
//! Reads only, except [`Store::record_training_session`].

use std::collections::HashMap;

use serde::Serialize;

use super::effectiveness::{
    PatternTotals, effectiveness_score, false_positive_sql, pattern_totals_sql,
};
use super::{Store, StoreError, rfc3339_ms};
use crate::learn::anomaly::HistoryRun;
use crate::learn::robust::{median, quantile, sorted};

/// Which runs an analysis looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Runs started at or after this time (ms since the epoch); `None`: all.
    pub since_ms: Option<i64>,
    /// Runs whose command line contains this text; `None`: all.
    pub command: Option<String>,
}

impl Filter {
    fn since(&self) -> i64 {
        self.since_ms.unwrap_or(i64::MIN)
    }
}

/// The condition of a [`Filter`] on `executions` (binds: since, command).
macro_rules! filter_sql {
    () => {
        "started_at_ms >= ?1 AND (?2 IS NULL OR instr(command, ?2) > 0)"
    };
}

/// One pattern in `analyze patterns`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatternAnalysis {
    /// The pattern.
    pub pattern: String,
    /// Runs with this pattern.
    pub uses: i64,
    /// Runs that ended by a match, minus the false positives.
    pub true_exits: i64,
    /// Runs flagged false positive by feedback or labelled so by the outcome rules.
    pub false_positives: i64,
    /// Runs that failed without the pattern stopping them (outcome rule, or feedback).
    pub misses: i64,
    /// Mean seconds from start to the first match, over runs that matched.
    pub mean_time_to_first_match: Option<f64>,
    /// Mean seconds saved per true exit: the command's typical full runtime
    /// (median runtime of its runs that ran to completion) minus the time
    /// at exit. Only exits whose command has a completed run count.
    pub mean_runtime_saved: Option<f64>,
    /// True exits counted in `mean_runtime_saved`.
    pub runtime_saved_runs: i64,
    /// Mean user rating (1–5).
    pub rating_avg: Option<f64>,
    /// Rated runs.
    pub rated_runs: i64,
    /// `2·TP / (2·TP + FP + misses)`, 0..1; `None` without evidence.
    pub effectiveness_score: Option<f64>,
}

/// The three usual quantiles of a measure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quantiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Quantiles {
    fn of(values: impl IntoIterator<Item = f64>) -> Option<Quantiles> {
        let s = sorted(values);
        Some(Quantiles {
            p50: quantile(&s, 0.5)?,
            p95: quantile(&s, 0.95)?,
            p99: quantile(&s, 0.99)?,
            max: *s.last()?,
        })
    }
}

/// One command in `analyze timing`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandTiming {
    /// The command line.
    pub command: String,
    /// Runs.
    pub runs: i64,
    /// Total runtime, seconds.
    pub runtime: Option<Quantiles>,
    /// Start to the first output byte, seconds (runs with output).
    pub time_to_first_output: Option<Quantiles>,
    /// Mean number of idle periods (gaps in output of 1 s or more) per run.
    pub idle_periods_mean: f64,
    /// The longest idle period of each run, seconds.
    pub longest_idle: Option<Quantiles>,
    /// First match to exit, seconds (runs with a match).
    pub match_to_exit: Option<Quantiles>,
    /// Runs with a match.
    pub runs_with_match: i64,
}

/// One command's runs, oldest first, for `analyze anomalies`.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandHistory {
    /// The command line.
    pub command: String,
    /// Its runs in start order.
    pub runs: Vec<HistoryRun>,
}

/// A training of a local model, as the trainer reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewTrainingSession {
    /// When it ran, ms since the epoch.
    pub trained_at_ms: i64,
    /// Which model, e.g. `line_classifier`.
    pub model: String,
    /// Labelled examples trained on.
    pub samples: i64,
    /// Accuracy on held-out examples, 0..=1.
    pub accuracy: Option<f64>,
    /// Precision on held-out examples, 0..=1.
    pub precision: Option<f64>,
    /// Recall on held-out examples, 0..=1.
    pub recall: Option<f64>,
    /// Why it ran: `new_labels`, `accuracy_drop`, `manual`, ….
    pub triggered_by: String,
    /// Free text or JSON from the trainer.
    pub detail: Option<String>,
}

/// One row of `training_sessions`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingSession {
    /// UUIDv7.
    pub session_id: String,
    /// When it ran, RFC 3339.
    pub trained_at: String,
    /// The rest, as recorded.
    #[serde(flatten)]
    pub session: NewTrainingSession,
}

/// A training session that cannot be recorded.
#[derive(Debug, thiserror::Error)]
pub enum TrainingSessionError {
    /// A metric outside 0..=1 or a negative sample count.
    #[error("training session {field} = {value} is out of range: {expected}")]
    OutOfRange {
        /// Which value.
        field: &'static str,
        /// What it was.
        value: String,
        /// What it must be.
        expected: &'static str,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl NewTrainingSession {
    fn validate(&self) -> Result<(), TrainingSessionError> {
        if self.samples < 0 {
            return Err(TrainingSessionError::OutOfRange {
                field: "samples",
                value: self.samples.to_string(),
                expected: "a count, 0 or more",
            });
        }
        for (field, value) in [
            ("accuracy", self.accuracy),
            ("precision", self.precision),
            ("recall", self.recall),
        ] {
            if let Some(v) = value
                && !(0.0..=1.0).contains(&v)
            {
                return Err(TrainingSessionError::OutOfRange {
                    field,
                    value: v.to_string(),
                    expected: "a share between 0 and 1",
                });
            }
        }
        Ok(())
    }
}

/// A JSON array of numbers and nulls, as `json_group_array` makes it.
fn parse_values(json: &str) -> Result<Vec<Option<f64>>, serde_json::Error> {
    serde_json::from_str(json)
}

/// A JSON array produced by the database that does not parse (a bug, or a
/// damaged file): reported as a database error.
fn bad_json(store: &Store, e: serde_json::Error) -> StoreError {
    StoreError::from_sqlx(store.path(), sqlx::Error::Decode(Box::new(e)))
}

impl Store {
    /// Runs the filter selects.
    pub async fn count_filtered_runs(&self, filter: &Filter) -> Result<i64, StoreError> {
        sqlx::query_scalar(concat!(
            "SELECT count(*) FROM executions WHERE ",
            filter_sql!()
        ))
        .bind(filter.since())
        .bind(&filter.command)
        .fetch_one(&self.pool)
        .await
        .map_err(self.sql_err())
    }

    /// Per pattern, over the runs `filter` selects: uses, true exits, false
    /// positives, misses, times, ratings and the score; most used first.
    pub async fn analyze_patterns(
        &self,
        filter: &Filter,
    ) -> Result<Vec<PatternAnalysis>, StoreError> {
        let err = self.sql_err();
        let totals = sqlx::query(pattern_totals_sql!(filter_sql!()))
            .bind(filter.since())
            .bind(&filter.command)
            .fetch_all(&self.pool)
            .await
            .map_err(err)?
            .iter()
            .map(PatternTotals::from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        // One row per command (runtimes packed as a JSON array), not one
        // per run: the rows cross a thread inside sqlx one by one.
        let typical: HashMap<String, f64> = sqlx::query_as::<_, (String, String)>(concat!(
            "SELECT command_hash, json_group_array(total_runtime) FROM executions \
             WHERE exit_reason = 'completed' AND command_hash IN \
             (SELECT command_hash FROM executions WHERE exit_reason = 'match' AND ",
            filter_sql!(),
            ") GROUP BY command_hash"
        ))
        .bind(filter.since())
        .bind(&filter.command)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?
        .into_iter()
        .filter_map(|(hash, runtimes)| {
            let runtimes = parse_values(&runtimes).ok()?;
            Some((hash, median(&sorted(runtimes.into_iter().flatten()))?))
        })
        .collect();
        let exits: Vec<(String, String, i64, f64)> = sqlx::query_as(concat!(
            "SELECT pattern, command_hash, count(*), total(total_runtime) FROM executions \
             WHERE exit_reason = 'match' AND pattern <> '' AND NOT ",
            false_positive_sql!(),
            " AND ",
            filter_sql!(),
            " GROUP BY pattern, command_hash"
        ))
        .bind(filter.since())
        .bind(&filter.command)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        let mut saved: HashMap<String, (f64, i64)> = HashMap::new();
        for (pattern, hash, runs, runtime_sum) in exits {
            if let Some(full) = typical.get(&hash) {
                let entry = saved.entry(pattern).or_default();
                entry.0 += full * runs as f64 - runtime_sum;
                entry.1 += runs;
            }
        }
        let mut out: Vec<PatternAnalysis> = totals
            .into_iter()
            .map(|t| {
                let (saved_sum, saved_runs) = saved.get(&t.pattern).copied().unwrap_or_default();
                PatternAnalysis {
                    uses: t.total_uses,
                    true_exits: (t.successful_exits - t.false_positives).max(0),
                    false_positives: t.false_positives,
                    misses: t.missed_errors,
                    mean_time_to_first_match: (t.runs_with_match > 0)
                        .then(|| t.sum_time_to_match / t.runs_with_match as f64),
                    mean_runtime_saved: (saved_runs > 0).then(|| saved_sum / saved_runs as f64),
                    runtime_saved_runs: saved_runs,
                    rating_avg: (t.rated_runs > 0)
                        .then(|| t.sum_user_rating as f64 / t.rated_runs as f64),
                    rated_runs: t.rated_runs,
                    effectiveness_score: effectiveness_score(
                        t.successful_exits,
                        t.false_positives,
                        t.missed_errors,
                    ),
                    pattern: t.pattern,
                }
            })
            .collect();
        out.sort_by(|a, b| b.uses.cmp(&a.uses).then_with(|| a.pattern.cmp(&b.pattern)));
        Ok(out)
    }

    /// Per command, over the runs `filter` selects: runtime, first output,
    /// idle periods and match-to-exit quantiles; most run first.
    pub async fn analyze_timing(&self, filter: &Filter) -> Result<Vec<CommandTiming>, StoreError> {
        type Row = (String, i64, f64, String, String, String, String);
        let rows: Vec<Row> = sqlx::query_as(concat!(
            "SELECT min(command), count(*), total(idle_periods_count), \
             json_group_array(total_runtime), json_group_array(time_to_first_output), \
             json_group_array(longest_idle_period), json_group_array(time_from_match_to_exit) \
             FROM executions WHERE ",
            filter_sql!(),
            " GROUP BY command_hash"
        ))
        .bind(filter.since())
        .bind(&filter.command)
        .fetch_all(&self.pool)
        .await
        .map_err(self.sql_err())?;
        let mut out = Vec::with_capacity(rows.len());
        for (command, runs, idle_periods, runtime, first_output, longest_idle, match_to_exit) in
            rows
        {
            let parse = |json: &str| parse_values(json).map_err(|e| bad_json(self, e));
            let match_to_exit = parse(&match_to_exit)?;
            out.push(CommandTiming {
                command,
                runs,
                runtime: Quantiles::of(parse(&runtime)?.into_iter().flatten()),
                time_to_first_output: Quantiles::of(parse(&first_output)?.into_iter().flatten()),
                idle_periods_mean: idle_periods / runs.max(1) as f64,
                longest_idle: Quantiles::of(parse(&longest_idle)?.into_iter().flatten()),
                runs_with_match: match_to_exit.iter().flatten().count() as i64,
                match_to_exit: Quantiles::of(match_to_exit.into_iter().flatten()),
            });
        }
        out.sort_by(|a, b| b.runs.cmp(&a.runs).then_with(|| a.command.cmp(&b.command)));
        Ok(out)
    }

    /// The whole history (whatever `since`) of every command `command`
    /// selects, each oldest first, with the error lines that matched.
    pub async fn command_histories(
        &self,
        command: Option<&str>,
    ) -> Result<Vec<CommandHistory>, StoreError> {
        /// One run in the packed array: id, start, runtime, bytes, matched lines.
        type Packed = (String, i64, f64, i64, Option<Vec<String>>);
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT min(command), json_group_array(json_array(execution_id, started_at_ms, \
             total_runtime, bytes_processed, CASE WHEN match_count > 0 THEN json(( \
               SELECT json_group_array(line_content) FROM (SELECT line_content \
               FROM match_events m WHERE m.execution_id = e.execution_id \
               AND m.kind = 'error' ORDER BY m.match_number))) END)) \
             FROM executions e WHERE (?1 IS NULL OR instr(command, ?1) > 0) \
             GROUP BY command_hash",
        )
        .bind(command)
        .fetch_all(&self.pool)
        .await
        .map_err(self.sql_err())?;
        let mut out = Vec::with_capacity(rows.len());
        for (command, packed) in rows {
            let packed: Vec<Packed> =
                serde_json::from_str(&packed).map_err(|e| bad_json(self, e))?;
            let mut runs: Vec<HistoryRun> = packed
                .into_iter()
                .map(
                    |(execution_id, started_at_ms, runtime, bytes, lines)| HistoryRun {
                        execution_id,
                        started_at_ms,
                        runtime,
                        output_bytes: bytes as f64,
                        match_lines: lines.unwrap_or_default(),
                    },
                )
                .collect();
            runs.sort_by(|a, b| {
                (a.started_at_ms, &a.execution_id).cmp(&(b.started_at_ms, &b.execution_id))
            });
            out.push(CommandHistory { command, runs });
        }
        Ok(out)
    }

    /// Records one training of a local model (for `analyze models`);
    /// returns its id.
    pub async fn record_training_session(
        &self,
        session: &NewTrainingSession,
    ) -> Result<String, TrainingSessionError> {
        session.validate()?;
        let id = uuid::Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO training_sessions (session_id, trained_at_ms, model, samples, accuracy, \
             precision, recall, triggered_by, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(session.trained_at_ms)
        .bind(&session.model)
        .bind(session.samples)
        .bind(session.accuracy)
        .bind(session.precision)
        .bind(session.recall)
        .bind(&session.triggered_by)
        .bind(&session.detail)
        .execute(&self.pool)
        .await
        .map_err(self.sql_err())?;
        Ok(id)
    }

    /// Training sessions since `since_ms`, newest first.
    pub async fn training_sessions(
        &self,
        since_ms: Option<i64>,
    ) -> Result<Vec<TrainingSession>, StoreError> {
        type Row = (
            String,
            i64,
            String,
            i64,
            Option<f64>,
            Option<f64>,
            Option<f64>,
            String,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT session_id, trained_at_ms, model, samples, accuracy, precision, recall, \
             triggered_by, detail FROM training_sessions WHERE trained_at_ms >= ? \
             ORDER BY trained_at_ms DESC, session_id DESC",
        )
        .bind(since_ms.unwrap_or(i64::MIN))
        .fetch_all(&self.pool)
        .await
        .map_err(self.sql_err())?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    session_id,
                    trained_at_ms,
                    model,
                    samples,
                    accuracy,
                    precision,
                    recall,
                    triggered_by,
                    detail,
                )| {
                    TrainingSession {
                        session_id,
                        trained_at: rfc3339_ms(trained_at_ms),
                        session: NewTrainingSession {
                            trained_at_ms,
                            model,
                            samples,
                            accuracy,
                            precision,
                            recall,
                            triggered_by,
                            detail,
                        },
                    }
                },
            )
            .collect())
    }
}

#[cfg(test)]
#[path = "tests/analysis.rs"]
mod tests;
