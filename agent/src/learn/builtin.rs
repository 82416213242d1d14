//! The built-in pattern library (`earlyexit_aggregator::patterns`) as the
//! agent uses it when nothing was learned: the entries that apply to a
//! command, joined into one error pattern with their known noise as
//! excludes.
//!
//! Owns that translation only. Selecting entries by command is the
//! library's ([`Library::for_command`]); compiling is the matcher's, so
//! nothing here compiles a regex: a command gets its tools' entries as
//! text, and the run compiles one pattern, never the whole library.
//!
//! The pattern and excludes start with `(?-u)`: `\w`, `\d`, `\s` and
//! `\S` are ASCII classes (non-ASCII bytes count as non-space), which is
//! what these tools print, and compiling the Unicode classes instead is
//! several times slower (about 10 ms for one tool's entries in a release
//! build: too much for `--auto`'s startup budget). Non-ASCII literals
//! (jest's `✕`, `●`) still match their UTF-8 bytes.

use earlyexit_aggregator::patterns::{Library, Severity};

/// `re` with its Perl classes and word boundaries made ASCII: `\w` →
/// `(?-u:\w)` outside brackets, `0-9A-Za-z_` inside (likewise `\d`, `\s`;
/// `\b`, `\B`, `\W`, `\D`, `\S` outside brackets). Everything else is
/// copied as it is.
pub fn ascii_classes(re: &str) -> String {
    let mut out = String::with_capacity(re.len() + 32);
    let mut chars = re.chars().peekable();
    let mut in_class = false;
    // Characters since the class opened ('^' and a leading ']' are literal).
    let mut class_len = 0;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(n) = chars.next() else {
                    out.push(c);
                    break;
                };
                let inside = match n {
                    'w' => Some("0-9A-Za-z_"),
                    'd' => Some("0-9"),
                    's' => Some("\\t\\n\\x0B\\x0C\\r "),
                    _ => None,
                };
                match (in_class, inside) {
                    (true, Some(ascii)) => out.push_str(ascii),
                    (false, _) if "wWdDsSbB".contains(n) => {
                        out.push_str("(?-u:\\");
                        out.push(n);
                        out.push(')');
                    }
                    _ => {
                        out.push(c);
                        out.push(n);
                    }
                }
                class_len += 1;
            }
            '[' if !in_class => {
                in_class = true;
                class_len = 0;
                out.push(c);
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
            }
            ']' if in_class && class_len > 0 => {
                in_class = false;
                out.push(c);
            }
            _ => {
                class_len += 1;
                out.push(c);
            }
        }
    }
    out
}

/// The library's entries for one command, as a run uses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinChoice {
    /// The error and failure-summary entries' regexes, OR-ed.
    pub pattern: String,
    /// Their excludes (known noise), deduplicated, in library order.
    pub excludes: Vec<String>,
    /// The ids of the entries used, in library order.
    pub ids: Vec<&'static str>,
    /// The ids of the entries of the command's own tools (not the generic
    /// CI-runner entries), in library order.
    pub tool_ids: Vec<&'static str>,
    /// The tools they come from, deduplicated, in library order (`npm`,
    /// `jest`, …), generic CI-runner entries left out.
    pub tools: Vec<&'static str>,
}

impl BuiltinChoice {
    /// The tools for messages: the first few, and how many more.
    pub fn tools_shown(&self) -> String {
        const SHOWN: usize = 4;
        match self.tools.len() {
            0 => "CI runners".to_string(),
            n if n <= SHOWN => self.tools.join(", "),
            n => format!(
                "{} and {} more tools",
                self.tools[..SHOWN].join(", "),
                n - SHOWN
            ),
        }
    }

    /// The tools' own entry ids for messages: the first dozen, and how many more.
    pub fn ids_shown(&self) -> String {
        const SHOWN: usize = 12;
        let ids = &self.tool_ids;
        if ids.len() <= SHOWN {
            ids.join(", ")
        } else {
            format!(
                "{}, and {} more",
                ids[..SHOWN].join(", "),
                ids.len() - SHOWN
            )
        }
    }
}

/// The built-in entries for `argv` (error and failure-summary severity;
/// warnings never stop a run), or `None` when the command is empty.
///
/// The library's regexes are anchored for cleaned lines (no CI timestamp,
/// no ANSI colours); a run matches raw lines, so an entry may miss a line
/// a CI runner prefixed with a timestamp. Excludes apply to the whole
/// pattern here, not per entry as inside the library.
pub fn for_command(argv: &[String]) -> Option<BuiltinChoice> {
    if argv.is_empty() {
        return None;
    }
    let library = Library::builtin().for_command(argv);
    let entries: Vec<_> = library
        .entries()
        .iter()
        .copied()
        .filter(|e| e.severity != Severity::Warning)
        .collect();
    if entries.is_empty() {
        return None;
    }
    let mut excludes: Vec<String> = Vec::new();
    let mut tools: Vec<&'static str> = Vec::new();
    for e in &entries {
        for x in e.excludes {
            let x = ascii_classes(x);
            if !excludes.contains(&x) {
                excludes.push(x);
            }
        }
        if !e.is_generic() && !tools.contains(&e.tool) {
            tools.push(e.tool);
        }
    }
    Some(BuiltinChoice {
        pattern: entries
            .iter()
            .map(|e| format!("(?:{})", ascii_classes(e.regex)))
            .collect::<Vec<_>>()
            .join("|"),
        excludes,
        ids: entries.iter().map(|e| e.id).collect(),
        tool_ids: entries
            .iter()
            .filter(|e| !e.is_generic())
            .map(|e| e.id)
            .collect(),
        tools,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::{HitKind, MatchOptions, SourcedPattern, StreamMatcher};

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn cargo_test_gets_the_rust_entries_and_compiles_as_one_pattern() {
        let c = for_command(&words("cargo test --workspace")).unwrap();
        assert!(c.ids.contains(&"cargo-test-failed"), "{:?}", c.ids);
        assert!(!c.ids.contains(&"pytest-failed-test"), "{:?}", c.ids);
        assert!(
            !c.ids.contains(&"rustc-warning"),
            "warnings never stop a run"
        );
        let m = StreamMatcher::new(
            &[SourcedPattern::new(&c.pattern, "--auto")],
            &[],
            &c.excludes
                .iter()
                .map(|x| SourcedPattern::new(x, "--auto"))
                .collect::<Vec<_>>(),
            MatchOptions::default(),
        )
        .unwrap();
        let hit = |l: &str| m.check_line(l.as_bytes()).map(|h| h.kind);
        assert_eq!(
            hit("test parser::tests::empty ... FAILED"),
            Some(HitKind::Error)
        );
        assert_eq!(hit("test parser::tests::empty ... ok"), None);
        assert_eq!(hit("   Compiling error-chain v0.12.4"), None);
    }

    #[test]
    fn npm_test_gets_the_javascript_tools() {
        let c = for_command(&words("npm test")).unwrap();
        assert!(c.tools.contains(&"npm"), "{:?}", c.tools);
        assert!(c.ids.contains(&"npm-err"), "{:?}", c.ids);
    }

    #[test]
    fn every_entry_compiles_as_one_ascii_pattern_and_non_ascii_marks_still_match() {
        // `make` may run anything: every entry.
        let c = for_command(&words("make check")).unwrap();
        assert!(c.ids.len() > 80, "{}", c.ids.len());
        let sourced = |p: &str| SourcedPattern::new(p, "--auto");
        let m = StreamMatcher::new(
            &[sourced(&c.pattern)],
            &[],
            &c.excludes.iter().map(|x| sourced(x)).collect::<Vec<_>>(),
            MatchOptions::default(),
        )
        .unwrap();
        let hit = |l: &str| m.check_line(l.as_bytes()).map(|h| h.kind);
        assert_eq!(hit("    ✕ adds numbers (5 ms)"), Some(HitKind::Error));
        assert_eq!(
            hit("FAILED tests/test_x.py::test_a - assert 1 == 2"),
            Some(HitKind::Error)
        );
        assert_eq!(hit("all 12 tests passed"), None);
    }

    #[test]
    fn perl_classes_become_ascii_inside_and_outside_brackets() {
        assert_eq!(ascii_classes(r"^\s*\w+\b"), r"^(?-u:\s)*(?-u:\w)+(?-u:\b)");
        assert_eq!(ascii_classes(r"[\w.]+\.go"), r"[0-9A-Za-z_.]+\.go");
        assert_eq!(ascii_classes(r"[^\s>]\S"), r"[^\t\n\x0B\x0C\r >](?-u:\S)");
        assert_eq!(ascii_classes(r"[]a]\[x\]"), r"[]a]\[x\]");
        assert_eq!(ascii_classes(r"[✕×] \d{4}"), r"[✕×] (?-u:\d){4}");
    }

    #[test]
    fn no_command_no_choice() {
        assert_eq!(for_command(&[]), None);
    }
}
