//! The scrubber: compiles rules once, finds what to hide in a line, writes placeholders.
//!
//! Owns rule selection (built-ins minus disabled ones, plus user rules, user
//! and host names), the prefilter that keeps clean lines cheap, overlap
//! resolution, and the output. It must never keep state between lines:
//! `stream` does that (and adds [`Scrubber::scrub_text`] on top), so this
//! module never imports from it.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use crate::check::{Check, Ctx};
use crate::error::Error;
use crate::placeholder::{MAX_PLACEHOLDER_LEN, Placeholder, contains_placeholder};

use crate::rules::builtins;

/// Searches of one line at most (see `Scrubber::find`); two suffice in
/// practice, the bound only guards against a pathological rule set.
const MAX_PASSES: usize = 4;

/// Names shorter than this are refused by [`ScrubberBuilder::user_name`] and
/// [`ScrubberBuilder::host_name`]: `al` or `ci` would mangle ordinary words.
pub const MIN_NAME_LEN: usize = 3;

/// Compiled-regex size limit per rule (bytes); a user regex beyond it is refused.
const REGEX_SIZE_LIMIT: usize = 4 << 20;

/// One thing a rule found in a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding<'s> {
    /// Name of the rule that found it (`"email"`, `"aws-access-key-id"`, a user rule's name).
    pub rule: &'s str,
    /// Byte offset of the first byte to hide.
    pub start: usize,
    /// Byte offset one past the last byte to hide.
    pub end: usize,
}

struct Rule {
    name: String,
    placeholder: Placeholder,
    re: Regex,
    check: Option<Check>,
    /// Capture-group indices that mark the secret (`s`, `s2`, `s3`); empty = whole match.
    groups: Vec<usize>,
}

/// A compiled set of rules. Cheap to share (`&Scrubber` is all a thread needs).
///
/// ```
/// let s = earlyexit_scrub::Scrubber::default();
/// assert_eq!(s.scrub_line("mail bob@example.net now"), "mail <email> now");
/// ```
pub struct Scrubber {
    rules: Vec<Rule>,
    /// Literal prefilter over the anchors of anchored rules.
    anchors: Option<AhoCorasick>,
    /// Anchor pattern id → rule index.
    anchor_rule: Vec<usize>,
    /// Prefilter for rules without literal anchors (IPs, cards, …).
    anchorless: Option<RegexSet>,
    /// RegexSet pattern index → rule index.
    anchorless_rule: Vec<usize>,
    /// Rules that always run (user rules).
    always: Vec<usize>,
    key: Option<Vec<u8>>,
    pem_enabled: bool,
}

impl Default for Scrubber {
    /// All built-in rules, plain placeholders.
    fn default() -> Self {
        match Scrubber::builder().build() {
            Ok(s) => s,
            // Built-in rules are covered by tests; failing here is a bug in this crate.
            Err(e) => panic!("built-in scrub rules do not compile: {e}"),
        }
    }
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrubber")
            .field(
                "rules",
                &self
                    .rules
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("keyed", &self.key.is_some())
            .finish()
    }
}

/// Configures a [`Scrubber`]; see [`Scrubber::builder`].
#[derive(Debug, Default, Clone)]
pub struct ScrubberBuilder {
    disabled: Vec<String>,
    custom: Vec<(String, Regex, String)>,
    key: Option<Vec<u8>>,
    user: Option<String>,
    host: Option<String>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl ScrubberBuilder {
    /// Turns off the built-in rule `name` (see [`Scrubber::builtin_rule_names`]).
    /// An unknown name makes [`ScrubberBuilder::build`] fail.
    pub fn disable(mut self, name: &str) -> Self {
        self.disabled.push(name.to_owned());
        self
    }

    /// Adds a user rule: every match of `regex` (or of its group named `s`, if
    /// present) becomes `replacement`, written literally. User rules run before
    /// the built-ins and win overlaps.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::InvalidRegex`], [`Error::MatchesEmpty`] or
    /// [`Error::InvalidReplacement`] (longer than [`MAX_PLACEHOLDER_LEN`] or multi-line).
    pub fn custom(mut self, name: &str, regex: &str, replacement: &str) -> Result<Self, Error> {
        let taken = builtins().iter().any(|b| b.name == name)
            || self.custom.iter().any(|(n, _, _)| n == name);
        if !valid_name(name) || taken {
            return Err(Error::InvalidName {
                rule: name.to_owned(),
            });
        }
        let re = RegexBuilder::new(regex)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| Error::InvalidRegex {
                rule: name.to_owned(),
                reason: e.to_string(),
            })?;
        if re.is_match(b"") {
            return Err(Error::MatchesEmpty {
                rule: name.to_owned(),
            });
        }
        if replacement.len() > MAX_PLACEHOLDER_LEN || replacement.contains(['\n', '\r']) {
            return Err(Error::InvalidReplacement {
                rule: name.to_owned(),
                max: MAX_PLACEHOLDER_LEN,
            });
        }
        self.custom
            .push((name.to_owned(), re, replacement.to_owned()));
        Ok(self)
    }

    /// Keyed placeholders: `<email:3f9a1c>`, the first 3 bytes of
    /// HMAC-SHA256(key, label ‖ 0 ‖ value). Equal values give equal placeholders
    /// under one key; without the key the value cannot be recovered short of
    /// guessing it. Home directories still become `~`, user rules stay literal.
    pub fn keyed(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Replaces this local user name wherever it stands as a word with `<user>`.
    pub fn user_name(mut self, name: &str) -> Self {
        self.user = Some(name.to_owned());
        self
    }

    /// Replaces this host name wherever it stands as a word with `<host>`.
    pub fn host_name(mut self, name: &str) -> Self {
        self.host = Some(name.to_owned());
        self
    }

    /// Compiles the rules.
    ///
    /// # Errors
    /// [`Error::UnknownRule`] for a bad `disable`, [`Error::NameTooShort`] for a
    /// user or host name under [`MIN_NAME_LEN`] bytes, [`Error::EmptyKey`].
    pub fn build(self) -> Result<Scrubber, Error> {
        let all = builtins();
        for d in &self.disabled {
            if !all.iter().any(|b| b.name == d) {
                return Err(Error::UnknownRule {
                    rule: d.clone(),
                    known: all.iter().map(|b| b.name).collect::<Vec<_>>().join(", "),
                });
            }
        }
        if self.key.as_ref().is_some_and(Vec::is_empty) {
            return Err(Error::EmptyKey);
        }
        let mut rules = Vec::new();
        let mut always = Vec::new();
        let mut anchor_pats: Vec<String> = Vec::new();
        let mut anchor_rule = Vec::new();
        let mut set_pats: Vec<&str> = Vec::new();
        let mut anchorless_rule = Vec::new();

        for (name, re, replacement) in self.custom {
            always.push(rules.len());
            let groups = secret_groups(&re);
            rules.push(Rule {
                name,
                placeholder: Placeholder::Literal(replacement),
                re,
                check: None,
                groups,
            });
        }
        let mut pem_enabled = false;
        for b in all
            .iter()
            .filter(|b| !self.disabled.iter().any(|d| d == b.name))
        {
            pem_enabled |= b.name == "private-key";
            let re = RegexBuilder::new(b.pattern)
                .unicode(false)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| Error::InvalidRegex {
                    rule: b.name.to_owned(),
                    reason: e.to_string(),
                })?;
            let idx = rules.len();
            if b.anchors.is_empty() {
                set_pats.push(b.pattern);
                anchorless_rule.push(idx);
            } else {
                for a in b.anchors {
                    anchor_pats.push((*a).to_owned());
                    anchor_rule.push(idx);
                }
            }
            let groups = secret_groups(&re);
            rules.push(Rule {
                name: b.name.to_owned(),
                placeholder: b.placeholder.clone(),
                re,
                check: b.check,
                groups,
            });
        }
        for (what, value, label) in [
            ("host name", &self.host, "host"),
            ("user name", &self.user, "user"),
        ] {
            let Some(value) = value else { continue };
            if value.len() < MIN_NAME_LEN {
                return Err(Error::NameTooShort {
                    what,
                    value: value.clone(),
                    min: MIN_NAME_LEN,
                });
            }
            let pattern = format!(
                r"(?i)(?:^|[^A-Za-z0-9_])(?P<s>{})(?:$|[^A-Za-z0-9_])",
                regex::escape(value)
            );
            let re = RegexBuilder::new(&pattern)
                .build()
                .map_err(|e| Error::InvalidRegex {
                    rule: label.to_owned(),
                    reason: e.to_string(),
                })?;
            anchor_pats.push(value.clone());
            anchor_rule.push(rules.len());
            let groups = secret_groups(&re);
            rules.push(Rule {
                name: label.to_owned(),
                placeholder: Placeholder::Typed(label),
                re,
                check: None,
                groups,
            });
        }
        let anchors = if anchor_pats.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    // A DFA doubles the scan speed over the default NFA for our
                    // ~200 case-insensitive anchors; it costs some memory once.
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&anchor_pats)
                    .map_err(|e| Error::InvalidRegex {
                        rule: "anchors".to_owned(),
                        reason: e.to_string(),
                    })?,
            )
        };
        let anchorless = if set_pats.is_empty() {
            None
        } else {
            Some(
                RegexSetBuilder::new(&set_pats)
                    .unicode(false)
                    .size_limit(REGEX_SIZE_LIMIT * 4)
                    .build()
                    .map_err(|e| Error::InvalidRegex {
                        rule: "anchorless-set".to_owned(),
                        reason: e.to_string(),
                    })?,
            )
        };
        Ok(Scrubber {
            rules,
            anchors,
            anchor_rule,
            anchorless,
            anchorless_rule,
            always,
            key: self.key,
            pem_enabled,
        })
    }
}

fn secret_groups(re: &Regex) -> Vec<usize> {
    re.capture_names()
        .enumerate()
        .filter(|(_, n)| matches!(n, Some("s" | "s2" | "s3")))
        .map(|(i, _)| i)
        .collect()
}

/// Bytes that continue an opaque token (base64url and word characters).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

impl Scrubber {
    /// Starts a configuration with every built-in rule enabled.
    pub fn builder() -> ScrubberBuilder {
        ScrubberBuilder::default()
    }

    /// Names of the built-in rules, in priority order.
    pub fn builtin_rule_names() -> Vec<&'static str> {
        builtins().iter().map(|b| b.name).collect()
    }

    /// Whether keyed placeholders are on.
    pub fn is_keyed(&self) -> bool {
        self.key.is_some()
    }

    pub(crate) fn pem_enabled(&self) -> bool {
        self.pem_enabled
    }

    pub(crate) fn key(&self) -> Option<&[u8]> {
        self.key.as_deref()
    }

    /// What would be hidden in `line`, by which rule, as non-overlapping byte
    /// spans sorted by position. Earlier rules win overlaps (user rules first).
    pub fn explain<'s>(&'s self, line: &str) -> Vec<Finding<'s>> {
        self.find(line)
            .into_iter()
            .map(|(rule, start, end)| Finding {
                rule: &self.rules[rule].name,
                start,
                end,
            })
            .collect()
    }

    /// Whether scrubbing `text` would change nothing: as one line, with
    /// [`Scrubber::scrub_text`], and for every `\n`-separated part of it on
    /// its own. Runs only the prefilter, so a caller with many short fields
    /// can join them with `\n` and skip a clean record in one test (the
    /// collector does). `false` means "maybe": scrub the parts.
    pub fn is_clean(&self, text: &str) -> bool {
        self.candidates(text.as_bytes()).is_empty() && !crate::block::may_open_block(text)
    }

    /// Scrubs one line. Returns the input unchanged (borrowed) when nothing matched.
    /// A private key body on its own line needs context: use [`Scrubber::scrub_text`]
    /// or a [`crate::LineScrubber`].
    pub fn scrub_line<'a>(&self, line: &'a str) -> Cow<'a, str> {
        let found = self.find(line);
        if found.is_empty() {
            return Cow::Borrowed(line);
        }
        let mut out = String::with_capacity(line.len() + 16 * found.len());
        let mut at = 0;
        for (rule, start, end) in found {
            out.push_str(&line[at..start]);
            self.rules[rule]
                .placeholder
                .write(&line[start..end], self.key(), &mut out);
            at = end;
        }
        out.push_str(&line[at..]);
        Cow::Owned(out)
    }

    /// The placeholder rule `rule` writes for `value`, or `None` when the
    /// rule rewrites a prefix rather than hiding a value (home directories).
    pub(crate) fn placeholder_for(&self, rule: usize, value: &str) -> Option<String> {
        let placeholder = &self.rules[rule].placeholder;
        if matches!(placeholder, Placeholder::Home) {
            return None;
        }
        let mut out = String::new();
        placeholder.write(value, self.key(), &mut out);
        Some(out)
    }

    pub(crate) fn write_placeholder(&self, label: &'static str, value: &str, out: &mut String) {
        Placeholder::Typed(label).write(value, self.key(), out);
    }

    /// Rule indices worth running on `line`, in priority order.
    fn candidates(&self, line: &[u8]) -> Vec<usize> {
        // Most lines are clean: a plain (SIMD-prefiltered) "any match?"
        // answers that before the slower overlapping searches that say which.
        let anchored = self.anchors.as_ref().filter(|ac| ac.is_match(line));
        let anchorless = self.anchorless.as_ref().filter(|set| set.is_match(line));
        if anchored.is_none() && anchorless.is_none() && self.always.is_empty() {
            return Vec::new();
        }
        let mut hit = vec![false; self.rules.len()];
        let mut any = false;
        if let Some(ac) = anchored {
            for m in ac.find_overlapping_iter(line) {
                hit[self.anchor_rule[m.pattern().as_usize()]] = true;
                any = true;
            }
        }
        if let Some(set) = anchorless {
            for i in set.matches(line).iter() {
                hit[self.anchorless_rule[i]] = true;
                any = true;
            }
        }
        for &i in &self.always {
            hit[i] = true;
            any = true;
        }
        if !any {
            return Vec::new();
        }
        hit.iter()
            .enumerate()
            .filter(|(_, h)| **h)
            .map(|(i, _)| i)
            .collect()
    }

    /// (rule, start, end) spans, non-overlapping, sorted by start.
    ///
    /// One pass can miss a value glued to another finding: a rule's check may
    /// reject a match that started inside the neighbour, and the shorter match
    /// right after it only shows once the neighbour is a placeholder. So the
    /// line is rendered and searched again until nothing new appears (bounded
    /// by [`MAX_PASSES`]); later findings are mapped back to `line`. This is
    /// what makes scrubbing idempotent: scrubbed output finds nothing more.
    pub(crate) fn find(&self, line: &str) -> Vec<(usize, usize, usize)> {
        let mut found = self.find_once(line);
        for _ in 1..MAX_PASSES {
            if found.is_empty() {
                break;
            }
            // The rendered line, and each stretch of it with where it came
            // from: (start in rendered, end in rendered, start in line, end
            // in line, kept verbatim?).
            let mut rendered = String::with_capacity(line.len() + 16 * found.len());
            let mut pieces: Vec<(usize, usize, usize, usize, bool)> =
                Vec::with_capacity(2 * found.len() + 1);
            let mut at = 0;
            for &(rule, start, end) in &found {
                let r = rendered.len();
                rendered.push_str(&line[at..start]);
                pieces.push((r, rendered.len(), at, start, true));
                let r = rendered.len();
                self.rules[rule]
                    .placeholder
                    .write(&line[start..end], self.key(), &mut rendered);
                pieces.push((r, rendered.len(), start, end, false));
                at = end;
            }
            let r = rendered.len();
            rendered.push_str(&line[at..]);
            pieces.push((r, rendered.len(), at, line.len(), true));

            // A position in `rendered` back in `line`: inside kept text it
            // maps one to one; inside a replacement, to that replacement's
            // start (for a finding's start) or end (for its end).
            let back = |pos: usize, is_end: bool| -> usize {
                let piece = pieces.iter().find(|&&(rs, re, ..)| {
                    if is_end {
                        rs < pos && pos <= re
                    } else {
                        rs <= pos && pos < re
                    }
                });
                match piece {
                    Some(&(rs, _, os, _, true)) => os + (pos - rs),
                    Some(&(_, _, os, oe, false)) => {
                        if is_end {
                            oe
                        } else {
                            os
                        }
                    }
                    None => line.len(),
                }
            };
            let more = self.find_once(&rendered);
            if more.is_empty() {
                break;
            }
            for (rule, s, e) in more {
                let (s, e) = (back(s, false), back(e, true));
                if s >= e {
                    continue;
                }
                // A later finding that reaches into an earlier one (a token
                // running into a home path, say) takes its place.
                found.retain(|&(_, a, b)| b <= s || e <= a);
                found.push((rule, s, e));
            }
            found.sort_by_key(|&(_, s, _)| s);
        }
        found
    }

    /// One search of `line`: (rule, start, end) spans, non-overlapping, sorted.
    fn find_once(&self, line: &str) -> Vec<(usize, usize, usize)> {
        let bytes = line.as_bytes();
        let cands = self.candidates(bytes);
        if cands.is_empty() {
            return Vec::new();
        }
        let mut accepted: Vec<(usize, usize, usize)> = Vec::new();
        for ri in cands {
            let rule = &self.rules[ri];
            let mut pos = 0;
            while pos <= bytes.len() {
                let Some(caps) = rule.re.captures_at(bytes, pos) else {
                    break;
                };
                let Some(whole) = caps.get(0) else { break };
                let span = if rule.groups.is_empty() {
                    Some((whole.start(), whole.end()))
                } else {
                    rule.groups
                        .iter()
                        .find_map(|&g| caps.get(g))
                        .map(|m| (m.start(), m.end()))
                };
                // Resume right after the secret (not the whole match) so a boundary
                // character consumed by one match can start the next.
                let resume = span.map_or(whole.end(), |(_, e)| e).max(whole.start() + 1);
                pos = ceil_char(line, resume.min(bytes.len()));
                if resume > bytes.len() {
                    pos = bytes.len() + 1;
                }
                let Some((s, e)) = span else { continue };
                let (s, e) = (floor_char(line, s), ceil_char(line, e));
                if s >= e || contains_placeholder(&bytes[s..e]) {
                    continue;
                }
                let ctx = Ctx {
                    line: bytes,
                    start: s,
                    end: e,
                };
                if rule.check.is_some_and(|check| !check(&ctx)) {
                    continue;
                }
                // Earlier rules win an overlap, except that a finding covering
                // others that cut a token short (glued to a token byte inside
                // it) replaces them, so no tail of a long token survives.
                let overlaps = |&(_, a, b): &(usize, usize, usize)| s < b && a < e;
                let covers = |&(_, a, b): &(usize, usize, usize)| {
                    s <= a
                        && b <= e
                        && ((a > s && is_token_byte(bytes[a - 1]))
                            || (b < e && is_token_byte(bytes[b])))
                };
                if accepted.iter().filter(|f| overlaps(f)).all(covers) {
                    accepted.retain(|f| !overlaps(f));
                    accepted.push((ri, s, e));
                } else if let Some(blocker_end) = accepted
                    .iter()
                    .filter(|f| overlaps(f))
                    .map(|&(_, _, b)| b)
                    .max()
                {
                    // Lost to an earlier rule: look again right after the
                    // finding that won, so a value glued to it is still found
                    // (otherwise a second pass would find it, breaking
                    // idempotence).
                    pos = pos.min(ceil_char(line, blocker_end.max(whole.start() + 1)));
                }
            }
        }
        accepted.sort_by_key(|&(_, s, _)| s);
        accepted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_line_is_borrowed() {
        let s = Scrubber::default();
        assert!(matches!(
            s.scrub_line("   Compiling serde v1.0.197"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn custom_rule_and_errors() {
        let s = Scrubber::builder()
            .custom("ticket", r"OPS-\d+", "<ticket>")
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            s.scrub_line("Ticket OPS-4412 resolved"),
            "Ticket <ticket> resolved"
        );
        let e = Scrubber::builder().custom("bad", "a(", "x").unwrap_err();
        assert!(
            e.to_string().contains("'bad'") && e.to_string().contains("escape"),
            "{e}"
        );
        assert!(matches!(
            Scrubber::builder().custom("empty", "a*", "x"),
            Err(Error::MatchesEmpty { .. })
        ));
        assert!(matches!(
            Scrubber::builder().custom("Bad Name", "a", "x"),
            Err(Error::InvalidName { .. })
        ));
        assert!(matches!(
            Scrubber::builder().custom("email", "a", "x"),
            Err(Error::InvalidName { .. })
        ));
        let e = Scrubber::builder().disable("emails").build().unwrap_err();
        assert!(
            e.to_string().contains("known rules") && e.to_string().contains("email"),
            "{e}"
        );
        assert!(matches!(
            Scrubber::builder().user_name("al").build(),
            Err(Error::NameTooShort { .. })
        ));
    }

    #[test]
    fn disable_builtin() {
        let s = Scrubber::builder().disable("email").build().unwrap();
        assert_eq!(s.scrub_line("bob@example.net"), "bob@example.net");
    }

    #[test]
    fn user_and_host_names() {
        let s = Scrubber::builder()
            .user_name("alice")
            .host_name("alice-laptop")
            .build()
            .unwrap();
        assert_eq!(
            s.scrub_line("alice logged in on alice-laptop"),
            "<user> logged in on <host>"
        );
        assert_eq!(s.scrub_line("malice is not alice2"), "malice is not alice2");
    }

    #[test]
    fn keyed_mode_correlates() {
        let s = Scrubber::builder()
            .keyed(b"0123456789abcdef".to_vec())
            .build()
            .unwrap();
        let a = s.scrub_line("from bob@example.net and bob@example.net");
        let parts: Vec<&str> = a.split(" and ").collect();
        assert_eq!(parts[0].trim_start_matches("from "), parts[1]);
        assert!(parts[1].starts_with("<email:") && !a.contains("bob"));
        assert_eq!(s.scrub_line(&a), a, "keyed output is stable");
    }

    #[test]
    fn explain_reports_rules_and_spans() {
        let s = Scrubber::default();
        let line = "user bob@example.net from 45.17.51.84";
        let f = s.explain(line);
        assert_eq!(f.len(), 2);
        assert_eq!(
            (f[0].rule, &line[f[0].start..f[0].end]),
            ("email", "bob@example.net")
        );
        assert_eq!(
            (f[1].rule, &line[f[1].start..f[1].end]),
            ("ipv4", "45.17.51.84")
        );
    }

    #[test]
    fn longer_finding_replaces_the_ones_inside_it() {
        let s = Scrubber::default();
        let key = "sk-proj-KtHF4v-UCsMehGAkWvj7FAc9QeWJKY40uvSwMFLZDe1f8rE";
        let line = format!("export OPENAI_API_KEY={key}");
        let f = s.explain(&line);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            (f[0].rule, &line[f[0].start..f[0].end]),
            ("openai-key", key)
        );
        assert_eq!(s.scrub_line(&line), "export OPENAI_API_KEY=<secret:openai>");
    }

    #[test]
    fn adjacent_ips_both_found() {
        let s = Scrubber::default();
        assert_eq!(s.scrub_line("8.8.8.8 9.9.9.9"), "<ipv4> <ipv4>");
    }
}
