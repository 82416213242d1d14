//! The fixed-depth prefix tree that narrows a masked line down to the few
//! templates worth comparing it with. The first level is the token count,
//! the next `prefix_tokens` levels are the line's leading *key* tokens:
//! the first tokens that hold a letter outside a wildcard (so masked
//! timestamps, pids and numbers in a header are skipped, and the tree
//! branches on the level, the component and the first words instead).
//! Owns the nodes and which templates hang at each leaf; it must never
//! compare tokens for similarity or change a template.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::mask::Masked;

/// A small, fast, non-cryptographic hasher for short keys (the FxHash
/// mixing step of rustc). The keys are tokens of logs, not attacker-chosen
/// in a way that matters: a collision flood only slows one node.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
            self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(SEED);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(SEED);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(SEED);
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(SEED);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxBuild = BuildHasherDefault<FxHasher>;
pub(crate) type FxMap<K, V> = HashMap<K, V, FxBuild>;

#[derive(Debug, Default)]
struct Node {
    children: FxMap<Box<str>, u32>,
    wild: Option<u32>,
    /// Template slots at this node when it is a leaf.
    clusters: Vec<u32>,
    /// The parent node; [`NO_PARENT`] for a token-count node.
    parent: u32,
    /// A token-count node's key in `by_len`.
    len_key: u64,
}

const NO_PARENT: u32 = u32::MAX;

/// The tree. Nodes live in one arena; a node left with no template and no
/// child is freed (and its index reused), so the tree never holds more
/// than the paths of the live templates (at most `prefix_tokens` + 1
/// nodes each). A node costs
/// ~100 bytes.
#[derive(Debug)]
pub(crate) struct Tree {
    nodes: Vec<Node>,
    free: Vec<u32>,
    by_len: FxMap<u64, u32>,
    prefix_tokens: usize,
    max_children: usize,
}

pub(crate) fn len_key(len: usize, truncated: bool) -> u64 {
    ((len as u64) << 1) | u64::from(truncated)
}

/// The edges from the token-count node to a leaf: `Some(token)` for a
/// child, `None` for the wildcard child.
pub(crate) type Path = Box<[Option<Box<str>>]>;

impl Tree {
    pub(crate) fn new(prefix_tokens: usize, max_children: usize) -> Self {
        Self {
            nodes: Vec::new(),
            free: Vec::new(),
            by_len: FxMap::default(),
            prefix_tokens,
            max_children,
        }
    }

    fn keys<'a>(&self, m: &'a Masked) -> impl Iterator<Item = &'a str> {
        m.keys.iter().map(|&i| m.token(i as usize))
    }

    /// The leaf a line is looked up in, if the tree has one for it.
    pub(crate) fn find_leaf(&self, m: &Masked) -> Option<u32> {
        let mut node = *self.by_len.get(&len_key(m.len(), m.truncated))?;
        for tok in self.keys(m) {
            let n = &self.nodes[node as usize];
            node = match n.children.get(tok) {
                Some(&c) => c,
                None => n.wild?,
            };
        }
        Some(node)
    }

    /// The leaf a new template for this line hangs at, creating the path,
    /// and the path taken.
    pub(crate) fn leaf_for_insert(&mut self, m: &Masked) -> (u32, Path) {
        let mut node = self.len_node(len_key(m.len(), m.truncated));
        let mut path = Vec::with_capacity(self.prefix_tokens);
        let keys: Vec<&str> = self.keys(m).collect();
        for tok in keys {
            let n = &self.nodes[node as usize];
            let edge = match n.children.get(tok) {
                Some(_) => Some(tok),
                None if n.children.len() >= self.max_children => None,
                None => Some(tok),
            };
            node = self.follow(node, edge);
            path.push(edge.map(Box::from));
        }
        (node, path.into_boxed_slice())
    }

    /// The leaf at the end of a saved path, creating it.
    pub(crate) fn leaf_at(
        &mut self,
        len: usize,
        truncated: bool,
        path: &[Option<Box<str>>],
    ) -> u32 {
        let mut node = self.len_node(len_key(len, truncated));
        for edge in path {
            node = self.follow(node, edge.as_deref());
        }
        node
    }

    fn len_node(&mut self, key: u64) -> u32 {
        match self.by_len.get(&key) {
            Some(&n) => n,
            None => {
                let n = self.new_node(NO_PARENT, key);
                self.by_len.insert(key, n);
                n
            }
        }
    }

    /// The child along `edge`, created if missing.
    fn follow(&mut self, node: u32, edge: Option<&str>) -> u32 {
        let n = &self.nodes[node as usize];
        let existing = match edge {
            Some(tok) => n.children.get(tok).copied(),
            None => n.wild,
        };
        if let Some(c) = existing {
            return c;
        }
        let c = self.new_node(node, 0);
        let n = &mut self.nodes[node as usize];
        match edge {
            Some(tok) => {
                n.children.insert(tok.into(), c);
            }
            None => n.wild = Some(c),
        }
        c
    }

    fn new_node(&mut self, parent: u32, len_key: u64) -> u32 {
        let node = Node {
            parent,
            len_key,
            ..Node::default()
        };
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    /// Frees `node` and then its ancestors while they hold nothing.
    fn prune(&mut self, mut node: u32) {
        loop {
            let n = &self.nodes[node as usize];
            if !n.clusters.is_empty() || !n.children.is_empty() || n.wild.is_some() {
                return;
            }
            let (parent, key) = (n.parent, n.len_key);
            self.nodes[node as usize] = Node::default();
            self.free.push(node);
            if parent == NO_PARENT {
                self.by_len.remove(&key);
                return;
            }
            let p = &mut self.nodes[parent as usize];
            if p.wild == Some(node) {
                p.wild = None;
            } else {
                p.children.retain(|_, c| *c != node);
            }
            node = parent;
        }
    }

    /// The template slots at a leaf.
    pub(crate) fn clusters(&self, leaf: u32) -> &[u32] {
        &self.nodes[leaf as usize].clusters
    }

    /// Hangs a template slot at a leaf.
    pub(crate) fn attach(&mut self, leaf: u32, slot: u32) {
        self.nodes[leaf as usize].clusters.push(slot);
    }

    /// Takes a template slot off its leaf (on eviction).
    pub(crate) fn detach(&mut self, leaf: u32, slot: u32) {
        let c = &mut self.nodes[leaf as usize].clusters;
        if let Some(i) = c.iter().position(|&s| s == slot) {
            c.swap_remove(i);
        }
        self.prune(leaf);
    }

    /// Nodes in use (for memory reports).
    pub(crate) fn node_count(&self) -> usize {
        self.nodes.len() - self.free.len()
    }
}
