//! The feature schema: the layout of the vector [`super::extract`]
//! produces, and the stamp a model saves and is checked against.
//!
//! Owns the fingerprint (SHA-256 over the version, the names, the hash
//! width and the extractor's output on a fixed probe set). Never computes
//! features for a caller.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    DENSE_NAMES, Features, HASH_BITS, HASHED_NAMESPACES, HitSeverity, LineContext, PatternHit,
    SCHEMA_VERSION, Stream, TemplateInfo, extract,
};

/// The layout of the feature vector [`extract`] produces.
#[derive(Debug)]
pub struct FeatureSchema {
    /// [`SCHEMA_VERSION`].
    pub version: u32,
    /// [`HASH_BITS`].
    pub hash_bits: u32,
    /// [`DENSE_NAMES`].
    pub dense: &'static [&'static str],
    /// [`HASHED_NAMESPACES`].
    pub hashed: &'static [&'static str],
    fingerprint: String,
}

/// What a model records about the features it was trained on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaStamp {
    /// The schema version.
    pub version: u32,
    /// The vector dimension.
    pub dim: u32,
    /// The schema fingerprint (hex).
    pub fingerprint: String,
}

impl FeatureSchema {
    /// The schema of this build.
    pub fn current() -> &'static FeatureSchema {
        static SCHEMA: OnceLock<FeatureSchema> = OnceLock::new();
        SCHEMA.get_or_init(|| FeatureSchema {
            version: SCHEMA_VERSION,
            hash_bits: HASH_BITS,
            dense: DENSE_NAMES,
            hashed: HASHED_NAMESPACES,
            fingerprint: compute_fingerprint(),
        })
    }

    /// Dimension of the vector: dense features plus hashed buckets.
    pub fn dim(&self) -> usize {
        self.dense.len() + (1usize << self.hash_bits)
    }

    /// Hex SHA-256 (first 16 bytes) over the version, the names, the
    /// dimension and the output of [`extract`] on a fixed probe set.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The stamp a model saves.
    pub fn stamp(&self) -> SchemaStamp {
        SchemaStamp {
            version: self.version,
            dim: u32::try_from(self.dim()).expect("dimension fits in u32"),
            fingerprint: self.fingerprint.clone(),
        }
    }

    /// The name of feature `index` (`sev_error`, `hashed[1234]`).
    pub fn name(&self, index: u32) -> String {
        match self.dense.get(index as usize) {
            Some(n) => (*n).to_owned(),
            None => format!("hashed[{}]", index as usize - self.dense.len()),
        }
    }
}

/// Lines the fingerprint is computed on; together they reach every feature.
pub(super) const PROBE: &[&str] = &[
    "",
    "    at com.example.Foo.bar(Foo.java:42)",
    "error[E0308]: mismatched types",
    "  --> src/main.rs:3:5",
    "test result: FAILED. 3 passed; 1 failed; 0 ignored",
    "FATAL: out of memory at 0xdeadbeef!",
    "WARNING: deprecated flag --foo, see https://example.org/x",
    "[2026-01-02 10:00:01] INFO job=42 done ok",
    "Traceback (most recent call last):",
    "data address space................0 key=1 val=2",
    "R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected",
];

fn compute_fingerprint() -> String {
    let mut h = Sha256::new();
    h.update(format!("v{SCHEMA_VERSION};bits{HASH_BITS};").as_bytes());
    for n in DENSE_NAMES.iter().chain(HASHED_NAMESPACES) {
        h.update(n.as_bytes());
        h.update(b";");
    }
    let hits = [
        PatternHit {
            id: "probe-error",
            severity: HitSeverity::Error,
        },
        PatternHit {
            id: "probe-summary",
            severity: HitSeverity::FailureSummary,
        },
        PatternHit {
            id: "probe-warning",
            severity: HitSeverity::Warning,
        },
    ];
    let mut f = Features::new();
    for i in 0..PROBE.len() {
        let mut c = LineContext::in_log(PROBE, i);
        c.stream = [Stream::Unknown, Stream::Stdout, Stream::Stderr][i % 3];
        if i % 2 == 0 {
            c.template = Some(TemplateInfo {
                text: "probe <*>",
                rarity: 0.25,
            });
            c.pattern_hits = &hits[..i % 4];
        }
        extract(&c, &mut f);
        for (i, v) in f.indices().iter().zip(f.values()) {
            h.update(i.to_le_bytes());
            // Quantised: `ln` may differ in the last bit between platforms,
            // and a model must not be refused for that.
            h.update(((v * 1024.0).round() as i32).to_le_bytes());
        }
        h.update(b"|");
    }
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
