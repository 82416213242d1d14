//! Configuration files: `$EARLYEXIT_HOME/config.yaml` and the nearest
//! `.earlyexit.yaml` above the working directory.
//!
//! This module owns every configuration key: its type, its default (a named
//! constant with the reason for it), its one-line description ([`KEYS`]),
//! validation, and the error message a user sees when a file is wrong.
//! Precedence is: defaults < home file < project file < command-line flags;
//! this module applies the first three, the caller applies the flags. One
//! file per job:
//!
//! | file | owns |
//! |---|---|
//! | [`schema`] | [`Config`] and the types of its values ([`TelemetryLevel`], [`ColorChoice`], [`CollectorConfig`], [`ScrubRule`]); every default as a named constant with its reason; the `config show --json` form |
//! | [`keys`] | [`KEYS`]: each key's description for `config show`; the suggestion for a mistyped key |
//! | [`files`] | where the files are ([`ConfigDirs`], [`ConfigFiles`], [`earlyexit_home`]); reading one file within [`MAX_CONFIG_BYTES`] |
//! | [`parse`] | one file's text to the keys it sets: YAML, durations, limits; parser errors turned into errors naming the key and line |
//! | [`load`] | layering defaults < home < project ([`Config::load`], [`LoadedConfig`], [`Source`]); paths relative to the file that sets them |
//! | [`error`] | [`ConfigError`]: every way a file can be wrong, and what to do |
//!
//! This file holds the names every file uses: the environment variable, the
//! file names and the size limit. Within the folder imports run one way:
//! `schema` and `keys` use no other file, `error` only those names, `files`
//! the error, `parse` the schema, keys and error, and `load` all of them.
//!
//! It must never write a file, never read an environment variable other
//! than `EARLYEXIT_HOME` and `HOME` (and only in [`Config::load`] /
//! [`earlyexit_home`]), and never parse YAML when a file is absent: it runs
//! on every start of earlyexit. It never builds a scrubber or touches the
//! scrub key: `privacy` does, from a [`Config`]. Configuration sits below
//! every module that reads it and uses none of them.

pub mod error;
pub mod files;
pub mod keys;
pub mod load;
pub mod parse;
pub mod schema;

pub use error::ConfigError;
pub use files::{ConfigDirs, ConfigFiles, earlyexit_home};
pub use keys::{KEYS, KeyDoc};
pub use load::{LoadedConfig, Source};
pub use schema::{
    CollectorConfig, ColorChoice, Config, DEFAULT_AUTO, DEFAULT_COLOR, DEFAULT_DB_FILE,
    DEFAULT_DELAY_EXIT_COMMAND, DEFAULT_DELAY_EXIT_PIPE, DEFAULT_FEEDBACK, DEFAULT_FP_FILTER,
    DEFAULT_FP_THRESHOLD, DEFAULT_KILL_GRACE, DEFAULT_MAX_DB_SIZE_MB, DEFAULT_RETENTION_DAYS,
    DEFAULT_SYNC_ON_EXIT, DEFAULT_SYNC_ON_EXIT_TIMEOUT, DEFAULT_TELEMETRY,
    DEFAULT_TELEMETRY_WITH_COLLECTOR, DEFAULT_UNIX_EXIT_CODES, FeedbackMode, FpFilterMode,
    ScrubRule, TelemetryLevel,
};

/// Environment variable that overrides where earlyexit keeps its files.
pub const EARLYEXIT_HOME_ENV: &str = "EARLYEXIT_HOME";
/// Name of earlyexit's directory under `$HOME` when `EARLYEXIT_HOME` is unset.
pub const HOME_DIR_NAME: &str = ".earlyexit";
/// Name of the home configuration file inside `$EARLYEXIT_HOME`.
pub const HOME_CONFIG_FILE: &str = "config.yaml";
/// Name of the per-project configuration file, searched from the working
/// directory up to the file system root.
pub const PROJECT_CONFIG_FILE: &str = ".earlyexit.yaml";

/// Largest configuration file read, in bytes. A config file holds a dozen
/// `key: value` lines; anything this big is a mistake (a log file renamed,
/// a wrong path), and refusing it keeps start-up fast.
pub const MAX_CONFIG_BYTES: u64 = 64 * 1024;

/// A temporary earlyexit home and project tree, for tests that load files.
#[cfg(test)]
pub(crate) mod test_support {
    use std::fs;
    use std::path::PathBuf;

    use tempfile::TempDir;

    use super::*;

    /// A home directory and a project tree `project/sub/deep` in a tempdir.
    pub(crate) struct Tree {
        root: TempDir,
    }

    impl Tree {
        pub(crate) fn new() -> Tree {
            let tree = Tree {
                root: tempfile::tempdir().unwrap(),
            };
            fs::create_dir_all(tree.home()).unwrap();
            fs::create_dir_all(tree.deep()).unwrap();
            tree
        }
        pub(crate) fn home(&self) -> PathBuf {
            self.root.path().join("ee-home")
        }
        pub(crate) fn project(&self) -> PathBuf {
            self.root.path().join("project")
        }
        pub(crate) fn deep(&self) -> PathBuf {
            self.project().join("sub/deep")
        }
        pub(crate) fn home_file(&self) -> PathBuf {
            self.home().join(HOME_CONFIG_FILE)
        }
        pub(crate) fn project_file(&self) -> PathBuf {
            self.project().join(PROJECT_CONFIG_FILE)
        }
        pub(crate) fn write_home(&self, text: &str) -> &Self {
            fs::write(self.home_file(), text).unwrap();
            self
        }
        pub(crate) fn write_project(&self, text: &str) -> &Self {
            fs::write(self.project_file(), text).unwrap();
            self
        }
        pub(crate) fn load(&self) -> Result<LoadedConfig, ConfigError> {
            Config::load_from(&self.home(), &self.deep())
        }
        pub(crate) fn error(&self) -> String {
            self.load().unwrap_err().to_string()
        }
    }
}
