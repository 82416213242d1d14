//! `pattern_effectiveness`: per pattern, the totals of the runs that used
//! it (uses, exits, false positives, misses, times, ratings, a score).
//!
//! The row is updated in the same transaction as every run written
//! ([`super::write`]) and every run deleted ([`super::limits`]), from one
//! definition (`PatternTotals::of_run`) that the full rebuild from
//! `executions` must agree with (a test checks that they do).

use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnection, SqliteRow};

use super::SqliteQuery;
use super::{Store, StoreError, rfc3339_now, sha256_hex};
use crate::record::{Execution, ExitReason};

/// Totals of the runs of one pattern, as kept in `pattern_effectiveness`.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct PatternTotals {
    pub(super) pattern: String,
    pub(super) total_uses: i64,
    pub(super) successful_exits: i64,
    pub(super) false_positives: i64,
    pub(super) missed_errors: i64,
    pub(super) runs_with_match: i64,
    pub(super) sum_time_to_match: f64,
    pub(super) sum_total_runtime: f64,
    pub(super) rated_runs: i64,
    pub(super) sum_user_rating: i64,
}

/// Whether a run of `executions` counts as a false positive: flagged by
/// feedback, or labelled by the outcome rules unless feedback said it
/// should have exited. One definition for every count of false positives.
macro_rules! false_positive_sql {
    () => {
        "(false_positive_flag = 1 OR (outcome_label IS 'likely_false_positive' \
         AND should_have_exited IS NOT 1))"
    };
}
pub(super) use false_positive_sql;

/// The aggregate over `executions` that yields [`PatternTotals`]; the
/// definitions must agree with [`PatternTotals::of_run`].
///
/// A false positive is a run flagged by feedback (`--false-positive`) or
/// labelled `likely_false_positive` by the outcome rules
/// (`learn::outcome`) unless feedback said it should have exited; a miss
/// is a run whose child failed on its own without a match stopping it, or
/// one that feedback says should have exited (`--missed-error`,
/// `--should-have-exited yes`) and did not end by a match.
macro_rules! pattern_totals_sql {
    ($($where:tt)+) => {
        concat!(
            "SELECT pattern, count(*), ",
            "coalesce(sum(exit_reason = 'match'), 0), ",
            "coalesce(sum(",
            $crate::store::effectiveness::false_positive_sql!(),
            "), 0), ",
            "coalesce(sum((exit_reason = 'completed' AND (coalesce(child_exit_code, 0) <> 0 ",
            "OR child_signal IS NOT NULL)) OR (coalesce(should_have_exited, 0) = 1 ",
            "AND exit_reason <> 'match')), 0), ",
            "count(time_to_first_match), total(time_to_first_match), total(total_runtime), ",
            "count(user_rating), coalesce(sum(user_rating), 0) ",
            "FROM executions WHERE pattern <> '' AND ",
            $($where)+,
            " GROUP BY pattern"
        )
    };
}
pub(super) use pattern_totals_sql;

impl PatternTotals {
    /// The contribution of one freshly recorded run (no feedback yet).
    pub(super) fn of_run(e: &Execution) -> PatternTotals {
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

    pub(super) fn from_row(row: &SqliteRow) -> Result<PatternTotals, sqlx::Error> {
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

    pub(super) fn negated(self) -> PatternTotals {
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
    pub(super) fn bind_upsert<'q>(&self, query: SqliteQuery<'q>, now: &str) -> SqliteQuery<'q> {
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
    pub(super) async fn apply(
        &self,
        conn: &mut SqliteConnection,
        now: &str,
    ) -> Result<(), sqlx::Error> {
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

/// The [`PatternTotals`] of the runs `ids_json` (a JSON array of execution
/// ids) as stored now: read before and after a change to those runs
/// (feedback, an outcome label), so the change can be moved into
/// `pattern_effectiveness` with [`replace_totals`].
pub(super) async fn totals_of_runs(
    conn: &mut SqliteConnection,
    ids_json: &str,
) -> Result<Vec<PatternTotals>, sqlx::Error> {
    let rows = sqlx::query(pattern_totals_sql!(
        "execution_id IN (SELECT value FROM json_each(?))"
    ))
    .bind(ids_json)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(PatternTotals::from_row).collect()
}

/// Takes `before` out of `pattern_effectiveness` and puts `after` in: the
/// same runs, read with [`totals_of_runs`] around a change to them.
pub(super) async fn replace_totals(
    conn: &mut SqliteConnection,
    before: Vec<PatternTotals>,
    after: &[PatternTotals],
) -> Result<(), sqlx::Error> {
    let now = rfc3339_now();
    for totals in after {
        totals.apply(conn, &now).await?;
    }
    for totals in before {
        totals.negated().apply(conn, &now).await?;
    }
    Ok(())
}

/// The effectiveness score of `pattern_effectiveness.effectiveness_score`
/// (the F1 score of catching failing runs), for totals computed outside
/// the table (`analyze patterns --since`, `--command`): true positives are
/// the runs that ended by a match minus the false positives, so
/// `score = 2·TP / (2·TP + FP + misses)`; `None` when all three are 0.
/// A test checks that it agrees with the generated column.
pub fn effectiveness_score(
    successful_exits: i64,
    false_positives: i64,
    missed: i64,
) -> Option<f64> {
    let tp = (successful_exits - false_positives).max(0);
    let denominator = 2 * tp + false_positives + missed;
    (denominator != 0).then(|| 2.0 * tp as f64 / denominator as f64)
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

/// Adds a run's [`PatternTotals`] to its pattern's row, creating it; binds
/// from [`PatternTotals::bind_upsert`].
pub(super) const UPSERT_PATTERN_SQL: &str = "INSERT INTO pattern_effectiveness (pattern_hash, pattern, \
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

impl Store {
    /// Recomputes `pattern_effectiveness` from `executions`, e.g. after
    /// feedback changed a run's false-positive flag or rating.
    pub async fn rebuild_pattern_effectiveness(&self) -> Result<(), StoreError> {
        let err = self.sql_err();
        let mut tx = self.begin_write().await?;
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
}

#[cfg(test)]
#[path = "tests/effectiveness.rs"]
mod tests;
