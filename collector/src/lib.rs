//! The earlyexit collector: a gRPC service that earlyexit agents sync their
//! scrubbed run records to, and that pushes pattern and model bundles back.
//!
//! - [`store`]: SQLite (default) or PostgreSQL through sqlx; orgs, hashed
//!   tokens, records keyed by (org, agent, execution), bundles.
//! - [`ingest`]: `Ingest.Push` — auth, checks, re-scrubbing, idempotent
//!   durable writes through the bounded [`writer`] queue, per-org [`quota`].
//! - [`updates`]: `Updates.Subscribe`/`Fetch` — bundles in chunks.
//! - [`health`]: `grpc.health.v1` follows whether the store takes writes.
//! - [`server`]: TLS, health, reflection, graceful shutdown.
//! - [`http`]: the HTTP listener beside gRPC: dashboard, JSON API,
//!   `/metrics` ([`metrics`] holds the counters), `/healthz`, `/readyz`.
//! - [`logging`]: `tracing` events on stderr, filtered by `RUST_LOG`.
//! - [`cli`]: `earlyexit-collector serve | org | token | bundle | runs | bench`
//!   ([`runs_output`] prints `runs`).
//! - [`bench`]: the load generator behind `earlyexit-collector bench`.

#![forbid(unsafe_code)]

pub mod auth;
pub mod bench;
pub mod cli;
pub mod config;
pub mod connections;
pub mod health;
pub mod http;
pub mod ingest;
pub mod limit;
pub mod logging;
pub mod metrics;
pub mod private_file;
pub mod quota;
pub mod rescrub;
pub mod runs_output;
pub mod server;
pub mod store;
pub mod testing;
pub mod updates;
pub mod writer;
