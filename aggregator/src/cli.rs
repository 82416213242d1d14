//! Argument parsing for `earlyexit-aggregator`. Parses and dispatches only.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::classify::TrainParams;
use crate::eval;

/// The earlyexit learning engine: evaluation on labelled data, and (later)
/// the fleet service that trains on collected runs.
#[derive(Debug, Parser)]
#[command(name = "earlyexit-aggregator", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The built-in pattern library: list entries, scan a log.
    Patterns {
        #[command(subcommand)]
        what: PatternsCommand,
    },
    /// Measure the engine on external labelled data.
    Eval {
        #[command(subcommand)]
        what: EvalCommand,
    },
}

#[derive(Debug, Subcommand)]
enum PatternsCommand {
    /// List the built-in entries (those a command selects, with --command).
    List {
        /// Only the entries this command selects, e.g. --command 'cargo test'.
        #[arg(long)]
        command: Option<String>,
        /// One JSON object per entry.
        #[arg(long)]
        json: bool,
    },
    /// Print the lines of FILE (or stdin) that the library flags, with the
    /// entry that flagged each.
    Scan {
        /// The log to scan; stdin when absent.
        file: Option<PathBuf>,
        /// Use the entries this command selects (default: every entry).
        #[arg(long)]
        command: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum EvalCommand {
    /// The built-in pattern library: every failure in DIR/runner_samples
    /// caught, and lines flagged in CiDiff's passing logs
    /// (DIR/cidiff/data/breakages). Fails when a sample failure is missed.
    Patterns {
        /// The evaluation data folder (e.g. ../shared/data).
        #[arg(long)]
        data: PathBuf,
        /// End with one JSON object on the last line.
        #[arg(long)]
        json: bool,
    },
    /// Template miner: grouping accuracy on the 16 Loghub 2k samples and
    /// lines/s; needs DIR/loghub2k and DIR/loghub2k_corrected.
    Templates(crate::eval::templates::Args),
    /// The line classifier on BGL's alert labels: precision, recall and F1
    /// with a random 5-fold split and with whole templates held out.
    Bgl {
        /// Data folder; must contain loghub2k/BGL/BGL_2k.log_structured.csv.
        #[arg(long)]
        data: PathBuf,
        /// End the report with one JSON object on the last line.
        #[arg(long)]
        json: bool,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("earlyexit-aggregator: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Patterns { what } => patterns(what),
        Command::Eval { what } => match what {
            EvalCommand::Patterns { data, json } => {
                let report = crate::eval::patterns::run(&data)?;
                print!("{report}");
                if json {
                    println!("{}", report.to_json());
                }
                let (failures, caught) = report.failures();
                anyhow::ensure!(
                    caught == failures,
                    "{} of {failures} runner-sample failures missed (listed above as MISSED)",
                    failures - caught
                );
                Ok(())
            }
            EvalCommand::Templates(args) => crate::eval::templates::main(args),
            EvalCommand::Bgl { data, json } => {
                let report = eval::bgl::run(&data, &TrainParams::default())?;
                print!("{}", eval::bgl::render(&report, json));
                Ok(())
            }
        },
    }
}

/// `earlyexit-aggregator patterns …`.
fn patterns(what: PatternsCommand) -> anyhow::Result<()> {
    use crate::patterns::Library;
    use std::io::{BufRead, Write};
    let select = |command: &Option<String>| match command {
        Some(c) => Library::builtin().for_command(&c.split_whitespace().collect::<Vec<_>>()),
        None => Library::builtin(),
    };
    let mut out = std::io::stdout().lock();
    match what {
        PatternsCommand::List { command, json } => {
            for e in select(&command).entries() {
                if json {
                    writeln!(out, "{}", serde_json::to_string(e)?)?;
                } else {
                    writeln!(
                        out,
                        "{:<28} {:<16} {:<24} {}",
                        e.id, e.severity, e.tool, e.regex
                    )?;
                }
            }
        }
        PatternsCommand::Scan { file, command } => {
            let m = select(&command).matcher()?;
            let input: Box<dyn BufRead> = match &file {
                Some(p) => Box::new(std::io::BufReader::new(
                    std::fs::File::open(p)
                        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", p.display()))?,
                )),
                None => Box::new(std::io::stdin().lock()),
            };
            for (n, line) in input.split(b'\n').enumerate() {
                let line = String::from_utf8_lossy(&line?).into_owned();
                if let Some((e, part)) = m.first_hit_in_parts(&line) {
                    let part = crate::patterns::clean_line(part);
                    writeln!(out, "{}:{}: {part}", n + 1, e.id)?;
                }
            }
        }
    }
    Ok(())
}
