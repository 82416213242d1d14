//! Checks that run after a rule's regex matched, with the whole line as context.
//!
//! Owns the judgement a regex cannot make cheaply: Luhn, SSN ranges, whether
//! a dotted quad is a version, whether a value is a placeholder such as
//! `$TOKEN` or `<your-key>`, entropy of a candidate secret. Every check is a
//! pure function of the line and the span; none allocates on the clean path.

use std::net::{Ipv4Addr, Ipv6Addr};

/// A match under judgement: the line and the byte span of the candidate secret.
pub(crate) struct Ctx<'a> {
    /// The whole line.
    pub line: &'a [u8],
    /// Start of the candidate secret.
    pub start: usize,
    /// End of the candidate secret (exclusive).
    pub end: usize,
}

impl Ctx<'_> {
    fn value(&self) -> &[u8] {
        &self.line[self.start..self.end]
    }
    fn before(&self) -> &[u8] {
        &self.line[..self.start]
    }
    fn after(&self) -> &[u8] {
        &self.line[self.end..]
    }
}

/// A check: `true` keeps the finding.
pub(crate) type Check = fn(&Ctx<'_>) -> bool;

fn lower(s: &[u8]) -> Vec<u8> {
    s.to_ascii_lowercase()
}

/// Shannon entropy in bits per byte.
pub(crate) fn entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Words that stand for a value rather than being one (`password: PASSWORD`, `token=xxx`).
const PLACEHOLDER_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "apikey",
    "api_key",
    "changeme",
    "change_me",
    "changeit",
    "replace_me",
    "replaceme",
    "redacted",
    "[redacted]",
    "masked",
    "[masked]",
    "hidden",
    "null",
    "none",
    "nil",
    "undefined",
    "true",
    "false",
    "yes",
    "no",
    "required",
    "optional",
    "string",
    "str",
    "bool",
    "int",
    "number",
    "example",
    "dummy",
    "placeholder",
    "yyy",
    "xxx",
    "todo",
    "tbd",
    "empty",
    "stdin",
    "prompt",
    "env",
    "bearer",
    "basic",
    "token_here",
    "secret_here",
    "notsecret",
    "not_secret",
    "default",
    "new",
];

/// True if a value is a stand-in, a reference or masked, not a secret:
/// `$VAR`, `${x}`, `%VAR%`, `{{ x }}`, `<your key>`, `[PASSWORD]`, `***`, `xxxx`,
/// `os.environ["X"]`, `YOUR_API_KEY_HERE`, a bare type name.
pub(crate) fn is_stand_in(v: &[u8]) -> bool {
    let v = trim_quotes(v);
    if v.is_empty() || crate::placeholder::is_placeholder(v) {
        return true;
    }
    let first = v[0];
    let last = v[v.len() - 1];
    if first == b'`'
        || (first == b'(' && last == b')')
        || is_reference(v)
        || (first == b'{' && (last == b'}' || v.get(1) == Some(&b'{')))
        || (first == b'<' && last == b'>')
        || (first == b'[' && last == b']')
        || v.starts_with(b"#{")
        || v.starts_with(b"--")
    {
        return true;
    }
    // One repeated character (xxxxxxxx, ********, ........) or mostly masking stars.
    if v.starts_with(b"./") || v.starts_with(b"../") || v.starts_with(b"~/") {
        return true;
    }
    if v.iter().all(|&b| b == first) || v.iter().filter(|&&b| b == b'*').count() * 2 >= v.len() {
        return true;
    }
    let l = lower(v);
    if PLACEHOLDER_WORDS.iter().any(|w| l == w.as_bytes()) {
        return true;
    }
    if l.starts_with(b"your")
        || l.starts_with(b"insert")
        || l.starts_with(b"replace")
        || l.starts_with(b"enter")
        || l.starts_with(b"<")
    {
        return true;
    }
    if l.ends_with(b"_here")
        || l.ends_with(b"-here")
        || l.contains(&b'*') && l.windows(3).any(|w| w == b"***")
    {
        return true;
    }
    if contains(&l, b"xxxx") && is_mostly_x(&l) {
        return true;
    }
    is_code_reference(v) || is_constant_name(v)
}

/// `$VAR`, `${x}`, `$(cmd)`, `%VAR%`, `%(name)s`, `&ref`, `*alias`: a
/// reference. A password that merely starts with `$` or `%` is not one.
fn is_reference(v: &[u8]) -> bool {
    let ident = |s: &[u8]| {
        !s.is_empty()
            && (s[0].is_ascii_alphabetic() || s[0] == b'_')
            && s.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
    };
    match v {
        [b'$', b'{' | b'(', ..] | [b'%', b'(' | b'{', ..] => true,
        // `&str)`, `*ptr`, `&mut x`: a reference or dereference in code.
        // A password that starts with `*` and goes on with symbols (`*YU4*V=!`) is not one.
        [b'&' | b'*', rest @ ..] => {
            let n = rest
                .iter()
                .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_')
                .count();
            let delimited = matches!(
                rest.get(n),
                None | Some(b')' | b',' | b';' | b'.' | b' ' | b'\t' | b':' | b'[' | b']')
            );
            (ident(&rest[..n]) && reads_as_name(&rest[..n]) && delimited)
                || rest.iter().all(|&b| b == b'*')
        }
        [b'$', rest @ ..] => {
            let name = rest.strip_suffix(b")").unwrap_or(rest);
            ident(name) && reads_as_name(name)
        }
        [b'%', rest @ .., b'%'] => ident(rest),
        _ => false,
    }
}

/// `os.environ["X"]`, `var.db_password`, `X25519.secret_length`, `getenv(`,
/// `env::var(`. A call is a reference only when it is closed (`f(x)`) or cut
/// at its quoted argument (`getenv(`); `Tige(24!` is a password.
fn is_code_reference(v: &[u8]) -> bool {
    let ident = |s: &[u8]| {
        !s.is_empty()
            && (s[0].is_ascii_alphabetic() || s[0] == b'_')
            && s.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
    };
    let head_end = v
        .iter()
        .position(|&b| b == b'(' || b == b'[')
        .unwrap_or(v.len());
    let head = &v[..head_end];
    let path_ok = |h: &[u8]| {
        h.split(|&b| b == b'.')
            .flat_map(|p| p.split(|&b| b == b':'))
            .enumerate()
            .all(|(i, p)| ident(p) || (i > 0 && p.is_empty() && contains(h, b"::")))
    };
    let call = &v[head_end.min(v.len())..];
    let closed_or_cut = call.len() == 1
        || call.ends_with(b")")
        || call.ends_with(b"]")
        || call.ends_with(b")?")
        || call.ends_with(b");");
    if head_end < v.len() && closed_or_cut && path_ok(head) {
        return true;
    }
    let parts: Vec<&[u8]> = head.split(|&b| b == b'.').collect();
    head_end == v.len()
        && parts.len() >= 2
        && parts.iter().all(|p| ident(p) && p.len() <= 30)
        && parts
            .iter()
            .skip(1)
            .all(|p| !p.iter().any(u8::is_ascii_digit))
}

/// `xxxxxxxx`, `sk_live_xxxxxxxxxxxx`: x's make up half the letters and digits at least.
fn is_mostly_x(l: &[u8]) -> bool {
    let alnum = l.iter().filter(|b| b.is_ascii_alphanumeric()).count();
    l.iter().filter(|&&b| b == b'x').count() * 2 >= alnum
}

/// `hashedPassword`, `accessToken`: a camelCase name (letters only, a hump)
/// followed by `,`, `)`, `;` or `}` or the end of the line is a variable, not its value.
fn is_code_name(v: &[u8], after: &[u8]) -> bool {
    let (v, closed) = match v.strip_suffix(b")") {
        Some(rest) => (rest, true),
        None => (v, false),
    };
    v.len() >= 4
        && v[0].is_ascii_lowercase()
        && v.iter().all(u8::is_ascii_alphabetic)
        && v.windows(2)
            .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
        && is_word_humps(v)
        && (closed
            || matches!(
                after.trim_ascii_start().first(),
                None | Some(b',' | b')' | b';' | b'}')
            ))
}

/// A variable name as people write them: `UPPER_SNAKE`, `lower_snake`,
/// `camelCase`/`PascalCase` words; `$WUvTYR6_wNQ` is a password with a `$`.
fn reads_as_name(v: &[u8]) -> bool {
    let no_upper = !v.iter().any(u8::is_ascii_uppercase);
    let no_lower = !v.iter().any(u8::is_ascii_lowercase);
    no_upper
        || no_lower
        || v.split(|&b| b == b'_')
            .filter(|p| !p.is_empty())
            .all(|p| p.iter().all(u8::is_ascii_alphabetic) && is_word_humps(p))
}

/// `hashedPassword` reads as words: no two capitals in a row, and every
/// hump has a vowel (`yqDVtkqPECriaLRi` does not).
fn is_word_humps(v: &[u8]) -> bool {
    let vowel = |b: &u8| {
        matches!(
            b.to_ascii_lowercase(),
            b'a' | b'e' | b'i' | b'o' | b'u' | b'y'
        )
    };
    !v.windows(2)
        .any(|w| w[0].is_ascii_uppercase() && w[1].is_ascii_uppercase())
        && humps(v).all(|h| h.len() >= 2 && h.iter().any(vowel))
}

/// `hashedPassword` -> `hashed`, `Password`.
fn humps(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut starts: Vec<usize> = vec![0];
    starts.extend((1..v.len()).filter(|&i| v[i].is_ascii_uppercase()));
    let ends: Vec<usize> = starts.iter().skip(1).copied().chain([v.len()]).collect();
    starts.into_iter().zip(ends).map(move |(a, b)| &v[a..b])
}

/// `IBM_IAM_API_KEY_ENV`, `K8S_CRED`: an upper-case constant name with an underscore.
fn is_constant_name(v: &[u8]) -> bool {
    v.len() >= 3
        && v[0].is_ascii_uppercase()
        && v.contains(&b'_')
        && v.iter()
            .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && v.iter().filter(|b| b.is_ascii_digit()).count() * 4 < v.len()
}

fn trim_quotes(v: &[u8]) -> &[u8] {
    let mut v = v;
    while let [b'"' | b'\'', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b'"' | b'\''] = v {
        v = rest;
    }
    v
}

pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Value of a strong secret key (`password=`, `token:`): anything real of 3+ bytes.
pub(crate) fn strong_value(c: &Ctx<'_>) -> bool {
    let v = c.value();
    v.len() >= 4
        && !is_stand_in(v)
        && !is_kebab_name(v)
        && !is_code_name(v, c.after())
        && !is_open_call(v, c.after())
        && !is_call_head(v)
        && !after_reference_tag(c.before())
}

/// `env!(`, `os.getenv(`: a value cut at the quote of a call's first
/// argument is the call, not a secret (`token = env!("CARGO_TOKEN")`).
fn is_call_head(v: &[u8]) -> bool {
    let Some(head) = v.strip_suffix(b"(") else {
        return false;
    };
    let head = head.strip_suffix(b"!").unwrap_or(head);
    !head.is_empty()
        && (head[0].is_ascii_alphabetic() || head[0] == b'_')
        && head
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':'))
}

/// `crypt($1, …)`: a bare value cut at the comma between a call's arguments.
/// `auth=(user, password)`: a tuple of names cut at its first comma, too.
fn is_open_call(v: &[u8], after: &[u8]) -> bool {
    let Some(open) = v.iter().position(|&b| b == b'(') else {
        return false;
    };
    let head = &v[..open];
    let arg = &v[open + 1..];
    let name = |s: &[u8]| {
        !s.is_empty()
            && (s[0].is_ascii_alphabetic() || s[0] == b'_')
            && s.iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':'))
    };
    after.first() == Some(&b',') && (name(head) || (head.is_empty() && name(arg)))
}

/// YAML tags whose value names something else: CloudFormation intrinsics
/// (`!Ref DbPassword`, `!GetAtt`, `!Sub`, `!ImportValue`) and Ansible `!vault`.
const REFERENCE_TAGS: &[&[u8]] = &[
    b"!Ref",
    b"!GetAtt",
    b"!Sub",
    b"!ImportValue",
    b"!FindInMap",
    b"!Join",
    b"!Select",
    b"!If",
    b"!vault",
    b"!unsafe",
];

/// The value stands right after a reference tag such as `!Ref `.
fn after_reference_tag(before: &[u8]) -> bool {
    let b = before.trim_ascii_end();
    REFERENCE_TAGS.iter().any(|t| {
        b.ends_with(t) && (b.len() == t.len() || b[b.len() - t.len() - 1].is_ascii_whitespace())
    })
}

/// `api-key`, `db-credentials`: lower-case words joined by dashes name a secret, they are not one.
fn is_kebab_name(v: &[u8]) -> bool {
    v.contains(&b'-')
        && v.iter().all(|&b| b.is_ascii_lowercase() || b == b'-')
        && !v.starts_with(b"-")
        && !v.ends_with(b"-")
}

/// Longest run of consecutive ascending characters (`abcdef`, `0123`).
fn ascending_run(v: &[u8]) -> usize {
    let (mut best, mut cur) = (1, 1);
    for w in v.windows(2) {
        cur = if w[1] == w[0].wrapping_add(1) {
            cur + 1
        } else {
            1
        };
        best = best.max(cur);
    }
    best
}

/// Value next to a weak key (`…_key`, `…_id`): must look random.
pub(crate) fn random_value(c: &Ctx<'_>) -> bool {
    let v = c.value();
    if v.len() < 12 || is_stand_in(v) || is_lower_hex_uuid(v) || ascending_run(v) >= 12 {
        return false;
    }
    if v.iter().any(|&b| b == b':' || b == b'.') || v.iter().filter(|&&b| b == b'_').count() > 2 {
        return false;
    }
    if !v.iter().any(u8::is_ascii_digit) || !(v.iter().any(u8::is_ascii_uppercase) || v.len() >= 20)
    {
        return false;
    }
    if v.iter()
        .filter(|&&b| b == b'-' || b == b'.' || b == b'/')
        .count()
        > 2
    {
        return false;
    }
    if v.iter().any(|b| b.is_ascii_whitespace()) {
        return false;
    }
    let classes = [
        v.iter().any(u8::is_ascii_lowercase),
        v.iter().any(u8::is_ascii_uppercase),
        v.iter().any(u8::is_ascii_digit),
    ];
    classes.iter().filter(|&&x| x).count() >= 2 && entropy(v) >= 3.0
}

/// `8-4-4-4-12` hex digits, either case.
pub(crate) fn is_uuid(v: &[u8]) -> bool {
    v.len() == 36
        && v.iter().enumerate().all(|(i, &b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

fn is_lower_hex_uuid(v: &[u8]) -> bool {
    v.len() == 36
        && v.iter().enumerate().all(|(i, &b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
            }
        })
}

/// A 40-character base64 run (AWS secret access key shape): mixed case, a digit
/// or `/`/`+`, and not the tail of a `sha1-`/`sha256-` digest.
pub(crate) fn aws_secret_shape(c: &Ctx<'_>) -> bool {
    let v = c.value();
    let up = v.iter().filter(|b| b.is_ascii_uppercase()).count();
    let lo = v.iter().filter(|b| b.is_ascii_lowercase()).count();
    let dig = v.iter().filter(|b| b.is_ascii_digit()).count();
    let sym = v.iter().filter(|&&b| b == b'/' || b == b'+').count();
    let before = lower(&c.before()[c.start.saturating_sub(8)..]);
    up >= 2
        && lo >= 2
        && (dig + sym) >= 1
        && entropy(v) >= 3.5
        && !before.ends_with(b"sha1-")
        && !before.ends_with(b"sha256-")
        && !before.ends_with(b"sha512-")
}

/// An Azure storage account key: 86 base64 characters and `==`, mixed case
/// with digits (so not a run of one character class).
pub(crate) fn azure_key_shape(c: &Ctx<'_>) -> bool {
    let v = c.value();
    let before = lower(&c.before()[c.start.saturating_sub(8)..]);
    v.iter().any(u8::is_ascii_uppercase)
        && v.iter().any(u8::is_ascii_lowercase)
        && v.iter().any(u8::is_ascii_digit)
        && entropy(v) >= 4.5
        && !before.ends_with(b"sha512-")
        && !before.ends_with(b"sha384-")
}

/// Words right before a number that make it an identifier, not a card.
const NUMBER_NAMES: &[&[u8]] = &[
    b"order",
    b"invoice",
    b"tracking",
    b"id",
    b"ref",
    b"#",
    b"no",
    b"number:",
    b"ticket",
];

/// Credit card: 12-19 digits, Luhn-valid, a known issuer prefix (Visa,
/// Mastercard, Amex, Discover, JCB including `2131`/`1800`, Diners, Maestro,
/// UnionPay), consistent separators, not named as an order or id number.
pub(crate) fn card(c: &Ctx<'_>) -> bool {
    let v = c.value();
    let digits: Vec<u8> = v
        .iter()
        .filter(|b| b.is_ascii_digit())
        .map(|b| b - b'0')
        .collect();
    if !(12..=19).contains(&digits.len()) {
        return false;
    }
    let seps: Vec<u8> = v.iter().copied().filter(|b| !b.is_ascii_digit()).collect();
    if let Some(&s) = seps.first()
        && (seps.iter().any(|&x| x != s) || seps.len() > 5)
    {
        return false;
    }
    let prefix2 = digits[0] * 10 + digits[1];
    let prefix4 = u32::from(prefix2) * 100 + u32::from(digits[2]) * 10 + u32::from(digits[3]);
    let issuer = matches!(digits[0], 4)
        || (50..=58).contains(&prefix2)
        || (22..=27).contains(&prefix2)
        || matches!(
            prefix2,
            34 | 37 | 36 | 38 | 30 | 35 | 60 | 62 | 63 | 64 | 65 | 67 | 69
        )
        || matches!(prefix4, 2131 | 1800);
    // 12-digit numbers are only Maestro (50, 56-69).
    if digits.len() == 12 && !(digits[0] == 5 || digits[0] == 6) {
        return false;
    }
    let before = lower(&c.before()[c.start.saturating_sub(12)..]);
    let before = before.trim_ascii_end();
    let before = before
        .strip_suffix(b"=")
        .or_else(|| before.strip_suffix(b":"))
        .unwrap_or(before);
    let named = NUMBER_NAMES
        .iter()
        .any(|n| before.trim_ascii_end().ends_with(n));
    issuer && !named && luhn(&digits)
}

/// Luhn checksum over decimal digits.
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// US SSN `AAA-GG-SSSS`: area 001-899 except 666, group 01-99, serial 0001-9999,
/// and not part of a longer dashed id.
pub(crate) fn ssn(c: &Ctx<'_>) -> bool {
    let v = c.value();
    let num = |s: &[u8]| s.iter().fold(0u32, |a, &b| a * 10 + u32::from(b - b'0'));
    let (area, group, serial) = (num(&v[0..3]), num(&v[4..6]), num(&v[7..11]));
    let glued = |b: Option<&u8>| b.is_some_and(|&b| b == b'-' || b.is_ascii_alphanumeric());
    area != 0
        && area != 666
        && area < 900
        && group != 0
        && serial != 0
        && !glued(c.before().last())
        && !glued(c.after().first())
}

/// IPv4 worth hiding: not loopback, unspecified, link-local, multicast, broadcast or
/// a netmask, not part of a longer dotted number, and not a version (see PRIVACY.md).
pub(crate) fn ipv4(c: &Ctx<'_>) -> bool {
    let Some(ip) = std::str::from_utf8(c.value())
        .ok()
        .and_then(|s| s.parse::<Ipv4Addr>().ok())
    else {
        return false;
    };
    let o = ip.octets();
    if ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_link_local()
        || o[0] == 0
        || o[0] >= 224
        || o[0] == 255
    {
        return false;
    }
    // Part of a longer dotted number (OIDs, 1.2.3.4.5) or glued to a word.
    let before = c.before();
    let after = c.after();
    let dotted_digit = |s: &[u8]| s.len() >= 2 && s[0] == b'.' && s[1].is_ascii_digit();
    if dotted_digit(after)
        || (before.len() >= 2
            && before[before.len() - 1] == b'.'
            && before[before.len() - 2].is_ascii_digit())
    {
        return false;
    }
    !is_version_context(before, &o)
}

/// The dotted quad is a version: `v1.2.3.4`, `Version: 1.2.3.4`, `Chrome/1.2.3.4`,
/// `version 17.8.3.1`, `("4.0.0.0")` after `Version`, or `N.0.0.M` with N not private.
fn is_version_context(before: &[u8], o: &[u8; 4]) -> bool {
    let tail = lower(&before[before.len().saturating_sub(24)..]);
    let last = tail.last().copied();
    if matches!(last, Some(b'v')) {
        return true;
    }
    if last == Some(b'/')
        && tail.len() >= 2
        && (tail[tail.len() - 2].is_ascii_alphanumeric() || tail[tail.len() - 2] == b'~')
    {
        return true; // Product/1.2.3.4 (user agents); `://1.2.3.4` has ':' before the slashes
    }
    if contains(&tail, b"version")
        || contains(&tail, b"ver ")
        || contains(&tail, b"ver.")
        || contains(&tail, b"release")
    {
        return true;
    }
    o[1] == 0 && o[2] == 0 && o[0] != 10
}

/// IPv6 worth hiding: parses, has at least three groups, is not loopback,
/// unspecified, link-local or multicast.
pub(crate) fn ipv6(c: &Ctx<'_>) -> bool {
    let v = c.value();
    let Some(ip) = std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse::<Ipv6Addr>().ok())
    else {
        return false;
    };
    let groups = v.split(|&b| b == b':').filter(|g| !g.is_empty()).count();
    let seg = ip.segments();
    groups >= 3
        && !ip.is_loopback()
        && !ip.is_unspecified()
        && (seg[0] & 0xffc0) != 0xfe80
        && (seg[0] & 0xff00) != 0xff00
        && !c.before().ends_with(b":")
        && !c.after().starts_with(b":")
}

/// MAC address not embedded in a longer colon/dash run (fingerprints).
pub(crate) fn mac(c: &Ctx<'_>) -> bool {
    let v = c.value();
    let sep = v[2];
    let glued = |s: Option<&u8>| s.is_some_and(|&b| b == sep || b.is_ascii_hexdigit());
    v.iter().skip(2).step_by(3).all(|&b| b == sep)
        && !glued(c.before().last())
        && !glued(c.after().first())
}

/// Email that is not an SSH remote (`git@host:path`) and not a bot identity.
pub(crate) fn email(c: &Ctx<'_>) -> bool {
    let v = lower(c.value());
    if v.starts_with(b"git@") && c.after().first() == Some(&b':') {
        return false;
    }
    // `scheme://user:password@host`: the password and host are not an address.
    let before = c.before();
    let token_start = before
        .iter()
        .rposition(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'='))
        .map_or(0, |i| i + 1);
    if before.last() == Some(&b':') && contains(&before[token_start..], b"://") {
        return false;
    }
    !contains(&v, b"[bot]@") && !v.ends_with(b"@example.com") && !v.ends_with(b"@example.org")
}

/// Home directories of CI service users are not personal (`/home/runner`, `C:\Users\Public`).
pub(crate) fn home(c: &Ctx<'_>) -> bool {
    let v = c.value();
    let name_start = v
        .iter()
        .rposition(|&b| b == b'/' || b == b'\\')
        .map_or(0, |i| i + 1);
    let name = lower(&v[name_start..]);
    let glued = c
        .before()
        .last()
        .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'>');
    !glued
        && !matches!(
            name.as_slice(),
            b"runner"
                | b"shared"
                | b"public"
                | b"default"
                | b"all users"
                | b"default user"
                | b"circleci"
                | b"vsts"
                | b"travis"
                | b"ubuntu"
                | b"ec2-user"
                | b"docker"
                | b"linuxbrew"
        )
}

/// Host name in `.local`/`.internal`/`.lan` that is not part of an email or a path.
pub(crate) fn private_tld_host(c: &Ctx<'_>) -> bool {
    let after = c.after();
    let continues =
        after.first() == Some(&b'.') && after.get(1).is_some_and(u8::is_ascii_alphanumeric);
    !c.before().ends_with(b"/") && !c.before().ends_with(b".") && !continues
}

/// A prefixed vendor token: random-looking (upper case and digits, or 40+ chars
/// of lower case and digits), not a path segment or a file name.
pub(crate) fn vendor_token(c: &Ctx<'_>) -> bool {
    let v = c.value();
    let upper = v.iter().any(u8::is_ascii_uppercase);
    let digit = v.iter().any(u8::is_ascii_digit);
    let after = c.after();
    let file_ext =
        after.first() == Some(&b'.') && after.get(1).is_some_and(u8::is_ascii_alphabetic);
    let in_path = matches!(c.before().last(), Some(b'/' | b'.' | b'&'));
    let ext_tail = v.iter().rposition(|&b| b == b'.').is_some_and(|i| {
        (3..=5).contains(&(v.len() - i)) && v[i + 1..].iter().all(u8::is_ascii_lowercase)
    });
    if ext_tail {
        return false;
    }
    entropy(v) >= 3.0
        && ((upper && (digit || v.len() >= 30)) || (digit && v.len() >= 40))
        && !file_ext
        && !in_path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(line: &str, secret: &str) -> bool_ctx::Owned {
        let start = line.find(secret).expect("secret in line");
        bool_ctx::Owned {
            line: line.as_bytes().to_vec(),
            start,
            end: start + secret.len(),
        }
    }

    mod bool_ctx {
        pub struct Owned {
            pub line: Vec<u8>,
            pub start: usize,
            pub end: usize,
        }
        impl Owned {
            pub fn run(&self, f: super::Check) -> bool {
                f(&super::Ctx {
                    line: &self.line,
                    start: self.start,
                    end: self.end,
                })
            }
        }
    }

    #[test]
    fn luhn_known_values() {
        let d = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<_>>();
        assert!(luhn(&d("4111111111111111")));
        assert!(!luhn(&d("4111111111111112")));
    }

    #[test]
    fn stand_ins() {
        for v in [
            "$TOKEN",
            "${{ secrets.X }}",
            "%API_KEY%",
            "<your-key>",
            "[PASSWORD]",
            "********",
            "xxxxxxxx",
            "YOUR_API_KEY_HERE",
            "os.environ[",
            "var.db_password",
            "IBM_IAM_API_KEY_ENV",
            "REPLACE_ME",
            "password",
        ] {
            assert!(is_stand_in(v.as_bytes()), "{v}");
        }
        for v in [
            "hunter2",
            "Winter$1977!",
            "m{{h}o)p${e]nob",
            "P@ssw0rd$1",
            "s3cr3t.Value9",
        ] {
            assert!(!is_stand_in(v.as_bytes()), "{v}");
        }
    }

    #[test]
    fn version_quads_are_not_ips() {
        assert!(!ctx("Version: 1.2.3.4", "1.2.3.4").run(ipv4));
        assert!(!ctx("Chrome/122.0.6261.94", "122.0.6").run(|_| false));
        assert!(!ctx("pkg version 2.0.0.1 is up to date", "2.0.0.1").run(ipv4));
        assert!(!ctx("Downloading platform-tools 35.0.0.1 ...", "35.0.0.1").run(ipv4));
        assert!(ctx("from 45.17.51.84 port", "45.17.51.84").run(ipv4));
        assert!(ctx("http://133.133.133.133/", "133.133.133.133").run(ipv4));
        assert!(!ctx("OID 1.3.6.1.4.1", "1.3.6.1").run(ipv4));
    }
}
