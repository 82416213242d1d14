//! `earlyexit agent`: the long-running sync. Pushes pending records at
//! once and then every interval (backing off while the collector is
//! unreachable), holds the `Updates.Subscribe` stream (reconnecting with
//! back-off) and keeps the bundles it receives, and logs one line per event
//! on stderr.
//!
//! Shutdown is an input: when the `shutdown` future resolves, no new batch
//! starts, back-off waits end at once, the update stream is dropped, and a
//! batch in flight gets [`Options::grace`] to be answered before it is
//! given up. Nothing is lost either way: a record is marked acknowledged
//! only after the collector's answer, so one given up stays pending.

use std::future::Future;
use std::time::Duration;

use earlyexit_proto::v1;

use super::backoff::Backoff;
use super::bundles::Assembler;
use super::client::Collector;
use super::push::{Progress, Report, RetryPolicy, Sender, Shapers, Stop};
use super::{SyncError, identity};
use crate::config::LoadedConfig;
use crate::store::outbox;
use crate::store::{Store, now_ms, rfc3339_ms};

/// Default `--interval`: new runs reach the collector within seconds, at
/// the cost of one small read of the outbox per interval when idle.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// Default `--shutdown-grace`: long enough for a batch's durable commit on
/// a loaded collector, short enough for a container's stop timeout (10 s
/// by default in Docker and Kubernetes).
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What `earlyexit agent` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Time between passes while the collector answers.
    pub interval: Duration,
    /// Hold the update stream (`Updates.Subscribe`).
    pub subscribe: bool,
    /// How long a batch in flight may take after a shutdown signal.
    pub grace: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            interval: DEFAULT_INTERVAL,
            subscribe: true,
            grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// One line on stderr, with the time.
fn log(line: &str) {
    eprintln!("{} earlyexit agent: {line}", rfc3339_ms(now_ms()));
}

/// Runs until `shutdown` resolves; `Ok` after a clean stop. Fails at start
/// when the configuration cannot sync (no collector, nothing to send, a bad
/// URL or token file, an unusable database).
pub async fn run(
    loaded: &LoadedConfig,
    options: &Options,
    shutdown: impl Future<Output = ()>,
) -> Result<(), SyncError> {
    let config = &loaded.config;
    let collector_config = config.collector.as_ref().ok_or(SyncError::NoCollector)?;
    let store = Store::open(&config.db).await?;
    let Some(shapers) = Shapers::new(config)? else {
        return Err(SyncError::NotSending {
            level: config.telemetry.as_str(),
            pending: outbox::pending_count(&store).await.unwrap_or(0),
        });
    };
    let agent_id = identity::load_or_create(&loaded.files.earlyexit_home)?;
    let collector = Collector::connect(collector_config)?;
    if let Some(warning) = collector.warning() {
        log(warning);
    }
    log(&format!(
        "syncing {} to {} every {} as agent {agent_id}{}",
        config.db.display(),
        collector_config.shown_urls(),
        crate::duration::format_duration(options.interval),
        if options.subscribe {
            ", with the update stream"
        } else {
            ""
        }
    ));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stop = Stop::new(stop_rx, options.grace);
    let sender = Sender::new(
        store.clone(),
        collector.clone(),
        shapers,
        agent_id.clone(),
        RetryPolicy::default(),
    );
    let watcher = async move {
        shutdown.await;
        log(&format!(
            "stopping (a batch in flight gets up to {})",
            crate::duration::format_duration(options.grace)
        ));
        let _ = stop_tx.send(true);
    };
    let updates = async {
        if options.subscribe {
            subscribe_loop(&store, collector, &agent_id, stop.clone()).await;
        }
    };
    let ((), (), ()) = tokio::join!(
        watcher,
        sync_loop(sender, options.interval, stop.clone()),
        updates
    );
    log("stopped");
    store.close().await;
    Ok(())
}

/// Passes until stopped: at once, then every `interval`, or after a
/// back-off wait while passes fail.
async fn sync_loop(mut sender: Sender, interval: Duration, mut stop: Stop) {
    let mut backoff = Backoff::default();
    let mut failing: Option<String> = None;
    loop {
        let (report, result) = sender.push_pending(&mut stop, &mut |_: Progress| {}).await;
        log_report(&report);
        let wait = match result {
            Ok(()) => {
                if failing.take().is_some() {
                    log(&format!("the collector at {} answers again", sender.url()));
                }
                backoff.reset();
                interval
            }
            Err(SyncError::Stopped) => return,
            Err(e) => {
                let text = e.to_string();
                if failing.as_deref() != Some(&text) {
                    log(&format!(
                        "sync failed: {text} ({} records pending)",
                        report.pending_left
                    ));
                }
                failing = Some(text);
                backoff.next_delay().max(Duration::from_millis(500))
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.stopped() => return,
        }
    }
}

fn log_report(report: &Report) {
    if report.records == 0 && report.rejected == 0 {
        return;
    }
    let mut line = format!(
        "pushed {} records in {} batches: {} stored, {} duplicates",
        report.records, report.batches, report.accepted, report.duplicates
    );
    if report.rejected > 0 {
        line.push_str(&format!(
            ", {} rejected (see `earlyexit sync --status`)",
            report.rejected
        ));
    }
    if report.retry_later > 0 {
        line.push_str(&format!(", {} to retry", report.retry_later));
    }
    line.push_str(&format!(
        "; {} pending; {} ms",
        report.pending_left, report.elapsed_ms
    ));
    log(&line);
}

/// Holds the update stream until stopped, reconnecting with back-off, and
/// keeps every bundle that arrives whole and intact.
async fn subscribe_loop(store: &Store, mut collector: Collector, agent_id: &str, mut stop: Stop) {
    let mut backoff = Backoff::default();
    let mut last_error: Option<String> = None;
    loop {
        let have_versions = match store.bundle_versions().await {
            Ok(have) => have,
            Err(e) => {
                log(&format!("update stream: {e}"));
                Default::default()
            }
        };
        let request = v1::SubscribeRequest {
            agent_id: agent_id.to_string(),
            have_versions,
        };
        let opened = tokio::select! {
            opened = collector.subscribe(request) => opened,
            () = stop.stopped() => return,
        };
        match opened {
            Err(status) if status.code() == tonic::Code::Unimplemented => {
                log("the collector does not stream updates (UNIMPLEMENTED); syncing records only");
                return;
            }
            Err(status) => {
                let text = SyncError::from_status(collector.url(), &status).to_string();
                if last_error.as_deref() != Some(&text) {
                    log(&format!("update stream: {text}"));
                }
                last_error = Some(text);
                if super::error::is_fail_over(status.code()) {
                    collector.fail_over();
                }
            }
            Ok(mut stream) => {
                log("update stream open");
                last_error = None;
                backoff.reset();
                let mut assembler = Assembler::default();
                loop {
                    let message = tokio::select! {
                        message = stream.message() => message,
                        () = stop.stopped() => return,
                    };
                    match message {
                        Ok(Some(chunk)) => match assembler.feed(chunk) {
                            Ok(Some(bundle)) => match store.store_bundle(&bundle).await {
                                Ok(true) => log(&format!(
                                    "received bundle {} v{} ({} bytes, sha256 {})",
                                    bundle.kind,
                                    bundle.version,
                                    bundle.data.len(),
                                    bundle.sha256
                                )),
                                Ok(false) => {}
                                Err(e) => log(&format!("cannot keep bundle {}: {e}", bundle.kind)),
                            },
                            Ok(None) => {}
                            Err(e) => log(&e.to_string()),
                        },
                        Ok(None) => {
                            log("update stream closed by the collector; reconnecting");
                            break;
                        }
                        Err(status) => {
                            log(&format!(
                                "update stream broken ({}: {}); reconnecting",
                                super::error::code_name(status.code()),
                                status.message()
                            ));
                            if super::error::is_fail_over(status.code()) {
                                collector.fail_over();
                            }
                            break;
                        }
                    }
                }
            }
        }
        let wait = backoff.next_delay().max(Duration::from_millis(200));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.stopped() => return,
        }
    }
}
