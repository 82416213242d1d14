//! The earlyexit learning engine, as a library.
//!
//! One module per capability; the agent uses this crate for local learning
//! and the `earlyexit-aggregator` binary for fleet learning, so both train
//! and infer with the same code. This crate depends on nothing of the
//! agent's or the collector's (the arrows run `proto` ← `aggregator` ←
//! `agent`).
//!
//! - [`patterns`]: the built-in pattern library (named regexes for the
//!   tools people wrap and the CI runners' markers) and its matcher.
//! - [`features`]: the one place a line (with its neighbours, stream,
//!   position, template and pattern hits) becomes model features, for
//!   training and inference alike.
//! - [`classify`]: the error-vs-noise line classifier (training, calibrated
//!   probabilities, warm start, the model file and its schema check).
//! - [`eval`]: the evaluation commands on external, labelled data
//!   (`earlyexit-aggregator eval … --data DIR`).
//! - [`template`]: the streaming template miner (lines → templates with
//!   `<*>`, anchored regexes, counts).
//! - [`triage`]: which lines of a finished log explain its failure.
//! - [`cli`]: the binary's argument parsing; it only calls into the modules
//!   above.
#![forbid(unsafe_code)]

pub mod classify;
pub mod cli;
pub mod eval;
pub mod features;
pub mod patterns;
pub mod template;
pub mod triage;
