//! `earlyexit feedback`: tell earlyexit whether it was right about a run —
//! a rating, a comment, a false positive, a missed error, whether it
//! should have exited, how long the delay should have been.
//!
//! Owns the command line and the optional prompt. It asks only when told
//! to (`--ask`, or `feedback: ask` in the config) and only on a terminal:
//! never when stdin is not a terminal or `CI` is set. Storing is
//! `store::feedback`'s job; it never creates the database.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use crate::duration::parse_duration;
use crate::store::{
    self, Feedback, FeedbackError, FeedbackTarget, PatternEffectiveness, RunRef, Store, StoreError,
    block_on,
};

const AFTER_HELP: &str = "\
Examples:
  earlyexit feedback --last --false-positive --comment 'stopped on a warning'
  earlyexit feedback 0193c1f2 --rating 5
  earlyexit feedback --last --missed-error
  earlyexit feedback --last --ask            (asks on a terminal)

Run ids are in the ID column of `earlyexit stats`, and the execution_id of
`earlyexit export` and `earlyexit --json ...`; any unique prefix of 4 or more
characters works, like git.
Each call adds a row to the feedback table and updates the run's own feedback
columns; values not given are left as they were.";

/// Yes or no.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum YesNo {
    /// Yes.
    Yes,
    /// No.
    No,
}

/// `earlyexit feedback`: record what you think of a run.
#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The run: its execution id or a unique prefix of it (at least 4 characters) [default: the last run].
    #[arg(value_name = "ID", conflicts_with = "last")]
    pub id: Option<String>,

    /// The most recently started run.
    #[arg(long)]
    pub last: bool,

    /// How well earlyexit did on this run, 1 (badly) to 5 (perfectly).
    #[arg(long, value_name = "1-5", value_parser = clap::value_parser!(u8).range(1..=5))]
    pub rating: Option<u8>,

    /// Free text stored with the feedback.
    #[arg(long, value_name = "TEXT")]
    pub comment: Option<String>,

    /// The match that stopped the run was not an error.
    #[arg(long, conflicts_with = "missed_error")]
    pub false_positive: bool,

    /// The run failed and the pattern did not stop it (implies --should-have-exited yes).
    #[arg(long)]
    pub missed_error: bool,

    /// Whether earlyexit should have stopped the run; yes also clears a false-positive flag.
    #[arg(long, value_name = "yes|no", value_enum)]
    pub should_have_exited: Option<YesNo>,

    /// How long --delay-exit should have been to capture the whole error, e.g. 10s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub delay_should_be: Option<Duration>,

    /// Ask for what was not given, on a terminal (never when stdin is not a terminal or CI is set).
    #[arg(long)]
    pub ask: bool,

    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What `feedback --json` prints.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The run, with its feedback columns as stored now.
    pub run: FeedbackTarget,
    /// Start of the run, RFC 3339.
    pub started_at: String,
    /// What was recorded.
    pub feedback: Feedback,
    /// The run's pattern in `pattern_effectiveness` after the change.
    pub pattern: Option<PatternEffectiveness>,
    /// Labels the outcome rules added to other runs meanwhile.
    pub labels_added: crate::store::outcome::LabelReport,
}

/// A usage problem the flags cannot express.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// Nothing to record.
    #[error(
        "nothing to record: give --rating 1-5, --comment TEXT, --false-positive, --missed-error, --should-have-exited yes|no or --delay-should-be DURATION (or --ask on a terminal){0}"
    )]
    Nothing(String),
    /// Contradictory flags.
    #[error("{0} and --should-have-exited {1} contradict each other: give one of them")]
    Contradiction(&'static str, &'static str),
}

/// Why the prompt is not shown (`None`: it may be).
fn no_prompt_reason(stdin_is_terminal: bool, ci: Option<&str>) -> Option<&'static str> {
    if ci.is_some_and(|v| !v.is_empty()) {
        Some("CI is set")
    } else if !stdin_is_terminal {
        Some("standard input is not a terminal")
    } else {
        None
    }
}

fn feedback_from(args: &Args) -> Result<Feedback, UsageError> {
    match (
        args.false_positive,
        args.missed_error,
        args.should_have_exited,
    ) {
        (true, _, Some(YesNo::Yes)) => {
            return Err(UsageError::Contradiction("--false-positive", "yes"));
        }
        (_, true, Some(YesNo::No)) => {
            return Err(UsageError::Contradiction("--missed-error", "no"));
        }
        _ => {}
    }
    Ok(Feedback {
        rating: args.rating,
        comment: args.comment.clone(),
        false_positive: args.false_positive,
        missed_error: args.missed_error,
        should_have_exited: args.should_have_exited.map(|v| v == YesNo::Yes),
        delay_should_be: args.delay_should_be.map(|d| d.as_secs_f64()),
    })
}

/// One answer to a question.
enum Answer<T> {
    /// Input ended: stop asking.
    Eof,
    /// Empty (or not understood three times).
    Skip,
    /// A value.
    Value(T),
}

/// Asks `question` until the answer parses (at most three times).
fn ask<T>(
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    question: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> io::Result<Answer<T>> {
    for _ in 0..3 {
        write!(out, "{question} ")?;
        out.flush()?;
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            writeln!(out)?;
            return Ok(Answer::Eof);
        }
        let answer = line.trim();
        if answer.is_empty() {
            return Ok(Answer::Skip);
        }
        if let Some(value) = parse(answer) {
            return Ok(Answer::Value(value));
        }
        writeln!(out, "  (not understood: '{answer}')")?;
    }
    Ok(Answer::Skip)
}

fn yes_no(answer: &str) -> Option<bool> {
    match answer.to_ascii_lowercase().as_str() {
        "y" | "yes" => Some(true),
        "n" | "no" => Some(false),
        _ => None,
    }
}

/// Asks on `out`, reading answers from `input`, for every value `given`
/// lacks. An empty answer skips a question; an answer that makes no sense
/// is asked again (up to three times, then skipped); the end of input
/// stops asking and keeps what was answered.
pub fn prompt(
    target: &FeedbackTarget,
    mut given: Feedback,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> io::Result<Feedback> {
    writeln!(
        out,
        "Feedback on run {} ({}, ended: {}). Press Enter to skip a question.",
        target.execution_id, target.command, target.exit_reason
    )?;
    if given.rating.is_none() {
        match ask(input, out, "Rating, 1 (badly) to 5 (perfectly):", |a| {
            a.parse::<u8>().ok().filter(|r| (1..=5).contains(r))
        })? {
            Answer::Eof => return Ok(given),
            Answer::Skip => {}
            Answer::Value(r) => given.rating = Some(r),
        }
    }
    let open = !given.false_positive && !given.missed_error && given.should_have_exited.is_none();
    if open && target.exit_reason == "match" {
        match ask(
            input,
            out,
            "Was the match a false positive (not an error)? [y/n]:",
            yes_no,
        )? {
            Answer::Eof => return Ok(given),
            Answer::Skip => {}
            Answer::Value(true) => given.false_positive = true,
            Answer::Value(false) => given.should_have_exited = Some(true),
        }
    } else if open {
        match ask(
            input,
            out,
            "Did the run fail without earlyexit stopping it (a missed error)? [y/n]:",
            yes_no,
        )? {
            Answer::Eof => return Ok(given),
            Answer::Skip => {}
            Answer::Value(true) => given.missed_error = true,
            Answer::Value(false) => given.should_have_exited = Some(false),
        }
    }
    if given.comment.is_none()
        && let Answer::Value(c) = ask(input, out, "Comment:", |a| Some(a.to_string()))?
    {
        given.comment = Some(c);
    }
    Ok(given)
}

/// Records the feedback `args` describe; `config_ask` is `feedback: ask`.
pub fn run(args: &Args, db_path: &Path, config_ask: bool) -> anyhow::Result<ExitCode> {
    let given = feedback_from(args)?;
    let stdin = io::stdin();
    let ci = std::env::var("CI").ok();
    let want_prompt = args.ask || (config_ask && given.is_empty());
    let blocked = no_prompt_reason(stdin.is_terminal(), ci.as_deref());
    if want_prompt && let Some(reason) = blocked {
        eprintln!("earlyexit feedback: not asking: {reason}");
    }
    let prompt_allowed = want_prompt && blocked.is_none();
    if given.is_empty() && !prompt_allowed {
        let hint = if want_prompt {
            String::new()
        } else if blocked.is_none() {
            "\n(set `feedback: ask` in the config to be asked whenever no value is given)".into()
        } else {
            String::new()
        };
        return Err(UsageError::Nothing(hint).into());
    }
    let run_ref = match (&args.id, args.last) {
        (Some(id), _) => RunRef::Id(id),
        (None, _) => RunRef::Last,
    };
    let report = block_on(async {
        let store = match Store::open_existing(db_path).await {
            Err(StoreError::NotFound { .. }) => return Err(FeedbackError::NoRuns.into()),
            other => other?,
        };
        let id = store.resolve_run(run_ref).await?;
        let feedback = if prompt_allowed {
            // Show the run as it is before asking.
            let current = store.feedback_target(&id).await?;
            let mut input = stdin.lock();
            prompt(&current, given, &mut input, &mut io::stderr())
                .context("cannot read the answers")?
        } else {
            given
        };
        if feedback.is_empty() {
            anyhow::bail!("nothing recorded: every question was skipped");
        }
        let run = store.record_feedback(&id, &feedback).await?;
        // Bring the outcome labels up to date too, so the pattern's counts
        // shown below are the ones `analyze patterns` would show.
        let labels_added = store.label_outcomes().await?;
        let pattern = store
            .pattern_effectiveness()
            .await?
            .into_iter()
            .find(|p| p.pattern == run.pattern && !run.pattern.is_empty());
        store.close().await;
        Ok::<_, anyhow::Error>(Report {
            started_at: store::rfc3339_ms(run.started_at_ms),
            run,
            feedback,
            pattern,
            labels_added,
        })
    })?;
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        render(&report, &mut out)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let run = &report.run;
    let f = &report.feedback;
    let mut said = Vec::new();
    if f.false_positive {
        said.push("false positive".to_string());
    }
    if f.missed_error {
        said.push("missed error".to_string());
    }
    if let Some(s) = f.should_have_exited {
        said.push(format!(
            "should have exited: {}",
            if s { "yes" } else { "no" }
        ));
    }
    if let Some(r) = f.rating {
        said.push(format!("rating {r}"));
    }
    if let Some(d) = f.delay_should_be {
        said.push(format!("delay should be {d}s"));
    }
    if f.comment.is_some() {
        said.push("comment".to_string());
    }
    writeln!(
        out,
        "feedback recorded for run {} ({}, started {}, ended: {}): {}",
        run.execution_id,
        super::stats::shorten(&run.command, 48),
        report.started_at,
        run.exit_reason,
        said.join(", ")
    )?;
    if let Some(p) = &report.pattern {
        let score = p
            .effectiveness_score
            .map_or_else(|| "-".to_string(), |s| format!("{s:.2}"));
        writeln!(
            out,
            "pattern '{}': {} uses, {} exits, {} false positives, {} misses, effectiveness {score}",
            p.pattern, p.total_uses, p.successful_exits, p.false_positives, p.missed_errors
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(exit_reason: &str) -> FeedbackTarget {
        FeedbackTarget {
            execution_id: "0193c1f2-0000-7000-8000-000000000000".into(),
            started_at_ms: 0,
            command: "npm test".into(),
            pattern: "error".into(),
            exit_reason: exit_reason.into(),
            child_exit_code: None,
            false_positive_flag: false,
            user_rating: None,
            user_feedback: None,
            should_have_exited: None,
            optimal_delay_suggestion: None,
        }
    }

    fn answers(exit_reason: &str, given: Feedback, typed: &str) -> (Feedback, String) {
        let mut out = Vec::new();
        let f = prompt(&target(exit_reason), given, &mut typed.as_bytes(), &mut out).unwrap();
        (f, String::from_utf8(out).unwrap())
    }

    #[test]
    fn the_prompt_asks_only_for_what_is_missing_and_retries_nonsense() {
        let (f, text) = answers("match", Feedback::default(), "9\n4\ny\nnoisy warning\n");
        assert_eq!(f.rating, Some(4));
        assert!(f.false_positive);
        assert_eq!(f.comment.as_deref(), Some("noisy warning"));
        assert!(text.contains("not understood: '9'"), "{text}");

        let given = Feedback {
            rating: Some(2),
            ..Feedback::default()
        };
        let (f, text) = answers("completed", given, "y\n\n");
        assert!(!text.contains("Rating"), "{text}");
        assert!(f.missed_error);
        assert_eq!(f.comment, None);
    }

    #[test]
    fn end_of_input_stops_asking_and_keeps_what_was_answered() {
        let (f, _) = answers("match", Feedback::default(), "5\n");
        assert_eq!(f.rating, Some(5));
        assert!(!f.false_positive);
    }

    #[test]
    fn never_prompts_in_ci_or_without_a_terminal() {
        assert_eq!(no_prompt_reason(true, None), None);
        assert_eq!(no_prompt_reason(true, Some("true")), Some("CI is set"));
        assert_eq!(
            no_prompt_reason(false, None),
            Some("standard input is not a terminal")
        );
        assert_eq!(no_prompt_reason(true, Some("")), None);
    }
}
