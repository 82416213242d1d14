//! One pass over the pending records: read them oldest first a page at a
//! time, shape each for the wire, batch, push with retries, and record the
//! collector's answer for every record.
//!
//! A record is sent at the lower of the level it was recorded at and the
//! level configured now ([`Shapers`]): switching from `full` to `anonymous`
//! takes effect for records still pending, and `local` or `off` sends
//! nothing at all. Each record is tried at most once per pass (records the
//! collector refused for now wait for the next pass), so a pass always
//! ends. The outbox changes only after an answer: a pass cut short by a
//! stop or a timeout leaves the records it was sending pending.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use earlyexit_proto::v1;
use serde::Serialize;

use super::SyncError;
use super::backoff::{self, Backoff};
use super::batch::{self, MAX_BATCH_BYTES, MAX_BATCH_RECORDS};
use super::client::Collector;
use super::convert::Sendable;
use super::error::{is_certificate_failure, is_fail_over, is_retriable, scheme_mismatch};
use crate::config::{Config, TelemetryLevel};
use crate::privacy::Outbound;
use crate::record::RunRecord;
use crate::store::Store;
use crate::store::outbox::{self, Answer};

/// Pending records read from the database at a time.
const PAGE: i64 = MAX_BATCH_RECORDS as i64;

/// The shaping for each recorded level, as the configuration allows.
#[derive(Debug)]
pub struct Shapers {
    anonymous: Outbound,
    full: Option<Outbound>,
}

impl Shapers {
    /// The shapers for `config`; `None` when its telemetry level sends
    /// nothing (`off`, `local`).
    pub fn new(config: &Config) -> Result<Option<Shapers>, SyncError> {
        let full = match config.telemetry {
            TelemetryLevel::Off | TelemetryLevel::Local => return Ok(None),
            TelemetryLevel::Anonymous => None,
            TelemetryLevel::Full => Some(crate::privacy::outbound(config, TelemetryLevel::Full)?),
        };
        Ok(Some(Shapers {
            anonymous: crate::privacy::outbound(config, TelemetryLevel::Anonymous)?,
            full,
        }))
    }

    fn outbound(&self, recorded: TelemetryLevel) -> &Outbound {
        match (recorded, &self.full) {
            (TelemetryLevel::Full, Some(full)) => full,
            _ => &self.anonymous,
        }
    }

    /// The wire form of `run`, recorded at `recorded`.
    pub fn shape(&self, recorded: TelemetryLevel, run: &RunRecord) -> Option<Sendable> {
        Sendable::shape(self.outbound(recorded), run)
    }

    /// What would be sent for `run`, as a record (for `sync --dry-run`).
    pub fn as_sent(&self, recorded: TelemetryLevel, run: &RunRecord) -> Option<RunRecord> {
        self.outbound(recorded).as_sent(run)
    }
}

/// How a pass retries one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Calls per batch, the first included, before the pass gives up.
    pub max_attempts: u32,
    /// First back-off wait (before jitter).
    pub base: Duration,
    /// Longest back-off wait.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    /// 5 calls over at most ~3 s of waits: enough for a collector restart
    /// or a blip, short enough for an interactive `earlyexit sync`.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: backoff::BASE,
            cap: backoff::CAP,
        }
    }
}

/// A request to stop, observed between batches, during back-off waits,
/// and — after a grace period — during a call in flight.
#[derive(Debug, Clone)]
pub struct Stop {
    rx: Option<tokio::sync::watch::Receiver<bool>>,
    grace: Duration,
}

impl Stop {
    /// A stop that never comes (one-shot sync; bounded by its caller).
    pub fn never() -> Stop {
        Stop {
            rx: None,
            grace: Duration::ZERO,
        }
    }

    /// Stops when `rx` turns true; a call in flight then gets `grace` to
    /// finish.
    pub fn new(rx: tokio::sync::watch::Receiver<bool>, grace: Duration) -> Stop {
        Stop {
            rx: Some(rx),
            grace,
        }
    }

    /// True once a stop was requested.
    pub fn is_stopped(&self) -> bool {
        self.rx.as_ref().is_some_and(|rx| *rx.borrow())
    }

    /// Resolves when a stop is requested (never for [`Stop::never`]).
    /// Cancel-safe.
    pub async fn stopped(&mut self) {
        match self.rx.as_mut() {
            Some(rx) => {
                if rx.wait_for(|stop| *stop).await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending().await,
        }
    }

    /// Resolves `grace` after a stop is requested. Cancel-safe.
    async fn stopped_then_grace(&mut self) {
        self.stopped().await;
        tokio::time::sleep(self.grace).await;
    }
}

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Records in batches the collector answered.
    pub records: u64,
    /// Batches the collector answered.
    pub batches: u64,
    /// Records newly stored by the collector.
    pub accepted: u64,
    /// Records the collector already had.
    pub duplicates: u64,
    /// Records refused for good (by the collector, or too large to send).
    pub rejected: u64,
    /// Records refused for now: still pending.
    pub retry_later: u64,
    /// Records pending after the pass.
    pub pending_left: u64,
    /// Pending runs moved in from the spool first.
    pub from_spool: u64,
    /// Wall time of the pass, ms.
    pub elapsed_ms: u64,
    /// Why the first record refused for good was refused.
    pub first_rejection: Option<String>,
}

/// Progress of a pass, for the progress line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Records answered so far.
    pub done: u64,
    /// Records pending when the pass started.
    pub total: u64,
}

/// Sends pending records to one collector.
#[derive(Debug)]
pub struct Sender {
    store: Store,
    collector: Collector,
    shapers: Shapers,
    agent_id: String,
    policy: RetryPolicy,
}

impl Sender {
    /// A sender of `store`'s pending records to `collector` as `agent_id`.
    pub fn new(
        store: Store,
        collector: Collector,
        shapers: Shapers,
        agent_id: String,
        policy: RetryPolicy,
    ) -> Sender {
        Sender {
            store,
            collector,
            shapers,
            agent_id,
            policy,
        }
    }

    /// The collector's URL.
    pub fn url(&self) -> &str {
        self.collector.url()
    }

    /// One pass: moves the spool in, then pushes every record pending now.
    /// Returns what was done even when it failed part-way; the error is
    /// also kept as the last error (`sync --status`), and a clean pass
    /// clears it.
    pub async fn push_pending(
        &mut self,
        stop: &mut Stop,
        progress: &mut dyn FnMut(Progress),
    ) -> (Report, Result<(), SyncError>) {
        let started = Instant::now();
        let mut report = Report::default();
        let result = self.pass(stop, progress, &mut report).await;
        report.pending_left = outbox::pending_count(&self.store).await.unwrap_or(0);
        report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let bookkeeping = match &result {
            Err(SyncError::Stopped) => Ok(()),
            Err(e) => outbox::record_error(&self.store, &e.to_string()).await,
            Ok(()) if report.rejected > 0 => {
                outbox::record_error(
                    &self.store,
                    &format!(
                        "rejected {} record{} for good, not to be resent (first: {}); `earlyexit sync --status` lists them",
                        report.rejected,
                        if report.rejected == 1 { "" } else { "s" },
                        report.first_rejection.as_deref().unwrap_or("no reason given"),
                    ),
                )
                .await
            }
            Ok(()) if report.retry_later > 0 => {
                outbox::record_error(
                    &self.store,
                    &format!(
                        "the collector refused {} records for now; they stay pending",
                        report.retry_later
                    ),
                )
                .await
            }
            Ok(()) => outbox::clear_error(&self.store).await,
        };
        match (result, bookkeeping) {
            (Err(e), _) => (report, Err(e)),
            (Ok(()), Err(e)) => (report, Err(e.into())),
            (Ok(()), Ok(())) => (report, Ok(())),
        }
    }

    async fn pass(
        &mut self,
        stop: &mut Stop,
        progress: &mut dyn FnMut(Progress),
        report: &mut Report,
    ) -> Result<(), SyncError> {
        let spool = crate::spool::spool_path(self.store.path());
        report.from_spool = self.store.ingest_spool(&spool).await? as u64;
        let total = outbox::pending_count(&self.store).await?;
        let mut done = 0;
        progress(Progress { done, total });
        let mut after = 0;
        loop {
            if stop.is_stopped() {
                return Err(SyncError::Stopped);
            }
            let page = outbox::pending_after(&self.store, after, PAGE).await?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = last.seq;
            let levels: HashMap<&str, TelemetryLevel> = page
                .iter()
                .map(|p| (p.execution_id.as_str(), p.level))
                .collect();
            let ids: Vec<String> = page.iter().map(|p| p.execution_id.clone()).collect();
            let runs = self.store.runs_by_id(&ids).await?;
            let shaped: Vec<Sendable> = runs
                .iter()
                .filter_map(|run| {
                    let level = levels.get(run.execution.execution_id.as_str())?;
                    self.shapers.shape(*level, run)
                })
                .collect();
            let split = batch::split(shaped, MAX_BATCH_RECORDS, MAX_BATCH_BYTES);
            if !split.too_large.is_empty() {
                outbox::reject_locally(&self.store, &split.too_large).await?;
                if report.first_rejection.is_none() {
                    report.first_rejection = Some(split.too_large[0].1.clone());
                }
                report.rejected += split.too_large.len() as u64;
                done += split.too_large.len() as u64;
            }
            for batch in split.batches {
                let ids: Vec<String> = batch.iter().map(|s| s.local_id().to_string()).collect();
                let request = v1::PushRequest {
                    agent_id: self.agent_id.clone(),
                    batch_seq: outbox::next_batch_seq(&self.store).await?,
                    records: batch.into_iter().map(Sendable::into_record).collect(),
                };
                let response = self.call(request, stop).await?;
                let answer = interpret(&ids, &response);
                outbox::apply_answer(&self.store, &answer).await?;
                report.records += ids.len() as u64;
                report.batches += 1;
                report.accepted += answer.accepted;
                report.duplicates += answer.duplicates;
                report.rejected += answer.rejected.len() as u64;
                if report.first_rejection.is_none()
                    && let Some((_, reason)) = answer.rejected.first()
                {
                    report.first_rejection = Some(reason.clone());
                }
                report.retry_later += answer.retry.len() as u64;
                done += ids.len() as u64;
                progress(Progress {
                    done,
                    total: total.max(done),
                });
            }
        }
    }

    /// Pushes one batch, retrying the codes in
    /// [`super::error::RETRIABLE_CODES`] with back-off (never a failed
    /// certificate check).
    async fn call(
        &mut self,
        request: v1::PushRequest,
        stop: &mut Stop,
    ) -> Result<v1::PushResponse, SyncError> {
        let mut backoff = Backoff::new(self.policy.base, self.policy.cap);
        let mut attempts = 0;
        // URLs tried since the last back-off: the next replica is tried at
        // once, the wait comes after a whole round failed.
        let mut tried = 0;
        loop {
            attempts += 1;
            let result = tokio::select! {
                result = self.collector.push(request.clone()) => result,
                () = stop.stopped_then_grace() => return Err(SyncError::Stopped),
            };
            match result {
                Ok(response) => return Ok(response),
                Err(status)
                    if is_retriable(status.code())
                        && !is_certificate_failure(&status)
                        && scheme_mismatch(self.collector.url(), &status).is_none()
                        && attempts < self.policy.max_attempts =>
                {
                    if is_fail_over(status.code()) && self.collector.fail_over() {
                        tried += 1;
                        if tried < self.collector.replicas() {
                            continue;
                        }
                    }
                    tried = 0;
                    let wait = backoff.next_delay();
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = stop.stopped() => return Err(SyncError::Stopped),
                    }
                }
                Err(status) => return Err(SyncError::from_status(self.collector.url(), &status)),
            }
        }
    }
}

/// The collector's answer record by record: every record not named in
/// `rejected` is acknowledged (stored now, or a duplicate).
fn interpret(ids: &[String], response: &v1::PushResponse) -> Answer {
    let mut refused: HashMap<usize, &v1::Rejection> = HashMap::new();
    for rejection in &response.rejected {
        let index = rejection.index as usize;
        if index < ids.len() {
            refused.insert(index, rejection);
        }
    }
    let mut answer = Answer {
        accepted: u64::from(response.accepted),
        duplicates: u64::from(response.duplicates),
        ..Answer::default()
    };
    for (index, id) in ids.iter().enumerate() {
        match refused.get(&index) {
            None => answer.acknowledged.push(id.clone()),
            Some(r) => {
                let reason = if r.reason.trim().is_empty() {
                    "the collector gave no reason".to_string()
                } else {
                    r.reason.clone()
                };
                if r.retriable {
                    answer.retry.push((id.clone(), reason));
                } else {
                    answer.rejected.push((id.clone(), reason));
                }
            }
        }
    }
    answer
}

/// Every pending record as it would be sent, oldest first, without
/// sending (for `sync --dry-run`); returns how many.
pub async fn dry_run(
    store: &Store,
    shapers: &Shapers,
    out: &mut dyn FnMut(&RunRecord) -> std::io::Result<()>,
) -> Result<u64, anyhow::Error> {
    let mut after = 0;
    let mut count = 0;
    loop {
        let page = outbox::pending_after(store, after, PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(count);
        };
        after = last.seq;
        let ids: Vec<String> = page.iter().map(|p| p.execution_id.clone()).collect();
        let levels: HashMap<&str, TelemetryLevel> = page
            .iter()
            .map(|p| (p.execution_id.as_str(), p.level))
            .collect();
        for run in store.runs_by_id(&ids).await? {
            let Some(level) = levels.get(run.execution.execution_id.as_str()) else {
                continue;
            };
            if let Some(sent) = shapers.as_sent(*level, &run) {
                out(&sent)?;
                count += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_not_rejected_is_acknowledged() {
        let ids: Vec<String> = (0..4).map(|i| format!("id{i}")).collect();
        let response = v1::PushResponse {
            accepted: 1,
            duplicates: 1,
            rejected: vec![
                v1::Rejection {
                    index: 1,
                    execution_id: "id1".into(),
                    reason: "malformed".into(),
                    retriable: false,
                },
                v1::Rejection {
                    index: 3,
                    execution_id: "id3".into(),
                    reason: String::new(),
                    retriable: true,
                },
                v1::Rejection {
                    index: 99,
                    execution_id: "nope".into(),
                    reason: "out of range index is ignored".into(),
                    retriable: false,
                },
            ],
        };
        let answer = interpret(&ids, &response);
        assert_eq!(answer.acknowledged, ["id0", "id2"]);
        assert_eq!(
            answer.rejected,
            [("id1".to_string(), "malformed".to_string())]
        );
        assert_eq!(answer.retry[0].0, "id3");
        assert!(answer.retry[0].1.contains("no reason"));
        assert_eq!((answer.accepted, answer.duplicates), (1, 1));
    }

    #[test]
    fn a_record_is_sent_at_the_lower_of_its_level_and_the_configured_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::defaults(dir.path());
        let mut run = crate::record::tests_support::sample_run(1);
        run.execution.command = "cargo test --workspace".into();
        config.telemetry = TelemetryLevel::Local;
        assert!(Shapers::new(&config).unwrap().is_none());
        config.telemetry = TelemetryLevel::Anonymous;
        let shapers = Shapers::new(&config).unwrap().unwrap();
        let sent = shapers.as_sent(TelemetryLevel::Full, &run).unwrap();
        assert_eq!(sent.execution.telemetry_level, "anonymous");
        assert!(sent.samples.is_empty());
        config.telemetry = TelemetryLevel::Full;
        let shapers = Shapers::new(&config).unwrap().unwrap();
        let sent = shapers.as_sent(TelemetryLevel::Full, &run).unwrap();
        assert_eq!(sent.execution.telemetry_level, "full");
        assert_eq!(sent.execution.command, "cargo test --workspace");
        let sent = shapers.as_sent(TelemetryLevel::Anonymous, &run).unwrap();
        assert_eq!(sent.execution.telemetry_level, "anonymous");
    }

    #[tokio::test]
    async fn a_stop_interrupts_waits_and_never_fires_for_never() {
        tokio::time::pause();
        let (tx, rx) = tokio::sync::watch::channel(false);
        let mut stop = Stop::new(rx, Duration::from_secs(2));
        assert!(!stop.is_stopped());
        let started = tokio::time::Instant::now();
        let waiter = tokio::spawn(async move {
            stop.stopped_then_grace().await;
            stop.is_stopped()
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        tx.send(true).unwrap();
        assert!(waiter.await.unwrap());
        assert_eq!(started.elapsed().as_secs(), 3, "1 s until stop + 2 s grace");
        let mut never = Stop::never();
        let timed_out = tokio::time::timeout(Duration::from_secs(60), never.stopped()).await;
        assert!(timed_out.is_err());
    }
}
