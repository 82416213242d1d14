//! Splitting a line into tokens and masking the variable ones, before the
//! tree sees them. Masking is an ordered list of named instructions
//! ([`MaskKind`]), tried in order on every token; the first that matches
//! replaces the variable part with [`WILDCARD`]. Owns tokenising and
//! masking only: it must never look at templates or the tree.
//!
//! A token is a run of non-whitespace bytes (CR counts as whitespace, so
//! CRLF and bare CR never leak into a token; ANSI escape sequences are
//! dropped first). Each instruction looks at the token's *core*: the token
//! without surrounding brackets, quotes and trailing punctuation, and after
//! the last `=` (so `rhost=10.0.0.1,` masks to `rhost=<*>,`). Every
//! instruction is pure byte inspection, no regex: masking is on the hot
//! path of a miner that must handle a million lines a second.

use serde::{Deserialize, Serialize};

use super::shapes::{
    ALPHA, BSLASH, DASH, DIGIT, HEXALPHA, HIGH, OTHER, SLASH, classify_core, classify_shaped,
    is_month_or_day, shape,
};

/// What a variable in a template is written as.
pub const WILDCARD: &str = "<*>";

/// One masking instruction. [`DEFAULT_MASKS`] lists them in the order they
/// are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskKind {
    /// A token longer than `max_token_len` (base64 blobs, payloads).
    Long,
    /// `scheme://…` (http, https, ftp, file, s3, …).
    Url,
    /// A UUID, `8-4-4-4-12` hex digits.
    Uuid,
    /// An IPv4 address (optionally `:port`) or an IPv6 address.
    Ip,
    /// Dates and times: only digits and `-:./,T Z+` with a date or time
    /// separator (`2015-10-18`, `18:01:47,978`, `20171223-22:15:29:606`),
    /// and the English month and weekday abbreviations (`Jul`, `Sat`).
    Timestamp,
    /// A number with a time unit: `15ms`, `0.5s`, `2m30s`, `1.2µs`.
    Duration,
    /// `0x…`, or six or more hex digits holding a digit and a letter (commit
    /// hashes, addresses).
    Hex,
    /// An integer or decimal, optionally signed, with exponent, thousands
    /// separators or `%`.
    Number,
    /// A file path: starts with `/`, `./`, `../`, `~/` or a drive (`C:\`),
    /// or holds two `/`, or one `/` and a file extension (`src/lib.rs`).
    Path,
    /// Any other token holding a digit: every run of letters, digits, `_`
    /// and `-` that holds a digit is masked, the rest kept
    /// (`blk_-123` → `blk_<*>`, `kernel[0]:` → `kernel[<*>]:`,
    /// `attempt_1445_0020_m_000009_0` → `<*>`).
    Id,
}

/// Every instruction, in the order tried: the specific shapes first, the
/// catch-all [`MaskKind::Id`] last.
pub const DEFAULT_MASKS: [MaskKind; 10] = [
    MaskKind::Long,
    MaskKind::Url,
    MaskKind::Uuid,
    MaskKind::Ip,
    MaskKind::Timestamp,
    MaskKind::Duration,
    MaskKind::Hex,
    MaskKind::Number,
    MaskKind::Path,
    MaskKind::Id,
];

/// A masked line: the tokens, written one after the other in one buffer
/// (reused from line to line, so masking allocates nothing once warm).
#[derive(Debug, Default)]
pub(crate) struct Masked {
    buf: String,
    spans: Vec<(u32, u32)>,
    /// The line had more tokens than `max_tokens`: the rest is one
    /// trailing "anything" token.
    pub(crate) truncated: bool,
    /// Positions of the key tokens (the first `prefix_tokens` tokens that
    /// hold a letter outside a wildcard): the tree branches on them.
    pub(crate) keys: Vec<u32>,
    /// Whether each token is a plain word ([`is_word`]).
    pub(crate) words: Vec<bool>,
    ansi: String,
    group: String,
}

impl Masked {
    /// The number of tokens (not counting a truncated rest).
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// Token `i`.
    pub(crate) fn token(&self, i: usize) -> &str {
        let (s, e) = self.spans[i];
        &self.buf[s as usize..e as usize]
    }

    /// A 64-bit fingerprint of the masked line (tokens and truncation).
    pub(crate) fn fingerprint(&self) -> u64 {
        use std::hash::Hasher as _;
        let mut h = super::tree::FxHasher::default();
        h.write(self.buf.as_bytes());
        for &(_, e) in &self.spans {
            h.write_u64(u64::from(e));
        }
        h.write_u8(u8::from(self.truncated));
        h.finish()
    }

    /// All tokens in order.
    pub(crate) fn tokens(&self) -> impl Iterator<Item = &str> {
        self.spans
            .iter()
            .map(|&(s, e)| &self.buf[s as usize..e as usize])
    }
}

/// The masking part of the configuration, checked once.
#[derive(Debug, Clone)]
pub(crate) struct Masker {
    kinds: Vec<MaskKind>,
    max_tokens: usize,
    max_token_len: usize,
    prefix_tokens: usize,
    /// `Number` is on, so a bare run of digits is masked without trying
    /// the other instructions (none of which takes one).
    number_first: bool,
}

impl Masker {
    pub(crate) fn new(
        kinds: &[MaskKind],
        max_tokens: usize,
        max_token_len: usize,
        prefix_tokens: usize,
    ) -> Self {
        Self {
            kinds: kinds.to_vec(),
            max_tokens,
            max_token_len,
            prefix_tokens,
            number_first: kinds.contains(&MaskKind::Number),
        }
    }

    /// Tokenises and masks `line` into `out`.
    pub(crate) fn mask(&self, line: &str, out: &mut Masked) {
        out.buf.clear();
        out.spans.clear();
        out.truncated = false;
        out.keys.clear();
        out.words.clear();
        let mut ansi = std::mem::take(&mut out.ansi);
        let text = if line.as_bytes().contains(&0x1b) {
            strip_ansi(line, &mut ansi);
            ansi.as_str()
        } else {
            line
        };
        let mut group = std::mem::take(&mut out.group);
        let mut words = text.split_ascii_whitespace();
        while let Some(first) = words.next() {
            if out.spans.len() == self.max_tokens {
                out.truncated = true;
                break;
            }
            let tok = match bracket_depth(first) {
                d if d > 0 => match join_group(first, d, &mut words.clone(), &mut group) {
                    Some(n) => {
                        for _ in 0..n {
                            words.next();
                        }
                        group.as_str()
                    }
                    None => first,
                },
                _ => first,
            };
            let start = out.buf.len() as u32;
            let ts = shape(tok.as_bytes());
            let plain = self.mask_token(tok, ts, &mut out.buf);
            let end = out.buf.len() as u32;
            // Only a token copied as it was can be a plain word; one of
            // letters and dashes only is one (unless a level name).
            let letters = ts & (ALPHA | HEXALPHA) != 0;
            let word = plain
                && letters
                && if ts & !(ALPHA | HEXALPHA | DASH) == 0 {
                    !is_level(tok.as_bytes())
                } else {
                    is_word(tok)
                };
            out.words.push(word);
            let key = if plain && ts & OTHER == 0 {
                letters
            } else {
                is_key(&out.buf[start as usize..])
            };
            if out.keys.len() < self.prefix_tokens && key {
                out.keys.push(out.spans.len() as u32);
            }
            out.spans.push((start, end));
        }
        out.ansi = ansi;
        out.group = group;
    }

    /// Writes the masked token; true when it was copied unchanged because
    /// it holds no digit, slash, backslash or non-ASCII byte.
    fn mask_token(&self, tok: &str, ts: u16, out: &mut String) -> bool {
        let b = tok.as_bytes();
        // Fast path: most words hold no digit, slash or backslash and are
        // not a month or weekday.
        let interesting = ts & (DIGIT | SLASH | BSLASH | HIGH) != 0;
        if !interesting && b.len() <= self.max_token_len {
            if (3..=6).contains(&b.len()) && self.kinds.contains(&MaskKind::Timestamp) {
                let (pre, core, post) = split_core(tok);
                if is_month_or_day(core.as_bytes()) {
                    out.push_str(pre);
                    out.push_str(WILDCARD);
                    out.push_str(post);
                    return false;
                }
            }
            out.push_str(tok);
            return true;
        }
        let (pre, core, post) = split_core(tok);
        let core_shape = shape(core.as_bytes());
        // The commonest variable: digits only. No instruction before
        // Number takes a bare run of digits.
        if core_shape == DIGIT && tok.len() <= self.max_token_len && self.number_first {
            if !mask_id(pre, out) {
                out.push_str(pre);
            }
            out.push_str(WILDCARD);
            out.push_str(post);
            return false;
        }
        for &kind in &self.kinds {
            let hit = match kind {
                MaskKind::Long => {
                    if tok.len() > self.max_token_len {
                        out.push_str(WILDCARD);
                        return false;
                    }
                    false
                }
                MaskKind::Id => {
                    if mask_id(tok, out) {
                        return false;
                    }
                    false
                }
                // Every other shape but URLs, paths and month names holds
                // a digit.
                k => !core.is_empty() && classify_shaped(k, core.as_bytes(), core_shape),
            };
            if hit {
                if !mask_id(pre, out) {
                    out.push_str(pre);
                }
                out.push_str(WILDCARD);
                out.push_str(post);
                return false;
            }
        }
        out.push_str(tok);
        false
    }
}

/// Words a bracketed group may span: `[RMCommunicator Allocator]`, `[req-1
/// u2 p3 - - -]` are one token each, so a header field with spaces does
/// not change the token count.
const MAX_GROUP_WORDS: usize = 10;

/// `[` minus `]` in a word, when it starts with `[` (0 otherwise).
fn bracket_depth(w: &str) -> i32 {
    if !w.starts_with('[') {
        return 0;
    }
    let mut d = 0;
    for c in w.bytes() {
        match c {
            b'[' => d += 1,
            b']' => d -= 1,
            _ => {}
        }
    }
    d
}

/// Joins `first` and the following words (one space between) until the
/// bracket opened by `first` closes at a word's end, within
/// [`MAX_GROUP_WORDS`]; returns how many following words were taken.
fn join_group<'a>(
    first: &str,
    mut depth: i32,
    rest: &mut impl Iterator<Item = &'a str>,
    out: &mut String,
) -> Option<usize> {
    out.clear();
    out.push_str(first);
    for n in 1..MAX_GROUP_WORDS {
        let w = rest.next()?;
        out.push(' ');
        out.push_str(w);
        for c in w.bytes() {
            match c {
                b'[' => depth += 1,
                b']' => depth -= 1,
                _ => {}
            }
        }
        if depth <= 0 {
            return (depth == 0 && w.ends_with(']')).then_some(n);
        }
    }
    None
}

/// Which instruction (of the default list) masks `token`, if any; for
/// tests, docs and explanations.
pub fn classify(token: &str) -> Option<MaskKind> {
    let (_, core, _) = split_core(token);
    DEFAULT_MASKS.into_iter().find(|&k| match k {
        MaskKind::Long => token.len() > super::config::DEFAULT_MAX_TOKEN_LEN,
        MaskKind::Id => {
            let mut s = String::new();
            mask_id(token, &mut s)
        }
        k => !core.is_empty() && classify_core(k, core),
    })
}

/// Masks `line` with the default instructions and joins the tokens with
/// one space (what a template made from this line alone looks like).
pub fn mask_line(line: &str) -> String {
    let m = Masker::new(
        &DEFAULT_MASKS,
        super::config::DEFAULT_MAX_TOKENS,
        super::config::DEFAULT_MAX_TOKEN_LEN,
        super::config::DEFAULT_PREFIX_TOKENS,
    );
    let mut out = Masked::default();
    m.mask(line, &mut out);
    let mut s = out.tokens().collect::<Vec<_>>().join(" ");
    if out.truncated {
        s.push_str(" <...>");
    }
    s
}

/// Whether a masked token may key a tree level: it holds an ASCII letter
/// outside the wildcards.
pub(crate) fn is_key(tok: &str) -> bool {
    let b = tok.as_bytes();
    let w = WILDCARD.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(w) {
            i += w.len();
        } else if b[i].is_ascii_alphabetic() {
            return true;
        } else {
            i += 1;
        }
    }
    false
}

/// Splits a token into leading brackets/quotes, the core, and trailing
/// punctuation; the core starts after the last `=`.
fn split_core(tok: &str) -> (&str, &str, &str) {
    let b = tok.as_bytes();
    // A URL's own `=` (query strings) does not start the core.
    let limit = if b.contains(&b'=') {
        b.windows(3).position(|w| w == b"://").unwrap_or(b.len())
    } else {
        b.len()
    };
    let mut s = match memrchr(b'=', &b[..limit]) {
        Some(i) if i + 1 < b.len() => i + 1,
        _ => 0,
    };
    while s < b.len() && matches!(b[s], b'(' | b'[' | b'{' | b'<' | b'"' | b'\'' | b'`') {
        s += 1;
    }
    let mut e = b.len();
    while e > s
        && matches!(
            b[e - 1],
            b')' | b']'
                | b'}'
                | b'>'
                | b'"'
                | b'\''
                | b'`'
                | b','
                | b';'
                | b':'
                | b'.'
                | b'!'
                | b'?'
        )
    {
        e -= 1;
    }
    (&tok[..s], &tok[s..e], &tok[e..])
}

fn memrchr(c: u8, b: &[u8]) -> Option<usize> {
    b.iter().rposition(|&x| x == c)
}

fn strip_ansi(line: &str, out: &mut String) {
    out.clear();
    let b = line.as_bytes();
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i] == 0x1b {
            out.push_str(&line[last..i]);
            i += 1;
            if i < b.len() && b[i] == b'[' {
                i += 1;
                while i < b.len() && !(0x40..=0x7e).contains(&b[i]) {
                    i += 1;
                }
                i = (i + 1).min(b.len());
            } else if i < b.len() {
                i += 1;
            }
            // Never cut inside a multi-byte character.
            while i < b.len() && !line.is_char_boundary(i) {
                i += 1;
            }
            last = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&line[last..]);
}

fn is_id_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// Masks every run of id bytes holding a digit; false (and `out`
/// untouched) when the token holds none.
fn mask_id(tok: &str, out: &mut String) -> bool {
    let b = tok.as_bytes();
    if !b.iter().any(u8::is_ascii_digit) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_id_byte(b[i]) {
            let s = i;
            let mut digit = false;
            while i < b.len() && is_id_byte(b[i]) {
                digit |= b[i].is_ascii_digit();
                i += 1;
            }
            // A leading `-` or `_` stays literal (`blk_-123` → `blk_-<*>`
            // would differ from `blk_123` → `<*>`; keep both as `<*>` by
            // treating the whole run alike).
            if digit {
                out.push_str(WILDCARD);
            } else {
                out.push_str(&tok[s..i]);
            }
        } else {
            let s = i;
            while i < b.len() && !is_id_byte(b[i]) {
                i += 1;
            }
            out.push_str(&tok[s..i]);
        }
    }
    true
}

/// A plain word: letters (and `-`, `_`, `'`) with at most leading quotes
/// or brackets and trailing punctuation: `Started`, `"GET`, `isn't`,
/// `Agent.`. Not plain: anything with a digit, a masked part, `=`, or an
/// inner `.`, `:` or `/` (dotted names, `key:value` pairs and paths are
/// often variables: host names, class names, `overlap:false`).
pub(crate) fn is_word(tok: &str) -> bool {
    let b = tok.as_bytes();
    let s = b
        .iter()
        .position(|c| !matches!(c, b'"' | b'\'' | b'(' | b'[' | b'`'))
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| {
            !matches!(
                c,
                b'.' | b',' | b';' | b':' | b'!' | b'?' | b')' | b']' | b'"' | b'\''
            )
        })
        .map_or(s, |i| i + 1);
    let core = &b[s..e.max(s)];
    !core.is_empty()
        && !is_level(core)
        && core.iter().any(u8::is_ascii_alphabetic)
        && core
            .iter()
            .all(|&c| c.is_ascii_alphabetic() || c == b'-' || c == b'_' || c == b'\'')
}

/// Log level names: the same message is logged at several levels, so a
/// level is never the word that tells two templates apart.
fn is_level(w: &[u8]) -> bool {
    const LEVELS: [&[u8]; 14] = [
        b"trace",
        b"debug",
        b"info",
        b"notice",
        b"warn",
        b"warning",
        b"error",
        b"err",
        b"severe",
        b"fatal",
        b"critical",
        b"crit",
        b"alert",
        b"emerg",
    ];
    w.len() <= 8 && LEVELS.iter().any(|l| l.eq_ignore_ascii_case(w))
}
