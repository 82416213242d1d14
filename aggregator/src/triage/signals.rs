//! The per-line signals triage combines: pattern-library hits, template
//! rarity in the log and against passing history, position, block
//! structure and error words, as a small dense vector ([`NAMES`]).
//!
//! Owns computing that vector for every line of one log, and the block
//! structure (which lines continue a stack trace or diagnostic, and their
//! head). Must never weigh the signals: that is the model's job
//! ([`super::model`]).

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::patterns::{Matcher, Severity};
use crate::template::{Miner, MinerConfig, TemplateId};

/// Names of the signals, in vector order (the model file lists them and is
/// refused when they differ).
pub const NAMES: &[&str] = &[
    "bias",
    "pattern_error",
    "pattern_failure_summary",
    "pattern_warning",
    "error_word",
    "error_word_negated",
    "log_rarity",
    "unique_in_log",
    "has_history",
    "in_history",
    "novel_vs_history",
    "pos_rel",
    "pos_tail",
    "near_end",
    "block_head",
    "block_continuation",
    "near_pattern",
    "short",
    "novel_and_error_word",
    "novel_and_pattern",
    "novel_and_tail",
    "unique_and_error_word",
];

/// Number of signals.
pub const DIM: usize = NAMES.len();

/// Lines from the end within which `near_end` is set.
const NEAR_END_LINES: usize = 30;
/// Lines on either side searched for `near_pattern`.
const NEAR_PATTERN_LINES: usize = 3;
/// Share of the log after which `pos_tail` is set.
const TAIL_SHARE: f32 = 0.9;

static ERROR_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(error|errors|fail|failed|failure|failures|failing|exception|fatal|panic|panicked|traceback|abort|aborted|segmentation fault|undefined reference|cannot|unable to)\b",
    )
    .expect("static regex")
});
static NEGATED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(\b(0|no|zero|without)\s+(errors?|failures?|failed)\b|\b(errors?|failures?|failed)\s*[:=]\s*0\b|-Werror|\bon_?error\b|\berror_?handl)",
    )
    .expect("static regex")
});
static FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\s*(at\s+\S|File\s+"|#\d+\s|\d+:\s+0x|-->|\|\s|\||= (note|help)|\.\.\.\s*\d+ more|Caused by:|note:)"#)
        .expect("static regex")
});

/// What triage knows about one line besides its signal vector.
#[derive(Debug, Clone)]
pub struct LineInfo {
    /// The line with ANSI codes and a CI timestamp removed.
    pub clean: String,
    /// The template the line joined in this log.
    pub template: TemplateId,
    /// The id of the pattern-library entry that hit it, if any.
    pub pattern: Option<&'static str>,
    /// Index of the head of the block this line belongs to (itself when it
    /// heads no block or continues none).
    pub block_head: usize,
}

/// A miner over passing logs: templates seen there are noise.
#[derive(Debug)]
pub struct History {
    miner: Miner,
    lines: usize,
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        Self {
            miner: Miner::new(MinerConfig::default()).expect("default config is valid"),
            lines: 0,
        }
    }

    /// Adds the lines of one passing log.
    pub fn add_log<S: AsRef<str>>(&mut self, lines: &[S]) {
        for l in lines {
            self.miner.add(&crate::patterns::clean_line(l.as_ref()));
            self.lines += 1;
        }
    }

    /// True when no line was added.
    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }

    fn knows(&self, clean: &str) -> bool {
        self.miner.match_only(clean).is_some()
    }
}

impl Default for History {
    fn default() -> Self {
        Self::new()
    }
}

/// Lines a block may span at most (a longer indented run is output, not
/// one diagnostic).
const MAX_BLOCK_LINES: usize = 200;

/// Width of the leading whitespace (a tab counts as 4).
fn indent(clean: &str) -> usize {
    clean
        .chars()
        .take_while(|c| c.is_whitespace())
        .map(|c| if c == '\t' { 4 } else { 1 })
        .sum()
}

/// True for a line that continues the block headed by `head`: a stack
/// frame or diagnostic detail line, or a line indented deeper than the
/// head (a run of lines indented alike, such as cargo's `   Compiling`,
/// is not one block).
fn continues(clean: &str, head: &str) -> bool {
    if clean.trim().is_empty() {
        return false;
    }
    indent(clean) > indent(head) || FRAME.is_match(clean)
}

/// The signal vectors of every line of `lines`, and what was learned about
/// each line on the way. `miner` mines this log (a fresh one per log).
pub fn compute<S: AsRef<str>>(
    lines: &[S],
    matcher: &Matcher,
    history: &History,
) -> (Vec<[f32; DIM]>, Vec<LineInfo>, Miner) {
    let n = lines.len();
    let mut miner = Miner::new(MinerConfig::default()).expect("default config is valid");
    let mut infos: Vec<LineInfo> = Vec::with_capacity(n);
    let mut severities: Vec<Option<Severity>> = Vec::with_capacity(n);
    for l in lines {
        let raw = l.as_ref();
        // A terminal overwrote parts of the line; the last part is what was
        // shown, but an error in any part counts.
        let hit = matcher.first_hit_in_parts(raw);
        let clean =
            crate::patterns::clean_line(raw.rsplit('\r').next().unwrap_or(raw)).into_owned();
        let template = miner.add(&clean);
        severities.push(hit.map(|(e, _)| e.severity));
        infos.push(LineInfo {
            clean,
            template,
            pattern: hit.map(|(e, _)| e.id),
            block_head: 0,
        });
    }
    let mut counts: HashMap<TemplateId, u64> = HashMap::new();
    for info in &mut infos {
        let id = miner
            .template(info.template)
            .map_or(info.template, |t| t.id());
        info.template = id;
        *counts.entry(id).or_default() += 1;
    }
    // Block structure: a continuation line joins the block of the line above.
    let mut cont = vec![false; n];
    for i in 0..n {
        let c = i > 0 && !infos[i - 1].clean.trim().is_empty() && {
            let h = infos[i - 1].block_head;
            i - h < MAX_BLOCK_LINES && continues(&infos[i].clean, &infos[h].clean)
        };
        cont[i] = c;
        infos[i].block_head = if c { infos[i - 1].block_head } else { i };
    }
    let has_history = !history.is_empty();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let info = &infos[i];
        let mut v = [0f32; DIM];
        let sev = severities[i];
        let count = counts[&info.template];
        let err = ERROR_WORD.is_match(&info.clean);
        let neg = err && NEGATED.is_match(&info.clean);
        let in_hist = has_history && history.knows(&info.clean);
        let novel = has_history && !in_hist;
        let rel = if n > 1 {
            i as f32 / (n - 1) as f32
        } else {
            1.0
        };
        let tail = rel >= TAIL_SHARE;
        let lo = i.saturating_sub(NEAR_PATTERN_LINES);
        let hi = (i + NEAR_PATTERN_LINES + 1).min(n);
        let near = (lo..hi).any(|j| {
            j != i
                && matches!(
                    severities[j],
                    Some(Severity::Error | Severity::FailureSummary)
                )
        });
        let pat = matches!(sev, Some(Severity::Error | Severity::FailureSummary));
        let b = |x: bool| f32::from(u8::from(x));
        v[0] = 1.0;
        v[1] = b(sev == Some(Severity::Error));
        v[2] = b(sev == Some(Severity::FailureSummary));
        v[3] = b(sev == Some(Severity::Warning));
        v[4] = b(err && !neg);
        v[5] = b(neg);
        v[6] = 1.0 / count as f32;
        v[7] = b(count == 1);
        v[8] = b(has_history);
        v[9] = b(in_hist);
        v[10] = b(novel);
        v[11] = rel;
        v[12] = b(tail);
        v[13] = b(n - i <= NEAR_END_LINES);
        v[14] = b(!cont[i] && cont.get(i + 1).copied().unwrap_or(false));
        v[15] = b(cont[i]);
        v[16] = b(near);
        v[17] = b(info.clean.trim().len() < 3);
        v[18] = b(novel && err && !neg);
        v[19] = b(novel && pat);
        v[20] = b(novel && tail);
        v[21] = b(count == 1 && err && !neg);
        out.push(v);
    }
    (out, infos, miner)
}
