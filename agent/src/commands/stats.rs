//! `earlyexit stats`: what the local database says about recent runs —
//! the latest runs, why runs ended, how often the pattern matched, and how
//! long each command usually takes.
//!
//! Reads only. It never creates the database: when there is none it says so.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use crate::duration::parse_duration;
use crate::store::{
    self, CommandStats, ReasonCount, RecentRun, RunTotals, Store, StoreError, block_on,
};

/// The widest a command is shown in the tables (characters); longer ones are
/// cut with `…`. `--json` always has them whole.
const COMMAND_WIDTH: usize = 48;

/// `earlyexit stats`: recent runs and aggregates from the local database.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// How many of the most recent runs to list.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 10)]
    pub limit: u32,

    /// How many commands to list in the per-command runtimes (most run first).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub commands: u32,

    /// Only count runs started within this long ago, e.g. 7d, 12h [default: every recorded run].
    #[arg(long, value_name = "AGE", value_parser = parse_duration)]
    pub since: Option<Duration>,

    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Everything `stats` shows; also its `--json` output.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The database file.
    pub database: String,
    /// Start of the window, RFC 3339; `None` for all recorded runs.
    pub since: Option<String>,
    /// Runs in the window.
    pub runs: i64,
    /// Runs with at least one counted match.
    pub runs_with_match: i64,
    /// `runs_with_match / runs`; `None` without runs.
    pub match_rate: Option<f64>,
    /// Matches `fp_filter: enforce` ignored as noise.
    pub suppressed_matches: i64,
    /// Runs with a suppressed match that failed anyway.
    pub suppressed_then_failed: i64,
    /// Runs per exit reason, most frequent first.
    pub exit_reasons: Vec<ReasonCount>,
    /// The most recent runs, newest first.
    pub recent: Vec<RecentRunReport>,
    /// Per-command run counts and runtimes, most run first.
    pub commands: Vec<CommandStats>,
}

/// One recent run in the report.
#[derive(Debug, Serialize)]
pub struct RecentRunReport {
    /// Start, RFC 3339 UTC.
    pub started_at: String,
    /// The run as stored.
    #[serde(flatten)]
    pub run: RecentRun,
}

/// Prints the statistics of the database at `db_path`.
pub fn run(args: &Args, db_path: &Path) -> anyhow::Result<ExitCode> {
    let now = store::now_ms();
    let report = match block_on(gather(args, db_path, now)) {
        Ok(report) => report,
        Err(StoreError::NotFound { .. }) => {
            if args.json {
                eprintln!("no telemetry recorded yet at {}", db_path.display());
                empty_report(args, db_path, now)
            } else {
                println!("no telemetry recorded yet at {}", db_path.display());
                return Ok(ExitCode::SUCCESS);
            }
        }
        Err(e) => return Err(e.into()),
    };
    let mut out = io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &report)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        render(&report, now, &mut out)
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // `earlyexit stats | head`: the reader has all it wanted.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e).context("cannot write the statistics to standard output"),
    }
}

fn since_ms(args: &Args, now: i64) -> Option<i64> {
    args.since.map(|age| store::ms_before(now, age))
}

fn empty_report(args: &Args, db_path: &Path, now: i64) -> Report {
    Report {
        database: db_path.display().to_string(),
        since: since_ms(args, now).map(store::rfc3339_ms),
        runs: 0,
        runs_with_match: 0,
        match_rate: None,
        suppressed_matches: 0,
        suppressed_then_failed: 0,
        exit_reasons: Vec::new(),
        recent: Vec::new(),
        commands: Vec::new(),
    }
}

/// Reads the report from the database (which must exist).
async fn gather(args: &Args, db_path: &Path, now: i64) -> Result<Report, StoreError> {
    let store = Store::open_existing(db_path).await?;
    let since = since_ms(args, now);
    let from = since.unwrap_or(i64::MIN);
    let RunTotals {
        runs,
        runs_with_match,
        suppressed_matches,
        suppressed_then_failed,
    } = store.run_totals(from).await?;
    let report = Report {
        database: db_path.display().to_string(),
        since: since.map(store::rfc3339_ms),
        runs,
        runs_with_match,
        match_rate: (runs > 0).then(|| runs_with_match as f64 / runs as f64),
        suppressed_matches,
        suppressed_then_failed,
        exit_reasons: store.exit_reason_counts(from).await?,
        recent: store
            .recent_runs(from, args.limit)
            .await?
            .into_iter()
            .map(|run| RecentRunReport {
                started_at: store::rfc3339_ms(run.started_at_ms),
                run,
            })
            .collect(),
        commands: store.command_stats(from, args.commands).await?,
    };
    store.close().await;
    Ok(report)
}

/// Writes the report as aligned tables.
fn render(report: &Report, now: i64, out: &mut dyn Write) -> io::Result<()> {
    let window = match &report.since {
        Some(since) => format!("since {since}"),
        None => "all recorded".to_string(),
    };
    writeln!(
        out,
        "{} runs ({window}) in {}",
        report.runs, report.database
    )?;
    if report.runs == 0 {
        return Ok(());
    }

    writeln!(out, "\nRecent runs")?;
    let rows: Vec<Vec<String>> = report
        .recent
        .iter()
        .map(|r| {
            vec![
                format_age(now - r.run.started_at_ms),
                shorten(&r.run.command, COMMAND_WIDTH),
                r.run.exit_reason.clone(),
                format_seconds(r.run.total_runtime),
                r.run.match_count.to_string(),
            ]
        })
        .collect();
    write_table(
        out,
        &["WHEN", "COMMAND", "EXIT", "RUNTIME", "MATCHES"],
        &[false, false, false, true, true],
        &rows,
    )?;

    writeln!(out, "\nExit reasons")?;
    let rows: Vec<Vec<String>> = report
        .exit_reasons
        .iter()
        .map(|r| {
            vec![
                r.exit_reason.clone(),
                r.runs.to_string(),
                format_percent(r.runs, report.runs),
            ]
        })
        .collect();
    write_table(
        out,
        &["REASON", "RUNS", "SHARE"],
        &[false, true, true],
        &rows,
    )?;

    writeln!(
        out,
        "\nMatch rate: {} of {} runs matched the pattern ({})",
        report.runs_with_match,
        report.runs,
        format_percent(report.runs_with_match, report.runs)
    )?;
    if report.suppressed_matches > 0 {
        writeln!(
            out,
            "Suppressed: {} matches ignored as noise (fp_filter: enforce); {} of those runs failed anyway",
            report.suppressed_matches, report.suppressed_then_failed
        )?;
    }

    writeln!(out, "\nCommands")?;
    let rows: Vec<Vec<String>> = report
        .commands
        .iter()
        .map(|c| {
            vec![
                shorten(&c.command, COMMAND_WIDTH),
                c.runs.to_string(),
                format_seconds(c.median_runtime),
                format_seconds(c.p95_runtime),
            ]
        })
        .collect();
    write_table(
        out,
        &["COMMAND", "RUNS", "MEDIAN", "P95"],
        &[false, true, true, true],
        &rows,
    )
}

/// Writes `rows` under `headers`, each column as wide as its widest cell,
/// right-aligned where `right` says so.
fn write_table(
    out: &mut dyn Write,
    headers: &[&str],
    right: &[bool],
    rows: &[Vec<String>],
) -> io::Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::from("  ");
        for (i, cell) in row.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            let last = i + 1 == row.len();
            if right.get(i).copied().unwrap_or(false) {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                if !last {
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            if !last {
                line.push_str("  ");
            }
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// `text` on one line, at most `width` characters (cut with `…`).
fn shorten(text: &str, width: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= width {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `0.25s`, `14.2s`, `2m05s`, `1h03m`.
fn format_seconds(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "-".to_string();
    }
    if seconds < 10.0 {
        format!("{seconds:.2}s")
    } else if seconds < 60.0 {
        format!("{seconds:.1}s")
    } else if seconds < 3600.0 {
        let s = seconds.round() as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        let m = (seconds / 60.0).round() as u64;
        format!("{}h{:02}m", m / 60, m % 60)
    }
}

/// How long ago, coarsely: `12s ago`, `5m ago`, `3h ago`, `2d ago`.
fn format_age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s ago"),
        60..3600 => format!("{}m ago", s / 60),
        3600..86_400 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86_400),
    }
}

fn format_percent(part: i64, whole: i64) -> String {
    if whole == 0 {
        return "-".to_string();
    }
    format!("{:.1}%", 100.0 * part as f64 / whole as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests_support::{completed_run, sample_run};

    const DAY_MS: i64 = 86_400_000;

    fn args() -> Args {
        Args {
            limit: 10,
            commands: 10,
            since: None,
            json: false,
        }
    }

    /// A database with 4 `npm test` runs (1–4 s, one failing without a
    /// match), one matched `cargo test` run, and one 40-day-old run.
    fn database(dir: &Path) -> std::path::PathBuf {
        let db = dir.join("telemetry.db");
        let now = store::now_ms();
        block_on(async {
            let store = Store::open(&db).await?;
            for i in 1..=4 {
                let code = i64::from(i == 4);
                let at = now - (10 - i) * 60_000;
                store
                    .record_run(&completed_run(at, "npm test", code, i as f64))
                    .await?;
            }
            store.record_run(&sample_run(now - 5_000)).await?;
            store
                .record_run(&completed_run(now - 40 * DAY_MS, "make deploy", 0, 300.0))
                .await?;
            store.close().await;
            Ok::<_, StoreError>(())
        })
        .unwrap();
        db
    }

    #[test]
    fn text_report_lists_recent_runs_reasons_and_commands() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(dir.path());
        let now = store::now_ms();
        let report = block_on(gather(&args(), &db, now)).unwrap();
        let mut out = Vec::new();
        render(&report, now, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();

        assert!(text.starts_with("6 runs (all recorded) in "), "{text}");
        let lines: Vec<&str> = text.lines().collect();
        let header = lines.iter().position(|l| l.contains("WHEN")).unwrap();
        // Newest first, columns aligned under their headers.
        assert!(lines[header + 1].contains("cargo test --workspace"));
        assert!(lines[header + 1].contains("match"));
        let exit_col = lines[header].find("EXIT").unwrap();
        assert_eq!(&lines[header + 1][exit_col..exit_col + 5], "match");
        assert_eq!(&lines[header + 2][exit_col..exit_col + 9], "completed");
        assert!(text.contains("Match rate: 1 of 6 runs matched the pattern (16.7%)"));
        assert!(text.contains("completed"), "{text}");
        let npm = lines
            .iter()
            .find(|l| l.trim_start().starts_with("npm test"))
            .unwrap();
        // 4 runs of 1..4 s: nearest-rank median 2 s, p95 4 s.
        assert!(npm.contains("2.00s") && npm.contains("4.00s"), "{npm}");
    }

    #[test]
    fn since_limits_the_window_and_json_has_every_field() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(dir.path());
        let now = store::now_ms();
        let mut args = args();
        args.since = Some(Duration::from_secs(7 * 86_400));
        args.limit = 2;
        let report = block_on(gather(&args, &db, now)).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
        assert_eq!(json["runs"], 5);
        assert_eq!(json["runs_with_match"], 1);
        assert!((json["match_rate"].as_f64().unwrap() - 0.2).abs() < 1e-9);
        assert_eq!(json["recent"].as_array().unwrap().len(), 2);
        assert_eq!(json["recent"][0]["exit_reason"], "match");
        assert!(
            json["recent"][0]["started_at"]
                .as_str()
                .unwrap()
                .ends_with('Z')
        );
        assert_eq!(json["exit_reasons"][0]["exit_reason"], "completed");
        assert_eq!(json["exit_reasons"][0]["runs"], 4);
        assert_eq!(json["commands"][0]["command"], "npm test");
        assert_eq!(json["commands"][0]["p95_runtime"], 4.0);
        assert!(
            !json["commands"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["command"] == "make deploy"),
            "the 40-day-old run is outside the window"
        );
    }

    #[test]
    fn a_missing_database_is_reported_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("nothing").join("telemetry.db");
        let err = block_on(gather(&args(), &db, store::now_ms())).unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }));
        assert_eq!(run(&args(), &db).unwrap(), ExitCode::SUCCESS);
        assert!(!db.exists() && !db.parent().unwrap().exists());
    }

    #[test]
    fn formatting_helpers_are_readable() {
        assert_eq!(format_seconds(0.25), "0.25s");
        assert_eq!(format_seconds(14.25), "14.2s");
        assert_eq!(format_seconds(125.0), "2m05s");
        assert_eq!(format_seconds(3780.0), "1h03m");
        assert_eq!(format_age(5_000), "5s ago");
        assert_eq!(format_age(3 * 3_600_000), "3h ago");
        assert_eq!(shorten("a\tb", 10), "a b");
        assert_eq!(shorten("abcdefghij", 5), "abcd…");
        assert_eq!(shorten("ééééé", 5), "ééééé");
    }
}
