//! What a bundle holds, checked the same way by everyone who handles one:
//! the collector before it publishes, the agent before it keeps one.
//!
//! A bundle is a JSON document, `{"format": 1, "kind": …, …}`, with the
//! fields of its kind:
//!
//! - `patterns`: a pattern library. `patterns` is a non-empty list of
//!   entries, each with a unique `id`, a `regex` that compiles (the `regex`
//!   crate's syntax, as the agent matches), a `severity` (`error`,
//!   `failure-summary`, `warning`), and optionally `tool`, `applies_to`
//!   (command shapes such as `cargo test`), `excludes` (regexes of known
//!   noise) and `description`.
//! - `models`: trained models. `models` is a non-empty list, each with a
//!   `name`, the `feature_schema` fingerprint it was trained on (an agent
//!   with another schema refuses it) and the `model` itself (any JSON
//!   value, read by the learning engine).
//!
//! Both may carry `metadata` (any JSON object: data window, sample counts,
//! metrics). Unknown top-level fields are refused, so a typo is an error, not
//! a field silently ignored. This module owns the format only: it stores,
//! sends and applies nothing.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

/// The bundle format this crate reads and writes.
pub const BUNDLE_FORMAT: u32 = 1;

/// Bundle kinds with a schema; any other kind is refused.
pub const BUNDLE_KINDS: &[&str] = &["patterns", "models"];

/// Severities a pattern entry may have.
pub const SEVERITIES: &[&str] = &["error", "failure-summary", "warning"];

/// Why bytes are not a valid bundle of a kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleSchemaError {
    /// A kind with no schema.
    #[error("unknown bundle kind '{0}': the kinds are {kinds}", kinds = BUNDLE_KINDS.join(", "))]
    UnknownKind(String),
    /// Not a JSON document of the expected shape.
    #[error(
        "not a {kind} bundle: {detail} (a bundle is a JSON document {{\"format\": 1, \"kind\": \"{kind}\", \"{kind}\": [...]}})"
    )]
    Malformed {
        /// The kind it was checked as.
        kind: String,
        /// What serde said, with its line and column.
        detail: String,
    },
    /// A format this crate does not read.
    #[error(
        "bundle format {found} is not supported (this version reads format {BUNDLE_FORMAT}); build the bundle with a matching earlyexit-aggregator"
    )]
    Format {
        /// The document's `format`.
        found: u32,
    },
    /// The document's `kind` is not the kind it is published as.
    #[error("the document says kind '{inside}' but is published as '{outside}'")]
    KindMismatch {
        /// `kind` inside the document.
        inside: String,
        /// The kind it is published or stored as.
        outside: String,
    },
    /// An entry breaks its kind's rules.
    #[error("{kind} bundle, entry {index} ({id}): {detail}")]
    Entry {
        /// The kind.
        kind: String,
        /// Position in the list, from 0.
        index: usize,
        /// The entry's id or name, or `-`.
        id: String,
        /// What is wrong and how to fix it.
        detail: String,
    },
    /// The list of entries is empty.
    #[error("{0} bundle holds no entries: publish at least one")]
    Empty(String),
}

/// A pattern library bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternBundle {
    /// [`BUNDLE_FORMAT`].
    pub format: u32,
    /// `patterns`.
    pub kind: String,
    /// The entries.
    pub patterns: Vec<PatternEntry>,
    /// Free-form facts about how it was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// One pattern of a library.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternEntry {
    /// Unique within the bundle (`cargo-test-failed`).
    pub id: String,
    /// The regex, in the `regex` crate's syntax.
    pub regex: String,
    /// One of [`SEVERITIES`].
    pub severity: String,
    /// The tool it belongs to (`cargo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// Command shapes it applies to (`cargo test`); empty = every command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applies_to: Vec<String>,
    /// Regexes of lines that match but are known noise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excludes: Vec<String>,
    /// What it catches, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A model bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelBundle {
    /// [`BUNDLE_FORMAT`].
    pub format: u32,
    /// `models`.
    pub kind: String,
    /// The models.
    pub models: Vec<ModelEntry>,
    /// Free-form facts about how it was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// One model of a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// Unique within the bundle (`line-classifier`).
    pub name: String,
    /// The fingerprint of the feature schema it was trained on.
    pub feature_schema: String,
    /// The model, as the learning engine wrote it.
    pub model: serde_json::Value,
}

/// What a valid bundle holds, in one line for people (`12 patterns`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleSummary {
    /// The kind.
    pub kind: String,
    /// Entries (patterns or models).
    pub entries: usize,
}

impl std::fmt::Display for BundleSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let noun = match (self.kind.as_str(), self.entries) {
            ("patterns", 1) => "pattern",
            ("models", 1) => "model",
            (kind, _) => kind,
        };
        write!(f, "{} {noun}", self.entries)
    }
}

/// Checks that `data` is a valid bundle of `kind`.
pub fn validate(kind: &str, data: &[u8]) -> Result<BundleSummary, BundleSchemaError> {
    let malformed = |e: serde_json::Error| BundleSchemaError::Malformed {
        kind: kind.to_string(),
        detail: e.to_string(),
    };
    let (format, inside, entries) = match kind {
        "patterns" => {
            let bundle: PatternBundle = serde_json::from_slice(data).map_err(malformed)?;
            check_patterns(&bundle.patterns)?;
            (bundle.format, bundle.kind, bundle.patterns.len())
        }
        "models" => {
            let bundle: ModelBundle = serde_json::from_slice(data).map_err(malformed)?;
            check_models(&bundle.models)?;
            (bundle.format, bundle.kind, bundle.models.len())
        }
        other => return Err(BundleSchemaError::UnknownKind(other.to_string())),
    };
    if format != BUNDLE_FORMAT {
        return Err(BundleSchemaError::Format { found: format });
    }
    if inside != kind {
        return Err(BundleSchemaError::KindMismatch {
            inside,
            outside: kind.to_string(),
        });
    }
    if entries == 0 {
        return Err(BundleSchemaError::Empty(kind.to_string()));
    }
    Ok(BundleSummary {
        kind: kind.to_string(),
        entries,
    })
}

/// A small valid bundle of `kind` that carries `tag` (as a pattern's
/// description, or as a model's payload): for tests and examples that need
/// distinct bundles without building real ones.
pub fn sample(kind: &str, tag: &str) -> Vec<u8> {
    let document = match kind {
        "models" => serde_json::to_vec(&ModelBundle {
            format: BUNDLE_FORMAT,
            kind: kind.to_string(),
            models: vec![ModelEntry {
                name: "sample".into(),
                feature_schema: "sample".into(),
                model: serde_json::Value::String(tag.to_string()),
            }],
            metadata: None,
        }),
        _ => serde_json::to_vec(&PatternBundle {
            format: BUNDLE_FORMAT,
            kind: kind.to_string(),
            patterns: vec![PatternEntry {
                id: "sample".into(),
                regex: "^sample error".into(),
                severity: "error".into(),
                tool: None,
                applies_to: Vec::new(),
                excludes: Vec::new(),
                description: Some(tag.to_string()),
            }],
            metadata: None,
        }),
    };
    document.expect("a bundle serialises")
}

fn check_patterns(patterns: &[PatternEntry]) -> Result<(), BundleSchemaError> {
    let mut ids = HashSet::new();
    for (index, p) in patterns.iter().enumerate() {
        let entry = |detail: String| BundleSchemaError::Entry {
            kind: "patterns".into(),
            index,
            id: if p.id.is_empty() {
                "-".into()
            } else {
                p.id.clone()
            },
            detail,
        };
        if p.id.trim().is_empty() {
            return Err(entry("the id is empty".into()));
        }
        if !ids.insert(p.id.as_str()) {
            return Err(entry("the id is used twice; ids must be unique".into()));
        }
        if !SEVERITIES.contains(&p.severity.as_str()) {
            return Err(entry(format!(
                "severity '{}' is not one of {}",
                p.severity,
                SEVERITIES.join(", ")
            )));
        }
        for (what, re) in
            std::iter::once(("regex", &p.regex)).chain(p.excludes.iter().map(|e| ("exclude", e)))
        {
            if re.is_empty() {
                return Err(entry(format!(
                    "the {what} is empty and would match every line"
                )));
            }
            if let Err(e) = regex::Regex::new(re) {
                return Err(entry(format!("the {what} '{re}' does not compile: {e}")));
            }
        }
    }
    Ok(())
}

fn check_models(models: &[ModelEntry]) -> Result<(), BundleSchemaError> {
    let mut names = HashSet::new();
    for (index, m) in models.iter().enumerate() {
        let entry = |detail: &str| BundleSchemaError::Entry {
            kind: "models".into(),
            index,
            id: if m.name.is_empty() {
                "-".into()
            } else {
                m.name.clone()
            },
            detail: detail.to_string(),
        };
        if m.name.trim().is_empty() {
            return Err(entry("the name is empty"));
        }
        if !names.insert(m.name.as_str()) {
            return Err(entry("the name is used twice; names must be unique"));
        }
        if m.feature_schema.trim().is_empty() {
            return Err(entry(
                "feature_schema is empty: a model must say which features it was trained on",
            ));
        }
        if m.model.is_null() {
            return Err(entry("model is null"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"format": 1, "kind": "patterns", "patterns": [
        {"id": "cargo-test-failed", "regex": "^test .* FAILED$", "severity": "error",
         "tool": "cargo", "applies_to": ["cargo test"], "excludes": ["^test result: ok"]}
    ], "metadata": {"samples": 12}}"#;

    #[test]
    fn a_valid_pattern_bundle_is_summarised() {
        let summary = validate("patterns", GOOD.as_bytes()).unwrap();
        assert_eq!(summary.to_string(), "1 pattern");
    }

    #[test]
    fn random_bytes_an_empty_file_and_unknown_kinds_are_refused() {
        let random: Vec<u8> = (0..100u32).map(|i| (i * 37 % 251) as u8).collect();
        let e = validate("patterns", &random).unwrap_err().to_string();
        assert!(e.starts_with("not a patterns bundle"), "{e}");
        let e = validate("patterns", b"").unwrap_err().to_string();
        assert!(e.contains("EOF"), "{e}");
        let e = validate("weights", GOOD.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("patterns, models"), "{e}");
    }

    #[test]
    fn each_rule_of_an_entry_is_checked_with_a_message_naming_the_entry() {
        let cases = [
            (r#""regex": "a(", "severity": "error""#, "does not compile"),
            (r#""regex": "", "severity": "error""#, "match every line"),
            (r#""regex": "x", "severity": "fatal""#, "is not one of"),
        ];
        for (fields, expected) in cases {
            let doc = format!(
                r#"{{"format": 1, "kind": "patterns", "patterns": [{{"id": "p1", {fields}}}]}}"#
            );
            let e = validate("patterns", doc.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(e.contains("entry 0 (p1)") && e.contains(expected), "{e}");
        }
        let twice = r#"{"format": 1, "kind": "patterns", "patterns": [
            {"id": "a", "regex": "x", "severity": "error"},
            {"id": "a", "regex": "y", "severity": "error"}]}"#;
        assert!(
            validate("patterns", twice.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        let empty = r#"{"format": 1, "kind": "patterns", "patterns": []}"#;
        assert_eq!(
            validate("patterns", empty.as_bytes()).unwrap_err(),
            BundleSchemaError::Empty("patterns".into())
        );
    }

    #[test]
    fn format_kind_and_unknown_fields_are_checked() {
        let v2 = GOOD.replace(r#""format": 1"#, r#""format": 2"#);
        assert_eq!(
            validate("patterns", v2.as_bytes()).unwrap_err(),
            BundleSchemaError::Format { found: 2 }
        );
        let typo = GOOD.replace(r#""metadata""#, r#""metdata""#);
        assert!(
            validate("patterns", typo.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("metdata")
        );
        let models = r#"{"format": 1, "kind": "patterns", "models": []}"#;
        assert!(validate("models", models.as_bytes()).is_err());
    }

    #[test]
    fn samples_are_valid_and_distinct() {
        for kind in BUNDLE_KINDS {
            assert!(validate(kind, &sample(kind, "a")).is_ok(), "{kind}");
            assert_ne!(sample(kind, "a"), sample(kind, "b"));
        }
    }

    #[test]
    fn a_model_bundle_needs_its_feature_schema() {
        let good = r#"{"format": 1, "kind": "models", "models": [
            {"name": "line-classifier", "feature_schema": "f1a2", "model": {"weights": [0.5]}}]}"#;
        assert_eq!(
            validate("models", good.as_bytes()).unwrap().to_string(),
            "1 model"
        );
        let bad = good.replace(r#""f1a2""#, r#""""#);
        assert!(
            validate("models", bad.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("feature_schema")
        );
    }
}
