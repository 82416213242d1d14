//! `earlyexit triage`: the lines of a finished log most likely to explain
//! its failure, best first — a file, stdin, or a recorded run (`--last`,
//! `--id ID`), whose history is then the recorded output of the
//! successful runs of the same command.
//!
//! Owns the arguments, reading the log and its history, and printing the
//! findings (text or one JSON object per line). Must never score lines
//! itself: `earlyexit_aggregator::triage` does, with its built-in model.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use earlyexit_aggregator::triage::{DEFAULT_MIN_SCORE, Triage, render_text};

use crate::store::{HISTORY_RUNS, RecordedOutput, Store, StoreError, block_on};

/// `earlyexit triage [FILE] [--top N] [--json] [--min-score X] [--history LOG]… | --last | --id ID`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  earlyexit triage build.log                     the likely causes of a failed build
  cargo test 2>&1 | earlyexit triage --top 3     from stdin, the three best
  earlyexit triage ci.log --history green.log    lines a passing run prints too are noise
  earlyexit triage --last --json                 the last recorded run, one JSON object per finding")]
pub struct Args {
    /// The log to triage; stdin when absent (and neither --last nor --id).
    #[arg(value_name = "FILE", conflicts_with_all = ["last", "id"])]
    pub file: Option<PathBuf>,
    /// Show at most N findings [default: all at or above --min-score].
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// One JSON object per finding: line, end_line, score, text, template, why.
    #[arg(long)]
    pub json: bool,
    /// Show findings scoring at least X (a probability from 0 to 1).
    #[arg(long, value_name = "X", default_value_t = DEFAULT_MIN_SCORE)]
    pub min_score: f32,
    /// A log of a successful run of the same job (repeatable): lines it
    /// prints too are noise.
    #[arg(long, value_name = "LOG")]
    pub history: Vec<PathBuf>,
    /// Triage the most recent recorded run.
    #[arg(long, conflicts_with = "id")]
    pub last: bool,
    /// Triage the recorded run with this id (see `earlyexit stats` or `export`).
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
}

/// Why a recorded run cannot be triaged.
#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    /// `--min-score` outside [0, 1].
    #[error(
        "--min-score {0} is not a probability: give a number from 0 to 1, e.g. --min-score 0.3"
    )]
    MinScore(f32),
    /// No database yet.
    #[error(
        "no runs recorded yet at {0}: run a command through earlyexit first, or give a log file"
    )]
    NoDatabase(PathBuf),
    /// `--last` on an empty database.
    #[error(
        "no runs recorded yet in {0}: run a command through earlyexit first, or give a log file"
    )]
    NoRuns(PathBuf),
    /// `--id` names no run.
    #[error("no recorded run has id '{0}': `earlyexit export --format jsonl` lists the ids")]
    UnknownId(String),
    /// The run recorded no output.
    #[error(
        "run {0} recorded no output to triage (runs that succeed record none, and telemetry may be off): give a log file instead"
    )]
    NoOutput(String),
}

/// Runs `triage` against the database at `db_path` (read only for `--last`
/// and `--id`).
pub fn run(args: &Args, db_path: &Path) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&args.min_score) {
        return Err(TriageError::MinScore(args.min_score).into());
    }
    let mut triage = Triage::new()
        .context("the built-in pattern library does not compile")?
        .with_min_score(args.min_score);
    for h in &args.history {
        triage.add_history(&read_file(h)?);
    }
    let log = if args.last || args.id.is_some() {
        let (run, history) = block_on(recorded(args, db_path))?;
        for h in &history {
            triage.add_history(h);
        }
        if !args.json {
            eprintln!(
                "earlyexit triage: run {} ({}; {}), {} successful run(s) of the same command as history",
                run.execution_id,
                run.command,
                run.exit_reason,
                history.len()
            );
        }
        run.text
    } else if let Some(p) = &args.file {
        read_file(p)?
    } else {
        let mut b = Vec::new();
        io::stdin()
            .lock()
            .read_to_end(&mut b)
            .context("cannot read the log from standard input")?;
        String::from_utf8_lossy(&b).into_owned()
    };
    let findings = triage.run(&log);
    let mut out = io::stdout().lock();
    let written = findings
        .iter()
        .take(args.top.unwrap_or(usize::MAX))
        .try_for_each(|f| {
            if args.json {
                serde_json::to_writer(&mut out, f).map_err(io::Error::from)?;
                writeln!(out)
            } else {
                writeln!(out, "{}", render_text(f))
            }
        })
        .and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // `earlyexit triage log | head`: the reader has all it wanted.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e).context("cannot write the findings to standard output"),
    }
}

fn read_file(p: &Path) -> anyhow::Result<String> {
    let b = std::fs::read(p).with_context(|| format!("cannot read the log {}", p.display()))?;
    Ok(String::from_utf8_lossy(&b).into_owned())
}

/// The recorded run `--last` / `--id` names and the recorded output of the
/// successful runs of its command.
async fn recorded(args: &Args, db_path: &Path) -> anyhow::Result<(RecordedOutput, Vec<String>)> {
    let store = match Store::open_existing(db_path).await {
        Ok(s) => s,
        Err(StoreError::NotFound { .. }) => {
            return Err(TriageError::NoDatabase(db_path.to_path_buf()).into());
        }
        Err(e) => return Err(e.into()),
    };
    let id = match &args.id {
        Some(id) => id.clone(),
        None => store
            .latest_run_id()
            .await?
            .ok_or_else(|| TriageError::NoRuns(db_path.to_path_buf()))?,
    };
    let run = store
        .recorded_output(&id)
        .await?
        .ok_or_else(|| TriageError::UnknownId(id.clone()))?;
    if run.text.trim().is_empty() {
        return Err(TriageError::NoOutput(run.execution_id).into());
    }
    let history = store
        .passing_outputs(&run.command_hash, &run.execution_id, HISTORY_RUNS)
        .await?;
    store.close().await;
    Ok((run, history))
}
