//! `earlyexit clear-data`: deletes recorded runs — those older than an age,
//! or all of them — with everything that belongs to them (match events,
//! output samples, metrics, feedback), keeps the pattern summary consistent,
//! and gives the space back.
//!
//! It never creates the database, and it never deletes everything without a
//! confirmation (`--yes`, or an answer on a terminal).

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::duration::{format_duration, parse_duration};
use crate::store::{self, DeleteCounts, Store, StoreError, block_on};

/// `earlyexit clear-data`: delete recorded runs.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Delete runs started more than AGE ago, e.g. 30d, 12h.
    #[arg(
        long,
        value_name = "AGE",
        value_parser = parse_duration,
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub older_than: Option<Duration>,

    /// Delete every recorded run and compact the database file.
    #[arg(long)]
    pub all: bool,

    /// Do not ask before deleting everything (needed with --all when standard
    /// input is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Print one JSON object on stdout instead of the summary line: the
    /// rows deleted per table, `unsent`, the database and whether it was
    /// compacted.
    #[arg(long)]
    pub json: bool,
}

/// Deletes runs from the database at `db_path` as `args` say.
pub fn run(args: &Args, db_path: &Path) -> anyhow::Result<ExitCode> {
    let stdin = io::stdin();
    let interactive = stdin.is_terminal();
    execute(
        args,
        db_path,
        interactive,
        &mut stdin.lock(),
        &mut io::stdout().lock(),
        &mut io::stderr().lock(),
    )
}

/// [`run`] with its terminal passed in: `interactive` says whether `input`
/// is a person who can answer the confirmation asked on `prompt`.
fn execute(
    args: &Args,
    db_path: &Path,
    interactive: bool,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    prompt: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let store = match block_on(Store::open_existing(db_path)) {
        Ok(store) => store,
        Err(StoreError::NotFound { .. }) => {
            if args.json {
                writeln!(
                    out,
                    "{}",
                    json_summary(&DeleteCounts::default(), "nothing", db_path, false)?
                )?;
            } else {
                writeln!(
                    out,
                    "no telemetry recorded yet at {}; nothing to delete",
                    db_path.display()
                )?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(e.into()),
    };

    let (deleted, what) = if args.all {
        let runs = block_on(store.run_totals(i64::MIN))?.runs;
        if !args.yes {
            if !interactive {
                anyhow::bail!(
                    "refusing to delete all {runs} recorded runs in {} without confirmation: \
                     standard input is not a terminal; pass --yes to confirm",
                    db_path.display()
                );
            }
            write!(
                prompt,
                "Delete all {runs} recorded runs in {}? This cannot be undone. [y/N] ",
                db_path.display()
            )?;
            prompt.flush()?;
            let mut answer = String::new();
            input.read_line(&mut answer)?;
            if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
                writeln!(out, "nothing deleted")?;
                return Ok(ExitCode::from(1));
            }
        }
        (block_on(store.delete_all())?, "all runs".to_string())
    } else {
        let age = args.older_than.unwrap_or_default();
        let cutoff = store::ms_before(store::now_ms(), age);
        (
            block_on(store.delete_runs_before(cutoff))?,
            format!("runs older than {}", format_duration(age)),
        )
    };
    block_on(async {
        store.close().await;
        Ok::<_, StoreError>(())
    })?;
    if args.json {
        writeln!(out, "{}", json_summary(&deleted, &what, db_path, args.all)?)?;
    } else {
        writeln!(out, "{}", summary(&deleted, &what, db_path, args.all))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The `--json` object: the counts, what was asked, the database, compacted.
fn json_summary(
    deleted: &DeleteCounts,
    what: &str,
    db_path: &Path,
    compacted: bool,
) -> serde_json::Result<serde_json::Value> {
    let mut value = serde_json::to_value(deleted)?;
    value["deleted"] = serde_json::json!(what);
    value["database"] = serde_json::json!(db_path.display().to_string());
    value["compacted"] = serde_json::json!(compacted);
    Ok(value)
}

fn summary(deleted: &DeleteCounts, what: &str, db_path: &Path, compacted: bool) -> String {
    format!(
        "deleted {what}: {} runs, {} match events, {} output samples, {} performance metrics, {} feedback entries from {}{}",
        deleted.runs,
        deleted.match_events,
        deleted.output_samples,
        deleted.performance_metrics,
        deleted.feedback,
        db_path.display(),
        if compacted {
            "; database compacted"
        } else {
            ""
        }
    ) + &if deleted.unsent > 0 {
        format!(
            "; {} of those runs had not been sent to the collector yet (counted in `earlyexit sync --status`)",
            deleted.unsent
        )
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests_support::{completed_run, sample_run};
    use std::path::PathBuf;

    const DAY_MS: i64 = 86_400_000;

    /// Two 40-day-old runs (one with feedback) and one from yesterday.
    fn database(dir: &Path) -> (PathBuf, Vec<String>) {
        let db = dir.join("telemetry.db");
        let now = store::now_ms();
        let runs = [
            sample_run(now - 41 * DAY_MS),
            completed_run(now - 40 * DAY_MS, "make", 2, 9.0),
            sample_run(now - DAY_MS),
        ];
        block_on(async {
            let store = Store::open(&db).await?;
            for run in &runs {
                store.record_run(run).await?;
            }
            store.close().await;
            Ok::<_, StoreError>(())
        })
        .unwrap();
        let ids = runs
            .iter()
            .map(|r| r.execution.execution_id.clone())
            .collect();
        (db, ids)
    }

    fn older_than(days: u64) -> Args {
        Args {
            older_than: Some(Duration::from_secs(days * 86_400)),
            all: false,
            yes: false,
            json: false,
        }
    }

    fn all(yes: bool) -> Args {
        Args {
            older_than: None,
            all: true,
            yes,
            json: false,
        }
    }

    /// Runs `execute` with `answer` typed on the terminal (when interactive);
    /// returns the outcome and what was printed.
    fn clear(
        args: &Args,
        db: &Path,
        interactive: bool,
        answer: &str,
    ) -> (anyhow::Result<ExitCode>, String) {
        let mut out = Vec::new();
        let mut prompt = Vec::new();
        let result = execute(
            args,
            db,
            interactive,
            &mut answer.as_bytes(),
            &mut out,
            &mut prompt,
        );
        (result, String::from_utf8(out).unwrap())
    }

    fn remaining(db: &Path) -> (i64, Vec<i64>) {
        block_on(async {
            let store = Store::open_existing(db).await?;
            let runs = store.run_totals(i64::MIN).await?.runs;
            let uses = store
                .pattern_effectiveness()
                .await?
                .iter()
                .map(|p| p.total_uses)
                .collect();
            store.close().await;
            Ok::<_, StoreError>((runs, uses))
        })
        .unwrap()
    }

    #[test]
    fn older_than_deletes_old_runs_and_keeps_the_pattern_summary_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = database(dir.path());
        assert_eq!(remaining(&db), (3, vec![3]));
        let (result, out) = clear(&older_than(30), &db, false, "");
        assert_eq!(result.unwrap(), ExitCode::SUCCESS);
        assert!(
            out.starts_with("deleted runs older than 30d: 2 runs, 2 match events, 1 output samples, 4 performance metrics"),
            "{out}"
        );
        assert_eq!(remaining(&db), (1, vec![1]));
    }

    #[test]
    fn json_has_every_count() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = database(dir.path());
        let mut args = older_than(30);
        args.json = true;
        let (result, out) = clear(&args, &db, false, "");
        assert_eq!(result.unwrap(), ExitCode::SUCCESS);
        let value: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(value["runs"], 2);
        assert_eq!(value["match_events"], 2);
        assert_eq!(value["output_samples"], 1);
        assert_eq!(value["performance_metrics"], 4);
        assert_eq!(value["deleted"], "runs older than 30d");
        assert_eq!(value["compacted"], false);
        let missing = dir.path().join("none").join("telemetry.db");
        let (_, out) = clear(&args, &missing, false, "");
        let value: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(value["runs"], 0);
    }

    #[test]
    fn all_with_yes_deletes_everything_and_compacts_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = database(dir.path());
        let (result, out) = clear(&all(true), &db, false, "");
        assert_eq!(result.unwrap(), ExitCode::SUCCESS);
        assert!(
            out.contains("deleted all runs: 3 runs, 4 match events"),
            "{out}"
        );
        assert!(out.contains("database compacted"));
        assert_eq!(remaining(&db), (0, vec![]));
        let wal = db.with_extension("db-wal");
        assert_eq!(std::fs::metadata(&wal).map_or(0, |m| m.len()), 0);
    }

    #[test]
    fn all_without_a_terminal_refuses_and_deletes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = database(dir.path());
        let (result, _) = clear(&all(false), &db, false, "y\n");
        let message = result.unwrap_err().to_string();
        assert!(
            message.contains("refusing to delete all 3 recorded runs"),
            "{message}"
        );
        assert!(message.contains("pass --yes"), "{message}");
        assert_eq!(remaining(&db).0, 3);
    }

    #[test]
    fn all_on_a_terminal_asks_first() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = database(dir.path());
        let (result, out) = clear(&all(false), &db, true, "n\n");
        assert_eq!(result.unwrap(), ExitCode::from(1));
        assert_eq!(out, "nothing deleted\n");
        assert_eq!(remaining(&db).0, 3);
        let (result, _) = clear(&all(false), &db, true, "yes\n");
        assert_eq!(result.unwrap(), ExitCode::SUCCESS);
        assert_eq!(remaining(&db).0, 0);
    }

    #[test]
    fn a_missing_database_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("telemetry.db");
        let (result, out) = clear(&all(true), &db, false, "");
        assert_eq!(result.unwrap(), ExitCode::SUCCESS);
        assert!(out.starts_with("no telemetry recorded yet at "), "{out}");
        assert!(!db.exists());
    }

    #[test]
    fn arguments_need_exactly_one_of_older_than_and_all() {
        use clap::Parser;
        #[derive(clap::Parser, Debug)]
        struct Cli {
            #[command(flatten)]
            args: Args,
        }
        assert!(Cli::try_parse_from(["clear-data"]).is_err());
        assert!(Cli::try_parse_from(["clear-data", "--all", "--older-than", "3d"]).is_err());
        assert!(Cli::try_parse_from(["clear-data", "--older-than", "soon"]).is_err());
        let cli = Cli::try_parse_from(["clear-data", "--older-than", "30d"]).unwrap();
        assert_eq!(cli.args.older_than, Some(Duration::from_secs(30 * 86_400)));
    }
}
