//! The command line: run flags (compatible with the Python `earlyexit`
//! 0.0.3), subcommands reserved in the first position, help text, and the
//! resolution of flags + config files into a [`Plan`].
//!
//! This module parses, resolves and dispatches; it never supervises
//! processes or records runs itself (`lifecycle` runs a plan).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::{ColorChoice, Config, TelemetryLevel};
use crate::duration::parse_duration;
use crate::lifecycle::{Plan, TelemetryPlan};
use crate::matcher::{MatchOptions, SourcedPattern};
use crate::report::codes;
use crate::run::{MatchMode, RunPlan};

/// Pattern words that mean "no pattern: timeouts only" (as in earlyexit 0.0.3).
pub const NO_PATTERN_WORDS: &[&str] = &["NONE", "-", "NOPATTERN"];

/// Reserved subcommand names this version does not implement yet.
const NOT_YET: &[&str] = &["patterns", "improve"];

/// Whether `word` in the first position names a subcommand: one of [`Sub`],
/// or one of [`NOT_YET`]. (`run` is reserved too, but runs a command.)
/// `earlyexit run …` or `-e PATTERN` runs a command or pattern of the same
/// name.
pub fn is_subcommand(word: &str) -> bool {
    NOT_YET.contains(&word) || Sub::has_subcommand(word)
}

/// Prints a clap error (or the help or version it carries) and returns
/// the exit code: `error` for a usage error, success for help and version.
fn clap_exit(e: &clap::Error, error: ExitCode) -> ExitCode {
    let _ = e.print();
    if e.use_stderr() {
        error
    } else {
        ExitCode::SUCCESS
    }
}

const ABOUT: &str = "Run a command, watch its output, and stop it the moment an error pattern, a hang or a timeout shows.";

const LONG_ABOUT: &str = "\
Run a command, watch its output as it is written, and stop the whole process \
group the moment an error pattern, a hang or a timeout shows. Every run is \
recorded in a local SQLite database (see `earlyexit stats`).

Command mode:  earlyexit [OPTIONS] PATTERN COMMAND [ARGS...]
               earlyexit [OPTIONS] PATTERN -- COMMAND [ARGS...]
               earlyexit [OPTIONS] -t 5m -- COMMAND        (timeouts only)
Pipe mode:     COMMAND | earlyexit [OPTIONS] PATTERN

Exit codes (default): 0 pattern matched, 1 no match, 2 timeout, 3 usage or \
internal error, 128+N interrupted by signal N.
With --unix-exit-codes: the command's own code when it ran to completion \
without a match, 1 on match, 0 on a success pattern, 124 on any timeout, \
125 on earlyexit's own error.";

const AFTER_HELP: &str = "\
Subcommands (reserved in the first position; `earlyexit run ...` or -e PATTERN \
runs a command or pattern of the same name):
  stats        recent runs, exit reasons, match rate, runtimes per command
  suggest      a safe command line (pattern, delay, timeouts) learned from a command's runs
  export       export recorded runs as json, jsonl or csv
  clear-data   delete recorded runs (--older-than 30d | --all)
  config       show the effective configuration and where it comes from
  scrub        scrub secrets and personal data from stdin (see what would leave the machine)
  sync         push recorded runs to the collector now (--status: what is pending)
  agent        keep syncing to the collector and receive its updates (a service)
  completions  print a shell completion script (bash, zsh, fish)
  man          print the man page (--dir DIR: one page per subcommand)
  triage       the lines of a failed log (FILE, stdin, --last run) that explain it, best first
Run `earlyexit SUBCOMMAND --help` for details.

Examples:
  earlyexit 'error|FAILED' -- cargo test        stop at the first failure (10s of context)
  earlyexit --delay-exit 0 -t 10m ERROR make    stop at once, and after 10 minutes at most
  earlyexit -I 2m NONE -- ./deploy.sh           stop when silent for 2 minutes
  earlyexit --stderr --json 'panic' ./server    watch stderr, print a JSON summary
  earlyexit --auto npm test                     pattern and timeouts learned or from the built-in library
  tail -f app.log | earlyexit -i 'fatal'        pipe mode";

/// Flags of a run (`earlyexit [OPTIONS] PATTERN COMMAND...`).
#[derive(Parser, Debug, Default)]
#[command(
    name = "earlyexit",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    override_usage = "earlyexit [OPTIONS] PATTERN [--] COMMAND [ARGS...]\n       COMMAND | earlyexit [OPTIONS] PATTERN\n       earlyexit SUBCOMMAND [ARGS...]",
    disable_help_subcommand = true
)]
pub struct RunArgs {
    /// Error pattern (repeatable; OR-ed). Use it for a pattern that starts
    /// with '-' or collides with a subcommand name. With -e, every
    /// positional argument is the command.
    #[arg(
        short = 'e',
        long = "regexp",
        value_name = "PATTERN",
        allow_hyphen_values = true,
        help_heading = "Patterns"
    )]
    pub regexp: Vec<String>,
    /// Case-insensitive matching.
    #[arg(short = 'i', long, help_heading = "Patterns")]
    pub ignore_case: bool,
    /// Count lines that do NOT match the pattern.
    #[arg(short = 'v', long, help_heading = "Patterns")]
    pub invert_match: bool,
    /// Match whole words only.
    #[arg(short = 'w', long, help_heading = "Patterns")]
    pub word_regexp: bool,
    /// Match whole lines only.
    #[arg(short = 'x', long, help_heading = "Patterns")]
    pub line_regexp: bool,
    /// Stop after NUM matches; 0 = never stop on matches, record them all.
    #[arg(
        short = 'm',
        long,
        value_name = "NUM",
        default_value_t = 1,
        help_heading = "Patterns"
    )]
    pub max_count: u64,
    /// A line matching this never counts as a match (repeatable).
    #[arg(
        long,
        value_name = "PATTERN",
        allow_hyphen_values = true,
        help_heading = "Patterns"
    )]
    pub exclude: Vec<String>,
    /// Stop early with success when this matches (repeatable).
    #[arg(
        long,
        value_name = "PATTERN",
        allow_hyphen_values = true,
        help_heading = "Patterns"
    )]
    pub success_pattern: Vec<String>,
    /// No pattern needed: use the best one known for the command (learned
    /// from its recorded runs, else the built-in library's entries for its
    /// tool), with the delay and timeouts learned from its history once
    /// there are enough runs (see `earlyexit suggest`); one stderr line
    /// says what was chosen (-q hides it). Every positional argument is
    /// the command. Also the config's `auto: true`, for runs given no
    /// pattern (`earlyexit -- COMMAND`).
    #[arg(long, help_heading = "Patterns")]
    pub auto: bool,
    /// What the line classifier's verdict on a match does: off, annotate
    /// (score and record it, shown in --json), enforce (a match it calls
    /// noise with confidence >= --fp-threshold does not stop the run; it is
    /// recorded as suppressed) [default: annotate, or the config's `fp_filter`].
    #[arg(long, value_enum, value_name = "MODE", help_heading = "Patterns")]
    pub fp_filter: Option<crate::config::FpFilterMode>,
    /// With --fp-filter enforce, the noise confidence (0.5 to 1) from which
    /// a match is ignored [default: 0.9, or the config's `fp_threshold`].
    #[arg(long, value_name = "X", value_parser = parse_threshold, help_heading = "Patterns")]
    pub fp_threshold: Option<f64>,
    /// Set by `--auto` when it chose the built-in library's pattern (known
    /// to compile): compile it when output first arrives.
    #[arg(skip)]
    pub defer_patterns: bool,
    /// Perl-style patterns (look-around, back-references) via fancy-regex.
    #[arg(short = 'P', long, help_heading = "Patterns")]
    pub perl_regexp: bool,
    /// Accepted for compatibility; patterns are always extended regexes.
    #[arg(short = 'E', long, help_heading = "Patterns")]
    pub extended_regexp: bool,

    /// Match the pattern on stderr instead of stdout.
    #[arg(long, conflicts_with = "both", help_heading = "Streams")]
    pub stderr: bool,
    /// Match the pattern on both stdout and stderr.
    #[arg(long, help_heading = "Streams")]
    pub both: bool,
    /// Give the command a pipe on descriptor N (>= 3) and watch it
    /// (repeatable). What it writes there passes through to stderr.
    #[arg(long = "fd", value_name = "N", help_heading = "Streams")]
    pub fd: Vec<i32>,
    /// A pattern for stream N only (1 stdout, 2 stderr, N >= 3 an extra fd,
    /// implies --fd N). Replaces the main pattern on that stream.
    #[arg(long = "fd-pattern", num_args = 2, value_names = ["N", "PATTERN"], allow_hyphen_values = true, help_heading = "Streams")]
    pub fd_pattern: Vec<String>,
    /// Label passed-through lines with their stream: [stdout], [stderr], [fd3].
    #[arg(long, alias = "stderr-prefix", help_heading = "Streams")]
    pub fd_prefix: bool,
    /// Prefix passed-through lines with their line number.
    #[arg(short = 'n', long, help_heading = "Streams")]
    pub line_number: bool,
    /// Highlight matches [default: auto, or the config's `color`].
    #[arg(long, value_enum, value_name = "WHEN", help_heading = "Streams")]
    pub color: Option<ColorChoice>,
    /// Pass nothing through; only the exit code (and --json) tell.
    #[arg(short = 'q', long, help_heading = "Streams")]
    pub quiet: bool,
    /// Print N lines after each match in the end-of-run summary (3 are always recorded).
    #[arg(short = 'A', long, value_name = "N", help_heading = "Streams")]
    pub after_context: Option<usize>,
    /// Print N lines before each match in the end-of-run summary (3 are always recorded).
    #[arg(short = 'B', long, value_name = "N", help_heading = "Streams")]
    pub before_context: Option<usize>,
    /// Same as -A N -B N.
    #[arg(short = 'C', long, value_name = "N", help_heading = "Streams")]
    pub context: Option<usize>,
    /// Run the command's stdout on a pseudo-terminal, so programs that
    /// buffer output written to a pipe show errors as they print them.
    #[arg(long, help_heading = "Streams")]
    pub pty: bool,

    /// Overall timeout (90, 1.5s, 2m, 1h) [default: none, or the config's `timeout`].
    #[arg(short = 't', long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Time")]
    pub timeout: Option<Duration>,
    /// Stop when no output BYTES arrive for this long (a `\r` progress bar is not idle).
    #[arg(short = 'I', long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Time")]
    pub idle_timeout: Option<Duration>,
    /// Stop when the first output does not arrive within this long.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Time")]
    pub first_output_timeout: Option<Duration>,
    /// After the match, keep reading this long for context; 0 = stop now
    /// [default: 10s in command mode, 0 in pipe mode].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Time")]
    pub delay_exit: Option<Duration>,
    /// End the --delay-exit early once N more lines arrived.
    #[arg(long, value_name = "N", help_heading = "Time")]
    pub delay_exit_after_lines: Option<u64>,
    /// Stuck: stop when the same (non-blank) line comes N times in a row.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(2..), help_heading = "Time")]
    pub max_repeat: Option<u64>,
    /// Between SIGTERM and SIGKILL to the command's process group [default: 5s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Time")]
    pub kill_grace: Option<Duration>,

    /// CI exit codes: the command's own code, 1 on match, 124 on timeout, 125 on error.
    #[arg(long, help_heading = "Exit and telemetry")]
    pub unix_exit_codes: bool,
    /// Print one JSON summary object on stderr at the end.
    #[arg(long, help_heading = "Exit and telemetry")]
    pub json: bool,
    /// Telemetry level [default: local, or the config's `telemetry`].
    #[arg(
        long,
        value_enum,
        value_name = "LEVEL",
        help_heading = "Exit and telemetry"
    )]
    pub telemetry: Option<TelemetryLevel>,
    /// Record nothing (same as --telemetry=off or EARLYEXIT_NO_TELEMETRY=1).
    #[arg(long, help_heading = "Exit and telemetry")]
    pub no_telemetry: bool,
    /// Telemetry database [default: $EARLYEXIT_HOME/telemetry.db, ~/.earlyexit/telemetry.db].
    #[arg(long, value_name = "PATH", help_heading = "Exit and telemetry")]
    pub db: Option<PathBuf>,
    /// Explain settings and each step on stderr.
    #[arg(long, help_heading = "Exit and telemetry")]
    pub verbose: bool,

    /// The error pattern (a Rust regex), unless -e is given. NONE or - for
    /// timeouts only.
    #[arg(value_name = "PATTERN")]
    pub pattern: Option<String>,
    /// The command and its arguments; none = pipe mode (read stdin).
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

/// `earlyexit SUBCOMMAND …`.
#[derive(Parser, Debug)]
#[command(name = "earlyexit", disable_help_subcommand = true)]
struct SubcommandCli {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Subcommand, Debug)]
enum Sub {
    /// Recent runs, exit reasons, match rate, runtimes per command.
    Stats(crate::commands::stats::Args),
    /// Tell earlyexit whether it was right about a run: rating, false positive, missed error, delay.
    Feedback(crate::commands::feedback::Args),
    /// What the history says: per-pattern effectiveness, per-command timing, anomalies, model trainings.
    Analyze(crate::commands::analyze::Args),
    /// A complete, safe command line for a command (pattern, excludes,
    /// delay, idle and overall timeouts), learned from its recorded runs,
    /// each value with its confidence and evidence.
    #[command(long_about = crate::commands::suggest::LONG_ABOUT)]
    Suggest(crate::commands::suggest::Args),
    /// Export recorded runs as json, jsonl or csv.
    Export(crate::commands::export::Args),
    /// Delete recorded runs.
    ClearData(crate::commands::clear::Args),
    /// Scrub secrets and personal data from stdin, one line out per line in.
    Scrub(crate::commands::scrub::Args),
    /// Push recorded runs to the collector now; --status shows what is pending.
    Sync(crate::commands::sync_cmd::Args),
    /// Keep syncing to the collector and receive its updates, until SIGTERM or SIGINT.
    Agent(crate::commands::agent_cmd::Args),
    /// The lines of a finished log (FILE, stdin, or a recorded run) most
    /// likely to explain its failure, best first.
    Triage(crate::commands::triage::Args),
    /// The pattern and model bundles received from the collector.
    Bundles {
        #[command(subcommand)]
        command: crate::commands::bundles_cmd::BundlesCommand,
    },
    /// Show the effective configuration and where it comes from.
    Config {
        #[command(subcommand)]
        command: crate::commands::config_cmd::ConfigCommand,
    },
    /// Print a shell completion script for earlyexit (and ee).
    Completions(earlyexit_termui::docs::CompletionsArgs),
    /// Print the man page, generated from these definitions.
    Man(earlyexit_termui::docs::ManArgs),
}

/// The whole command line as one clap command, run flags and subcommands
/// together: what `completions` and `man` describe, and what tests (and
/// the deploy recipes' test) parse recipes against. Parsing a run still
/// goes through [`parse_run_args`] (the `--` rule), subcommands through
/// their own parser.
pub fn command() -> clap::Command {
    Sub::augment_subcommands(RunArgs::command()).args_conflicts_with_subcommands(true)
}

/// The parser of `earlyexit SUBCOMMAND ...` alone (argv\[0\] included).
pub fn subcommand_command() -> clap::Command {
    SubcommandCli::command()
}

/// A usage problem found after parsing (clap reports its own).
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// Neither a pattern nor a timeout.
    #[error(
        "no PATTERN given\n\nProvide either:\n  a pattern:  earlyexit 'ERROR' -- COMMAND\n  a timeout:  earlyexit -t 30s -- COMMAND   (or -I / --first-output-timeout)\n\nRun 'earlyexit --help' for more."
    )]
    NoPattern,
    /// `--fd-pattern` with a bad N.
    #[error(
        "--fd-pattern {0}: N must be a descriptor number (1 stdout, 2 stderr, 3 or more for an extra pipe)"
    )]
    BadFd(String),
    /// `--fd N` with N < 3.
    #[error("--fd {0}: extra descriptors start at 3 (use --stderr or --both for 1 and 2)")]
    LowFd(i32),
    /// A command-mode flag in pipe mode.
    #[error("{0} needs a command (command mode); in pipe mode only stdin is watched")]
    NeedsCommand(&'static str),
    /// `scrub_rules` / `scrub_disable` / `scrub_keyed` cannot be applied.
    #[error(
        "cannot set up scrubbing from the config (scrub_rules, scrub_disable, scrub_keyed): {0}"
    )]
    Scrub(#[from] crate::privacy::PrivacyError),
    /// A pattern (PATTERN, `-e`, `--exclude`, `--success-pattern`,
    /// `--fd-pattern`) that does not compile.
    #[error(transparent)]
    Pattern(#[from] crate::matcher::PatternError),
}

/// The entry point of both binaries.
pub fn main_entry() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let first = argv.get(1).and_then(|a| a.to_str()).unwrap_or("");
    if is_subcommand(first) {
        return run_subcommand(first, &argv);
    }
    let rest: Vec<OsString> = if first == "run" {
        std::iter::once(argv[0].clone())
            .chain(argv[2..].iter().cloned())
            .collect()
    } else {
        argv
    };
    let unix_hint = rest.iter().any(|a| a == "--unix-exit-codes");
    let error_code = |unix: bool| {
        ExitCode::from(if unix {
            codes::UNIX_ERROR
        } else {
            codes::ERROR
        })
    };
    let args = match parse_run_args(rest) {
        Ok(args) => args,
        Err(e) => return clap_exit(&e, error_code(unix_hint)),
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let loaded = match Config::load(&cwd) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("earlyexit: {e}");
            return error_code(unix_hint);
        }
    };
    let config = &loaded.config;
    let unix = args.unix_exit_codes || config.unix_exit_codes;
    let mut args = args;
    let auto = match apply_auto(&mut args, config) {
        Ok(auto) => auto,
        Err(e) => {
            eprintln!("earlyexit: {e}");
            return error_code(unix);
        }
    };
    match plan_from(args, config) {
        Ok(mut plan) => {
            plan.auto = auto;
            plan.telemetry.sync_on_exit = crate::sync::on_exit::plan(&loaded, plan.telemetry.level);
            ExitCode::from(crate::lifecycle::run_plan(&plan))
        }
        Err(e) => {
            eprintln!("earlyexit: {e}");
            error_code(unix)
        }
    }
}

fn run_subcommand(name: &str, argv: &[OsString]) -> ExitCode {
    if NOT_YET.contains(&name) {
        eprintln!(
            "earlyexit: '{name}' is reserved for a subcommand this version does not have yet.\n\
             To run a command named '{name}', write: earlyexit run PATTERN {name} ...\n\
             To use '{name}' as the pattern, write: earlyexit -e {name} COMMAND ..."
        );
        return ExitCode::from(codes::ERROR);
    }
    let cli = match SubcommandCli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e, ExitCode::from(codes::ERROR)),
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let result = match &cli.command {
        Sub::Config { command } => crate::commands::config_cmd::run(command, &cwd),
        // Neither reads the configuration: a broken file must not stop them.
        Sub::Completions(args) => {
            let bin = bin_name(argv);
            earlyexit_termui::docs::completions(command(), &bin, args, &mut std::io::stdout())
                .map(|()| ExitCode::SUCCESS)
                .map_err(Into::into)
        }
        Sub::Man(args) => earlyexit_termui::docs::man(command(), args, &mut std::io::stdout())
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
        other => match Config::load(&cwd) {
            Err(e) => Err(e.into()),
            Ok(loaded) => {
                let db = loaded.config.db.clone();
                match other {
                    Sub::Stats(args) => crate::commands::stats::run(args, &db, loaded.config.color),
                    Sub::Feedback(args) => crate::commands::feedback::run(
                        args,
                        &db,
                        loaded.config.feedback == crate::config::FeedbackMode::Ask,
                    ),
                    Sub::Analyze(args) => crate::commands::analyze::run(args, &db),
                    Sub::Suggest(args) => crate::commands::suggest::run(args, &db),
                    Sub::Export(args) => crate::commands::export::run(args, &db, &loaded.config),
                    Sub::Scrub(args) => crate::commands::scrub::run(args, &loaded.config),
                    Sub::ClearData(args) => crate::commands::clear::run(args, &db),
                    Sub::Sync(args) => crate::commands::sync_cmd::run(args, &loaded),
                    Sub::Agent(args) => crate::commands::agent_cmd::run(args, &loaded),
                    Sub::Bundles { command } => crate::commands::bundles_cmd::run(command, &db),
                    Sub::Triage(args) => crate::commands::triage::run(args, &db),
                    Sub::Config { .. } | Sub::Completions(_) | Sub::Man(_) => {
                        unreachable!("handled above")
                    }
                }
            }
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("earlyexit {name}: {e:#}");
            ExitCode::from(codes::ERROR)
        }
    }
}

/// The name the program was called by (`earlyexit` or `ee`), for the
/// completion script to register.
fn bin_name(argv: &[OsString]) -> String {
    argv.first()
        .map(std::path::Path::new)
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .filter(|n| *n == "ee")
        .unwrap_or("earlyexit")
        .to_string()
}

/// Parses run flags. A standalone `--` ends the options: what precedes it
/// may hold the pattern, what follows it is the command (so `earlyexit -t
/// 5s -- sleep 9` has no pattern and runs `sleep 9`).
pub fn parse_run_args<I, T>(argv: I) -> Result<RunArgs, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    let command = RunArgs::command();
    // `--auto`: the first positional starts the command, so its own
    // options (`earlyexit --auto pytest -q`) stay its own.
    if let Some(first) = first_positional(&command, &argv)
        && argv[1..first].iter().any(|a| a == "--auto")
    {
        argv.insert(first, "--".into());
    }
    let separator = find_separator(&command, &argv);
    let (before, after) = match separator {
        Some(i) => (argv[..i].to_vec(), argv[i + 1..].to_vec()),
        None => (argv, Vec::new()),
    };
    let matches = command.try_get_matches_from(before)?;
    let mut args = RunArgs::from_arg_matches(&matches)?;
    if separator.is_some() {
        if !args.command.is_empty() {
            // `earlyexit PAT cmd -- x`: the `--` belongs to the command.
            args.command.push("--".into());
        }
        args.command
            .extend(after.into_iter().map(|a| a.to_string_lossy().into_owned()));
    }
    if (!args.regexp.is_empty() || args.auto)
        && let Some(first) = args.pattern.take()
    {
        args.command.insert(0, first);
    }
    Ok(args)
}

/// Whether `flag` is one of `command`'s options that takes a value.
fn takes_value(command: &clap::Command, flag: &str) -> bool {
    command.get_arguments().any(|a| {
        a.get_action().takes_values()
            && (a
                .get_long()
                .is_some_and(|l| flag.strip_prefix("--") == Some(l))
                || a.get_short()
                    .is_some_and(|s| flag.len() == 2 && flag.starts_with('-') && flag.ends_with(s)))
    })
}

/// Index of the first positional argument before any `--` (skipping the
/// values of options that take one), if there is one.
fn first_positional(command: &clap::Command, argv: &[OsString]) -> Option<usize> {
    let mut i = 1;
    while i < argv.len() {
        let arg = argv[i].to_string_lossy();
        if arg == "--" {
            return None;
        }
        if arg.starts_with('-') && arg.len() > 1 {
            if !arg.contains('=') && takes_value(command, &arg) {
                i += if arg == "--fd-pattern" { 2 } else { 1 };
            }
        } else {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Index of the `--` that ends earlyexit's own options, skipping values of
/// options that take one (`-e --` is a pattern).
fn find_separator(command: &clap::Command, argv: &[OsString]) -> Option<usize> {
    let takes_value = |flag: &str| takes_value(command, flag);
    let mut i = 1;
    let mut positionals = 0;
    while i < argv.len() {
        let arg = argv[i].to_string_lossy();
        if arg == "--" {
            return Some(i);
        }
        if arg.starts_with('-') && arg.len() > 1 {
            if !arg.contains('=') && takes_value(&arg) {
                i += if arg == "--fd-pattern" { 2 } else { 1 };
            }
        } else {
            positionals += 1;
            if positionals > 1 {
                // The command has started; its own `--` is its business.
                return None;
            }
        }
        i += 1;
    }
    None
}

/// `--auto` / `auto: true` on a run given no pattern: fills in the chosen
/// pattern, excludes, delay and timeouts where neither a flag nor the
/// config set them, prints the line that says so (unless `-q` or
/// `--json`), and returns the choice for the `--json` summary.
fn apply_auto(
    args: &mut RunArgs,
    config: &Config,
) -> Result<Option<serde_json::Value>, UsageError> {
    let no_pattern = args.regexp.is_empty() && args.pattern.is_none() && args.fd_pattern.is_empty();
    if !(args.auto || config.auto) || !no_pattern {
        return Ok(None);
    }
    if args.command.is_empty() {
        if args.auto {
            return Err(UsageError::NeedsCommand("--auto"));
        }
        return Ok(None);
    }
    let telemetry_off = args.no_telemetry
        || env_no_telemetry()
        || args.telemetry.unwrap_or(config.telemetry) == TelemetryLevel::Off;
    let db = args.db.clone().unwrap_or_else(|| config.db.clone());
    let choice =
        crate::learn::auto::choose(&args.command, (!telemetry_off).then_some(db.as_path()));
    if let Some(pattern) = &choice.pattern {
        // Only the library's own patterns: anything the user wrote is
        // compiled now, so a bad one is a usage error before the start.
        args.defer_patterns = choice.source == crate::learn::suggest::PatternSource::Builtin
            && args.exclude.is_empty()
            && args.success_pattern.is_empty();
        args.regexp.push(pattern.clone());
        args.exclude.extend(choice.excludes.iter().cloned());
    }
    if args.delay_exit.is_none() && config.delay_exit.is_none() {
        args.delay_exit = choice.delay_exit;
    }
    if args.timeout.is_none() && config.timeout.is_none() {
        args.timeout = choice.timeout;
    }
    if args.idle_timeout.is_none() && config.idle_timeout.is_none() {
        args.idle_timeout = choice.idle_timeout;
    }
    if !args.quiet && !args.json {
        eprintln!("{}", choice.note);
    }
    Ok(Some(choice.to_json()))
}

/// `--fp-threshold`: a confidence from 0.5 to 1.
fn parse_threshold(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(x) if (0.5..=1.0).contains(&x) => Ok(x),
        _ => Err(format!(
            "'{text}' is not a confidence from 0.5 to 1: write e.g. --fp-threshold 0.9 (higher ignores fewer matches)"
        )),
    }
}

/// Resolves flags over config into a plan, or explains what is wrong.
pub fn plan_from(args: RunArgs, config: &Config) -> Result<Plan, UsageError> {
    let mut patterns: Vec<SourcedPattern> = args
        .regexp
        .iter()
        .map(|p| SourcedPattern::new(p, "-e"))
        .collect();
    let timeout = args.timeout.or(config.timeout);
    let idle_timeout = args.idle_timeout.or(config.idle_timeout);
    let first_output_timeout = args.first_output_timeout.or(config.first_output_timeout);
    if let Some(pattern) = &args.pattern
        && !NO_PATTERN_WORDS.contains(&pattern.as_str())
    {
        patterns.push(SourcedPattern::new(pattern, "PATTERN"));
    }
    let mut fd_patterns: BTreeMap<i32, Vec<SourcedPattern>> = BTreeMap::new();
    for pair in args.fd_pattern.chunks(2) {
        let fd: i32 = pair[0]
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| UsageError::BadFd(pair[0].clone()))?;
        fd_patterns
            .entry(fd)
            .or_default()
            .push(SourcedPattern::new(&pair[1], format!("--fd-pattern {fd}")));
    }
    let has_timeout = timeout.is_some()
        || idle_timeout.is_some()
        || first_output_timeout.is_some()
        || args.max_repeat.is_some();
    let explicit_none = args
        .pattern
        .as_deref()
        .is_some_and(|p| NO_PATTERN_WORDS.contains(&p));
    if patterns.is_empty()
        && fd_patterns.is_empty()
        && args.success_pattern.is_empty()
        && !has_timeout
        && !explicit_none
    {
        return Err(UsageError::NoPattern);
    }
    let mut extra_fds: Vec<i32> = args.fd.clone();
    for &fd in &args.fd {
        if fd < 3 {
            return Err(UsageError::LowFd(fd));
        }
    }
    extra_fds.extend(fd_patterns.keys().copied().filter(|fd| *fd >= 3));
    extra_fds.sort_unstable();
    extra_fds.dedup();

    let command_mode = !args.command.is_empty();
    if !command_mode {
        if !extra_fds.is_empty() {
            return Err(UsageError::NeedsCommand("--fd / --fd-pattern"));
        }
        if args.pty {
            return Err(UsageError::NeedsCommand("--pty"));
        }
        if args.stderr || args.both {
            return Err(UsageError::NeedsCommand("--stderr / --both"));
        }
    }
    let telemetry = if args.no_telemetry || env_no_telemetry() {
        TelemetryLevel::Off
    } else {
        args.telemetry.unwrap_or(config.telemetry)
    };
    let color = match args.color.unwrap_or(config.color) {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => crate::sys::is_terminal(1) && std::env::var_os("NO_COLOR").is_none(),
    };
    let delay_exit = args
        .delay_exit
        .unwrap_or_else(|| config.effective_delay_exit(command_mode));
    let mut plan = RunPlan {
        argv: args.command,
        patterns,
        success: args
            .success_pattern
            .iter()
            .map(|p| SourcedPattern::new(p, "--success-pattern"))
            .collect(),
        exclude: args
            .exclude
            .iter()
            .map(|p| SourcedPattern::new(p, "--exclude"))
            .collect(),
        fd_patterns,
        options: MatchOptions {
            ignore_case: args.ignore_case,
            word: args.word_regexp,
            whole_line: args.line_regexp,
            invert: args.invert_match,
            perl: args.perl_regexp,
        },
        match_mode: if args.both {
            MatchMode::Both
        } else if args.stderr {
            MatchMode::Stderr
        } else {
            MatchMode::Stdout
        },
        extra_fds,
        prefix: args.fd_prefix,
        line_numbers: args.line_number,
        color,
        quiet: args.quiet,
        print_before: args.before_context.or(args.context).unwrap_or(0),
        print_after: args.after_context.or(args.context).unwrap_or(0),
        pty: args.pty,
        timeout,
        idle_timeout,
        first_output_timeout,
        delay_exit,
        delay_exit_after_lines: args.delay_exit_after_lines,
        max_repeat: args.max_repeat,
        kill_grace: args.kill_grace.unwrap_or(config.kill_grace),
        max_count: args.max_count,
        unix_exit_codes: args.unix_exit_codes || config.unix_exit_codes,
        json: args.json,
        fp: crate::learn::fp::FpFilter::new(
            args.fp_filter.unwrap_or(config.fp_filter),
            args.fp_threshold.unwrap_or(config.fp_threshold),
        ),
        defer_compile: args.defer_patterns,
        matchers: BTreeMap::new(),
    };
    plan.matchers = plan.compile_matchers()?;
    let telemetry = TelemetryPlan {
        level: telemetry,
        db: args.db.unwrap_or_else(|| config.db.clone()),
        retention_days: config.retention_days,
        max_db_size_mb: config.max_db_size_mb,
        local_scrubber: if config.anonymize_local && telemetry != TelemetryLevel::Off {
            Some(std::sync::Arc::new(crate::privacy::outbound(
                config,
                TelemetryLevel::Full,
            )?))
        } else {
            None
        },
        sync_on_exit: None,
    };
    Ok(Plan {
        run: plan,
        telemetry,
        verbose: args.verbose,
        auto: None,
    })
}

fn env_no_telemetry() -> bool {
    std::env::var("EARLYEXIT_NO_TELEMETRY").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> RunArgs {
        parse_run_args(std::iter::once("earlyexit").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn the_reserved_words_are_the_subcommands_and_nothing_else() {
        for word in [
            "stats",
            "export",
            "clear-data",
            "config",
            "scrub",
            "analyze",
            "suggest",
            "feedback",
            "patterns",
            "sync",
            "agent",
            "improve",
            "completions",
            "man",
        ] {
            assert!(is_subcommand(word), "{word}");
        }
        for word in ["run", "error", "ERROR", "make", "", "-e", "Stats"] {
            assert!(!is_subcommand(word), "{word}");
        }
    }

    #[test]
    fn completions_and_man_describe_run_flags_and_subcommands() {
        command().debug_assert();
        for shell in [
            clap_complete_shell("bash"),
            clap_complete_shell("zsh"),
            clap_complete_shell("fish"),
        ] {
            let mut out = Vec::new();
            let args = earlyexit_termui::docs::CompletionsArgs { shell };
            earlyexit_termui::docs::completions(command(), "earlyexit", &args, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            for word in [
                "stats",
                "sync",
                "agent",
                "completions",
                "delay-exit",
                "unix-exit-codes",
            ] {
                assert!(text.contains(word), "{shell:?} completion lacks {word}");
            }
        }
        let mut page = Vec::new();
        let args = earlyexit_termui::docs::ManArgs { dir: None };
        earlyexit_termui::docs::man(command(), &args, &mut page).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.contains(".TH earlyexit 1"), "{page}");
        for word in ["delay\\-exit", "idle\\-timeout", "stats", "clear\\-data"] {
            assert!(page.contains(word), "man page lacks {word}");
        }
    }

    fn clap_complete_shell(name: &str) -> earlyexit_termui::docs::Shell {
        <earlyexit_termui::docs::Shell as clap::ValueEnum>::from_str(name, false).unwrap()
    }

    #[test]
    fn pattern_then_command() {
        let a = parse(&["ERROR", "make", "-j4"]);
        assert_eq!(a.pattern.as_deref(), Some("ERROR"));
        assert_eq!(a.command, ["make", "-j4"]);
    }

    #[test]
    fn options_after_the_pattern_and_command_flags_untouched() {
        let a = parse(&["ERROR", "-t", "5", "ls", "-t", "--", "x"]);
        assert_eq!(a.timeout, Some(Duration::from_secs(5)));
        assert_eq!(a.command, ["ls", "-t", "--", "x"]);
    }

    #[test]
    fn double_dash_separates_command_and_allows_no_pattern() {
        let a = parse(&["-t", "5s", "--", "sleep", "9"]);
        assert_eq!(a.pattern, None);
        assert_eq!(a.command, ["sleep", "9"]);
        let b = parse(&["ERROR", "--", "cargo", "test", "--", "--nocapture"]);
        assert_eq!(b.pattern.as_deref(), Some("ERROR"));
        assert_eq!(b.command, ["cargo", "test", "--", "--nocapture"]);
    }

    #[test]
    fn dash_e_makes_every_positional_the_command() {
        let a = parse(&["-e", "stats", "-e", "--weird", "echo", "hi"]);
        assert_eq!(a.regexp, ["stats", "--weird"]);
        assert_eq!(a.command, ["echo", "hi"]);
        let b = parse(&["-e", "--", "--", "echo"]);
        assert_eq!(b.regexp, ["--"]);
        assert_eq!(b.command, ["echo"]);
    }

    #[test]
    fn fd_pattern_takes_two_values() {
        let a = parse(&[
            "--fd-pattern",
            "3",
            "BAD",
            "--fd-pattern",
            "2",
            "FATAL",
            "ERR",
            "cmd",
        ]);
        assert_eq!(a.fd_pattern, ["3", "BAD", "2", "FATAL"]);
        assert_eq!(a.pattern.as_deref(), Some("ERR"));
    }

    #[test]
    fn with_auto_every_positional_is_the_command_and_its_options_stay_its_own() {
        let a = parse(&["--auto", "-t", "5s", "pytest", "-q", "-x"]);
        assert!(a.auto);
        assert_eq!(a.pattern, None);
        assert!(!a.quiet);
        assert_eq!(a.timeout, Some(Duration::from_secs(5)));
        assert_eq!(a.command, ["pytest", "-q", "-x"]);
        let b = parse(&["--auto", "--", "npm", "test"]);
        assert_eq!(b.command, ["npm", "test"]);
        let c = parse(&["-q", "--auto", "cargo", "test"]);
        assert!(c.quiet);
        assert_eq!(c.command, ["cargo", "test"]);
    }

    #[test]
    fn bad_duration_is_a_usage_error() {
        let err = parse_run_args(["earlyexit", "-t", "5x", "E", "true"]).unwrap_err();
        assert!(err.to_string().contains("1.5s"), "{err}");
    }
}
