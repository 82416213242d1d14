//! Triage of a finished log: which lines most likely explain the failure,
//! best first, each with a calibrated probability and the signals behind it.
//!
//! Owns reading a log into lines (CRLF, bare CR and LF end a line; lines
//! are numbered from 1), combining the signals of [`signals`] with the
//! learned weights of [`model`], folding a block (a stack trace, a compiler
//! diagnostic) into one finding at its head line, and the text and JSON
//! shapes of a finding. Must never read files or know the agent's store:
//! callers hand in the log and the passing logs used as history.
//!
//! ```
//! use earlyexit_aggregator::triage::Triage;
//! let log = "Compiling demo\nerror[E0308]: mismatched types\n --> src/main.rs:2:5\nerror: could not compile `demo`\n";
//! let findings = Triage::new().unwrap().run(log);
//! assert_eq!(findings[0].line, 2);
//! ```

pub mod model;
pub mod signals;
pub mod train;

use serde::Serialize;

use crate::patterns::{Library, Matcher, PatternError};
pub use model::{MODEL_VERSION, ModelError, TriageModel};
pub use signals::History;

/// Default `--min-score`: a line is shown when it more likely explains the
/// failure than not.
pub const DEFAULT_MIN_SCORE: f32 = 0.5;

/// One line that likely explains the failure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// 1-based line number: the head of the block.
    pub line: usize,
    /// 1-based number of the block's last line (`line` for a lone line):
    /// the finding covers `line..=end_line`.
    pub end_line: usize,
    /// Calibrated probability in `[0, 1]`.
    pub score: f32,
    /// The line, ANSI codes and CI timestamp removed.
    pub text: String,
    /// Its template in this log.
    pub template: String,
    /// The signals that raised its score (`pattern:<id>`, `rare-template`, …).
    pub why: Vec<String>,
}

/// A triage configured with a pattern library, a model and history.
#[derive(Debug)]
pub struct Triage {
    matcher: Matcher,
    model: TriageModel,
    history: History,
    min_score: f32,
}

/// Splits a log on CRLF, bare CR and LF (a final line end starts no line).
pub fn split_lines(text: &str) -> Vec<&str> {
    crate::eval::patterns::cidiff::split_lines(text)
}

impl Triage {
    /// The built-in library, the default model, no history, the default
    /// minimum score.
    pub fn new() -> Result<Self, PatternError> {
        Self::with_builtin_library(TriageModel::default_model())
    }

    /// The built-in library and `model` (the default model is not loaded:
    /// training uses this with [`TriageModel::untrained`]).
    pub fn with_builtin_library(model: TriageModel) -> Result<Self, PatternError> {
        Ok(Self {
            matcher: Library::builtin().matcher()?,
            model,
            history: History::new(),
            min_score: DEFAULT_MIN_SCORE,
        })
    }

    /// Uses `model` instead of the default one.
    pub fn with_model(mut self, model: TriageModel) -> Self {
        self.model = model;
        self
    }

    /// Shows only lines scoring at least `min`.
    pub fn with_min_score(mut self, min: f32) -> Self {
        self.min_score = min;
        self
    }

    /// Adds a passing log of the same job: its templates are noise.
    pub fn add_history(&mut self, passing_log: &str) {
        self.history.add_log(&split_lines(passing_log));
    }

    /// Adds a passing log already split into lines.
    pub fn add_history_lines<S: AsRef<str>>(&mut self, lines: &[S]) {
        self.history.add_log(lines);
    }

    /// One row per block of `lines` (for training): its head and last line
    /// (0-based) and the head's signals. A line that continues no block is
    /// a block of one line.
    pub fn block_rows<S: AsRef<str>>(
        &self,
        lines: &[S],
    ) -> Vec<(usize, usize, [f32; signals::DIM])> {
        let (vectors, infos, _) = signals::compute(lines, &self.matcher, &self.history);
        vectors
            .into_iter()
            .zip(&infos)
            .enumerate()
            .filter(|(i, (_, info))| info.block_head == *i)
            .map(|(i, (v, info))| (i, info.block_end, v))
            .collect()
    }

    /// Triage of a whole log's text.
    pub fn run(&self, log: &str) -> Vec<Finding> {
        self.run_lines(&split_lines(log))
    }

    /// Triage of a log split into lines: one finding per block (a stack
    /// trace or a compiler diagnostic is one finding, at its head line),
    /// those at or above the minimum score, best first (ties: earlier line
    /// first).
    pub fn run_lines<S: AsRef<str>>(&self, lines: &[S]) -> Vec<Finding> {
        let (vectors, infos, miner) = signals::compute(lines, &self.matcher, &self.history);
        let mut out: Vec<Finding> = vectors
            .iter()
            .zip(&infos)
            .enumerate()
            .filter(|(i, (_, info))| info.block_head == *i)
            .filter_map(|(h, (v, info))| {
                let score = self.model.score(v);
                if score < self.min_score {
                    return None;
                }
                let mut why = why(&self.model, v, info.pattern);
                if info.block_end > h {
                    why.push(format!("block-of-{}-lines", info.block_end + 1 - h));
                }
                Some(Finding {
                    line: h + 1,
                    end_line: info.block_end + 1,
                    score,
                    text: info.clean.clone(),
                    template: miner
                        .template(info.template)
                        .map_or_else(|| info.clean.clone(), |t| t.text()),
                    why,
                })
            })
            .collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.line.cmp(&b.line)));
        out
    }
}

/// The signals that pushed a line's score up, by name.
fn why(model: &TriageModel, v: &[f32; signals::DIM], pattern: Option<&str>) -> Vec<String> {
    let mut why = Vec::new();
    if let Some(p) = pattern {
        why.push(format!("pattern:{p}"));
    }
    let label = |name: &str| match name {
        "log_rarity" | "unique_in_log" => Some("rare-template"),
        "novel_vs_history" | "novel_and_error_word" | "novel_and_pattern" | "novel_and_tail" => {
            Some("not-in-history")
        }
        "error_word" | "unique_and_error_word" | "starts_with_error" | "level_error" => {
            Some("error-word")
        }
        "exception_shape" => Some("exception"),
        "os_error_phrase" => Some("system-error"),
        "file_location" => Some("file-location"),
        "first_hit" | "hit_rank" => Some("first-error"),
        "block_has_error" => Some("error-block"),
        "pos_tail" | "near_end" => Some("near-end"),
        "block_head" => Some("block-head"),
        "near_pattern" => Some("near-pattern-hit"),
        _ => None,
    };
    for (k, name) in signals::NAMES.iter().enumerate() {
        if v[k] > 0.0
            && model.weights[k] > 0.0
            && let Some(l) = label(name)
            && !why.iter().any(|w| w == l)
        {
            why.push(l.to_string());
        }
    }
    why
}

/// A finding as one text line: `LINE  SCORE  TEXT`.
pub fn render_text(f: &Finding) -> String {
    format!("{:>6}  {:.2}  {}", f.line, f.score, f.text)
}

#[cfg(test)]
mod tests;
