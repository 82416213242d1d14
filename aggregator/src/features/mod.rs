//! Line features: the ONE place that turns a line of output into model
//! features, for training and for inference alike, so the two can never
//! drift.
//!
//! Owns the [`LineContext`] a caller fills in (the line, its neighbours,
//! its stream, its position in the log, and — when the caller has them — a
//! mined template and pattern-library hits), the sparse [`Features`] vector,
//! and the [`FeatureSchema`] every model stores and is checked against.
//! It never mines templates, runs pattern libraries or trains anything: those
//! come in as optional inputs, so this module stays a pure function of its
//! input.
//!
//! The vector has two blocks. The first [`DENSE_NAMES`]`.len()` indices are
//! named features in `[0, 1]` (severity words, casing, punctuation shape,
//! length, position, stream, neighbours, template, patterns). The rest are
//! `2^HASH_BITS` hashed buckets of lower-cased, masked token unigrams and
//! bigrams, the first word of the line, the template text and the pattern
//! ids (feature hashing: a fixed dimension whatever the vocabulary).
//!
//! Any change to what [`extract`] returns changes the schema fingerprint
//! (it hashes the output on a fixed probe set), so a model trained with
//! other features is refused instead of misread; bump [`SCHEMA_VERSION`]
//! with such a change so the refusal message says so.

mod schema;
mod tokens;

pub use schema::{FeatureSchema, SchemaStamp};

pub(crate) use tokens::mix;
use tokens::{WordClass, fnv, for_each_token};

/// Version of the feature definitions; bumped with every change to [`extract`].
pub const SCHEMA_VERSION: u32 = 1;

/// Bits of the hashed block: 2^18 = 262,144 buckets, enough that the token
/// vocabulary of a CI fleet collides rarely, while a dense `f32` weight
/// vector stays 1 MiB.
pub const HASH_BITS: u32 = 18;

/// Names of the dense features, in index order.
pub const DENSE_NAMES: &[&str] = &[
    "sev_fatal",
    "sev_error",
    "sev_warn",
    "sev_ok",
    "sev_early",
    "sev_upper",
    "sev_count",
    "sev_negated",
    "len_log",
    "tokens",
    "upper_frac",
    "digit_frac",
    "punct_frac",
    "indented",
    "empty",
    "colon_after_first_word",
    "dot_leader",
    "key_values",
    "exclamation",
    "starts_with_bracket",
    "pos_known",
    "pos_rel",
    "pos_tail",
    "stream_stdout",
    "stream_stderr",
    "prev_alarm",
    "next_alarm",
    "next_indented",
    "same_first_word_as_prev",
    "template_known",
    "template_rarity",
    "pattern_error",
    "pattern_failure_summary",
    "pattern_warning",
];

/// Namespaces of the hashed block.
pub const HASHED_NAMESPACES: &[&str] = &["unigram", "bigram", "first_word", "template", "pattern"];

const NS_UNIGRAM: u64 = 0x11;
const NS_BIGRAM: u64 = 0x22;
const NS_FIRST: u64 = 0x33;
const NS_TEMPLATE: u64 = 0x44;
const NS_PATTERN: u64 = 0x55;

/// Severity words counted up to this many for `sev_count`.
const SEV_COUNT_CAP: f32 = 4.0;
/// Tokens counted up to this many for `tokens`.
const TOKEN_CAP: f32 = 64.0;
/// `len_log` is `ln(1 + len) / ln(1 + LEN_SCALE)`, capped at 1.
const LEN_SCALE: f32 = 1000.0;
/// A line in the last tenth of the log sets `pos_tail` (failures cluster
/// near the end).
const TAIL_SHARE: f32 = 0.9;
/// Pattern hits counted up to this many per severity.
const PATTERN_CAP: f32 = 2.0;

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
    /// Not known (a log file, a merged stream).
    #[default]
    Unknown,
}

/// Where a line sits in its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 0-based index of the line.
    pub index: usize,
    /// Number of lines in the log.
    pub total: usize,
}

/// A mined template for the line, from the template miner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TemplateInfo<'a> {
    /// The template text (`<*>` for variables); hashed as one feature, so
    /// it must be stable across logs (not a per-log cluster number).
    pub text: &'a str,
    /// How rare the template is, in `[0, 1]` (1 = seen once); clamped.
    pub rarity: f32,
}

/// How serious a pattern-library hit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitSeverity {
    /// An error line (`error[E0308]`, a traceback head).
    Error,
    /// A failure summary (`test result: FAILED`, `npm ERR! code 1`).
    FailureSummary,
    /// A warning.
    Warning,
}

/// One pattern-library entry that matched the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatternHit<'a> {
    /// The entry's stable id (`cargo-test-failed`); hashed as a feature.
    pub id: &'a str,
    /// Its severity.
    pub severity: HitSeverity,
}

/// Everything the features of one line may depend on. Build it with
/// [`LineContext::new`] and set what you know.
#[derive(Debug, Clone, Copy)]
pub struct LineContext<'a> {
    /// The line, without its line ending; invalid UTF-8 is fine.
    pub line: &'a [u8],
    /// The line before, if any.
    pub prev: Option<&'a [u8]>,
    /// The line after, if any (absent while streaming).
    pub next: Option<&'a [u8]>,
    /// The stream it came from.
    pub stream: Stream,
    /// Its position in the log, when the log's length is known.
    pub position: Option<Position>,
    /// Its mined template, when a miner ran.
    pub template: Option<TemplateInfo<'a>>,
    /// Pattern-library entries that matched it.
    pub pattern_hits: &'a [PatternHit<'a>],
}

impl<'a> LineContext<'a> {
    /// A context that knows only the line.
    pub fn new(line: &'a [u8]) -> Self {
        Self {
            line,
            prev: None,
            next: None,
            stream: Stream::Unknown,
            position: None,
            template: None,
            pattern_hits: &[],
        }
    }

    /// The context of line `index` of `lines`: its neighbours and position set.
    pub fn in_log<S: AsRef<[u8]>>(lines: &'a [S], index: usize) -> Self {
        let mut c = Self::new(lines[index].as_ref());
        c.prev = index.checked_sub(1).map(|i| lines[i].as_ref());
        c.next = lines.get(index + 1).map(AsRef::as_ref);
        c.position = Some(Position {
            index,
            total: lines.len(),
        });
        c
    }
}

/// A sparse feature vector: `(index, value)` pairs, indices below
/// [`FeatureSchema::dim`]. Reuse one across lines to avoid allocating.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    indices: Vec<u32>,
    values: Vec<f32>,
}

impl Features {
    /// An empty vector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes every entry, keeping the allocation.
    pub fn clear(&mut self) {
        self.indices.clear();
        self.values.clear();
    }

    /// A copy of the entries of another vector, split into its parts
    /// (as a training set stores them).
    pub(crate) fn from_parts(indices: &[u32], values: &[f32]) -> Self {
        Self {
            indices: indices.to_vec(),
            values: values.to_vec(),
        }
    }

    fn push(&mut self, index: u32, value: f32) {
        if value != 0.0 {
            self.indices.push(index);
            self.values.push(value);
        }
    }

    /// The indices, in the order they were produced (a hashed bucket may
    /// repeat: repeated entries add up).
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    /// The values, parallel to [`Features::indices`].
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

fn hashed_index(h: u64) -> u32 {
    // DENSE_NAMES.len() + top HASH_BITS bits: always below dim().
    (DENSE_NAMES.len() as u64 + (mix(h) >> (64 - HASH_BITS))) as u32
}

/// Dense indices, in [`DENSE_NAMES`] order.
mod idx {
    pub const SEV_FATAL: u32 = 0;
    pub const SEV_ERROR: u32 = 1;
    pub const SEV_WARN: u32 = 2;
    pub const SEV_OK: u32 = 3;
    pub const SEV_EARLY: u32 = 4;
    pub const SEV_UPPER: u32 = 5;
    pub const SEV_COUNT: u32 = 6;
    pub const SEV_NEGATED: u32 = 7;
    pub const LEN_LOG: u32 = 8;
    pub const TOKENS: u32 = 9;
    pub const UPPER_FRAC: u32 = 10;
    pub const DIGIT_FRAC: u32 = 11;
    pub const PUNCT_FRAC: u32 = 12;
    pub const INDENTED: u32 = 13;
    pub const EMPTY: u32 = 14;
    pub const COLON_AFTER_FIRST_WORD: u32 = 15;
    pub const DOT_LEADER: u32 = 16;
    pub const KEY_VALUES: u32 = 17;
    pub const EXCLAMATION: u32 = 18;
    pub const STARTS_WITH_BRACKET: u32 = 19;
    pub const POS_KNOWN: u32 = 20;
    pub const POS_REL: u32 = 21;
    pub const POS_TAIL: u32 = 22;
    pub const STREAM_STDOUT: u32 = 23;
    pub const STREAM_STDERR: u32 = 24;
    pub const PREV_ALARM: u32 = 25;
    pub const NEXT_ALARM: u32 = 26;
    pub const NEXT_INDENTED: u32 = 27;
    pub const SAME_FIRST_WORD_AS_PREV: u32 = 28;
    pub const TEMPLATE_KNOWN: u32 = 29;
    pub const TEMPLATE_RARITY: u32 = 30;
    pub const PATTERN_ERROR: u32 = 31;
    pub const PATTERN_FAILURE_SUMMARY: u32 = 32;
    pub const PATTERN_WARNING: u32 = 33;
}

/// What the token pass learns about a line.
struct TokenSummary {
    tokens: usize,
    first_word: Option<u64>,
    fatal: bool,
    error: bool,
    warn: bool,
    ok: bool,
    first_alarm: Option<usize>,
    alarm_upper: bool,
    alarms: usize,
    negated: bool,
}

/// Tokenises `line`; with `out`, also pushes the hashed token features.
fn scan_tokens(line: &[u8], mut out: Option<&mut Features>) -> TokenSummary {
    let mut s = TokenSummary {
        tokens: 0,
        first_word: None,
        fatal: false,
        error: false,
        warn: false,
        ok: false,
        first_alarm: None,
        alarm_upper: false,
        alarms: 0,
        negated: false,
    };
    let mut prev: Option<tokens::Token> = None;
    for_each_token(line, |t| {
        // Runs of one mask (`<num> <num> <num>` of an IP) count once.
        if let Some(p) = prev
            && p.masked
            && t.masked
            && p.hash == t.hash
        {
            return;
        }
        let k = s.tokens;
        s.tokens += 1;
        if s.first_word.is_none() && !t.masked {
            s.first_word = Some(t.hash);
        }
        let negated = prev.is_some_and(|p| p.negator);
        match t.class {
            WordClass::Fatal | WordClass::Error if negated => s.negated = true,
            WordClass::Fatal | WordClass::Error => {
                if t.class == WordClass::Fatal {
                    s.fatal = true;
                } else {
                    s.error = true;
                }
                s.alarms += 1;
                s.first_alarm.get_or_insert(k);
                s.alarm_upper |= t.all_upper;
            }
            WordClass::Warn => s.warn = true,
            WordClass::Ok => s.ok = true,
            WordClass::Plain => {}
        }
        if let Some(out) = out.as_deref_mut() {
            out.push(hashed_index(t.hash ^ NS_UNIGRAM), 1.0);
            if let Some(p) = prev {
                out.push(
                    hashed_index(p.hash.rotate_left(23) ^ t.hash ^ NS_BIGRAM),
                    1.0,
                );
            }
        }
        prev = Some(t);
    });
    s
}

/// What the features of a line need to know about a neighbour.
#[derive(Debug, Clone, Copy)]
struct Neighbour {
    alarm: bool,
    first_word: Option<u64>,
    indented: bool,
}

impl TokenSummary {
    fn neighbour(&self, line: &[u8]) -> Neighbour {
        Neighbour {
            alarm: self.fatal || self.error,
            first_word: self.first_word,
            indented: starts_indented(line),
        }
    }
}

fn neighbour_of(line: &[u8]) -> Neighbour {
    scan_tokens(line, None).neighbour(line)
}

fn starts_indented(line: &[u8]) -> bool {
    matches!(line.first(), Some(b' ' | b'\t'))
}

fn frac(n: usize, d: usize) -> f32 {
    if d == 0 { 0.0 } else { n as f32 / d as f32 }
}

/// Computes the features of `ctx` into `out` (cleared first).
pub fn extract(ctx: &LineContext<'_>, out: &mut Features) {
    out.clear();
    let s = scan_tokens(ctx.line, Some(out));
    let prev = ctx.prev.map(neighbour_of);
    let next = ctx.next.map(neighbour_of);
    finish(ctx, &s, prev, next, out);
}

/// The features of every line of `lines`, each line tokenised once (its
/// neighbours' facts are carried over, not recomputed): the same vectors,
/// entry for entry, as [`extract`] on [`LineContext::in_log`], at a
/// fraction of the cost. `prepare(i, ctx)` may set the stream, template and
/// pattern hits of line `i` (its line, neighbours and position are the
/// log's and are kept); `each(i, features)` receives the result.
pub fn extract_log<'a, S: AsRef<[u8]>>(
    lines: &'a [S],
    mut prepare: impl FnMut(usize, &mut LineContext<'a>),
    mut each: impl FnMut(usize, &Features),
) {
    let Some(first) = lines.first() else {
        return;
    };
    let mut cur = Features::new();
    let mut nxt = Features::new();
    let mut cur_summary = scan_tokens(first.as_ref(), Some(&mut cur));
    let mut prev: Option<Neighbour> = None;
    for i in 0..lines.len() {
        let line = lines[i].as_ref();
        let next_summary = lines.get(i + 1).map(|l| {
            nxt.clear();
            scan_tokens(l.as_ref(), Some(&mut nxt))
        });
        let next = next_summary
            .as_ref()
            .map(|s| s.neighbour(lines[i + 1].as_ref()));
        let mut ctx = LineContext::in_log(lines, i);
        prepare(i, &mut ctx);
        let log = LineContext::in_log(lines, i);
        ctx.line = log.line;
        ctx.prev = log.prev;
        ctx.next = log.next;
        ctx.position = log.position;
        finish(&ctx, &cur_summary, prev, next, &mut cur);
        each(i, &cur);
        prev = Some(cur_summary.neighbour(line));
        if let Some(s) = next_summary {
            cur_summary = s;
            std::mem::swap(&mut cur, &mut nxt);
        }
    }
}

/// Everything after the token pass of `ctx.line` (whose summary is `s`).
fn finish(
    ctx: &LineContext<'_>,
    s: &TokenSummary,
    prev: Option<Neighbour>,
    next: Option<Neighbour>,
    out: &mut Features,
) {
    let line = ctx.line;
    if let Some(w) = s.first_word {
        out.push(hashed_index(w ^ NS_FIRST), 1.0);
    }

    out.push(idx::SEV_FATAL, f32::from(u8::from(s.fatal)));
    out.push(idx::SEV_ERROR, f32::from(u8::from(s.error)));
    out.push(idx::SEV_WARN, f32::from(u8::from(s.warn)));
    out.push(idx::SEV_OK, f32::from(u8::from(s.ok)));
    if let Some(k) = s.first_alarm {
        out.push(idx::SEV_EARLY, 1.0 - frac(k, s.tokens.max(2) - 1));
    }
    out.push(idx::SEV_UPPER, f32::from(u8::from(s.alarm_upper)));
    out.push(
        idx::SEV_COUNT,
        (s.alarms as f32).min(SEV_COUNT_CAP) / SEV_COUNT_CAP,
    );
    out.push(idx::SEV_NEGATED, f32::from(u8::from(s.negated)));

    let (mut upper, mut letters, mut digits, mut punct, mut equals) = (0, 0, 0, 0, 0);
    let (mut dots, mut dot_leader, mut bang) = (0, false, false);
    for &b in line {
        if b.is_ascii_alphabetic() {
            letters += 1;
            upper += usize::from(b.is_ascii_uppercase());
        } else if b.is_ascii_digit() {
            digits += 1;
        } else if b.is_ascii_punctuation() {
            punct += 1;
            equals += usize::from(b == b'=');
            bang |= b == b'!';
        }
        if b == b'.' {
            dots += 1;
            dot_leader |= dots >= 4;
        } else {
            dots = 0;
        }
    }
    let len = line.len();
    out.push(
        idx::LEN_LOG,
        ((1.0 + len as f32).ln() / (1.0 + LEN_SCALE).ln()).min(1.0),
    );
    out.push(idx::TOKENS, (s.tokens as f32).min(TOKEN_CAP) / TOKEN_CAP);
    out.push(idx::UPPER_FRAC, frac(upper, letters));
    out.push(idx::DIGIT_FRAC, frac(digits, len));
    out.push(idx::PUNCT_FRAC, frac(punct, len));
    out.push(idx::INDENTED, f32::from(u8::from(starts_indented(line))));
    out.push(
        idx::EMPTY,
        f32::from(u8::from(line.iter().all(|b| b.is_ascii_whitespace()))),
    );
    let first_ws = line
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(len);
    out.push(
        idx::COLON_AFTER_FIRST_WORD,
        f32::from(u8::from(first_ws > 1 && line[first_ws - 1] == b':')),
    );
    out.push(idx::DOT_LEADER, f32::from(u8::from(dot_leader)));
    out.push(idx::KEY_VALUES, f32::from(u8::from(equals >= 2)));
    out.push(idx::EXCLAMATION, f32::from(u8::from(bang)));
    out.push(
        idx::STARTS_WITH_BRACKET,
        f32::from(u8::from(line.first() == Some(&b'['))),
    );

    if let Some(p) = ctx.position
        && p.total > 0
    {
        let rel = frac(p.index, p.total.max(2) - 1).min(1.0);
        out.push(idx::POS_KNOWN, 1.0);
        out.push(idx::POS_REL, rel);
        out.push(idx::POS_TAIL, f32::from(u8::from(rel >= TAIL_SHARE)));
    }
    match ctx.stream {
        Stream::Stdout => out.push(idx::STREAM_STDOUT, 1.0),
        Stream::Stderr => out.push(idx::STREAM_STDERR, 1.0),
        Stream::Unknown => {}
    }
    if let Some(prev) = prev {
        out.push(idx::PREV_ALARM, f32::from(u8::from(prev.alarm)));
        let same = s.first_word.is_some() && prev.first_word == s.first_word;
        out.push(idx::SAME_FIRST_WORD_AS_PREV, f32::from(u8::from(same)));
    }
    if let Some(next) = next {
        out.push(idx::NEXT_ALARM, f32::from(u8::from(next.alarm)));
        out.push(
            idx::NEXT_INDENTED,
            f32::from(u8::from(next.indented && !starts_indented(line))),
        );
    }
    if let Some(t) = ctx.template {
        out.push(idx::TEMPLATE_KNOWN, 1.0);
        let r = if t.rarity.is_nan() {
            0.0
        } else {
            t.rarity.clamp(0.0, 1.0)
        };
        out.push(idx::TEMPLATE_RARITY, r);
        out.push(hashed_index(fnv(NS_TEMPLATE, t.text.as_bytes())), 1.0);
    }
    let mut counts = [0usize; 3];
    for hit in ctx.pattern_hits {
        let k = match hit.severity {
            HitSeverity::Error => 0,
            HitSeverity::FailureSummary => 1,
            HitSeverity::Warning => 2,
        };
        counts[k] += 1;
        out.push(hashed_index(fnv(NS_PATTERN, hit.id.as_bytes())), 1.0);
    }
    for (index, n) in [
        idx::PATTERN_ERROR,
        idx::PATTERN_FAILURE_SUMMARY,
        idx::PATTERN_WARNING,
    ]
    .into_iter()
    .zip(counts)
    {
        out.push(index, (n as f32).min(PATTERN_CAP) / PATTERN_CAP);
    }
}

#[cfg(test)]
mod tests;
