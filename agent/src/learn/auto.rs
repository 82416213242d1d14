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
//! Owns that choice and its line. It reads the database once, before the
//! run starts, without writing anything (runs still waiting in the spool,
//! at most a minute old, are not seen); a database that cannot be read
//! falls back to the library, and never stops the run.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::builtin;
use super::suggest::{Advice, PatternSource, advise, show_secs};
use crate::store::{HistoryRun, PatternEffectiveness, Store, StoreError, block_on};

/// What `--auto` chose for one run.
#[derive(Debug, Clone, PartialEq)]
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

/// What `--auto` uses for `argv`, from the database at `db` (`None`:
/// telemetry is off, only the library is used).
pub fn choose(argv: &[String], db: Option<&Path>) -> AutoChoice {
    let command = crate::report::quote_command(argv);
    let hash = earlyexit_scrub::sha256_hex(&command);
    let (history, unreadable) = match db.map(|db| read_history(db, &hash, &command)) {
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
