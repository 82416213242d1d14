//! Jittered exponential back-off between retries: attempt `n` waits a
//! random time in `[0, min(cap, base × 2ⁿ)]` ("full jitter"), so many agents
//! that lost the collector at the same moment do not come back in step.
//!
//! This module computes waits; it never sleeps, and it never decides what
//! is retried (that is [`crate::sync::error`]).

use std::time::Duration;

/// First wait (before jitter): short, so a blip costs little.
pub const BASE: Duration = Duration::from_millis(200);

/// Longest wait: a collector that comes back is used within this long.
pub const CAP: Duration = Duration::from_secs(30);

/// The back-off state of one sequence of retries.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
    rng: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(BASE, CAP)
    }
}

impl Backoff {
    /// Starts at `base`, doubling up to `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Backoff {
            base,
            cap: cap.max(base),
            attempt: 0,
            rng: seed(),
        }
    }

    /// The same with a fixed seed (tests).
    pub fn with_seed(base: Duration, cap: Duration, seed: u64) -> Self {
        Backoff {
            rng: seed,
            ..Backoff::new(base, cap)
        }
    }

    /// The ceiling of the next wait, before jitter: `min(cap, base × 2ⁿ)`.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The next wait, and counts the attempt.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.next_random() % (nanos + 1))
    }

    /// Waits taken so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Back to the first wait (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// splitmix64: small, fast, and good enough for jitter.
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A seed that differs between processes and agents: the random bits of a
/// new UUIDv7 (the uuid crate draws them from the OS).
fn seed() -> u64 {
    let bytes = uuid::Uuid::now_v7().into_bytes();
    u64::from_le_bytes(bytes[8..16].try_into().unwrap_or([7; 8]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let mut b = Backoff::with_seed(BASE, CAP, 1);
        let mut ceilings = Vec::new();
        for _ in 0..10 {
            ceilings.push(b.ceiling().as_millis());
            b.next_delay();
        }
        assert_eq!(
            ceilings,
            [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]
        );
        for _ in 0..100 {
            b.next_delay();
        }
        assert_eq!(b.ceiling(), CAP, "no overflow after many attempts");
        b.reset();
        assert_eq!(b.ceiling(), BASE);
    }

    #[test]
    fn waits_are_jittered_within_the_ceiling() {
        let mut b = Backoff::with_seed(BASE, CAP, 42);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let ceiling = b.ceiling();
            let wait = b.next_delay();
            assert!(wait <= ceiling, "{wait:?} > {ceiling:?}");
            seen.insert(wait);
        }
        assert!(seen.len() > 150, "waits are spread, not fixed");
        // Two agents started together do not wait in step.
        let mut a = Backoff::new(BASE, CAP);
        let mut c = Backoff::new(BASE, CAP);
        let (xs, ys): (Vec<_>, Vec<_>) = (0..8).map(|_| (a.next_delay(), c.next_delay())).unzip();
        assert_ne!(xs, ys);
    }

    #[tokio::test]
    async fn ten_retries_wait_no_longer_than_the_sum_of_ceilings() {
        tokio::time::pause();
        let mut b = Backoff::with_seed(BASE, CAP, 7);
        let start = tokio::time::Instant::now();
        let mut bound = Duration::ZERO;
        for _ in 0..10 {
            bound += b.ceiling();
            tokio::time::sleep(b.next_delay()).await;
        }
        let waited = start.elapsed();
        assert!(waited <= bound, "{waited:?} > {bound:?}");
        assert!(
            waited > Duration::from_secs(1),
            "{waited:?}: it does back off"
        );
    }
}
