//! Patterns: compiling them from the command line and deciding, for a line
//! or a block of lines, whether an error pattern or a success pattern hits.
//!
//! The hot path never runs a regex per line: [`StreamMatcher::next_candidate`]
//! searches a whole block of complete lines at once (multi-line mode, so `^`
//! and `$` still mean line start and end) and only the line around a
//! candidate is checked on its own. This module never reads streams, prints
//! or records anything.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use regex::bytes::{Regex, RegexBuilder};

/// Matching looks at most at this many bytes of one line (1 MiB). Longer
/// lines still pass through whole; only the part past the cap is not matched.
pub const MATCH_LINE_CAP: usize = 1 << 20;

/// A pattern that does not compile: which one, where it came from, why, and
/// how to fix it.
#[derive(Debug, thiserror::Error)]
#[error("invalid pattern '{pattern}' (from {origin}): {reason}\nhint: {}", self.hint())]
pub struct PatternError {
    /// The pattern text as given.
    pub pattern: String,
    /// Where it came from (`PATTERN`, `-e`, `--exclude`, `--fd-pattern 3`, …).
    pub origin: String,
    /// The regex engine's explanation, about the text as given.
    pub reason: String,
    /// Compiled with `-P` (fancy-regex).
    pub perl: bool,
}

impl PatternError {
    /// What to try, for this engine and this failure.
    fn hint(&self) -> &'static str {
        let look_around =
            self.reason.contains("look-around") || self.reason.contains("backreference");
        match (self.perl, look_around) {
            (false, true) => {
                "look-around and back-references need -P (Perl-style regex); or rewrite the pattern without them"
            }
            (false, false) => {
                "quote the pattern in the shell ('...'), escape regex metacharacters with '\\' (e.g. '\\(' for a literal parenthesis), or use -P for look-around and back-references"
            }
            (true, _) => {
                "quote the pattern in the shell ('...') and escape regex metacharacters with '\\' (e.g. '\\(' for a literal parenthesis)"
            }
        }
    }
}

/// Flags that apply to every pattern.
#[derive(Debug, Clone, Copy, Default)]
pub struct MatchOptions {
    /// `-i`.
    pub ignore_case: bool,
    /// `-w`: the match must be a whole word.
    pub word: bool,
    /// `-x`: the match must be the whole line.
    pub whole_line: bool,
    /// `-v`: a line counts when it does NOT match the error patterns.
    pub invert: bool,
    /// `-P`: fancy-regex (look-around, back-references) instead of `regex`.
    pub perl: bool,
}

/// One pattern with where it came from, for error messages.
#[derive(Debug, Clone)]
pub struct SourcedPattern {
    /// The pattern text.
    pub text: String,
    /// Where it came from (see [`PatternError::origin`]).
    pub origin: String,
}

impl SourcedPattern {
    /// A pattern from `origin`.
    pub fn new(text: impl Into<String>, origin: impl Into<String>) -> Self {
        SourcedPattern {
            text: text.into(),
            origin: origin.into(),
        }
    }
}

/// What a line hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitKind {
    /// An error pattern (or, with `-v`, a line no error pattern matches).
    Error,
    /// A `--success-pattern`.
    Success,
}

/// A hit in one line: what kind, and the byte range that matched (empty for
/// `-v` hits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Error or success.
    pub kind: HitKind,
    /// Start of the match in the line.
    pub start: usize,
    /// End of the match in the line.
    pub end: usize,
}

/// One compiled role (error, success, exclude): several patterns OR-ed.
#[derive(Debug, Clone)]
enum Compiled {
    Fast(Regex),
    Fancy(fancy_regex::Regex),
}

impl Compiled {
    fn build(
        patterns: &[SourcedPattern],
        options: MatchOptions,
    ) -> Result<Option<Self>, PatternError> {
        if patterns.is_empty() {
            return Ok(None);
        }
        let combined = wrap(patterns, options);
        let reason = match Self::compile_one(&combined, options) {
            Ok(compiled) => return Ok(Some(compiled)),
            Err(reason) => reason,
        };
        // Only on failure: find the culprit, and explain it in terms of the
        // text as given (the wrapped form adds groups and anchors the user
        // never wrote).
        for p in patterns {
            let error = |reason| PatternError {
                pattern: p.text.clone(),
                origin: p.origin.clone(),
                reason,
                perl: options.perl,
            };
            Self::compile_one(&p.text, options).map_err(error)?;
            Self::compile_one(&wrap(std::slice::from_ref(p), options), options).map_err(error)?;
        }
        Err(PatternError {
            pattern: combined,
            origin: "the combined patterns".into(),
            reason,
            perl: options.perl,
        })
    }

    fn compile_one(text: &str, options: MatchOptions) -> Result<Self, String> {
        if options.perl {
            fancy_regex::RegexBuilder::new(&format!(
                "{}{}",
                if options.ignore_case { "(?i)" } else { "" },
                text
            ))
            .build()
            .map(Compiled::Fancy)
            .map_err(|e| e.to_string())
        } else {
            RegexBuilder::new(text)
                .case_insensitive(options.ignore_case)
                // Multi-line + CRLF: `^`/`$` are line boundaries inside a
                // block, and `$` also matches before a `\r\n`.
                .multi_line(true)
                .crlf(true)
                .build()
                .map(Compiled::Fast)
                .map_err(|e| e.to_string())
        }
    }

    /// First match in `line` as a byte range.
    fn find(&self, line: &[u8]) -> Option<(usize, usize)> {
        match self {
            Compiled::Fast(re) => re.find(line).map(|m| (m.start(), m.end())),
            Compiled::Fancy(re) => {
                let text = String::from_utf8_lossy(line);
                match re.find(text.as_ref()) {
                    Ok(Some(m)) => Some(lossy_range(line, &text, m.start(), m.end())),
                    _ => None,
                }
            }
        }
    }

    fn find_iter(&self, line: &[u8]) -> Vec<(usize, usize)> {
        match self {
            Compiled::Fast(re) => re.find_iter(line).map(|m| (m.start(), m.end())).collect(),
            Compiled::Fancy(re) => {
                let text = String::from_utf8_lossy(line);
                re.find_iter(text.as_ref())
                    .filter_map(Result::ok)
                    .map(|m| lossy_range(line, &text, m.start(), m.end()))
                    .collect()
            }
        }
    }
}

/// Maps a range in the lossy decoding back to the original bytes. When the
/// line was valid UTF-8 the ranges are the same; otherwise clamp.
#[allow(clippy::ptr_arg)] // whether the decoding borrowed is the point
fn lossy_range(line: &[u8], text: &Cow<'_, str>, start: usize, end: usize) -> (usize, usize) {
    if matches!(text, Cow::Borrowed(_)) {
        (start, end)
    } else {
        (start.min(line.len()), end.min(line.len()))
    }
}

/// OR-s patterns and applies `-w` / `-x` around each.
fn wrap(patterns: &[SourcedPattern], options: MatchOptions) -> String {
    let (before, after) = match (options.whole_line, options.word, options.perl) {
        (true, _, _) => ("^(?:", ")$"),
        (false, true, false) => (r"\b{start-half}(?:", r")\b{end-half}"),
        (false, true, true) => (r"(?<!\w)(?:", r")(?!\w)"),
        (false, false, _) => ("(?:", ")"),
    };
    patterns
        .iter()
        .map(|p| format!("{before}{}{after}", p.text))
        .collect::<Vec<_>>()
        .join("|")
}

/// The patterns that apply to one stream, compiled: at once
/// ([`StreamMatcher::new`], which reports a bad pattern), or on first use
/// ([`StreamMatcher::deferred`], for patterns known to compile, such as
/// the built-in library's), so a large pattern costs the start of a run
/// nothing: it is compiled on the stream's thread when the first output
/// arrives (the pass-through of that output does not wait for it), and
/// never for a stream that stays silent.
#[derive(Debug, Clone)]
pub struct StreamMatcher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    ready: OnceLock<Ready>,
    /// What to compile, for a deferred matcher.
    spec: Option<Spec>,
}

#[derive(Debug)]
struct Spec {
    errors: Vec<SourcedPattern>,
    success: Vec<SourcedPattern>,
    exclude: Vec<SourcedPattern>,
    options: MatchOptions,
}

impl Inner {
    fn get(&self) -> &Ready {
        self.ready.get_or_init(|| match &self.spec {
            Some(s) => Ready::new(&s.errors, &s.success, &s.exclude, s.options).unwrap_or_else(
                |e| {
                    eprintln!("earlyexit: warning: the chosen pattern does not compile, nothing will match: {e}");
                    Ready::none()
                },
            ),
            None => Ready::none(),
        })
    }
}

impl StreamMatcher {
    /// Compiles the error, success and exclude patterns of one stream.
    pub fn new(
        errors: &[SourcedPattern],
        success: &[SourcedPattern],
        exclude: &[SourcedPattern],
        options: MatchOptions,
    ) -> Result<Self, PatternError> {
        let ready = OnceLock::new();
        let _ = ready.set(Ready::new(errors, success, exclude, options)?);
        Ok(StreamMatcher {
            inner: Arc::new(Inner { ready, spec: None }),
        })
    }

    /// Keeps the patterns to compile them on first use. A pattern that does
    /// not compile then matches nothing and is reported once on stderr, so
    /// use this only for patterns known to compile.
    pub fn deferred(
        errors: &[SourcedPattern],
        success: &[SourcedPattern],
        exclude: &[SourcedPattern],
        options: MatchOptions,
    ) -> Self {
        let inner = Arc::new(Inner {
            ready: OnceLock::new(),
            spec: Some(Spec {
                errors: errors.to_vec(),
                success: success.to_vec(),
                exclude: exclude.to_vec(),
                options,
            }),
        });
        StreamMatcher { inner }
    }

    /// True when this stream has any error or success pattern (with `-v`,
    /// an error "pattern" may be absent and still hit every line: not here).
    pub fn is_active(&self) -> bool {
        self.inner.get().is_active()
    }

    /// True when blocks can be searched whole with [`Self::next_candidate`];
    /// otherwise every line must go through [`Self::check_line`].
    pub fn can_scan(&self) -> bool {
        self.inner.get().can_scan()
    }

    /// The offset in `block[from..]` (absolute) of a position that may
    /// belong to a hitting line, or `None` when no line in it can hit.
    /// The caller checks the line around the offset with `check_line`.
    pub fn next_candidate(&self, block: &[u8], from: usize) -> Option<usize> {
        self.inner.get().next_candidate(block, from)
    }

    /// Decides one line (without its `\n`): error hit, success hit, or none.
    /// Error patterns win over success patterns; `--exclude` vetoes both.
    pub fn check_line(&self, line: &[u8]) -> Option<Hit> {
        self.inner.get().check_line(line)
    }

    /// Every error-pattern match in `line`, for highlighting.
    pub fn highlight_ranges(&self, line: &[u8]) -> Vec<(usize, usize)> {
        self.inner.get().highlight_ranges(line)
    }
}

/// The compiled patterns of one stream.
#[derive(Debug, Clone)]
struct Ready {
    error: Option<Compiled>,
    success: Option<Compiled>,
    exclude: Option<Compiled>,
    /// Error and success OR-ed, for block scanning when both exist.
    scan: Option<Regex>,
    invert: bool,
}

impl Ready {
    fn none() -> Ready {
        Ready {
            error: None,
            success: None,
            exclude: None,
            scan: None,
            invert: false,
        }
    }

    fn new(
        errors: &[SourcedPattern],
        success: &[SourcedPattern],
        exclude: &[SourcedPattern],
        options: MatchOptions,
    ) -> Result<Self, PatternError> {
        let error = Compiled::build(errors, options)?;
        let success_c = Compiled::build(
            success,
            MatchOptions {
                invert: false,
                ..options
            },
        )?;
        let exclude_c = Compiled::build(exclude, options)?;
        let scan = match (&error, &success_c, options.invert) {
            (Some(Compiled::Fast(_)), Some(Compiled::Fast(_)), false) => {
                let all: Vec<SourcedPattern> = errors.iter().chain(success).cloned().collect();
                match Compiled::build(&all, options)? {
                    Some(Compiled::Fast(re)) => Some(re),
                    _ => None,
                }
            }
            (Some(Compiled::Fast(re)), None, false) | (None, Some(Compiled::Fast(re)), _) => {
                Some(re.clone())
            }
            _ => None,
        };
        Ok(Ready {
            error,
            success: success_c,
            exclude: exclude_c,
            scan,
            invert: options.invert,
        })
    }

    fn is_active(&self) -> bool {
        self.error.is_some() || self.success.is_some()
    }

    fn can_scan(&self) -> bool {
        self.scan.is_some() || !self.is_active()
    }

    fn next_candidate(&self, block: &[u8], from: usize) -> Option<usize> {
        let re = self.scan.as_ref()?;
        re.find_at(block, from).map(|m| m.start())
    }

    fn check_line(&self, line: &[u8]) -> Option<Hit> {
        let line = trim_eol(&line[..line.len().min(MATCH_LINE_CAP)]);
        let error = match &self.error {
            Some(re) => match (re.find(line), self.invert) {
                (Some((start, end)), false) => Some(Hit {
                    kind: HitKind::Error,
                    start,
                    end,
                }),
                (None, true) => Some(Hit {
                    kind: HitKind::Error,
                    start: 0,
                    end: 0,
                }),
                _ => None,
            },
            None => None,
        };
        let hit = error.or_else(|| {
            self.success.as_ref().and_then(|re| {
                re.find(line).map(|(start, end)| Hit {
                    kind: HitKind::Success,
                    start,
                    end,
                })
            })
        })?;
        if let Some(ex) = &self.exclude
            && ex.find(line).is_some()
        {
            return None;
        }
        Some(hit)
    }

    fn highlight_ranges(&self, line: &[u8]) -> Vec<(usize, usize)> {
        match (&self.error, self.invert) {
            (Some(re), false) => re.find_iter(&line[..line.len().min(MATCH_LINE_CAP)]),
            _ => Vec::new(),
        }
    }
}

/// Strips one trailing `\r` (the rest of a `\r\n`).
fn trim_eol(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Vec<SourcedPattern> {
        vec![SourcedPattern::new(text, "PATTERN")]
    }

    fn matcher(errors: &str, options: MatchOptions) -> StreamMatcher {
        StreamMatcher::new(&p(errors), &[], &[], options).unwrap()
    }

    #[test]
    fn a_deferred_matcher_decides_like_one_compiled_at_once() {
        let now = matcher("ERROR|FAIL", MatchOptions::default());
        let later = StreamMatcher::deferred(&p("ERROR|FAIL"), &[], &[], MatchOptions::default());
        for line in [&b"an ERROR here"[..], b"FAIL", b"fine", b""] {
            assert_eq!(now.check_line(line), later.check_line(line));
        }
        assert_eq!(
            now.next_candidate(b"ok\nFAIL\n", 0),
            later.next_candidate(b"ok\nFAIL\n", 0)
        );
        assert!(later.can_scan() && later.is_active());
        // A pattern that does not compile matches nothing (and says so once).
        let bad = StreamMatcher::deferred(&p("a("), &[], &[], MatchOptions::default());
        assert_eq!(bad.check_line(b"a("), None);
        assert!(!bad.is_active());
    }

    #[test]
    fn plain_and_case_insensitive() {
        let m = matcher("ERROR", MatchOptions::default());
        assert_eq!(
            m.check_line(b"an ERROR here").map(|h| (h.start, h.end)),
            Some((3, 8))
        );
        assert!(m.check_line(b"an error here").is_none());
        let m = matcher(
            "ERROR",
            MatchOptions {
                ignore_case: true,
                ..Default::default()
            },
        );
        assert!(m.check_line(b"an error here").is_some());
    }

    #[test]
    fn word_and_whole_line() {
        let w = matcher(
            "err",
            MatchOptions {
                word: true,
                ..Default::default()
            },
        );
        assert!(w.check_line(b"an err here").is_some());
        assert!(w.check_line(b"an error here").is_none());
        let punct = matcher(
            "@x",
            MatchOptions {
                word: true,
                ..Default::default()
            },
        );
        assert!(
            punct.check_line(b"a @x b").is_some(),
            "grep -w semantics for non-word edges"
        );
        let x = matcher(
            "FAIL",
            MatchOptions {
                whole_line: true,
                ..Default::default()
            },
        );
        assert!(x.check_line(b"FAIL").is_some());
        assert!(
            x.check_line(b"FAIL\r").is_some(),
            "CRLF line end is not part of the line"
        );
        assert!(x.check_line(b"FAILED").is_none());
    }

    #[test]
    fn invert_counts_lines_that_do_not_match() {
        let m = matcher(
            "ok",
            MatchOptions {
                invert: true,
                ..Default::default()
            },
        );
        assert!(m.check_line(b"ok 1").is_none());
        assert_eq!(m.check_line(b"not good").unwrap().kind, HitKind::Error);
        assert!(!m.can_scan());
    }

    #[test]
    fn exclude_vetoes_and_error_beats_success() {
        let m = StreamMatcher::new(
            &p("error"),
            &[SourcedPattern::new("passed", "--success-pattern")],
            &[SourcedPattern::new("0 errors", "--exclude")],
            MatchOptions::default(),
        )
        .unwrap();
        assert!(m.check_line(b"build finished with 0 errors").is_none());
        assert_eq!(m.check_line(b"error: boom").unwrap().kind, HitKind::Error);
        assert_eq!(m.check_line(b"all passed").unwrap().kind, HitKind::Success);
        assert_eq!(
            m.check_line(b"error but passed").unwrap().kind,
            HitKind::Error
        );
    }

    #[test]
    fn block_scan_respects_line_anchors() {
        let m = matcher("^ERROR$", MatchOptions::default());
        let block = b"x ERROR\nERROR\nyy\n";
        let at = m.next_candidate(block, 0).unwrap();
        assert_eq!(at, 8);
        assert!(m.next_candidate(block, 14).is_none());
        let none = matcher("NEVERMATCH", MatchOptions::default());
        assert!(none.next_candidate(b"1\n2\n3\n", 0).is_none());
    }

    #[test]
    fn perl_mode_supports_lookaround_and_invalid_utf8() {
        let m = matcher(
            r"error(?! ignored)",
            MatchOptions {
                perl: true,
                ..Default::default()
            },
        );
        assert!(m.check_line(b"error ignored").is_none());
        assert!(m.check_line(b"error here \xff\xfe").is_some());
        assert!(!m.can_scan());
    }

    #[test]
    fn invalid_utf8_is_matched_bytewise() {
        let m = matcher("ERROR", MatchOptions::default());
        assert!(m.check_line(b"\xff\xfe ERROR \xc3").is_some());
    }

    #[test]
    fn invalid_pattern_names_the_pattern_and_origin() {
        let err = StreamMatcher::new(
            &[
                SourcedPattern::new("ok", "-e"),
                SourcedPattern::new("a(", "-e"),
            ],
            &[],
            &[],
            MatchOptions::default(),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("'a('"), "{text}");
        assert!(text.contains("from -e"), "{text}");
        assert!(text.contains("hint:"), "{text}");
    }

    #[test]
    fn match_cap_applies_to_matching_only() {
        let m = matcher("NEEDLE", MatchOptions::default());
        let mut long = vec![b'a'; MATCH_LINE_CAP + 10];
        long.extend_from_slice(b"NEEDLE");
        assert!(m.check_line(&long).is_none());
        let mut early = b"NEEDLE".to_vec();
        early.extend(vec![b'a'; MATCH_LINE_CAP + 10]);
        assert!(m.check_line(&early).is_some());
    }
}
