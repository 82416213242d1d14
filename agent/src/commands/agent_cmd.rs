//! `earlyexit agent`: the long-running sync service (for a laptop's
//! background, a systemd unit, a DaemonSet). Parses its flags, turns
//! SIGTERM / SIGINT into the shutdown input, and runs
//! [`crate::sync::daemon::run`]; all behaviour lives there.

use std::process::ExitCode;
use std::time::Duration;

use crate::config::LoadedConfig;
use crate::duration::parse_duration;
use crate::sync::daemon::{self, Options};

const LONG_ABOUT: &str = "\
Keep syncing to the collector until stopped: push pending records at once, \
then every --interval (backing off while the collector is unreachable), and \
hold the collector's update stream, keeping the model and pattern bundles \
it sends in the local database (they are stored, not applied).

Logs one line per event on stderr. SIGTERM or SIGINT stops it cleanly with \
exit code 0: no new batch starts, and a batch in flight gets --shutdown-grace \
to be acknowledged; if it is not, its records stay pending and are sent \
again next time (the collector counts them as duplicates, never twice). \
Exit code 3 when it cannot start (no collector configured, telemetry local \
or off, unreadable token file, unusable database).";

/// `earlyexit agent`.
#[derive(clap::Args, Debug)]
#[command(long_about = LONG_ABOUT)]
pub struct Args {
    /// How often to look for new runs to push while the collector answers
    /// (e.g. 5s, 1m).
    #[arg(long, value_name = "DURATION", value_parser = positive_duration, default_value = "5s")]
    pub interval: Duration,
    /// Push records only; do not hold the update stream for bundles.
    #[arg(long)]
    pub no_updates: bool,
    /// After SIGTERM/SIGINT, how long a batch in flight may take before it
    /// is given up (its records stay pending).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5s")]
    pub shutdown_grace: Duration,
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text).map_err(|e| e.to_string())? {
        d if d.is_zero() => Err("must be more than 0".to_string()),
        d => Ok(d),
    }
}

/// Runs the agent until SIGTERM or SIGINT.
pub fn run(args: &Args, loaded: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let options = Options {
        interval: args.interval,
        subscribe: !args.no_updates,
        grace: args.shutdown_grace,
    };
    crate::sync::runtime()?.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        daemon::run(loaded, &options, shutdown).await?;
        Ok(ExitCode::SUCCESS)
    })
}
