//! Configuration files: `$EARLYEXIT_HOME/config.yaml` and the nearest
//! `.earlyexit.yaml` above the working directory.
//!
//! This module owns every configuration key: its type, its default (a named
//! constant with the reason for it), its one-line description ([`KEYS`]),
//! validation, and the error message a user sees when a file is wrong.
//! Precedence is: defaults < home file < project file < command-line flags;
//! this module applies the first three, the caller applies the flags.
//!
//! It must never write a file, never read an environment variable other
//! than `EARLYEXIT_HOME` and `HOME` (and only in [`Config::load`] /
//! [`earlyexit_home`]), and never parse YAML when a file is absent: it runs
//! on every start of earlyexit.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::duration::{format_duration, parse_duration};

/// Environment variable that overrides where earlyexit keeps its files.
pub const EARLYEXIT_HOME_ENV: &str = "EARLYEXIT_HOME";
/// Name of earlyexit's directory under `$HOME` when `EARLYEXIT_HOME` is unset.
pub const HOME_DIR_NAME: &str = ".earlyexit";
/// Name of the home configuration file inside `$EARLYEXIT_HOME`.
pub const HOME_CONFIG_FILE: &str = "config.yaml";
/// Name of the per-project configuration file, searched from the working
/// directory up to the file system root.
pub const PROJECT_CONFIG_FILE: &str = ".earlyexit.yaml";
/// Name of the telemetry database inside `$EARLYEXIT_HOME`.
pub const DEFAULT_DB_FILE: &str = "telemetry.db";
/// Largest configuration file read, in bytes. A config file holds a dozen
/// `key: value` lines; anything this big is a mistake (a log file renamed,
/// a wrong path), and refusing it keeps start-up fast.
pub const MAX_CONFIG_BYTES: u64 = 64 * 1024;

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
    /// `collector`: where runs are synced; `None` keeps everything local.
    pub collector: Option<CollectorConfig>,
    /// `sync_on_exit`: every run pushes the pending records to the
    /// collector before exiting (ephemeral CI runners).
    pub sync_on_exit: bool,
    /// `sync_on_exit_timeout`: the most a run spends on that push.
    #[serde(serialize_with = "serialize_duration")]
    pub sync_on_exit_timeout: Duration,
}

/// The `collector` key: where and how to sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorConfig {
    /// `https://host:port` of the collector.
    pub url: String,
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
    /// The configuration with every key at its default, for an earlyexit
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
            anonymize_local: false,
            scrub_disable: Vec::new(),
            scrub_rules: Vec::new(),
            scrub_keyed: false,
            collector: None,
            sync_on_exit: DEFAULT_SYNC_ON_EXIT,
            sync_on_exit_timeout: DEFAULT_SYNC_ON_EXIT_TIMEOUT,
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

    /// Loads the configuration for a run in `cwd`: reads `EARLYEXIT_HOME`
    /// (or `HOME`) to find the home file, then the nearest project file.
    pub fn load(cwd: &Path) -> Result<LoadedConfig, ConfigError> {
        Config::load_in(&ConfigDirs::from_env()?, cwd)
    }

    /// Like [`Config::load`] with the earlyexit home given (no environment
    /// read). `~/` in `db` cannot be expanded and is reported as an error.
    pub fn load_from(earlyexit_home: &Path, cwd: &Path) -> Result<LoadedConfig, ConfigError> {
        let dirs = ConfigDirs {
            earlyexit_home: earlyexit_home.to_path_buf(),
            user_home: None,
        };
        Config::load_in(&dirs, cwd)
    }

    /// Loads the configuration with the directories given (no environment read).
    pub fn load_in(dirs: &ConfigDirs, cwd: &Path) -> Result<LoadedConfig, ConfigError> {
        let mut loaded = LoadedConfig::defaults(dirs, cwd);
        let layers = [
            (loaded.files.home_exists).then(|| Source::Home(loaded.files.home.clone())),
            loaded.files.project.clone().map(Source::Project),
        ];
        for source in layers.into_iter().flatten() {
            let Some(path) = source.path() else { continue };
            let Some(text) = read_config_file(path)? else {
                continue;
            };
            let raw = parse_config_text(&text, path)?;
            loaded.apply(raw, source, dirs.user_home.as_deref())?;
        }
        if loaded.config.collector.is_some() && !loaded.sources.contains_key("telemetry") {
            loaded.config.telemetry = DEFAULT_TELEMETRY_WITH_COLLECTOR;
        }
        Ok(loaded)
    }
}

/// The directories configuration is resolved against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigDirs {
    /// `$EARLYEXIT_HOME` (default `~/.earlyexit`): holds `config.yaml` and
    /// the default database.
    pub earlyexit_home: PathBuf,
    /// The user's home directory, for `~/` in path values; `None` when unknown.
    pub user_home: Option<PathBuf>,
}

impl ConfigDirs {
    /// Reads `EARLYEXIT_HOME` and `HOME`.
    pub fn from_env() -> Result<ConfigDirs, ConfigError> {
        let user_home = non_empty(std::env::var_os("HOME"));
        Ok(ConfigDirs {
            earlyexit_home: home_from(
                non_empty(std::env::var_os(EARLYEXIT_HOME_ENV)),
                user_home.clone(),
            )?,
            user_home: user_home.map(PathBuf::from),
        })
    }
}

/// Where earlyexit keeps its files: `$EARLYEXIT_HOME`, else `$HOME/.earlyexit`.
///
/// Fails with [`ConfigError::NoHome`] when neither variable is set (or both
/// are empty), which happens in some minimal containers.
pub fn earlyexit_home() -> Result<PathBuf, ConfigError> {
    home_from(
        non_empty(std::env::var_os(EARLYEXIT_HOME_ENV)),
        non_empty(std::env::var_os("HOME")),
    )
}

fn non_empty(value: Option<OsString>) -> Option<OsString> {
    value.filter(|v| !v.is_empty())
}

fn home_from(
    earlyexit_home: Option<OsString>,
    user_home: Option<OsString>,
) -> Result<PathBuf, ConfigError> {
    match (earlyexit_home, user_home) {
        (Some(dir), _) => Ok(PathBuf::from(dir)),
        (None, Some(home)) => Ok(Path::new(&home).join(HOME_DIR_NAME)),
        (None, None) => Err(ConfigError::NoHome),
    }
}

/// The configuration files that apply to one working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFiles {
    /// `$EARLYEXIT_HOME`: holds the home file and the default database.
    pub earlyexit_home: PathBuf,
    /// `$EARLYEXIT_HOME/config.yaml`, whether or not it exists.
    pub home: PathBuf,
    /// True when something exists at `home` (a file, or something that
    /// will fail to read and be reported).
    pub home_exists: bool,
    /// The nearest `.earlyexit.yaml` at or above `searched_from`, if any.
    pub project: Option<PathBuf>,
    /// The directory the project search started from.
    pub searched_from: PathBuf,
}

impl ConfigFiles {
    /// Finds the files without reading them: one `stat` per directory from
    /// `cwd` up to the first `.earlyexit.yaml` or the file system root.
    pub fn locate(earlyexit_home: &Path, cwd: &Path) -> ConfigFiles {
        let home = earlyexit_home.join(HOME_CONFIG_FILE);
        let cwd = std::path::absolute(cwd).unwrap_or_else(|_| cwd.to_path_buf());
        let project = cwd
            .ancestors()
            .map(|dir| dir.join(PROJECT_CONFIG_FILE))
            .find(|candidate| candidate.symlink_metadata().is_ok());
        ConfigFiles {
            earlyexit_home: earlyexit_home.to_path_buf(),
            home_exists: home.symlink_metadata().is_ok(),
            home,
            project,
            searched_from: cwd,
        }
    }
}

/// Which file set a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// No file set it: the default applies.
    Default,
    /// The home file (`$EARLYEXIT_HOME/config.yaml`).
    Home(PathBuf),
    /// The project file (`.earlyexit.yaml`).
    Project(PathBuf),
}

impl Source {
    /// The file, unless the key has its default.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::Default => None,
            Source::Home(path) | Source::Project(path) => Some(path),
        }
    }
}

impl fmt::Display for Source {
    /// `default`, or the file's path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path() {
            None => f.write_str("default"),
            Some(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The effective configuration and where each value came from.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedConfig {
    /// The effective values.
    pub config: Config,
    /// For each key set by a file, the file that set it last (the project
    /// file wins over the home file). A key not listed has its default.
    pub sources: BTreeMap<&'static str, Source>,
    /// The files that were looked for and found.
    pub files: ConfigFiles,
}

impl LoadedConfig {
    /// Every key at its default, with the files that would apply in `cwd`
    /// located but not read. `config show` falls back to this when a file
    /// has an error, so the key reference is still shown.
    pub fn defaults(dirs: &ConfigDirs, cwd: &Path) -> LoadedConfig {
        LoadedConfig {
            config: Config::defaults(&dirs.earlyexit_home),
            sources: BTreeMap::new(),
            files: ConfigFiles::locate(&dirs.earlyexit_home, cwd),
        }
    }

    /// Which file set `key`, or [`Source::Default`].
    pub fn source(&self, key: &str) -> &Source {
        self.sources.get(key).unwrap_or(&Source::Default)
    }

    /// Overrides the values with those `raw` sets, remembering `source`.
    fn apply(
        &mut self,
        raw: RawConfig,
        source: Source,
        user_home: Option<&Path>,
    ) -> Result<(), ConfigError> {
        // Destructured without `..`: adding a key to `RawConfig` without
        // handling it here does not compile.
        let RawConfig {
            telemetry,
            retention_days,
            max_db_size_mb,
            unix_exit_codes,
            delay_exit,
            timeout,
            idle_timeout,
            first_output_timeout,
            kill_grace,
            db,
            color,
            anonymize_local,
            scrub_disable,
            scrub_rules,
            scrub_keyed,
            collector,
            sync_on_exit,
            sync_on_exit_timeout,
        } = raw;
        let config = &mut self.config;
        let mut set = Vec::new();
        macro_rules! take {
            ($($key:ident),*) => {$(
                if let Some(value) = $key {
                    config.$key = value;
                    set.push(stringify!($key));
                }
            )*};
        }
        take!(
            telemetry,
            retention_days,
            max_db_size_mb,
            unix_exit_codes,
            delay_exit,
            timeout,
            idle_timeout,
            first_output_timeout,
            kill_grace,
            color,
            anonymize_local,
            scrub_disable,
            scrub_rules,
            scrub_keyed,
            sync_on_exit
        );
        if let Some(timeout) = sync_on_exit_timeout {
            if timeout.is_zero() {
                return Err(ConfigError::InvalidValue {
                    key: "sync_on_exit_timeout".to_string(),
                    path: source.path().unwrap_or(Path::new("")).to_path_buf(),
                    line: None,
                    detail: "0 leaves no time to sync; set `sync_on_exit: false` to turn it off"
                        .to_string(),
                });
            }
            config.sync_on_exit_timeout = timeout;
            set.push("sync_on_exit_timeout");
        }
        if let Some(mut collector) = collector {
            // Paths in `collector` are relative to the file that sets them.
            let file = source.path().unwrap_or(Path::new(""));
            for (key, value) in [
                ("token_file", &mut collector.token_file),
                ("ca", &mut collector.ca),
                ("cert", &mut collector.cert),
                ("key", &mut collector.key),
            ] {
                if let Some(path) = value.as_mut() {
                    *path = resolve_path(&path.to_string_lossy(), file, user_home).map_err(
                        |detail| ConfigError::InvalidValue {
                            key: format!("collector.{key}"),
                            path: file.to_path_buf(),
                            line: None,
                            detail,
                        },
                    )?;
                }
            }
            config.collector = Some(collector);
            set.push("collector");
        }
        if let Some(db) = db {
            let file = source.path().unwrap_or(Path::new(""));
            config.db =
                resolve_path(&db, file, user_home).map_err(|detail| ConfigError::InvalidValue {
                    key: "db".to_string(),
                    path: file.to_path_buf(),
                    line: None,
                    detail,
                })?;
            set.push("db");
        }
        for key in set {
            self.sources.insert(key, source.clone());
        }
        Ok(())
    }
}

/// Expands `~/` and makes a relative path relative to `file`'s directory.
fn resolve_path(value: &str, file: &Path, user_home: Option<&Path>) -> Result<PathBuf, String> {
    if value.trim().is_empty() {
        return Err("the path is empty; remove the key to use the default".to_string());
    }
    if value == "~" || value.starts_with("~/") {
        let home = user_home.ok_or_else(|| {
            format!("cannot expand '~' in '{value}' because HOME is not set; write the full path")
        })?;
        return Ok(home.join(value.trim_start_matches('~').trim_start_matches('/')));
    }
    if value.starts_with('~') {
        return Err(format!(
            "'{value}': only '~/' (your own home) is expanded; write the full path"
        ));
    }
    let path = Path::new(value);
    Ok(if path.is_absolute() {
        path.to_path_buf()
    } else {
        file.parent().unwrap_or(Path::new("")).join(path)
    })
}

/// One documented key, in the order `config show` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDoc {
    /// The key as written in the files.
    pub name: &'static str,
    /// One line: what it does and what values it takes.
    pub description: &'static str,
    /// What an unset (`~`) value means, for keys that may be unset.
    pub when_unset: &'static str,
}

/// Every configuration key with its description: the table `config show`
/// prints. Defaults come from [`Config::defaults`], never from this table.
pub const KEYS: &[KeyDoc] = &[
    KeyDoc {
        name: "telemetry",
        description: "what is recorded and sent: off | local | anonymous | full (default local; anonymous once a collector is configured)",
        when_unset: "",
    },
    KeyDoc {
        name: "retention_days",
        description: "delete recorded runs older than this many days (at least 1)",
        when_unset: "",
    },
    KeyDoc {
        name: "max_db_size_mb",
        description: "trim the oldest runs when the database grows past this many MiB (at least 1)",
        when_unset: "",
    },
    KeyDoc {
        name: "unix_exit_codes",
        description: "true: exit with the child's code, 1 on match, 124 on timeout, 125 on error",
        when_unset: "",
    },
    KeyDoc {
        name: "delay_exit",
        description: "keep reading this long after the first match, to capture context (0 = stop at once)",
        when_unset: "10s in command mode, 0s in pipe mode",
    },
    KeyDoc {
        name: "timeout",
        description: "stop the command after this long in total",
        when_unset: "no limit",
    },
    KeyDoc {
        name: "idle_timeout",
        description: "stop the command after this long without any output byte",
        when_unset: "no limit",
    },
    KeyDoc {
        name: "first_output_timeout",
        description: "stop the command if it prints nothing for this long after start",
        when_unset: "no limit",
    },
    KeyDoc {
        name: "kill_grace",
        description: "time between SIGTERM and SIGKILL when stopping the process group",
        when_unset: "",
    },
    KeyDoc {
        name: "db",
        description: "telemetry database file (`~/` expanded; relative to the file that sets it)",
        when_unset: "",
    },
    KeyDoc {
        name: "color",
        description: "colour output: auto | always | never",
        when_unset: "",
    },
    KeyDoc {
        name: "anonymize_local",
        description: "true: scrub the local database too (it keeps raw content by default, mode 0600)",
        when_unset: "",
    },
    KeyDoc {
        name: "scrub_disable",
        description: "built-in scrub rules to turn off, e.g. [email, ipv4] (`earlyexit scrub --list-rules`)",
        when_unset: "",
    },
    KeyDoc {
        name: "scrub_rules",
        description: "your own scrub rules: a list of {name, regex, replacement}",
        when_unset: "",
    },
    KeyDoc {
        name: "collector",
        description: "where runs are synced: {url, token | token_file, ca, cert, key}",
        when_unset: "nothing leaves this machine",
    },
    KeyDoc {
        name: "sync_on_exit",
        description: "true: every run pushes pending records to the collector before it exits (never changes its exit code)",
        when_unset: "",
    },
    KeyDoc {
        name: "sync_on_exit_timeout",
        description: "the most a run spends on sync_on_exit; what is not sent by then stays pending",
        when_unset: "",
    },
    KeyDoc {
        name: "scrub_keyed",
        description: "true: placeholders carry a keyed hash (<email:3f9a1c>); the key stays in scrub.key beside the database",
        when_unset: "",
    },
];

/// The documentation of `name`, if it is a key.
fn key_doc(name: &str) -> Option<&'static KeyDoc> {
    KEYS.iter().find(|k| k.name == name)
}

/// Errors loading configuration. Each message names the file (and the key
/// and line when known) and says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Neither `EARLYEXIT_HOME` nor `HOME` is set.
    #[error(
        "cannot tell where earlyexit keeps its files: neither {EARLYEXIT_HOME_ENV} nor HOME is set; set {EARLYEXIT_HOME_ENV} to a writable directory, e.g. `export {EARLYEXIT_HOME_ENV}=/tmp/earlyexit`"
    )]
    NoHome,
    /// A config file exists but cannot be read.
    #[error(
        "cannot read config file {}: {source}; make it a readable UTF-8 text file, or remove it to use the defaults",
        .path.display()
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A config file is larger than [`MAX_CONFIG_BYTES`].
    #[error(
        "config file {} is larger than {MAX_CONFIG_BYTES} bytes; a config file holds a few `key: value` lines, is this the right file?",
        .path.display()
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// A key that earlyexit does not know.
    #[error(
        "unknown key '{key}' in {}{}; {}run `earlyexit config show` for all keys",
        .path.display(),
        AtLine(*.line),
        DidYouMean(*.suggestion)
    )]
    UnknownKey {
        /// The key as written.
        key: String,
        /// The file.
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// The closest known key, when one is close.
        suggestion: Option<&'static str>,
    },
    /// A known key with a value it does not accept.
    #[error(
        "invalid value for '{key}' in {}{}: {detail}; run `earlyexit config show` for what each key accepts",
        .path.display(),
        AtLine(*.line)
    )]
    InvalidValue {
        /// The key.
        key: String,
        /// The file.
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// What is wrong with the value.
        detail: String,
    },
    /// The same key twice in one file.
    #[error(
        "key '{key}' is set more than once in {}{}; keep only one",
        .path.display(),
        AtLine(*.line)
    )]
    DuplicateKey {
        /// The key.
        key: String,
        /// The file.
        path: PathBuf,
        /// 1-based line of the second one, when known.
        line: Option<usize>,
    },
    /// Not YAML, or not a mapping of keys to values.
    #[error(
        "cannot read {} as configuration: {detail}; a config file holds `key: value` lines, e.g. `timeout: 5m`",
        .path.display()
    )]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with its position.
        detail: String,
    },
}

impl ConfigError {
    /// The file the error is about, if it is about one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfigError::NoHome => None,
            ConfigError::Read { path, .. }
            | ConfigError::TooLarge { path }
            | ConfigError::UnknownKey { path, .. }
            | ConfigError::InvalidValue { path, .. }
            | ConfigError::DuplicateKey { path, .. }
            | ConfigError::Syntax { path, .. } => Some(path),
        }
    }
}

/// Formats ` at line N`, or nothing.
struct AtLine(Option<usize>);

impl fmt::Display for AtLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(line) => write!(f, " at line {line}"),
            None => Ok(()),
        }
    }
}

/// Formats `did you mean 'x'? `, or nothing.
struct DidYouMean(Option<&'static str>);

impl fmt::Display for DidYouMean {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(key) => write!(f, "did you mean '{key}'? "),
            None => Ok(()),
        }
    }
}

/// Reads a config file; `None` when it does not exist.
fn read_config_file(path: &Path) -> Result<Option<String>, ConfigError> {
    let read_err = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_err(e)),
    };
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_err)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(Some(text))
}

/// The keys one file sets. `None` means "not set in this file"; for the
/// keys that may be unset, `Some(None)` means "set to `~`" (unset here, even
/// if the home file set it).
#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping of earlyexit settings (`key: value` lines)"
)]
struct RawConfig {
    #[serde(default)]
    telemetry: Option<TelemetryLevel>,
    #[serde(default, deserialize_with = "de_at_least_one")]
    retention_days: Option<u32>,
    #[serde(default, deserialize_with = "de_at_least_one")]
    max_db_size_mb: Option<u64>,
    #[serde(default)]
    unix_exit_codes: Option<bool>,
    #[serde(default, deserialize_with = "de_optional_delay")]
    delay_exit: Option<Option<Duration>>,
    #[serde(default, deserialize_with = "de_optional_limit")]
    timeout: Option<Option<Duration>>,
    #[serde(default, deserialize_with = "de_optional_limit")]
    idle_timeout: Option<Option<Duration>>,
    #[serde(default, deserialize_with = "de_optional_limit")]
    first_output_timeout: Option<Option<Duration>>,
    #[serde(default, deserialize_with = "de_duration")]
    kill_grace: Option<Duration>,
    #[serde(default)]
    db: Option<String>,
    #[serde(default)]
    color: Option<ColorChoice>,
    #[serde(default)]
    anonymize_local: Option<bool>,
    #[serde(default)]
    scrub_disable: Option<Vec<String>>,
    #[serde(default)]
    scrub_rules: Option<Vec<ScrubRule>>,
    #[serde(default)]
    scrub_keyed: Option<bool>,
    #[serde(default)]
    collector: Option<CollectorConfig>,
    #[serde(default)]
    sync_on_exit: Option<bool>,
    #[serde(default, deserialize_with = "de_duration")]
    sync_on_exit_timeout: Option<Duration>,
}

/// Parses one file's text. Blank files and files of only comments are valid.
fn parse_config_text(text: &str, path: &Path) -> Result<RawConfig, ConfigError> {
    let blank = text
        .lines()
        .all(|line| matches!(line.trim_start().chars().next(), None | Some('#')));
    if blank {
        return Ok(RawConfig::default());
    }
    match serde_yaml_ng::from_str::<Option<RawConfig>>(text) {
        Ok(raw) => Ok(raw.unwrap_or_default()),
        Err(error) => Err(classify_yaml_error(&error, text, path)),
    }
}

/// Turns a parser error into the error naming the key and line.
fn classify_yaml_error(error: &serde_yaml_ng::Error, text: &str, path: &Path) -> ConfigError {
    let path = path.to_path_buf();
    let line = error.location().map(|l| l.line());
    let full = error.to_string();
    let message = match error.location() {
        Some(l) => full
            .strip_suffix(&format!(" at line {} column {}", l.line(), l.column()))
            .unwrap_or(&full),
        None => &full,
    };
    if let Some(key) = backticked_after(message, "unknown field `") {
        return ConfigError::UnknownKey {
            suggestion: did_you_mean(key),
            key: key.to_string(),
            path,
            line,
        };
    }
    if let Some(key) = backticked_after(message, "duplicate field `") {
        // The parser points at the mapping; point at the second occurrence.
        let line = text
            .lines()
            .enumerate()
            .filter(|(_, l)| {
                l.strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start().starts_with(':'))
            })
            .nth(1)
            .map(|(index, _)| index + 1);
        return ConfigError::DuplicateKey {
            key: key.to_string(),
            path,
            line,
        };
    }
    // Errors inside a value carry the key as a path prefix: "timeout: …".
    if let Some((key, detail)) = message.split_once(": ")
        && key_doc(key).is_some()
    {
        return ConfigError::InvalidValue {
            key: key.to_string(),
            path,
            line,
            detail: detail.to_string(),
        };
    }
    ConfigError::Syntax { path, detail: full }
}

/// The text between `prefix` and the next backtick, when `message` starts so.
fn backticked_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    Some(&rest[..rest.find('`')?])
}

/// The known key closest to `typed`, if it is close enough to be a typo.
fn did_you_mean(typed: &str) -> Option<&'static str> {
    let typed = typed.to_ascii_lowercase().replace('-', "_");
    KEYS.iter()
        .map(|k| (strsim::levenshtein(&typed, k.name), k.name))
        .filter(|&(distance, name)| distance <= (name.len() / 3).clamp(1, 3))
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, name)| name)
}

/// A duration written as a YAML number (seconds) or a string (`1.5s`, `2m`).
///
/// Validation happens inside the visitor, so the parser attaches the key
/// and position to every error.
struct YamlDuration(Duration);

/// A time limit: a [`YamlDuration`] that must not be zero.
struct YamlLimit(Duration);

/// A count or size that must be at least 1.
struct AtLeastOne<T>(T);

struct DurationVisitor {
    allow_zero: bool,
}

impl serde::de::Visitor<'_> for DurationVisitor {
    type Value = Duration;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration: a number of seconds or a string like 1.5s, 250ms, 2m, 1h")
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Duration, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Duration, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
        let duration = parse_duration(v).map_err(E::custom)?;
        if duration.is_zero() && !self.allow_zero {
            return Err(E::custom(
                "0 would stop every run at once; write `~` (or remove the key) for no limit",
            ));
        }
        Ok(duration)
    }
}

impl<'de> Deserialize<'de> for YamlDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurationVisitor { allow_zero: true })
            .map(YamlDuration)
    }
}

impl<'de> Deserialize<'de> for YamlLimit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurationVisitor { allow_zero: false })
            .map(YamlLimit)
    }
}

impl<'de, T: TryFrom<u64>> Deserialize<'de> for AtLeastOne<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<T: TryFrom<u64>> serde::de::Visitor<'_> for Visitor<T> {
            type Value = AtLeastOne<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number, at least 1")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                if v == 0 {
                    return Err(E::custom("must be at least 1"));
                }
                T::try_from(v)
                    .map(AtLeastOne)
                    .map_err(|_| E::custom(format!("{v} is too large")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom(format!("{v} is negative; must be at least 1"))),
                }
            }
        }
        d.deserialize_any(Visitor(std::marker::PhantomData))
    }
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    Ok(Option::<YamlDuration>::deserialize(d)?.map(|v| v.0))
}

/// `delay_exit`: `~` unsets it (mode default); 0 means "stop at once".
fn de_optional_delay<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<Duration>>, D::Error> {
    Ok(Some(Option::<YamlDuration>::deserialize(d)?.map(|v| v.0)))
}

/// Timeouts: `~` means no limit; 0 is refused (it would stop every run).
fn de_optional_limit<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<Duration>>, D::Error> {
    Ok(Some(Option::<YamlLimit>::deserialize(d)?.map(|v| v.0)))
}

fn de_at_least_one<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    Ok(Option::<AtLeastOne<T>>::deserialize(d)?.map(|v| v.0))
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
    use std::fs;
    use tempfile::TempDir;

    /// A home directory and a project tree `project/sub/deep` in a tempdir.
    struct Tree {
        root: TempDir,
    }

    impl Tree {
        fn new() -> Tree {
            let tree = Tree {
                root: tempfile::tempdir().unwrap(),
            };
            fs::create_dir_all(tree.home()).unwrap();
            fs::create_dir_all(tree.deep()).unwrap();
            tree
        }
        fn home(&self) -> PathBuf {
            self.root.path().join("ee-home")
        }
        fn project(&self) -> PathBuf {
            self.root.path().join("project")
        }
        fn deep(&self) -> PathBuf {
            self.project().join("sub/deep")
        }
        fn home_file(&self) -> PathBuf {
            self.home().join(HOME_CONFIG_FILE)
        }
        fn project_file(&self) -> PathBuf {
            self.project().join(PROJECT_CONFIG_FILE)
        }
        fn write_home(&self, text: &str) -> &Self {
            fs::write(self.home_file(), text).unwrap();
            self
        }
        fn write_project(&self, text: &str) -> &Self {
            fs::write(self.project_file(), text).unwrap();
            self
        }
        fn load(&self) -> Result<LoadedConfig, ConfigError> {
            Config::load_from(&self.home(), &self.deep())
        }
        fn error(&self) -> String {
            self.load().unwrap_err().to_string()
        }
    }

    #[test]
    fn no_files_gives_the_documented_defaults() {
        let tree = Tree::new();
        let loaded = tree.load().unwrap();
        let c = &loaded.config;
        assert_eq!(c.telemetry, TelemetryLevel::Local);
        assert_eq!(c.retention_days, 90);
        assert_eq!(c.max_db_size_mb, 100);
        assert!(!c.unix_exit_codes);
        assert_eq!(c.delay_exit, None);
        assert_eq!(c.timeout, None);
        assert_eq!(c.idle_timeout, None);
        assert_eq!(c.first_output_timeout, None);
        assert_eq!(c.kill_grace, Duration::from_secs(5));
        assert_eq!(c.db, tree.home().join("telemetry.db"));
        assert_eq!(c.color, ColorChoice::Auto);
        assert!(loaded.sources.is_empty());
        assert_eq!(loaded.source("timeout"), &Source::Default);
        assert_eq!(loaded.files.home, tree.home_file());
        assert!(!loaded.files.home_exists);
    }

    #[test]
    fn delay_exit_defaults_depend_on_mode_unless_set() {
        let tree = Tree::new();
        let c = tree.load().unwrap().config;
        assert_eq!(c.effective_delay_exit(true), Duration::from_secs(10));
        assert_eq!(c.effective_delay_exit(false), Duration::ZERO);
        tree.write_home("delay_exit: 0\n");
        let c = tree.load().unwrap().config;
        assert_eq!(c.effective_delay_exit(true), Duration::ZERO);
        tree.write_home("delay_exit: 2.5\n");
        let c = tree.load().unwrap().config;
        assert_eq!(c.effective_delay_exit(false), Duration::from_millis(2500));
    }

    #[test]
    fn a_configured_collector_makes_anonymous_the_default_level() {
        let tree = Tree::new();
        tree.write_home(
            "collector:\n  url: https://collector.internal:7700\n  token_file: token\n",
        );
        let loaded = tree.load().unwrap();
        assert_eq!(loaded.config.telemetry, TelemetryLevel::Anonymous);
        assert_eq!(
            loaded.config.collector.clone().unwrap().token_file,
            Some(tree.home().join("token")),
            "relative to the file that sets it"
        );
        assert_eq!(loaded.source("telemetry"), &Source::Default);
        tree.write_home("telemetry: local\ncollector: {url: 'https://c:7700'}\n");
        assert_eq!(
            tree.load().unwrap().config.telemetry,
            TelemetryLevel::Local,
            "an explicit level wins"
        );
        tree.write_home("");
        assert_eq!(tree.load().unwrap().config.telemetry, TelemetryLevel::Local);
    }

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
    fn sync_on_exit_is_off_by_default_and_its_timeout_is_checked() {
        let tree = Tree::new();
        let c = tree.load().unwrap().config;
        assert!(!c.sync_on_exit);
        assert_eq!(c.sync_on_exit_timeout, DEFAULT_SYNC_ON_EXIT_TIMEOUT);
        tree.write_home("sync_on_exit_timeout: 0\n");
        let e = tree.error();
        assert!(e.contains("sync_on_exit_timeout"), "{e}");
        assert!(e.contains("sync_on_exit: false"), "{e}");
        tree.write_home("sync_on_exit_timeout: soon\n");
        let e = tree.error();
        assert!(
            e.contains("'sync_on_exit_timeout'") && e.contains("line 1"),
            "{e}"
        );
        tree.write_home("sync_on_exti: true\n");
        let e = tree.error();
        assert!(e.contains("did you mean 'sync_on_exit'?"), "{e}");
    }

    #[test]
    fn unknown_collector_keys_are_errors() {
        let tree = Tree::new();
        tree.write_home("collector: {url: 'https://c:7700', tokn: x}\n");
        let e = tree.load().unwrap_err().to_string();
        assert!(e.contains("tokn"), "{e}");
    }

    #[test]
    fn home_file_sets_every_key_and_records_its_source() {
        let tree = Tree::new();
        tree.write_home(
            "telemetry: anonymous\nretention_days: 30\nmax_db_size_mb: 5\nunix_exit_codes: true\n\
             delay_exit: 3s\ntimeout: 2m\nidle_timeout: 45\nfirst_output_timeout: 1.5s\n\
             kill_grace: 250ms\ndb: runs/t.db\ncolor: never\nanonymize_local: true\n\
             scrub_disable: [email]\nscrub_rules:\n  - {name: ticket, regex: 'OPS-[0-9]+', replacement: '<ticket>'}\n\
             scrub_keyed: false\ncollector: {url: 'https://collector.internal:7700', token: abc}\n\
             sync_on_exit: true\nsync_on_exit_timeout: 500ms\n",
        );
        let loaded = tree.load().unwrap();
        let c = &loaded.config;
        assert_eq!(c.telemetry, TelemetryLevel::Anonymous);
        assert_eq!(c.retention_days, 30);
        assert_eq!(c.max_db_size_mb, 5);
        assert!(c.unix_exit_codes);
        assert_eq!(c.delay_exit, Some(Duration::from_secs(3)));
        assert_eq!(c.timeout, Some(Duration::from_secs(120)));
        assert_eq!(c.idle_timeout, Some(Duration::from_secs(45)));
        assert_eq!(c.first_output_timeout, Some(Duration::from_millis(1500)));
        assert_eq!(c.kill_grace, Duration::from_millis(250));
        assert_eq!(c.db, tree.home().join("runs/t.db"));
        assert_eq!(c.color, ColorChoice::Never);
        assert!(c.anonymize_local);
        assert_eq!(c.scrub_disable, ["email"]);
        assert_eq!(c.scrub_rules[0].name, "ticket");
        assert!(c.sync_on_exit);
        assert_eq!(c.sync_on_exit_timeout, Duration::from_millis(500));
        let scrubber = crate::privacy::scrubber_for(c).unwrap();
        assert_eq!(
            scrubber.scrub_line("OPS-12 by a@b-corp.io"),
            "<ticket> by a@b-corp.io"
        );
        for key in KEYS {
            assert_eq!(
                loaded.source(key.name),
                &Source::Home(tree.home_file()),
                "{}",
                key.name
            );
        }
    }

    #[test]
    fn project_file_overrides_home_key_by_key() {
        let tree = Tree::new();
        tree.write_home("timeout: 10m\nretention_days: 7\ncolor: always\n")
            .write_project("timeout: 30s\ndb: local.db\n");
        let loaded = tree.load().unwrap();
        assert_eq!(loaded.config.timeout, Some(Duration::from_secs(30)));
        assert_eq!(loaded.config.retention_days, 7);
        assert_eq!(loaded.config.color, ColorChoice::Always);
        // Relative to the project file's directory, not the working directory.
        assert_eq!(loaded.config.db, tree.project().join("local.db"));
        assert_eq!(
            loaded.source("timeout"),
            &Source::Project(tree.project_file())
        );
        assert_eq!(loaded.source("db"), &Source::Project(tree.project_file()));
        assert_eq!(
            loaded.source("retention_days"),
            &Source::Home(tree.home_file())
        );
        assert_eq!(loaded.source("kill_grace"), &Source::Default);
        assert_eq!(loaded.files.project, Some(tree.project_file()));
    }

    #[test]
    fn project_file_can_unset_a_home_timeout_with_null() {
        let tree = Tree::new();
        tree.write_home("timeout: 10m\ndelay_exit: 4s\n")
            .write_project("timeout: ~\ndelay_exit: null\n");
        let loaded = tree.load().unwrap();
        assert_eq!(loaded.config.timeout, None);
        assert_eq!(
            loaded.config.effective_delay_exit(true),
            Duration::from_secs(10)
        );
        assert_eq!(
            loaded.source("timeout"),
            &Source::Project(tree.project_file())
        );
    }

    #[test]
    fn nearest_project_file_wins_and_search_stops_there() {
        let tree = Tree::new();
        tree.write_project("timeout: 1h\n");
        let nearer = tree.project().join("sub").join(PROJECT_CONFIG_FILE);
        fs::write(&nearer, "idle_timeout: 5s\n").unwrap();
        let loaded = tree.load().unwrap();
        assert_eq!(loaded.files.project, Some(nearer));
        assert_eq!(loaded.config.idle_timeout, Some(Duration::from_secs(5)));
        // The farther file is not merged in.
        assert_eq!(loaded.config.timeout, None);
    }

    #[test]
    fn empty_and_comment_only_files_are_valid() {
        let tree = Tree::new();
        tree.write_home("")
            .write_project("# nothing yet\n\n   # indented\n");
        let loaded = tree.load().unwrap();
        assert_eq!(loaded.config, Config::defaults(&tree.home()));
        assert!(loaded.files.home_exists);
        tree.write_home("---\n");
        assert_eq!(tree.load().unwrap().config, Config::defaults(&tree.home()));
    }

    #[test]
    fn unknown_key_names_key_file_line_and_suggests_the_fix() {
        let tree = Tree::new();
        tree.write_home("telemetry: local\ntimeout: 5m\nretension_days: 3\n");
        let message = tree.error();
        let expected = format!(
            "unknown key 'retension_days' in {} at line 3; did you mean 'retention_days'? run `earlyexit config show` for all keys",
            tree.home_file().display()
        );
        assert_eq!(message, expected);
    }

    #[test]
    fn unknown_key_far_from_any_key_gets_no_suggestion() {
        let tree = Tree::new();
        tree.write_project("pattern: ERROR\n");
        let message = tree.error();
        assert!(message.starts_with(&format!(
            "unknown key 'pattern' in {} at line 1; run",
            tree.project_file().display()
        )));
    }

    #[test]
    fn dashes_in_keys_are_suggested_as_underscores() {
        assert_eq!(did_you_mean("kill-grace"), Some("kill_grace"));
        assert_eq!(did_you_mean("idle_timout"), Some("idle_timeout"));
        assert_eq!(did_you_mean("colour"), Some("color"));
        assert_eq!(did_you_mean("zzz"), None);
    }

    #[test]
    fn bad_values_name_the_key_the_file_and_the_line() {
        let tree = Tree::new();
        let cases = [
            (
                "telemetry: loud\n",
                "telemetry",
                1,
                "unknown variant `loud`",
            ),
            (
                "\nretention_days: 0\n",
                "retention_days",
                2,
                "must be at least 1",
            ),
            ("retention_days: -4\n", "retention_days", 1, "negative"),
            (
                "retention_days: 5000000000\n",
                "retention_days",
                1,
                "too large",
            ),
            (
                "max_db_size_mb: lots\n",
                "max_db_size_mb",
                1,
                "invalid type",
            ),
            (
                "unix_exit_codes: maybe\n",
                "unix_exit_codes",
                1,
                "invalid type",
            ),
            ("timeout: 5x\n", "timeout", 1, "invalid duration '5x'"),
            ("idle_timeout: 0\n", "idle_timeout", 1, "no limit"),
            ("kill_grace: -1\n", "kill_grace", 1, "invalid duration '-1'"),
            ("color: purple\n", "color", 1, "unknown variant `purple`"),
            ("delay_exit: [1]\n", "delay_exit", 1, "a duration"),
            ("timeout: [1m\n", "timeout", 1, "a duration"),
        ];
        for (text, key, line, detail) in cases {
            tree.write_home(text);
            let message = tree.error();
            let head = format!(
                "invalid value for '{key}' in {} at line {line}: ",
                tree.home_file().display()
            );
            assert!(message.starts_with(&head), "{text:?}: {message}");
            assert!(message.contains(detail), "{text:?}: {message}");
            assert!(message.ends_with("for what each key accepts"), "{message}");
        }
    }

    #[test]
    fn tilde_in_db_is_expanded_only_with_a_home() {
        let tree = Tree::new();
        tree.write_home("db: ~/data/ee.db\n");
        let dirs = ConfigDirs {
            earlyexit_home: tree.home(),
            user_home: Some(PathBuf::from("/home/u")),
        };
        let loaded = Config::load_in(&dirs, &tree.deep()).unwrap();
        assert_eq!(loaded.config.db, PathBuf::from("/home/u/data/ee.db"));
        let message = tree.error();
        assert!(message.contains("invalid value for 'db'"), "{message}");
        assert!(message.contains("HOME is not set"), "{message}");
        tree.write_home("db: ~bob/ee.db\n");
        assert!(tree.error().contains("only '~/'"));
    }

    #[test]
    fn absolute_db_is_kept() {
        let tree = Tree::new();
        tree.write_project("db: /var/lib/ee/t.db\n");
        assert_eq!(
            tree.load().unwrap().config.db,
            PathBuf::from("/var/lib/ee/t.db")
        );
    }

    #[test]
    fn duplicate_keys_and_bad_yaml_name_the_file() {
        let tree = Tree::new();
        tree.write_home("timeout: 1m\ncolor: auto\ntimeout: 2m\n");
        let message = tree.error();
        assert_eq!(
            message,
            format!(
                "key 'timeout' is set more than once in {} at line 3; keep only one",
                tree.home_file().display()
            )
        );
        tree.write_home("");
        tree.write_project("color: auto\ntimeout: '1m\n");
        let message = tree.error();
        assert!(
            message.starts_with(&format!(
                "cannot read {} as configuration",
                tree.project_file().display()
            )),
            "{message}"
        );
        assert!(message.contains("line"), "{message}");
        tree.write_project("just some words\n");
        let message = tree.error();
        assert!(
            message.contains("a mapping of earlyexit settings"),
            "{message}"
        );
    }

    #[test]
    fn unreadable_and_oversized_files_are_errors_naming_the_file() {
        let tree = Tree::new();
        fs::create_dir(tree.project_file()).unwrap();
        let message = tree.error();
        assert!(message.starts_with(&format!(
            "cannot read config file {}",
            tree.project_file().display()
        )));
        fs::remove_dir(tree.project_file()).unwrap();
        tree.write_home(&"# padding\n".repeat(10_000));
        assert!(matches!(tree.load(), Err(ConfigError::TooLarge { .. })));
    }

    #[test]
    fn home_comes_from_earlyexit_home_then_home() {
        assert_eq!(
            home_from(Some("/x".into()), Some("/home/u".into())).unwrap(),
            PathBuf::from("/x")
        );
        assert_eq!(
            home_from(None, Some("/home/u".into())).unwrap(),
            PathBuf::from("/home/u/.earlyexit")
        );
        let message = home_from(None, None).unwrap_err().to_string();
        assert!(
            message.contains("neither EARLYEXIT_HOME nor HOME is set"),
            "{message}"
        );
        assert!(message.contains("export EARLYEXIT_HOME="), "{message}");
    }

    #[test]
    fn every_documented_key_is_a_config_field_and_back() {
        let value = serde_json::to_value(Config::defaults(Path::new("/h"))).unwrap();
        let fields: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut documented: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
        documented.sort_unstable();
        let mut fields = fields;
        fields.sort_unstable();
        assert_eq!(fields, documented);
        for key in KEYS {
            let unset_allowed = value[key.name].is_null();
            assert_eq!(unset_allowed, !key.when_unset.is_empty(), "{}", key.name);
        }
    }

    #[test]
    fn delay_exit_doc_matches_the_constants() {
        let doc = key_doc("delay_exit").unwrap().when_unset;
        assert!(doc.contains(&format!(
            "{} in command mode",
            format_duration(DEFAULT_DELAY_EXIT_COMMAND)
        )));
        assert!(doc.contains(&format!(
            "{} in pipe mode",
            format_duration(DEFAULT_DELAY_EXIT_PIPE)
        )));
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
