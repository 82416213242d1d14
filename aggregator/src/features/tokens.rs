//! Tokenising and masking one line for the feature extractor.
//!
//! Owns how a line becomes a sequence of normalised token hashes: words are
//! split on whitespace, URLs and paths become one masked token each, the
//! rest is split into runs of letters, digits and `_`; numbers, hex strings
//! and over-long runs are masked, other runs are lower-cased with every
//! digit run collapsed to a single `0` (`R02` and `R17` are the same token).
//! Also owns the severity word lists. Never allocates per line and never
//! decides what a feature means (that is `features`).

/// FNV-1a 64-bit offset basis.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64-bit prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Runs longer than this are masked as one "long" token (base64 blobs,
/// digests without digits, minified code).
const MAX_RUN: usize = 40;
/// Hex strings without a `0x` prefix need this many characters (and one
/// digit) before they are masked; shorter ones (`e0308`, `utf8`) stay words.
const MIN_BARE_HEX: usize = 6;
/// Severity words are at most this long; longer runs are only checked for
/// the `…error` / `…exception` suffixes.
const MAX_WORD: usize = 24;

/// What a token says about severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WordClass {
    /// No severity meaning.
    Plain,
    /// fatal, panic, abort, crash, segfault, traceback …
    Fatal,
    /// error, fail, failed, exception, denied, refused, `…Error` …
    Error,
    /// warn, warning, deprecated.
    Warn,
    /// ok, passed, success, info, debug …
    Ok,
}

/// One token of a line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    /// Hash of the normalised token (masked tokens share one hash per mask).
    pub hash: u64,
    /// Severity class of the word.
    pub class: WordClass,
    /// The word had at least two letters and no lower-case letter.
    pub all_upper: bool,
    /// The token was masked (number, hex, path, URL, long run).
    pub masked: bool,
    /// The literal number `0`, or a word that negates what follows
    /// (`no`, `not`, `without`, `zero`, `non`): "0 failed", "no errors".
    pub negator: bool,
}

/// Hashes `bytes` with FNV-1a, starting from `seed`.
pub(crate) const fn fnv(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(FNV_PRIME);
        i += 1;
    }
    h
}

/// FNV-1a of one byte after `h`.
#[inline]
fn fnv_byte(h: u64, b: u8) -> u64 {
    (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
}

const URL_HASH: u64 = fnv(FNV_OFFSET, b"<url>");
const PATH_HASH: u64 = fnv(FNV_OFFSET, b"<path>");
const LONG_HASH: u64 = fnv(FNV_OFFSET, b"<long>");
const NUM_HASH: u64 = fnv(FNV_OFFSET, b"<num>");
const HEX_HASH: u64 = fnv(FNV_OFFSET, b"<hex>");

/// Byte classes, looked up once per byte.
const SPACE: u8 = 1;
const RUN: u8 = 2;

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        if matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c) {
            t[b] = SPACE;
        } else if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
            t[b] = RUN;
        }
        b += 1;
    }
    t
};

/// The splitmix64 finaliser: spreads a hash over all 64 bits.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn masked(hash: u64) -> Token {
    Token {
        hash,
        class: WordClass::Plain,
        all_upper: false,
        masked: true,
        negator: false,
    }
}

#[inline]
fn is_space(b: u8) -> bool {
    CLASS[b as usize] == SPACE
}

#[inline]
fn is_run_byte(b: u8) -> bool {
    CLASS[b as usize] == RUN
}

/// What one pass over a whitespace-delimited word finds out.
struct WordShape {
    url: bool,
    slashes: usize,
    /// Index of the last `/` or `\\`.
    last_slash: Option<usize>,
}

fn is_path(word: &[u8], w: &WordShape) -> bool {
    if word.len() < 2 || w.slashes == 0 {
        return false;
    }
    let starts = word[0] == b'/'
        || word.starts_with(b"./")
        || word.starts_with(b"../")
        || word.starts_with(b"~/");
    if starts || w.slashes >= 2 {
        return true;
    }
    // `src/main.rs:3:5`: one slash and a file extension after it.
    let tail = &word[w.last_slash.map_or(0, |l| l + 1)..];
    tail.iter()
        .position(|&b| b == b'.')
        .is_some_and(|dot| tail.get(dot + 1).is_some_and(u8::is_ascii_alphabetic))
}

/// Calls `f` for every token of `line`, in order.
#[inline]
pub(crate) fn for_each_token(line: &[u8], mut f: impl FnMut(Token)) {
    let n = line.len();
    let mut i = 0;
    while i < n {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        let start = i;
        let mut shape = WordShape {
            url: false,
            slashes: 0,
            last_slash: None,
        };
        while i < n {
            let b = line[i];
            if is_space(b) {
                break;
            }
            if b == b'/' || b == b'\\' {
                shape.slashes += 1;
                shape.last_slash = Some(i - start);
            } else if b == b':' && line.get(i + 1) == Some(&b'/') && line.get(i + 2) == Some(&b'/')
            {
                shape.url = true;
            }
            i += 1;
        }
        if start == i {
            break;
        }
        let word = &line[start..i];
        if shape.url {
            f(masked(URL_HASH));
        } else if is_path(word, &shape) {
            f(masked(PATH_HASH));
        } else {
            let mut j = 0;
            while j < word.len() {
                while j < word.len() && !is_run_byte(word[j]) {
                    j += 1;
                }
                let s = j;
                while j < word.len() && is_run_byte(word[j]) {
                    j += 1;
                }
                if s < j {
                    f(run_token(&word[s..j]));
                }
            }
        }
    }
}

fn run_token(run: &[u8]) -> Token {
    if run.len() > MAX_RUN {
        return masked(LONG_HASH);
    }
    let mut buf = [0u8; MAX_WORD];
    let mut h = FNV_OFFSET;
    let mut in_digits = false;
    let (mut digits, mut letters, mut lower) = (0usize, 0usize, 0usize);
    let mut all_hex = true;
    for (k, &b) in run.iter().enumerate() {
        all_hex &= b.is_ascii_hexdigit();
        if b.is_ascii_digit() {
            digits += 1;
            if !in_digits {
                h = fnv_byte(h, b'0');
            }
            in_digits = true;
            continue;
        }
        in_digits = false;
        if b.is_ascii_alphabetic() {
            letters += 1;
            lower += usize::from(b.is_ascii_lowercase());
        }
        let l = b.to_ascii_lowercase();
        h = fnv_byte(h, l);
        if k < MAX_WORD {
            buf[k] = l;
        }
    }
    if digits == run.len() {
        let mut t = masked(NUM_HASH);
        t.negator = run == b"0";
        return t;
    }
    let prefixed_hex = run.len() > 2
        && (run.starts_with(b"0x") || run.starts_with(b"0X"))
        && run[2..].iter().all(u8::is_ascii_hexdigit);
    let bare_hex = run.len() >= MIN_BARE_HEX && digits > 0 && all_hex;
    if prefixed_hex || bare_hex {
        return masked(HEX_HASH);
    }
    let word = &buf[..run.len().min(MAX_WORD)];
    let class = if digits == 0 {
        classify_word(word, run.len())
    } else {
        WordClass::Plain
    };
    Token {
        hash: h,
        class,
        all_upper: letters >= 2 && lower == 0,
        masked: false,
        negator: digits == 0 && matches!(word, b"no" | b"not" | b"without" | b"zero" | b"non"),
    }
}

/// The severity class of a lower-cased word of `len` bytes (`word` holds
/// at most its first [`MAX_WORD`] bytes).
fn classify_word(word: &[u8], len: usize) -> WordClass {
    if len <= MAX_WORD {
        match word {
            b"fatal" | b"panic" | b"panicked" | b"panics" | b"critical" | b"crit" | b"emerg"
            | b"emergency" | b"abort" | b"aborted" | b"aborting" | b"segfault"
            | b"segmentation" | b"sigsegv" | b"sigabrt" | b"sigkill" | b"killed" | b"crash"
            | b"crashed" | b"oom" | b"traceback" | b"coredump" => return WordClass::Fatal,
            b"error" | b"errors" | b"err" | b"errored" | b"erroring" | b"fail" | b"failed"
            | b"fails" | b"failing" | b"failure" | b"failures" | b"exception" | b"exceptions"
            | b"denied" | b"refused" | b"unable" | b"cannot" | b"invalid" | b"timeout"
            | b"unreachable" | b"mismatch" | b"severed" | b"broken" | b"missing" | b"undefined"
            | b"unresolved" => return WordClass::Error,
            b"warn" | b"warning" | b"warnings" | b"deprecated" | b"deprecation" => {
                return WordClass::Warn;
            }
            b"ok" | b"passed" | b"pass" | b"success" | b"successful" | b"successfully"
            | b"succeeded" | b"info" | b"debug" | b"trace" | b"done" | b"finished"
            | b"completed" | b"skipped" => return WordClass::Ok,
            _ => {}
        }
    }
    // `AssertionError`, `IOException`, `NullPointerException`: only the
    // first MAX_WORD bytes are kept, so very long names are checked on
    // what is there.
    if len <= MAX_WORD
        && len > 5
        && (word.ends_with(b"error") || word.ends_with(b"exception") || word.ends_with(b"errors"))
    {
        return WordClass::Error;
    }
    WordClass::Plain
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(line: &str) -> Vec<Token> {
        let mut v = Vec::new();
        for_each_token(line.as_bytes(), |t| v.push(t));
        v
    }

    #[test]
    fn numbers_hex_paths_and_urls_are_masked() {
        let a = tokens("job 1234 at 0xdeadbeef read /var/log/x.log from https://a.b/c");
        let b = tokens("job 98 at 0x1f read ./y from http://z");
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.hash, y.hash);
        }
        assert!(a[1].masked && a[3].masked && a[5].masked && a[7].masked);
        assert!(!a[0].masked);
    }

    #[test]
    fn digit_runs_collapse_and_case_is_folded() {
        let a = tokens("R02-M1 Error");
        let b = tokens("r17-m9 ERROR");
        assert_eq!(
            a.iter().map(|t| t.hash).collect::<Vec<_>>(),
            b.iter().map(|t| t.hash).collect::<Vec<_>>()
        );
        assert!(!a[2].all_upper && b[2].all_upper);
        // `r0` and `m0` stay distinct words.
        assert_ne!(a[0].hash, a[1].hash);
    }

    #[test]
    fn severity_words_and_negators_are_recognised() {
        let t = tokens("FAILED: 0 errors, no warning; thread panicked; ValueError ok");
        let classes: Vec<_> = t.iter().map(|t| t.class).collect();
        assert_eq!(
            classes,
            [
                WordClass::Error,
                WordClass::Plain,
                WordClass::Error,
                WordClass::Plain,
                WordClass::Warn,
                WordClass::Plain,
                WordClass::Fatal,
                WordClass::Error,
                WordClass::Ok,
            ]
        );
        assert!(t[1].negator && t[3].negator && !t[0].negator);
    }

    #[test]
    fn a_relative_source_path_is_one_token() {
        let t = tokens("src/main.rs:3:5");
        assert!(t[0].masked, "{t:?}");
        let t = tokens("tree/torus link");
        assert!(!t[0].masked);
    }
}
