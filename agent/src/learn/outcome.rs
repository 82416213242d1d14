//! Outcome labels without feedback: what the run history says about a
//! match, when nobody said anything.
//!
//! The rules (docs/LEARNING.md, "Local learning", has the same list):
//!
//! 1. **Later success** — a run that ended by a match is a *likely false
//!    positive* when a later run of the same command (same `command_hash`)
//!    ran to completion with exit code 0 and no match, and got at least as
//!    far on the stream of the first match as the line that matched (its
//!    line count on that stream is at least the match's line number). A
//!    successful run keeps no output samples, so that is as much of "the
//!    same output up to the match" as the records can show.
//! 2. **Delay exit** — a run that ended by a match is a *likely false
//!    positive* when, during `--delay-exit`, the child exited by itself
//!    with code 0: it ended before the delay ran out
//!    (`time_from_match_to_exit < delay_exit`), with no signal.
//! 3. **Miss** — a run whose child failed by itself (exit code ≠ 0, or
//!    killed by a signal earlyexit did not send) with no match stopping
//!    it is a *miss* of its pattern. It needs no history, so it is counted
//!    straight from the run's row (`store::effectiveness`,
//!    `PatternTotals::of_run` and `pattern_totals_sql!`), not stored as a
//!    label.
//!
//! Feedback always wins: runs with feedback on whether they should have
//! exited, or flagged false positive, are never labelled, and a label is
//! ignored once feedback says the run should have exited.
//!
//! What the rules cannot tell apart: a genuine failure that was fixed
//! before the later successful run looks the same as noise under rule 1,
//! which is why the label says *likely*; `earlyexit feedback
//! --should-have-exited yes` corrects it.
//!
//! This module owns the rules, as pure functions over plain data. It never
//! touches the database (`store::outcome` reads the candidates and writes
//! the labels).

use serde::Serialize;

/// A run that ended by a match, as the rules see it.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchedRun {
    /// Execution id.
    pub execution_id: String,
    /// SHA-256 of the command line.
    pub command_hash: String,
    /// Start, ms since the epoch.
    pub started_at_ms: i64,
    /// `--delay-exit` in effect, seconds.
    pub delay_exit: f64,
    /// The child's exit code, when it exited normally.
    pub child_exit_code: Option<i64>,
    /// The signal that ended the child, when one did.
    pub child_signal: Option<i64>,
    /// First match to the end of the run, seconds.
    pub time_from_match_to_exit: Option<f64>,
    /// Where the first error match was.
    pub first_match: Option<MatchPlace>,
}

/// The stream and line of a match.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchPlace {
    /// `stdout`, `stderr`, `stdin` or `fdN`.
    pub stream: String,
    /// 1-based line number within that stream.
    pub line_number: i64,
}

/// A run that ran to completion with exit code 0 and no match.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanRun {
    /// Execution id.
    pub execution_id: String,
    /// SHA-256 of the command line.
    pub command_hash: String,
    /// Start, ms since the epoch.
    pub started_at_ms: i64,
    /// Lines on stdout (stdin in pipe mode).
    pub stdout_lines: i64,
    /// Lines on stderr.
    pub stderr_lines: i64,
    /// Lines on the extra fds.
    pub fd_lines: i64,
}

impl CleanRun {
    /// Lines this run wrote on `stream`.
    fn lines_on(&self, stream: &str) -> i64 {
        match stream {
            "stdout" | "stdin" => self.stdout_lines,
            "stderr" => self.stderr_lines,
            _ => self.fd_lines,
        }
    }
}

/// Which rule labelled a run, and what showed it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Evidence {
    /// Rule 1: this later run of the same command succeeded.
    LaterSuccess {
        /// The successful run.
        execution_id: String,
    },
    /// Rule 2: the child exited 0 by itself this long after the match.
    DelayExit {
        /// Seconds from the match to the child's exit.
        exited_after: f64,
    },
}

impl Evidence {
    /// The text stored in `executions.outcome_evidence`.
    pub fn describe(&self) -> String {
        match self {
            Evidence::LaterSuccess { execution_id } => format!(
                "later_success: run {execution_id} of the same command exited 0 without a match, past the line that matched"
            ),
            Evidence::DelayExit { exited_after } => format!(
                "delay_exit: the child exited 0 by itself {exited_after:.2}s after the match, before --delay-exit ran out"
            ),
        }
    }
}

/// Rule 2 for one run.
pub fn delay_exit_rule(run: &MatchedRun) -> Option<Evidence> {
    let after = run.time_from_match_to_exit?;
    (run.delay_exit > 0.0
        && run.child_exit_code == Some(0)
        && run.child_signal.is_none()
        && after < run.delay_exit)
        .then_some(Evidence::DelayExit {
            exited_after: after,
        })
}

/// Rule 1 for one run; `clean` holds the clean runs of the same command,
/// in start order.
pub fn later_success_rule(run: &MatchedRun, clean: &[CleanRun]) -> Option<Evidence> {
    let place = run.first_match.as_ref()?;
    let later = clean.partition_point(|c| c.started_at_ms <= run.started_at_ms);
    clean[later..]
        .iter()
        .find(|c| {
            c.command_hash == run.command_hash && c.lines_on(&place.stream) >= place.line_number
        })
        .map(|c| Evidence::LaterSuccess {
            execution_id: c.execution_id.clone(),
        })
}

/// Every run of `matched` that a rule labels a likely false positive, with
/// the evidence (rule 2 first: it needs no other run). `clean` may hold
/// the clean runs of any commands, in any order.
pub fn likely_false_positives(
    matched: &[MatchedRun],
    mut clean: Vec<CleanRun>,
) -> Vec<(String, Evidence)> {
    clean.sort_by(|a, b| {
        (a.command_hash.as_str(), a.started_at_ms).cmp(&(b.command_hash.as_str(), b.started_at_ms))
    });
    let of_command = |hash: &str| {
        let start = clean.partition_point(|c| c.command_hash.as_str() < hash);
        let end = clean.partition_point(|c| c.command_hash.as_str() <= hash);
        &clean[start..end]
    };
    matched
        .iter()
        .filter_map(|run| {
            delay_exit_rule(run)
                .or_else(|| later_success_rule(run, of_command(&run.command_hash)))
                .map(|evidence| (run.execution_id.clone(), evidence))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matched(id: &str, at: i64) -> MatchedRun {
        MatchedRun {
            execution_id: id.into(),
            command_hash: "h".into(),
            started_at_ms: at,
            delay_exit: 0.0,
            child_exit_code: None,
            child_signal: Some(15),
            time_from_match_to_exit: Some(0.01),
            first_match: Some(MatchPlace {
                stream: "stdout".into(),
                line_number: 3,
            }),
        }
    }

    fn clean(id: &str, hash: &str, at: i64, stdout_lines: i64) -> CleanRun {
        CleanRun {
            execution_id: id.into(),
            command_hash: hash.into(),
            started_at_ms: at,
            stdout_lines,
            stderr_lines: 0,
            fd_lines: 0,
        }
    }

    #[test]
    fn a_later_success_past_the_match_labels_the_run() {
        let run = matched("m", 100);
        let labels = likely_false_positives(
            &[run],
            vec![
                clean("before", "h", 50, 10),
                clean("short", "h", 150, 2),
                clean("other-command", "x", 160, 10),
                clean("after", "h", 200, 3),
            ],
        );
        assert_eq!(
            labels,
            vec![(
                "m".to_string(),
                Evidence::LaterSuccess {
                    execution_id: "after".into()
                }
            )]
        );
    }

    #[test]
    fn an_earlier_success_or_one_that_stopped_short_does_not() {
        let run = matched("m", 100);
        let labels = likely_false_positives(
            &[run],
            vec![clean("before", "h", 50, 10), clean("short", "h", 150, 2)],
        );
        assert!(labels.is_empty(), "{labels:?}");
        let mut on_stderr = matched("m", 100);
        on_stderr.first_match.as_mut().unwrap().stream = "stderr".into();
        assert!(likely_false_positives(&[on_stderr], vec![clean("a", "h", 200, 99)]).is_empty());
    }

    #[test]
    fn a_child_exiting_0_during_the_delay_labels_the_run() {
        let mut run = matched("m", 100);
        run.delay_exit = 10.0;
        run.child_exit_code = Some(0);
        run.child_signal = None;
        run.time_from_match_to_exit = Some(0.4);
        assert_eq!(
            delay_exit_rule(&run),
            Some(Evidence::DelayExit { exited_after: 0.4 })
        );
        // Killed at the end of the delay, or failing by itself: no label.
        let mut killed = run.clone();
        killed.child_exit_code = None;
        killed.child_signal = Some(15);
        assert_eq!(delay_exit_rule(&killed), None);
        let mut failed = run.clone();
        failed.child_exit_code = Some(1);
        assert_eq!(delay_exit_rule(&failed), None);
        let mut full_delay = run;
        full_delay.time_from_match_to_exit = Some(10.2);
        assert_eq!(delay_exit_rule(&full_delay), None);
    }
}
