//! `earlyexit sync`: push every pending record to the collector once and
//! say what happened; `--status` shows the outbox without sending;
//! `--dry-run` prints what would be sent.
//!
//! This module presents. Sending, shaping and the outbox belong to
//! [`crate::sync`]; it never builds a wire record itself.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::config::{CollectorConfig, LoadedConfig};
use crate::duration::parse_duration;
use crate::report::codes;
use crate::store::outbox::{self, Status};
use crate::store::{Store, StoreError, now_ms, rfc3339_ms};
use crate::sync::client::Collector;
use crate::sync::push::{self, Progress, Report, RetryPolicy, Sender, Shapers, Stop};
use crate::sync::{SyncError, identity, runtime};

const LONG_ABOUT: &str = "\
Push every pending record to the collector now, then say what was sent.

Runs recorded at telemetry level anonymous or full wait in the local outbox \
until the collector acknowledges them; local runs never leave the machine. \
Each record is shaped as `earlyexit export --as-sent` shows it, at the lower \
of the level it was recorded at and the level configured now. Records the \
collector cannot reach stay pending for the next sync (or `earlyexit agent`); \
records it refuses for good are marked rejected with its reason.

Exit codes: 0 every pending record was acknowledged; 1 some were rejected \
or are still pending (the collector refused them for now); 3 the sync \
failed (unreachable collector, refused token, bad config: the message says \
what to do). The collector is set in config.yaml: \
`collector: {url: https://HOST:PORT, token_file: PATH}`.";

/// `earlyexit sync`.
#[derive(clap::Args, Debug)]
#[command(long_about = LONG_ABOUT)]
pub struct Args {
    /// Show the outbox instead of sending: pending, acknowledged, rejected
    /// and dropped records, the last error, the last successful sync and
    /// the collector's URL (never the token).
    #[arg(long, conflicts_with_all = ["dry_run", "timeout"])]
    pub status: bool,
    /// Send nothing: print each pending record exactly as it would be sent
    /// (one JSON object per line on stdout, scrubbed for its level).
    #[arg(long)]
    pub dry_run: bool,
    /// Print one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// Give up after this long (e.g. 30s, 5m); what was not acknowledged
    /// stays pending [default: no limit; each push times out after 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
}

/// Runs `earlyexit sync` with the configuration `loaded`.
pub fn run(args: &Args, loaded: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let runtime = runtime()?;
    if args.status {
        let status = runtime.block_on(read_status(loaded))?;
        print_status(args.json, loaded, &status)?;
        return Ok(ExitCode::SUCCESS);
    }
    let config = &loaded.config;
    let collector_config = config.collector.as_ref().ok_or(SyncError::NoCollector)?;
    let store = match runtime.block_on(Store::open_existing(&config.db)) {
        Ok(store) => store,
        Err(StoreError::NotFound { path }) => {
            if args.json {
                println!("{}", json!({"records": 0, "pending_left": 0, "ok": true}));
            } else {
                println!(
                    "nothing to send: no runs recorded yet at {}",
                    path.display()
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(e.into()),
    };
    let Some(shapers) = Shapers::new(config)? else {
        let pending = runtime.block_on(outbox::pending_count(&store))?;
        return Err(SyncError::NotSending {
            level: config.telemetry.as_str(),
            pending,
        }
        .into());
    };
    if args.dry_run {
        let mut stdout = std::io::stdout().lock();
        let count = runtime.block_on(push::dry_run(&store, &shapers, &mut |record| {
            serde_json::to_writer(&mut stdout, record)?;
            stdout.write_all(b"\n")
        }))?;
        stdout.flush()?;
        eprintln!(
            "{count} records would be sent to {} (dry run: nothing was sent)",
            collector_config.shown_urls()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let agent_id = identity::load_or_create(&loaded.files.earlyexit_home)?;
    let url = collector_config.shown_urls();
    let mut progress = ProgressLine::new(!args.json);
    let (report, result) = runtime.block_on(async {
        let collector = Collector::connect(collector_config)?;
        if let Some(warning) = collector.warning() {
            eprintln!("{warning}");
        }
        let mut sender = Sender::new(
            store.clone(),
            collector,
            shapers,
            agent_id.clone(),
            RetryPolicy::default(),
        );
        let mut stop = Stop::never();
        let mut show = |p| progress.show(p);
        let pass = sender.push_pending(&mut stop, &mut show);
        let outcome = match args.timeout {
            None => pass.await,
            Some(limit) => match tokio::time::timeout(limit, pass).await {
                Ok(outcome) => outcome,
                Err(_) => (
                    Report {
                        pending_left: outbox::pending_count(&store).await.unwrap_or(0),
                        ..Report::default()
                    },
                    Err(SyncError::Stopped),
                ),
            },
        };
        Ok::<_, SyncError>(outcome)
    })?;
    progress.finish();
    let dropped = runtime
        .block_on(outbox::status(&store))
        .map(|s| s.dropped.total())
        .unwrap_or(0);
    runtime.block_on(store.close());
    let complete = result.is_ok() && report.pending_left == 0 && report.rejected == 0;
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        value["collector"] = json!(url);
        value["agent_id"] = json!(agent_id);
        value["ok"] = json!(complete);
        value["dropped_total"] = json!(dropped);
        value["error"] = json!(result.as_ref().err().map(ToString::to_string));
        println!("{value}");
    } else {
        println!("{}", summary(&report, &url));
        if dropped > 0 {
            println!(
                "note: {dropped} runs were deleted (retention, size cap or clear-data) before they could be sent; see `earlyexit sync --status`"
            );
        }
    }
    match result {
        Err(SyncError::Stopped) => {
            eprintln!(
                "earlyexit sync: stopped by --timeout; {} records stay pending",
                report.pending_left
            );
            Ok(ExitCode::from(codes::ERROR))
        }
        Err(e) if args.json => {
            eprintln!("earlyexit sync: {e}");
            Ok(ExitCode::from(codes::ERROR))
        }
        Err(e) => Err(e.into()),
        Ok(()) if complete => Ok(ExitCode::SUCCESS),
        Ok(()) => {
            if !args.json {
                eprintln!(
                    "earlyexit sync: not everything was acknowledged: {} rejected, {} still pending (see `earlyexit sync --status`)",
                    report.rejected, report.pending_left
                );
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// One line: what a pass sent.
fn summary(report: &Report, url: &str) -> String {
    let mut line = format!(
        "sent {} records in {} batches to {url} in {:.1}s: {} stored, {} duplicates, {} rejected",
        report.records,
        report.batches,
        report.elapsed_ms as f64 / 1000.0,
        report.accepted,
        report.duplicates,
        report.rejected,
    );
    if report.retry_later > 0 {
        line.push_str(&format!(", {} refused for now", report.retry_later));
    }
    line.push_str(&format!("; {} pending", report.pending_left));
    line
}

/// Progress of a large backlog on stderr: a bar on a terminal
/// ([`earlyexit_termui::progress`]), a line every few seconds otherwise
/// (a CI log shows the sync is alive). Small syncs print none.
struct ProgressLine {
    enabled: bool,
    terminal: bool,
    last: Option<Instant>,
    bar: Option<earlyexit_termui::progress::Progress>,
}

/// Backlogs smaller than this get no progress line.
const PROGRESS_MIN_RECORDS: u64 = 1000;

/// Between progress lines when stderr is not a terminal.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

impl ProgressLine {
    fn new(enabled: bool) -> Self {
        ProgressLine {
            enabled,
            terminal: crate::sys::is_terminal(2),
            last: None,
            bar: None,
        }
    }

    fn show(&mut self, p: Progress) {
        if !self.enabled || p.total < PROGRESS_MIN_RECORDS {
            return;
        }
        if self.terminal {
            let bar = self.bar.get_or_insert_with(|| {
                earlyexit_termui::progress::Progress::with_terminal(
                    "sending",
                    "records",
                    p.total,
                    PROGRESS_MIN_RECORDS,
                    true,
                )
            });
            bar.set_total(p.total);
            bar.set(p.done);
        } else if self.last.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) || p.done == p.total {
            let percent = p.done * 100 / p.total.max(1);
            eprintln!("sending: {}/{} records ({percent}%)", p.done, p.total);
            self.last = Some(Instant::now());
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
    }
}

async fn read_status(loaded: &LoadedConfig) -> Result<Status, StoreError> {
    match Store::open_existing(&loaded.config.db).await {
        Ok(store) => {
            let status = outbox::status(&store).await;
            store.close().await;
            status
        }
        Err(StoreError::NotFound { .. }) => Ok(Status::default()),
        Err(e) => Err(e),
    }
}

/// The agent id if one was made (status never creates it).
fn existing_agent_id(loaded: &LoadedConfig) -> Option<String> {
    std::fs::read_to_string(identity::agent_id_path(&loaded.files.earlyexit_home))
        .ok()
        .map(|id| id.trim().to_string())
}

fn when(ms: Option<i64>) -> String {
    match ms {
        None => "never".to_string(),
        Some(ms) => {
            let ago = Duration::from_millis(now_ms().saturating_sub(ms).max(0) as u64);
            let ago = Duration::from_secs(ago.as_secs());
            format!(
                "{} ({} ago)",
                rfc3339_ms(ms),
                humantime::format_duration(ago)
            )
        }
    }
}

fn print_status(as_json: bool, loaded: &LoadedConfig, status: &Status) -> anyhow::Result<()> {
    let config = &loaded.config;
    let url = config.collector.as_ref().map(CollectorConfig::shown_urls);
    if as_json {
        let mut value = serde_json::to_value(status)?;
        value["collector"] = json!(url);
        value["telemetry"] = json!(config.telemetry.as_str());
        value["sync_on_exit"] = json!(config.sync_on_exit);
        value["agent_id"] = json!(existing_agent_id(loaded));
        value["database"] = json!(config.db);
        value["dropped_total"] = json!(status.dropped.total());
        println!("{value}");
        return Ok(());
    }
    print!("{}", status_text(loaded, status));
    Ok(())
}

fn status_text(loaded: &LoadedConfig, status: &Status) -> String {
    let config = &loaded.config;
    let url = config.collector.as_ref().map(CollectorConfig::shown_urls);
    let mut out = String::new();
    let mut line = |label: &str, value: String| out.push_str(&format!("{label:<14}{value}\n"));
    line(
        "collector",
        url.unwrap_or_else(|| "not configured (nothing leaves this machine)".to_string()),
    );
    line(
        "telemetry",
        format!(
            "{}{}",
            config.telemetry,
            if config.sync_on_exit {
                ", sync_on_exit"
            } else {
                ""
            }
        ),
    );
    line("database", config.db.display().to_string());
    line("pending", status.pending.to_string());
    line(
        "acknowledged",
        format!(
            "{} in the database ({} stored by the collector and {} duplicates, ever)",
            status.acknowledged, status.acknowledged_total, status.duplicates_total
        ),
    );
    line("rejected", status.rejected.to_string());
    line(
        "dropped",
        format!(
            "{} pending runs deleted before they were sent ({} by retention_days, {} by max_db_size_mb, {} by clear-data)",
            status.dropped.total(),
            status.dropped.expired,
            status.dropped.size_cap,
            status.dropped.cleared
        ),
    );
    line("last success", when(status.last_success_ms));
    line(
        "last error",
        match &status.last_error {
            None => "none".to_string(),
            Some(e) => format!("{e} (at {})", when(status.last_error_ms)),
        },
    );
    line(
        "agent id",
        existing_agent_id(loaded).unwrap_or_else(|| "not made yet (first sync makes it)".into()),
    );
    for rejection in &status.recent_rejections {
        out.push_str(&format!(
            "  rejected {}: {}\n",
            rejection.execution_id, rejection.reason
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_every_count() {
        let report = Report {
            records: 1200,
            batches: 3,
            accepted: 1190,
            duplicates: 10,
            rejected: 0,
            retry_later: 2,
            pending_left: 2,
            from_spool: 0,
            elapsed_ms: 1530,
            first_rejection: None,
        };
        assert_eq!(
            summary(&report, "https://c:7700"),
            "sent 1200 records in 3 batches to https://c:7700 in 1.5s: 1190 stored, 10 duplicates, 0 rejected, 2 refused for now; 2 pending"
        );
    }

    #[test]
    fn status_text_never_shows_the_token_and_shows_every_number() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.yaml"),
            "collector: {url: 'https://c:7700', token: s3cret-value}\n",
        )
        .unwrap();
        let loaded = crate::config::Config::load_from(dir.path(), dir.path()).unwrap();
        let status = Status {
            pending: 4,
            acknowledged: 7,
            rejected: 1,
            dropped: outbox::Dropped {
                expired: 2,
                size_cap: 0,
                cleared: 1,
            },
            last_error: Some("cannot reach the collector".into()),
            last_error_ms: Some(now_ms()),
            ..Status::default()
        };
        let text = status_text(&loaded, &status);
        assert!(!text.contains("s3cret"), "{text}");
        for want in [
            "collector     https://c:7700\n",
            "telemetry     anonymous\n",
            "pending       4\n",
            "acknowledged  7 in the database",
            "rejected      1\n",
            "dropped       3 pending runs deleted before they were sent (2 by retention_days, 0 by max_db_size_mb, 1 by clear-data)",
            "last success  never\n",
            "last error    cannot reach the collector (at ",
        ] {
            assert!(text.contains(want), "{want:?} not in:\n{text}");
        }
    }
}
