//! `earlyexit stats`: what the local database says about recent runs —
//! the latest runs, why runs ended, how often the pattern matched, and how
//! long each command usually takes.
//!
//! On a terminal the tables are aligned, each exit reason has a bar of its
//! share and each command a sparkline of its latest runtimes; colour only
//! when stdout is a terminal and `NO_COLOR` is unset (or `--color` /
//! the config's `color` say so). `--json` has every number, whole.
//!
//! Reads only. It never creates the database: when there is none it says so.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use crate::config::ColorChoice;
use crate::duration::parse_duration;
use crate::store::{
    self, CommandStats, ReasonCount, RecentRun, RunTotals, Store, StoreError, block_on,
};

/// The widest a command is shown in the tables (characters); longer ones are
/// cut with `…`. `--json` always has them whole.
const COMMAND_WIDTH: usize = 48;

/// Runtimes per command in the sparkline (and `recent_runtimes` in `--json`):
/// enough to see a trend, short enough for one line.
const SPARK_RUNS: u32 = 20;

/// Characters of a full bar in the exit-reasons table.
const BAR_WIDTH: usize = 20;

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

    /// Colour the tables: auto (stdout a terminal and NO_COLOR unset),
    /// always, never [default: the config's `color`, auto].
    #[arg(long, value_enum, value_name = "WHEN")]
    pub color: Option<ColorChoice>,
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
    pub commands: Vec<CommandReport>,
}

/// One command in the report.
#[derive(Debug, Serialize)]
pub struct CommandReport {
    /// Its runs and runtime percentiles.
    #[serde(flatten)]
    pub stats: CommandStats,
    /// Runtimes (seconds) of its latest runs in the window, oldest first
    /// (at most 20).
    pub recent_runtimes: Vec<f64>,
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

/// Prints the statistics of the database at `db_path`; `color` is the
/// config's choice (`--color` wins over it).
pub fn run(args: &Args, db_path: &Path, color: ColorChoice) -> anyhow::Result<ExitCode> {
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
        let style = Style::new(args.color.unwrap_or(color));
        render(&report, now, style, &mut out)
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
        commands: Vec::new(),
    };
    let mut report = report;
    for stats in store.command_stats(from, args.commands).await? {
        let recent_runtimes = store
            .recent_runtimes(&stats.command_hash, from, SPARK_RUNS)
            .await?;
        report.commands.push(CommandReport {
            stats,
            recent_runtimes,
        });
    }
    store.close().await;
    Ok(report)
}

/// How the tables look: with or without ANSI colour.
#[derive(Debug, Clone, Copy)]
struct Style {
    color: bool,
}

impl Style {
    /// Colour for `choice`: auto means stdout is a terminal and `NO_COLOR`
    /// is unset.
    fn new(choice: ColorChoice) -> Style {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                crate::sys::is_terminal(1) && std::env::var_os("NO_COLOR").is_none()
            }
        };
        Style { color }
    }

    /// `text` in the SGR colour `code` (when colouring).
    fn paint(self, code: Option<&str>, text: &str) -> String {
        match code {
            Some(code) if self.color => format!("\x1b[{code}m{text}\x1b[0m"),
            _ => text.to_string(),
        }
    }
}

/// SGR codes used.
const BOLD: &str = "1";
const DIM: &str = "2";
const CYAN: &str = "36";

/// The colour of an exit reason: red for a caught error, yellow for a
/// timeout or a stuck or interrupted run, green for a clean end.
fn reason_color(reason: &str) -> Option<&'static str> {
    match reason {
        "match" | "error" => Some("31"),
        "completed" | "success_pattern" => Some("32"),
        r if r.starts_with("timeout") || r == "stuck" || r == "interrupted" => Some("33"),
        _ => None,
    }
}

/// A table cell: its text and, when colouring, its colour.
struct Cell {
    text: String,
    color: Option<&'static str>,
}

fn cell(text: impl Into<String>) -> Cell {
    Cell {
        text: text.into(),
        color: None,
    }
}

fn colored(text: impl Into<String>, color: Option<&'static str>) -> Cell {
    Cell {
        text: text.into(),
        color,
    }
}

/// Writes the report as aligned tables.
fn render(report: &Report, now: i64, style: Style, out: &mut dyn Write) -> io::Result<()> {
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
    let heading = |title: &str| style.paint(Some(BOLD), title);

    writeln!(out, "\n{}", heading("Recent runs"))?;
    let rows: Vec<Vec<Cell>> = report
        .recent
        .iter()
        .map(|r| {
            vec![
                cell(short_id(&r.run.execution_id)),
                colored(format_age(now - r.run.started_at_ms), Some(DIM)),
                cell(shorten(&r.run.command, COMMAND_WIDTH)),
                colored(r.run.exit_reason.clone(), reason_color(&r.run.exit_reason)),
                cell(format_seconds(r.run.total_runtime)),
                cell(r.run.match_count.to_string()),
            ]
        })
        .collect();
    write_table(
        out,
        style,
        &["ID", "WHEN", "COMMAND", "EXIT", "RUNTIME", "MATCHES"],
        &[false, false, false, false, true, true],
        &rows,
    )?;

    writeln!(out, "\n{}", heading("Exit reasons"))?;
    let rows: Vec<Vec<Cell>> = report
        .exit_reasons
        .iter()
        .map(|r| {
            let color = reason_color(&r.exit_reason);
            vec![
                colored(r.exit_reason.clone(), color),
                cell(r.runs.to_string()),
                cell(format_percent(r.runs, report.runs)),
                colored(bar(r.runs, report.runs, BAR_WIDTH), color),
            ]
        })
        .collect();
    write_table(
        out,
        style,
        &["REASON", "RUNS", "SHARE", ""],
        &[false, true, true, false],
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

    writeln!(out, "\n{}", heading("Commands"))?;
    let rows: Vec<Vec<Cell>> = report
        .commands
        .iter()
        .map(|c| {
            vec![
                cell(shorten(&c.stats.command, COMMAND_WIDTH)),
                cell(c.stats.runs.to_string()),
                cell(format_seconds(c.stats.median_runtime)),
                cell(format_seconds(c.stats.p95_runtime)),
                colored(sparkline(&c.recent_runtimes), Some(CYAN)),
            ]
        })
        .collect();
    write_table(
        out,
        style,
        &["COMMAND", "RUNS", "MEDIAN", "P95", "LATEST RUNTIMES"],
        &[false, true, true, true, false],
        &rows,
    )
}

/// Writes `rows` under `headers`, each column as wide as its widest cell,
/// right-aligned where `right` says so; colour is added after the padding,
/// so it never moves a column.
fn write_table(
    out: &mut dyn Write,
    style: Style,
    headers: &[&str],
    right: &[bool],
    rows: &[Vec<Cell>],
) -> io::Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.text.chars().count());
        }
    }
    let header: Vec<Cell> = headers.iter().map(|h| colored(*h, Some(BOLD))).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::from("  ");
        for (i, cell) in row.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.text.chars().count());
            let last = i + 1 == row.len();
            let text = if cell.text.is_empty() {
                String::new()
            } else {
                style.paint(cell.color, &cell.text)
            };
            if right.get(i).copied().unwrap_or(false) {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(&text);
            } else {
                line.push_str(&text);
                if !last {
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            if !last {
                line.push_str("  ");
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// [`write_table`] for other commands' uncoloured tables (`analyze`).
pub(crate) fn write_plain_table(
    out: &mut dyn Write,
    headers: &[&str],
    right: &[bool],
    rows: &[Vec<String>],
) -> io::Result<()> {
    let rows: Vec<Vec<Cell>> = rows
        .iter()
        .map(|row| row.iter().map(|t| cell(t.as_str())).collect())
        .collect();
    write_table(out, Style { color: false }, headers, right, &rows)
}

/// A horizontal bar of `part / whole` in `width` characters, in eighths.
fn bar(part: i64, whole: i64, width: usize) -> String {
    const EIGHTHS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];
    if whole <= 0 || part <= 0 {
        return String::new();
    }
    let total_eighths = u64::try_from(width).unwrap_or(0) * 8;
    let filled = (u64::try_from(part).unwrap_or(0) * total_eighths)
        .div_ceil(u64::try_from(whole).unwrap_or(1))
        .min(total_eighths);
    let full = usize::try_from(filled / 8).unwrap_or(0);
    let mut out: String = std::iter::repeat_n('█', full).collect();
    let rest = usize::try_from(filled % 8).unwrap_or(0);
    if rest > 0 {
        out.push(EIGHTHS[rest - 1]);
    }
    out
}

/// One character per runtime, from `▁` (the fastest shown) to `█` (the
/// slowest); all alike when they are equal.
fn sparkline(runtimes: &[f64]) -> String {
    const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let finite = runtimes.iter().copied().filter(|r| r.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
        (lo.min(r), hi.max(r))
    });
    runtimes
        .iter()
        .map(|&r| {
            if !r.is_finite() {
                ' '
            } else if hi - lo <= f64::EPSILON {
                LEVELS[3]
            } else {
                // In 0..=7 by construction; the cast cannot truncate.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let level = (((r - lo) / (hi - lo)) * 7.0).round() as usize;
                LEVELS[level.min(7)]
            }
        })
        .collect()
}

/// The leading characters of an execution id shown in tables (the start
/// time in ms and 4 more hex digits): usually unique, and any unique prefix
/// works with `earlyexit feedback`.
pub(crate) fn short_id(execution_id: &str) -> String {
    execution_id.chars().take(SHORT_ID_CHARS).collect()
}

/// Characters of [`short_id`].
const SHORT_ID_CHARS: usize = 18;

/// `text` on one line, at most `width` characters (cut with `…`).
pub(crate) fn shorten(text: &str, width: usize) -> String {
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
pub(crate) fn format_seconds(seconds: f64) -> String {
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
pub(crate) fn format_age(ms: i64) -> String {
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
            color: None,
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
        render(&report, now, Style { color: false }, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();

        assert!(text.starts_with("6 runs (all recorded) in "), "{text}");
        assert!(!text.contains('\x1b'), "no colour when not asked: {text}");
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
        // Its 4 runtimes, oldest first: 1, 2, 3 and 4 s.
        assert!(npm.ends_with("▁▃▆█"), "{npm}");
        // 5 of 6 runs completed: 16 and 6/8 (rounded up) of the 20-character bar.
        let completed = lines
            .iter()
            .find(|l| l.trim_start().starts_with("completed"))
            .unwrap();
        assert!(
            completed.ends_with(&format!("{}▊", "█".repeat(16))),
            "{completed}"
        );
    }

    #[test]
    fn colour_is_added_after_alignment() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(dir.path());
        let now = store::now_ms();
        let report = block_on(gather(&args(), &db, now)).unwrap();
        let (mut plain, mut painted) = (Vec::new(), Vec::new());
        render(&report, now, Style { color: false }, &mut plain).unwrap();
        render(&report, now, Style { color: true }, &mut painted).unwrap();
        let painted = String::from_utf8(painted).unwrap();
        assert!(painted.contains("\x1b[31mmatch\x1b[0m"), "{painted}");
        assert!(painted.contains("\x1b[1mRecent runs\x1b[0m"), "{painted}");
        let ansi = regex::Regex::new("\x1b\\[[0-9;]*m").unwrap();
        assert_eq!(
            ansi.replace_all(&painted, ""),
            String::from_utf8(plain).unwrap()
        );
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
        assert_eq!(
            json["commands"][0]["recent_runtimes"],
            serde_json::json!([1.0, 2.0, 3.0, 4.0])
        );
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
        assert_eq!(
            run(&args(), &db, ColorChoice::Never).unwrap(),
            ExitCode::SUCCESS
        );
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
        assert_eq!(bar(1, 1, 4), "████");
        assert_eq!(bar(1, 2, 4), "██");
        assert_eq!(bar(1, 16, 4), "▎");
        assert_eq!(bar(0, 16, 4), "");
        assert_eq!(sparkline(&[1.0, 8.0]), "▁█");
        assert_eq!(sparkline(&[3.0, 3.0]), "▄▄");
        assert_eq!(sparkline(&[]), "");
        assert_eq!(Style::new(ColorChoice::Never).paint(Some(BOLD), "x"), "x");
        assert_eq!(
            Style::new(ColorChoice::Always).paint(Some(BOLD), "x"),
            "\x1b[1mx\x1b[0m"
        );
    }
}
