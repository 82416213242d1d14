//! Judging the key in `key = value`, `key: value`, `--key value`.
//!
//! Owns the vocabulary of secret-ish key names and the split of a key into
//! words (`AWS_SECRET_ACCESS_KEY`, `clientSecret`, `db.password`). It must
//! not look at the value; `check.rs` does that.

use crate::check::{Ctx, is_uuid, random_value, strong_value};

/// Words that make a key name a secret on their own.
const STRONG: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "pass",
    "pwd",
    "secret",
    "secrete",
    "secrets_",
    "token",
    "apikey",
    "credential",
    "credentials",
    "auth",
    "authtoken",
    "storepass",
    "keypass",
    "pat",
    "passcode",
    "pin",
    "accesskey",
    "secretkey",
    "privatekey",
    "clientsecret",
    "apitoken",
    "accesstoken",
    "authkey",
    "apisecret",
    "psk",
    "pw",
    "salt",
    "pepper",
    "mnemonic",
    "bindpw",
    "dbpass",
    // "password" in other languages (German, Portuguese, Spanish, French, Dutch,
    // Swedish, Finnish, Polish).
    "passwort",
    "kennwort",
    "senha",
    "contrasena",
    "passe",
    "wachtwoord",
    "losenord",
    "salasana",
    "haslo",
];

/// English words that end in `pass` but name no password (`bypass`, `compass`).
const PASS_WORDS: &[&str] = &[
    "bypass",
    "compass",
    "encompass",
    "overpass",
    "underpass",
    "trespass",
    "multipass",
    "onepass",
    "firstpass",
    "secondpass",
    "subpass",
    "renderpass",
];

/// Qualifiers that make a following `key` a secret (`api_key`, `ENCRYPTION_KEY`).
const KEY_QUALIFIERS: &[&str] = &[
    "api",
    "access",
    "secret",
    "private",
    "signing",
    "encryption",
    "master",
    "hmac",
    "account",
    "iam",
    "auth",
    "client",
    "app",
    "license",
    "cloud",
    "service",
    "deploy",
    "ssh",
    "gpg",
    "jwt",
    "session",
    "webhook",
    "admin",
    "root",
    "shared",
    "storage",
    "cipher",
    "aes",
    "crypto",
    "otp",
    "priv",
    "consumer",
    "developer",
    "server",
    "bot",
    "pgp",
    "rsa",
    "wallet",
    "subscription",
    "instrumentation",
    "primary",
    "secondary",
    "sas",
    "merchant",
    "integration",
    "recovery",
];

/// Words allowed after the secret word (`password_super_secure`, `VERY_SECRET_TOO`).
const BENIGN_TAIL: &[&str] = &[
    "super", "secure", "value", "str", "string", "plain", "text", "too", "raw", "b64", "base64",
    "hex", "data", "enc", "key", "access", "word", "base",
];

/// Words that make a key describe a secret rather than hold one (`secret_name`, `token_type`).
const DESCRIPTIVE: &[&str] = &[
    "name",
    "path",
    "file",
    "dir",
    "type",
    "url",
    "uri",
    "length",
    "len",
    "size",
    "count",
    "version",
    "format",
    "mode",
    "method",
    "field",
    "hint",
    "prefix",
    "policy",
    "region",
    "store",
    "vault",
    "header",
    "param",
    "enabled",
    "expiry",
    "expires",
    "ttl",
    "timeout",
    "hashers",
    "hasher",
    "id",
    "ids",
    "kind",
    "ref",
    "env",
    "var",
    "manager",
    "provider",
    "rotation",
    "reset",
    "hash",
    "endpoint",
    "bucket",
    "length",
    "label",
    "policy",
    "required",
    "selector",
    "pressed",
    "sequence",
    "schema",
    "mapping",
    "stdin",
    "file",
    "location",
    "regex",
    "pattern",
    "fingerprint",
];

/// Lower-case words of a key: split on `_ - . space`, camelCase and digits.
pub(crate) fn words(key: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for &b in key {
        if !b.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if b.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = b.is_ascii_lowercase() || b.is_ascii_digit();
        cur.push(b.to_ascii_lowercase() as char);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Index of the last secret word in `w`, if any.
fn last_secret_word(w: &[String]) -> Option<usize> {
    (0..w.len()).rev().find(|&i| {
        let word = w[i].as_str();
        STRONG.contains(&word)
            || (word == "key" && i > 0 && KEY_QUALIFIERS.contains(&w[i - 1].as_str()))
            || (word.len() > 3
                && word.ends_with("key")
                && KEY_QUALIFIERS
                    .iter()
                    .any(|q| word[..word.len() - 3].ends_with(q)))
            // `requirepass`, `becomepass`, `rootpw`, `masterauth`: a
            // password word glued to what it is for.
            || (word.len() >= 6 && word.ends_with("pass") && !PASS_WORDS.contains(&word))
            || (word.len() >= 4 && word.ends_with("pw"))
            || (word.len() >= 8 && word.ends_with("auth") && !word.ends_with("oauth"))
            || (word.ends_with("password")
                || word.ends_with("passwd")
                || word.ends_with("passphrase")
                || word.ends_with("secret")
                || word.ends_with("token"))
    })
}

/// The key is a strong secret name: its last secret word is followed only by benign words.
pub(crate) fn is_strong_key(key: &[u8]) -> bool {
    let w = words(key);
    match last_secret_word(&w) {
        Some(i) => w[i + 1..]
            .iter()
            .all(|x| BENIGN_TAIL.contains(&x.as_str()) || x.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

/// The key mentions a secret-ish word (`key`, `login`, `id` next to `access`) and does
/// not end in a descriptive word.
pub(crate) fn is_weak_key(key: &[u8]) -> bool {
    let w = words(key);
    let Some(last) = w.last() else {
        return false;
    };
    if DESCRIPTIVE.contains(&last.as_str()) && !(last == "id" && w.iter().any(|x| x == "access")) {
        return false;
    }
    w.iter().any(|x| {
        matches!(
            x.as_str(),
            "key"
                | "keys"
                | "secret"
                | "secrets"
                | "token"
                | "login"
                | "credentials"
                | "auth"
                | "access"
                | "accessid"
                | "signature"
                | "sig"
                | "cookie"
                | "session"
                | "seed"
                | "private"
                | "license"
                | "refresh"
                | "assertion"
                | "recovery"
        ) || x.ends_with("secret")
            || x.ends_with("token")
            || x.ends_with("password")
    })
}

/// End of the key before `end`: skips quotes, spaces, `,` and `=:>!@`.
fn skip_separators(b: &[u8], mut end: usize) -> usize {
    while end > 0 {
        let skip = match b[end - 1] {
            b' ' | b'\t' | b'"' | b'\'' | b'=' | b':' | b'!' | b'@' | b',' | b']' | b'\\' => true,
            // `=>` only; a lone `>` ends a placeholder such as `<secret:password>`.
            b'>' => end >= 2 && b[end - 2] == b'=',
            _ => false,
        };
        if !skip {
            break;
        }
        end -= 1;
    }
    end
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// The key text just before the value at `c.start` (skipping quotes, spaces,
/// `,`, `=:>!`, and a YAML tag such as `!!binary` or `!Ref`).
fn key_before<'a>(c: &Ctx<'a>) -> &'a [u8] {
    let b = &c.line[..c.start];
    let mut end = skip_separators(b, b.len());
    let word_start = b[..end]
        .iter()
        .rposition(|x| x.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    if b[word_start..end].starts_with(b"!") {
        end = skip_separators(b, word_start);
    }
    let mut start = end;
    while start > 0 && is_key_byte(b[start - 1]) {
        start -= 1;
    }
    let start = spaced_qualifier(b, start, end);
    crate::context::skip_type(c.line, start, &b[start..end])
}

/// Start of a key written as two words in prose (`API key`, `access token`):
/// a bare `key`/`token`/`secret` with a qualifier one space before it is
/// widened to include the qualifier; any other key keeps `start`.
pub(crate) fn spaced_qualifier(b: &[u8], start: usize, end: usize) -> usize {
    let word = &b[start..end];
    if !(word.eq_ignore_ascii_case(b"key")
        || word.eq_ignore_ascii_case(b"token")
        || word.eq_ignore_ascii_case(b"secret"))
        || start < 2
        || b[start - 1] != b' '
    {
        return start;
    }
    let q_end = start - 1;
    let q_start = b[..q_end]
        .iter()
        .rposition(|x| !x.is_ascii_alphabetic())
        .map_or(0, |i| i + 1);
    let q = b[q_start..q_end].to_ascii_lowercase();
    if KEY_QUALIFIERS.iter().any(|k| k.as_bytes() == q.as_slice()) {
        q_start
    } else {
        start
    }
}

/// `password = VALUE` style: strong key and a real value.
pub(crate) fn strong_assignment(c: &Ctx<'_>) -> bool {
    is_strong_key(key_before(c)) && strong_value(c) && !glued_colon(c)
}

/// `group:artifact` or `host:port`: a bare value glued to a colon is not an assignment.
fn glued_colon(c: &Ctx<'_>) -> bool {
    c.start > 0 && c.line[c.start - 1] == b':'
}

/// `some_key = VALUE` style: weak key and a random-looking value, or a
/// UUID-shaped value under a key whose last word is `key`/`secret`/`token`
/// (`HEROKU_KEY = "…-…"`; `…_id` keys keep their UUIDs).
pub(crate) fn weak_assignment(c: &Ctx<'_>) -> bool {
    let k = key_before(c);
    let w = words(k);
    let uuid_key = w
        .last()
        .is_some_and(|l| matches!(l.as_str(), "key" | "secret" | "token" | "apikey"));
    !is_strong_key(k)
        && is_weak_key(k)
        && !w.iter().any(|w| w == "public")
        && (random_value(c) || (uuid_key && is_uuid(&c.line[c.start..c.end])))
        && !glued_colon(c)
}

/// `key = VALUE` with either a strong key or a weak key and a random value.
pub(crate) fn any_assignment(c: &Ctx<'_>) -> bool {
    strong_assignment(c) || weak_assignment(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_words() {
        assert_eq!(
            words(b"AWS_SECRET_ACCESS_KEY"),
            ["aws", "secret", "access", "key"]
        );
        assert_eq!(words(b"clientSecret"), ["client", "secret"]);
        assert_eq!(
            words(b"spring.datasource.password"),
            ["spring", "datasource", "password"]
        );
    }

    #[test]
    fn strong_keys() {
        for k in [
            "password",
            "DB_PASSWORD",
            "my_password_super_secure",
            "VERY_SECRET_TOO",
            "api_key",
            "ENCRYPTION_KEY",
            "clientSecret",
            "_authToken",
            "PuttyPassword",
            "aws_secret_access_key",
            "requirepass",
            "ldap_bindpw",
            "masterauth",
            "consumer_key",
            "SECURITY_SALT",
            "passwort",
            "mot_de_passe",
        ] {
            assert!(is_strong_key(k.as_bytes()), "{k}");
        }
        for k in [
            "secret_length",
            "token_type",
            "private_key_path",
            "LLM_SECRET_NAME",
            "PASSWORD_HASHERS",
            "bucket_key",
            "keyword",
            "credentialsId",
            "bypass",
            "compass_heading",
            "salt_rounds",
            "oauth",
        ] {
            assert!(!is_strong_key(k.as_bytes()), "{k}");
        }
    }

    #[test]
    fn weak_keys() {
        assert!(is_weak_key(b"hubspotKey"));
        assert!(is_weak_key(b"SUMO_ACCESS_ID"));
        assert!(!is_weak_key(b"key_name"));
        assert!(!is_weak_key(b"kms_key_id"));
        assert!(!is_weak_key(b"keyword"));
    }
}
