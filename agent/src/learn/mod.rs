//! Learning on one machine, from the local database alone (offline): outcome
//! labels, robust statistics and anomaly detection; what a command's history
//! says about the pattern, delay and timeouts to run it with; and the line
//! classifier's verdict on a match.
//!
//! | module | owns |
//! |---|---|
//! | [`outcome`] | the outcome rules: likely false positives and misses without feedback |
//! | [`robust`] | quantiles, median and MAD |
//! | [`anomaly`] | runs far outside their command's history; error templates never seen before |
//! | [`suggest`] | a complete, safe command line from one command's recorded runs, each value with its confidence and evidence, and the safety rules no suggestion may break |
//! | [`builtin`] | the built-in pattern library's entries for a command, as one pattern and its excludes |
//! | [`auto`] | `--auto`: what a run without a pattern uses (learned, else built-in, else nothing) and the one line that says so |
//! | [`fp`] | the false-positive filter: scoring a matched line, and when `enforce` ignores it |
//!
//! Pure decisions over data it is given ([`crate::store::HistoryRun`]s,
//! pattern effectiveness rows, a matched line); `auto` alone reads the
//! database, once, before a run starts. Nothing here runs a command or
//! touches the network: `store` reads the inputs and writes the results,
//! `commands` shows them.

pub mod anomaly;
pub mod auto;
pub mod builtin;
pub mod fp;
pub mod outcome;
pub mod robust;
pub mod suggest;
