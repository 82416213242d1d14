//! Where configuration lives: `$EARLYEXIT_HOME` (else `$HOME/.earlyexit`),
//! its `config.yaml`, and the nearest `.earlyexit.yaml` from the working
//! directory up; and reading one file, refusing any larger than
//! [`MAX_CONFIG_BYTES`].
//!
//! It finds and reads files, nothing more: it must never parse their text,
//! never write a file, and never read an environment variable but
//! `EARLYEXIT_HOME` and `HOME` (only in [`ConfigDirs::from_env`] and
//! [`earlyexit_home`]).

use std::ffi::OsString;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::{
    ConfigError, EARLYEXIT_HOME_ENV, HOME_CONFIG_FILE, HOME_DIR_NAME, MAX_CONFIG_BYTES,
    PROJECT_CONFIG_FILE,
};

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

pub(super) fn home_from(
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

/// Reads a config file; `None` when it does not exist.
pub(super) fn read_config_file(path: &Path) -> Result<Option<String>, ConfigError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::Tree;
    use crate::config::*;
    use std::fs;
    use std::time::Duration;

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
}
