//! Counters for `/metrics` beyond [`crate::ingest::IngestStats`]: why
//! records and calls were refused, store errors, the acknowledgement
//! latency histogram, subscribed agents and per-org counts.
//!
//! Owns the counters, never their rendering (`http/metrics.rs` writes the
//! Prometheus text). Every update is a relaxed atomic add, at most a few
//! per Push call (never per record); the per-org map takes a read lock
//! once per call, and its write lock only the first time an org is seen.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Why one record of a Push was refused by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordReject {
    /// Over the per-record size limit.
    TooLarge,
    /// No `execution` message.
    NoExecution,
    /// Empty, too long or non-printable execution_id.
    BadExecutionId,
    /// `started_at_ms` not a positive time.
    BadStartTime,
}

impl RecordReject {
    /// Every reason, in label order.
    pub const ALL: [RecordReject; 4] = [
        RecordReject::TooLarge,
        RecordReject::NoExecution,
        RecordReject::BadExecutionId,
        RecordReject::BadStartTime,
    ];

    /// The `reason` label.
    pub fn label(self) -> &'static str {
        match self {
            RecordReject::TooLarge => "too_large",
            RecordReject::NoExecution => "no_execution",
            RecordReject::BadExecutionId => "bad_execution_id",
            RecordReject::BadStartTime => "bad_started_at",
        }
    }
}

/// Why a whole Push call was refused (nothing of it stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushRefusal {
    /// Missing, unknown, revoked or read-only token.
    Unauthenticated,
    /// No usable agent_id, or too many records.
    InvalidBatch,
    /// The org is over its records or bytes quota.
    Quota,
    /// The ingest queue is full.
    QueueFull,
    /// The store cannot take writes.
    StoreUnavailable,
    /// The collector is stopping.
    ShuttingDown,
}

impl PushRefusal {
    /// Every reason, in label order.
    pub const ALL: [PushRefusal; 6] = [
        PushRefusal::Unauthenticated,
        PushRefusal::InvalidBatch,
        PushRefusal::Quota,
        PushRefusal::QueueFull,
        PushRefusal::StoreUnavailable,
        PushRefusal::ShuttingDown,
    ];

    /// The `reason` label.
    pub fn label(self) -> &'static str {
        match self {
            PushRefusal::Unauthenticated => "unauthenticated",
            PushRefusal::InvalidBatch => "invalid_batch",
            PushRefusal::Quota => "quota",
            PushRefusal::QueueFull => "queue_full",
            PushRefusal::StoreUnavailable => "store_unavailable",
            PushRefusal::ShuttingDown => "shutting_down",
        }
    }
}

/// Upper bounds of the acknowledgement latency buckets, seconds (the
/// Prometheus `le` labels); a last `+Inf` bucket is implied.
pub const ACK_BUCKETS_S: [f64; 12] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
];

/// A fixed-bucket histogram of durations, lock-free.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last is `+Inf`.
    buckets: [AtomicU64; ACK_BUCKETS_S.len() + 1],
    /// Sum of observations, microseconds.
    sum_us: AtomicU64,
}

impl Histogram {
    /// Counts one observation.
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        let i = ACK_BUCKETS_S
            .iter()
            .position(|&le| s <= le)
            .unwrap_or(ACK_BUCKETS_S.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Cumulative counts per bucket (the last is the total), and the sum
    /// in seconds.
    pub fn snapshot(&self) -> (Vec<u64>, f64) {
        let mut total = 0;
        let cumulative = self
            .buckets
            .iter()
            .map(|b| {
                total += b.load(Ordering::Relaxed);
                total
            })
            .collect();
        #[allow(clippy::cast_precision_loss)] // a sum of microseconds, shown as seconds
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        (cumulative, sum)
    }
}

/// Counts of one org.
#[derive(Debug, Default)]
pub struct OrgCounters {
    /// Records newly stored.
    pub accepted: AtomicU64,
    /// Records already stored.
    pub duplicates: AtomicU64,
    /// Records refused by name.
    pub rejected: AtomicU64,
}

/// The collector's counters for `/metrics` (see the module documentation).
#[derive(Debug, Default)]
pub struct Metrics {
    records_rejected: [AtomicU64; RecordReject::ALL.len()],
    pushes_refused: [AtomicU64; PushRefusal::ALL.len()],
    /// Group transactions that failed in the store.
    pub store_errors: AtomicU64,
    /// Time from a Push's arrival in the handler to its answer, for
    /// answered (OK) Pushes.
    pub ack_latency: Histogram,
    /// Open `Updates.Subscribe` streams.
    pub subscribed: AtomicI64,
    orgs: RwLock<HashMap<String, Arc<OrgCounters>>>,
}

impl Metrics {
    /// Counts a refused record.
    pub fn record_rejected(&self, why: RecordReject) {
        let i = RecordReject::ALL
            .iter()
            .position(|&r| r == why)
            .unwrap_or(0);
        self.records_rejected[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a refused Push call.
    pub fn push_refused(&self, why: PushRefusal) {
        let i = PushRefusal::ALL.iter().position(|&r| r == why).unwrap_or(0);
        self.pushes_refused[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Refused records per reason, in [`RecordReject::ALL`] order.
    pub fn records_rejected(&self) -> Vec<(RecordReject, u64)> {
        RecordReject::ALL
            .iter()
            .zip(&self.records_rejected)
            .map(|(&r, n)| (r, n.load(Ordering::Relaxed)))
            .collect()
    }

    /// Refused Push calls per reason, in [`PushRefusal::ALL`] order.
    pub fn pushes_refused(&self) -> Vec<(PushRefusal, u64)> {
        PushRefusal::ALL
            .iter()
            .zip(&self.pushes_refused)
            .map(|(&r, n)| (r, n.load(Ordering::Relaxed)))
            .collect()
    }

    /// The counters of the org named `org`, made on first use.
    pub fn org(&self, org: &str) -> Arc<OrgCounters> {
        if let Some(c) = self.orgs.read().unwrap_or_else(|p| p.into_inner()).get(org) {
            return Arc::clone(c);
        }
        let mut orgs = self.orgs.write().unwrap_or_else(|p| p.into_inner());
        Arc::clone(orgs.entry(org.to_owned()).or_default())
    }

    /// Every org's counters, by name.
    pub fn orgs(&self) -> Vec<(String, Arc<OrgCounters>)> {
        let orgs = self.orgs.read().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<_> = orgs
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// A guard that counts one open subscription until it is dropped.
    pub fn subscription(self: &Arc<Self>) -> SubscriptionGuard {
        self.subscribed.fetch_add(1, Ordering::Relaxed);
        SubscriptionGuard(Arc::clone(self))
    }
}

/// Counts an open update stream (see [`Metrics::subscription`]).
#[derive(Debug)]
pub struct SubscriptionGuard(Arc<Metrics>);

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        self.0.subscribed.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_cumulative_and_sums_seconds() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(15));
        h.observe(Duration::from_secs(9));
        let (buckets, sum) = h.snapshot();
        assert_eq!(buckets.len(), ACK_BUCKETS_S.len() + 1);
        assert_eq!(buckets[0], 1, "0.5 ms is in le=0.001");
        assert_eq!(buckets[3], 1, "15 ms is not in le=0.01");
        assert_eq!(buckets[4], 2, "15 ms is in le=0.02");
        assert_eq!(buckets[ACK_BUCKETS_S.len() - 1], 2, "9 s is over le=5");
        assert_eq!(*buckets.last().unwrap(), 3);
        assert!((sum - 9.0155).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn orgs_and_subscriptions_are_counted() {
        let m = Arc::new(Metrics::default());
        m.org("acme").accepted.fetch_add(3, Ordering::Relaxed);
        m.org("acme").accepted.fetch_add(2, Ordering::Relaxed);
        m.org("beta").rejected.fetch_add(1, Ordering::Relaxed);
        let orgs = m.orgs();
        assert_eq!(orgs.len(), 2);
        assert_eq!(orgs[0].1.accepted.load(Ordering::Relaxed), 5);
        let g = m.subscription();
        assert_eq!(m.subscribed.load(Ordering::Relaxed), 1);
        drop(g);
        assert_eq!(m.subscribed.load(Ordering::Relaxed), 0);
        m.record_rejected(RecordReject::BadStartTime);
        assert_eq!(m.records_rejected()[3].1, 1);
        m.push_refused(PushRefusal::Quota);
        assert_eq!(m.pushes_refused()[2].1, 1);
    }
}
