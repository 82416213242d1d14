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

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::client::Collector;
use super::push::{RetryPolicy, Sender, Shapers, Stop};
use super::{SyncError, identity, runtime};
use crate::config::{CollectorConfig, Config, LoadedConfig, TelemetryLevel};
use crate::store::Store;

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
    let limit = crate::duration::format_duration(on_exit.timeout);
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(e) => return Some(format!("earlyexit: warning: sync_on_exit: {e}")),
    };
    let outcome =
        runtime.block_on(async { tokio::time::timeout(on_exit.timeout, push(on_exit, db)).await });
    match outcome {
        Ok(Ok(0)) => None,
        Ok(Ok(left)) => Some(format!(
            "earlyexit: warning: sync_on_exit: {left} records are still pending (see `earlyexit sync --status`)"
        )),
        Ok(Err(e)) => Some(format!("earlyexit: warning: sync_on_exit: {e}")),
        Err(_) => Some(format!(
            "earlyexit: warning: sync_on_exit: the collector at {} did not answer within {limit} (sync_on_exit_timeout); records stay pending for `earlyexit sync`",
            on_exit.collector.url
        )),
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
