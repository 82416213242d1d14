//! Errors a caller can act on when building a [`crate::Scrubber`].
//!
//! Owns the error type only; it never panics and never logs. Every message
//! says what went wrong and how to fix it.

use thiserror::Error;

/// Why a [`crate::ScrubberBuilder`] refused its configuration.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// A user rule's regular expression does not compile.
    #[error(
        "invalid regex in scrub rule '{rule}': {reason}; fix the pattern (escape literal metacharacters such as '(' or '.' with '\\')"
    )]
    InvalidRegex {
        /// The rule's name.
        rule: String,
        /// The regex compiler's message.
        reason: String,
    },
    /// A user rule's regex matches the empty string, so it would match everywhere.
    #[error(
        "scrub rule '{rule}' matches the empty string; make at least one part of the pattern mandatory (use '+' instead of '*')"
    )]
    MatchesEmpty {
        /// The rule's name.
        rule: String,
    },
    /// A rule name is empty, has characters outside `[a-z0-9-_]`, or is reused.
    #[error(
        "invalid or duplicate scrub rule name '{rule}': names must be unique and use only a-z, 0-9, '-' and '_'"
    )]
    InvalidName {
        /// The offending name.
        rule: String,
    },
    /// A user rule's replacement is too long or contains a line break.
    #[error(
        "replacement of scrub rule '{rule}' is invalid: it must be at most {max} bytes and contain no line break"
    )]
    InvalidReplacement {
        /// The rule's name.
        rule: String,
        /// The maximum replacement length in bytes.
        max: usize,
    },
    /// `disable` named a rule that does not exist.
    #[error("unknown built-in scrub rule '{rule}'; known rules: {known}")]
    UnknownRule {
        /// The name given.
        rule: String,
        /// Comma-separated names of the built-in rules.
        known: String,
    },
    /// A configured user or host name is too short to scrub without mangling ordinary text.
    #[error(
        "{what} '{value}' is too short to scrub safely (needs at least {min} characters); leave it unset or add a custom rule"
    )]
    NameTooShort {
        /// `"user name"` or `"host name"`.
        what: &'static str,
        /// The value given.
        value: String,
        /// Minimum length.
        min: usize,
    },
    /// The key for keyed hashing is empty.
    #[error("the key for keyed placeholders is empty; pass at least 16 random bytes")]
    EmptyKey,
}
