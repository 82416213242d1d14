//! What the earlyexit binaries (`earlyexit`, `earlyexit-collector`,
//! `earlyexit-aggregator`) share at the terminal:
//!
//! - [`docs`]: `completions bash|zsh|fish` and `man`, generated from the
//!   binary's own clap definition, so they can never disagree with `--help`.
//! - [`progress`]: a progress bar for long work, drawn on stderr only when
//!   stderr is a terminal; nothing at all otherwise (logs and pipes stay clean).
//!
//! It owns presentation only: it never parses a binary's arguments or
//! decides what work is long; the callers pass the command and the totals.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod docs;
pub mod progress;
