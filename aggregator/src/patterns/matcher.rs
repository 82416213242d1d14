//! The compiled matcher over a set of pattern entries, and the line
//! cleaning every entry is written against.
//!
//! Owns compiling entries (one `RegexSet` over all entry regexes, so a line
//! that hits nothing costs one pass of one automaton) and answering which
//! entry hits a line, honouring each entry's excludes. Must never allocate
//! per line when the line has no ANSI codes and hits nothing.

use std::borrow::Cow;

use regex::{Regex, RegexSet};

use super::{Entry, PatternError};

/// A set of entries compiled for matching lines.
#[derive(Debug, Clone)]
pub struct Matcher {
    entries: Vec<&'static Entry>,
    set: RegexSet,
    /// Per entry, its compiled excludes (often none).
    excludes: Vec<Vec<Regex>>,
}

impl Matcher {
    /// Compiles `entries`; the order is kept and decides which entry
    /// [`Matcher::first_hit`] reports when several hit one line.
    pub fn new(entries: impl IntoIterator<Item = &'static Entry>) -> Result<Matcher, PatternError> {
        let entries: Vec<&'static Entry> = entries.into_iter().collect();
        let bad = |e: &Entry, regex: &str, err: regex::Error| PatternError::BadRegex {
            id: e.id.to_string(),
            regex: regex.to_string(),
            reason: err.to_string(),
        };
        let mut excludes = Vec::with_capacity(entries.len());
        for e in &entries {
            if !e.regex.starts_with('^') {
                return Err(PatternError::NotAnchored {
                    id: e.id.to_string(),
                    regex: e.regex.to_string(),
                });
            }
            Regex::new(e.regex).map_err(|err| bad(e, e.regex, err))?;
            let mut xs = Vec::with_capacity(e.excludes.len());
            for x in e.excludes {
                xs.push(Regex::new(x).map_err(|err| bad(e, x, err))?);
            }
            excludes.push(xs);
        }
        let set = RegexSet::new(entries.iter().map(|e| e.regex)).map_err(|err| {
            PatternError::BadRegex {
                id: "(the set)".to_string(),
                regex: String::new(),
                reason: err.to_string(),
            }
        })?;
        Ok(Matcher {
            entries,
            set,
            excludes,
        })
    }

    /// The compiled entries, in order.
    pub fn entries(&self) -> &[&'static Entry] {
        &self.entries
    }

    /// The first entry (in set order) that hits `line` and is not excluded
    /// by its noise list. `line` is cleaned with [`clean_line`] first.
    pub fn first_hit(&self, line: &str) -> Option<&'static Entry> {
        let line = clean_line(line);
        if !self.set.is_match(&line) {
            return None;
        }
        self.set
            .matches(&line)
            .into_iter()
            .find(|&i| !self.excludes[i].iter().any(|x| x.is_match(&line)))
            .map(|i| self.entries[i])
    }

    /// The first hit in any of the CR-separated parts of `line`, with the
    /// part it hit: a log keeps what a terminal overwrote (`50%\r100%\rerror:
    /// …`), and each part is a line on its own.
    pub fn first_hit_in_parts<'l>(&self, line: &'l str) -> Option<(&'static Entry, &'l str)> {
        line.split('\r')
            .find_map(|part| self.first_hit(part).map(|e| (e, part)))
    }

    /// Every entry that hits `line` (cleaned first), excludes honoured, in
    /// set order.
    pub fn hits(&self, line: &str) -> Vec<&'static Entry> {
        let line = clean_line(line);
        if !self.set.is_match(&line) {
            return Vec::new();
        }
        self.set
            .matches(&line)
            .into_iter()
            .filter(|&i| !self.excludes[i].iter().any(|x| x.is_match(&line)))
            .map(|i| self.entries[i])
            .collect()
    }

    /// True when some entry hits `line`.
    pub fn is_hit(&self, line: &str) -> bool {
        self.first_hit(line).is_some()
    }
}

/// A line as the entries expect it: the line end (`\n`, `\r\n`, a trailing
/// `\r`) removed, ANSI escape sequences removed (CSI such as colours, OSC
/// such as hyperlinks, and two-byte escapes such as `ESC ( B`), and a
/// leading GitHub Actions / Azure Pipelines timestamp
/// (`2024-05-01T12:00:00.1234567Z `) removed.
pub fn clean_line(line: &str) -> Cow<'_, str> {
    let line = line.trim_end_matches(['\n', '\r']);
    let line = strip_ci_timestamp(line);
    if !line.contains('\x1b') {
        return Cow::Borrowed(line);
    }
    let stripped = strip_ansi(line);
    Cow::Owned(strip_ci_timestamp(&stripped).to_string())
}

/// Removes a leading `YYYY-MM-DDTHH:MM:SS[.fff]Z ` timestamp.
fn strip_ci_timestamp(line: &str) -> &str {
    let b = line.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let shape = b.len() > 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape {
        return line;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    if b.get(i) == Some(&b'Z') && b.get(i + 1) == Some(&b' ') {
        &line[i + 2..]
    } else {
        line
    }
}

/// Removes ANSI escape sequences.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // CSI: parameters and intermediates, then one final byte @..~
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: up to BEL or ESC \
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\x07' {
                        break;
                    }
                    if c == '\x1b' {
                        chars.next_if_eq(&'\\');
                        break;
                    }
                }
            }
            // Charset selection: ESC ( B and the like take one more byte.
            Some('(' | ')' | '*' | '+') => {
                chars.next();
            }
            // Any other two-byte escape (ESC =, ESC >, ESC M, …).
            Some(_) | None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patterns::Library;

    #[test]
    fn ansi_codes_timestamps_and_line_ends_are_cleaned() {
        assert_eq!(
            clean_line("test result: \x1b[31mFAILED\x1b(B\x1b[m. 92 passed; 1 failed\r"),
            "test result: FAILED. 92 passed; 1 failed"
        );
        assert_eq!(
            clean_line(
                "2024-05-01T12:00:00.1234567Z ##[error]Process completed with exit code 1.\r\n"
            ),
            "##[error]Process completed with exit code 1."
        );
        assert_eq!(
            clean_line("\x1b]8;;http://x\x07link\x1b]8;;\x07 ok"),
            "link ok"
        );
        assert!(matches!(clean_line("plain"), Cow::Borrowed("plain")));
        // A date that is not a CI prefix stays.
        assert_eq!(
            clean_line("2024-05-01 12:00:00 started"),
            "2024-05-01 12:00:00 started"
        );
    }

    #[test]
    fn the_first_hit_follows_set_order_and_excludes_are_honoured() {
        let lib = Library::builtin().for_command(&["cargo", "test"]);
        let m = lib.matcher().unwrap();
        let hit = m.first_hit("\x1b[1m\x1b[31merror:\x1b[0m test failed, to rerun pass '--lib'");
        assert_eq!(hit.map(|e| e.id), Some("cargo-test-rerun"));
        assert!(
            m.hits("error: test failed, to rerun pass `--lib`")
                .iter()
                .any(|e| e.id == "rustc-error")
        );
        assert_eq!(
            m.first_hit("test result: ok. 3 passed; 0 failed; 0 ignored"),
            None
        );
        assert_eq!(m.first_hit("test parser::error_recovery ... ok"), None);
        assert!(m.hits("").is_empty());
        let (e, part) = m
            .first_hit_in_parts("  50%\r100%\rtest x ... FAILED\r")
            .unwrap();
        assert_eq!((e.id, part), ("cargo-test-failed", "test x ... FAILED"));
    }
}
