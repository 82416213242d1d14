//! `earlyexit config show|path`: which configuration is in effect, where
//! each value came from, and which files apply in this directory.
//!
//! This module only presents. Files, keys, defaults and validation belong to
//! [`crate::config`] (its [`KEYS`] table is the one list of keys). It must
//! never write a config file or open the database.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use serde_json::{Value, json};

use crate::config::{
    Config, ConfigDirs, ConfigError, KEYS, LoadedConfig, PROJECT_CONFIG_FILE, Source,
};

/// One-line help for the `config` subcommand (for the parent command's
/// `#[command(about = …)]`).
pub const ABOUT: &str = "Show the configuration in effect and the files it comes from";

/// Long help for the `config` subcommand (`earlyexit config --help`).
pub const LONG_ABOUT: &str = "Show the configuration in effect and the files it comes from.\n\n\
    Settings are read from $EARLYEXIT_HOME/config.yaml (EARLYEXIT_HOME defaults to \
    ~/.earlyexit), then from the nearest .earlyexit.yaml in the working directory or a \
    parent, which overrides the home file key by key. Command-line flags override both. \
    `earlyexit config show` lists every key with its default.";

/// `earlyexit config show|path`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum ConfigCommand {
    /// Show every key: the value in effect, its default, the file that set
    /// it, and what it does. Exits with an error after the list when a file
    /// is invalid.
    Show {
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the home config file, the project config file in effect (if
    /// any) and the telemetry database path.
    Path,
}

/// Runs `earlyexit config …` for the working directory `cwd`.
///
/// When a config file is invalid, `show` still prints every key (with its
/// default) and then returns the error, which names the file and the key.
pub fn run(cmd: &ConfigCommand, cwd: &Path) -> anyhow::Result<ExitCode> {
    let dirs = ConfigDirs::from_env()?;
    let result = run_with(cmd, &dirs, cwd, &mut io::stdout().lock());
    match result {
        Err(e)
            if e.downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) =>
        {
            Ok(ExitCode::SUCCESS)
        }
        other => other,
    }
}

fn run_with(
    cmd: &ConfigCommand,
    dirs: &ConfigDirs,
    cwd: &Path,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let (loaded, error) = match Config::load_in(dirs, cwd) {
        Ok(loaded) => (loaded, None),
        Err(error) => (LoadedConfig::defaults(dirs, cwd), Some(error)),
    };
    match cmd {
        ConfigCommand::Show { json: false } => {
            out.write_all(show_text(&loaded, error.as_ref()).as_bytes())?
        }
        ConfigCommand::Show { json: true } => {
            serde_json::to_writer_pretty(&mut *out, &show_json(&loaded, error.as_ref()))?;
            writeln!(out)?;
        }
        ConfigCommand::Path => out.write_all(path_text(&loaded, error.as_ref()).as_bytes())?,
    }
    out.flush()?;
    match error {
        Some(error) => Err(error.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// One row of `config show`.
struct Row {
    key: &'static str,
    value: Value,
    default: Value,
    source: Source,
    description: &'static str,
    when_unset: &'static str,
}

fn rows(loaded: &LoadedConfig) -> Vec<Row> {
    let values = serde_json::to_value(&loaded.config).unwrap_or(Value::Null);
    let defaults =
        serde_json::to_value(Config::defaults(&loaded.files.earlyexit_home)).unwrap_or(Value::Null);
    KEYS.iter()
        .map(|key| Row {
            key: key.name,
            value: values[key.name].clone(),
            default: defaults[key.name].clone(),
            source: loaded.source(key.name).clone(),
            description: key.description,
            when_unset: key.when_unset,
        })
        .collect()
}

/// A JSON value as written in a config file: strings bare, `null` as `unset`.
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "unset".to_string(),
        other => other.to_string(),
    }
}

fn home_line(loaded: &LoadedConfig) -> String {
    let state = if loaded.files.home_exists {
        ""
    } else {
        " (not found)"
    };
    format!("{}{state}", loaded.files.home.display())
}

fn project_line(loaded: &LoadedConfig) -> String {
    match &loaded.files.project {
        Some(path) => path.display().to_string(),
        None => format!(
            "none found (looked for {PROJECT_CONFIG_FILE} in {} and every parent)",
            loaded.files.searched_from.display()
        ),
    }
}

/// Cells wider than this do not widen their column in the `show` table.
const MAX_ALIGNED_WIDTH: usize = 24;

fn show_text(loaded: &LoadedConfig, error: Option<&ConfigError>) -> String {
    let mut text = String::new();
    text.push_str("Config files (the project file overrides the home file key by key; flags override both):\n");
    text.push_str(&format!("  home     {}\n", home_line(loaded)));
    text.push_str(&format!("  project  {}\n\n", project_line(loaded)));
    if error.is_some() {
        text.push_str("A config file has an error (below); showing the defaults.\n\n");
    }

    let rows = rows(loaded);
    let table: Vec<[String; 4]> = rows
        .iter()
        .map(|row| {
            [
                row.key.to_string(),
                plain(&row.value),
                plain(&row.default),
                row.source.to_string(),
            ]
        })
        .collect();
    let header = ["KEY", "VALUE", "DEFAULT", "SET BY"].map(String::from);
    // Long cells (paths) overflow their column instead of widening it for
    // every row.
    let mut widths = header.each_ref().map(String::len);
    for cells in &table {
        for (width, cell) in widths.iter_mut().zip(cells) {
            if cell.len() <= MAX_ALIGNED_WIDTH {
                *width = (*width).max(cell.len());
            }
        }
    }
    let line = |cells: &[String; 4]| {
        format!(
            "{:w0$}  {:w1$}  {:w2$}  {}\n",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
        )
    };
    text.push_str(&line(&header));
    for (row, cells) in rows.iter().zip(&table) {
        text.push_str(&line(cells));
        text.push_str(&format!("    {}", row.description));
        if !row.when_unset.is_empty() {
            text.push_str(&format!("; unset: {}", row.when_unset));
        }
        text.push('\n');
    }
    text.push_str(
        "\nDurations are seconds or have a unit: 90, 1.5s, 250ms, 2m, 1h. \
         Write `~` for unset. Relative `db` paths are relative to the file that sets them.\n",
    );
    text
}

fn show_json(loaded: &LoadedConfig, error: Option<&ConfigError>) -> Value {
    let keys: Vec<Value> = rows(loaded)
        .into_iter()
        .map(|row| {
            let source = match &row.source {
                Source::Default => "default",
                Source::Home(_) => "home",
                Source::Project(_) => "project",
            };
            json!({
                "key": row.key,
                "value": row.value,
                "default": row.default,
                "source": source,
                "file": row.source.path(),
                "description": row.description,
                "when_unset": (!row.when_unset.is_empty()).then_some(row.when_unset),
            })
        })
        .collect();
    json!({
        "files": {
            "home": { "path": loaded.files.home, "exists": loaded.files.home_exists },
            "project": { "path": loaded.files.project, "searched_from": loaded.files.searched_from },
        },
        "keys": keys,
        "error": error.map(ToString::to_string),
    })
}

fn path_text(loaded: &LoadedConfig, error: Option<&ConfigError>) -> String {
    let database = match error {
        None => loaded.config.db.display().to_string(),
        Some(_) => "unknown until the config error below is fixed".to_string(),
    };
    format!(
        "home config:    {}\nproject config: {}\ndatabase:       {database}\n",
        home_line(loaded),
        project_line(loaded)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HOME_CONFIG_FILE;
    use std::fs;
    use std::path::PathBuf;

    struct Setup {
        _root: tempfile::TempDir,
        dirs: ConfigDirs,
        project: PathBuf,
        cwd: PathBuf,
    }

    fn setup() -> Setup {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("ee-home");
        let project = root.path().join("app");
        let cwd = project.join("src");
        fs::create_dir_all(&home).unwrap();
        fs::create_dir_all(&cwd).unwrap();
        Setup {
            dirs: ConfigDirs {
                earlyexit_home: home,
                user_home: None,
            },
            project,
            cwd,
            _root: root,
        }
    }

    impl Setup {
        fn home_file(&self) -> PathBuf {
            self.dirs.earlyexit_home.join(HOME_CONFIG_FILE)
        }
        fn project_file(&self) -> PathBuf {
            self.project.join(PROJECT_CONFIG_FILE)
        }
        fn run(&self, cmd: ConfigCommand) -> (String, anyhow::Result<ExitCode>) {
            let mut out = Vec::new();
            let result = run_with(&cmd, &self.dirs, &self.cwd, &mut out);
            (String::from_utf8(out).unwrap(), result)
        }
    }

    fn row<'a>(text: &'a str, key: &str) -> &'a str {
        text.lines()
            .find(|line| line.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("no row for {key} in\n{text}"))
    }

    #[test]
    fn show_lists_every_key_with_value_default_and_source() {
        let s = setup();
        fs::write(s.home_file(), "retention_days: 30\ntimeout: 10m\n").unwrap();
        fs::write(s.project_file(), "timeout: 90\n").unwrap();
        let (text, result) = s.run(ConfigCommand::Show { json: false });
        assert_eq!(result.unwrap(), ExitCode::SUCCESS);
        for key in KEYS {
            row(&text, key.name);
            assert!(text.contains(key.description), "{}", key.name);
        }
        let retention: Vec<&str> = row(&text, "retention_days").split_whitespace().collect();
        assert_eq!(
            retention,
            [
                "retention_days",
                "30",
                "90",
                &*s.home_file().display().to_string()
            ]
        );
        let timeout: Vec<&str> = row(&text, "timeout").split_whitespace().collect();
        assert_eq!(
            timeout,
            [
                "timeout",
                "90s",
                "unset",
                &*s.project_file().display().to_string()
            ]
        );
        let kill: Vec<&str> = row(&text, "kill_grace").split_whitespace().collect();
        assert_eq!(kill, ["kill_grace", "5s", "5s", "default"]);
        assert!(text.contains(&format!("  home     {}\n", s.home_file().display())));
        assert!(text.contains(&format!("  project  {}\n", s.project_file().display())));
        assert!(text.contains("unset: 10s in command mode, 0s in pipe mode"));
    }

    #[test]
    fn show_says_when_files_are_missing() {
        let s = setup();
        let (text, result) = s.run(ConfigCommand::Show { json: false });
        assert!(result.is_ok());
        assert!(text.contains(&format!("{} (not found)", s.home_file().display())));
        assert!(text.contains(&format!(
            "none found (looked for .earlyexit.yaml in {} and every parent)",
            s.cwd.display()
        )));
    }

    #[test]
    fn show_json_has_the_same_facts() {
        let s = setup();
        fs::write(s.project_file(), "color: never\n").unwrap();
        let (text, result) = s.run(ConfigCommand::Show { json: true });
        assert!(result.is_ok());
        let value: Value = serde_json::from_str(&text).unwrap();
        let keys = value["keys"].as_array().unwrap();
        assert_eq!(keys.len(), KEYS.len());
        let color = keys.iter().find(|k| k["key"] == "color").unwrap();
        assert_eq!(color["value"], "never");
        assert_eq!(color["default"], "auto");
        assert_eq!(color["source"], "project");
        assert_eq!(color["file"], s.project_file().display().to_string());
        let timeout = keys.iter().find(|k| k["key"] == "timeout").unwrap();
        assert_eq!(timeout["value"], Value::Null);
        assert_eq!(timeout["source"], "default");
        assert_eq!(timeout["when_unset"], "no limit");
        assert_eq!(value["files"]["home"]["exists"], false);
        assert_eq!(
            value["files"]["project"]["path"],
            s.project_file().display().to_string()
        );
        assert_eq!(value["error"], Value::Null);
    }

    #[test]
    fn show_still_lists_the_keys_when_a_file_is_invalid() {
        let s = setup();
        fs::write(s.project_file(), "retension_days: 3\n").unwrap();
        let (text, result) = s.run(ConfigCommand::Show { json: false });
        let error = result.unwrap_err().to_string();
        assert!(error.contains("unknown key 'retension_days'"), "{error}");
        assert!(
            error.contains(&s.project_file().display().to_string()),
            "{error}"
        );
        assert!(text.contains("showing the defaults"));
        for key in KEYS {
            row(&text, key.name);
        }
        let (json_text, result) = s.run(ConfigCommand::Show { json: true });
        assert!(result.is_err());
        let value: Value = serde_json::from_str(&json_text).unwrap();
        assert!(
            value["error"]
                .as_str()
                .unwrap()
                .contains("did you mean 'retention_days'")
        );
    }

    #[test]
    fn path_prints_the_files_and_the_database() {
        let s = setup();
        fs::write(s.project_file(), "db: data/ee.db\n").unwrap();
        let (text, result) = s.run(ConfigCommand::Path);
        assert!(result.is_ok());
        assert_eq!(
            text,
            format!(
                "home config:    {} (not found)\nproject config: {}\ndatabase:       {}\n",
                s.home_file().display(),
                s.project_file().display(),
                s.project.join("data/ee.db").display()
            )
        );
    }

    #[test]
    fn path_with_an_invalid_file_fails_after_printing_the_files() {
        let s = setup();
        fs::write(s.home_file(), "timeout: soon\n").unwrap();
        let (text, result) = s.run(ConfigCommand::Path);
        assert!(text.contains("database:       unknown until the config error"));
        let error = result.unwrap_err().to_string();
        assert!(error.contains("invalid value for 'timeout'"), "{error}");
    }

    #[test]
    fn subcommands_parse_and_have_help() {
        use clap::{CommandFactory, Parser, Subcommand};
        #[derive(Parser)]
        struct Cli {
            #[command(subcommand)]
            command: Top,
        }
        #[derive(Subcommand)]
        enum Top {
            #[command(about = ABOUT, long_about = LONG_ABOUT)]
            Config {
                #[command(subcommand)]
                cmd: ConfigCommand,
            },
        }
        let parse = |args: &[&str]| {
            Cli::try_parse_from(args).map(|cli| match cli.command {
                Top::Config { cmd } => cmd,
            })
        };
        assert_eq!(
            parse(&["ee", "config", "show", "--json"]).unwrap(),
            ConfigCommand::Show { json: true }
        );
        assert_eq!(
            parse(&["ee", "config", "path"]).unwrap(),
            ConfigCommand::Path
        );
        assert!(parse(&["ee", "config", "edit"]).is_err());
        let mut command = Cli::command();
        let config = command.find_subcommand_mut("config").unwrap();
        let help = config.render_long_help().to_string();
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            help.contains("overrides the home file key by key"),
            "{help}"
        );
        assert!(help.contains("show"), "{help}");
        assert!(help.contains("path"), "{help}");
    }
}
