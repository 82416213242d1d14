//! The telemetry record of one run: what the supervisor observed, in the
//! shape the local store persists and the sync path will later ship.
//!
//! This module owns plain data only. It never touches the database, the
//! network or the child process; `store` writes these types, `run` fills
//! them in.

use serde::{Deserialize, Serialize};

/// Everything recorded about one run, written to the store in one transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    /// The `executions` row.
    pub execution: Execution,
    /// One `match_events` row per counted match, in order.
    pub matches: Vec<MatchEvent>,
    /// `output_samples` rows (match context blocks, tail of output on errors).
    pub samples: Vec<OutputSample>,
    /// `performance_metrics` rows (peak RSS, CPU time of the child).
    pub metrics: Vec<PerformanceMetric>,
    /// The false-positive filter's verdicts on `matches` (empty for a run
    /// recorded before the filter existed).
    pub fp: FpRecord,
}

/// What the false-positive filter made of a run's matches: one
/// [`MatchVerdict`] per entry of [`RunRecord::matches`], in the same order.
/// The `match_context` samples are cut around the first matches in that
/// same order, so sample `i` of that type carries the verdict of match `i`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FpRecord {
    /// `fp_filter` in effect (`off`, `annotate`, `enforce`); `None` for a
    /// run recorded before the filter existed.
    pub mode: Option<String>,
    /// One per match event, in order (may be shorter: missing = not scored).
    pub matches: Vec<MatchVerdict>,
}

impl FpRecord {
    /// Matches the filter ignored (`executions.suppressed_matches`).
    pub fn suppressed(&self) -> i64 {
        self.matches.iter().filter(|m| m.suppressed).count() as i64
    }

    /// The verdict on match `i`, if it was scored.
    pub fn verdict(&self, i: usize) -> Option<Verdict> {
        self.matches.get(i).and_then(|m| m.verdict)
    }

    /// Whether match `i` was suppressed.
    pub fn is_suppressed(&self, i: usize) -> bool {
        self.matches.get(i).is_some_and(|m| m.suppressed)
    }
}

/// The filter's verdict on one match event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MatchVerdict {
    /// The classifier's verdict, when the match was scored.
    pub verdict: Option<Verdict>,
    /// `fp_filter: enforce` ignored this match: it did not count and did
    /// not stop the run.
    pub suppressed: bool,
}

/// The line classifier's verdict on one line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// True when the model thinks the line reports an error.
    pub is_error: bool,
    /// The model's confidence in that verdict, 0.5 to 1.
    pub confidence: f64,
}

impl Verdict {
    /// The verdict for a calibrated error probability `p` in `[0, 1]`.
    pub fn from_probability(p: f64) -> Verdict {
        let p = p.clamp(0.0, 1.0);
        if p >= 0.5 {
            Verdict {
                is_error: true,
                confidence: p,
            }
        } else {
            Verdict {
                is_error: false,
                confidence: 1.0 - p,
            }
        }
    }

    /// `likely error, 0.97` / `likely noise, 0.93`.
    pub fn describe(&self) -> String {
        format!(
            "likely {}, {:.2}",
            if self.is_error { "error" } else { "noise" },
            self.confidence
        )
    }
}

/// Why a run ended. Stored as the `exit_reason` column (`as_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    /// An error pattern matched (and the delay, if any, ran out).
    Match,
    /// A `--success-pattern` matched.
    SuccessPattern,
    /// The command (or the input stream) ended with no match.
    Completed,
    /// `-t/--timeout` ran out.
    TimeoutOverall,
    /// `-I/--idle-timeout` ran out: no output bytes for that long.
    TimeoutIdle,
    /// `--first-output-timeout` ran out before any output.
    TimeoutFirstOutput,
    /// `--max-repeat`: the same line came N times in a row.
    Stuck,
    /// earlyexit got SIGINT, SIGTERM or SIGHUP.
    Interrupted,
    /// earlyexit itself failed (command not found, I/O error, …).
    Error,
}

impl ExitReason {
    /// The stable text stored in the database and printed by `--json`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::Match => "match",
            ExitReason::SuccessPattern => "success_pattern",
            ExitReason::Completed => "completed",
            ExitReason::TimeoutOverall => "timeout_overall",
            ExitReason::TimeoutIdle => "timeout_idle",
            ExitReason::TimeoutFirstOutput => "timeout_first_output",
            ExitReason::Stuck => "stuck",
            ExitReason::Interrupted => "interrupted",
            ExitReason::Error => "error",
        }
    }

    /// True for every kind of timeout (overall, idle, first output, stuck).
    pub fn is_timeout(self) -> bool {
        matches!(
            self,
            ExitReason::TimeoutOverall
                | ExitReason::TimeoutIdle
                | ExitReason::TimeoutFirstOutput
                | ExitReason::Stuck
        )
    }
}

/// The `executions` row: configuration, outcome, timings, volumes, context.
///
/// Times are seconds as `f64`; `None` means "did not happen" (no output, no
/// match) or "not configured" (no timeout).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Execution {
    /// UUIDv7, time-ordered.
    pub execution_id: String,
    /// Wall-clock start, milliseconds since the Unix epoch.
    pub started_at_ms: i64,
    /// `command` or `pipe`.
    pub mode: String,
    /// The command line, shell-quoted; `<pipe>` in pipe mode.
    pub command: String,
    /// SHA-256 (hex) of `command`, for grouping runs of the same command.
    pub command_hash: String,
    /// The program name (argv[0] without directories), if any.
    pub program: Option<String>,
    /// Current working directory of the run.
    pub working_directory: String,
    /// JSON object of the relevant environment variables (CI, NODE_ENV, …).
    pub environment_vars: String,

    /// The error pattern as matched (several `-e` joined by `|`); empty when none.
    pub pattern: String,
    /// `regex` (Rust regex) or `pcre` (`-P`, fancy-regex).
    pub pattern_type: String,
    /// `-i`.
    pub case_insensitive: bool,
    /// `-v`.
    pub invert_match: bool,
    /// `-w`.
    pub word_regexp: bool,
    /// `-x`.
    pub line_regexp: bool,
    /// `-m`; 0 means unlimited.
    pub max_count: i64,
    /// JSON array of `--exclude` patterns.
    pub exclude_patterns: String,
    /// JSON array of `--success-pattern` patterns.
    pub success_patterns: String,

    /// `stdout`, `stderr` or `both`: which standard streams the default pattern watches.
    pub match_mode: String,
    /// JSON object `{ "fd": "pattern" }` from `--fd-pattern`.
    pub fd_patterns: String,
    /// JSON array of the extra fds monitored (`--fd`).
    pub monitored_fds: String,
    /// `--pty`.
    pub pty: bool,

    /// `-t`.
    pub overall_timeout: Option<f64>,
    /// `-I`.
    pub idle_timeout: Option<f64>,
    /// `--first-output-timeout`.
    pub first_output_timeout: Option<f64>,
    /// `--delay-exit` as in effect.
    pub delay_exit: f64,
    /// `--delay-exit-after-lines`.
    pub delay_exit_after_lines: Option<i64>,
    /// `--max-repeat`.
    pub max_repeat: Option<i64>,
    /// `--kill-grace`.
    pub kill_grace: f64,

    /// earlyexit's own exit code for this run.
    pub exit_code: i64,
    /// Why the run ended.
    pub exit_reason: ExitReason,
    /// The child's exit code, when it exited normally.
    pub child_exit_code: Option<i64>,
    /// The signal that ended the child, when one did.
    pub child_signal: Option<i64>,
    /// The error message when `exit_reason` is `error`.
    pub error_message: Option<String>,

    /// Start to exit, seconds.
    pub total_runtime: f64,
    /// Start to the first output byte on any stream.
    pub time_to_first_output: Option<f64>,
    /// Start to the first counted match.
    pub time_to_first_match: Option<f64>,
    /// First counted match to the end of the run.
    pub time_from_match_to_exit: Option<f64>,
    /// Gaps in output of at least `IDLE_PERIOD_SECS` seconds.
    pub idle_periods_count: i64,
    /// The longest gap between output bytes, seconds.
    pub longest_idle_period: f64,

    /// Counted matches.
    pub match_count: i64,
    /// JSON array of the line numbers (per stream) of counted matches.
    pub match_line_numbers: String,

    /// Lines on all streams.
    pub total_lines_processed: i64,
    /// Lines on stdout (or stdin in pipe mode).
    pub stdout_lines: i64,
    /// Lines on stderr.
    pub stderr_lines: i64,
    /// Lines on extra fds.
    pub fd_lines: i64,
    /// Bytes on all streams.
    pub bytes_processed: i64,
    /// Bytes on stdout (or stdin in pipe mode).
    pub stdout_bytes: i64,
    /// Bytes on stderr.
    pub stderr_bytes: i64,

    /// Detected project type (`rust`, `nodejs`, `python`, …) or `unknown`.
    pub project_type: String,
    /// Detected command category (`test`, `build`, `lint`, `deploy`, …) or `unknown`.
    pub command_category: String,
    /// 1-minute load average at start.
    pub load_avg_1m: Option<f64>,
    /// Available memory at start, MiB.
    pub mem_available_mb: Option<f64>,
    /// Free disk space in the working directory's file system at start, MiB.
    pub disk_free_mb: Option<f64>,

    /// The telemetry level in effect (`local`, …).
    pub telemetry_level: String,
    /// earlyexit's version.
    pub earlyexit_version: String,
}

/// Gaps in output at least this long count as idle periods (seconds).
pub const IDLE_PERIOD_SECS: f64 = 1.0;

/// Number of context lines recorded before and after each match event.
pub const MATCH_CONTEXT_LINES: usize = 3;

/// One `match_events` row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MatchEvent {
    /// 1-based, in the order matches were counted.
    pub match_number: i64,
    /// Seconds from start.
    pub timestamp_offset: f64,
    /// `stdout`, `stderr`, `stdin`, `fd3`, ….
    pub stream_source: String,
    /// 1-based line number within that stream.
    pub line_number: i64,
    /// The line, lossily decoded, capped at the matching cap.
    pub line_content: String,
    /// The matched text (empty for `-v` matches).
    pub matched_substring: String,
    /// Byte offset of the match in the line.
    pub match_position_start: i64,
    /// Byte offset of the end of the match.
    pub match_position_end: i64,
    /// Up to `MATCH_CONTEXT_LINES` lines before, joined with `\n`.
    pub context_before: String,
    /// Up to `MATCH_CONTEXT_LINES` lines after (as seen before exit), joined with `\n`.
    pub context_after: String,
    /// `error` for error patterns, `success` for `--success-pattern`.
    pub kind: String,
}

/// One `output_samples` row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutputSample {
    /// `match_context` or `tail`.
    pub sample_type: String,
    /// Stream the sample came from.
    pub stream_source: String,
    /// Seconds from start.
    pub timestamp_offset: f64,
    /// The text.
    pub content: String,
    /// SHA-256 (hex) of `content`.
    pub content_hash: String,
}

/// One `performance_metrics` row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PerformanceMetric {
    /// `peak_rss_mb`, `cpu_user_seconds`, `cpu_system_seconds`.
    pub metric_name: String,
    /// The value.
    pub metric_value: f64,
    /// Seconds from start when measured.
    pub timestamp_offset: f64,
}

#[cfg(test)]
pub(crate) mod tests_support;
