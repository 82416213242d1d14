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
    /// 1-based line number.
    pub line: usize,
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
        Ok(Self {
            matcher: Library::builtin().matcher()?,
            model: TriageModel::default_model(),
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

    /// The signal vectors of every line of `lines` (for training).
    pub fn signals<S: AsRef<str>>(&self, lines: &[S]) -> Vec<[f32; signals::DIM]> {
        signals::compute(lines, &self.matcher, &self.history).0
    }

    /// Triage of a whole log's text.
    pub fn run(&self, log: &str) -> Vec<Finding> {
        self.run_lines(&split_lines(log))
    }

    /// Triage of a log split into lines: findings at or above the minimum
    /// score, best first (ties: earlier line first), one per block.
    pub fn run_lines<S: AsRef<str>>(&self, lines: &[S]) -> Vec<Finding> {
        let (vectors, infos, miner) = signals::compute(lines, &self.matcher, &self.history);
        // Best score per block head.
        let mut best: Vec<Option<(f32, usize)>> = vec![None; lines.len()];
        for (i, v) in vectors.iter().enumerate() {
            let s = self.model.score(v);
            if s < self.min_score {
                continue;
            }
            let h = infos[i].block_head;
            if best[h].is_none_or(|(b, _)| s > b) {
                best[h] = Some((s, i));
            }
        }
        let mut out: Vec<Finding> = best
            .iter()
            .enumerate()
            .filter_map(|(h, b)| b.map(|(s, from)| (h, s, from)))
            .map(|(h, score, from)| {
                let info = &infos[h];
                let mut why = why(&self.model, &vectors[h], info.pattern);
                if from != h {
                    why.push(format!("block-of-{}-lines", block_len(&infos, h)));
                }
                Finding {
                    line: h + 1,
                    score,
                    text: info.clean.clone(),
                    template: miner
                        .template(info.template)
                        .map_or_else(|| info.clean.clone(), |t| t.text()),
                    why,
                }
            })
            .collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.line.cmp(&b.line)));
        out
    }
}

fn block_len(infos: &[signals::LineInfo], head: usize) -> usize {
    infos[head..]
        .iter()
        .take_while(|i| i.block_head == head)
        .count()
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
        "error_word" | "unique_and_error_word" => Some("error-word"),
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
