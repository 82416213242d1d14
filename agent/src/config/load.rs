//! Layering: defaults < the home file < the project file, key by key.
//!
//! Owns [`Config::load`] and its variants, [`LoadedConfig`] (the values and
//! the [`Source`] of each), the checks that span a whole file (a zero
//! `sync_on_exit_timeout`, the level a configured collector implies), and
//! paths made relative to the file that sets them (`~/` expanded).
//!
//! It must never apply command-line flags (the caller does, last), and never
//! parse text itself: each file goes through [`parse`](super::parse).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::files::read_config_file;
use super::parse::{RawConfig, parse_config_text};
use super::{Config, ConfigDirs, ConfigError, ConfigFiles, DEFAULT_TELEMETRY_WITH_COLLECTOR};

impl Config {
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
            feedback,
            anonymize_local,
            scrub_disable,
            scrub_rules,
            scrub_keyed,
            scrub_key_file,
            collector,
            sync_on_exit,
            sync_on_exit_timeout,
            auto,
            fp_filter,
            fp_threshold,
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
            feedback,
            anonymize_local,
            scrub_disable,
            scrub_rules,
            scrub_keyed,
            sync_on_exit,
            auto,
            fp_filter
        );
        if let Some(threshold) = fp_threshold {
            if !(0.5..=1.0).contains(&threshold) {
                return Err(ConfigError::InvalidValue {
                    key: "fp_threshold".to_string(),
                    path: source.path().unwrap_or(Path::new("")).to_path_buf(),
                    line: None,
                    detail: format!(
                        "{threshold} is not a confidence from 0.5 to 1: write e.g. `fp_threshold: 0.9` (higher ignores fewer matches)"
                    ),
                });
            }
            config.fp_threshold = threshold;
            set.push("fp_threshold");
        }
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
        if let Some(key_file) = scrub_key_file {
            let file = source.path().unwrap_or(Path::new(""));
            config.scrub_key_file =
                Some(resolve_path(&key_file, file, user_home).map_err(|detail| {
                    ConfigError::InvalidValue {
                        key: "scrub_key_file".to_string(),
                        path: file.to_path_buf(),
                        line: None,
                        detail,
                    }
                })?);
            set.push("scrub_key_file");
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

#[cfg(test)]
mod tests {
    use crate::config::test_support::Tree;
    use crate::config::*;
    use std::path::PathBuf;
    use std::time::Duration;

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
    fn fp_threshold_must_be_a_confidence_and_fp_filter_a_mode() {
        let tree = Tree::new();
        tree.write_home("fp_threshold: 0.3\n");
        let e = tree.error();
        assert!(e.contains("fp_threshold") && e.contains("0.5 to 1"), "{e}");
        tree.write_home("fp_filter: strict\n");
        let e = tree.error();
        assert!(e.contains("fp_filter") && e.contains("enforce"), "{e}");
        tree.write_home("fp_threshold: 1\n");
        assert_eq!(tree.load().unwrap().config.fp_threshold, 1.0);
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
             kill_grace: 250ms\ndb: runs/t.db\ncolor: never\nfeedback: ask\nanonymize_local: true\n\
             scrub_disable: [email]\nscrub_rules:\n  - {name: ticket, regex: 'OPS-[0-9]+', replacement: '<ticket>'}\n\
             scrub_keyed: false\nscrub_key_file: keys/org.key\ncollector: {url: 'https://collector.internal:7700', token: abc}\n\
             sync_on_exit: true\nsync_on_exit_timeout: 500ms\nauto: true\nfp_filter: enforce\n\
             fp_threshold: 0.95\n",
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
        assert_eq!(c.feedback, crate::config::FeedbackMode::Ask);
        assert!(c.anonymize_local);
        assert_eq!(c.scrub_disable, ["email"]);
        assert_eq!(c.scrub_rules[0].name, "ticket");
        assert_eq!(c.scrub_key_file, Some(tree.home().join("keys/org.key")));
        assert!(c.sync_on_exit);
        assert_eq!(c.sync_on_exit_timeout, Duration::from_millis(500));
        assert!(c.auto);
        assert_eq!(c.fp_filter, FpFilterMode::Enforce);
        assert_eq!(c.fp_threshold, 0.95);
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
}
