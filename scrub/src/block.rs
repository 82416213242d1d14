//! Which lines open cross-line state: a private-key header, a bare secret
//! key whose value follows on indented lines, a manifest `data:` block.
//!
//! Owns only the tests on one line; the state itself lives in
//! [`crate::LineScrubber`]. Both the engine (for [`crate::Scrubber::is_clean`])
//! and the stream scrubber use these, so they live below both and must never
//! reach up into either.

/// Whether a line of `text` could start cross-line state (a private key, a
/// continued secret value, a manifest `data:` block).
pub(crate) fn may_open_block(text: &str) -> bool {
    text.split('\n')
        .any(|l| opens_key_block(l) || opens_continuation(l) || opens_data_block(l))
}

/// `data:` / `stringData:` alone on a line: a manifest block whose entries
/// are, in a Kubernetes Secret, base64 secrets under harmless key names.
pub(crate) fn opens_data_block(line: &str) -> bool {
    matches!(line.trim(), "data:" | "stringData:" | "binaryData:")
}

/// `password =` or `secret:` with nothing after it: the value may follow on
/// indented lines.
pub(crate) fn opens_continuation(line: &str) -> bool {
    let mut t = line.trim();
    // A YAML block scalar (`password: |`, `secret: >-`) continues the same way.
    if let Some(head) = ["|", "|-", "|+", ">", ">-", ">+"]
        .iter()
        .find_map(|ind| t.strip_suffix(ind))
        .map(str::trim_end)
        && head.ends_with(':')
    {
        t = head;
    }
    let Some(key) = t.strip_suffix('=').or_else(|| t.strip_suffix(':')) else {
        return false;
    };
    let key = key.trim_end();
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && (crate::keys::is_strong_key(key.as_bytes()) || crate::keys::is_weak_key(key.as_bytes()))
}

/// The line ends with a private-key header (nothing but quotes or spaces after it).
/// Finds `-----BEGIN` without building a searcher per line (most lines are
/// not key blocks; this runs on every line).
static BEGIN: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"-----BEGIN"));

pub(crate) fn opens_key_block(line: &str) -> bool {
    let Some(begin) = BEGIN.find(line.as_bytes()) else {
        return false;
    };
    let rest = &line[begin + 10..];
    let Some(close) = rest.find("-----") else {
        return false;
    };
    let label = &rest[..close];
    label.contains("PRIVATE KEY")
        && rest[close + 5..]
            .trim_matches(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .is_empty()
}
