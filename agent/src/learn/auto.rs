//! `--auto` (and `auto: true`): what a run without a pattern uses.
//!
//! The pattern is the best one known for the command — learned from its
//! recorded runs when they are enough and the pattern did well, else the
//! built-in library's entries for the command's tools — and the delay and
//! timeouts are the ones [`super::suggest`] learns, under the same safety
//! rules; with too few runs, the delay stays the default and no timeout is
//! set (nothing can kill a normal run). One line on stderr says what was
//! chosen and why.
//!
//! Owns that choice, its line, and the cache that keeps it off the
//! startup path: reading the database costs a few milliseconds, more
//! than `--auto`'s whole startup budget (2 ms), so the choice for a
//! command is kept in `auto-cache/<command hash>.json` beside the
//! database, with the time it was made and a stamp of the database (size
//! and modification time of the file and its WAL). It is used while it is
//! younger than [`CACHE_MAX_AGE`] or nothing was written to the database
//! since; otherwise it is made again from the database. So at most one
//! run of a command a minute pays for reading the database, and a choice
//! is at most a minute behind the database — as the database itself is
//! behind short runs, which wait in the spool up to a minute. A database or cache that cannot be read falls back to
//! the library (or to reading the database) and never stops the run; the
//! cache is best effort and only ever holds what the database said.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::builtin;
use super::suggest::{Advice, PatternSource, advise, show_secs};
use crate::store::{HistoryRun, PatternEffectiveness, Store, StoreError, block_on};

/// The cache folder's name, beside the database.
pub const CACHE_DIR: &str = "auto-cache";

/// A cached choice younger than this is used even if the database changed
/// since: the spool's own delay ([`crate::spool::SPOOL_MAX_AGE`]), so the
/// choice is never further behind than the database already is.
pub const CACHE_MAX_AGE: Duration = crate::spool::SPOOL_MAX_AGE;

/// What `--auto` chose for one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoChoice {
    /// The error pattern; `None` when neither history nor the library has one.
    pub pattern: Option<String>,
    /// Where it comes from.
    pub source: PatternSource,
    /// `--exclude` patterns that go with it.
    pub excludes: Vec<String>,
    /// The learned delay after a match; `None` keeps the default.
    pub delay_exit: Option<Duration>,
    /// The learned overall timeout; `None` sets none.
    pub timeout: Option<Duration>,
    /// The learned idle timeout; `None` sets none.
    pub idle_timeout: Option<Duration>,
    /// Runs of the command that were recorded.
    pub runs: usize,
    /// The one line that says what was chosen and why.
    pub note: String,
}

impl AutoChoice {
    /// The `auto` object of the `--json` summary.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "pattern": self.pattern,
            "pattern_source": self.source,
            "excludes": self.excludes,
            "delay_exit_s": self.delay_exit.map(|d| d.as_secs_f64()),
            "timeout_s": self.timeout.map(|d| d.as_secs_f64()),
            "idle_timeout_s": self.idle_timeout.map(|d| d.as_secs_f64()),
            "runs": self.runs,
            "note": self.note,
        })
    }
}

/// The recorded runs of `command` and the pattern rows; nothing when there
/// is no database yet.
fn read_history(
    db: &Path,
    command_hash: &str,
    command: &str,
) -> Result<(Vec<HistoryRun>, Vec<PatternEffectiveness>), StoreError> {
    if !db.exists() {
        return Ok((Vec::new(), Vec::new()));
    }
    block_on(async {
        let store = Store::open_for_reading(db).await?;
        let runs = store.command_history(command_hash, command).await?;
        let effectiveness = if runs.iter().any(|r| !r.pattern.is_empty()) {
            store.pattern_effectiveness().await?
        } else {
            Vec::new()
        };
        store.close().await;
        Ok((runs, effectiveness))
    })
}

/// A cached choice and the state of the database it was made from.
#[derive(Debug, Serialize, Deserialize)]
struct Cached {
    stamp: String,
    /// When it was made, ms since the epoch.
    made_at_ms: i64,
    choice: AutoChoice,
}

/// Size and modification time of the database and its WAL: changes with
/// every write.
fn db_stamp(db: &Path) -> Option<String> {
    let part = |p: &Path| match std::fs::metadata(p) {
        Ok(m) => format!("{}:{}.{}", m.len(), m.mtime(), m.mtime_nsec()),
        Err(_) => "-".to_string(),
    };
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    db.exists()
        .then(|| format!("{}|{}", part(db), part(Path::new(&wal))))
}

fn cache_file(db: &Path, hash: &str) -> PathBuf {
    db.parent()
        .unwrap_or(Path::new("."))
        .join(CACHE_DIR)
        .join(format!("{hash}.json"))
}

fn read_cache(path: &Path, stamp: &str) -> Option<AutoChoice> {
    let cached: Cached = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    let age = crate::store::now_ms().saturating_sub(cached.made_at_ms);
    let young = (0..i64::try_from(CACHE_MAX_AGE.as_millis()).unwrap_or(i64::MAX)).contains(&age);
    (young || cached.stamp == stamp).then_some(cached.choice)
}

/// Best effort: a cache that cannot be written only costs the next run a
/// database read.
fn write_cache(path: &Path, stamp: String, choice: &AutoChoice) {
    let Ok(text) = serde_json::to_vec(&Cached {
        stamp,
        made_at_ms: crate::store::now_ms(),
        choice: choice.clone(),
    }) else {
        return;
    };
    if crate::private_file::create_parent(path).is_err() {
        return;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let written = crate::private_file::create_new(&tmp)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &text))
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// What `--auto` uses for `argv`, from the database at `db` (`None`:
/// telemetry is off, only the library is used), through the cache (see
/// the module docs).
pub fn choose(argv: &[String], db: Option<&Path>) -> AutoChoice {
    let command = crate::report::quote_command(argv);
    let hash = earlyexit_scrub::sha256_hex(&command);
    let Some(db) = db else {
        return decide(argv, &command, &hash, None);
    };
    let Some(stamp) = db_stamp(db) else {
        // No database yet: nothing to read, nothing to cache.
        return decide(argv, &command, &hash, Some(db));
    };
    let cache = cache_file(db, &hash);
    if let Some(choice) = read_cache(&cache, &stamp) {
        return choice;
    }
    let choice = decide(argv, &command, &hash, Some(db));
    // Stamped after reading: closing the database may have checkpointed it.
    if let Some(stamp) = db_stamp(db) {
        write_cache(&cache, stamp, &choice);
    }
    choice
}

/// The choice from the database itself.
fn decide(argv: &[String], command: &str, hash: &str, db: Option<&Path>) -> AutoChoice {
    let command = command.to_string();
    let (history, unreadable) = match db.map(|db| read_history(db, hash, &command)) {
        None => ((Vec::new(), Vec::new()), None),
        Some(Ok(h)) => (h, None),
        Some(Err(e)) => ((Vec::new(), Vec::new()), Some(e.to_string())),
    };
    let (runs, effectiveness) = history;
    match advise(&command, argv, &runs, &effectiveness) {
        Advice::Suggested(s) => {
            let what = match s.pattern_source {
                PatternSource::Learned => "the learned pattern",
                PatternSource::Builtin => "the built-in library pattern",
                PatternSource::None => "no pattern",
            };
            let mut values = vec![format!("--delay-exit {}", show_secs(s.delay_exit_s))];
            values.extend(s.idle_timeout_s.map(|t| format!("-I {}", show_secs(t))));
            values.extend(s.timeout_s.map(|t| format!("-t {}", show_secs(t))));
            let note = format!(
                "earlyexit: --auto: {what} ({}); {} from {} runs of '{command}' ({} successful){}",
                s.evidence.pattern.evidence,
                values.join(" "),
                s.runs,
                s.successful_runs,
                if s.timeout_s.is_none() {
                    format!("; no timeouts: {}", s.evidence.timeout.evidence)
                } else {
                    String::new()
                },
            );
            AutoChoice {
                pattern: s.pattern.clone(),
                source: s.pattern_source,
                excludes: s.excludes.clone(),
                delay_exit: Some(Duration::from_secs_f64(s.delay_exit_s)),
                timeout: s.timeout_s.map(Duration::from_secs_f64),
                idle_timeout: s.idle_timeout_s.map(Duration::from_secs_f64),
                runs: s.runs,
                note,
            }
        }
        Advice::TooFew { runs, reason } => {
            let builtin = builtin::for_command(argv);
            let why = match &unreadable {
                Some(e) => format!("the database could not be read ({e})"),
                None if db.is_none() => "telemetry is off".to_string(),
                None => reason,
            };
            let note = match &builtin {
                Some(b) => format!(
                    "earlyexit: --auto: the built-in library pattern for {} ({} entries); default delay, no timeouts: {why}",
                    b.tools_shown(),
                    b.ids.len(),
                ),
                None => format!(
                    "earlyexit: --auto: no pattern known for '{command}' and no timeouts: {why}"
                ),
            };
            AutoChoice {
                pattern: builtin.as_ref().map(|b| b.pattern.clone()),
                source: if builtin.is_some() {
                    PatternSource::Builtin
                } else {
                    PatternSource::None
                },
                excludes: builtin.map(|b| b.excludes).unwrap_or_default(),
                delay_exit: None,
                timeout: None,
                idle_timeout: None,
                runs,
                note,
            }
        }
    }
}
