//! `sync_on_exit: true`: at the end of a run, after its own record is
//! written, push what is pending — bounded by `sync_on_exit_timeout` from
//! start to end (opening the database, connecting, retries and all).
//!
//! It never changes the run's exit code; on failure or timeout it returns
//! one warning line, and what was not acknowledged stays pending for the
//! next sync. Nothing here runs unless `sync_on_exit` is set, a collector
//! is configured and the run's telemetry level sends: [`plan`] decides that
//! from the configuration alone, with no I/O, so runs without a collector
//! pay nothing.
//!
//! A collector that failed (unreachable, silent, refusing the token) is
//! remembered for a back-off window in `$EARLYEXIT_HOME/`[`BACKOFF_FILE`]:
//! [`ON_EXIT_BACKOFF`], doubling with each failure in a row up to
//! [`ON_EXIT_BACKOFF_CAP`]. Runs inside the window skip the attempt (and
//! say nothing: their records stay pending, for the next run after the
//! window, `earlyexit sync` or `earlyexit agent`), so a collector that is
//! down costs one run the timeout, not every run. A success removes the
//! file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::client::Collector;
use super::push::{RetryPolicy, Sender, Shapers, Stop};
use super::{SyncError, identity, runtime};
use crate::config::{CollectorConfig, Config, LoadedConfig, TelemetryLevel};
use crate::store::Store;

/// The file in the earlyexit home that remembers a failed `sync_on_exit`:
/// `UNTIL_MS FAILURES` (the end of the back-off window, ms since the
/// epoch, and the failures in a row).
pub const BACKOFF_FILE: &str = "sync_on_exit.backoff";

/// How long runs skip `sync_on_exit` after the first failure in a row (30 s:
/// a burst of short runs during an outage pays the timeout once).
pub const ON_EXIT_BACKOFF: Duration = Duration::from_secs(30);

/// The longest back-off window after failures in a row (5 minutes: a
/// collector back from an outage gets the records within minutes, also
/// without `earlyexit agent`).
pub const ON_EXIT_BACKOFF_CAP: Duration = Duration::from_secs(300);

/// What the end of a run needs to sync.
#[derive(Debug, Clone)]
pub struct OnExit {
    config: Box<Config>,
    collector: CollectorConfig,
    earlyexit_home: PathBuf,
    timeout: Duration,
}

/// The sync a run at `level` does on exit, or `None` (the common case:
/// `sync_on_exit` off, no collector, or a level that sends nothing).
pub fn plan(loaded: &LoadedConfig, level: TelemetryLevel) -> Option<OnExit> {
    let config = &loaded.config;
    if !config.sync_on_exit || matches!(level, TelemetryLevel::Off | TelemetryLevel::Local) {
        return None;
    }
    let collector = config.collector.clone()?;
    let mut config = config.clone();
    // The run's own level (a --telemetry flag) bounds what it sends.
    config.telemetry = level;
    Some(OnExit {
        timeout: config.sync_on_exit_timeout,
        config: Box::new(config),
        collector,
        earlyexit_home: loaded.files.earlyexit_home.clone(),
    })
}

/// Pushes the pending records of the database at `db`; `None` when all
/// were acknowledged, else the warning to print.
pub fn run(on_exit: &OnExit, db: &Path) -> Option<String> {
    let backoff = on_exit.earlyexit_home.join(BACKOFF_FILE);
    let now = crate::store::now_ms();
    let failures = match read_backoff(&backoff) {
        Some((until, _)) if now < until => return None,
        Some((_, failures)) => failures,
        None => 0,
    };
    let warning = attempt(on_exit, db);
    match &warning {
        Some(Failure::Collector(_)) => write_backoff(&backoff, now, failures + 1),
        // The collector answered (records may be refused for now).
        Some(Failure::Other(_)) | None => {
            let _ = std::fs::remove_file(&backoff);
        }
    }
    warning.map(Failure::into_warning)
}

/// Why a `sync_on_exit` did not leave nothing pending.
enum Failure {
    /// The collector could not be used: back off.
    Collector(String),
    /// Anything else (records refused for now, a local error).
    Other(String),
}

impl Failure {
    fn into_warning(self) -> String {
        match self {
            Failure::Collector(w) | Failure::Other(w) => w,
        }
    }
}

/// The back-off window in `path`: (end in ms, failures in a row); `None`
/// when there is none or it cannot be read (then nothing is skipped).
fn read_backoff(path: &Path) -> Option<(i64, u32)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut parts = text.split_whitespace();
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Opens the window after the `failures`-th failure in a row at `now_ms`.
/// Best effort: a home that cannot be written only means no back-off.
fn write_backoff(path: &Path, now_ms: i64, failures: u32) {
    let window = ON_EXIT_BACKOFF
        .saturating_mul(1 << failures.saturating_sub(1).min(16))
        .min(ON_EXIT_BACKOFF_CAP);
    let until = now_ms.saturating_add(window.as_millis() as i64);
    let _ = std::fs::write(path, format!("{until} {failures}\n"));
}

/// Whether `e` says the collector cannot be used now (what the back-off
/// is for), not that something here is wrong (configuration, database),
/// which costs a run no waiting.
fn from_the_collector(e: &SyncError) -> bool {
    matches!(
        e,
        SyncError::Unreachable { .. }
            | SyncError::StoreUnavailable { .. }
            | SyncError::Refused { .. }
            | SyncError::Tls { .. }
            | SyncError::Certificate { .. }
    )
}

/// One bounded push; `None` when all was acknowledged.
fn attempt(on_exit: &OnExit, db: &Path) -> Option<Failure> {
    let limit = crate::duration::format_duration(on_exit.timeout);
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            return Some(Failure::Other(format!(
                "earlyexit: warning: sync_on_exit: {e}"
            )));
        }
    };
    let outcome =
        runtime.block_on(async { tokio::time::timeout(on_exit.timeout, push(on_exit, db)).await });
    let skip = crate::duration::format_duration(ON_EXIT_BACKOFF);
    match outcome {
        Ok(Ok(0)) => None,
        Ok(Ok(left)) => Some(Failure::Other(format!(
            "earlyexit: warning: sync_on_exit: {left} records are still pending (see `earlyexit sync --status`)"
        ))),
        Ok(Err(e)) if !from_the_collector(&e) => Some(Failure::Other(format!(
            "earlyexit: warning: sync_on_exit: {e}"
        ))),
        Ok(Err(e)) => Some(Failure::Collector(format!(
            "earlyexit: warning: sync_on_exit: {e}; the next runs skip sync_on_exit for {skip} or more"
        ))),
        Err(_) => Some(Failure::Collector(format!(
            "earlyexit: warning: sync_on_exit: the collector at {} did not answer within {limit} (sync_on_exit_timeout); records stay pending for `earlyexit sync`, and the next runs skip sync_on_exit for {skip} or more",
            on_exit.collector.shown_urls()
        ))),
    }
}

/// Returns the records left pending.
async fn push(on_exit: &OnExit, db: &Path) -> Result<u64, SyncError> {
    let Some(shapers) = Shapers::new(&on_exit.config)? else {
        return Ok(0);
    };
    let agent_id = identity::load_or_create(&on_exit.earlyexit_home)?;
    let collector = Collector::connect(&on_exit.collector)?;
    let store = Store::open(db).await?;
    let mut sender = Sender::new(
        store.clone(),
        collector,
        shapers,
        agent_id,
        RetryPolicy::default(),
    );
    let (report, result) = sender.push_pending(&mut Stop::never(), &mut |_| {}).await;
    // As on the run path: the process exits next, skip the checkpoint.
    drop(sender);
    store.leave_open_until_exit();
    result.map(|()| report.pending_left)
}
