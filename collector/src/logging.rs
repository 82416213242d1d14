//! The collector's log: `tracing` events written one per line on stderr by
//! `tracing-subscriber`, filtered by `RUST_LOG` (EnvFilter syntax, e.g.
//! `RUST_LOG=debug` or `RUST_LOG=info,sqlx=warn`); [`DEFAULT_FILTER`]
//! when it is unset.
//!
//! Owns the subscriber set-up only. Events are emitted where things happen
//! (`tracing::info!` with fields for the values); this module must never
//! log a token, and neither must any event anywhere in the crate (log a
//! token's public id, `tok_…`, instead).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The filter without `RUST_LOG`: the collector's own events at info and
/// above (start, stop, summaries, refusals, store failures and recoveries),
/// and the libraries' warnings and errors (sqlx's slow statements among
/// them).
pub const DEFAULT_FILTER: &str = "warn,earlyexit_collector=info";

/// The variable read for the filter.
pub const FILTER_VAR: &str = "RUST_LOG";

/// Installs the stderr subscriber for this process. A `RUST_LOG` that does
/// not parse is reported and [`DEFAULT_FILTER`] used instead, so a typo
/// never silences the log. Calling it again is harmless (the first
/// subscriber stays).
pub fn init() {
    let (filter, bad) = match std::env::var(FILTER_VAR) {
        Ok(value) if !value.trim().is_empty() => match EnvFilter::try_new(&value) {
            Ok(filter) => (filter, None),
            Err(e) => (EnvFilter::new(DEFAULT_FILTER), Some((value, e))),
        },
        _ => (EnvFilter::new(DEFAULT_FILTER), None),
    };
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init()
        .is_ok();
    if installed && let Some((value, e)) = bad {
        tracing::warn!(
            value = %value,
            error = %e,
            "{FILTER_VAR} does not parse (EnvFilter syntax, e.g. RUST_LOG=debug or RUST_LOG=info,sqlx=warn); logging with the default '{DEFAULT_FILTER}'"
        );
    }
}
