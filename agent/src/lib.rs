//! `earlyexit`: run a command, watch its output as it is written, and stop
//! the whole process group the moment an error pattern, a hang or a timeout
//! shows. Every run is recorded in a local SQLite database.
//!
//! The binaries (`earlyexit` and its short name `ee`) are thin: they call
//! [`main_entry`]. Each capability lives in its own module:
//!
//! | module | owns |
//! |---|---|
//! | [`cli`] | the command line: flags, subcommands, help text |
//! | [`config`] | `config.yaml` / `.earlyexit.yaml`: the schema and defaults, the documented keys, finding, parsing and layering the files |
//! | [`duration`] | `1.5s`, `2m`, `1h` parsing |
//! | [`privacy`] | what leaves the machine at each telemetry level; the scrubber a config describes, and its key |
//! | [`private_file`] | files and directories only the user can read; files made once by racing processes |
//! | [`matcher`] | patterns: compile, match a line, find candidates in a buffer |
//! | [`supervise`] | the child process group: spawn, signal, reap |
//! | [`watch`] | one stream: read, pass through, count, match |
//! | [`run`] | one run: the event loop of matches, timeouts and signals |
//! | [`lifecycle`] | a plan from start to exit code: when to record, spool, summarise and sync |
//! | [`record`] | the telemetry record of a run (plain data) |
//! | [`report`] | exit code, record, summaries after a run |
//! | [`learn`] | learning from the local database: `suggest`, `--auto`, the false-positive filter |
//! | [`context`] | project type, command category, system load, environment at start |
//! | [`learn`] | local learning as pure functions: outcome rules, robust statistics, anomalies |
//! | [`store`] | the local SQLite database (sqlx), the outbox of runs to sync |
//! | [`recorder`] | when a finished run is written: the database writer started once a run lasts, or the spool |
//! | [`spool`] | runs waiting to be written to the database in a batch |
//! | [`sync`] | sending runs to a collector: outbox, wire records, client, `sync` / `agent` |
//! | [`commands`] | subcommands: stats, suggest, export, clear-data, config, scrub, sync, agent |
//! | [`sys`] | the only `unsafe`: process groups, prctl, pipes, ptys |
#![warn(missing_docs)]

pub mod cli;
pub mod commands;
pub mod config;
pub mod context;
pub mod duration;
pub mod learn;
pub mod lifecycle;
pub mod matcher;
pub mod privacy;
pub mod private_file;
pub mod record;
pub mod recorder;
pub mod report;
pub mod run;
pub mod spool;
pub mod store;
pub mod supervise;
pub mod sync;
pub mod sys;
pub mod watch;

pub use cli::main_entry;
