//! The built-in rules: one named, tested unit per kind of secret or PII.
//!
//! Owns each rule's name, regex, placeholder, cheap prefilter anchors, the
//! check that runs on a match, and the examples that prove it (every rule
//! carries positive and negative examples that `tests::each_rule_*` run). It
//! must never decide how findings are merged or written; `engine.rs` does.
//! One file per family: `tokens.rs` (shaped secrets), `assignments.rs`
//! (headers, flags, `key = value`), `context.rs` (a secret key name in any
//! other syntax: XML, tuples, whitespace pairs, calls), `pii.rs`.
//!
//! Regex conventions: patterns are compiled as byte regexes with Unicode off
//! (ASCII `\b`, `\w`, case folding). A group named `s` (or `s2`, `s3` for
//! alternatives) marks the part to replace; without one the whole match is
//! replaced.

use crate::check::Check;
use crate::placeholder::Placeholder;

/// One built-in rule.
pub(crate) struct Builtin {
    /// Stable name, used by `disable` and in findings.
    pub name: &'static str,
    /// What replaces a finding.
    pub placeholder: Placeholder,
    /// The regex (see the module header for conventions).
    pub pattern: &'static str,
    /// ASCII case-insensitive literals of which at least one occurs in every match;
    /// empty means the rule runs through the shared anchorless prefilter.
    pub anchors: &'static [&'static str],
    /// Judgement after the regex matched.
    pub check: Option<Check>,
    /// Lines with the secret the rule must remove: (line, secret).
    #[cfg_attr(not(test), allow(dead_code))]
    pub examples: &'static [(&'static str, &'static str)],
    /// Lines the rule must leave alone.
    #[cfg_attr(not(test), allow(dead_code))]
    pub non_examples: &'static [&'static str],
}

pub(super) const fn secret(label: &'static str) -> Placeholder {
    Placeholder::Typed(label)
}

/// A quoted or bare value after `=`/`:` (also `\"…\"` inside an escaped JSON
/// string); three alternative secret groups.
macro_rules! val {
    () => {
        r#"(?:\\?"(?P<s>[^"\n]*?)\\?"|'(?P<s2>[^'\n]*)'|(?P<s3>[^\s"'`,;]+))"#
    };
}

/// Separator between key and value (after `]` in `config["key"] =`, and past
/// a type annotation such as `: string =`, and past a YAML tag: `!!binary`, `!Ref`).
macro_rules! sep {
    () => {
        r#"\\?["']?\]?\s*(?::\s*&?(?:'static\s+)?(?:string|str|String)\s*)?(?:=>|:=|!==?|===?|=|:)\s*@?(?:!!?\w+\s+)?"#
    };
}

// After the macros: the rule files use them.
mod assignments;
mod context;
mod pii;
mod tokens;

/// All built-in rules, in priority order (earlier wins an overlap).
pub(crate) fn builtins() -> Vec<Builtin> {
    [
        tokens::rules(),
        assignments::rules(),
        context::rules(),
        pii::rules(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use crate::Scrubber;

    #[test]
    fn names_are_unique() {
        let rules = super::builtins();
        let mut names: Vec<_> = rules.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), rules.len());
    }

    #[test]
    fn each_rule_removes_its_examples() {
        let s = Scrubber::default();
        for rule in super::builtins() {
            for (line, secret) in rule.examples {
                let findings = s.explain(line);
                assert!(
                    findings
                        .iter()
                        .any(|f| f.rule == rule.name && line[f.start..f.end].contains(secret)),
                    "rule {} did not find {secret:?} in {line:?}: {findings:?}",
                    rule.name
                );
                let out = s.scrub_line(line);
                assert!(
                    !out.contains(secret),
                    "rule {}: {line:?} -> {out:?}",
                    rule.name
                );
            }
        }
    }

    #[test]
    fn each_rule_leaves_its_non_examples() {
        let s = Scrubber::default();
        for rule in super::builtins() {
            for line in rule.non_examples {
                let hits: Vec<_> = s
                    .explain(line)
                    .into_iter()
                    .filter(|f| f.rule == rule.name)
                    .collect();
                assert!(
                    hits.is_empty(),
                    "rule {} fired on {line:?}: {hits:?}",
                    rule.name
                );
            }
        }
    }
}
