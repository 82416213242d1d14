//! `earlyexit analyze patterns|timing|anomalies|models`: what the local
//! history says about each pattern, each command's timing, the runs out of
//! the ordinary, and the trainings of the local model.
//!
//! Owns the command line, the tables and the `--json` shapes. The numbers
//! come from `store::analysis` and `learn`; before `patterns` the outcome
//! rules label the runs they can (`Store::label_outcomes`), so false
//! positives include them. It never
//! creates the database: when there is none it says so.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use super::stats::{
    format_age, format_seconds, short_id, shorten, write_plain_table as write_table,
};
use crate::duration::parse_duration;
use crate::learn::anomaly::{self, Anomaly};
use crate::store::analysis::{CommandTiming, Filter, PatternAnalysis, Quantiles, TrainingSession};
use crate::store::outcome::LabelReport;
use crate::store::{self, Store, StoreError, block_on};

/// The widest a command or pattern is shown in the tables.
const TEXT_WIDTH: usize = 40;

const PATTERNS_HELP: &str = "\
Columns:
  PATTERN     the error pattern as given (several -e joined by |)
  USES        runs with this pattern
  TRUE        true exits: runs that ended by a match, minus the false positives
  FP          false positives: runs flagged by `earlyexit feedback --false-positive`,
              or labelled by the outcome rules (a later run of the same command
              exited 0 without a match past the line that matched; or the child
              exited 0 by itself during --delay-exit), unless feedback said the
              run should have exited
  MISS        misses: runs whose child failed by itself (exit code != 0) with no
              match stopping them, or that feedback says should have exited
  TO-MATCH    mean time from start to the first match
  SAVED       mean runtime saved per true exit: the command's typical full runtime
              (median runtime of its runs that ran to completion) minus the time
              at exit; '-' when the command never ran to completion
  RATING      mean `feedback --rating` (1-5)
  SCORE       effectiveness = 2*TRUE / (2*TRUE + FP + MISS), 0 to 1 (the F1
              score of catching failing runs); '-' without evidence

The same counts are kept in the pattern_effectiveness table (over every run).";

const TIMING_HELP: &str = "\
Columns (per command; quantiles by linear interpolation):
  COMMAND      the command line
  RUNS         runs in the window
  P50/P95/P99  total runtime quantiles
  FIRST-OUT    median time from start to the first output byte
  IDLE/RUN     mean number of idle periods (no output for 1s or more) per run
  LONGEST-IDLE 95th percentile of each run's longest idle period
  MATCH-EXIT   median time from the first match to exit (runs with a match)
--json gives p50, p95, p99 and max of every measure, and runs_with_match.";

const ANOMALIES_HELP: &str = "\
Each run is compared with up to 50 earlier runs of the same command (at least 5).
  runtime, output_bytes  more than 3.5 spreads from the history's median, where the
                         spread is the median absolute deviation x 1.4826 (at least
                         5% of the median, 0.05s or 64 bytes): robust statistics, so
                         one huge run does not hide the next
  new_error_template     a matched error line whose template (the learning engine's
                         template miner) no earlier run of the command produced
Columns: RUN (id prefix, usable with `earlyexit feedback`), WHEN, COMMAND, MEASURE,
and what is out: the value, the usual range and how far out it is.";

const MODELS_HELP: &str = "\
Columns (newest first):
  DATE       when the training ran
  MODEL      which local model
  SAMPLES    labelled examples trained on
  ACCURACY   share of held-out examples classified right
  PRECISION  of the examples called errors, the share that were errors
  RECALL     of the errors, the share called errors
  TRIGGER    why it ran (new labels, an accuracy drop, by hand)";

/// `earlyexit analyze`: learn from the local history.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// What to analyze.
    #[command(subcommand)]
    pub what: What,
}

/// The analyses.
#[derive(clap::Subcommand, Debug)]
pub enum What {
    /// Per pattern: uses, true exits, false positives, misses, times, runtime saved, rating, score.
    #[command(after_help = PATTERNS_HELP)]
    Patterns(Common),
    /// Per command: runtime p50/p95/p99, time to first output, idle periods, match-to-exit.
    #[command(after_help = TIMING_HELP)]
    Timing(Common),
    /// Runs far outside their command's history, and error lines of a new shape.
    #[command(after_help = ANOMALIES_HELP)]
    Anomalies(Common),
    /// Every training of a local model: date, samples, accuracy, precision, recall, trigger.
    #[command(after_help = MODELS_HELP)]
    Models(Common),
}

/// Options every analysis takes.
#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Only runs whose command line contains TEXT.
    #[arg(long, value_name = "TEXT")]
    pub command: Option<String>,

    /// Only runs started within this long ago, e.g. 7d, 12h [default: every recorded run].
    #[arg(long, value_name = "AGE", value_parser = parse_duration)]
    pub since: Option<Duration>,

    /// Most rows in a table (0 = all); `anomalies --json` is cut too and gives the total.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
}

/// The window and database every report names.
#[derive(Debug, Serialize)]
pub struct Scope {
    /// The database file.
    pub database: String,
    /// Start of the window, RFC 3339; `None` for all recorded runs.
    pub since: Option<String>,
    /// The `--command` filter.
    pub command: Option<String>,
    /// Runs in the window.
    pub runs: i64,
}

/// `analyze patterns --json`.
#[derive(Debug, Serialize)]
pub struct PatternsReport {
    /// What was looked at.
    #[serde(flatten)]
    pub scope: Scope,
    /// Labels the outcome rules added before counting.
    pub labels_added: LabelReport,
    /// The formula of `effectiveness_score`.
    pub score_formula: &'static str,
    /// Per pattern, most used first.
    pub patterns: Vec<PatternAnalysis>,
}

/// `analyze timing --json`.
#[derive(Debug, Serialize)]
pub struct TimingReport {
    /// What was looked at.
    #[serde(flatten)]
    pub scope: Scope,
    /// Per command, most run first.
    pub commands: Vec<CommandTiming>,
}

/// The thresholds `analyze anomalies` used.
#[derive(Debug, Serialize)]
pub struct AnomalyRules {
    /// Fewest earlier runs before a run is judged.
    pub min_history: usize,
    /// Most earlier runs compared with.
    pub history_window: usize,
    /// Spreads from the median beyond which a run is an anomaly.
    pub outlier_spreads: f64,
}

/// `analyze anomalies --json`.
#[derive(Debug, Serialize)]
pub struct AnomaliesReport {
    /// What was looked at.
    #[serde(flatten)]
    pub scope: Scope,
    /// The thresholds.
    pub rules: AnomalyRules,
    /// Anomalies found (before `--limit`).
    pub total: usize,
    /// The anomalies, newest run first.
    pub anomalies: Vec<AnomalyReport>,
}

/// One anomaly with its time as text.
#[derive(Debug, Serialize)]
pub struct AnomalyReport {
    /// Start of the run, RFC 3339.
    pub started_at: String,
    /// The anomaly.
    #[serde(flatten)]
    pub anomaly: Anomaly,
}

/// `analyze models --json`.
#[derive(Debug, Serialize)]
pub struct ModelsReport {
    /// The database file.
    pub database: String,
    /// Start of the window, RFC 3339.
    pub since: Option<String>,
    /// Training sessions, newest first.
    pub sessions: Vec<TrainingSession>,
}

const SCORE_FORMULA: &str = "2*true_exits / (2*true_exits + false_positives + misses)";

/// Runs the analysis `args` names on the database at `db_path`.
pub fn run(args: &Args, db_path: &Path) -> anyhow::Result<ExitCode> {
    let now = store::now_ms();
    let common = match &args.what {
        What::Patterns(c) | What::Timing(c) | What::Anomalies(c) | What::Models(c) => c,
    };
    let since_ms = common.since.map(|age| store::ms_before(now, age));
    let filter = Filter {
        since_ms,
        command: common.command.clone(),
    };
    let store = match block_on(Store::open_existing(db_path)) {
        Ok(store) => Some(store),
        Err(StoreError::NotFound { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    if store.is_none() {
        let message = format!(
            "no telemetry recorded yet at {}: run commands with earlyexit first (e.g. earlyexit 'error' -- make test)",
            db_path.display()
        );
        if !common.json {
            println!("{message}");
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("{message}");
    }
    let scope = |runs: i64| Scope {
        database: db_path.display().to_string(),
        since: since_ms.map(store::rfc3339_ms),
        command: common.command.clone(),
        runs,
    };
    let mut out = io::stdout().lock();
    let written = match &args.what {
        What::Patterns(_) => {
            let report = match &store {
                Some(store) => block_on(async {
                    // Labelling writes; a database this user may only read
                    // (or one locked by a long writer) is still analysed.
                    let labels_added = match store.label_outcomes().await {
                        Ok(report) => report,
                        Err(e) => {
                            eprintln!(
                                "earlyexit analyze: outcome rules not applied ({e}); \
                                 false positives count feedback and earlier labels only"
                            );
                            LabelReport::default()
                        }
                    };
                    Ok::<_, StoreError>(PatternsReport {
                        scope: scope(store.count_filtered_runs(&filter).await?),
                        labels_added,
                        score_formula: SCORE_FORMULA,
                        patterns: store.analyze_patterns(&filter).await?,
                    })
                })?,
                None => PatternsReport {
                    scope: scope(0),
                    labels_added: LabelReport::default(),
                    score_formula: SCORE_FORMULA,
                    patterns: Vec::new(),
                },
            };
            emit(common, &mut out, &report, |out| {
                render_patterns(&report, common.limit, out)
            })
        }
        What::Timing(_) => {
            let report = match &store {
                Some(store) => block_on(async {
                    Ok::<_, StoreError>(TimingReport {
                        scope: scope(store.count_filtered_runs(&filter).await?),
                        commands: store.analyze_timing(&filter).await?,
                    })
                })?,
                None => TimingReport {
                    scope: scope(0),
                    commands: Vec::new(),
                },
            };
            emit(common, &mut out, &report, |out| {
                render_timing(&report, common.limit, out)
            })
        }
        What::Anomalies(_) => {
            let (runs, mut found) = match &store {
                Some(store) => block_on(async {
                    let runs = store.count_filtered_runs(&filter).await?;
                    let histories = store.command_histories(common.command.as_deref()).await?;
                    let from = since_ms.unwrap_or(i64::MIN);
                    let found: Vec<Anomaly> = histories
                        .iter()
                        .flat_map(|h| anomaly::detect(&h.command, &h.runs, from))
                        .collect();
                    Ok::<_, StoreError>((runs, found))
                })?,
                None => (0, Vec::new()),
            };
            found.sort_by(|a, b| {
                b.started_at_ms
                    .cmp(&a.started_at_ms)
                    .then_with(|| a.execution_id.cmp(&b.execution_id))
            });
            let total = found.len();
            if common.limit > 0 {
                found.truncate(common.limit);
            }
            let report = AnomaliesReport {
                scope: scope(runs),
                rules: AnomalyRules {
                    min_history: anomaly::MIN_HISTORY,
                    history_window: anomaly::HISTORY_WINDOW,
                    outlier_spreads: anomaly::OUTLIER_SPREADS,
                },
                total,
                anomalies: found
                    .into_iter()
                    .map(|anomaly| AnomalyReport {
                        started_at: store::rfc3339_ms(anomaly.started_at_ms),
                        anomaly,
                    })
                    .collect(),
            };
            emit(common, &mut out, &report, |out| {
                render_anomalies(&report, now, out)
            })
        }
        What::Models(_) => {
            let sessions = match &store {
                Some(store) => block_on(store.training_sessions(since_ms))?,
                None => Vec::new(),
            };
            let report = ModelsReport {
                database: db_path.display().to_string(),
                since: since_ms.map(store::rfc3339_ms),
                sessions,
            };
            emit(common, &mut out, &report, |out| {
                render_models(&report, common.limit, out)
            })
        }
    };
    if let Some(store) = store {
        block_on(async {
            store.close().await;
            Ok::<_, StoreError>(())
        })?;
    }
    match written.and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // `earlyexit analyze … | head`: the reader has all it wanted.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e).context("cannot write the analysis to standard output"),
    }
}

/// Writes `report` as JSON with `--json`, else as `render` draws it.
fn emit<T: Serialize>(
    common: &Common,
    out: &mut dyn Write,
    report: &T,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    if common.json {
        serde_json::to_writer_pretty(&mut *out, report).map_err(io::Error::from)?;
        writeln!(out)
    } else {
        render(out)
    }
}

fn window(scope: &Scope) -> String {
    let mut text = match &scope.since {
        Some(since) => format!("{} runs since {since}", scope.runs),
        None => format!("{} runs", scope.runs),
    };
    if let Some(command) = &scope.command {
        text.push_str(&format!(" of commands containing '{command}'"));
    }
    text
}

fn opt_seconds(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), format_seconds)
}

fn signed_seconds(value: Option<f64>) -> String {
    match value {
        Some(v) if v < 0.0 => format!("-{}", format_seconds(-v)),
        other => opt_seconds(other),
    }
}

fn opt_fixed(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.2}"))
}

fn limited<T>(rows: &[T], limit: usize) -> &[T] {
    if limit == 0 {
        rows
    } else {
        &rows[..rows.len().min(limit)]
    }
}

fn more_line(out: &mut dyn Write, shown: usize, total: usize) -> io::Result<()> {
    if shown < total {
        writeln!(out, "  … {} more (--limit 0 shows all)", total - shown)?;
    }
    Ok(())
}

fn render_patterns(report: &PatternsReport, limit: usize, out: &mut dyn Write) -> io::Result<()> {
    if report.patterns.is_empty() {
        return writeln!(
            out,
            "no runs with an error pattern in {} ({}); patterns appear once commands run with one",
            report.scope.database,
            window(&report.scope)
        );
    }
    writeln!(
        out,
        "Patterns ({}, {})",
        window(&report.scope),
        report.scope.database
    )?;
    let added = report.labels_added.later_success + report.labels_added.delay_exit;
    if added > 0 {
        writeln!(
            out,
            "  ({added} runs newly labelled likely false positives by the outcome rules)"
        )?;
    }
    let shown = limited(&report.patterns, limit);
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|p| {
            vec![
                shorten(&p.pattern, TEXT_WIDTH),
                p.uses.to_string(),
                p.true_exits.to_string(),
                p.false_positives.to_string(),
                p.misses.to_string(),
                opt_seconds(p.mean_time_to_first_match),
                signed_seconds(p.mean_runtime_saved),
                opt_fixed(p.rating_avg),
                opt_fixed(p.effectiveness_score),
            ]
        })
        .collect();
    write_table(
        out,
        &[
            "PATTERN", "USES", "TRUE", "FP", "MISS", "TO-MATCH", "SAVED", "RATING", "SCORE",
        ],
        &[false, true, true, true, true, true, true, true, true],
        &rows,
    )?;
    more_line(out, shown.len(), report.patterns.len())?;
    writeln!(
        out,
        "\nSCORE = {SCORE_FORMULA} (see --help for every column)"
    )
}

fn p50(q: Option<Quantiles>) -> String {
    opt_seconds(q.map(|q| q.p50))
}

fn render_timing(report: &TimingReport, limit: usize, out: &mut dyn Write) -> io::Result<()> {
    if report.commands.is_empty() {
        return writeln!(
            out,
            "no runs recorded in {} ({})",
            report.scope.database,
            window(&report.scope)
        );
    }
    writeln!(
        out,
        "Timing per command ({}, {})",
        window(&report.scope),
        report.scope.database
    )?;
    let shown = limited(&report.commands, limit);
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|c| {
            vec![
                shorten(&c.command, TEXT_WIDTH),
                c.runs.to_string(),
                p50(c.runtime),
                opt_seconds(c.runtime.map(|q| q.p95)),
                opt_seconds(c.runtime.map(|q| q.p99)),
                p50(c.time_to_first_output),
                format!("{:.1}", c.idle_periods_mean),
                opt_seconds(c.longest_idle.map(|q| q.p95)),
                p50(c.match_to_exit),
            ]
        })
        .collect();
    write_table(
        out,
        &[
            "COMMAND",
            "RUNS",
            "P50",
            "P95",
            "P99",
            "FIRST-OUT",
            "IDLE/RUN",
            "LONGEST-IDLE",
            "MATCH-EXIT",
        ],
        &[false, true, true, true, true, true, true, true, true],
        &rows,
    )?;
    more_line(out, shown.len(), report.commands.len())
}

fn render_anomalies(report: &AnomaliesReport, now: i64, out: &mut dyn Write) -> io::Result<()> {
    if report.anomalies.is_empty() {
        return writeln!(
            out,
            "no anomalies in {} ({}): every judged run is within its command's usual range \
             (a command needs {} earlier runs before its runs are judged)",
            report.scope.database,
            window(&report.scope),
            report.rules.min_history
        );
    }
    writeln!(
        out,
        "{} anomalies ({}, {})",
        report.total,
        window(&report.scope),
        report.scope.database
    )?;
    let rows: Vec<Vec<String>> = report
        .anomalies
        .iter()
        .map(|a| {
            let a_ = &a.anomaly;
            vec![
                short_id(&a_.execution_id),
                format_age(now - a_.started_at_ms),
                shorten(&a_.command, 32),
                a_.measure.as_str().to_string(),
                a_.detail.clone(),
            ]
        })
        .collect();
    write_table(
        out,
        &["RUN", "WHEN", "COMMAND", "MEASURE", "WHAT"],
        &[false, false, false, false, false],
        &rows,
    )?;
    more_line(out, report.anomalies.len(), report.total)
}

fn render_models(report: &ModelsReport, limit: usize, out: &mut dyn Write) -> io::Result<()> {
    if report.sessions.is_empty() {
        return writeln!(
            out,
            "no training sessions yet in {}: no local model has been trained from this history",
            report.database
        );
    }
    let percent =
        |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{:.1}%", v * 100.0));
    let shown = limited(&report.sessions, limit);
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|s| {
            vec![
                s.trained_at.clone(),
                s.session.model.clone(),
                s.session.samples.to_string(),
                percent(s.session.accuracy),
                percent(s.session.precision),
                percent(s.session.recall),
                s.session.triggered_by.clone(),
            ]
        })
        .collect();
    write_table(
        out,
        &[
            "DATE",
            "MODEL",
            "SAMPLES",
            "ACCURACY",
            "PRECISION",
            "RECALL",
            "TRIGGER",
        ],
        &[false, false, true, true, true, true, false],
        &rows,
    )?;
    more_line(out, shown.len(), report.sessions.len())
}
