//! Line-by-line scrubbing that remembers whether it is inside a private key.
//!
//! Owns the only cross-line state: after a `-----BEGIN … PRIVATE KEY-----`
//! line, every body line is replaced by `<secret:private-key>` until the
//! `-----END` line. The block also ends at a line that cannot be key
//! material (a shell prompt `$ `, a trace `+ `, a new `-----BEGIN`, a line
//! over [`MAX_PEM_LINE_LEN`] bytes) or after [`MAX_PEM_LINES`] lines, so a
//! truncated key cannot swallow the rest of the output. The other state is a
//! value continued on indented lines after a bare `password =`/`secret:`
//! line (INI-style multi-line values): each more-indented line that is a
//! single word is replaced by `<secret:password>`, at most
//! [`MAX_CONTINUATION_LINES`] of them; a nested `secure: VALUE` there is
//! taken the same way. And inside a manifest's `data:` block (a Kubernetes
//! Secret's entries carry harmless key names), values shaped like base64
//! material become `<secret:data>`. After a `- name: DB_PASSWORD` env entry
//! (Kubernetes, ECS), the next line's `value: …` is that secret's value. It
//! never drops or merges lines: one line in, one line out.

use std::borrow::Cow;

use crate::Scrubber;
use crate::block::{opens_continuation, opens_data_block, opens_key_block};

/// Most body lines a private-key block may have before the block is considered
/// over (a 16384-bit RSA key in PEM is about 200 lines).
pub const MAX_PEM_LINES: usize = 256;

/// Longest line still taken as private-key body (PEM uses 64, OpenSSH 70).
pub const MAX_PEM_LINE_LEN: usize = 128;

const PEM_LABEL: &str = "secret:private-key";

/// Most indented value lines taken after a bare secret key line.
pub const MAX_CONTINUATION_LINES: usize = 16;

const CONTINUATION_LABEL: &str = "secret:password";

const DATA_LABEL: &str = "secret:data";

/// A value being continued on indented lines: indentation of the key line and
/// lines taken so far.
#[derive(Debug, Clone, Copy)]
struct Continuation {
    indent: usize,
    lines: usize,
}

/// Scrubs a stream of lines, keeping private-key state across them.
#[derive(Debug)]
pub struct LineScrubber<'s> {
    scrubber: &'s Scrubber,
    /// Body lines seen in the current private-key block, if inside one.
    in_key: Option<usize>,
    /// Inside an indented multi-line value of a secret key.
    continuation: Option<Continuation>,
    /// Inside a manifest's `data:` block (indentation of the `data:` line).
    data_block: Option<usize>,
    /// The last line was `- name: DB_PASSWORD` (a Kubernetes/ECS env entry):
    /// its indentation, so a following `value: …` is that secret's value.
    named_entry: Option<usize>,
}

impl<'s> LineScrubber<'s> {
    /// A scrubber for one stream (one command's stdout, say).
    pub fn new(scrubber: &'s Scrubber) -> Self {
        LineScrubber {
            scrubber,
            in_key: None,
            continuation: None,
            data_block: None,
            named_entry: None,
        }
    }

    /// Whether the last line left us inside a private-key block.
    pub fn in_private_key(&self) -> bool {
        self.in_key.is_some()
    }

    /// Scrubs the next line (without its `\n`).
    pub fn scrub_line<'a>(&mut self, line: &'a str) -> Cow<'a, str> {
        if let Some(n) = self.in_key {
            if let Some(end) = line.find("-----END") {
                self.in_key = None;
                let body = &line[..end];
                if body.trim().is_empty()
                    || crate::placeholder::is_placeholder(body.trim().as_bytes())
                {
                    return Cow::Borrowed(line);
                }
                let mut out = String::with_capacity(line.len() + 24);
                self.scrubber.write_placeholder(PEM_LABEL, body, &mut out);
                out.push_str(&line[end..]);
                return Cow::Owned(out);
            }
            if n < MAX_PEM_LINES && is_body(line) {
                self.in_key = Some(n + 1);
                if line.trim().is_empty()
                    || crate::placeholder::is_placeholder(line.trim().as_bytes())
                {
                    return Cow::Borrowed(line);
                }
                let indent = line.len() - line.trim_start().len();
                let mut out = String::with_capacity(indent + 24);
                out.push_str(&line[..indent]);
                self.scrubber.write_placeholder(PEM_LABEL, line, &mut out);
                return Cow::Owned(out);
            }
            self.in_key = None;
        }
        if let Some(c) = self.continuation.take()
            && let Some(value) = continued_value(line, c.indent)
            && c.lines < MAX_CONTINUATION_LINES
        {
            self.continuation = Some(Continuation {
                lines: c.lines + 1,
                ..c
            });
            if crate::check::is_stand_in(value.as_bytes()) {
                return Cow::Borrowed(line);
            }
            // `value` is a slice of `line`: keep what stands around it.
            let start = value.as_ptr() as usize - line.as_ptr() as usize;
            let mut out = String::with_capacity(line.len() + 24);
            out.push_str(&line[..start]);
            self.scrubber
                .write_placeholder(CONTINUATION_LABEL, value, &mut out);
            out.push_str(&line[start + value.len()..]);
            return Cow::Owned(out);
        }
        if let Some(indent) = self.named_entry.take()
            && let Some(value) = entry_value(line, indent)
        {
            let start = value.as_ptr() as usize - line.as_ptr() as usize;
            let mut out = String::with_capacity(line.len() + 24);
            out.push_str(&line[..start]);
            self.scrubber
                .write_placeholder(CONTINUATION_LABEL, value, &mut out);
            out.push_str(&line[start + value.len()..]);
            return Cow::Owned(out);
        }
        if let Some(block) = self.data_block {
            match data_value(line, block) {
                DataLine::Value(value) => {
                    let start = value.as_ptr() as usize - line.as_ptr() as usize;
                    let mut out = String::with_capacity(line.len());
                    out.push_str(&line[..start]);
                    self.scrubber.write_placeholder(DATA_LABEL, value, &mut out);
                    out.push_str(&line[start + value.len()..]);
                    return Cow::Owned(out);
                }
                DataLine::Inside => {}
                DataLine::Outside => self.data_block = None,
            }
        }
        let out = self.scrubber.scrub_line(line);
        if opens_data_block(line) {
            self.data_block = Some(indent_of(line));
        }
        if self.scrubber.pem_enabled() && opens_key_block(line) {
            self.in_key = Some(0);
        }
        if names_secret_entry(line) {
            self.named_entry = Some(indent_of(line));
        }
        if opens_continuation(line) {
            self.continuation = Some(Continuation {
                indent: line.len() - line.trim_start().len(),
                lines: 0,
            });
        }
        out
    }
}

impl Scrubber {
    /// Scrubs multi-line text, including private-key blocks whose body spans
    /// lines. Keeps the number of lines (`\n`-separated) exactly.
    pub fn scrub_text(&self, text: &str) -> String {
        let mut ls = LineScrubber::new(self);
        let mut out = String::with_capacity(text.len());
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&ls.scrub_line(line));
        }
        out
    }
}

/// `- name: DB_PASSWORD` / `name: "API_TOKEN"`: an env entry named after a secret.
fn names_secret_entry(line: &str) -> bool {
    let t = line.trim().trim_start_matches("- ");
    t.strip_prefix("name:").is_some_and(|k| {
        let k = k.trim().trim_matches(|c| c == '"' || c == '\'');
        !k.is_empty()
            && !k.contains(char::is_whitespace)
            && crate::keys::is_strong_key(k.as_bytes())
    })
}

/// `value: VALUE` right after a secret-named entry (at its indentation or
/// deeper): the value, unless it is a stand-in (`$(VAR)`, `${X}`, empty).
fn entry_value(line: &str, name_indent: usize) -> Option<&str> {
    if indent_of(line) < name_indent {
        return None;
    }
    let t = line.trim_start();
    let rest = t.strip_prefix("value:")?.trim();
    let value = rest
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))
        .unwrap_or(rest);
    (value.len() >= 4 && !crate::check::is_stand_in(value.as_bytes())).then_some(value)
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// What a line means inside a `data:` block.
enum DataLine<'a> {
    /// `key: VALUE` whose value looks like base64 secret material.
    Value(&'a str),
    /// Deeper, but not such a value (blank, comment, plain text).
    Inside,
    /// Back at the block's level or above: the block is over.
    Outside,
}

/// Classifies `line` inside a `data:` block opened at `block_indent`. Only
/// values shaped like base64 material count (padded, or long with mixed
/// case and digits), so a ConfigMap's `LEVEL: debug` is left alone.
fn data_value(line: &str, block_indent: usize) -> DataLine<'_> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return DataLine::Inside;
    }
    if indent_of(line) <= block_indent {
        return DataLine::Outside;
    }
    let Some((_, value)) = t.split_once(':') else {
        return DataLine::Inside;
    };
    let value = value.trim().trim_matches(|c| c == '\'' || c == '"');
    let base64ish = value.len() >= 8
        && value
            .trim_end_matches('=')
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    let padded = value.ends_with('=');
    let mixed = value.len() >= 16
        && value.bytes().any(|b| b.is_ascii_digit())
        && value.bytes().any(|b| b.is_ascii_uppercase())
        && value.bytes().any(|b| b.is_ascii_lowercase());
    if base64ish && (padded || mixed) && !crate::check::is_stand_in(value.as_bytes()) {
        DataLine::Value(value)
    } else {
        DataLine::Inside
    }
}

/// Sub-keys that hold the secret itself under a secret key (`password:` then
/// `  secure: …` in encrypted CI settings, `  value: …` in manifests).
const NESTED_VALUE_KEYS: &[&str] = &["secure", "value", "encrypted", "ciphertext"];

/// The line continues a value indented under the key: deeper indentation and
/// a single word that is not itself a `key: value` or `key = value` — or a
/// nested `secure: value` ([`NESTED_VALUE_KEYS`]) whose value is returned.
fn continued_value(line: &str, key_indent: usize) -> Option<&str> {
    let t = line.trim();
    let indent = line.len() - line.trim_start().len();
    if indent > key_indent
        && let Some((sub, value)) = t.split_once(": ")
        && NESTED_VALUE_KEYS.contains(&sub)
    {
        let value = value.trim();
        if !value.is_empty() && !value.contains(char::is_whitespace) && !value.ends_with(':') {
            return Some(value);
        }
    }
    (indent > key_indent
        && !t.is_empty()
        && !t.contains(char::is_whitespace)
        && !t.ends_with(':')
        && !t.starts_with('#')
        && !t.contains('='))
    .then_some(t)
}

/// Whether `line` can be key material. A line carrying a placeholder among
/// other text is not: it is what scrubbing made of a line that already ended
/// the block (too long, say), and must end it again when scrubbed twice.
fn is_body(line: &str) -> bool {
    let t = line.trim();
    if !crate::placeholder::is_placeholder(t.as_bytes()) && crate::placeholder::has_placeholder(t) {
        return false;
    }
    let t = line.trim_start();
    line.len() <= MAX_PEM_LINE_LEN
        && !t.starts_with("$ ")
        && !t.starts_with("+ ")
        && !t.starts_with("# ")
        && !line.contains("-----BEGIN")
}

#[cfg(test)]
mod data_block_tests {
    use super::*;

    fn scrub_all(text: &str) -> String {
        let scrubber = Scrubber::default();
        let mut lines = LineScrubber::new(&scrubber);
        text.lines()
            .map(|l| lines.scrub_line(l).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn base64_values_in_a_data_block_are_hidden() {
        let text = "kind: Secret\ndata:\n  tls.key: bXlzdXBlcnNlY3JldGtleQ==\n  user: 'QWxhZGRpbjpvcGVuU2VzYW1l'\nmetadata:\n  name: web-tls";
        let out = scrub_all(text);
        assert!(!out.contains("bXlzdXBlcnNlY3JldGtleQ"), "{out}");
        assert!(!out.contains("QWxhZGRpbjpvcGVuU2VzYW1l"), "{out}");
        assert!(
            out.contains("name: web-tls"),
            "the block ends at its own level: {out}"
        );
        assert_eq!(out.lines().count(), text.lines().count());
    }

    #[test]
    fn a_value_after_a_secret_named_env_entry_is_hidden() {
        let text = "env:\n  - name: DB_PASSWORD\n    value: 'Mapl&3x'\n  - name: LOG_LEVEL\n    value: debug\n  - name: API_TOKEN\n    value: \"$(API_TOKEN)\"";
        let out = scrub_all(text);
        assert!(!out.contains("Mapl&3x"), "{out}");
        assert!(out.contains("value: debug"), "{out}");
        assert!(out.contains("$(API_TOKEN)"), "{out}");
        assert_eq!(out.lines().count(), text.lines().count());
    }

    #[test]
    fn plain_config_map_values_are_left_alone() {
        let text = "data:\n  LOG_LEVEL: debug\n  app.mode: production\n  retries: 3";
        assert_eq!(scrub_all(text), text);
    }

    #[test]
    fn a_nested_secure_value_under_a_secret_key_is_hidden() {
        let text = "env:\n  password:\n    secure: c2VjcmV0c2VjcmV0c2VjcmV0\n  name: build";
        let out = scrub_all(text);
        assert!(!out.contains("c2VjcmV0c2VjcmV0c2VjcmV0"), "{out}");
        assert!(out.contains("name: build"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_body_lines_replaced_and_counted() {
        let s = Scrubber::default();
        let text = "$ cat key.pem\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpQIBAAKCAQEAn6\nyxR5MsXFu9PRsrYQA7\n-----END RSA PRIVATE KEY-----\ndone";
        let out = s.scrub_text(text);
        assert_eq!(out.lines().count(), text.lines().count());
        assert!(!out.contains("MIIEpQ") && !out.contains("yxR5Ms"), "{out}");
        assert!(
            out.contains("-----BEGIN RSA PRIVATE KEY-----")
                && out.ends_with("-----END RSA PRIVATE KEY-----\ndone")
        );
    }

    #[test]
    fn truncated_key_does_not_swallow_prompts() {
        let s = Scrubber::default();
        let out = s.scrub_text("-----BEGIN PRIVATE KEY-----\nMIIE\n$ echo next\nnext");
        assert!(out.ends_with("$ echo next\nnext"), "{out}");
    }

    #[test]
    fn indented_values_after_a_bare_secret_key() {
        let s = Scrubber::default();
        let text = "[auth]\napi_secrets =\n    Xq7-plover\n    9vTr!weasel\nname = demo";
        let out = s.scrub_text(text);
        assert_eq!(
            out,
            "[auth]\napi_secrets =\n    <secret:password>\n    <secret:password>\nname = demo"
        );
        // Nested mappings and other keys are not values.
        let yaml = "credentials:\n  secretRef: db-creds\n  name: x";
        assert_eq!(s.scrub_text(yaml), yaml);
        let ini = "packages =\n    requests\n";
        assert_eq!(s.scrub_text(ini), ini);
    }

    #[test]
    fn public_keys_untouched() {
        let s = Scrubber::default();
        let text = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----";
        assert_eq!(s.scrub_text(text), text);
    }
}
