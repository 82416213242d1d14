//! Every tuning knob of the template miner, each with its default and the
//! reason for it. Owns configuration only: it must never hold miner state.

use serde::{Deserialize, Serialize};

use super::mask::{DEFAULT_MASKS, MaskKind};

/// Prefix tokens the tree branches on after the token count. Two tokens keep
/// the leaves small (fast matching) without splitting a template whose
/// third or later token varies.
pub const DEFAULT_PREFIX_TOKENS: usize = 2;

/// Share of equal tokens a line needs to join an existing template.
/// 0.5 was the best single value on the tuning datasets (docs/LEARNING.md);
/// Drain's papers use 0.4–0.7 tuned per dataset.
pub const DEFAULT_SIMILARITY: f64 = 0.5;

/// Children of one tree node before new distinct tokens go to the wildcard
/// child. Bounds the tree when a prefix position holds a variable that the
/// masks did not recognise (user names, host names).
pub const DEFAULT_MAX_CHILDREN: usize = 100;

/// Templates kept before the least recently used one is evicted. 50,000
/// templates of ~20 tokens are ~25 MB: far more than any one CI log has
/// (the 16 Loghub samples have ~1,300 between them) and a bound for a
/// fleet-wide miner.
pub const DEFAULT_MAX_CLUSTERS: usize = 50_000;

/// Templates of the same token count compared with a line when its own
/// leaf has no match (the fallback that lets a line whose header differs,
/// e.g. another host name, join its template). Bounds the cost of a
/// novel line.
pub const DEFAULT_MAX_SCAN: usize = 1_000;

/// Masked lines remembered with the template they joined, so a line seen
/// before (after masking) skips the search. 65,536 entries are ~2 MB; the
/// cache is emptied when full.
pub const DEFAULT_CACHE_SIZE: usize = 65_536;

/// Distinct plain words seen at one position of otherwise equal lines
/// before the position is taken for a variable (user names, test names)
/// and the templates that differ only there are merged. Fewer are kept
/// apart: `VM Started` / `VM Stopped` are two messages. 8 is the smallest
/// value that costs nothing on the tuning datasets (3–6 merge real
/// messages there: docs/LEARNING.md).
pub const DEFAULT_WORD_VARIANTS: usize = 8;

/// Tokens of a line considered; the rest of the line becomes one trailing
/// wildcard that matches anything. Bounds memory and time on minified or
/// binary lines.
pub const DEFAULT_MAX_TOKENS: usize = 100;

/// Tokens longer than this are masked whatever they hold (base64 blobs,
/// serialised payloads), so one template never stores megabytes.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 200;

/// The miner's configuration. One configuration serves every log: nothing in
/// it is specific to a log format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MinerConfig {
    /// Leading tokens the prefix tree branches on, after the token count
    /// (default [`DEFAULT_PREFIX_TOKENS`]).
    pub prefix_tokens: usize,
    /// Minimum share of a template's literal tokens a line must equal to
    /// join it, in (0, 1] (default [`DEFAULT_SIMILARITY`]).
    pub similarity: f64,
    /// Children per tree node before the wildcard child takes the rest
    /// (default [`DEFAULT_MAX_CHILDREN`]).
    pub max_children: usize,
    /// Templates kept; the least recently matched is evicted beyond it
    /// (default [`DEFAULT_MAX_CLUSTERS`]).
    pub max_clusters: usize,
    /// Templates of the same token count searched when the line's leaf has
    /// no match (default [`DEFAULT_MAX_SCAN`]).
    pub max_scan: usize,
    /// Masked lines remembered (default [`DEFAULT_CACHE_SIZE`]; 0 turns
    /// the cache off).
    pub cache_size: usize,
    /// Two different plain words (no digit, no masked part) at one
    /// position keep a line out of a template (default true).
    pub words_constant: bool,
    /// Distinct plain words at one position that make it a variable
    /// (default [`DEFAULT_WORD_VARIANTS`]; 0 never merges).
    pub word_variants: usize,
    /// Tokens of a line looked at (default [`DEFAULT_MAX_TOKENS`]).
    pub max_tokens: usize,
    /// Longer tokens are masked (default [`DEFAULT_MAX_TOKEN_LEN`]).
    pub max_token_len: usize,
    /// The masking instructions, applied in this order to every token; the
    /// first that matches masks it (default: every [`MaskKind`], in the
    /// order of [`DEFAULT_MASKS`]).
    pub masks: Vec<MaskKind>,
}

impl Default for MinerConfig {
    fn default() -> Self {
        Self {
            prefix_tokens: DEFAULT_PREFIX_TOKENS,
            similarity: DEFAULT_SIMILARITY,
            max_children: DEFAULT_MAX_CHILDREN,
            max_clusters: DEFAULT_MAX_CLUSTERS,
            max_scan: DEFAULT_MAX_SCAN,
            cache_size: DEFAULT_CACHE_SIZE,
            words_constant: true,
            word_variants: DEFAULT_WORD_VARIANTS,
            max_tokens: DEFAULT_MAX_TOKENS,
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            masks: DEFAULT_MASKS.to_vec(),
        }
    }
}

/// A configuration value out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// `similarity` outside (0, 1].
    #[error("similarity {0} is out of range: use a share in (0, 1], e.g. {DEFAULT_SIMILARITY}")]
    Similarity(f64),
    /// A count that must be at least one is zero.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
}

impl MinerConfig {
    /// Checks every value, naming the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.similarity > 0.0 && self.similarity <= 1.0) {
            return Err(ConfigError::Similarity(self.similarity));
        }
        for (name, v) in [
            ("max_children", self.max_children),
            ("max_clusters", self.max_clusters),
            ("max_tokens", self.max_tokens),
            ("max_token_len", self.max_token_len),
        ] {
            if v == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        Ok(())
    }
}
