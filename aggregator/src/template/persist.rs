//! Saving and loading a miner's state (templates, counts, ids, recency,
//! tree paths, word variants and merges) as versioned JSON, so templates
//! mined in one place (a fleet trainer) can be shipped and used elsewhere.
//! A loaded miner decides as the saved one would, with two exceptions: the
//! masked-line cache is not saved (a line the cache would have sent to the
//! template it joined before is searched again, and may find a closer
//! one), and when more than `max_scan` templates share a token count the
//! fallback search may look at another subset of them. Owns the file
//! format only: it must never change how lines are mined.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use super::{Miner, MinerConfig, Template, TemplateId, Token};

/// The version of the saved-state format this build reads and writes.
pub const STATE_VERSION: u32 = 1;

/// Why a saved miner could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// Reading or writing failed.
    #[error("miner state i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The data is not a miner state.
    #[error("not a valid miner state: {0}; it must be a file written by Miner::save")]
    Format(#[from] serde_json::Error),
    /// Written by another format version.
    #[error(
        "miner state has format version {found}, this build reads version {STATE_VERSION}: re-mine the templates or use a matching build"
    )]
    Version {
        /// The version in the data.
        found: u64,
    },
    /// Well-formed but inconsistent (edited by hand, truncated, mixed).
    #[error("miner state is inconsistent: {0}; it must be a file written by Miner::save")]
    Invalid(String),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    version: u32,
    config: MinerConfig,
    next_id: u64,
    lines: u64,
    evicted: u64,
    /// Least recently used first.
    templates: Vec<Saved>,
    /// Merged template id → the id it was merged into.
    merged: Vec<(u64, u64)>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    template: Template,
    /// Tree paths of the leaves it hangs at, the first where it was made.
    paths: Vec<Vec<Option<Box<str>>>>,
    /// Word variants: (position, template id).
    variants: Vec<(u32, u64)>,
}

impl Miner {
    /// Writes the miner's whole state as JSON.
    pub fn save(&self, w: impl Write) -> Result<(), PersistError> {
        let mut templates: Vec<Saved> = Vec::with_capacity(self.live);
        let mut cur = self.tail;
        while cur != super::NIL {
            let s = &self.slots[cur as usize];
            templates.push(Saved {
                template: s.template.clone().expect("listed slots hold a template"),
                paths: s.leaves.iter().map(|(_, p)| p.to_vec()).collect(),
                variants: s.variants.iter().map(|&(p, id)| (p, id.0)).collect(),
            });
            cur = s.prev;
        }
        let state = State {
            version: STATE_VERSION,
            config: self.config.clone(),
            next_id: self.next_id,
            lines: self.lines,
            evicted: self.evicted,
            templates,
            merged: self.merged.iter().map(|(&a, b)| (a, b.0)).collect(),
        };
        serde_json::to_writer(w, &state)?;
        Ok(())
    }

    /// Reads a state written by [`Miner::save`]; the miner goes on exactly
    /// where the saved one stopped.
    pub fn load(mut r: impl Read) -> Result<Self, PersistError> {
        let mut text = String::new();
        r.read_to_string(&mut text)?;
        let value: serde_json::Value = serde_json::from_str(&text)?;
        let found = value.get("version").and_then(serde_json::Value::as_u64);
        if found != Some(u64::from(STATE_VERSION)) {
            return Err(PersistError::Version {
                found: found.unwrap_or(0),
            });
        }
        let state: State = serde_json::from_value(value)?;
        let mut miner =
            Miner::new(state.config).map_err(|e| PersistError::Invalid(e.to_string()))?;
        if state.templates.len() > miner.config.max_clusters {
            return Err(PersistError::Invalid(format!(
                "{} templates but max_clusters is {}",
                state.templates.len(),
                miner.config.max_clusters
            )));
        }
        for saved in state.templates {
            let mut t = saved.template;
            t.words = t
                .tokens
                .iter()
                .map(|x| matches!(x, Token::Literal(l) if super::mask::is_word(l)))
                .collect();
            if t.id.0 >= state.next_id || miner.by_id.contains_key(&t.id.0) {
                return Err(PersistError::Invalid(format!(
                    "template id {} repeated or not below next_id {}",
                    t.id.0, state.next_id
                )));
            }
            if saved.paths.is_empty()
                || saved.paths.len() > super::MAX_LEAVES
                || saved
                    .paths
                    .iter()
                    .any(|p| p.len() > miner.config.prefix_tokens)
            {
                return Err(PersistError::Invalid(format!(
                    "template {} has no tree path, too many, or one deeper than prefix_tokens",
                    t.id.0
                )));
            }
            let rest = t.tokens.iter().position(|x| *x == Token::Rest);
            if rest.is_some_and(|i| i + 1 != t.tokens.len()) {
                return Err(PersistError::Invalid(format!(
                    "template {} has a rest token before its end",
                    t.id.0
                )));
            }
            let truncated = rest.is_some();
            let len = t.tokens.len() - usize::from(truncated);
            let leaves = saved
                .paths
                .into_iter()
                .map(|p| (miner.tree.leaf_at(len, truncated, &p), p.into_boxed_slice()))
                .collect();
            let slot = miner.place(t, leaves, super::tree::len_key(len, truncated));
            miner.slots[slot as usize].variants = saved
                .variants
                .into_iter()
                .map(|(p, id)| (p, TemplateId(id)))
                .collect();
        }
        for (from, to) in state.merged {
            if to >= from {
                return Err(PersistError::Invalid(format!(
                    "template {from} merged into {to}, which is not older"
                )));
            }
            miner.merged.insert(from, TemplateId(to));
        }
        miner.next_id = state.next_id;
        miner.lines = state.lines;
        miner.evicted = state.evicted;
        Ok(miner)
    }
}
