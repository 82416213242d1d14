//! [`ConfigError`]: every way configuration can fail to load. Each message
//! names the file (and the key and line when known) and says how to fix it.
//!
//! It describes failures only: it must never read a file or decide what is
//! valid.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::{EARLYEXIT_HOME_ENV, MAX_CONFIG_BYTES};

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
