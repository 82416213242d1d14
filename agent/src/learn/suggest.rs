//! A complete command line for one command, learned from its recorded
//! runs: the error pattern, its excludes, the delay after a match, and the
//! idle and overall timeouts, each with a confidence and the evidence
//! behind it.
//!
//! Owns the rules every suggestion obeys, each a named constant with its
//! reason and each with its own test:
//!
//! - nothing is suggested from fewer than [`MIN_RUNS`] runs (the answer
//!   says how many more are needed);
//! - an overall timeout is never below [`TIMEOUT_FACTOR`] × the slowest
//!   successful run, nor below [`TIMEOUT_FLOOR_SECS`], and needs
//!   [`MIN_SUCCESSES`] successful runs;
//! - an idle timeout is never below [`IDLE_FACTOR`] × the longest silence
//!   of a successful run (the wait for its first output included), nor
//!   below [`IDLE_FLOOR_SECS`];
//! - the delay after a match covers the longest error block seen: the time
//!   from the first match to the command's own exit, when it exited by
//!   itself during the delay, with [`DELAY_MARGIN`]; a block still going
//!   when an earlier delay ran out doubles that delay.
//!
//! The floors are what make the Python earlyexit's failure impossible: its
//! auto-tune learned a 0.1 s timeout from fast runs and killed a normal
//! 2 s run. Pure: it decides from the runs and pattern rows it is given
//! and never reads the database (`store::history` does).

use std::time::Duration;

use serde::Serialize;

use super::builtin;
use crate::duration::format_duration;
use crate::store::{HistoryRun, PatternEffectiveness};

/// Fewest recorded runs of a command before anything is suggested: fewer
/// say too little about how long it takes or how its errors look.
pub const MIN_RUNS: usize = 5;
/// Fewest successful runs before an overall or idle timeout is suggested: a
/// timeout learned from one or two runs is how a normal run gets killed.
pub const MIN_SUCCESSES: usize = 5;
/// An overall timeout is at least this many times the slowest successful
/// run: runs vary (a cold cache, a loaded machine), and a timeout is for
/// hangs, not for slow days.
pub const TIMEOUT_FACTOR: f64 = 1.5;
/// No overall timeout below this (seconds), however fast the command
/// always was: a command that took 0.1 s may take 2 s tomorrow, and a hang
/// caught after 30 s instead of 0.15 s costs little.
pub const TIMEOUT_FLOOR_SECS: f64 = 30.0;
/// An idle timeout is at least this many times the longest silence of a
/// successful run.
pub const IDLE_FACTOR: f64 = 2.0;
/// No idle timeout below this (seconds): short silences (a compiler
/// linking, a test sleeping) are normal for any command.
pub const IDLE_FLOOR_SECS: f64 = 30.0;
/// The delay is the longest observed error block times this: the next
/// stack trace may be a little longer than any seen so far.
pub const DELAY_MARGIN: f64 = 1.5;
/// No delay below this (seconds): the lines printed right after an error
/// line are the most useful context.
pub const DELAY_FLOOR_SECS: f64 = 1.0;
/// No delay above this (seconds): past two minutes the run is better
/// stopped and the rest read in its log.
pub const DELAY_CAP_SECS: f64 = 120.0;
/// The delay when no run of the command matched yet (seconds): the
/// command-mode default.
pub const DELAY_DEFAULT_SECS: f64 = 10.0;
/// A learned pattern is preferred to the built-in library when its
/// effectiveness score (F1 of catching failing runs) is at least this; a
/// pattern with no evidence either way counts as this.
pub const LEARNED_MIN_SCORE: f64 = 0.5;
/// A run ended by a match this close (seconds) to the end of its delay was
/// stopped by the delay running out, not by the command exiting.
const DELAY_RAN_OUT_SLACK: f64 = 0.25;

/// One suggested value's confidence and the evidence behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// How sure the suggestion is, 0 to 1.
    pub confidence: f64,
    /// What it rests on, in words.
    pub evidence: String,
}

/// The evidence for each value of a [`Suggestion`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvidenceSet {
    /// For the pattern.
    pub pattern: Evidence,
    /// For the excludes.
    pub excludes: Evidence,
    /// For the delay after a match.
    pub delay_exit: Evidence,
    /// For the overall timeout.
    pub timeout: Evidence,
    /// For the idle timeout.
    pub idle_timeout: Evidence,
}

/// Where the suggested pattern comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PatternSource {
    /// A pattern this command ran with, by its recorded effectiveness.
    Learned,
    /// The built-in library's entries for the command's tools.
    Builtin,
    /// Neither: no pattern is suggested.
    None,
}

/// A complete, safe command line for one command.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    /// Runs of the command the suggestion was learned from.
    pub runs: usize,
    /// Of those, runs that completed with exit code 0.
    pub successful_runs: usize,
    /// The command, as recorded.
    pub command: String,
    /// The error pattern; `None` when neither history nor the library has one.
    pub pattern: Option<String>,
    /// Where the pattern comes from.
    pub pattern_source: PatternSource,
    /// `--exclude` patterns.
    pub excludes: Vec<String>,
    /// `--delay-exit`, seconds.
    pub delay_exit_s: f64,
    /// `-t`, seconds; `None` when too few runs succeeded to suggest one.
    pub timeout_s: Option<f64>,
    /// `-I`, seconds; `None` when too few runs succeeded to suggest one.
    pub idle_timeout_s: Option<f64>,
    /// The lowest confidence of the values above, 0 to 1.
    pub confidence: f64,
    /// Each value's confidence and evidence.
    pub evidence: EvidenceSet,
    /// The whole command line, ready to paste.
    pub command_line: String,
}

/// What `suggest` has to say about a command.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Advice {
    /// Too few runs: only how many there are and why nothing is suggested.
    TooFew {
        /// Runs recorded.
        runs: usize,
        /// Why nothing is suggested, and how many more runs are needed.
        reason: String,
    },
    /// A suggestion.
    Suggested(Box<Suggestion>),
}

/// How sure a value learned from `n` observations is: `n / (n + MIN_RUNS)`
/// (0.5 at the minimum, 0.8 at 20, 0.95 at 95).
fn confidence_of(n: usize) -> f64 {
    round3(n as f64 / (n + MIN_RUNS) as f64)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn is_success(r: &HistoryRun) -> bool {
    r.exit_reason == "completed" && r.child_exit_code == Some(0)
}

/// `12s`, `1.5s`, `2m`: how a number of seconds is written on a command line.
pub fn show_secs(secs: f64) -> String {
    format_duration(Duration::from_millis(
        (secs.max(0.0) * 1000.0).round() as u64
    ))
}

/// Whether a line looks like it continues an error block (a stack frame,
/// an indented detail, a compiler note), so a block ending on it was cut.
fn continues_block(line: &str) -> bool {
    let t = line.trim_start();
    line.starts_with([' ', '\t'])
        || [
            "at ",
            "File \"",
            "Caused by",
            "...",
            "|",
            "-->",
            "note:",
            "= ",
            "Traceback",
        ]
        .iter()
        .any(|p| t.starts_with(p))
        || t.to_ascii_lowercase().contains("error")
}

/// What `runs` (newest first, as `Store::command_history` returns them)
/// say about running `argv`, the command as recorded being `command`.
/// `effectiveness` is the `pattern_effectiveness` table.
pub fn advise(
    command: &str,
    argv: &[String],
    runs: &[HistoryRun],
    effectiveness: &[PatternEffectiveness],
) -> Advice {
    let n = runs.len();
    if n < MIN_RUNS {
        let more = MIN_RUNS - n;
        return Advice::TooFew {
            runs: n,
            reason: format!(
                "{n} run{} of '{command}' recorded; {more} more needed before anything is suggested (at least {MIN_RUNS}): run it with earlyexit {more} more time{}",
                if n == 1 { "" } else { "s" },
                if more == 1 { "" } else { "s" },
            ),
        };
    }
    let successes: Vec<&HistoryRun> = runs.iter().filter(|r| is_success(r)).collect();
    let (pattern, pattern_source, excludes, pattern_ev, excludes_ev) =
        choose_pattern(argv, runs, effectiveness);
    let (delay_exit_s, delay_ev) = suggest_delay(runs);
    let (timeout_s, timeout_ev) = suggest_timeout(&successes);
    let (idle_timeout_s, idle_ev) = suggest_idle(&successes);
    let confidence = [&pattern_ev, &excludes_ev, &delay_ev, &timeout_ev, &idle_ev]
        .iter()
        .map(|e| e.confidence)
        .fold(1.0, f64::min);
    let mut line: Vec<String> = vec!["earlyexit".into()];
    if let Some(p) = &pattern {
        line.extend(["-e".into(), p.clone()]);
    }
    for x in &excludes {
        line.extend(["--exclude".into(), x.clone()]);
    }
    line.extend(["--delay-exit".into(), show_secs(delay_exit_s)]);
    if let Some(t) = idle_timeout_s {
        line.extend(["-I".into(), show_secs(t)]);
    }
    if let Some(t) = timeout_s {
        line.extend(["-t".into(), show_secs(t)]);
    }
    if pattern.is_none() && timeout_s.is_none() && idle_timeout_s.is_none() {
        line.push("NONE".into());
    }
    line.push("--".into());
    line.extend(argv.iter().cloned());
    Advice::Suggested(Box::new(Suggestion {
        runs: n,
        successful_runs: successes.len(),
        command: command.to_string(),
        pattern,
        pattern_source,
        excludes,
        delay_exit_s,
        timeout_s,
        idle_timeout_s,
        confidence,
        evidence: EvidenceSet {
            pattern: pattern_ev,
            excludes: excludes_ev,
            delay_exit: delay_ev,
            timeout: timeout_ev,
            idle_timeout: idle_ev,
        },
        command_line: crate::report::quote_command(&line),
    }))
}

type PatternChoice = (
    Option<String>,
    PatternSource,
    Vec<String>,
    Evidence,
    Evidence,
);

/// The best learned pattern by recorded effectiveness, else the built-in
/// library's entries for the command.
fn choose_pattern(
    argv: &[String],
    runs: &[HistoryRun],
    effectiveness: &[PatternEffectiveness],
) -> PatternChoice {
    // Patterns this command ran with: uses here, and their recorded score.
    let mut learned: Vec<(&str, usize, Option<&PatternEffectiveness>)> = Vec::new();
    for r in runs.iter().filter(|r| !r.pattern.is_empty()) {
        match learned.iter_mut().find(|(p, _, _)| *p == r.pattern) {
            Some(entry) => entry.1 += 1,
            None => learned.push((
                &r.pattern,
                1,
                effectiveness.iter().find(|e| e.pattern == r.pattern),
            )),
        }
    }
    let key = |e: &Option<&PatternEffectiveness>| {
        e.and_then(|e| e.effectiveness_score)
            .unwrap_or(LEARNED_MIN_SCORE)
    };
    let best = learned
        .iter()
        .max_by(|a, b| key(&a.2).total_cmp(&key(&b.2)).then(a.1.cmp(&b.1)));
    let builtin = builtin::for_command(argv);
    let describe = |p: &str, uses: usize, e: &Option<&PatternEffectiveness>| match e {
        Some(e) => format!(
            "'{p}' ran {uses} times with this command; over all {} of its runs: {} stopped by a match, {} false positives, {} missed errors, effectiveness {}",
            e.total_uses,
            e.successful_exits,
            e.false_positives,
            e.missed_errors,
            e.effectiveness_score.map_or(
                "not measured yet (no match and no miss)".to_string(),
                |s| format!("{s:.2}")
            ),
        ),
        None => format!("'{p}' ran {uses} times with this command"),
    };
    if let Some((p, uses, e)) = best
        && (key(e) >= LEARNED_MIN_SCORE || builtin.is_none())
    {
        let excludes = runs
            .iter()
            .find(|r| r.pattern == *p)
            .and_then(|r| serde_json::from_str::<Vec<String>>(&r.exclude_patterns).ok())
            .unwrap_or_default();
        let confidence = round3(key(e) * confidence_of(*uses) * 2.0).min(1.0);
        return (
            Some((*p).to_string()),
            PatternSource::Learned,
            excludes.clone(),
            Evidence {
                confidence,
                evidence: format!("learned: {}", describe(p, *uses, e)),
            },
            Evidence {
                confidence,
                evidence: if excludes.is_empty() {
                    "the learned pattern ran without excludes".to_string()
                } else {
                    format!(
                        "the excludes the learned pattern last ran with ({})",
                        excludes.len()
                    )
                },
            },
        );
    }
    let rejected = best.map(|(p, uses, e)| {
        format!(
            "; the learned {} scored below {LEARNED_MIN_SCORE}",
            describe(p, *uses, e)
        )
    });
    match builtin {
        Some(b) => (
            Some(b.pattern.clone()),
            PatternSource::Builtin,
            b.excludes.clone(),
            Evidence {
                confidence: 0.5,
                evidence: format!(
                    "built-in library: {} entries for {} ({}){}",
                    b.ids.len(),
                    b.tools_shown(),
                    b.ids_shown(),
                    rejected.unwrap_or_default()
                ),
            },
            Evidence {
                confidence: 0.5,
                evidence: format!(
                    "the built-in entries' known noise ({} excludes)",
                    b.excludes.len()
                ),
            },
        ),
        None => (
            None,
            PatternSource::None,
            Vec::new(),
            Evidence {
                confidence: 0.0,
                evidence: "no pattern was recorded for this command and the library has none"
                    .to_string(),
            },
            Evidence {
                confidence: 0.0,
                evidence: "no pattern, no excludes".to_string(),
            },
        ),
    }
}

/// The delay after a match: long enough for the longest error block seen.
fn suggest_delay(runs: &[HistoryRun]) -> (f64, Evidence) {
    let matched: Vec<&HistoryRun> = runs
        .iter()
        .filter(|r| r.exit_reason == "match" && r.time_from_match_to_exit.is_some())
        .collect();
    if matched.is_empty() {
        return (
            DELAY_DEFAULT_SECS,
            Evidence {
                confidence: 0.2,
                evidence: format!(
                    "no run of this command ended on a match yet: the command-mode default {}",
                    show_secs(DELAY_DEFAULT_SECS)
                ),
            },
        );
    }
    // The command exited by itself during the delay: its block ended by then.
    let observed: Vec<f64> = matched
        .iter()
        .filter(|r| r.child_signal.is_none() && r.child_exit_code.is_some())
        .filter_map(|r| r.time_from_match_to_exit)
        .collect();
    // Stopped when the delay ran out while the block was still going.
    let cut: Vec<f64> = matched
        .iter()
        .filter(|r| r.child_signal.is_some() && r.delay_exit > 0.0)
        .filter(|r| r.time_from_match_to_exit.unwrap_or(0.0) + DELAY_RAN_OUT_SLACK >= r.delay_exit)
        .filter(|r| {
            r.first_match_after
                .as_deref()
                .and_then(|a| a.lines().last())
                .is_some_and(continues_block)
        })
        .map(|r| r.delay_exit)
        .collect();
    let longest = observed.iter().copied().fold(0.0, f64::max);
    let longest_cut = cut.iter().copied().fold(0.0, f64::max);
    let mut parts = Vec::new();
    let mut delay = DELAY_FLOOR_SECS;
    if !observed.is_empty() {
        delay = delay.max(longest * DELAY_MARGIN);
        parts.push(format!(
            "the longest error block of {} runs that exited by themselves after a match lasted {} (x{DELAY_MARGIN})",
            observed.len(),
            show_secs(longest)
        ));
    }
    if !cut.is_empty() {
        delay = delay.max(longest_cut * 2.0);
        parts.push(format!(
            "{} runs were stopped while the error block was still going after a {} delay (x2)",
            cut.len(),
            show_secs(longest_cut)
        ));
    }
    if observed.is_empty() && cut.is_empty() {
        // Every block ended within the delay used; how much sooner is unknown.
        let used = matched.iter().map(|r| r.delay_exit).fold(0.0, f64::max);
        delay = delay.max(used);
        parts.push(format!(
            "{} runs ended on a match with every error block inside the {} delay they used; how much shorter is not known, so it is kept",
            matched.len(),
            show_secs(used)
        ));
    }
    let delay = delay.min(DELAY_CAP_SECS).ceil();
    (
        delay,
        Evidence {
            confidence: confidence_of(observed.len() + cut.len()).max(0.3),
            evidence: parts.join("; "),
        },
    )
}

/// The overall timeout: 1.5x the slowest successful run, at least the floor.
fn suggest_timeout(successes: &[&HistoryRun]) -> (Option<f64>, Evidence) {
    if successes.len() < MIN_SUCCESSES {
        return (
            None,
            Evidence {
                confidence: 0.0,
                evidence: format!(
                    "{} successful runs recorded; an overall timeout needs at least {MIN_SUCCESSES}",
                    successes.len()
                ),
            },
        );
    }
    let slowest = successes
        .iter()
        .map(|r| r.total_runtime)
        .fold(0.0, f64::max);
    let timeout = (slowest * TIMEOUT_FACTOR).max(TIMEOUT_FLOOR_SECS).ceil();
    (
        Some(timeout),
        Evidence {
            confidence: confidence_of(successes.len()),
            evidence: format!(
                "the slowest of {} successful runs took {} (x{TIMEOUT_FACTOR}, at least {})",
                successes.len(),
                show_secs(slowest),
                show_secs(TIMEOUT_FLOOR_SECS)
            ),
        },
    )
}

/// The idle timeout: 2x the longest silence of a successful run (its wait
/// for the first output included), at least the floor.
fn suggest_idle(successes: &[&HistoryRun]) -> (Option<f64>, Evidence) {
    if successes.len() < MIN_SUCCESSES {
        return (
            None,
            Evidence {
                confidence: 0.0,
                evidence: format!(
                    "{} successful runs recorded; an idle timeout needs at least {MIN_SUCCESSES}",
                    successes.len()
                ),
            },
        );
    }
    let longest = successes
        .iter()
        .map(|r| {
            r.longest_idle_period
                .max(r.time_to_first_output.unwrap_or(r.total_runtime))
        })
        .fold(0.0, f64::max);
    let idle = (longest * IDLE_FACTOR).max(IDLE_FLOOR_SECS).ceil();
    (
        Some(idle),
        Evidence {
            confidence: confidence_of(successes.len()),
            evidence: format!(
                "the longest silence of {} successful runs was {} (x{IDLE_FACTOR}, at least {})",
                successes.len(),
                show_secs(longest),
                show_secs(IDLE_FLOOR_SECS)
            ),
        },
    )
}

#[cfg(test)]
#[path = "suggest_tests.rs"]
mod tests;
