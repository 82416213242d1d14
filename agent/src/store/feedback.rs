//! Feedback on a recorded run: finding the run (`--last`, a whole id or a
//! prefix of one, like git), writing the answer on its `executions` row and
//! as a `feedback` row, and moving the change into `pattern_effectiveness`
//! — all in one transaction.
//!
//! It never guesses: an unknown id, or a prefix that fits several runs, is
//! an error that says how to find the right id. It never prompts; asking
//! the user is `commands::feedback`'s job.

use serde::Serialize;
use sqlx::Row;

use super::effectiveness::{replace_totals, totals_of_runs};
use super::{Store, StoreError};

/// The shortest id prefix accepted (like git's short hashes).
pub const MIN_ID_PREFIX: usize = 4;

/// How many candidates an ambiguous prefix lists.
const AMBIGUOUS_SHOWN: i64 = 5;

/// Which run the feedback is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunRef<'a> {
    /// The most recently started run.
    Last,
    /// A whole execution id or a prefix of one.
    Id(&'a str),
}

/// What the user said about a run. `None` leaves the stored value as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Feedback {
    /// 1–5.
    pub rating: Option<u8>,
    /// Free text.
    pub comment: Option<String>,
    /// The match that stopped the run was not an error.
    pub false_positive: bool,
    /// The run failed and the pattern did not stop it.
    pub missed_error: bool,
    /// Whether earlyexit should have stopped the run.
    pub should_have_exited: Option<bool>,
    /// How long `--delay-exit` should have been, seconds.
    pub delay_should_be: Option<f64>,
}

impl Feedback {
    /// True when nothing would be recorded.
    pub fn is_empty(&self) -> bool {
        self == &Feedback::default()
    }

    /// The `should_have_exited` value stored: `--missed-error` means yes.
    fn should_have_exited(&self) -> Option<bool> {
        if self.missed_error {
            Some(true)
        } else {
            self.should_have_exited
        }
    }

    /// The `false_positive_flag` stored: set by `--false-positive`, cleared
    /// when the user says the run should have been stopped.
    fn false_positive_flag(&self) -> Option<bool> {
        if self.false_positive {
            Some(true)
        } else if self.should_have_exited() == Some(true) {
            Some(false)
        } else {
            None
        }
    }
}

/// The run feedback was recorded for, as it is stored after the change.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct FeedbackTarget {
    /// The whole execution id.
    pub execution_id: String,
    /// Start, ms since the epoch.
    pub started_at_ms: i64,
    /// The command line.
    pub command: String,
    /// The error pattern ('' when none).
    pub pattern: String,
    /// Why the run ended.
    pub exit_reason: String,
    /// The child's exit code, when it exited normally.
    pub child_exit_code: Option<i64>,
    /// `false_positive_flag`.
    pub false_positive_flag: bool,
    /// `user_rating`.
    pub user_rating: Option<i64>,
    /// `user_feedback`.
    pub user_feedback: Option<String>,
    /// `should_have_exited`.
    pub should_have_exited: Option<bool>,
    /// `optimal_delay_suggestion`, seconds.
    pub optimal_delay_suggestion: Option<f64>,
}

/// Why feedback could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum FeedbackError {
    /// The database has no run at all.
    #[error("no runs recorded yet: run a command with earlyexit first, then give feedback on it")]
    NoRuns,
    /// The id is not a (prefix of an) execution id.
    #[error(
        "'{id}' is not an execution id: ids look like 0193c1f2-7a4b-7c3d-9e8f-0123456789ab; give at least {MIN_ID_PREFIX} of their leading characters, or --last (find ids in the ID column of `earlyexit stats`, or with `earlyexit export`)"
    )]
    BadId {
        /// What was given.
        id: String,
    },
    /// No run has this id or prefix.
    #[error(
        "no recorded run has an id starting with '{id}'; find ids in the ID column of `earlyexit stats` (or `earlyexit export --format jsonl`), or use --last"
    )]
    Unknown {
        /// What was given.
        id: String,
    },
    /// Several runs start with this prefix.
    #[error(
        "'{id}' fits {count} runs ({}{}); give more characters of the id",
        shown.join(", "),
        if *count > shown.len() as i64 { ", …" } else { "" }
    )]
    Ambiguous {
        /// What was given.
        id: String,
        /// How many runs fit.
        count: i64,
        /// The first few ids that fit.
        shown: Vec<String>,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks that `id` can be a prefix of a UUID text; returns it in lower case.
fn normalise_id(id: &str) -> Result<String, FeedbackError> {
    let lower = id.trim().to_ascii_lowercase();
    let valid = lower.len() >= MIN_ID_PREFIX
        && lower.len() <= 36
        && lower.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if valid {
        Ok(lower)
    } else {
        Err(FeedbackError::BadId { id: id.to_string() })
    }
}

const TARGET_COLUMNS: &str = "execution_id, started_at_ms, command, pattern, exit_reason, \
     child_exit_code, false_positive_flag, user_rating, user_feedback, should_have_exited, \
     optimal_delay_suggestion";

impl Store {
    /// The whole execution id `run` refers to.
    pub async fn resolve_run(&self, run: RunRef<'_>) -> Result<String, FeedbackError> {
        let err = self.sql_err();
        match run {
            RunRef::Last => sqlx::query_scalar(
                "SELECT execution_id FROM executions \
                 ORDER BY started_at_ms DESC, execution_id DESC LIMIT 1",
            )
            .fetch_optional(&self.pool)
            .await
            .map_err(err)?
            .ok_or(FeedbackError::NoRuns),
            RunRef::Id(given) => {
                let prefix = normalise_id(given)?;
                // Ids are lower-case hex and '-': no LIKE wildcard can occur.
                let rows = sqlx::query(
                    "SELECT execution_id, count(*) OVER () FROM executions \
                     WHERE execution_id >= ?1 AND execution_id < ?1 || '~' \
                     ORDER BY execution_id LIMIT ?2",
                )
                .bind(&prefix)
                .bind(AMBIGUOUS_SHOWN)
                .fetch_all(&self.pool)
                .await
                .map_err(err)?;
                let count: i64 = match rows.first() {
                    Some(row) => row.try_get(1).map_err(err)?,
                    None => 0,
                };
                match count {
                    0 => {
                        let any: Option<i64> =
                            sqlx::query_scalar("SELECT 1 FROM executions LIMIT 1")
                                .fetch_optional(&self.pool)
                                .await
                                .map_err(err)?;
                        Err(if any.is_none() {
                            FeedbackError::NoRuns
                        } else {
                            FeedbackError::Unknown {
                                id: given.to_string(),
                            }
                        })
                    }
                    1 => Ok(rows[0].try_get(0).map_err(err)?),
                    _ => Err(FeedbackError::Ambiguous {
                        id: given.to_string(),
                        count,
                        shown: rows
                            .iter()
                            .map(|r| r.try_get(0))
                            .collect::<Result<_, _>>()
                            .map_err(err)?,
                    }),
                }
            }
        }
    }

    /// Records `feedback` on the run `execution_id` (a whole id, see
    /// [`Store::resolve_run`]): the given values on its `executions` row, a
    /// new `feedback` row with the time, and the run's share of
    /// `pattern_effectiveness` moved from its old to its new counts — in
    /// one transaction. Returns the run as stored afterwards.
    pub async fn record_feedback(
        &self,
        execution_id: &str,
        feedback: &Feedback,
    ) -> Result<FeedbackTarget, FeedbackError> {
        let err = self.sql_err();
        let ids = serde_json::json!([execution_id]).to_string();
        let mut tx = self.begin_write().await?;
        let before = totals_of_runs(&mut tx, &ids).await.map_err(err)?;
        let changed = sqlx::query(
            "UPDATE executions SET \
             false_positive_flag = coalesce(?1, false_positive_flag), \
             user_rating = coalesce(?2, user_rating), \
             user_feedback = coalesce(?3, user_feedback), \
             should_have_exited = coalesce(?4, should_have_exited), \
             optimal_delay_suggestion = coalesce(?5, optimal_delay_suggestion) \
             WHERE execution_id = ?6",
        )
        .bind(feedback.false_positive_flag())
        .bind(feedback.rating.map(i64::from))
        .bind(&feedback.comment)
        .bind(feedback.should_have_exited())
        .bind(feedback.delay_should_be)
        .bind(execution_id)
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
        if changed == 0 {
            return Err(FeedbackError::Unknown {
                id: execution_id.to_string(),
            });
        }
        sqlx::query(
            "INSERT INTO feedback (feedback_id, execution_id, rating, comment, false_positive, \
             should_have_exited, delay_should_be, missed_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(execution_id)
        .bind(feedback.rating.map(i64::from))
        .bind(&feedback.comment)
        .bind(feedback.false_positive.then_some(true))
        .bind(feedback.should_have_exited())
        .bind(feedback.delay_should_be)
        .bind(feedback.missed_error.then_some(true))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        let after = totals_of_runs(&mut tx, &ids).await.map_err(err)?;
        replace_totals(&mut tx, before, &after).await.map_err(err)?;
        let target = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {TARGET_COLUMNS} FROM executions WHERE execution_id = ?"
        )))
        .bind(execution_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(target)
    }

    /// The run `execution_id` (a whole id) with its feedback columns as stored.
    pub async fn feedback_target(
        &self,
        execution_id: &str,
    ) -> Result<FeedbackTarget, FeedbackError> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {TARGET_COLUMNS} FROM executions WHERE execution_id = ?"
        )))
        .bind(execution_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(self.sql_err())?
        .ok_or_else(|| FeedbackError::Unknown {
            id: execution_id.to_string(),
        })
    }

    /// How many `feedback` rows the run has.
    pub async fn feedback_count(&self, execution_id: &str) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT count(*) FROM feedback WHERE execution_id = ?")
            .bind(execution_id)
            .fetch_one(&self.pool)
            .await
            .map_err(self.sql_err())
    }
}

#[cfg(test)]
#[path = "tests/feedback.rs"]
mod tests;
