//! What may leave the machine: the one function, [`Outbound::as_sent`], that
//! turns a recorded run into the record a collector would receive at a
//! telemetry level. The sync path and `earlyexit export --as-sent` both call
//! it, so what users audit is what is sent.
//!
//! - `off`, `local`: nothing leaves (`None`).
//! - `full`: every text field passes through the scrubber (secrets, personal
//!   data, home paths, the user and host name become placeholders).
//! - `anonymous`: no raw line content at all. The command is reduced to the
//!   program name and a hash of its arguments, the working directory to a
//!   hash, environment variables to their names, matched lines to templates
//!   (scrubbed, then every token holding a digit masked as `<*>`), context
//!   and output samples are dropped.
//!
//! It also owns the scrubber a configuration describes ([`scrubber`]) and
//! the key of keyed scrubbing ([`scrub_key_path`], [`load_or_create_key`]).
//! It reads [`Config`]; `config` never uses this module.
//!
//! A test fills every text field of a run with secrets and fails if any
//! survives `as_sent`, so a new field cannot be added without deciding how
//! it is scrubbed. This module never reads or writes the database.

use std::sync::LazyLock;

use earlyexit_scrub::Scrubber;
use regex::Regex;
use sha2::{Digest, Sha256};

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
    /// The key for `scrub_keyed` could not be read or created.
    #[error("cannot use the scrub key {}: {source}; check the directory's permissions, or set scrub_keyed: false", path.display())]
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

/// Turns recorded runs into what is sent at one telemetry level.
#[derive(Debug)]
pub struct Outbound {
    level: TelemetryLevel,
    scrubber: Scrubber,
}

/// Tokens holding a digit (ids, counts, addresses, times) or long hex runs:
/// the variable parts of a log line.
/// Placeholders (`<ipv4>`, `<secret:aws>`) match first and are kept.
static VARIABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"<[^<>\s]+>|[^\s<>]*\d[^\s<>]*|\b[0-9a-fA-F]{8,}\b").expect("valid regex")
});

impl Outbound {
    /// Sends at `level`, scrubbing with `scrubber`.
    pub fn new(level: TelemetryLevel, scrubber: Scrubber) -> Self {
        Outbound { level, scrubber }
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

    fn scrub(&self, text: &str) -> String {
        self.scrubber.scrub_text(text)
    }

    /// A line as a template: scrubbed, then its variable tokens masked.
    pub fn template(&self, line: &str) -> String {
        let scrubbed = self.scrub(line);
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
        let mut out = run.clone();
        let e = &mut out.execution;
        e.command = self.scrub(&e.command);
        e.command_hash = sha256_hex(&e.command);
        e.program = e.program.as_deref().map(|p| self.scrub(p));
        e.working_directory = self.scrub(&e.working_directory);
        e.environment_vars = self.scrub(&e.environment_vars);
        e.pattern = self.scrub(&e.pattern);
        e.exclude_patterns = self.scrub(&e.exclude_patterns);
        e.success_patterns = self.scrub(&e.success_patterns);
        e.fd_patterns = self.scrub(&e.fd_patterns);
        e.error_message = e.error_message.as_deref().map(|m| self.scrub(m));
        e.telemetry_level = self.level.as_str().to_string();
        self.closed_sets(&mut out);
        for m in &mut out.matches {
            m.line_content = self.scrub(&m.line_content);
            m.matched_substring = self.scrub(&m.matched_substring);
            m.context_before = self.scrub(&m.context_before);
            m.context_after = self.scrub(&m.context_after);
            m.stream_source = self.scrub(&m.stream_source);
        }
        for s in &mut out.samples {
            s.content = self.scrub(&s.content);
            s.content_hash = sha256_hex(&s.content);
            s.stream_source = self.scrub(&s.stream_source);
        }
        out
    }

    fn anonymous(&self, run: &RunRecord) -> RunRecord {
        let mut out = run.clone();
        let e = &mut out.execution;
        let program = e.program.as_deref().map(|p| self.template(p));
        e.command = match (&program, e.mode.as_str()) {
            (_, "pipe") => "<pipe>".to_string(),
            (Some(p), _) => format!("{p} <args:{}>", &sha256_hex(&run.execution.command)[..12]),
            (None, _) => "<command>".to_string(),
        };
        e.command_hash = sha256_hex(&e.command);
        e.program = program;
        e.working_directory = format!(
            "<dir:{}>",
            &sha256_hex(&run.execution.working_directory)[..12]
        );
        e.environment_vars = env_names_only(&e.environment_vars);
        e.pattern = self.template(&e.pattern);
        e.exclude_patterns = self.template(&e.exclude_patterns);
        e.success_patterns = self.template(&e.success_patterns);
        e.fd_patterns = self.template(&e.fd_patterns);
        e.error_message = e.error_message.as_deref().map(|m| self.template(m));
        e.telemetry_level = self.level.as_str().to_string();
        self.closed_sets(&mut out);
        for m in &mut out.matches {
            *m = MatchEvent {
                line_content: self.template(&m.line_content),
                matched_substring: self.template(&m.matched_substring),
                context_before: String::new(),
                context_after: String::new(),
                stream_source: self.template(&m.stream_source),
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
    let mut builder = local_scrubber_builder(&config.scrub_disable);
    for rule in &config.scrub_rules {
        builder = builder.custom(&rule.name, &rule.regex, &rule.replacement)?;
    }
    if config.scrub_keyed {
        builder = builder.keyed(load_or_create_key(&scrub_key_path(config))?);
    }
    Ok(builder.build()?)
}

/// Where the key for `scrub_keyed` lives: [`SCRUB_KEY_FILE`] beside
/// `config`'s database (mode 0600). It is never sent anywhere.
pub fn scrub_key_path(config: &Config) -> std::path::PathBuf {
    config.db.with_file_name(SCRUB_KEY_FILE)
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

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests_support::{CANARIES, poisoned, sample_run};

    #[test]
    fn no_secret_survives_in_any_text_field_at_any_sending_level() {
        let run = poisoned(&sample_run(1_700_000_000_000));
        for level in [TelemetryLevel::Full, TelemetryLevel::Anonymous] {
            let sent = Outbound::new(level, Scrubber::default())
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
        let local =
            Outbound::new(TelemetryLevel::Full, Scrubber::default()).scrubbed_for_local(&run);
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
                Outbound::new(level, Scrubber::default())
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
        let full = Outbound::new(TelemetryLevel::Full, Scrubber::default())
            .as_sent(&run)
            .unwrap();
        assert_eq!(full.matches[0].line_content, run.matches[0].line_content);
        assert_eq!(full.execution.command, "cargo test --workspace");

        let anon = Outbound::new(TelemetryLevel::Anonymous, Scrubber::default())
            .as_sent(&run)
            .unwrap();
        assert_eq!(
            anon.matches[0].line_content,
            "<*> cannot find value `x` in scope at line <*>"
        );
        let outbound = Outbound::new(TelemetryLevel::Anonymous, Scrubber::default());
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
        let again = Outbound::new(TelemetryLevel::Anonymous, Scrubber::default())
            .as_sent(&run)
            .unwrap();
        assert_eq!(anon.execution.command_hash, again.execution.command_hash);
    }
}
