//! Values found once, hidden everywhere ([`KnownSecrets`]).
//!
//! A rule recognises `PGPASSWORD=hunter2secret` by its key; the same value on
//! the command line or in another output line has no key beside it and
//! passes every rule. A record's texts are therefore read twice: the first
//! pass collects every value a rule found ([`crate::Scrubber::known_secrets`]),
//! the second hides each occurrence of those values wherever it is
//! ([`KnownSecrets::hide`]), with the placeholder the rule would have written.
//!
//! Owns the collection and the literal search. It must never decide what
//! is a secret: that is the rules' job, in `engine` and `rules`.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::Scrubber;
use crate::placeholder::contains_placeholder;

/// Values shorter than this are not searched for elsewhere: a 3-letter
/// password found under `password=` would otherwise blank out every
/// ordinary word that happens to contain it.
pub const MIN_KNOWN_SECRET_LEN: usize = 6;

/// The values rules found in a set of texts, with their placeholders.
#[derive(Debug, Default)]
pub struct KnownSecrets {
    finder: Option<AhoCorasick>,
    placeholders: Vec<String>,
}

impl Scrubber {
    /// Collects every value the rules find in `texts` (each split into
    /// lines), for [`KnownSecrets::hide`]. Prefixes rewritten in place
    /// (home directories) and values shorter than [`MIN_KNOWN_SECRET_LEN`]
    /// are left out.
    ///
    /// ```
    /// let s = earlyexit_scrub::Scrubber::default();
    /// let known = s.known_secrets(["PGPASSWORD=Tr0ub4dor-3x psql"]);
    /// assert_eq!(known.hide("echo Tr0ub4dor-3x"), "echo <secret:password>");
    /// ```
    pub fn known_secrets<'t>(&self, texts: impl IntoIterator<Item = &'t str>) -> KnownSecrets {
        let mut values: Vec<(String, String)> = Vec::new();
        for text in texts {
            for line in text.split('\n') {
                for (rule, start, end) in self.find(line) {
                    let value = &line[start..end];
                    if value.len() < MIN_KNOWN_SECRET_LEN
                        || contains_placeholder(value.as_bytes())
                        || values.iter().any(|(v, _)| v == value)
                    {
                        continue;
                    }
                    if let Some(placeholder) = self.placeholder_for(rule, value) {
                        values.push((value.to_string(), placeholder));
                    }
                }
            }
        }
        if values.is_empty() {
            return KnownSecrets::default();
        }
        // Leftmost-longest: a value that contains another is hidden whole.
        let finder = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(values.iter().map(|(v, _)| v.as_str()));
        match finder {
            Ok(finder) => KnownSecrets {
                finder: Some(finder),
                placeholders: values.into_iter().map(|(_, p)| p).collect(),
            },
            // Only a pathological number of values exceeds the automaton's
            // limits; the per-field rules still ran.
            Err(_) => KnownSecrets::default(),
        }
    }
}

impl KnownSecrets {
    /// How many distinct values are known.
    pub fn len(&self) -> usize {
        self.placeholders.len()
    }

    /// Whether no value is known (then [`KnownSecrets::hide`] changes nothing).
    pub fn is_empty(&self) -> bool {
        self.placeholders.is_empty()
    }

    /// `text` with every occurrence of a known value replaced by its
    /// placeholder. Borrowed when nothing was found.
    pub fn hide<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let Some(finder) = &self.finder else {
            return Cow::Borrowed(text);
        };
        let mut found = finder.find_iter(text).peekable();
        if found.peek().is_none() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for m in found {
            out.push_str(&text[at..m.start()]);
            out.push_str(&self.placeholders[m.pattern().as_usize()]);
            at = m.end();
        }
        out.push_str(&text[at..]);
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_found_under_a_key_is_hidden_where_no_rule_would_see_it() {
        let s = Scrubber::default();
        let known = s.known_secrets(["export PGPASSWORD=Sup3r-S3cret-Value", "clean line"]);
        assert_eq!(known.len(), 1);
        assert_eq!(
            known.hide("psql -W Sup3r-S3cret-Value -h db"),
            "psql -W <secret:password> -h db"
        );
        assert!(matches!(known.hide("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_keyed_placeholder_is_the_rules_own() {
        let s = Scrubber::builder().keyed(vec![9u8; 32]).build().unwrap();
        let line = "password=Sup3r-S3cret-Value";
        let known = s.known_secrets([line]);
        let scrubbed = s.scrub_line(line).into_owned();
        let placeholder = scrubbed.strip_prefix("password=").unwrap();
        assert_eq!(
            known.hide("x Sup3r-S3cret-Value y"),
            format!("x {placeholder} y")
        );
    }

    #[test]
    fn short_values_and_home_prefixes_are_not_searched_for() {
        let s = Scrubber::default();
        let known = s.known_secrets(["password=abc", "cd /home/alice/src"]);
        assert!(known.is_empty(), "{known:?}");
        assert_eq!(known.hide("abc /home/alice"), "abc /home/alice");
    }

    #[test]
    fn every_line_of_a_multi_line_text_is_read() {
        let s = Scrubber::default();
        let known = s.known_secrets([
            "first\nAWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY\n",
        ]);
        assert!(!known.is_empty());
        assert!(
            !known
                .hide("wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY")
                .contains("wJalr")
        );
    }
}
