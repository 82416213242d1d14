//! The shapes the masking instructions recognise (URL, UUID, IP,
//! timestamp, duration, hex, number, path), as byte inspection: a table of
//! byte classes computed once per token rules most shapes out before any
//! shape looks at the bytes again. Owns recognising one token's core; it
//! must never decide the order instructions are tried in (that is
//! `mask.rs`).

use super::mask::MaskKind;

// The byte classes in a core, computed in one pass so that most
// instructions are ruled out without looking at the bytes again.
pub(super) const DIGIT: u16 = 1;
pub(super) const HEXALPHA: u16 = 2;
pub(super) const ALPHA: u16 = 4;
pub(super) const COLON: u16 = 8;
pub(super) const DOT: u16 = 16;
pub(super) const DASH: u16 = 32;
pub(super) const SLASH: u16 = 64;
pub(super) const BSLASH: u16 = 128;
pub(super) const OTHER: u16 = 256;
pub(super) const PLUS: u16 = 512;
pub(super) const HIGH: u16 = 1024;

const fn class_of(c: u8) -> u16 {
    match c {
        b'0'..=b'9' => DIGIT,
        b'a'..=b'f' | b'A'..=b'F' => HEXALPHA,
        b'g'..=b'z' | b'G'..=b'Z' => ALPHA,
        b':' => COLON,
        b'.' => DOT,
        b'-' => DASH,
        b'/' => SLASH,
        b'\\' => BSLASH,
        b'+' | b',' | b'%' => PLUS,
        0x80..=0xff => HIGH | OTHER,
        _ => OTHER,
    }
}

static CLASS: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = class_of(i as u8);
        i += 1;
    }
    t
};

/// The byte classes present in `b`, one table look-up per byte.
pub(super) fn shape(b: &[u8]) -> u16 {
    b.iter().fold(0, |s, &c| s | CLASS[c as usize])
}

pub(super) fn classify_core(kind: MaskKind, core: &str) -> bool {
    classify_shaped(kind, core.as_bytes(), shape(core.as_bytes()))
}

/// `classify_core` with the core's [`shape`] known: each instruction
/// first checks the byte classes it needs.
pub(super) fn classify_shaped(kind: MaskKind, b: &[u8], s: u16) -> bool {
    let only = |allowed: u16| s & !allowed == 0;
    match kind {
        MaskKind::Url => s & COLON != 0 && s & SLASH != 0 && is_url(b),
        MaskKind::Uuid => b.len() == 36 && only(DIGIT | HEXALPHA | DASH) && is_uuid(b),
        MaskKind::Ip => {
            only(DIGIT | HEXALPHA | COLON | DOT)
                && s & (COLON | DOT) != 0
                && (is_ipv4(b) || is_ipv6(b))
        }
        MaskKind::Timestamp => {
            is_month_or_day(b)
                || (s & DIGIT != 0
                    && s & (DASH | COLON | SLASH) != 0
                    && s & (OTHER | BSLASH) == 0
                    && is_timestamp(b))
        }
        MaskKind::Duration => {
            s & DIGIT != 0
                && s & (ALPHA | HEXALPHA | OTHER) != 0
                && s & (COLON | SLASH | BSLASH | DASH | PLUS) == 0
                && is_duration(b)
        }
        MaskKind::Hex => s & DIGIT != 0 && only(DIGIT | HEXALPHA | ALPHA) && is_hex(b),
        MaskKind::Number => {
            s & DIGIT != 0 && only(DIGIT | HEXALPHA | DOT | DASH | PLUS) && is_number(b)
        }
        MaskKind::Path => s & (SLASH | BSLASH) != 0 && is_path(b),
        MaskKind::Long | MaskKind::Id => false,
    }
}

fn is_url(b: &[u8]) -> bool {
    let Some(p) = b.windows(3).position(|w| w == b"://") else {
        return false;
    };
    p > 0
        && b[..p]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'.')
}

fn is_hex_digit(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => is_hex_digit(c),
        })
}

fn is_ipv4(b: &[u8]) -> bool {
    let (addr, port) = match b.iter().position(|&c| c == b':') {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    if let Some(p) = port
        && (p.is_empty() || p.len() > 5 || !p.iter().all(u8::is_ascii_digit))
    {
        return false;
    }
    let mut parts = 0;
    for part in addr.split(|&c| c == b'.') {
        parts += 1;
        if part.is_empty() || part.len() > 3 || !part.iter().all(u8::is_ascii_digit) {
            return false;
        }
    }
    parts == 4
}

fn is_ipv6(b: &[u8]) -> bool {
    let colons = b.iter().filter(|&&c| c == b':').count();
    colons >= 2
        && b.len() <= 45
        && b.iter().all(|&c| is_hex_digit(c) || c == b':' || c == b'.')
        && (b.windows(2).any(|w| w == b"::") || b.iter().any(|c| c.is_ascii_alphabetic()))
}

const MONTHS_DAYS: [&[u8]; 19] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
    b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun",
];

pub(super) fn is_month_or_day(b: &[u8]) -> bool {
    b.len() == 3 && MONTHS_DAYS.contains(&b)
}

fn is_timestamp(b: &[u8]) -> bool {
    if is_month_or_day(b) {
        return true;
    }
    if !b.first().is_some_and(u8::is_ascii_digit) {
        return false;
    }
    let mut digits = 0;
    let mut groups = 0;
    let mut in_digits = false;
    let mut date_sep = false;
    for (i, &c) in b.iter().enumerate() {
        if c.is_ascii_digit() {
            digits += 1;
            if !in_digits {
                groups += 1;
            }
            in_digits = true;
            continue;
        }
        in_digits = false;
        match c {
            b'-' | b':' | b'/' => date_sep = true,
            b'.' | b',' | b'+' => {}
            b'T' | b'Z' if i > 0 => {}
            _ => return false,
        }
    }
    date_sep && groups >= 2 && digits >= 3
}

fn is_duration(b: &[u8]) -> bool {
    // One or more `<number><unit>` pairs: 15ms, 0.5s, 2m30s, 1h2m3.5s.
    let mut i = 0;
    let mut pairs = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        if i == start || !b[start].is_ascii_digit() {
            return false;
        }
        let u = i;
        while i < b.len() && !b[i].is_ascii_digit() && b[i] != b'.' {
            i += 1;
        }
        let unit = &b[u..i];
        let ok = matches!(
            unit,
            b"ns"
                | b"us"
                | b"\xc2\xb5s"
                | b"\xce\xbcs"
                | b"ms"
                | b"s"
                | b"sec"
                | b"secs"
                | b"m"
                | b"min"
                | b"mins"
                | b"h"
                | b"hr"
                | b"hrs"
                | b"d"
        );
        if !ok {
            return false;
        }
        pairs += 1;
    }
    pairs > 0
}

fn is_hex(b: &[u8]) -> bool {
    if b.len() > 2 && (b.starts_with(b"0x") || b.starts_with(b"0X")) {
        return b[2..].iter().all(|&c| is_hex_digit(c));
    }
    b.len() >= 6
        && b.iter().all(|&c| is_hex_digit(c))
        && b.iter().any(u8::is_ascii_digit)
        && b.iter().any(|c| c.is_ascii_alphabetic())
}

fn is_number(b: &[u8]) -> bool {
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let body = &b[i..];
    let body = body.strip_suffix(b"%").unwrap_or(body);
    if body.is_empty() || !body[0].is_ascii_digit() {
        return false;
    }
    let (mant, exp) = match body.iter().position(|&c| c == b'e' || c == b'E') {
        Some(p) => (&body[..p], Some(&body[p + 1..])),
        None => (body, None),
    };
    if let Some(e) = exp {
        let e = e
            .strip_prefix(b"-")
            .or_else(|| e.strip_prefix(b"+"))
            .unwrap_or(e);
        if e.is_empty() || !e.iter().all(u8::is_ascii_digit) {
            return false;
        }
    }
    !mant.is_empty()
        && mant
            .iter()
            .all(|&c| c.is_ascii_digit() || c == b'.' || c == b',')
        && mant.last().is_some_and(u8::is_ascii_digit)
}

fn is_path(b: &[u8]) -> bool {
    if b.len() < 2 {
        return false;
    }
    if b[0] == b'/' || b.starts_with(b"./") || b.starts_with(b"../") || b.starts_with(b"~/") {
        return true;
    }
    if b.len() > 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\' {
        return true;
    }
    let slashes = b.iter().filter(|&&c| c == b'/').count();
    if slashes >= 2 {
        return true;
    }
    if slashes == 1 {
        let last = &b[b.iter().rposition(|&c| c == b'/').unwrap_or(0) + 1..];
        if let Some(dot) = last.iter().rposition(|&c| c == b'.') {
            let ext = &last[dot + 1..];
            return dot > 0
                && (1..=5).contains(&ext.len())
                && ext.iter().all(u8::is_ascii_alphanumeric);
        }
    }
    false
}
