//! Subcommands: each module defines its clap `Args` and a `run` function.

pub mod agent_cmd;
pub mod analyze;
pub mod bundles_cmd;
pub mod clear;
pub mod config_cmd;
pub mod export;
pub mod feedback;
pub mod scrub;
pub mod stats;
pub mod suggest;
pub mod sync_cmd;
pub mod triage;
