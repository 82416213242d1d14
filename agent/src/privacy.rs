//! What may leave the machine: the one function, [`Outbound::as_sent`], that
//! turns a recorded run into the record a collector would receive at a
//! telemetry level. The sync path and `earlyexit export --as-sent` both call
//! it, so what users audit is what is sent.
//!
//! - `off`, `local`: nothing leaves (`None`).
//! - `full`: every text field passes through the scrubber (secrets, personal
//!   data, home paths, the user and host name become placeholders).
//!   A value a rule found in one field (`PGPASSWORD=…`) is hidden wherever
//!   else it occurs in the record, too (the command line, other lines).
//! - `anonymous`: no raw line content at all. The command is reduced to the
//!   program name and a hash of its arguments, the working directory to a
//!   hash, environment variables to their names, matched lines to templates
//!   (scrubbed, then every token holding a digit masked as `<*>`), context
//!   and output samples are dropped.
//!
//! Every hash that leaves the machine (`<args:…>`, `<dir:…>`, the command
//! and content hashes, and with `scrub_keyed` the placeholders) is an
//! HMAC-SHA-256 under one key ([`HashKey`]): without it nobody reading the
//! collector's store can confirm a guessed argument or path by hashing it.
//! The key is `scrub.key` beside the database, made on first use, or the
//! file `scrub_key_file` names; an org that gives all its agents the same
//! key file keeps equal commands grouped across agents, while a guess still
//! needs the key.
//!
//! It also owns the scrubber a configuration describes ([`scrubber`]) and
//! that key ([`scrub_key_path`], [`load_or_create_key`], [`outbound`]).
//! It reads [`Config`]; `config` never uses this module.
//!
//! A test fills every text field of a run with secrets and fails if any
//! survives `as_sent`, so a new field cannot be added without deciding how
//! it is scrubbed. This module never reads or writes the database.

use std::sync::LazyLock;

use earlyexit_scrub::{KnownSecrets, Scrubber};
use hmac::{Hmac, Mac};
use regex::Regex;
use sha2::Sha256;

use crate::config::{Config, TelemetryLevel};
use crate::record::{MatchEvent, RunRecord};

/// The key file of keyed scrubbing, beside the database.
pub const SCRUB_KEY_FILE: &str = "scrub.key";

/// Bytes of a new scrub key.
const SCRUB_KEY_BYTES: usize = 32;

/// Why the scrubber could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// A rule in `scrub_rules` / `scrub_disable` is wrong.
    #[error(transparent)]
    Rules(#[from] earlyexit_scrub::Error),
    /// The key of outbound hashes could not be read or created.
    #[error("cannot use the scrub key {}: {source}; check the file's and its directory's permissions", path.display())]
    Key {
        /// The key file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Shortest scrub key accepted from the key file (128 bits).
const MIN_SCRUB_KEY_BYTES: usize = 16;

/// Reads the scrub key at `path`, creating it (32 random bytes, mode 0600,
/// directory 0700) when missing. Processes racing on a fresh home all get
/// the one key that was written, never a partial one (see
/// [`load_or_create_once`](crate::private_file::load_or_create_once)).
pub fn load_or_create_key(path: &std::path::Path) -> Result<Vec<u8>, PrivacyError> {
    crate::private_file::load_or_create_once(path, random_key, |key| {
        if key.len() >= MIN_SCRUB_KEY_BYTES {
            Ok(key.to_vec())
        } else {
            Err(std::io::Error::other(
                "the key file is shorter than 16 bytes; delete it to have a new one made",
            ))
        }
    })
    .map_err(|source| PrivacyError::Key {
        path: path.to_path_buf(),
        source,
    })
}

/// [`SCRUB_KEY_BYTES`] bytes from the system's random source.
fn random_key() -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut key = vec![0u8; SCRUB_KEY_BYTES];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
    Ok(key)
}

/// The key of every hash a record carries off the machine (see the module
/// header). Its bytes are never printed.
#[derive(Clone)]
pub struct HashKey(Vec<u8>);

impl std::fmt::Debug for HashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HashKey({} bytes)", self.0.len())
    }
}

impl HashKey {
    /// A key of `bytes` (at least 16 in use; [`load_or_create_key`] checks).
    pub fn new(bytes: Vec<u8>) -> HashKey {
        HashKey(bytes)
    }

    /// Hex of HMAC-SHA-256(key, `label` || 0 || `text`). The label keeps a
    /// directory's hash from ever equalling an argument list's.
    pub fn hex(&self, label: &str, text: &str) -> String {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts any key length");
        mac.update(label.as_bytes());
        mac.update(&[0]);
        mac.update(text.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Turns recorded runs into what is sent at one telemetry level.
#[derive(Debug)]
pub struct Outbound {
    level: TelemetryLevel,
    scrubber: Scrubber,
    key: HashKey,
}

/// The [`Outbound`] `config` describes at `level`: its scrubber (see
/// [`scrubber`]) and its hash key, made on first use.
pub fn outbound(config: &Config, level: TelemetryLevel) -> Result<Outbound, PrivacyError> {
    let key = load_key(config)?;
    let mut builder = scrubber_builder(config)?;
    if config.scrub_keyed {
        builder = builder.keyed(key.clone());
    }
    Ok(Outbound::new(level, builder.build()?, HashKey::new(key)))
}

/// Tokens holding a digit (ids, counts, addresses, times) or long hex runs:
/// the variable parts of a log line.
/// Placeholders (`<ipv4>`, `<secret:aws>`) match first and are kept.
static VARIABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"<[^<>\s]+>|[^\s<>]*\d[^\s<>]*|\b[0-9a-fA-F]{8,}\b").expect("valid regex")
});

impl Outbound {
    /// Sends at `level`, scrubbing with `scrubber` and hashing with `key`.
    pub fn new(level: TelemetryLevel, scrubber: Scrubber, key: HashKey) -> Self {
        Outbound {
            level,
            scrubber,
            key,
        }
    }

    /// The level records are shaped for.
    pub fn level(&self) -> TelemetryLevel {
        self.level
    }

    /// The record a collector would receive for `run`, or `None` when the
    /// level sends nothing.
    pub fn as_sent(&self, run: &RunRecord) -> Option<RunRecord> {
        match self.level {
            TelemetryLevel::Off | TelemetryLevel::Local => None,
            TelemetryLevel::Full => Some(self.full(run)),
            TelemetryLevel::Anonymous => Some(self.anonymous(run)),
        }
    }

    /// `run` with every text field scrubbed as at `full`, keeping its own
    /// telemetry level: what `anonymize_local: true` stores locally.
    pub fn scrubbed_for_local(&self, run: &RunRecord) -> RunRecord {
        let mut out = self.full(run);
        out.execution.telemetry_level = run.execution.telemetry_level.clone();
        keep_if(
            &mut out.execution.telemetry_level,
            &["off", "local", "anonymous", "full"],
        );
        out
    }

    fn scrub(&self, text: &str, known: &KnownSecrets) -> String {
        let scrubbed = self.scrubber.scrub_text(text);
        known.hide(&scrubbed).into_owned()
    }

    /// Every value a rule finds anywhere in `run`'s text fields.
    fn known_secrets(&self, run: &RunRecord) -> KnownSecrets {
        let e = &run.execution;
        let mut texts = vec![
            e.command.as_str(),
            e.working_directory.as_str(),
            e.environment_vars.as_str(),
            e.pattern.as_str(),
            e.exclude_patterns.as_str(),
            e.success_patterns.as_str(),
            e.fd_patterns.as_str(),
        ];
        texts.extend(e.program.as_deref());
        texts.extend(e.error_message.as_deref());
        for m in &run.matches {
            texts.extend([
                m.line_content.as_str(),
                m.matched_substring.as_str(),
                m.context_before.as_str(),
                m.context_after.as_str(),
            ]);
        }
        texts.extend(run.samples.iter().map(|s| s.content.as_str()));
        self.scrubber.known_secrets(texts)
    }

    /// A line as a template: scrubbed, then its variable tokens masked.
    pub fn template(&self, line: &str) -> String {
        self.template_hiding(line, &KnownSecrets::default())
    }

    fn template_hiding(&self, line: &str, known: &KnownSecrets) -> String {
        let scrubbed = self.scrub(line, known);
        VARIABLE
            .replace_all(&scrubbed, |caps: &regex::Captures<'_>| {
                let token = &caps[0];
                if token.starts_with('<') && token.ends_with('>') {
                    token.to_string()
                } else {
                    "<*>".to_string()
                }
            })
            .into_owned()
    }

    fn full(&self, run: &RunRecord) -> RunRecord {
        let known = self.known_secrets(run);
        let scrub = |text: &str| self.scrub(text, &known);
        let mut out = run.clone();
        let e = &mut out.execution;
        e.command = scrub(&e.command);
        e.command_hash = self.key.hex("command", &e.command);
        e.program = e.program.as_deref().map(scrub);
        e.working_directory = scrub(&e.working_directory);
        e.environment_vars = scrub(&e.environment_vars);
        e.pattern = scrub(&e.pattern);
        e.exclude_patterns = scrub(&e.exclude_patterns);
        e.success_patterns = scrub(&e.success_patterns);
        e.fd_patterns = scrub(&e.fd_patterns);
        e.error_message = e.error_message.as_deref().map(scrub);
        e.telemetry_level = self.level.as_str().to_string();
        self.closed_sets(&mut out);
        for m in &mut out.matches {
            m.line_content = scrub(&m.line_content);
            m.matched_substring = scrub(&m.matched_substring);
            m.context_before = scrub(&m.context_before);
            m.context_after = scrub(&m.context_after);
            m.stream_source = scrub(&m.stream_source);
        }
        for s in &mut out.samples {
            s.content = scrub(&s.content);
            s.content_hash = self.key.hex("content", &s.content);
            s.stream_source = scrub(&s.stream_source);
        }
        out
    }

    fn anonymous(&self, run: &RunRecord) -> RunRecord {
        let known = self.known_secrets(run);
        let template = |text: &str| self.template_hiding(text, &known);
        let mut out = run.clone();
        let e = &mut out.execution;
        let program = e.program.as_deref().map(template);
        e.command = match (&program, e.mode.as_str()) {
            (_, "pipe") => "<pipe>".to_string(),
            (Some(p), _) => format!(
                "{p} <args:{}>",
                &self.key.hex("args", &run.execution.command)[..12]
            ),
            (None, _) => "<command>".to_string(),
        };
        e.command_hash = self.key.hex("command", &e.command);
        e.program = program;
        e.working_directory = format!(
            "<dir:{}>",
            &self.key.hex("dir", &run.execution.working_directory)[..12]
        );
        e.environment_vars = env_names_only(&e.environment_vars);
        e.pattern = template(&e.pattern);
        e.exclude_patterns = template(&e.exclude_patterns);
        e.success_patterns = template(&e.success_patterns);
        e.fd_patterns = template(&e.fd_patterns);
        e.error_message = e.error_message.as_deref().map(template);
        e.telemetry_level = self.level.as_str().to_string();
        self.closed_sets(&mut out);
        for m in &mut out.matches {
            *m = MatchEvent {
                line_content: template(&m.line_content),
                matched_substring: template(&m.matched_substring),
                context_before: String::new(),
                context_after: String::new(),
                stream_source: template(&m.stream_source),
                kind: m.kind.clone(),
                ..m.clone()
            };
        }
        out.samples.clear();
        out
    }

    /// Fields earlyexit fills from a closed set of values: anything else is
    /// not ours and is not sent.
    fn closed_sets(&self, run: &mut RunRecord) {
        let e = &mut run.execution;
        keep_if(&mut e.mode, &["command", "pipe"]);
        keep_if(&mut e.pattern_type, &["regex", "pcre"]);
        keep_if(&mut e.match_mode, &["stdout", "stderr", "both"]);
        keep_if(&mut e.project_type, crate::context::PROJECT_TYPES);
        keep_if(&mut e.command_category, crate::context::COMMAND_CATEGORIES);
        if !is_version(&e.earlyexit_version) {
            e.earlyexit_version = "unknown".into();
        }
        if uuid::Uuid::parse_str(&e.execution_id).is_err() {
            e.execution_id = uuid::Uuid::now_v7().to_string();
        }
        if !is_json_number_list(&e.monitored_fds) {
            e.monitored_fds = "[]".into();
        }
        if !is_json_number_list(&e.match_line_numbers) {
            e.match_line_numbers = "[]".into();
        }
        for m in &mut run.matches {
            keep_if(&mut m.kind, &["error", "success"]);
        }
        for s in &mut run.samples {
            keep_if(&mut s.sample_type, &["match_context", "tail"]);
        }
        for m in &mut run.metrics {
            keep_if(
                &mut m.metric_name,
                &["peak_rss_mb", "cpu_user_seconds", "cpu_system_seconds"],
            );
        }
    }
}

/// System accounts whose names are ordinary words in output (`/root`, …):
/// not scrubbed as user names.
const SYSTEM_USERS: &[&str] = &[
    "root", "runner", "build", "admin", "user", "ubuntu", "debian",
];

/// The local user name, so it can be scrubbed wherever it shows; `None` for
/// system accounts and names too short to scrub without mangling output.
pub fn local_user() -> Option<String> {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|key| std::env::var(key).ok())
        .map(|name| name.trim().to_string())
        .find(|name| !name.is_empty())
        .filter(|name| {
            name.len() >= earlyexit_scrub::MIN_NAME_LEN && !SYSTEM_USERS.contains(&name.as_str())
        })
}

/// The host name, so it can be scrubbed wherever it shows; `None` when it
/// is too short to scrub without mangling output.
pub fn local_host() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| h.len() >= earlyexit_scrub::MIN_NAME_LEN && h != "localhost")
}

/// The scrubber `config` describes: every built-in rule but
/// `scrub_disable`, the `scrub_rules`, the local user and host name, and
/// with `scrub_keyed` the machine's key (see [`scrub_key_path`]).
/// A bad rule is an error naming it.
pub fn scrubber(config: &Config) -> Result<Scrubber, PrivacyError> {
    let mut builder = scrubber_builder(config)?;
    if config.scrub_keyed {
        builder = builder.keyed(load_key(config)?);
    }
    Ok(builder.build()?)
}

/// [`scrubber`] without its key.
fn scrubber_builder(config: &Config) -> Result<earlyexit_scrub::ScrubberBuilder, PrivacyError> {
    let mut builder = local_scrubber_builder(&config.scrub_disable);
    for rule in &config.scrub_rules {
        builder = builder.custom(&rule.name, &rule.regex, &rule.replacement)?;
    }
    Ok(builder)
}

/// The key `config` names: `scrub_key_file`, which must exist (a missing
/// org key is not silently replaced by a new one, which would split the
/// org's grouping), or else [`SCRUB_KEY_FILE`], made on first use.
fn load_key(config: &Config) -> Result<Vec<u8>, PrivacyError> {
    let path = scrub_key_path(config);
    if config.scrub_key_file.is_some() && !path.exists() {
        return Err(PrivacyError::Key {
            path,
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "scrub_key_file names no file: copy the shared key there, or remove scrub_key_file to have a key of this machine's own made",
            ),
        });
    }
    load_or_create_key(&path)
}

/// Where the key of outbound hashes lives: `scrub_key_file`, or else
/// [`SCRUB_KEY_FILE`] beside `config`'s database (mode 0600). It is never
/// sent anywhere.
pub fn scrub_key_path(config: &Config) -> std::path::PathBuf {
    config
        .scrub_key_file
        .clone()
        .unwrap_or_else(|| config.db.with_file_name(SCRUB_KEY_FILE))
}

/// The scrubber for this machine: every built-in rule but `disabled`, plus
/// the local user and host name. (With config, use [`scrubber`], which adds
/// the user's rules.)
pub fn local_scrubber(disabled: &[String]) -> Result<Scrubber, earlyexit_scrub::Error> {
    local_scrubber_builder(disabled).build()
}

/// The builder behind [`local_scrubber`], for adding rules.
pub fn local_scrubber_builder(disabled: &[String]) -> earlyexit_scrub::ScrubberBuilder {
    let mut builder = Scrubber::builder();
    for rule in disabled {
        builder = builder.disable(rule);
    }
    if let Some(user) = local_user() {
        builder = builder.user_name(&user);
    }
    if let Some(host) = local_host() {
        builder = builder.host_name(&host);
    }
    builder
}

fn keep_if(value: &mut String, allowed: &[&str]) {
    if !allowed.contains(&value.as_str()) {
        *value = "unknown".into();
    }
}

fn is_version(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 32
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-+".contains(&b))
}

fn is_json_number_list(text: &str) -> bool {
    serde_json::from_str::<Vec<i64>>(text).is_ok()
}

/// `{"CI":"true","TERM":"xterm"}` → `["CI","TERM"]`.
fn env_names_only(json: &str) -> String {
    let names: Vec<String> =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json)
            .map(|map| {
                map.keys()
                    .filter(|k| k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
    serde_json::to_string(&names).unwrap_or_else(|_| "[]".into())
}

/// A fixed key for tests that do not care which key hashes.
#[cfg(test)]
pub(crate) fn test_key() -> HashKey {
    HashKey::new(vec![42u8; 32])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests_support::{CANARIES, poisoned, sample_run};
    use sha2::Digest;

    fn plain_sha256_hex(text: &str) -> String {
        sha2::Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Every string in `value`.
    fn strings(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
            serde_json::Value::Object(map) => map.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }

    #[test]
    fn no_outbound_hash_is_the_plain_sha256_of_an_input() {
        let mut run = sample_run(1_700_000_000_000);
        run.execution.command = "deploy --password hunter2hunter2".into();
        run.execution.working_directory = "/srv/customer-acme/build".into();
        let mut inputs = Vec::new();
        strings(&serde_json::to_value(&run).unwrap(), &mut inputs);
        for keyed in [false, true] {
            for level in [TelemetryLevel::Full, TelemetryLevel::Anonymous] {
                let scrubber = if keyed {
                    Scrubber::builder().keyed(vec![7u8; 32]).build().unwrap()
                } else {
                    Scrubber::default()
                };
                let sent = Outbound::new(level, scrubber, test_key())
                    .as_sent(&run)
                    .unwrap();
                let mut candidates = inputs.clone();
                // What was sent is an input to a hash too (the scrubbed
                // command, a sample's content).
                strings(&serde_json::to_value(&sent).unwrap(), &mut candidates);
                let sent_text = serde_json::to_string(&sent).unwrap();
                for input in &candidates {
                    let plain = plain_sha256_hex(input);
                    assert!(
                        !sent_text.contains(&plain[..12]),
                        "{level:?} keyed={keyed}: the plain SHA-256 of {input:?} was sent: {sent_text}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_secret_found_once_is_hidden_in_all_five_places() {
        let secret = "Pz7-qLm2-Rt9x-Vw4k";
        let mut run = sample_run(1_700_000_000_000);
        run.execution.command = format!("psql -h db -W {secret}");
        run.execution.environment_vars = format!(r#"{{"PGPASSWORD":"{secret}"}}"#);
        run.matches[0].line_content = format!("connecting with {secret} failed");
        run.matches[0].context_before = format!("PGPASSWORD={secret}");
        run.samples[0].content = format!("retrying as {secret}\nauth failed");
        for level in [TelemetryLevel::Full, TelemetryLevel::Anonymous] {
            let sent = Outbound::new(level, Scrubber::default(), test_key())
                .as_sent(&run)
                .unwrap();
            let text = serde_json::to_string(&sent).unwrap();
            assert!(!text.contains(secret), "{level:?}: {text}");
            assert!(
                !text.contains("Pz7-qLm2"),
                "{level:?}: part of it survived: {text}"
            );
        }
        let full = Outbound::new(TelemetryLevel::Full, Scrubber::default(), test_key())
            .as_sent(&run)
            .unwrap();
        assert_eq!(full.execution.command, "psql -h db -W <secret:password>");
        assert_eq!(
            full.matches[0].line_content,
            "connecting with <secret:password> failed"
        );
    }

    #[test]
    fn args_and_dir_hashes_depend_on_the_key_and_group_under_one_key() {
        let run = sample_run(1);
        let anon = |key: u8| {
            Outbound::new(
                TelemetryLevel::Anonymous,
                Scrubber::default(),
                HashKey::new(vec![key; 32]),
            )
            .as_sent(&run)
            .unwrap()
            .execution
        };
        let (a, b, a2) = (anon(1), anon(2), anon(1));
        assert_ne!(a.command, b.command, "a guess needs the key");
        assert_ne!(a.working_directory, b.working_directory);
        assert_eq!(a.command, a2.command, "one key (an org's) keeps grouping");
        assert_eq!(a.working_directory, a2.working_directory);
        assert_eq!(a.command_hash, a2.command_hash);
    }

    #[test]
    fn a_configured_key_file_must_exist_and_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::defaults(dir.path());
        config.scrub_key_file = Some(dir.path().join("org.key"));
        let e = outbound(&config, TelemetryLevel::Anonymous)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("org.key") && e.contains("copy the shared key"),
            "{e}"
        );
        std::fs::write(dir.path().join("org.key"), [5u8; 32]).unwrap();
        let ours = outbound(&config, TelemetryLevel::Anonymous).unwrap();
        let run = sample_run(1);
        let expected = Outbound::new(
            TelemetryLevel::Anonymous,
            Scrubber::default(),
            HashKey::new(vec![5u8; 32]),
        )
        .as_sent(&run)
        .unwrap();
        assert_eq!(
            ours.as_sent(&run).unwrap().execution.working_directory,
            expected.execution.working_directory
        );
        assert!(
            !dir.path().join(SCRUB_KEY_FILE).exists(),
            "no key of its own is made"
        );
    }

    #[test]
    fn no_secret_survives_in_any_text_field_at_any_sending_level() {
        let run = poisoned(&sample_run(1_700_000_000_000));
        for level in [TelemetryLevel::Full, TelemetryLevel::Anonymous] {
            let sent = Outbound::new(level, Scrubber::default(), test_key())
                .as_sent(&run)
                .unwrap();
            let text = serde_json::to_string(&sent).unwrap();
            for canary in CANARIES {
                assert!(
                    !text.contains(canary),
                    "{level:?}: '{canary}' survived in {text}; a text field of RunRecord is sent unscrubbed"
                );
            }
        }
    }

    #[test]
    fn anonymize_local_scrubs_every_field_and_keeps_the_level() {
        let run = poisoned(&sample_run(1_700_000_000_000));
        let local = Outbound::new(TelemetryLevel::Full, Scrubber::default(), test_key())
            .scrubbed_for_local(&run);
        let text = serde_json::to_string(&local).unwrap();
        assert!(CANARIES.iter().all(|c| !text.contains(c)), "{text}");
    }

    #[test]
    fn the_scrub_key_is_made_once_privately_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("home").join(SCRUB_KEY_FILE);
        let key = load_or_create_key(&path).unwrap();
        assert_eq!(key.len(), SCRUB_KEY_BYTES);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            load_or_create_key(&path).unwrap(),
            key,
            "the same key next time"
        );
        let other = load_or_create_key(&dir.path().join("other.key")).unwrap();
        assert_ne!(key, other, "keys are random");
        std::fs::write(&path, b"short").unwrap();
        let e = load_or_create_key(&path).unwrap_err().to_string();
        assert!(e.contains("delete it"), "{e}");
    }

    #[test]
    fn a_config_files_scrub_rules_and_disabled_rules_make_the_scrubber() {
        let tree = crate::config::test_support::Tree::new();
        tree.write_home(
            "scrub_disable: [email]\nscrub_rules:\n  - {name: ticket, regex: 'OPS-[0-9]+', replacement: '<ticket>'}\n",
        );
        let c = tree.load().unwrap().config;
        let scrubber = scrubber(&c).unwrap();
        assert_eq!(
            scrubber.scrub_line("OPS-12 by a@b-corp.io"),
            "<ticket> by a@b-corp.io"
        );
    }

    #[test]
    fn keyed_placeholders_correlate_equal_values_only() {
        let scrubber = Scrubber::builder().keyed(vec![7u8; 32]).build().unwrap();
        let a = scrubber.scrub_line("from erin@corp-mail.io").into_owned();
        let b = scrubber.scrub_line("to erin@corp-mail.io").into_owned();
        let c = scrubber.scrub_line("to frank@corp-mail.io").into_owned();
        let tag = |s: &str| s.split_whitespace().last().unwrap().to_string();
        assert!(tag(&a).starts_with("<email:"), "{a}");
        assert_eq!(tag(&a), tag(&b));
        assert_ne!(tag(&a), tag(&c));
    }

    #[test]
    fn local_and_off_send_nothing() {
        let run = sample_run(1);
        for level in [TelemetryLevel::Off, TelemetryLevel::Local] {
            assert!(
                Outbound::new(level, Scrubber::default(), test_key())
                    .as_sent(&run)
                    .is_none()
            );
        }
    }

    #[test]
    fn full_keeps_clean_content_and_anonymous_keeps_only_templates() {
        let mut run = sample_run(1);
        run.matches[0].line_content =
            "error[E0425]: cannot find value `x` in scope at line 42".into();
        run.execution.command = "cargo test --workspace".into();
        let full = Outbound::new(TelemetryLevel::Full, Scrubber::default(), test_key())
            .as_sent(&run)
            .unwrap();
        assert_eq!(full.matches[0].line_content, run.matches[0].line_content);
        assert_eq!(full.execution.command, "cargo test --workspace");

        let anon = Outbound::new(TelemetryLevel::Anonymous, Scrubber::default(), test_key())
            .as_sent(&run)
            .unwrap();
        assert_eq!(
            anon.matches[0].line_content,
            "<*> cannot find value `x` in scope at line <*>"
        );
        let outbound = Outbound::new(TelemetryLevel::Anonymous, Scrubber::default(), test_key());
        assert_eq!(
            outbound.template("retry 3 of job 7f3a9c21d4 from 10.1.2.3 failed"),
            "retry <*> of job <*> from <ipv4> failed",
            "placeholders survive masking"
        );
        assert!(
            anon.execution.command.starts_with("cargo <args:"),
            "{}",
            anon.execution.command
        );
        assert!(!anon.execution.command.contains("--workspace"));
        assert!(anon.samples.is_empty());
        assert!(
            anon.matches
                .iter()
                .all(|m| m.context_before.is_empty() && m.context_after.is_empty())
        );
        assert!(anon.execution.working_directory.starts_with("<dir:"));
        // Equal inputs give equal anonymous records (grouping still works).
        let again = Outbound::new(TelemetryLevel::Anonymous, Scrubber::default(), test_key())
            .as_sent(&run)
            .unwrap();
        assert_eq!(anon.execution.command_hash, again.execution.command_hash);
    }
}
