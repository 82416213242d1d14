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
    /// Measure the engine on external labelled data.
    Eval {
        #[command(subcommand)]
        what: EvalCommand,
    },
}

#[derive(Debug, Subcommand)]
enum EvalCommand {
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
        Command::Eval { what } => match what {
            EvalCommand::Bgl { data, json } => {
                let report = eval::bgl::run(&data, &TrainParams::default())?;
                print!("{}", eval::bgl::render(&report, json));
                Ok(())
            }
        },
    }
}
