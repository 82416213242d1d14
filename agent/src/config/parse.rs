//! One file's text to the keys it sets: YAML through `serde_yaml_ng`,
//! durations (`90`, `1.5s`, `2m`), time limits that must not be zero, counts
//! that must be at least 1; and a parser error turned into the
//! [`ConfigError`] that names the key, the file and the line.
//!
//! It sees one file at a time: it must never merge files, apply defaults or
//! resolve paths (that is [`load`](super::load)), and never hand a blank or
//! comment-only file to the YAML parser.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::keys::{did_you_mean, key_doc};
use super::{
    CollectorConfig, ColorChoice, ConfigError, FeedbackMode, FpFilterMode, ScrubRule,
    TelemetryLevel,
};
use crate::duration::parse_duration;

/// The keys one file sets. `None` means "not set in this file"; for the
/// keys that may be unset, `Some(None)` means "set to `~`" (unset here, even
/// if the home file set it). A key missing from the file takes the
/// struct's default, `None`.
#[derive(Debug, Default, Deserialize)]
#[serde(
    default,
    deny_unknown_fields,
    expecting = "a mapping of earlyexit settings (`key: value` lines)"
)]
pub(super) struct RawConfig {
    pub(super) telemetry: Option<TelemetryLevel>,
    #[serde(deserialize_with = "de_at_least_one")]
    pub(super) retention_days: Option<u32>,
    #[serde(deserialize_with = "de_at_least_one")]
    pub(super) max_db_size_mb: Option<u64>,
    pub(super) unix_exit_codes: Option<bool>,
    #[serde(deserialize_with = "de_optional_delay")]
    pub(super) delay_exit: Option<Option<Duration>>,
    #[serde(deserialize_with = "de_optional_limit")]
    pub(super) timeout: Option<Option<Duration>>,
    #[serde(deserialize_with = "de_optional_limit")]
    pub(super) idle_timeout: Option<Option<Duration>>,
    #[serde(deserialize_with = "de_optional_limit")]
    pub(super) first_output_timeout: Option<Option<Duration>>,
    #[serde(deserialize_with = "de_duration")]
    pub(super) kill_grace: Option<Duration>,
    pub(super) db: Option<String>,
    pub(super) color: Option<ColorChoice>,
    pub(super) feedback: Option<FeedbackMode>,
    pub(super) anonymize_local: Option<bool>,
    pub(super) scrub_disable: Option<Vec<String>>,
    pub(super) scrub_rules: Option<Vec<ScrubRule>>,
    pub(super) scrub_keyed: Option<bool>,
    pub(super) scrub_key_file: Option<String>,
    pub(super) collector: Option<CollectorConfig>,
    pub(super) sync_on_exit: Option<bool>,
    #[serde(deserialize_with = "de_duration")]
    pub(super) sync_on_exit_timeout: Option<Duration>,
    pub(super) auto: Option<bool>,
    pub(super) fp_filter: Option<FpFilterMode>,
    pub(super) fp_threshold: Option<f64>,
}

/// Parses one file's text. Blank files and files of only comments are valid.
pub(super) fn parse_config_text(text: &str, path: &Path) -> Result<RawConfig, ConfigError> {
    let blank = text
        .lines()
        .all(|line| matches!(line.trim_start().chars().next(), None | Some('#')));
    if blank {
        return Ok(RawConfig::default());
    }
    match serde_yaml_ng::from_str::<Option<RawConfig>>(text) {
        Ok(raw) => Ok(raw.unwrap_or_default()),
        Err(error) => Err(classify_yaml_error(&error, text, path)),
    }
}

/// Turns a parser error into the error naming the key and line.
fn classify_yaml_error(error: &serde_yaml_ng::Error, text: &str, path: &Path) -> ConfigError {
    let path = path.to_path_buf();
    let line = error.location().map(|l| l.line());
    let full = error.to_string();
    let message = match error.location() {
        Some(l) => full
            .strip_suffix(&format!(" at line {} column {}", l.line(), l.column()))
            .unwrap_or(&full),
        None => &full,
    };
    if let Some(key) = backticked_after(message, "unknown field `") {
        return ConfigError::UnknownKey {
            suggestion: did_you_mean(key),
            key: key.to_string(),
            path,
            line,
        };
    }
    if let Some(key) = backticked_after(message, "duplicate field `") {
        // The parser points at the mapping; point at the second occurrence.
        let line = text
            .lines()
            .enumerate()
            .filter(|(_, l)| {
                l.strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start().starts_with(':'))
            })
            .nth(1)
            .map(|(index, _)| index + 1);
        return ConfigError::DuplicateKey {
            key: key.to_string(),
            path,
            line,
        };
    }
    // Errors inside a value carry the key as a path prefix: "timeout: …".
    if let Some((key, detail)) = message.split_once(": ")
        && key_doc(key).is_some()
    {
        return ConfigError::InvalidValue {
            key: key.to_string(),
            path,
            line,
            detail: detail.to_string(),
        };
    }
    ConfigError::Syntax { path, detail: full }
}

/// The text between `prefix` and the next backtick, when `message` starts so.
fn backticked_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    Some(&rest[..rest.find('`')?])
}

/// A duration written as a YAML number (seconds) or a string (`1.5s`, `2m`).
///
/// Validation happens inside the visitor, so the parser attaches the key
/// and position to every error.
struct YamlDuration(Duration);

/// A time limit: a [`YamlDuration`] that must not be zero.
struct YamlLimit(Duration);

/// A count or size that must be at least 1.
struct AtLeastOne<T>(T);

struct DurationVisitor {
    allow_zero: bool,
}

impl serde::de::Visitor<'_> for DurationVisitor {
    type Value = Duration;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration: a number of seconds or a string like 1.5s, 250ms, 2m, 1h")
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Duration, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Duration, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
        let duration = parse_duration(v).map_err(E::custom)?;
        if duration.is_zero() && !self.allow_zero {
            return Err(E::custom(
                "0 would stop every run at once; write `~` (or remove the key) for no limit",
            ));
        }
        Ok(duration)
    }
}

impl<'de> Deserialize<'de> for YamlDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurationVisitor { allow_zero: true })
            .map(YamlDuration)
    }
}

impl<'de> Deserialize<'de> for YamlLimit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurationVisitor { allow_zero: false })
            .map(YamlLimit)
    }
}

impl<'de, T: TryFrom<u64>> Deserialize<'de> for AtLeastOne<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<T: TryFrom<u64>> serde::de::Visitor<'_> for Visitor<T> {
            type Value = AtLeastOne<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number, at least 1")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                if v == 0 {
                    return Err(E::custom("must be at least 1"));
                }
                T::try_from(v)
                    .map(AtLeastOne)
                    .map_err(|_| E::custom(format!("{v} is too large")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom(format!("{v} is negative; must be at least 1"))),
                }
            }
        }
        d.deserialize_any(Visitor(std::marker::PhantomData))
    }
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    Ok(Option::<YamlDuration>::deserialize(d)?.map(|v| v.0))
}

/// `delay_exit`: `~` unsets it (mode default); 0 means "stop at once".
fn de_optional_delay<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<Duration>>, D::Error> {
    Ok(Some(Option::<YamlDuration>::deserialize(d)?.map(|v| v.0)))
}

/// Timeouts: `~` means no limit; 0 is refused (it would stop every run).
fn de_optional_limit<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<Duration>>, D::Error> {
    Ok(Some(Option::<YamlLimit>::deserialize(d)?.map(|v| v.0)))
}

fn de_at_least_one<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    Ok(Option::<AtLeastOne<T>>::deserialize(d)?.map(|v| v.0))
}

#[cfg(test)]
mod tests {
    use crate::config::test_support::Tree;
    use crate::config::*;

    #[test]
    fn empty_and_comment_only_files_are_valid() {
        let tree = Tree::new();
        tree.write_home("")
            .write_project("# nothing yet\n\n   # indented\n");
        let loaded = tree.load().unwrap();
        assert_eq!(loaded.config, Config::defaults(&tree.home()));
        assert!(loaded.files.home_exists);
        tree.write_home("---\n");
        assert_eq!(tree.load().unwrap().config, Config::defaults(&tree.home()));
    }

    #[test]
    fn unknown_key_names_key_file_line_and_suggests_the_fix() {
        let tree = Tree::new();
        tree.write_home("telemetry: local\ntimeout: 5m\nretension_days: 3\n");
        let message = tree.error();
        let expected = format!(
            "unknown key 'retension_days' in {} at line 3; did you mean 'retention_days'? run `earlyexit config show` for all keys",
            tree.home_file().display()
        );
        assert_eq!(message, expected);
    }

    #[test]
    fn unknown_key_far_from_any_key_gets_no_suggestion() {
        let tree = Tree::new();
        tree.write_project("pattern: ERROR\n");
        let message = tree.error();
        assert!(message.starts_with(&format!(
            "unknown key 'pattern' in {} at line 1; run",
            tree.project_file().display()
        )));
    }

    #[test]
    fn bad_values_name_the_key_the_file_and_the_line() {
        let tree = Tree::new();
        let cases = [
            (
                "telemetry: loud\n",
                "telemetry",
                1,
                "unknown variant `loud`",
            ),
            (
                "\nretention_days: 0\n",
                "retention_days",
                2,
                "must be at least 1",
            ),
            ("retention_days: -4\n", "retention_days", 1, "negative"),
            (
                "retention_days: 5000000000\n",
                "retention_days",
                1,
                "too large",
            ),
            (
                "max_db_size_mb: lots\n",
                "max_db_size_mb",
                1,
                "invalid type",
            ),
            (
                "unix_exit_codes: maybe\n",
                "unix_exit_codes",
                1,
                "invalid type",
            ),
            ("timeout: 5x\n", "timeout", 1, "invalid duration '5x'"),
            ("idle_timeout: 0\n", "idle_timeout", 1, "no limit"),
            ("kill_grace: -1\n", "kill_grace", 1, "invalid duration '-1'"),
            ("color: purple\n", "color", 1, "unknown variant `purple`"),
            ("delay_exit: [1]\n", "delay_exit", 1, "a duration"),
            ("timeout: [1m\n", "timeout", 1, "a duration"),
        ];
        for (text, key, line, detail) in cases {
            tree.write_home(text);
            let message = tree.error();
            let head = format!(
                "invalid value for '{key}' in {} at line {line}: ",
                tree.home_file().display()
            );
            assert!(message.starts_with(&head), "{text:?}: {message}");
            assert!(message.contains(detail), "{text:?}: {message}");
            assert!(message.ends_with("for what each key accepts"), "{message}");
        }
    }

    #[test]
    fn duplicate_keys_and_bad_yaml_name_the_file() {
        let tree = Tree::new();
        tree.write_home("timeout: 1m\ncolor: auto\ntimeout: 2m\n");
        let message = tree.error();
        assert_eq!(
            message,
            format!(
                "key 'timeout' is set more than once in {} at line 3; keep only one",
                tree.home_file().display()
            )
        );
        tree.write_home("");
        tree.write_project("color: auto\ntimeout: '1m\n");
        let message = tree.error();
        assert!(
            message.starts_with(&format!(
                "cannot read {} as configuration",
                tree.project_file().display()
            )),
            "{message}"
        );
        assert!(message.contains("line"), "{message}");
        tree.write_project("just some words\n");
        let message = tree.error();
        assert!(
            message.contains("a mapping of earlyexit settings"),
            "{message}"
        );
    }
}
