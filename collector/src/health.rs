//! Whether the collector's store takes writes, and what `grpc.health.v1`
//! says about it: SERVING while it does, NOT_SERVING while it does not
//! (the database dropped or unreachable, the server stopped, the disk full
//! or read-only, the SQLite write lock held elsewhere for too long).
//!
//! Two things decide it:
//! - a probe ([`Store::probe`]: one small upsert, committed) every
//!   [`PROBE_INTERVAL`] while the store works, every [`RETRY_INTERVAL`]
//!   while it does not, and at once (at most every
//!   [`MIN_PROBE_SPACING`]) after any store error a call met;
//! - every store error a call meets ([`StoreHealth::call_failed`]), which
//!   turns health NOT_SERVING at once, for at least a hold time.
//!
//! Health turns SERVING again on a probe that succeeds once the hold is
//! over, with no call failing on the store meanwhile. The hold is
//! [`RETRY_INTERVAL`], doubled (up to [`MAX_HOLD`]) each time calls fail
//! again within [`RELAPSE_WINDOW`] of a recovery: a store the probe can
//! write but the calls cannot (a table lost) is out of service most of the
//! time and logs two lines per hold, not two per call.
//!
//! While the store is down, pushes are answered at once with
//! [`unavailable`] instead of waiting on the store. Clients always get that
//! one status (UNAVAILABLE, [`STORE_UNAVAILABLE`]), never the store's
//! error: that may hold SQL, table names or paths, and goes to the log.
//! The log gets one line when the store fails (with the error) and one when
//! it works again (with how long it was down and how many calls failed in
//! between), never a line per call.
//!
//! Owns the health status of the collector's services. Must never retry a
//! write itself: the agents re-send (their records are idempotent).

use std::fmt::Display;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use earlyexit_proto::STORE_UNAVAILABLE;
use tokio::sync::{Notify, watch};
use tonic::Status;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::store::Store;

/// How often the store is probed while it works: health is at most this
/// stale for a store that fails with no call to notice it.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(2);

/// How often the store is probed while it fails: it is back in service
/// within this of being writable again.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// A probe that takes longer than this is a failure: a write a client would
/// wait on that long (a SQLite lock held elsewhere, a PostgreSQL server not
/// answering) is a store that cannot be used.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The least time between two probes, however many calls fail.
pub const MIN_PROBE_SPACING: Duration = Duration::from_millis(200);

/// Calls failing again this soon after a recovery double the hold.
pub const RELAPSE_WINDOW: Duration = Duration::from_secs(10);

/// The longest hold after failed calls.
pub const MAX_HOLD: Duration = Duration::from_secs(30);

/// The status a call gets when the store cannot do its part.
pub fn unavailable() -> Status {
    Status::unavailable(STORE_UNAVAILABLE)
}

#[derive(Debug, Default)]
struct State {
    /// Since when the store fails; `None` while it works.
    failing_since: Option<Instant>,
    /// Calls that met a store error or were refused for it since
    /// `failing_since`.
    failed_calls: u64,
    /// A call met a store error since the last probe began.
    failed_since_probe: bool,
    /// No recovery before this (set by failed calls).
    hold_until: Option<Instant>,
    /// The hold last used.
    hold: Duration,
    /// When health last turned SERVING again.
    recovered_at: Option<Instant>,
}

/// The store's health, shared by the services and the probe task.
#[derive(Debug)]
pub struct StoreHealth {
    state: Mutex<State>,
    wake: Notify,
    /// `None` once [`StoreHealth::stop`] ran: shutdown owns the status then.
    reporter: tokio::sync::Mutex<Option<HealthReporter>>,
    services: Vec<&'static str>,
}

impl StoreHealth {
    /// Health for `services` (gRPC service names; `""` is the whole
    /// server), told to `reporter`. Starts as SERVING once
    /// [`StoreHealth::publish`] runs.
    pub fn new(reporter: HealthReporter, services: Vec<&'static str>) -> Self {
        StoreHealth {
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            reporter: tokio::sync::Mutex::new(Some(reporter)),
            services,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True while the store is believed to take writes.
    pub fn is_serving(&self) -> bool {
        self.state().failing_since.is_none()
    }

    /// A call met `error` from the store: health turns NOT_SERVING (logged
    /// when it was SERVING), the call is counted, and a probe runs soon.
    pub async fn call_failed(&self, error: &(dyn Display + Sync)) {
        self.failed(error, true).await;
    }

    /// Work of the collector's own that no call waits for (the writer's
    /// WAL checkpoint) met `error` from the store: as
    /// [`StoreHealth::call_failed`], without counting a call.
    pub async fn background_failed(&self, error: &(dyn Display + Sync)) {
        self.failed(error, false).await;
    }

    async fn failed(&self, error: &(dyn Display + Sync), call: bool) {
        let changed = {
            let mut state = self.state();
            state.failed_calls += u64::from(call);
            state.failed_since_probe = true;
            if state.failing_since.is_none() {
                let now = Instant::now();
                let relapse = state
                    .recovered_at
                    .is_some_and(|at| now.duration_since(at) < RELAPSE_WINDOW);
                state.hold = if relapse {
                    (state.hold * 2).clamp(RETRY_INTERVAL, MAX_HOLD)
                } else {
                    RETRY_INTERVAL
                };
                state.hold_until = Some(now + state.hold);
                state.failing_since = Some(now);
                tracing::error!(
                    error = %error,
                    hold = %humantime::format_duration(state.hold),
                    "the store failed; health is NOT_SERVING and pushes are answered UNAVAILABLE until a probe write succeeds after the hold"
                );
                true
            } else {
                false
            }
        };
        self.wake.notify_one();
        if changed {
            self.publish().await;
        }
    }

    /// A call was refused because the store is down (counted for the log
    /// line at recovery).
    pub fn call_refused(&self) {
        self.state().failed_calls += 1;
    }

    /// What a probe found.
    async fn probed(&self, result: Result<(), String>) {
        let changed = {
            let mut state = self.state();
            match (&result, state.failing_since) {
                (Ok(()), Some(since))
                    if !state.failed_since_probe
                        && state.hold_until.is_none_or(|at| Instant::now() >= at) =>
                {
                    let down = Duration::from_millis(
                        u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX),
                    );
                    tracing::info!(
                        down_for = %humantime::format_duration(down),
                        failed_calls = state.failed_calls,
                        "the store takes writes again; health is SERVING"
                    );
                    state.failing_since = None;
                    state.failed_calls = 0;
                    state.hold_until = None;
                    state.recovered_at = Some(Instant::now());
                    true
                }
                (Err(e), None) => {
                    state.failing_since = Some(Instant::now());
                    tracing::error!(
                        error = %e,
                        "the store cannot be written; health is NOT_SERVING and pushes are answered UNAVAILABLE until a probe write succeeds"
                    );
                    true
                }
                _ => false,
            }
        };
        if changed {
            self.publish().await;
        }
    }

    /// Tells the health service the current state (a no-op after
    /// [`StoreHealth::stop`]). Reads the state under the reporter's lock, so
    /// the last status set is always the latest state.
    pub async fn publish(&self) {
        let reporter = self.reporter.lock().await;
        let Some(reporter) = reporter.as_ref() else {
            return;
        };
        let status = if self.is_serving() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        for service in &self.services {
            reporter.set_service_status(*service, status).await;
        }
    }

    /// Shutdown: NOT_SERVING for good, whatever the store does.
    pub async fn stop(&self) {
        let mut reporter = self.reporter.lock().await;
        if let Some(reporter) = reporter.take() {
            for service in &self.services {
                reporter
                    .set_service_status(*service, ServingStatus::NotServing)
                    .await;
            }
        }
    }

    /// Probes `store` (see the module documentation) until `stopping`
    /// turns true.
    pub async fn watch(&self, store: Store, mut stopping: watch::Receiver<bool>) {
        let mut last: Option<Instant> = None;
        loop {
            let pause = if self.is_serving() {
                PROBE_INTERVAL
            } else {
                RETRY_INTERVAL
            };
            tokio::select! {
                () = async {
                    let _ = stopping.wait_for(|stop| *stop).await;
                } => return,
                () = tokio::time::sleep(pause) => {}
                () = self.wake.notified() => {
                    if let Some(at) = last {
                        tokio::time::sleep(MIN_PROBE_SPACING.saturating_sub(at.elapsed())).await;
                    }
                }
            }
            self.state().failed_since_probe = false;
            let result = match tokio::time::timeout(PROBE_TIMEOUT, store.probe()).await {
                Ok(result) => result.map_err(|e| e.to_string()),
                Err(_) => Err(format!(
                    "a probe write did not finish within {}",
                    humantime::format_duration(PROBE_TIMEOUT)
                )),
            };
            last = Some(Instant::now());
            self.probed(result).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus as Wire;
    use tonic_health::pb::health_server::Health;
    use tonic_health::server::HealthService;

    fn health() -> (StoreHealth, HealthService) {
        let reporter = HealthReporter::new();
        let service = HealthService::from_health_reporter(reporter.clone());
        (StoreHealth::new(reporter, vec!["", "x.Y"]), service)
    }

    async fn said(service: &HealthService, name: &str) -> Wire {
        let request = tonic::Request::new(HealthCheckRequest {
            service: name.into(),
        });
        let answer = service.check(request).await.expect("a known service");
        Wire::try_from(answer.into_inner().status).expect("a known status")
    }

    #[tokio::test]
    async fn a_failed_call_turns_it_down_and_only_a_clean_probe_brings_it_back() {
        let (health, service) = health();
        health.publish().await;
        assert_eq!(said(&service, "x.Y").await, Wire::Serving);
        assert!(health.is_serving());
        health.call_failed(&"boom").await;
        assert!(!health.is_serving());
        assert_eq!(said(&service, "").await, Wire::NotServing);
        assert_eq!(said(&service, "x.Y").await, Wire::NotServing);
        health.call_refused();

        // A probe that began before a call failed does not count.
        health.state().failed_since_probe = false;
        health.call_failed(&"boom again").await;
        health.probed(Ok(())).await;
        assert!(!health.is_serving());

        health.state().failed_since_probe = false;
        health.probed(Err("still down".into())).await;
        assert!(!health.is_serving());
        assert_eq!(health.state().failed_calls, 3);

        // Not before the hold is over.
        health.probed(Ok(())).await;
        assert!(!health.is_serving());
        health.state().hold_until = Some(Instant::now());
        health.probed(Ok(())).await;
        assert!(health.is_serving());
        assert_eq!(said(&service, "x.Y").await, Wire::Serving);
        assert_eq!(health.state().failed_calls, 0);

        // Calls failing again soon after: a longer hold each time.
        health.call_failed(&"relapse").await;
        assert_eq!(health.state().hold, RETRY_INTERVAL * 2);
        health.state().hold_until = Some(Instant::now());
        health.state().failed_since_probe = false;
        health.probed(Ok(())).await;
        health.call_failed(&"relapse").await;
        assert_eq!(health.state().hold, RETRY_INTERVAL * 4);
        health.state().hold_until = Some(Instant::now());
        health.state().failed_since_probe = false;
        health.probed(Ok(())).await;
        assert!(health.is_serving());

        health.probed(Err("gone".into())).await;
        assert!(!health.is_serving());
        assert_eq!(said(&service, "").await, Wire::NotServing);

        // After the stop, a store that works again changes nothing.
        health.stop().await;
        health.probed(Ok(())).await;
        assert!(health.is_serving());
        assert_eq!(said(&service, "").await, Wire::NotServing);
    }

    #[test]
    fn clients_get_one_fixed_status() {
        let status = unavailable();
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert_eq!(status.message(), STORE_UNAVAILABLE);
    }
}
