//! Per-org ingest quotas: token buckets (records per second, and bytes per
//! second) for each org, kept by each replica for the calls it serves. Over
//! a quota, Push is refused with RESOURCE_EXHAUSTED and a message naming the
//! org, its rate and when to retry; nothing of the batch is stored.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One rate limit (in some unit: records, bytes) for every org.
#[derive(Debug)]
pub struct Quotas {
    rate: Option<f64>,
    burst: f64,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A refused batch: when the org may send it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OverQuota {
    /// The configured rate, units per second.
    pub rate: u32,
    /// How long until the batch would fit.
    pub retry_after: Duration,
}

impl Quotas {
    /// `rate` units per second per org (`None`: unlimited), with a burst
    /// of `burst` units (default: the larger of one second's worth and
    /// `min_burst`, so one full batch always fits).
    pub fn new(rate: Option<u32>, burst: Option<u32>, min_burst: usize) -> Self {
        let r = rate.map(f64::from);
        let burst = burst
            .map(f64::from)
            .unwrap_or_else(|| r.unwrap_or(0.0).max(min_burst as f64));
        Quotas {
            rate: r,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `amount` from the org's bucket, or says when it would fit.
    pub fn take(&self, org_id: i64, amount: usize, now: Instant) -> Result<(), OverQuota> {
        let Some(rate) = self.rate else {
            return Ok(());
        };
        let want = amount as f64;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let b = buckets.entry(org_id).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(self.burst);
        b.at = now;
        // A request larger than the whole burst passes when the bucket is
        // full and leaves it in debt, so it is slowed, never refused forever.
        if b.tokens >= want.min(self.burst) {
            b.tokens -= want;
            Ok(())
        } else {
            let missing = want.min(self.burst) - b.tokens;
            Err(OverQuota {
                rate: rate as u32,
                retry_after: Duration::from_secs_f64((missing / rate).max(0.001)),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_bigger_than_the_burst_passes_once_and_leaves_a_debt() {
        let q = Quotas::new(Some(100), Some(100), 0);
        let t0 = Instant::now();
        assert!(q.take(1, 250, t0).is_ok());
        let over = q.take(1, 10, t0 + Duration::from_secs(1)).unwrap_err();
        assert!(
            (over.retry_after.as_secs_f64() - 0.6).abs() < 0.01,
            "{over:?}"
        );
    }

    #[test]
    fn unlimited_by_default() {
        let q = Quotas::new(None, None, 500);
        assert!(q.take(1, 1_000_000, Instant::now()).is_ok());
    }

    #[test]
    fn a_bucket_refills_at_the_rate_and_orgs_are_separate() {
        let q = Quotas::new(Some(100), None, 500);
        let t0 = Instant::now();
        assert!(q.take(1, 500, t0).is_ok(), "burst covers one batch");
        let over = q.take(1, 100, t0).unwrap_err();
        assert_eq!(over.rate, 100);
        assert!(
            (over.retry_after.as_secs_f64() - 1.0).abs() < 0.01,
            "{over:?}"
        );
        assert!(q.take(2, 500, t0).is_ok(), "another org has its own bucket");
        assert!(q.take(1, 100, t0 + Duration::from_millis(1010)).is_ok());
    }
}
