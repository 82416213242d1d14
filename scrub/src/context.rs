//! Judging keyword-context matches: a secret-ish key name in any syntax, then a value.
//!
//! Owns finding the key of a match that is not a plain `key = value` (an XML
//! element's tag or its `name="…"`, the first item of a `{"Key", "value"}`
//! pair, the word before a whitespace-separated value) and scoring the value
//! by length, character classes and Shannon entropy. A weaker pairing (a
//! weak key, or only whitespace between key and value) needs a stronger value.
//! It never looks at more than the one line.

use crate::check::{Ctx, entropy, is_stand_in, is_uuid};
use crate::keys::{is_strong_key, is_weak_key, words};

/// How random a value looks: enough length, two character classes or more,
/// and entropy; not a path, URL, version, number or word.
pub(crate) fn secretish(v: &[u8], min_len: usize) -> bool {
    // Sentence punctuation after a word is not part of a value (`to continue.`).
    let v = match v {
        [rest @ .., b'.' | b',' | b')' | b'?'] if rest.iter().all(u8::is_ascii_alphabetic) => rest,
        [rest @ .., b')'] if !rest.contains(&b'(') => rest,
        _ => v,
    };
    if v.len() < min_len || is_stand_in(v) || v.iter().any(|b| b.is_ascii_whitespace()) {
        return false;
    }
    if v.windows(3).any(|w| w == b"://") || v.starts_with(b"/") || v.starts_with(b"./") {
        return false;
    }
    // A file name or dotted path (`config.yaml`, `app.settings.key`).
    if let Some(dot) = v.iter().rposition(|&b| b == b'.') {
        let ext = &v[dot + 1..];
        if !ext.is_empty() && ext.len() <= 5 && ext.iter().all(u8::is_ascii_lowercase) {
            return false;
        }
    }
    if v.iter()
        .all(|b| b.is_ascii_digit() || *b == b'.' || *b == b'-' || *b == b':')
    {
        return false;
    }
    if is_uuid(v) {
        return true;
    }
    let lower = v.iter().any(u8::is_ascii_lowercase);
    let upper = v.iter().any(u8::is_ascii_uppercase);
    let digit = v.iter().any(u8::is_ascii_digit);
    let symbol = v.iter().any(|b| !b.is_ascii_alphanumeric());
    // Identifiers (`snake_case`, `camelCase`, `CONSTANT`) without digits are names.
    if !digit
        && v.iter()
            .all(|&b| b.is_ascii_alphabetic() || b == b'_' || b == b'-')
    {
        return false;
    }
    let classes = [lower, upper, digit, symbol].iter().filter(|&&x| x).count();
    // Entropy of n distinct bytes is at most log2(n): short values get a lower bar.
    let bar = 2.8_f64.min((v.len() as f64).log2() - 0.2);
    classes >= 2 && entropy(v) >= bar
}

/// Type names that stand between a key and its value (`dbPassword: string = "…"`).
const TYPE_NAMES: &[&[u8]] = &[b"string", b"String", b"str", b"&str", b"&'static str"];

/// The key, skipping a type annotation: `name: string = ` gives `name`.
pub(crate) fn skip_type<'a>(line: &'a [u8], key_start: usize, key: &'a [u8]) -> &'a [u8] {
    if !TYPE_NAMES.contains(&key) {
        return key;
    }
    let before = &line[..key_start];
    let t = before.trim_ascii_end();
    let Some(t) = t.strip_suffix(b":") else {
        return key;
    };
    let t = t.trim_ascii_end();
    let start = t
        .iter()
        .rposition(|&b| !is_key_byte(b))
        .map_or(0, |i| i + 1);
    &t[start..]
}

/// A key of any strength, and how strong: 2 strong, 1 weak, 0 none.
fn strength(key: &[u8]) -> u8 {
    if words(key).iter().any(|w| w == "public") {
        0
    } else if is_strong_key(key) {
        2
    } else if is_weak_key(key) {
        1
    } else {
        0
    }
}

/// Strong key: anything real of 6+ bytes with a digit or symbol, or 10+; weak
/// key: random-looking.
fn fits(strength: u8, v: &[u8]) -> bool {
    match strength {
        2 => {
            secretish(v, 6)
                || (v.len() >= 10
                    && !is_stand_in(v)
                    && v.iter().any(|b| !b.is_ascii_alphabetic())
                    && !v.iter().any(|b| b.is_ascii_whitespace()))
        }
        1 => secretish(v, 16) && entropy(v) >= 3.2,
        _ => false,
    }
}

/// Whitespace or a word such as `is` between key and value: the key must be
/// secret-ish and the value must look random (strong key: 8+, weak: 16+).
pub(crate) fn spaced_pair(c: &Ctx<'_>) -> bool {
    let key = key_of(c);
    let v = &c.line[c.start..c.end];
    // `password is X`, `was reset to X`: a connecting word says what follows is the value.
    let min_strong = if after_connector(&c.line[..c.start]) {
        6
    } else {
        8
    };
    match strength(key) {
        2 => secretish(v, min_strong),
        1 => secretish(v, 16) && entropy(v) >= 3.2,
        _ => false,
    }
}

/// Words between a key and its value that say "this is the value".
const CONNECTORS: &[&[u8]] = &[
    b"is", b"was", b"are", b"to", b"as", b"be", b"been", b"now", b"reset", b"set", b"changed",
    b"updated",
];

/// Text before the value ends in a connecting word (`… is `, `… reset to "`).
fn after_connector(before: &[u8]) -> bool {
    let b = before.trim_ascii_end();
    let b = b
        .strip_suffix(b"\"")
        .or(b.strip_suffix(b"'"))
        .or(b.strip_suffix(b"`"))
        .unwrap_or(b)
        .trim_ascii_end();
    if b.ends_with(b"->") || b.ends_with(b"|") {
        return true;
    }
    let start = b
        .iter()
        .rposition(|x| !x.is_ascii_alphabetic())
        .map_or(0, |i| i + 1);
    start > 0
        && CONNECTORS
            .iter()
            .any(|w| b[start..].eq_ignore_ascii_case(w))
}

/// Verbs that make a call read or manage a secret by name, not set its value
/// (`get_secret("prod/db")`, `deleteToken("ci")`).
const READ_VERBS: &[&str] = &[
    "get", "read", "load", "fetch", "lookup", "find", "delete", "remove", "has", "is", "describe",
    "rotate", "create", "list", "parse", "revoke", "refresh", "new", "generate", "name", "require",
    "expect", "resolve",
];

/// `.password("…")`, `setApiKey('…')`, `.with_token("…")`: a call named after a
/// secret key whose single argument is a literal; the callee decides like a key.
pub(crate) fn setter_call(c: &Ctx<'_>) -> bool {
    let key = key_of(c);
    // `client.get_secret(…)`: the method name, not the receiver.
    let callee = key.rsplit(|&b| b == b'.').next().unwrap_or(key);
    let w = words(callee);
    if w.first().is_some_and(|f| READ_VERBS.contains(&f.as_str())) {
        return false;
    }
    fits(strength(callee), &c.line[c.start..c.end])
}

/// `gh secret set DB_PASSWORD --body "…"`, `aws ssm put-parameter --name
/// /app/db_password --value "…"`: the value flag names no key itself, so the
/// strongest key-like word earlier on the line (split on spaces, `/`, `=`) decides.
pub(crate) fn value_flag(c: &Ctx<'_>) -> bool {
    let before = &c.line[..c.start];
    let best = before
        .split(|&b| b.is_ascii_whitespace() || b == b'/' || b == b'=')
        .filter(|w| !w.starts_with(b"-") && !w.is_empty())
        .map(strength)
        .max()
        .unwrap_or(0);
    fits(best, &c.line[c.start..c.end])
}

/// `{"Key", "value"}`, `setProperty("key", "value")`, `<key>value</key>`,
/// `<add key="k" value="v">`: the key nearest before the value decides.
pub(crate) fn keyed_pair(c: &Ctx<'_>) -> bool {
    fits(strength(key_of(c)), &c.line[c.start..c.end])
}

/// The key for a match: the nearest run of key bytes before the value,
/// skipping separators, quotes, `>`, `,`, brackets and braces, the connecting
/// words (`is`, `was reset to`), `value`/`use`/`default`, a type annotation
/// and leading dashes.
fn key_of<'a>(c: &Ctx<'a>) -> &'a [u8] {
    let b = &c.line[..c.start];
    let mut end = b.len();
    let skip = |x: u8| {
        matches!(
            x,
            b' ' | b'\t'
                | b'"'
                | b'\''
                | b'='
                | b':'
                | b','
                | b'>'
                | b'('
                | b'['
                | b']'
                | b'@'
                | b'{'
                | b'|'
                | b'`'
                | b'\\'
        )
    };
    // After a connecting word, up to two plain words may stand between the
    // key and it (`the db_key for prod is now …`).
    let mut connected = false;
    let mut fillers = 0;
    loop {
        loop {
            if b[..end].ends_with(b"->") {
                end -= 2;
            } else if end > 0 && skip(b[end - 1]) {
                end -= 1;
            } else {
                break;
            }
        }
        let mut start = end;
        while start > 0 && is_key_byte(b[start - 1]) {
            start -= 1;
        }
        let word = &b[start..end];
        if start > 0
            && (matches!(word, b"value" | b"use" | b"default")
                || CONNECTORS.iter().any(|w| word.eq_ignore_ascii_case(w)))
        {
            connected |= CONNECTORS.iter().any(|w| word.eq_ignore_ascii_case(w));
            end = start;
            continue;
        }
        if connected
            && fillers < 2
            && start > 0
            && word.iter().all(u8::is_ascii_alphabetic)
            && strength(word) == 0
        {
            fillers += 1;
            end = start;
            continue;
        }
        let start = crate::keys::spaced_qualifier(b, start, end);
        let word = &b[start..end];
        if fillers > 0 && strength(word) < 2 {
            // Words between a weak key and its value: too loose to pair.
            return &[];
        }
        let mut key = skip_type(c.line, start, word);
        while let [b'-' | b'.', rest @ ..] = key {
            key = rest;
        }
        return key;
    }
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_values_score_and_words_do_not() {
        for v in [
            "Tr0ub4dor&3x",
            "5d914274e55fa921eac38eb1e700fcee",
            "VcL+CBEPGlQhcCeuaZwdW92=",
            "0478c387-384a-42ad-bd4e-3427e8f26f57",
            "tok_ctOmZuPM5quBKHFkldjkQ4",
        ] {
            assert!(secretish(v.as_bytes(), 8), "{v}");
        }
        for v in [
            "config.yaml",
            "expired",
            "refreshAccessToken",
            "1.2.3",
            "https://example.org/x",
            "/etc/ssl/private/server.key",
            "${TOKEN}",
            "SECRET_BACKEND",
            "12345678",
        ] {
            assert!(!secretish(v.as_bytes(), 8), "{v}");
        }
    }

    #[test]
    fn type_annotation_is_skipped() {
        let line = b"private readonly dbPassword: string = \"x\"";
        let start = line.windows(6).position(|w| w == b"string").unwrap();
        assert_eq!(skip_type(line, start, b"string"), b"dbPassword");
    }
}
