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
    /// Print the lines of a finished log (FILE or stdin) most likely to
    /// explain its failure, best first.
    Triage(TriageArgs),
    /// Train the default triage model on DIR/train (case folders with
    /// fail.log, pass.log, groundtruth; aggregator/triage-data in the
    /// repository), report on DIR/tune, and write the model file. The same
    /// data gives the same model, byte for byte.
    #[command(alias = "train-triage")]
    TrainDefault {
        /// Folder with train/ and tune/ (and holdout/) case folders.
        #[arg(long)]
        data: PathBuf,
        /// Where to write the model (JSON); the default is the file
        /// embedded in the binary, relative to the repository root.
        #[arg(long, default_value = "aggregator/src/triage/default_model.json")]
        out: PathBuf,
        /// Also report on DIR/holdout (the split kept for the final
        /// report: look at it only after the model is settled).
        #[arg(long)]
        holdout: bool,
        /// End each report with one JSON object on its last line.
        #[arg(long)]
        json: bool,
    },
    /// Train the default line classifier (embedded in the agent for its
    /// false-positive filter) on DIR/train, report on the held-out DIR/test,
    /// and write the model file.
    TrainClassifier {
        /// Folder with train/, tune/ and holdout/ case folders (fail.log,
        /// pass.log, groundtruth), e.g. aggregator/triage-data.
        #[arg(long)]
        data: PathBuf,
        /// Where to write the model, e.g.
        /// aggregator/src/classify/default_model.bin.
        #[arg(long)]
        out: PathBuf,
    },
    /// Measure the engine on external labelled data.
    Eval {
        #[command(subcommand)]
        what: EvalCommand,
    },
    /// Print a shell completion script for earlyexit-aggregator.
    Completions(earlyexit_termui::docs::CompletionsArgs),
    /// Print the man page (--dir DIR: one page per subcommand).
    Man(earlyexit_termui::docs::ManArgs),
}

/// The whole command line as a clap command: what `completions` and `man`
/// describe, and what the deploy recipes' test parses recipes against.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// Arguments of `triage`.
#[derive(Debug, clap::Args)]
struct TriageArgs {
    /// The log; stdin when absent.
    file: Option<PathBuf>,
    /// Show at most N findings.
    #[arg(long)]
    top: Option<usize>,
    /// One JSON object per finding.
    #[arg(long)]
    json: bool,
    /// Show findings scoring at least X (a probability in [0, 1]).
    #[arg(long, default_value_t = crate::triage::DEFAULT_MIN_SCORE)]
    min_score: f32,
    /// A log of a successful run of the same job (repeatable): its lines
    /// are noise.
    #[arg(long)]
    history: Vec<PathBuf>,
    /// Use this model file instead of the built-in one.
    #[arg(long)]
    model: Option<PathBuf>,
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
    /// Triage on CiDiff's pairs (DIR/cidiff/data/breakages): warm (passing
    /// log as history) line F1 and first error line in the top 5; cold
    /// (no history) lines flagged in passing logs and recall.
    Cidiff {
        /// Data folder; must contain cidiff/data/breakages.
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
        Command::Completions(args) => Ok(earlyexit_termui::docs::completions(
            command(),
            "earlyexit-aggregator",
            &args,
            &mut std::io::stdout(),
        )?),
        Command::Man(args) => Ok(earlyexit_termui::docs::man(
            command(),
            &args,
            &mut std::io::stdout(),
        )?),
        Command::Patterns { what } => patterns(what),
        Command::Triage(args) => triage(args),
        Command::TrainDefault {
            data,
            out,
            holdout,
            json,
        } => train_default(&data, &out, holdout, json),
        Command::TrainClassifier { data, out } => train_classifier(&data, &out),
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
            EvalCommand::Cidiff { data, json } => {
                let report = eval::triage::run_cidiff(&data)?;
                print!("{}", eval::triage::render(&report, json));
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

fn read_text(p: &std::path::Path) -> anyhow::Result<String> {
    let b = std::fs::read(p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?;
    Ok(String::from_utf8_lossy(&b).into_owned())
}

/// `earlyexit-aggregator triage …`.
fn triage(args: TriageArgs) -> anyhow::Result<()> {
    use crate::triage::{Triage, TriageModel, render_text};
    use std::io::{Read, Write};
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.min_score),
        "--min-score {} is not a probability: give a number from 0 to 1",
        args.min_score
    );
    let mut t = Triage::new()?.with_min_score(args.min_score);
    if let Some(m) = &args.model {
        t = t.with_model(
            TriageModel::from_json(&read_text(m)?)
                .map_err(|e| anyhow::anyhow!("{}: {e}", m.display()))?,
        );
    }
    for h in &args.history {
        t.add_history(&read_text(h)?);
    }
    let log = match &args.file {
        Some(p) => read_text(p)?,
        None => {
            let mut b = Vec::new();
            std::io::stdin().lock().read_to_end(&mut b)?;
            String::from_utf8_lossy(&b).into_owned()
        }
    };
    let mut out = std::io::stdout().lock();
    for f in t.run(&log).iter().take(args.top.unwrap_or(usize::MAX)) {
        if args.json {
            writeln!(out, "{}", serde_json::to_string(f)?)?;
        } else {
            writeln!(out, "{}", render_text(f))?;
        }
    }
    Ok(())
}

/// `earlyexit-aggregator train-default --data DIR [--out FILE] [--holdout]`.
fn train_default(
    data: &std::path::Path,
    out: &std::path::Path,
    holdout: bool,
    json: bool,
) -> anyhow::Result<()> {
    use crate::eval::patterns::cidiff::read_cases;
    let split = |name: &'static str,
                 what: &'static str|
     -> anyhow::Result<Vec<crate::eval::patterns::cidiff::Case>> {
        let dir = eval::require_dir(data, name, what)?;
        let cases = read_cases(&dir)?;
        anyhow::ensure!(
            !cases.is_empty(),
            "no cases under {}: expected case folders with fail.log, pass.log and groundtruth (write them with aggregator/triage-data/generate.py)",
            dir.display()
        );
        Ok(cases)
    };
    let train = split(
        "train",
        "training cases (folders with fail.log, pass.log, groundtruth)",
    )?;
    let tune = split(
        "tune",
        "tuning cases (folders with fail.log, pass.log, groundtruth)",
    )?;
    let bar = eval::triage::case_progress("training", train.len());
    let model = crate::triage::train::train_with_progress(
        &train,
        format!(
            "{} generated case pairs of aggregator/triage-data/train",
            train.len()
        ),
        &mut |n| bar.set(n as u64),
    );
    bar.finish();
    std::fs::write(out, model.to_json() + "\n")
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    for (n, w) in crate::triage::signals::NAMES.iter().zip(&model.weights) {
        println!("{n:<28} {w:+.3}");
    }
    println!("wrote {}", out.display());
    println!("tune ({} cases):", tune.len());
    print!(
        "{}",
        eval::triage::render(&eval::triage::evaluate(&tune, Some(&model))?, json)
    );
    if holdout {
        let held = split(
            "holdout",
            "held-out cases (folders with fail.log, pass.log, groundtruth)",
        )?;
        println!("holdout ({} cases):", held.len());
        print!(
            "{}",
            eval::triage::render(&eval::triage::evaluate(&held, Some(&model))?, json)
        );
    }
    Ok(())
}

/// `earlyexit-aggregator train-classifier --data DIR --out FILE`.
fn train_classifier(data: &std::path::Path, out: &std::path::Path) -> anyhow::Result<()> {
    use crate::classify::embedded::train_default;
    use crate::eval::patterns::cidiff::read_cases;
    let what = "case folders with fail.log, pass.log, groundtruth";
    let train = read_cases(&eval::require_dir(data, "train", what)?)?;
    anyhow::ensure!(!train.is_empty(), "no cases under {}/train", data.display());
    let model = train_default(&train)?;
    model.save(out)?;
    let (lines, errors) = model.trained_on();
    println!(
        "trained on {lines} lines ({errors} error lines) of {} cases; {} bytes written to {}",
        train.len(),
        model.to_bytes().len(),
        out.display()
    );
    // The tune split was looked at while choosing the features; holdout was not.
    for split in ["tune", "holdout"] {
        let cases = read_cases(&eval::require_dir(data, split, what)?)?;
        print_classifier_report(&model, split, &cases);
    }
    Ok(())
}

/// Precision and recall at 0.5, and how many lines the 0.9 noise threshold
/// of `fp_filter: enforce` would wave through, on one split.
fn print_classifier_report(
    model: &crate::classify::LineClassifier,
    split: &str,
    cases: &[crate::eval::patterns::cidiff::Case],
) {
    let set = crate::classify::embedded::default_training_set(cases);
    let (mut tp, mut fp, mut fneg, mut errors_as_sure_noise, mut noise_as_sure_noise) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let (mut n_err, mut n_noise) = (0u64, 0u64);
    for r in 0..set.len() {
        let p = model.probability(&set.features(r));
        let is_error = set.labels()[r];
        match (is_error, p >= 0.5) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fneg += 1,
            (false, false) => {}
        }
        if is_error {
            n_err += 1;
            errors_as_sure_noise += u64::from(p <= 0.1);
        } else {
            n_noise += 1;
            noise_as_sure_noise += u64::from(p <= 0.1);
        }
    }
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    println!(
        "{split} ({} cases, {} lines, {n_err} error lines): precision {:.3}, recall {:.3} at 0.5; \
         noise confidence >= 0.9 for {:.1} % of noise lines and {:.1} % of error lines",
        cases.len(),
        set.len(),
        ratio(tp, tp + fp),
        ratio(tp, tp + fneg),
        100.0 * ratio(noise_as_sure_noise, n_noise),
        100.0 * ratio(errors_as_sure_noise, n_err),
    );
}
