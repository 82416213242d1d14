//! `earlyexit suggest COMMAND`: a complete, safe command line for a
//! command, learned from its recorded runs — the pattern, its excludes,
//! the delay after a match, the idle and overall timeouts — each value
//! with its confidence and the evidence behind it.
//!
//! Reads only (the rules are `learn::suggest`'s). It never creates the
//! database: when there is none it says how many runs are needed.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::learn::suggest::{Advice, MIN_RUNS, Suggestion, advise, show_secs};
use crate::store::{Store, StoreError, block_on};

/// `earlyexit suggest --help`: what is suggested and the safety rules.
pub const LONG_ABOUT: &str = "\
A complete command line for COMMAND, learned from its recorded runs (the \
runs with the same command line, as `earlyexit stats` shows it): the error \
pattern, its --exclude patterns, --delay-exit, and the idle (-I) and overall \
(-t) timeouts, each with a confidence (0 to 1) and the evidence behind it.

Safety rules, always:
  - nothing is suggested from fewer than 5 runs (the answer says how many more);
  - the overall timeout is at least 1.5x the slowest successful run and at least 30s,
    and needs 5 successful runs (exit code 0);
  - the idle timeout is at least 2x the longest silence of a successful run
    (the wait for its first output included) and at least 30s;
  - the delay covers the longest error block seen: the time from the first
    match to the command's own exit (x1.5); a block still going when the
    delay ran out doubles that delay.
The pattern: the one this command ran with that has the best recorded \
effectiveness (F1 of catching failing runs; at least 0.5, or no evidence \
against it), else the built-in library's entries for the command's tool.

`earlyexit --auto COMMAND` runs with these values directly.";

/// `earlyexit suggest`: a learned command line for a command.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The command, as one quoted argument ('npm test') or as words.
    #[arg(
        required = true,
        num_args = 1..,
        allow_hyphen_values = true,
        trailing_var_arg = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,

    /// Print one JSON object: runs, pattern, excludes, delay_exit_s,
    /// timeout_s, idle_timeout_s, confidence, evidence, command_line (or,
    /// with too few runs, only runs and reason).
    #[arg(long)]
    pub json: bool,
}

/// The command's words: one argument is read as a shell command line.
fn words(args: &Args) -> Vec<String> {
    if let [one] = args.command.as_slice() {
        let mut commands = crate::context::command::words::split_shell(one);
        if commands.len() == 1 {
            return commands.remove(0);
        }
    }
    args.command.clone()
}

/// Prints the suggestion for the command from the database at `db_path`.
pub fn run(args: &Args, db_path: &Path) -> anyhow::Result<ExitCode> {
    let argv = words(args);
    let command = crate::report::quote_command(&argv);
    let hash = earlyexit_scrub::sha256_hex(&command);
    // Also the text as typed, in case runs recorded it that way.
    let typed = args.command.join(" ");
    let advice = match block_on(gather(db_path, &hash, &typed)) {
        Ok((runs, effectiveness)) => advise(&command, &argv, &runs, &effectiveness),
        Err(StoreError::NotFound { .. }) => Advice::TooFew {
            runs: 0,
            reason: format!(
                "no telemetry recorded yet at {}; run '{command}' with earlyexit at least {MIN_RUNS} times first",
                db_path.display()
            ),
        },
        Err(e) => return Err(e.into()),
    };
    let mut out = io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &advice)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        render(&advice, &mut out)
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e).context("cannot write the suggestion to standard output"),
    }
}

async fn gather(
    db_path: &Path,
    hash: &str,
    typed: &str,
) -> Result<
    (
        Vec<crate::store::HistoryRun>,
        Vec<crate::store::PatternEffectiveness>,
    ),
    StoreError,
> {
    let store = Store::open_existing(db_path).await?;
    let runs = store.command_history(hash, typed).await?;
    let effectiveness = store.pattern_effectiveness().await?;
    store.close().await;
    Ok((runs, effectiveness))
}

fn render(advice: &Advice, out: &mut dyn Write) -> io::Result<()> {
    let s: &Suggestion = match advice {
        Advice::TooFew { reason, .. } => return writeln!(out, "{reason}"),
        Advice::Suggested(s) => s,
    };
    writeln!(
        out,
        "Suggested for '{}' ({} runs, {} successful; confidence {:.2}):\n\n  {}\n",
        s.command, s.runs, s.successful_runs, s.confidence, s.command_line
    )?;
    let ev = &s.evidence;
    let opt = |v: Option<f64>| v.map_or_else(|| "none".to_string(), show_secs);
    let rows = [
        (
            "pattern",
            format!("{:?}", s.pattern_source).to_lowercase(),
            &ev.pattern,
        ),
        ("excludes", s.excludes.len().to_string(), &ev.excludes),
        ("delay-exit", show_secs(s.delay_exit_s), &ev.delay_exit),
        ("idle-timeout", opt(s.idle_timeout_s), &ev.idle_timeout),
        ("timeout", opt(s.timeout_s), &ev.timeout),
    ];
    for (name, value, e) in rows {
        writeln!(
            out,
            "  {name:<13} {value:<9} {:.2}  {}",
            e.confidence, e.evidence
        )?;
    }
    Ok(())
}
