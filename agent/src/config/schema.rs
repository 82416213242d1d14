//! The effective configuration and every key's default.
//!
//! Owns [`Config`] and the types of its values ([`TelemetryLevel`],
//! [`ColorChoice`], [`CollectorConfig`], [`ScrubRule`]), each default as a
//! named constant with the reason for it, [`Config::defaults`], and how the
//! configuration serializes for `config show --json` (durations as `1.5s`,
//! the collector token never shown).
//!
//! It is plain data: it must never read a file or the environment, and it
//! uses nothing in this crate but [`crate::duration`]. The other files of
//! `config` build on it; it uses none of them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};

use crate::duration::format_duration;

/// Name of the telemetry database inside `$EARLYEXIT_HOME`.
pub const DEFAULT_DB_FILE: &str = "telemetry.db";

/// Default `telemetry`: record locally, send nothing. Nothing should leave
/// the machine until the user configures a collector and says so.
pub const DEFAULT_TELEMETRY: TelemetryLevel = TelemetryLevel::Local;
/// Default `telemetry` once a `collector` is configured: send, but only the
/// anonymous shape (no raw line content) unless the user asks for `full`.
pub const DEFAULT_TELEMETRY_WITH_COLLECTOR: TelemetryLevel = TelemetryLevel::Anonymous;
/// Default `retention_days`: three months holds enough runs per command for
/// the timeout and delay suggestions while keeping the database small.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;
/// Default `max_db_size_mb`: large enough for months of typical use, small
/// enough that nobody is surprised by it on a laptop or a CI cache.
pub const DEFAULT_MAX_DB_SIZE_MB: u64 = 100;
/// Default `unix_exit_codes`: off, so scripts written for the classic
/// earlyexit codes (0 match, 1 no match, 2 timeout) keep working.
pub const DEFAULT_UNIX_EXIT_CODES: bool = false;
/// `delay_exit` in command mode when unset: long enough to capture the
/// stack trace or test summary printed after the first error line.
pub const DEFAULT_DELAY_EXIT_COMMAND: Duration = Duration::from_secs(10);
/// `delay_exit` in pipe mode when unset: exit at once, because the producer
/// is not ours to stop and more input only delays the pipeline.
pub const DEFAULT_DELAY_EXIT_PIPE: Duration = Duration::ZERO;
/// Default `kill_grace` (SIGTERM to SIGKILL): enough for test runners and
/// servers to flush output and remove temp files, short enough not to hang.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(5);
/// Default `color`: colour only when writing to a terminal.
pub const DEFAULT_COLOR: ColorChoice = ColorChoice::Auto;
/// Default `sync_on_exit`: off, so a run never waits for the network unless
/// asked to; `earlyexit agent` or `earlyexit sync` send the records instead.
pub const DEFAULT_SYNC_ON_EXIT: bool = false;
/// Default `sync_on_exit_timeout`: enough for one push to a collector on
/// the same network, short enough that a dead one costs a run little.
pub const DEFAULT_SYNC_ON_EXIT_TIMEOUT: Duration = Duration::from_secs(2);

/// Default `auto`: off, so a run without a pattern stays a usage error
/// (or a timeouts-only run) unless the user asks earlyexit to choose.
pub const DEFAULT_AUTO: bool = false;
/// Default `fp_filter`: score every match and record the score, but never
/// let the model change what a run does until the user opts in.
pub const DEFAULT_FP_FILTER: FpFilterMode = FpFilterMode::Annotate;
/// Default `fp_threshold`: with `fp_filter: enforce`, a match is ignored
/// only when the model is at least this sure it is noise. High, because a
/// missed error costs more than a run that stops on noise.
pub const DEFAULT_FP_THRESHOLD: f64 = 0.9;

/// What the line classifier's verdict on a match does (`fp_filter` key,
/// `--fp-filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FpFilterMode {
    /// Matches are not scored.
    Off,
    /// Every match is scored and the score recorded and shown; the run
    /// behaves as without the filter.
    Annotate,
    /// As `annotate`, and a match the model calls noise with confidence at
    /// least `fp_threshold` does not stop the run (it is recorded as a
    /// suppressed match).
    Enforce,
}

impl FpFilterMode {
    /// The spelling used in config files, flags and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            FpFilterMode::Off => "off",
            FpFilterMode::Annotate => "annotate",
            FpFilterMode::Enforce => "enforce",
        }
    }
}

impl fmt::Display for FpFilterMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much telemetry is recorded and sent (`telemetry` key, `--telemetry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TelemetryLevel {
    /// Nothing is written to the database.
    Off,
    /// Runs are recorded locally and never sent.
    Local,
    /// Synced with commands reduced to program and hashed arguments, and no
    /// raw line content (only scrubbed templates).
    Anonymous,
    /// Synced with scrubbed line content.
    Full,
}

impl TelemetryLevel {
    /// The spelling used in config files, flags and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            TelemetryLevel::Off => "off",
            TelemetryLevel::Local => "local",
            TelemetryLevel::Anonymous => "anonymous",
            TelemetryLevel::Full => "full",
        }
    }
}

impl fmt::Display for TelemetryLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Default `feedback`: `earlyexit feedback` records only the values given
/// as flags; it never prompts unless asked to.
pub const DEFAULT_FEEDBACK: FeedbackMode = FeedbackMode::Flags;

/// Whether `earlyexit feedback` asks (`feedback` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FeedbackMode {
    /// Record the values given as flags; ask only with `--ask`.
    Flags,
    /// With no value given, ask on a terminal (never when stdin is not a
    /// terminal or `CI` is set).
    Ask,
}

/// When to colour output (`color` key, `--color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ColorChoice {
    /// Colour when the output is a terminal and `NO_COLOR` is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// The spelling used in config files and flags.
    pub fn as_str(self) -> &'static str {
        match self {
            ColorChoice::Auto => "auto",
            ColorChoice::Always => "always",
            ColorChoice::Never => "never",
        }
    }
}

impl fmt::Display for ColorChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The effective configuration: defaults, overridden by the home file, then
/// by the project file. Command-line flags are applied by the caller.
///
/// Serializes (for `config show --json`) with durations as `1.5s`/`2m`
/// strings and unset durations as `null`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// `telemetry`: how much is recorded and sent.
    pub telemetry: TelemetryLevel,
    /// `retention_days`: runs older than this are deleted (≥ 1).
    pub retention_days: u32,
    /// `max_db_size_mb`: the database is trimmed to this size (≥ 1).
    pub max_db_size_mb: u64,
    /// `unix_exit_codes`: exit with the child's code / 124 / 125 instead of
    /// the classic 0/1/2/3.
    pub unix_exit_codes: bool,
    /// `delay_exit`: how long to keep reading after the first match; `None`
    /// means the mode's default, see [`Config::effective_delay_exit`].
    #[serde(serialize_with = "serialize_opt_duration")]
    pub delay_exit: Option<Duration>,
    /// `timeout`: overall time limit; `None` for none.
    #[serde(serialize_with = "serialize_opt_duration")]
    pub timeout: Option<Duration>,
    /// `idle_timeout`: limit on time without any output byte; `None` for none.
    #[serde(serialize_with = "serialize_opt_duration")]
    pub idle_timeout: Option<Duration>,
    /// `first_output_timeout`: limit on time to the first output byte; `None` for none.
    #[serde(serialize_with = "serialize_opt_duration")]
    pub first_output_timeout: Option<Duration>,
    /// `kill_grace`: time between SIGTERM and SIGKILL to the process group.
    #[serde(serialize_with = "serialize_duration")]
    pub kill_grace: Duration,
    /// `db`: the telemetry database file.
    pub db: PathBuf,
    /// `color`: when to colour output.
    pub color: ColorChoice,
    /// `feedback`: whether `earlyexit feedback` asks when no value is given.
    pub feedback: FeedbackMode,
    /// `anonymize_local`: scrub the local database too (it keeps raw
    /// content by default; it is the user's own, mode 0600).
    pub anonymize_local: bool,
    /// `scrub_disable`: built-in scrub rules to turn off, by name.
    pub scrub_disable: Vec<String>,
    /// `scrub_rules`: the user's own scrub rules.
    pub scrub_rules: Vec<ScrubRule>,
    /// `scrub_keyed`: placeholders carry a short keyed hash of the value
    /// (`<email:3f9a1c>`), so equal values correlate without being revealed.
    pub scrub_keyed: bool,
    /// `scrub_key_file`: the key of every keyed hash that leaves the
    /// machine (placeholders with `scrub_keyed`, `<args:…>`, `<dir:…>`,
    /// command and content hashes); `None` = `scrub.key` beside `db`, made
    /// on first use. Give every agent of an org the same file to keep
    /// grouping across agents.
    pub scrub_key_file: Option<PathBuf>,
    /// `collector`: where runs are synced; `None` keeps everything local.
    pub collector: Option<CollectorConfig>,
    /// `sync_on_exit`: every run pushes the pending records to the
    /// collector before exiting (ephemeral CI runners).
    pub sync_on_exit: bool,
    /// `sync_on_exit_timeout`: the most a run spends on that push.
    #[serde(serialize_with = "serialize_duration")]
    pub sync_on_exit_timeout: Duration,
    /// `auto`: a run without a pattern uses the best known pattern for the
    /// command and the timeouts learned from its history (as `--auto`).
    pub auto: bool,
    /// `fp_filter`: what the line classifier's verdict on a match does.
    pub fp_filter: FpFilterMode,
    /// `fp_threshold`: with `fp_filter: enforce`, the noise confidence
    /// (0.5 to 1) from which a match is ignored.
    pub fp_threshold: f64,
}

/// The `collector` key: where and how to sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorConfig {
    /// `https://host:port` of the collector (or `urls`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// Replicas of one collector (same store, same certificate), tried in
    /// order: a push that fails with a fail-over code
    /// (`sync::error::FAIL_OVER_CODES`) goes to the next. Instead of `url`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// The agent's bearer token (prefer `token_file`); never printed.
    #[serde(default, serialize_with = "serialize_secret")]
    pub token: Option<String>,
    /// A file holding the token.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// CA bundle to trust instead of the system roots.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// Client certificate for mTLS.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// Client key for mTLS.
    #[serde(default)]
    pub key: Option<PathBuf>,
}

impl CollectorConfig {
    /// The URLs to use, in order (`urls`, or the one `url`), trimmed; an
    /// error saying what to write when there is none or both keys are set.
    pub fn urls(&self) -> Result<Vec<String>, &'static str> {
        let url = self.url.trim();
        match (url.is_empty(), self.urls.is_empty()) {
            (false, false) => {
                Err("set collector.url or collector.urls (a list of replicas), not both")
            }
            (true, true) => Err(
                "collector.url is missing: set url: https://HOST:PORT (or urls: [https://A:PORT, https://B:PORT] for replicas)",
            ),
            (false, true) => Ok(vec![url.to_string()]),
            (true, false) => Ok(self.urls.iter().map(|u| u.trim().to_string()).collect()),
        }
    }

    /// The URLs for messages: `url`, or the `urls` joined by ", ".
    pub fn shown_urls(&self) -> String {
        self.urls()
            .map_or_else(|_| self.url.clone(), |u| u.join(", "))
    }
}

fn serialize_secret<S: serde::Serializer>(value: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(_) => s.serialize_str("<set, not shown>"),
        None => s.serialize_none(),
    }
}

/// One user scrub rule from `scrub_rules`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrubRule {
    /// A name for messages and `scrub --explain`.
    pub name: String,
    /// The regex; a group named `s` marks the part to hide (else the whole match).
    pub regex: String,
    /// What replaces it, e.g. `<ticket>`.
    pub replacement: String,
}

impl Config {
    /// home directory `earlyexit_home` (which holds the default database).
    pub fn defaults(earlyexit_home: &Path) -> Config {
        Config {
            telemetry: DEFAULT_TELEMETRY,
            retention_days: DEFAULT_RETENTION_DAYS,
            max_db_size_mb: DEFAULT_MAX_DB_SIZE_MB,
            unix_exit_codes: DEFAULT_UNIX_EXIT_CODES,
            delay_exit: None,
            timeout: None,
            idle_timeout: None,
            first_output_timeout: None,
            kill_grace: DEFAULT_KILL_GRACE,
            db: earlyexit_home.join(DEFAULT_DB_FILE),
            color: DEFAULT_COLOR,
            feedback: DEFAULT_FEEDBACK,
            anonymize_local: false,
            scrub_disable: Vec::new(),
            scrub_rules: Vec::new(),
            scrub_keyed: false,
            scrub_key_file: None,
            collector: None,
            sync_on_exit: DEFAULT_SYNC_ON_EXIT,
            sync_on_exit_timeout: DEFAULT_SYNC_ON_EXIT_TIMEOUT,
            auto: DEFAULT_AUTO,
            fp_filter: DEFAULT_FP_FILTER,
            fp_threshold: DEFAULT_FP_THRESHOLD,
        }
    }

    /// The delay after the first match in effect: `delay_exit` when set,
    /// otherwise [`DEFAULT_DELAY_EXIT_COMMAND`] in command mode and
    /// [`DEFAULT_DELAY_EXIT_PIPE`] in pipe mode.
    pub fn effective_delay_exit(&self, command_mode: bool) -> Duration {
        self.delay_exit.unwrap_or(if command_mode {
            DEFAULT_DELAY_EXIT_COMMAND
        } else {
            DEFAULT_DELAY_EXIT_PIPE
        })
    }
}

fn serialize_duration<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(*value))
}

fn serialize_opt_duration<S: Serializer>(
    value: &Option<Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(d) => serialize_duration(d, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::Tree;
    use std::path::Path;

    #[test]
    fn a_collector_token_is_never_shown() {
        let tree = Tree::new();
        tree.write_home("collector: {url: 'https://c:7700', token: s3cr3t-t0ken-value}\n");
        let loaded = tree.load().unwrap();
        let shown = serde_json::to_string(&loaded.config).unwrap();
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert_eq!(
            loaded.config.collector.unwrap().token.as_deref(),
            Some("s3cr3t-t0ken-value")
        );
    }

    #[test]
    fn config_serializes_durations_as_they_are_written() {
        let mut config = Config::defaults(Path::new("/h"));
        config.timeout = Some(Duration::from_secs(90));
        let value = serde_json::to_value(&config).unwrap();
        assert_eq!(value["timeout"], "90s");
        assert_eq!(value["kill_grace"], "5s");
        assert_eq!(value["delay_exit"], serde_json::Value::Null);
        assert_eq!(value["telemetry"], "local");
        assert_eq!(value["db"], "/h/telemetry.db");
    }

    #[test]
    fn telemetry_and_color_spellings_agree_everywhere() {
        use clap::ValueEnum;
        for level in TelemetryLevel::value_variants() {
            let name = level.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(name, level.as_str());
            assert_eq!(serde_json::to_value(level).unwrap(), level.as_str());
        }
        for color in ColorChoice::value_variants() {
            let name = color.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(name, color.as_str());
        }
    }
}
