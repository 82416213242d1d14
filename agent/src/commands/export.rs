//! `earlyexit export`: writes the recorded runs as JSON, JSON Lines or CSV,
//! streaming — a page of runs at a time, so memory does not grow with the
//! database.
//!
//! Reads only; it never creates the database. A reader that goes away
//! (`earlyexit export | head`) ends the export quietly and successfully.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use earlyexit_termui::progress::Progress;

use crate::duration::parse_duration;
use crate::store::{self, Cell, Column, ColumnKind, ExportedRun, Store, StoreError, block_on};

/// The output format of `export`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON array of runs, each with its `match_events` nested.
    Json,
    /// One JSON object per line per run, with its `match_events` nested.
    Jsonl,
    /// One CSV row per run with the `executions` columns (no match events).
    Csv,
}

/// `earlyexit export`: write the recorded runs to standard output or a file.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output format: json (an array), jsonl (one run per line) or csv
    /// (execution columns only).
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,

    /// Only runs started within this long ago, e.g. 7d, 12h [default: every recorded run].
    #[arg(long, value_name = "AGE", value_parser = parse_duration)]
    pub since: Option<Duration>,

    /// Write to FILE (created with mode 0600, replaced only when the export
    /// is complete) [default: standard output].
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Show each run exactly as it would leave this machine (scrubbed and
    /// shaped for the telemetry level; json/jsonl only). At `off` and
    /// `local` nothing leaves, so nothing is printed.
    #[arg(long)]
    pub as_sent: bool,

    /// With --as-sent: the level to show [default: the config's `telemetry`].
    #[arg(long, value_enum, value_name = "LEVEL", requires = "as_sent")]
    pub level: Option<crate::config::TelemetryLevel>,
}

/// Why an export stopped early.
#[derive(Debug, thiserror::Error)]
enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the export: {0}")]
    Write(#[from] io::Error),
}

impl From<csv::Error> for ExportError {
    fn from(e: csv::Error) -> Self {
        match e.into_kind() {
            csv::ErrorKind::Io(io) => ExportError::Write(io),
            other => ExportError::Write(io::Error::other(format!("{other:?}"))),
        }
    }
}

impl From<serde_json::Error> for ExportError {
    fn from(e: serde_json::Error) -> Self {
        ExportError::Write(e.into())
    }
}

/// Exports the runs of the database at `db_path`; `config` gives the
/// telemetry level and scrub rules for `--as-sent`.
pub fn run(
    args: &Args,
    db_path: &Path,
    config: &crate::config::Config,
) -> anyhow::Result<ExitCode> {
    let level = config.telemetry;
    let outbound = if args.as_sent {
        if args.format == Format::Csv {
            anyhow::bail!("--as-sent shows whole records: use --format json or --format jsonl");
        }
        let level = args.level.unwrap_or(level);
        if matches!(
            level,
            crate::config::TelemetryLevel::Off | crate::config::TelemetryLevel::Local
        ) {
            eprintln!(
                "telemetry level '{}': nothing leaves this machine (pass --level anonymous|full to preview)",
                level.as_str()
            );
        }
        Some(crate::privacy::outbound(config, level)?)
    } else {
        None
    };
    let since_ms = args.since.map(|age| store::ms_before(store::now_ms(), age));
    if !db_path.exists() && crate::spool::size(&crate::spool::spool_path(db_path)) == 0 {
        eprintln!("no telemetry recorded yet at {}", db_path.display());
    }
    match &args.output {
        None => {
            let stdout = io::stdout().lock();
            match block_on(export(
                db_path,
                args.format,
                since_ms,
                outbound.as_ref(),
                stdout,
                true,
            )) {
                Ok(_) => Ok(ExitCode::SUCCESS),
                // The reader went away (`| head`): it has what it wanted.
                Err(ExportError::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Err(e.into()),
            }
        }
        Some(path) => {
            let partial = partial_path(path);
            let file = crate::private_file::create_new(&partial)
                .with_context(|| format!("cannot create {}", partial.display()))?;
            let result = block_on(export(
                db_path,
                args.format,
                since_ms,
                outbound.as_ref(),
                file,
                false,
            ));
            match result {
                Ok(runs) => {
                    std::fs::rename(&partial, path).with_context(|| {
                        format!("cannot move {} to {}", partial.display(), path.display())
                    })?;
                    eprintln!("exported {runs} runs to {}", path.display());
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&partial);
                    Err(anyhow::Error::from(e)
                        .context(format!("export to {} failed", path.display())))
                }
            }
        }
    }
}

/// Exports smaller than this get no progress bar.
const PROGRESS_MIN_RUNS: u64 = 10_000;

/// The progress bar of an export of `total` runs: on stderr when it is a
/// terminal and the runs do not go to that terminal too (stdout redirected
/// or `--output`), so the bar never interleaves with the export itself.
fn export_progress(total: i64, to_stdout: bool) -> Progress {
    let terminal = crate::sys::is_terminal(2) && !(to_stdout && crate::sys::is_terminal(1));
    Progress::with_terminal(
        "exporting",
        "runs",
        u64::try_from(total).unwrap_or(0),
        PROGRESS_MIN_RUNS,
        terminal,
    )
}

/// A hidden sibling of `path` the export is written to before it replaces `path`.
fn partial_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "export".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// Writes every run started at or after `since_ms` to `out` in `format`;
/// returns the number of runs. A missing database exports as empty.
/// `to_stdout` says whether `out` is standard output (for the progress bar).
async fn export(
    db_path: &Path,
    format: Format,
    since_ms: Option<i64>,
    outbound: Option<&crate::privacy::Outbound>,
    out: impl Write,
    to_stdout: bool,
) -> Result<u64, ExportError> {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    let store = match Store::open_existing(db_path).await {
        Ok(store) => store,
        Err(StoreError::NotFound { .. }) => {
            if format == Format::Json {
                out.write_all(b"[]\n")?;
            }
            out.flush()?;
            return Ok(0);
        }
        Err(e) => return Err(e.into()),
    };
    let from = since_ms.unwrap_or(i64::MIN);
    let progress = export_progress(store.run_totals(from).await?.runs, to_stdout);
    let mut pages = store.export_runs(from).await?;
    let mut count = 0u64;
    match format {
        Format::Json | Format::Jsonl => {
            if format == Format::Json {
                out.write_all(b"[")?;
            }
            while let Some(page) = pages.next_page().await? {
                progress.inc(u64::try_from(page.len()).unwrap_or(0));
                for run in &page {
                    // --as-sent: the record exactly as the sync path shapes it.
                    let sent = match outbound {
                        None => None,
                        Some(outbound) => match outbound.as_sent(&{
                            let mut record = run.to_record(&pages)?;
                            let (samples, metrics) = store
                                .run_samples_and_metrics(&record.execution.execution_id)
                                .await?;
                            record.samples = samples;
                            record.metrics = metrics;
                            record
                        }) {
                            Some(sent) => Some(sent),
                            None => continue,
                        },
                    };
                    if format == Format::Json {
                        out.write_all(if count == 0 { b"\n" } else { b",\n" })?;
                    }
                    match &sent {
                        Some(sent) => serde_json::to_writer(&mut out, sent)?,
                        None => serde_json::to_writer(&mut out, &RunJson::new(&pages, run))?,
                    }
                    if format == Format::Jsonl {
                        out.write_all(b"\n")?;
                    }
                    count += 1;
                }
            }
            if format == Format::Json {
                out.write_all(b"\n]\n")?;
            }
            out.flush()?;
        }
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(&mut out);
            csv.write_record(pages.execution_columns().iter().map(|c| c.name.as_str()))?;
            while let Some(page) = pages.next_page().await? {
                progress.inc(u64::try_from(page.len()).unwrap_or(0));
                for run in &page {
                    csv.write_record(run.execution.iter().map(csv_field))?;
                    count += 1;
                }
            }
            csv.flush()?;
            drop(csv);
            out.flush()?;
        }
    }
    progress.finish();
    drop(pages);
    store.close().await;
    Ok(count)
}

fn csv_field(cell: &Cell) -> String {
    match cell {
        Cell::Null => String::new(),
        Cell::Bool(b) => b.to_string(),
        Cell::Integer(i) => i.to_string(),
        Cell::Real(f) => f.to_string(),
        Cell::Text(t) => t.clone(),
    }
}

/// A run as a JSON object: its `executions` columns in table order, then
/// `match_events`.
struct RunJson<'a> {
    columns: &'a [Column],
    match_columns: &'a [Column],
    run: &'a ExportedRun,
}

impl<'a> RunJson<'a> {
    fn new(pages: &'a store::RunPages<'_>, run: &'a ExportedRun) -> Self {
        RunJson {
            columns: pages.execution_columns(),
            match_columns: pages.match_columns(),
            run,
        }
    }
}

impl Serialize for RunJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.columns.len() + 1))?;
        for (column, cell) in self.columns.iter().zip(&self.run.execution) {
            map.serialize_entry(&column.name, &CellJson(cell, column.kind))?;
        }
        map.serialize_entry(
            "match_events",
            &MatchEventsJson(self.match_columns, &self.run.match_events),
        )?;
        map.end()
    }
}

struct MatchEventsJson<'a>(&'a [Column], &'a [Vec<Cell>]);

impl Serialize for MatchEventsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.1.len()))?;
        for event in self.1 {
            seq.serialize_element(&RowJson(self.0, event))?;
        }
        seq.end()
    }
}

struct RowJson<'a>(&'a [Column], &'a [Cell]);

impl Serialize for RowJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (column, cell) in self.0.iter().zip(self.1) {
            map.serialize_entry(&column.name, &CellJson(cell, column.kind))?;
        }
        map.end()
    }
}

/// One value: JSON-holding TEXT columns are nested as JSON (as text when
/// they do not parse), non-finite numbers become null.
struct CellJson<'a>(&'a Cell, ColumnKind);

impl Serialize for CellJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Cell::Null => serializer.serialize_none(),
            Cell::Bool(b) => serializer.serialize_bool(*b),
            Cell::Integer(i) => serializer.serialize_i64(*i),
            Cell::Real(f) if f.is_finite() => serializer.serialize_f64(*f),
            Cell::Real(_) => serializer.serialize_none(),
            Cell::Text(text) if self.1 == ColumnKind::Json => {
                match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(value) => value.serialize(serializer),
                    Err(_) => serializer.serialize_str(text),
                }
            }
            Cell::Text(text) => serializer.serialize_str(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RunRecord;
    use crate::record::tests_support::{completed_run, sample_run};

    const DAY_MS: i64 = 86_400_000;

    /// A database holding `runs`.
    fn database(dir: &Path, runs: &[RunRecord]) -> PathBuf {
        let db = dir.join("telemetry.db");
        block_on(async {
            let store = Store::open(&db).await?;
            for run in runs {
                store.record_run(run).await?;
            }
            store.close().await;
            Ok::<_, StoreError>(())
        })
        .unwrap();
        db
    }

    fn export_to_vec(db: &Path, format: Format, since_ms: Option<i64>) -> (u64, String) {
        let mut out = Vec::new();
        let n = block_on(export(db, format, since_ms, None, &mut out, false)).unwrap();
        (n, String::from_utf8(out).unwrap())
    }

    fn three_runs() -> Vec<RunRecord> {
        let now = store::now_ms();
        vec![
            sample_run(now - 10 * DAY_MS),
            completed_run(now - 2 * DAY_MS, "pytest -x", 1, 3.5),
            sample_run(now - 60_000),
        ]
    }

    #[test]
    fn json_export_parses_back_with_nested_match_events() {
        let dir = tempfile::tempdir().unwrap();
        let runs = three_runs();
        let db = database(dir.path(), &runs);
        let (n, text) = export_to_vec(&db, Format::Json, None);
        assert_eq!(n, 3);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let array = value.as_array().unwrap();
        assert_eq!(array.len(), 3);
        // Oldest first.
        assert_eq!(
            array[0]["execution_id"],
            runs[0].execution.execution_id.as_str()
        );
        assert_eq!(array[1]["command"], "pytest -x");
        assert_eq!(array[1]["child_exit_code"], 1);
        assert_eq!(array[1]["match_events"].as_array().unwrap().len(), 0);
        let first = &array[0];
        assert_eq!(first["exit_reason"], "match");
        assert_eq!(first["case_insensitive"], false);
        assert_eq!(first["delay_exit"], 10.0);
        assert_eq!(
            first["environment_vars"]["CI"], "true",
            "JSON columns are nested"
        );
        assert_eq!(first["match_line_numbers"][1], 61);
        assert!(first["timestamp"].as_str().unwrap().ends_with('Z'));
        let events = first["match_events"].as_array().unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["match_number"], 1);
        assert_eq!(events[1]["matched_substring"], "FAIL");
        assert!(events[0].get("execution_id").is_none());
    }

    #[test]
    fn jsonl_export_has_one_run_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let runs = three_runs();
        let db = database(dir.path(), &runs);
        let (n, text) = export_to_vec(&db, Format::Jsonl, None);
        assert_eq!(n, 3);
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        for (line, run) in lines.iter().zip(&runs) {
            assert_eq!(line["execution_id"], run.execution.execution_id.as_str());
            assert_eq!(
                line["match_events"].as_array().unwrap().len(),
                run.matches.len()
            );
        }
    }

    #[test]
    fn csv_export_has_a_header_and_one_row_per_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut runs = three_runs();
        runs[1].execution.command = "sh -c 'echo \"a,b\"'".to_string();
        let db = database(dir.path(), &runs);
        let (n, text) = export_to_vec(&db, Format::Csv, None);
        assert_eq!(n, 3);
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers = reader.headers().unwrap().clone();
        assert_eq!(&headers[0], "execution_id");
        assert!(headers.iter().any(|h| h == "anonymized"));
        assert!(!headers.iter().any(|h| h == "match_events"));
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 3);
        let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
        assert_eq!(&rows[1][column("command")], "sh -c 'echo \"a,b\"'");
        assert_eq!(&rows[1][column("exit_reason")], "completed");
        assert_eq!(&rows[0][column("pty")], "false");
        assert_eq!(&rows[0][column("first_output_timeout")], "");
        assert_eq!(&rows[0][column("total_runtime")], "14.25");
    }

    #[test]
    fn since_keeps_only_recent_runs() {
        let dir = tempfile::tempdir().unwrap();
        let runs = three_runs();
        let db = database(dir.path(), &runs);
        let since = store::now_ms() - 7 * DAY_MS;
        let (n, text) = export_to_vec(&db, Format::Jsonl, Some(since));
        assert_eq!(n, 2);
        assert!(!text.contains(&runs[0].execution.execution_id));
        assert!(text.contains(&runs[2].execution.execution_id));
    }

    #[test]
    fn export_pages_through_more_runs_than_a_page() {
        let dir = tempfile::tempdir().unwrap();
        let now = store::now_ms();
        // Same start time for many runs: pages must not skip or repeat any.
        let runs: Vec<RunRecord> = (0..1203)
            .map(|i| sample_run(now - (i % 7) * 1000))
            .collect();
        let db = database(dir.path(), &runs);
        let (n, text) = export_to_vec(&db, Format::Jsonl, None);
        assert_eq!(n, 1203);
        let mut ids: Vec<String> = text
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                assert_eq!(v["match_events"].as_array().unwrap().len(), 2);
                v["execution_id"].as_str().unwrap().to_string()
            })
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 1203);
    }

    #[test]
    fn a_closed_pipe_ends_the_export_without_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let runs: Vec<RunRecord> = (0..300).map(|i| sample_run(store::now_ms() - i)).collect();
        let db = database(dir.path(), &runs);
        let (reader, writer) = io::pipe().unwrap();
        drop(reader);
        let err = block_on(export(&db, Format::Jsonl, None, None, writer, false)).unwrap_err();
        // `run` treats exactly this as a quiet, successful end.
        assert!(
            matches!(&err, ExportError::Write(e) if e.kind() == io::ErrorKind::BrokenPipe),
            "{err:?}"
        );
    }

    #[test]
    fn as_sent_export_goes_through_the_outbound_shaping() {
        use crate::config::TelemetryLevel;
        use crate::privacy::Outbound;
        let dir = tempfile::tempdir().unwrap();
        let mut run = sample_run(store::now_ms());
        run.matches[0].line_content = "login failed for carol@corp.io from 10.9.8.7".into();
        let db = database(dir.path(), std::slice::from_ref(&run));
        let export_as = |level| {
            let outbound = Outbound::new(
                level,
                earlyexit_scrub::Scrubber::default(),
                crate::privacy::test_key(),
            );
            let mut out = Vec::new();
            let n = block_on(export(
                &db,
                Format::Jsonl,
                None,
                Some(&outbound),
                &mut out,
                false,
            ))
            .unwrap();
            (n, String::from_utf8(out).unwrap())
        };
        let (n, text) = export_as(TelemetryLevel::Full);
        assert_eq!(n, 1);
        let sent: RunRecord = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(sent.execution.execution_id, run.execution.execution_id);
        assert_eq!(
            sent.matches[0].line_content,
            "login failed for <email> from <ipv4>"
        );
        // What the export shows is what Outbound::as_sent makes of the stored run.
        let direct = Outbound::new(
            TelemetryLevel::Full,
            earlyexit_scrub::Scrubber::default(),
            crate::privacy::test_key(),
        )
        .as_sent(&run)
        .unwrap();
        assert_eq!(sent.matches[0].line_content, direct.matches[0].line_content);
        assert_eq!(sent.execution.command, direct.execution.command);
        assert!(!run.samples.is_empty() && !run.metrics.is_empty());
        assert_eq!(
            sent.samples.len(),
            run.samples.len(),
            "samples are shown too"
        );
        assert_eq!(sent.samples[0].content, direct.samples[0].content);
        assert_eq!(sent.metrics.len(), run.metrics.len());
        let (n, text) = export_as(TelemetryLevel::Local);
        assert_eq!((n, text.as_str()), (0, ""), "local: nothing leaves");
    }

    #[test]
    fn output_file_is_private_and_complete() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(dir.path(), &three_runs());
        let target = dir.path().join("runs.csv");
        let args = Args {
            format: Format::Csv,
            since: None,
            output: Some(target.clone()),
            as_sent: false,
            level: None,
        };
        assert_eq!(
            run(&args, &db, &crate::config::Config::defaults(dir.path())).unwrap(),
            ExitCode::SUCCESS
        );
        let text = std::fs::read_to_string(&target).unwrap();
        assert_eq!(text.lines().count(), 4);
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&target).unwrap().mode() & 0o777, 0o600);
        let leftovers = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains("partial")
            })
            .count();
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn a_missing_database_exports_nothing_and_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("telemetry.db");
        let (n, text) = export_to_vec(&db, Format::Json, None);
        assert_eq!(n, 0);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            serde_json::json!([])
        );
        assert!(!db.exists());
    }
}
