//! Sync to a collector: recorded runs leave the machine from here, and only
//! from here.
//!
//! | file | owns |
//! |---|---|
//! | [`convert`] | a recorded run → the wire record, always through [`crate::privacy::Outbound::as_sent`] |
//! | [`fit`] | cutting a record to the record budget: counts kept, first and last match events kept, what was cut said in the record |
//! | [`batch`] | splitting what is sent into batches of bounded count and size |
//! | [`backoff`] | jittered exponential back-off with a cap |
//! | [`error`] | [`SyncError`]: which gRPC codes are retried, and what each failure tells the user to do |
//! | [`client`] | the gRPC channel: URL, TLS / mTLS, the bearer token on every call |
//! | [`identity`] | the agent's stable id (`$EARLYEXIT_HOME/agent_id`) |
//! | [`push`] | one pass over the pending records: shape, batch, push, record the answers |
//! | [`bundles`] | bundles streamed by the collector: reassemble, check, store |
//! | [`daemon`] | `earlyexit agent`: continuous sync and the update stream, until a shutdown signal |
//! | [`on_exit`] | `sync_on_exit`: a bounded push at the end of a run |
//!
//! The outbox itself (`outbox`, `sync_state`, the counters) is a part of the
//! database and lives in [`crate::store::outbox`]; this module decides what
//! to send and records the collector's answers there.
//!
//! Rules every file here keeps:
//! - Nothing is sent that did not come out of `Outbound::as_sent` at the
//!   lower of the run's recorded level and the level configured now.
//! - An outbox row changes state only after the collector answered, so a
//!   lost reply or a crash re-sends (the collector counts a duplicate) and
//!   never loses a record.
//! - Every wait is bounded: connect and call timeouts, a back-off cap, a
//!   shutdown grace.
//!
//! Nothing in this module runs on the run path unless `sync_on_exit` is set
//! and a collector is configured.

pub mod backoff;
pub mod batch;
pub mod bundles;
pub mod client;
pub mod convert;
pub mod daemon;
pub mod error;
pub mod fit;
pub mod identity;
pub mod on_exit;
pub mod push;

pub use error::SyncError;

/// A current-thread runtime with I/O and timers, for the sync entry points
/// (the store's [`crate::store::block_on`] has no I/O driver, which gRPC
/// needs).
pub fn runtime() -> Result<tokio::runtime::Runtime, SyncError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SyncError::Store(crate::store::StoreError::Runtime(e)))
}
