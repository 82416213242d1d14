//! `earlyexit.v1.Ingest`: authenticates a Push, checks the batch and each
//! record, re-scrubs what it keeps, hands the rows to the writer and answers
//! once they are durable.
//!
//! Status codes, and what the agent should do with them:
//! - UNAUTHENTICATED: token missing, unknown or revoked (do not retry).
//! - INVALID_ARGUMENT: the batch itself is unusable (no agent_id, too many
//!   records) — nothing stored; fix the sender.
//! - RESOURCE_EXHAUSTED: queue full or org over quota — nothing stored;
//!   retry with backoff.
//! - OUT_OF_RANGE: the message is over the size limit (tonic refuses it
//!   before decoding) — nothing stored; send smaller batches.
//! - UNAVAILABLE: the store failed (always the message
//!   [`crate::health::STORE_UNAVAILABLE`], never the store's error, which
//!   goes to the log) or the collector is stopping — nothing stored; retry.
//! - OK with `rejected`: the named records were refused (retriable or not);
//!   all others are stored or were already.
//!
//! An OK answer carries a `server-timing` header (the W3C Server-Timing
//! syntax) saying where the Push's time went in the collector: `prepare`
//! (authentication, checks, re-scrubbing), `queue` (waiting for a writer,
//! `checkpoint` of it while the writer checkpointed the SQLite WAL),
//! `statements` and `commit` (the group transaction; `group` is its rows),
//! and `total` from the handler's start to its answer. The bench reads it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use earlyexit_proto::v1::ingest_server::Ingest;
use earlyexit_proto::v1::{PushRequest, PushResponse, Rejection, RunRecord};
use prost::Message;
use tonic::{Request, Response, Status};

use crate::auth::authenticate_call;
use crate::config::Limits;
use crate::health::StoreHealth;
use crate::metrics::{Metrics, PushRefusal, RecordReject};
use crate::quota::Quotas;
use crate::rescrub::Rescrubber;
use crate::store::{QueryColumns, RecordRow, Store, now_ms};
use crate::writer::{SubmitError, WriteTiming, Writer};

/// Longest agent_id and execution_id accepted.
const MAX_ID_LEN: usize = 128;

/// Counters since start, for logs and tests.
#[derive(Debug, Default)]
pub struct IngestStats {
    /// Records newly stored.
    pub accepted: AtomicU64,
    /// Records already stored (re-sent).
    pub duplicates: AtomicU64,
    /// Records refused by name.
    pub rejected: AtomicU64,
    /// Fields the collector's scrubber changed.
    pub scrub_hits: AtomicU64,
    /// Push calls refused because the queue was full or an org over quota.
    pub busy: AtomicU64,
}

/// The Ingest service.
#[derive(Debug, Clone)]
pub struct IngestService {
    store: Store,
    writer: Writer,
    limits: Limits,
    quotas: Arc<Quotas>,
    byte_quotas: Arc<Quotas>,
    rescrubber: Arc<Rescrubber>,
    stats: Arc<IngestStats>,
    metrics: Arc<Metrics>,
    health: Arc<StoreHealth>,
}

impl IngestService {
    /// A service writing through `writer`, checking tokens in `store`,
    /// telling `health` of store failures, counting into `stats` and
    /// `metrics`.
    pub fn new(
        store: Store,
        writer: Writer,
        limits: Limits,
        stats: Arc<IngestStats>,
        metrics: Arc<Metrics>,
        health: Arc<StoreHealth>,
    ) -> Self {
        let quotas = Quotas::new(
            limits.org_records_per_second,
            limits.org_burst_records,
            limits.max_batch_records,
        );
        let byte_quotas = Quotas::new(limits.org_bytes_per_second, None, 0);
        IngestService {
            store,
            writer,
            limits,
            quotas: Arc::new(quotas),
            byte_quotas: Arc::new(byte_quotas),
            rescrubber: Arc::new(Rescrubber::default()),
            stats,
            metrics,
            health,
        }
    }

    /// Checks and re-scrubs one record: the row to store, or why not.
    fn prepare(
        &self,
        org_id: i64,
        agent_id: &Arc<str>,
        mut record: RunRecord,
        received_at_ms: i64,
    ) -> Result<RecordRow, (String, RecordReject, String)> {
        let size = record.encoded_len();
        let id = record
            .execution
            .as_ref()
            .map(|e| e.execution_id.clone())
            .unwrap_or_default();
        if size > self.limits.max_record_bytes {
            return Err((
                id,
                RecordReject::TooLarge,
                format!(
                    "record is {size} bytes, over the collector's limit of {} bytes per record",
                    self.limits.max_record_bytes
                ),
            ));
        }
        let Some(exec) = record.execution.as_ref() else {
            return Err((
                id,
                RecordReject::NoExecution,
                "record has no execution".into(),
            ));
        };
        if let Err(why) = check_id(&exec.execution_id) {
            return Err((
                id,
                RecordReject::BadExecutionId,
                format!("execution_id {why}"),
            ));
        }
        if exec.started_at_ms <= 0 {
            return Err((
                id,
                RecordReject::BadStartTime,
                "started_at_ms must be a positive time in milliseconds".into(),
            ));
        }
        let hits = self.rescrubber.apply(&mut record);
        self.stats
            .scrub_hits
            .fetch_add(u64::from(hits), Ordering::Relaxed);
        let exec = record.execution.as_ref().expect("checked above");
        Ok(RecordRow {
            org_id,
            agent_id: Arc::clone(agent_id),
            execution_id: exec.execution_id.as_str().into(),
            started_at_ms: exec.started_at_ms,
            received_at_ms,
            exit_reason: exec.exit_reason.clone(),
            command_category: exec.command_category.clone(),
            telemetry_level: exec.telemetry_level.clone(),
            scrub_hits: i32::try_from(hits).unwrap_or(i32::MAX),
            query: QueryColumns::of(exec),
            body: record.encode_to_vec(),
        })
    }
}

/// An id is 1–128 printable ASCII characters without spaces.
fn check_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        Err("is empty")
    } else if id.len() > MAX_ID_LEN {
        Err("is longer than 128 characters")
    } else if !id.bytes().all(|b| b.is_ascii_graphic()) {
        Err("must be printable ASCII without spaces")
    } else {
        Ok(())
    }
}

#[tonic::async_trait]
impl Ingest for IngestService {
    async fn push(&self, request: Request<PushRequest>) -> Result<Response<PushResponse>, Status> {
        let started = Instant::now();
        // A store known to be down is not asked: the agent hears at once.
        if !self.health.is_serving() {
            self.health.call_refused();
            self.metrics.push_refused(PushRefusal::StoreUnavailable);
            return Err(crate::health::unavailable());
        }
        let caller =
            match authenticate_call(&self.store, &self.health, &request, "Ingest.Push").await {
                Ok(caller) => caller,
                Err(status) => {
                    self.metrics.push_refused(match status.code() {
                        tonic::Code::Unavailable => PushRefusal::StoreUnavailable,
                        _ => PushRefusal::Unauthenticated,
                    });
                    return Err(status);
                }
            };
        let req = request.into_inner();
        if let Err(why) = check_id(&req.agent_id) {
            self.metrics.push_refused(PushRefusal::InvalidBatch);
            return Err(Status::invalid_argument(format!("agent_id {why}")));
        }
        let n = req.records.len();
        if n > self.limits.max_batch_records {
            self.metrics.push_refused(PushRefusal::InvalidBatch);
            return Err(Status::invalid_argument(format!(
                "batch of {n} records is over the collector's limit of {}; send smaller batches",
                self.limits.max_batch_records
            )));
        }
        let size = req.encoded_len();
        if let Err(over) = self.byte_quotas.take(caller.org.id, size, Instant::now()) {
            self.stats.busy.fetch_add(1, Ordering::Relaxed);
            self.metrics.push_refused(PushRefusal::Quota);
            return Err(Status::resource_exhausted(format!(
                "org '{}' is over its ingest quota of {} bytes/s; retry in {} ms",
                caller.org.name,
                over.rate,
                over.retry_after.as_millis()
            )));
        }
        if let Err(over) = self.quotas.take(caller.org.id, n, Instant::now()) {
            self.stats.busy.fetch_add(1, Ordering::Relaxed);
            self.metrics.push_refused(PushRefusal::Quota);
            return Err(Status::resource_exhausted(format!(
                "org '{}' is over its ingest quota of {} records/s; retry in {} ms",
                caller.org.name,
                over.rate,
                over.retry_after.as_millis()
            )));
        }

        let received = now_ms();
        let agent_id: Arc<str> = req.agent_id.into();
        let mut rows = Vec::with_capacity(n);
        let mut row_index = Vec::with_capacity(n);
        let mut rejected = Vec::new();
        let mut bytes = 0;
        for (i, record) in req.records.into_iter().enumerate() {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            match self.prepare(caller.org.id, &agent_id, record, received) {
                Ok(row) => {
                    bytes += row.body.len() + row.agent_id.len() + row.execution_id.len() + 64;
                    rows.push(row);
                    row_index.push(index);
                }
                Err((execution_id, why, reason)) => {
                    self.metrics.record_rejected(why);
                    rejected.push(Rejection {
                        index,
                        execution_id,
                        reason,
                        retriable: false,
                    });
                }
            }
        }

        let prepare = started.elapsed();
        let (flags, timing) = match self.writer.submit(rows, bytes).await {
            Ok(stored) => (stored.new, stored.timing),
            Err(SubmitError::Busy(cap)) => {
                self.stats.busy.fetch_add(1, Ordering::Relaxed);
                self.metrics.push_refused(PushRefusal::QueueFull);
                return Err(Status::resource_exhausted(format!(
                    "the collector is busy ({cap} bytes of batches already waiting); nothing was stored, retry with backoff"
                )));
            }
            Err(SubmitError::Closed) => {
                self.metrics.push_refused(PushRefusal::ShuttingDown);
                return Err(Status::unavailable(
                    "the collector is shutting down; nothing was stored, retry",
                ));
            }
            Err(SubmitError::Store(failure)) => {
                self.metrics.store_errors.fetch_add(1, Ordering::Relaxed);
                self.metrics.push_refused(PushRefusal::StoreUnavailable);
                self.health.call_failed(&failure).await;
                return Err(crate::health::unavailable());
            }
        };
        debug_assert_eq!(flags.len(), row_index.len());
        let accepted = flags.iter().filter(|&&new| new).count();
        let duplicates = flags.len() - accepted;
        self.stats
            .accepted
            .fetch_add(accepted as u64, Ordering::Relaxed);
        self.stats
            .duplicates
            .fetch_add(duplicates as u64, Ordering::Relaxed);
        self.stats
            .rejected
            .fetch_add(rejected.len() as u64, Ordering::Relaxed);
        let org = self.metrics.org(&caller.org.name);
        org.accepted.fetch_add(accepted as u64, Ordering::Relaxed);
        org.duplicates
            .fetch_add(duplicates as u64, Ordering::Relaxed);
        org.rejected
            .fetch_add(rejected.len() as u64, Ordering::Relaxed);
        let mut response = Response::new(PushResponse {
            accepted: u32::try_from(accepted).unwrap_or(u32::MAX),
            duplicates: u32::try_from(duplicates).unwrap_or(u32::MAX),
            rejected,
        });
        let header = server_timing(prepare, &timing, started.elapsed());
        if let Ok(value) = header.parse() {
            response.metadata_mut().insert(SERVER_TIMING, value);
        }
        self.metrics.ack_latency.observe(started.elapsed());
        Ok(response)
    }
}

/// The response header that says where a Push's time went.
pub const SERVER_TIMING: &str = "server-timing";

/// The `server-timing` value: durations in milliseconds, as the W3C
/// Server-Timing syntax has them.
fn server_timing(prepare: Duration, write: &WriteTiming, total: Duration) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "prepare;dur={:.3}, queue;dur={:.3}, checkpoint;dur={:.3}, statements;dur={:.3}, commit;dur={:.3}, group;desc={}, total;dur={:.3}",
        ms(prepare),
        ms(write.queued),
        ms(write.checkpoint),
        ms(write.statements),
        ms(write.commit),
        write.group_rows,
        ms(total)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(check_id("0193a1fd-04fd-74fa-a99b-2a9bfe84e072").is_ok());
        assert_eq!(check_id(""), Err("is empty"));
        assert!(check_id("a b").is_err());
        assert!(check_id("é").is_err());
        assert!(check_id(&"x".repeat(129)).is_err());
    }
}
