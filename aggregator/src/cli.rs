//! Argument parsing for `earlyexit-aggregator`. Parses and dispatches only.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Template miner: grouping accuracy on the 16 Loghub 2k samples and
    /// lines/s; needs DIR/loghub2k and DIR/loghub2k_corrected.
    Templates(crate::eval::templates::Args),
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
            EvalCommand::Templates(args) => crate::eval::templates::main(args),
        },
    }
}
