//! Placeholders that replace what a rule found.
//!
//! Owns the text written in place of a secret: typed placeholders such as
//! `<email>` or `<secret:aws>`, the `~` that replaces a home directory, and
//! the optional keyed form `<email:3f9a1c>` (HMAC-SHA256 of the value under a
//! caller-supplied key, first 3 bytes in hex). It must never write any part
//! of the original value.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Longest placeholder any rule can write, in bytes (custom replacements included).
pub const MAX_PLACEHOLDER_LEN: usize = 48;

/// Number of bytes of the HMAC kept in a keyed placeholder (shown as twice as many hex digits).
pub const KEYED_HASH_BYTES: usize = 3;

/// What a rule writes in place of a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placeholder {
    /// `<label>`, or `<label:hash>` in keyed mode.
    Typed(&'static str),
    /// A home-directory prefix becomes `~`.
    Home,
    /// A literal chosen by the caller (user rules); never keyed.
    Literal(String),
}

impl Placeholder {
    /// Appends the placeholder for `value` to `out`, keyed when `key` is set.
    pub(crate) fn write(&self, value: &str, key: Option<&[u8]>, out: &mut String) {
        match self {
            Placeholder::Typed(label) => {
                out.push('<');
                out.push_str(label);
                if let Some(key) = key {
                    out.push(':');
                    push_keyed_hash(key, label, value, out);
                }
                out.push('>');
            }
            Placeholder::Home => out.push('~'),
            Placeholder::Literal(s) => out.push_str(s),
        }
    }
}

/// Appends the hex of the first [`KEYED_HASH_BYTES`] of HMAC-SHA256(key, label || 0 || value).
fn push_keyed_hash(key: &[u8], label: &str, value: &str, out: &mut String) {
    // `new_from_slice` accepts keys of any length for HMAC, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return;
    };
    mac.update(label.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    let tag = mac.finalize().into_bytes();
    for b in &tag[..KEYED_HASH_BYTES] {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
    }
}

/// True if `s` is exactly a placeholder this crate writes (so a second pass leaves it alone).
pub(crate) fn is_placeholder(s: &[u8]) -> bool {
    if s == b"~" {
        return true;
    }
    let Some(inner) = s.strip_prefix(b"<").and_then(|r| r.strip_suffix(b">")) else {
        return false;
    };
    !inner.is_empty()
        && inner
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':' || b == b'-')
}

/// A span that already holds a placeholder was scrubbed before; leave it (idempotence).
/// Whether `text` holds a placeholder anywhere.
pub(crate) fn has_placeholder(text: &str) -> bool {
    text.contains('<') && contains_placeholder(text.as_bytes())
}

pub(crate) fn contains_placeholder(span: &[u8]) -> bool {
    if is_placeholder(span) {
        return true;
    }
    span.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'<')
        .any(|(i, _)| {
            span[i + 1..]
                .iter()
                .position(|&b| b == b'>')
                .is_some_and(|j| is_placeholder(&span[i..i + j + 2]))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_and_keyed() {
        let mut out = String::new();
        Placeholder::Typed("email").write("a@b.io", None, &mut out);
        assert_eq!(out, "<email>");
        let mut k1 = String::new();
        let mut k2 = String::new();
        let mut k3 = String::new();
        Placeholder::Typed("email").write("a@b.io", Some(b"k"), &mut k1);
        Placeholder::Typed("email").write("a@b.io", Some(b"k"), &mut k2);
        Placeholder::Typed("email").write("c@b.io", Some(b"k"), &mut k3);
        assert_eq!(k1, k2);
        assert_ne!(k1, k3);
        assert!(k1.starts_with("<email:") && k1.len() == "<email:>".len() + 6);
        assert!(!k1.contains("a@b"));
        let mut other_key = String::new();
        Placeholder::Typed("email").write("a@b.io", Some(b"other"), &mut other_key);
        assert_ne!(k1, other_key);
    }

    #[test]
    fn recognises_own_placeholders() {
        assert!(is_placeholder(b"<secret:aws>"));
        assert!(is_placeholder(b"<email:3f9a1c>"));
        assert!(is_placeholder(b"~"));
        assert!(!is_placeholder(b"<TOKEN>"));
        assert!(!is_placeholder(b"hunter2"));
    }
}
