//! The per-line signals triage combines: pattern-library hits, template
//! rarity in the log and against passing history, position, block
//! structure, the order of errors, and tool-independent shapes (error and
//! warning words, level tags, exception lines, file locations), as a small
//! dense vector ([`NAMES`]).
//!
//! Owns computing that vector for every line of one log, and the block
//! structure (which lines continue a stack trace or diagnostic, and their
//! head). Must never weigh the signals: that is the model's job
//! ([`super::model`]).

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::{Regex, RegexSet};

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
    "warning_word",
    "level_error",
    "level_info",
    "starts_with_error",
    "exception_shape",
    "file_location",
    "log_rarity",
    "unique_in_log",
    "has_history",
    "in_history",
    "novel_vs_history",
    "pos_rel",
    "pos_tail",
    "near_end",
    "block_head",
    "block_size",
    "block_has_error",
    "first_hit",
    "hit_rank",
    "near_pattern",
    "short",
    "indented",
    "novel_and_error_word",
    "novel_and_pattern",
    "novel_and_tail",
    "unique_and_error_word",
    "last_error_word",
    "known_and_pattern_error",
    "known_and_pattern_failure_summary",
    "known_and_error_word",
    "known_and_starts_with_error",
    "known_and_exception_shape",
    "known_and_file_location",
    "known_and_block_has_error",
    "known_and_pos_rel",
    "known_and_near_pattern",
    "short_log",
    "log_size",
    "os_error_phrase",
    "recovered_phrase",
];

/// The signals repeated for lines whose template the passing history
/// knows (`known_and_*`): the model learns their weights separately, so a
/// known error line can count for little while a new one counts fully.
const KNOWN_GATED: [usize; 9] = [1, 2, 4, 9, 10, 11, 22, 17, 25];

/// Number of signals.
pub const DIM: usize = NAMES.len();

/// Lines from the end within which `near_end` is set.
const NEAR_END_LINES: usize = 30;
/// Lines on either side searched for `near_pattern`.
const NEAR_PATTERN_LINES: usize = 3;
/// A log shorter than this is `short_log`: a tool's output alone, where
/// position says little (errors are not at the end of CI noise).
const SHORT_LOG_LINES: usize = 50;
/// Share of the log after which `pos_tail` is set.
const TAIL_SHARE: f32 = 0.9;

/// The word and shape tests of a line, one [`RegexSet`] pass; the order is
/// the `SHAPE_*` constants below. Word boundaries are ASCII (`(?-u:\b)`),
/// which the regex crate's DFA handles on any line (a Unicode `\b` sends
/// lines with non-ASCII text to a slower engine).
static SHAPES: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([
        // SHAPE_ERROR_WORD
        r"(?i)(?-u:\b)(error|errors|fail|failed|failure|failures|failing|exception|fatal|panic|panicked|traceback|abort|aborted|segmentation fault|undefined reference|cannot|unable to|not found|denied|refused)(?-u:\b)",
        // SHAPE_NEGATED
        r"(?i)((?-u:\b)(0|no|zero|without)\s+(errors?|failures?|failed)(?-u:\b)|(?-u:\b)(errors?|failures?|failed)\s*[:=]\s*0(?-u:\b)|-Werror|(?-u:\b)on_?error(?-u:\b)|(?-u:\b)error_?handl|(?-u:\b)ignor(e|ed|ing)(?-u:\b).*(?-u:\b)error|(?-u:\b)error(?-u:\b).*(?-u:\b)ignored(?-u:\b))",
        // SHAPE_WARNING_WORD
        r"(?i)(?-u:\b)(warn|warning|warnings|deprecated|deprecation|notice|hint)(?-u:\b)",
        // SHAPE_LEVEL_ERROR: an upper-case level tag
        r"(^|[\s\[(<|:])(ERROR|ERR|FATAL|CRITICAL|SEVERE|FAILED|FAILURE|FAIL)([\s\])>|:!]|$)",
        // SHAPE_LEVEL_INFO
        r"(^|[\s\[(<|])(INFO|DEBUG|TRACE|NOTICE|VERBOSE|WARN|WARNING)([\s\])>|:]|$)",
        // SHAPE_STARTS_WITH_ERROR: the line opens with the problem
        r"(?i)^\s*(\S+:\s*)?(error|fatal|failed|failure|fail|panic|critical|exception|uncaught|unhandled)(?-u:\b)",
        // SHAPE_EXCEPTION: `ValueError: x`, `java.lang.IllegalStateException`, `Error [ERR_X]:`
        r"^\s*(Exception in thread|Uncaught |Unhandled |Caused by: )?([A-Za-z_$][\w$]*[.:]{1,2})*[A-Z]?\w*(Error|Exception|Failure|Panic)(?-u:\b)(\s*\[\w+\])?(:|$)",
        // SHAPE_FILE_LOCATION: `src/a.rs:3:5`, `App.java:12`, `(a.c:3)`, `a.py", line 3`
        r#"([\w./\\-]+\.[A-Za-z]{1,6}(:\d+|\(\d+(,\d+)?\)|:\[\d+)|", line \d+)"#,
        // SHAPE_OS_ERROR: what a failing system call, shell or network
        // says, whatever the tool
        r"(?i)(no such file or directory|permission denied|command not found|: not found$|connection refused|connection reset|could not resolve host|name or service not known|timed out|segmentation fault|core dumped|out of memory|killed|exit (code|status):? [1-9]|returned non-zero exit status|non-zero exit code|cannot (open|stat|create|find|access|allocate)|is not recognized as)",
        // SHAPE_RECOVERED: the line says the problem was worked around
        r"(?i)(?-u:\b)(retrying|retry|will retry|trying (again|next)|continuing|skipped|skipping|ignored|ignoring|falling back|fallback|without it|optional|not fatal|non-fatal|recovered)(?-u:\b)",
    ])
    .expect("static regexes")
});
const SHAPE_ERROR_WORD: usize = 0;
const SHAPE_NEGATED: usize = 1;
const SHAPE_WARNING_WORD: usize = 2;
const SHAPE_LEVEL_ERROR: usize = 3;
const SHAPE_LEVEL_INFO: usize = 4;
const SHAPE_STARTS_WITH_ERROR: usize = 5;
const SHAPE_EXCEPTION: usize = 6;
const SHAPE_FILE_LOCATION: usize = 7;
const SHAPE_OS_ERROR: usize = 8;
const SHAPE_RECOVERED: usize = 9;

/// A line that continues a stack trace or a compiler diagnostic whatever
/// its indentation: frames (`at x`, `File "…"`, `#3 0x…`), rustc's `-->`
/// and `|` lines, numbered source lines (`12 |`), suggestion diffs, carets,
/// notes, `Caused by:`.
static FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\s*(at\s+\S|File\s+"|#\d+\s|\d+:\s+0x|-->|\|\s|\||\d+\s*\||\d+\s+[-+]\s|= (note|help)|\.\.\.\s*\d+ more|\.\.\.$|\^|Caused by:|note:|help:)"#)
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
    /// Index of the last line of that block.
    pub block_end: usize,
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
/// head, unless its template is common in the log (`common`: a run of
/// cargo's `   Compiling` lines after an error is not its block). A line
/// that is an error of its own (`own_error`: a pattern-library error or an
/// exception line, not frame-shaped) starts a new block, so an error inside
/// an indented region is its own finding.
fn continues(clean: &str, head: &str, own_error: bool, common: bool) -> bool {
    if clean.trim().is_empty() {
        return false;
    }
    let frame = FRAME.is_match(clean);
    if own_error && !frame {
        return false;
    }
    frame || (!common && indent(clean) > indent(head))
}

/// A template seen this often in one log is routine output (`   Compiling
/// x`, `  Downloaded y`): deeper indentation alone does not make such a
/// line part of the block above.
const COMMON_TEMPLATE: u64 = 5;

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
    let mut shapes: Vec<regex::SetMatches> = Vec::with_capacity(n);
    for l in lines {
        let raw = l.as_ref();
        // A terminal overwrote parts of the line; the last part is what was
        // shown, but an error in any part counts.
        let hit = matcher.first_hit_in_parts(raw);
        let clean =
            crate::patterns::clean_line(raw.rsplit('\r').next().unwrap_or(raw)).into_owned();
        let template = miner.add(&clean);
        severities.push(hit.map(|(e, _)| e.severity));
        shapes.push(SHAPES.matches(&clean));
        infos.push(LineInfo {
            clean,
            template,
            pattern: hit.map(|(e, _)| e.id),
            block_head: 0,
            block_end: 0,
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
    let has_history = !history.is_empty();
    let known: Vec<bool> = infos
        .iter()
        .map(|i| has_history && history.knows(&i.clean))
        .collect();
    let is_hit = |i: usize| {
        matches!(
            severities[i],
            Some(Severity::Error | Severity::FailureSummary)
        )
    };
    let own_error = |i: usize| {
        matches!(severities[i], Some(Severity::Error)) || shapes[i].matched(SHAPE_EXCEPTION)
    };
    // Block structure: a continuation line joins the block of the line above.
    let mut cont = vec![false; n];
    for i in 0..n {
        let c = i > 0 && !infos[i - 1].clean.trim().is_empty() && {
            let h = infos[i - 1].block_head;
            i - h < MAX_BLOCK_LINES
                && continues(
                    &infos[i].clean,
                    &infos[h].clean,
                    own_error(i),
                    counts[&infos[i].template] >= COMMON_TEMPLATE,
                )
        };
        cont[i] = c;
        infos[i].block_head = if c { infos[i - 1].block_head } else { i };
    }
    for i in 0..n {
        let h = infos[i].block_head;
        infos[h].block_end = i;
    }
    for i in 0..n {
        infos[i].block_end = infos[infos[i].block_head].block_end;
    }
    // Errors in a block, for its head; the order of pattern hits (new ones
    // when there is history): the first error is usually the cause.
    let mut block_error = vec![false; n];
    for i in 0..n {
        if own_error(i) || is_hit(i) {
            block_error[infos[i].block_head] = true;
        }
    }
    let mut hit_rank = vec![0f32; n];
    let mut k = 0u32;
    for i in 0..n {
        if is_hit(i) && !known[i] && infos[i].block_head == i {
            k += 1;
            hit_rank[i] = 1.0 / k as f32;
        }
    }
    // The last block head with an error word that the history does not
    // know: a failing run usually ends with what failed.
    let last_error_word = (0..n)
        .rev()
        .find(|&i| {
            infos[i].block_head == i
                && !known[i]
                && shapes[i].matched(SHAPE_ERROR_WORD)
                && !shapes[i].matched(SHAPE_NEGATED)
        })
        .unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let info = &infos[i];
        let sh = &shapes[i];
        let mut v = [0f32; DIM];
        let sev = severities[i];
        let count = counts[&info.template];
        let err = sh.matched(SHAPE_ERROR_WORD);
        let neg = err && sh.matched(SHAPE_NEGATED);
        let in_hist = known[i];
        let novel = has_history && !in_hist;
        let rel = if n > 1 {
            i as f32 / (n - 1) as f32
        } else {
            1.0
        };
        let tail = rel >= TAIL_SHARE;
        let lo = i.saturating_sub(NEAR_PATTERN_LINES);
        let hi = (i + NEAR_PATTERN_LINES + 1).min(n);
        let near = (lo..hi).any(|j| j != i && is_hit(j));
        let pat = is_hit(i);
        let size = info.block_end + 1 - info.block_head;
        let b = |x: bool| f32::from(u8::from(x));
        v[0] = 1.0;
        v[1] = b(sev == Some(Severity::Error));
        v[2] = b(sev == Some(Severity::FailureSummary));
        v[3] = b(sev == Some(Severity::Warning));
        v[4] = b(err && !neg);
        v[5] = b(neg);
        v[6] = b(sh.matched(SHAPE_WARNING_WORD) && !err);
        v[7] = b(sh.matched(SHAPE_LEVEL_ERROR));
        v[8] = b(sh.matched(SHAPE_LEVEL_INFO) && !sh.matched(SHAPE_LEVEL_ERROR));
        v[9] = b(sh.matched(SHAPE_STARTS_WITH_ERROR) && !neg);
        v[10] = b(sh.matched(SHAPE_EXCEPTION));
        v[11] = b(sh.matched(SHAPE_FILE_LOCATION));
        v[12] = 1.0 / count as f32;
        v[13] = b(count == 1);
        v[14] = b(has_history);
        v[15] = b(in_hist);
        v[16] = b(novel);
        v[17] = rel;
        v[18] = b(tail);
        v[19] = b(n - i <= NEAR_END_LINES);
        v[20] = b(!cont[i] && cont.get(i + 1).copied().unwrap_or(false));
        v[21] = (size as f32).ln_1p() / (MAX_BLOCK_LINES as f32).ln_1p();
        v[22] = b(block_error[info.block_head]);
        v[23] = b(hit_rank[i] == 1.0);
        v[24] = hit_rank[i];
        v[25] = b(near);
        v[26] = b(info.clean.trim().len() < 3);
        v[27] = b(indent(&info.clean) > 0);
        v[28] = b(novel && err && !neg);
        v[29] = b(novel && pat);
        v[30] = b(novel && tail);
        v[31] = b(count == 1 && err && !neg);
        v[32] = b(i == last_error_word);
        for (k, &src) in KNOWN_GATED.iter().enumerate() {
            v[33 + k] = if in_hist { v[src] } else { 0.0 };
        }
        v[42] = b(n < SHORT_LOG_LINES);
        v[43] = (n as f32).ln_1p() / 100_000f32.ln();
        v[44] = b(sh.matched(SHAPE_OS_ERROR));
        v[45] = b(sh.matched(SHAPE_RECOVERED));
        out.push(v);
    }
    (out, infos, miner)
}
